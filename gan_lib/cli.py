"""`python -m gan_lib train | generate | prepare | evaluate`.

A user's mistake ends in one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import sys
from dataclasses import fields
from pathlib import Path

from .config import Config
from .data import HOLDOUT_EVERY
from .errors import GanLibError
from .files import IMAGE_EXTENSIONS

DATA_HELP = "'synthetic', a Kaggle dataset (anime-faces, anime-faces-64, comic-faces) or a folder of images"
INTERRUPTED = {
    "prepare": "interrupted: the cache was not written and nothing else was changed; run prepare again",
    "generate": "interrupted: nothing was written",
    "evaluate": "interrupted: nothing was written",
}
OPTION_HELP = {"image_size": "32, 64 or 128 (default: 64 on a GPU, 32 on the CPU, where 64 px is 5x slower)"}


def _add_config_options(parser: argparse.ArgumentParser) -> None:
    """One --option per Config field, defaulting to None so that a resumed run can tell what was given."""
    for f in fields(Config):
        flag = "--" + f.name.replace("_", "-")
        if f.type in ("bool", bool):
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=None,
                                help=f"default {f.default}")
        else:
            kind = {"int": int, "float": float}.get(str(f.type), str)
            parser.add_argument(flag, type=kind, default=None, help=OPTION_HELP.get(f.name, f"default {f.default}"))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m gan_lib", description="Train and sample DCGANs on anime faces.")
    commands = parser.add_subparsers(dest="command", required=True)

    train = commands.add_parser("train", help="train a DCGAN and write checkpoint, samples and history")
    train.add_argument("--data", required=True, help=DATA_HELP)
    train.add_argument("--drop-duplicates", action="store_true", help="train on one copy of byte-identical files")
    train.add_argument("--holdout", type=int, nargs="?", const=HOLDOUT_EVERY, default=None, metavar="N",
                       help=f"hold one image in N out of training, for evaluate (N = {HOLDOUT_EVERY} if not given)")
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
    evaluate.add_argument("--data", help=DATA_HELP + " (default: what the checkpoint trained on)")
    evaluate.add_argument("--metric", choices=("swd", "fid", "kid", "modes"), default="swd")
    evaluate.add_argument("--n", type=int, default=2000, help="generated images (and real ones, where used)")
    evaluate.add_argument("--seed", type=int, default=0)
    evaluate.add_argument("--device", default="auto")
    evaluate.add_argument("--inception-weights", type=Path, help="local Inception weights for fid/kid (offline)")
    return parser


def _check_length(args: argparse.Namespace) -> None:
    if args.steps is not None and args.steps < 1:
        raise GanLibError(f"--steps must be at least 1, got {args.steps}")
    if args.epochs is not None and not 0 < args.epochs < math.inf:
        raise GanLibError(f"--epochs must be a positive number, got {args.epochs}")


def _train(args: argparse.Namespace) -> None:
    from . import distributed
    from .files import check_writable, run_lock

    _check_length(args)
    if args.holdout is not None and args.holdout < 2:
        raise GanLibError(f"--holdout must be at least 2 (one image in N held out), got {args.holdout}")
    device = distributed.setup(args.device) if distributed.launched() else args.device
    with contextlib.ExitStack() as held:
        if distributed.is_main():  # a run folder we cannot write, or one in use, stops here: before any work
            check_writable(args.out, "the run folder", "choose another --out")
            held.enter_context(run_lock(args.out))
        _train_in_folder(args, device)


def _train_in_folder(args: argparse.Namespace, device: str) -> None:
    from . import distributed
    from .data import load_images
    from .files import remove_dead_temporaries
    from .train import Trainer, data_change, read_checkpoint, resolve_device

    kind = resolve_device(device).type  # a device this machine lacks is refused before the data is read
    given = {f.name: getattr(args, f.name) for f in fields(Config) if getattr(args, f.name) is not None}
    checkpoint = args.out / "checkpoint.pt"
    holdout = args.holdout or 0
    if args.resume:
        state = read_checkpoint(checkpoint)
        cfg = Config.from_dict(state["config"])
        recorded = (state.get("data") or {}).get("holdout", 0)
        changed = {k: v for k, v in given.items() if getattr(cfg, k) != v}
        if args.holdout is not None and args.holdout != recorded:
            changed["holdout"] = args.holdout
        if changed:
            raise GanLibError(f"--resume keeps the run's settings, but these differ from the checkpoint: {changed}; "
                              "drop them or train into a new --out folder")
        holdout = recorded
    elif checkpoint.exists():
        raise GanLibError(f"{checkpoint} already exists: pass --resume to continue it, or choose a new --out folder")
    else:
        if "image_size" not in given:
            given["image_size"] = 32 if kind == "cpu" else 64
        cfg = Config(**given)
    if args.data == "synthetic" and args.synthetic_count < cfg.batch_size:
        raise GanLibError(f"--synthetic-count {args.synthetic_count} is below the batch size {cfg.batch_size}: "
                          "draw more faces or lower --batch-size")
    if distributed.is_main():
        remove_dead_temporaries(args.out)
    with distributed.main_first():  # rank 0 builds the cache, the others then read it
        data = load_images(args.data, cfg.image_size, args.synthetic_count, args.drop_duplicates)
    if holdout:
        data, held_out = data.split(holdout)
    if args.resume:
        if change := data_change(state, data):  # it goes on with the new data
            print(f"warning: this run trained on {change[0]} and goes on with {change[1]}", file=sys.stderr)
        trainer = Trainer.resume(checkpoint, data, args.out, device)
    else:
        trainer = Trainer(cfg, data, args.out, device)
    steps = args.steps or round((args.epochs or 5) * trainer.sampler.steps_per_epoch)
    if trainer.step >= steps:
        if distributed.is_main():
            print(f"nothing to train: the run in {args.out} is already at step {trainer.step} (asked for {steps}); "
                  "pass a larger --steps to go on", file=sys.stderr)
        return
    kept_out = f" ({len(held_out)} held out for evaluate)" if holdout else ""
    world = distributed.world_size()
    where = (f"{world} processes ({trainer.device.type}), {cfg.batch_size // world} images each" if world > 1
             else str(trainer.device))
    if distributed.is_main():
        print(f"training on {len(data)} images{kept_out} from {data.name} at {cfg.image_size} px, {where}, "
              f"steps {trainer.step} -> {steps}", file=sys.stderr)
    trainer.fit(steps, progress=not args.quiet)
    if distributed.is_main():
        print(f"wrote {args.out}/checkpoint.pt, samples/, losses.png, progress.gif, history.csv")


def _generate(args: argparse.Namespace) -> None:
    import torch

    from .train import load_generator, noise
    from .viz import save_grid

    if args.n < 1:
        raise GanLibError(f"--n must be at least 1, got {args.n}")
    if args.scale < 1:
        raise GanLibError(f"--scale must be at least 1, got {args.scale}")
    if args.out.suffix.lower() not in IMAGE_EXTENSIONS:
        raise GanLibError(f"--out {args.out} is not an image file name: end it with "
                          f"{', '.join(sorted(IMAGE_EXTENSIONS))}")
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
    from .data import SYNTHETIC_COUNT, load_images, reference_samples
    from .train import load_generator, noise, read_checkpoint

    if args.n < 2:
        raise GanLibError(f"--n must be at least 2, got {args.n}")
    state = read_checkpoint(args.checkpoint)
    G, cfg = load_generator(state, args.device)
    device = next(G.parameters()).device
    cfg.seed = args.seed

    def generate(n: int) -> torch.Tensor:
        with torch.no_grad():
            return torch.cat([G(noise(min(500, n - i), cfg, "evaluate", i, device=device)).float().cpu()
                              for i in range(0, n, 500)])

    if args.metric == "modes":
        report = metrics.mode_coverage(generate(args.n))
        for name, m in report.items():
            print(f"{name}: {m['covered']}/{m['values']} values covered, KL {m['kl']:.4f}")
        print(f"modes: {sum(m['covered'] for m in report.values())}/{sum(m['values'] for m in report.values())} "
              f"covered, KL sum {sum(m['kl'] for m in report.values()):.4f}")
        return
    record = state.get("data") or {}
    if not (args.data or record.get("name")):
        raise GanLibError(f"{args.checkpoint} does not record the data it trained on: pass --data")
    data = load_images(args.data or record["name"], cfg.image_size, record.get("files") or SYNTHETIC_COUNT,
                       record.get("drop_duplicates", False))
    holdout = record.get("holdout", 0) if data.summary.get("source") == record.get("source") else 0
    real, other = reference_samples(data, holdout, args.n, args.seed)
    n = len(real)
    if holdout:
        print(f"real images: {n} of the {data.name} images held out of training (1 in {holdout})", file=sys.stderr)
    else:
        print(f"note: the checkpoint was not trained with --holdout on {data.name}, so it may have seen the {n} real "
              "images it is compared with; train with --holdout for a fair score", file=sys.stderr)
    fake = generate(n)
    if args.metric == "swd":
        score, floor = metrics.sliced_wasserstein(real, fake), metrics.sliced_wasserstein(real, other)
        levels = ", ".join(f"{cfg.image_size >> i} px {v:.2f}" for i, v in enumerate(score["levels"]))
        floor_levels = ", ".join(f"{v:.2f}" for v in floor["levels"])
        print(f"SWD x1e3 ({n} images, {cfg.image_size} px): {score['mean']:.2f} ({levels}); "
              f"real-vs-real floor {floor['mean']:.2f} ({floor_levels})")
        return
    key = f"{Path(data.summary['source']).name}-{cfg.image_size}px-{n}-seed{args.seed}-holdout{holdout}"

    def features(images: torch.Tensor, part: str) -> torch.Tensor:
        return metrics.cached_features(f"{key}-{part}", lambda: metrics.inception_features(
            images, args.inception_weights, device=device))

    real_features, other_features = features(real, "held-out"), features(other, "train")
    fake_features = metrics.inception_features(fake, args.inception_weights, device=device)
    if args.metric == "fid":
        fid, floor = (metrics.fid_from_features(real_features, f) for f in (fake_features, other_features))
        print(f"FID ({n} real, {n} generated): {fid:.2f}; real-vs-real floor {floor:.2f}")
    else:
        (mean, std), (floor, floor_std) = (metrics.kid_from_features(real_features, f)
                                           for f in (fake_features, other_features))
        print(f"KID ({n} real, {n} generated): {mean:.4f} +- {std:.4f}; real-vs-real floor {floor:.4f} +- "
              f"{floor_std:.4f}")


def _interrupted(args: argparse.Namespace) -> str:
    """What an interrupt leaves, in words that fit the command."""
    if args.command != "train":
        return INTERRUPTED[args.command]
    checkpoint = args.out / "checkpoint.pt"
    if checkpoint.exists():
        return f"interrupted: the last checkpoint, {checkpoint}, is kept; continue with --resume"
    return "interrupted before the first checkpoint: nothing to resume; train again to start over"


def main(argv: list[str] | None = None) -> int:
    from . import distributed

    args = _parser().parse_args(argv)
    try:
        {"train": _train, "generate": _generate, "prepare": _prepare, "evaluate": _evaluate}[args.command](args)
    except GanLibError as exc:
        # under torchrun every process that fails says so, rank 0 plainly; torchrun then stops the others
        prefix = f"rank {distributed.rank()}: " if not distributed.is_main() else ""
        print(f"{prefix}error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(_interrupted(args), file=sys.stderr)
        return 130
    except OSError as exc:  # a full disk or a vanished file outside the places that name their own
        where = f" ({exc.filename})" if exc.filename else ""
        print(f"error: {exc.strerror or exc}{where}", file=sys.stderr)
        return 2
    finally:
        distributed.teardown()
    return 0
