"""`python -m gan_lib train | generate | prepare`: a user's mistake ends in one line on stderr, exit status 2."""

from __future__ import annotations

import argparse
import sys
from dataclasses import fields
from pathlib import Path

from .config import Config
from .errors import GanLibError

DATA_HELP = "'synthetic', a Kaggle dataset (anime-faces, anime-faces-64, comic-faces) or a folder of images"


def _add_config_options(parser: argparse.ArgumentParser) -> None:
    """One --option per Config field, defaulting to None so that a resumed run can tell what was given."""
    for f in fields(Config):
        flag = "--" + f.name.replace("_", "-")
        if f.type in ("bool", bool):
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=None,
                                help=f"default {f.default}")
        else:
            kind = {"int": int, "float": float}.get(str(f.type), str)
            parser.add_argument(flag, type=kind, default=None, help=f"default {f.default}")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m gan_lib", description="Train and sample DCGANs on anime faces.")
    commands = parser.add_subparsers(dest="command", required=True)

    train = commands.add_parser("train", help="train a DCGAN and write checkpoint, samples and history")
    train.add_argument("--data", required=True, help=DATA_HELP)
    train.add_argument("--drop-duplicates", action="store_true", help="train on one copy of byte-identical files")
    train.add_argument("--out", required=True, type=Path, help="run folder")
    length = train.add_mutually_exclusive_group()
    length.add_argument("--steps", type=int, help="total training steps (default: 5 epochs)")
    length.add_argument("--epochs", type=float, help="total passes over the data")
    train.add_argument("--device", default="auto", help="auto, cpu, cuda or mps")
    train.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.pt")
    train.add_argument("--synthetic-count", type=int, default=10_000, help="faces in --data synthetic")
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    _add_config_options(train)

    generate = commands.add_parser("generate", help="write a grid of faces from a checkpoint")
    generate.add_argument("--checkpoint", required=True, type=Path)
    generate.add_argument("--out", required=True, type=Path, help="PNG file")
    generate.add_argument("--n", type=int, default=64)
    generate.add_argument("--seed", type=int, default=0)
    generate.add_argument("--device", default="auto")
    generate.add_argument("--scale", type=int, default=1, help="enlarge each face this many times (nearest)")

    prepare = commands.add_parser("prepare", help="download if needed, build the uint8 cache, print a data summary")
    prepare.add_argument("--data", required=True, help=DATA_HELP)
    prepare.add_argument("--image-size", type=int, default=64)
    prepare.add_argument("--drop-duplicates", action="store_true", help="count byte-identical files once")
    return parser


def _train(args: argparse.Namespace) -> None:
    from .data import load_images
    from .train import Trainer

    given = {f.name: getattr(args, f.name) for f in fields(Config) if getattr(args, f.name) is not None}
    checkpoint = args.out / "checkpoint.pt"
    if args.resume:
        from .train import read_checkpoint

        cfg = Config.from_dict(read_checkpoint(checkpoint)["config"])
        changed = {k: v for k, v in given.items() if getattr(cfg, k) != v}
        if changed:
            raise GanLibError(f"--resume keeps the run's settings, but these differ from the checkpoint: {changed}; "
                              "drop them or train into a new --out folder")
    elif checkpoint.exists():
        raise GanLibError(f"{checkpoint} already exists: pass --resume to continue it, or choose a new --out folder")
    else:
        cfg = Config(**given)
    data = load_images(args.data, cfg.image_size, args.synthetic_count, args.drop_duplicates)
    if args.resume:
        trainer = Trainer.resume(checkpoint, data, args.out, args.device)
    else:
        trainer = Trainer(cfg, data, args.out, args.device)
    steps = args.steps or round((args.epochs or 5) * trainer.sampler.steps_per_epoch)
    print(f"training on {len(data)} images from {data.name} at {cfg.image_size} px, {trainer.device}, "
          f"steps {trainer.step} -> {steps}", file=sys.stderr)
    trainer.fit(steps, progress=not args.quiet)
    print(f"wrote {args.out}/checkpoint.pt, samples/, losses.png, progress.gif, history.csv")


def _generate(args: argparse.Namespace) -> None:
    import torch

    from .train import load_generator, noise
    from .viz import save_grid

    if args.n < 1:
        raise GanLibError(f"--n must be at least 1, got {args.n}")
    G, cfg = load_generator(args.checkpoint, args.device)
    cfg.seed = args.seed
    with torch.no_grad():
        images = G(noise(args.n, cfg, "generate", device=next(G.parameters()).device))
    print(save_grid(images, args.out, scale=args.scale))


def _prepare(args: argparse.Namespace) -> None:
    from .data import describe, load_images

    if args.data == "synthetic":
        raise GanLibError("the synthetic faces are drawn on the fly and need no preparing: train with --data synthetic")
    data = load_images(args.data, Config(image_size=args.image_size).image_size, drop_duplicates=args.drop_duplicates)
    print(describe(data.summary))
    print(f"training set: {len(data)} images")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        {"train": _train, "generate": _generate, "prepare": _prepare}[args.command](args)
    except GanLibError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: the last checkpoint is kept; continue with --resume", file=sys.stderr)
        return 130
    return 0
