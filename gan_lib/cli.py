"""`python -m gan_lib train | generate | prepare | evaluate`.

A user's mistake ends in one line on stderr and exit status 2.
"""

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
    evaluate = commands.add_parser("evaluate", help="score a checkpoint's samples against real images")
    evaluate.add_argument("--checkpoint", required=True, type=Path)
    evaluate.add_argument("--data", default="synthetic", help=DATA_HELP + " (not used by --metric modes)")
    evaluate.add_argument("--metric", choices=("swd", "fid", "kid", "modes"), default="swd")
    evaluate.add_argument("--n", type=int, default=2000, help="generated images (and real ones, where used)")
    evaluate.add_argument("--seed", type=int, default=0)
    evaluate.add_argument("--device", default="auto")
    evaluate.add_argument("--inception-weights", type=Path, help="local Inception weights for fid/kid (offline)")
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


def _evaluate(args: argparse.Namespace) -> None:
    import torch

    from . import metrics
    from .data import load_images
    from .train import load_generator, noise

    if args.n < 2:
        raise GanLibError(f"--n must be at least 2, got {args.n}")
    G, cfg = load_generator(args.checkpoint, args.device)
    device = next(G.parameters()).device
    cfg.seed = args.seed
    with torch.no_grad():
        fake = torch.cat([G(noise(min(500, args.n - i), cfg, "evaluate", i, device=device)).float().cpu()
                          for i in range(0, args.n, 500)])
    if args.metric == "modes":
        report = metrics.mode_coverage(fake)
        for name, m in report.items():
            print(f"{name}: {m['covered']}/{m['values']} values covered, KL {m['kl']:.4f}")
        print(f"modes: {sum(m['covered'] for m in report.values())}/{sum(m['values'] for m in report.values())} "
              f"covered, KL sum {sum(m['kl'] for m in report.values()):.4f}")
        return
    data = load_images(args.data, cfg.image_size, count=max(args.n, 2000))
    g = torch.Generator().manual_seed(args.seed)
    real = data.images[torch.randperm(len(data), generator=g)[:args.n]]
    if args.metric == "swd":
        if len(real) < args.n:
            raise GanLibError(f"{args.data} has {len(real)} images, fewer than --n {args.n}: lower --n")
        swd = metrics.sliced_wasserstein(real, fake)
        levels = ", ".join(f"{cfg.image_size >> i} px {v:.2f}" for i, v in enumerate(swd["levels"]))
        print(f"SWD x1e3 ({args.n} images, {cfg.image_size} px): {levels}; mean {swd['mean']:.2f}")
        return
    key = f"{Path(data.summary['source']).name}-{cfg.image_size}px-{len(real)}-seed{args.seed}"
    real_features = metrics.cached_features(key, lambda: metrics.inception_features(real, args.inception_weights,
                                                                                     device=device))
    fake_features = metrics.inception_features(fake, args.inception_weights, device=device)
    if args.metric == "fid":
        fid = metrics.fid_from_features(real_features, fake_features)
        print(f"FID ({len(real)} real, {args.n} generated): {fid:.2f}")
    else:
        mean, std = metrics.kid_from_features(real_features, fake_features)
        print(f"KID ({len(real)} real, {args.n} generated): {mean:.4f} +- {std:.4f}")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        {"train": _train, "generate": _generate, "prepare": _prepare, "evaluate": _evaluate}[args.command](args)
    except GanLibError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: the last checkpoint is kept; continue with --resume", file=sys.stderr)
        return 130
    return 0
