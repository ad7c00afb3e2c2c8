"""`python -m gan_lib train | generate | prepare | evaluate`.

A user's mistake ends in one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import re
import signal
import sys
import threading
from collections.abc import Callable
from dataclasses import fields, replace
from pathlib import Path

from ..config import MAX_STEPS, Config
from ..data.datasets import NAMED_DATASETS
from ..data.loading import HOLDOUT_EVERY, SYNTHETIC_COUNT, check_condition, describe, load_images
from ..data.synthetic import ATTRIBUTES
from ..losses import LOSSES
from ..measure.metrics import METRICS, SCORE_FACES
from ..networks import GENERATORS
from ..support import runtime
from ..support.errors import GanLibError, printable
from ..support.files import run_lock
from .checkpoint import CHECKPOINT_FILE, read_checkpoint, run_state
from .evaluation import evaluate
from .generation import generate_grid
from .recipes import CPU_WIDTHS_AT_64, RECIPES, for_device
from .reports import missing_reports, write_reports
from .run_folder import check_run_folder, open_run, train_config

DATA_HELP = f"'synthetic', a Kaggle dataset ({', '.join(NAMED_DATASETS)}) or a folder of images"
INTERRUPTED = {
    "prepare": "interrupted: the cache was not written and nothing else was changed; run prepare again",
    "generate": "interrupted: nothing was written",
    "evaluate": "interrupted: nothing was written",
}
OPTION_HELP = {"image_size": "32, 64 or 128 (default: 64 on a GPU, 32 on the CPU, where 64 px is 5x slower)",
               "g_width": f"default 64 ({CPU_WIDTHS_AT_64} on the CPU at 64 px)",
               "d_width": f"default 64 ({CPU_WIDTHS_AT_64} on the CPU at 64 px)",
               "loss": f"{', '.join(LOSSES)} (default {Config.loss}; gan_lib/losses.py)",
               "arch": f"G's architecture: {', '.join(GENERATORS)} (default {Config.arch}; gan_lib/networks.py)"}


def _add_config_options(parser: argparse.ArgumentParser) -> None:
    """One --option per Config field, defaulting to None so that a resumed run can tell what was given."""
    for f in fields(Config):
        if f.name in ("condition", "classes"):  # --conditional: the data's classes
            continue
        flag = "--" + f.name.replace("_", "-")
        if f.type in ("bool", bool):
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=None,
                                help=f"default {f.default}")
        else:
            kind = {"int": int, "float": float}.get(str(f.type), str)
            parser.add_argument(flag, type=kind, default=None, help=OPTION_HELP.get(f.name, f"default {f.default}"))


def _path(value: str) -> Path:
    """A path option: an empty one would silently mean the current folder."""
    if not value.strip():
        raise argparse.ArgumentTypeError("an empty path would mean the current folder: name a file or folder")
    return Path(value).expanduser()


def _data(value: str) -> str:
    if not value.strip():
        raise argparse.ArgumentTypeError(f"an empty --data would mean the current folder: give {DATA_HELP}")
    return str(Path(value).expanduser()) if value.startswith("~") else value


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a mistake on the command line is one line (not the whole usage) and says where help is."""

    def error(self, message: str) -> None:
        self.exit(2, f"error: {printable(message)} (`{self.prog} --help` lists the options)\n")


def at_least(lowest: int | float, kind: type = int):
    """An argparse type: a number (int or float) of at least `lowest`, named in the error otherwise."""
    def parse(value: str) -> int | float:
        try:
            number = kind(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{value!r} is not a{'n integer' if kind is int else ' number'}") from None
        if not number >= lowest:  # also refuses NaN
            raise argparse.ArgumentTypeError(f"{value!r} must be at least {lowest}")
        return number

    return parse


def _error_line(exc: GanLibError | OSError) -> str:
    """A user's mistake, or an OS error outside the places that name their own, as one printable line."""
    if isinstance(exc, GanLibError):
        return f"error: {printable(str(exc))}"
    where = f" ({exc.filename})" if exc.filename else ""
    return f"error: {printable(str(exc.strerror or exc))}{printable(where)}"


def run_script(script: Callable[[], int | None]) -> int:
    """Run a script's main (the benchmarks'): a GanLibError, a failed write or Ctrl-C is one line, exit 2 or 130."""
    try:
        return script() or 0
    except (GanLibError, OSError) as exc:
        print(_error_line(exc), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: the results printed so far stand; nothing else was written", file=sys.stderr)
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="python -m gan_lib", description="Train and sample DCGANs on anime faces.")
    commands = parser.add_subparsers(dest="command", required=True)

    train = commands.add_parser("train", help="train a DCGAN and write checkpoint, samples and history")
    train.add_argument("--data", required=True, type=_data, help=DATA_HELP)
    train.add_argument("--drop-duplicates", action="store_true", help="train on one copy of byte-identical files")
    train.add_argument("--holdout", type=int, nargs="?", const=HOLDOUT_EVERY, default=None, metavar="N",
                       help=f"hold one image in N out of training, for evaluate (N = {HOLDOUT_EVERY} if not given)")
    train.add_argument("--out", required=True, type=_path, help="run folder")
    length = train.add_mutually_exclusive_group()
    length.add_argument("--steps", type=int, help="total training steps (default: the course's run, 3,000 on the "
                        "CPU and 5,000 on a GPU)")
    length.add_argument("--epochs", type=float, help="total passes over the data")
    train.add_argument("--device", default="auto", help="auto, cpu, cuda or mps")
    train.add_argument("--recipe", default="default", choices=tuple(RECIPES), metavar="NAME",
                       help=f"a named recipe the options then change ({', '.join(RECIPES)}; gan_lib/runs/recipes.py)")
    train.add_argument("--resume", action="store_true", help=f"continue from OUT/{CHECKPOINT_FILE}")
    train.add_argument("--synthetic-count", type=int, default=SYNTHETIC_COUNT, help="faces in --data synthetic")
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    train.add_argument("--conditional", nargs="?", const="auto", metavar="BY",
                       help="a conditional DCGAN: G and D read each image's class; BY is a synthetic face attribute "
                            f"({', '.join(ATTRIBUTES)}; default hair_color) or, for a folder, 'folder' (the default: "
                            "the class of DATA/<class>/image.jpg is <class>)")
    _add_config_options(train)

    generate = commands.add_parser("generate", help="write a grid of faces from a checkpoint")
    generate.add_argument("--checkpoint", required=True, type=_path)
    generate.add_argument("--out", required=True, type=_path, help="PNG file")
    generate.add_argument("--n", type=int, default=64)
    generate.add_argument("--seed", type=int, default=0)
    generate.add_argument("--device", default="auto")
    generate.add_argument("--scale", type=int, default=1, help="enlarge each face this many times (nearest)")
    generate.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    generate.add_argument("--truncation", type=float, metavar="PSI",
                          help="a style-based G: move each w towards the average w, to PSI of the way (1: as drawn)")
    generate.add_argument("--class", dest="class_name", metavar="NAME",
                          help="a conditional DCGAN's class to draw (default: every class in turn)")

    prepare = commands.add_parser("prepare", help="download if needed, build the uint8 cache, print a data summary")
    prepare.add_argument("--data", required=True, type=_data, help=DATA_HELP)
    prepare.add_argument("--image-size", type=int, default=64)
    prepare.add_argument("--drop-duplicates", action="store_true", help="count byte-identical files once")
    evaluate = commands.add_parser("evaluate", help="score a checkpoint's samples against real images")
    evaluate.add_argument("--checkpoint", required=True, type=_path)
    evaluate.add_argument("--data", type=_data, help=DATA_HELP + " (default: what the checkpoint trained on)")
    evaluate.add_argument("--metric", choices=tuple(METRICS), default="swd")
    evaluate.add_argument("--n", type=int, default=SCORE_FACES, help="generated images (and real ones, where used)")
    evaluate.add_argument("--seed", type=int, default=0)
    evaluate.add_argument("--device", default="auto")
    evaluate.add_argument("--inception-weights", type=_path, help="local Inception weights for fid/kid (offline)")
    return parser


def _check_length(args: argparse.Namespace) -> None:
    if args.steps is not None and not 1 <= args.steps <= MAX_STEPS:
        raise GanLibError(f"--steps must be from 1 to {MAX_STEPS:,}, got {args.steps:,}")
    if args.epochs is not None and not 0 < args.epochs < math.inf:
        raise GanLibError(f"--epochs must be a positive number, got {args.epochs}")


def _condition(args: argparse.Namespace) -> str | None:
    """--conditional's labels, checked before any image is read; None where it was not given."""
    if args.conditional is None:
        return None
    condition = args.conditional
    if condition == "auto":
        condition = "hair_color" if args.data == "synthetic" else "folder"
    check_condition(args.data, condition)
    return condition


def _train(args: argparse.Namespace) -> None:
    _check_length(args)
    if args.holdout is not None and args.holdout < 2:
        raise GanLibError(f"--holdout must be at least 2 (one image in N held out), got {args.holdout}")
    device = runtime.setup(args.device) if runtime.launched() else args.device
    with contextlib.ExitStack() as held:
        if runtime.is_main():  # a run folder that is a file, unwritable, in use or inside the data stops here
            check_run_folder(args.out, args.data, "choose another --out")
            held.enter_context(run_lock(args.out))
        _train_in_folder(args, device)


def _train_in_folder(args: argparse.Namespace, device: str) -> None:
    kind = runtime.resolve_device(device).type  # a device this machine lacks is refused before the data is read
    options = {f.name: getattr(args, f.name) for f in fields(Config) if getattr(args, f.name, None) is not None}
    state = run_state(args.out, args.resume)  # a missing or an existing checkpoint is refused before the data is read
    condition = _condition(args)
    cfg, holdout = train_config(state, args.recipe, options, kind, args.holdout, condition)
    if args.data == "synthetic" and args.synthetic_count < cfg.batch_size:
        raise GanLibError(f"--synthetic-count {args.synthetic_count} is below the batch size {cfg.batch_size}: "
                          "draw more faces or lower --batch-size")
    with runtime.main_first():  # rank 0 builds the cache, the others then read it
        data = load_images(args.data, cfg.image_size, args.synthetic_count, args.drop_duplicates,
                           cfg.condition or condition or "")
    if state is None and condition:
        cfg = replace(cfg, condition=condition, classes=data.classes)
    if holdout:
        data, held_out = data.split(holdout)
    trainer = open_run(state, cfg, data, args.out, device, on_data_change="warn")  # it goes on with new data
    per_epoch = trainer.batches.steps_per_epoch
    if args.epochs and args.epochs * per_epoch > MAX_STEPS:
        raise GanLibError(f"--epochs {args.epochs:g} makes more than {MAX_STEPS:,} steps (an epoch is {per_epoch} "
                          "steps): lower --epochs")
    steps = args.steps or (round(args.epochs * per_epoch) if args.epochs else for_device(kind).steps)
    if steps < 1:
        raise GanLibError(f"--epochs {args.epochs:g} is less than one step (an epoch is {per_epoch} steps): give "
                          f"--epochs {1 / per_epoch:.3g} or more, or --steps")
    if trainer.step >= steps:
        if runtime.is_main():
            missing = missing_reports(args.out)
            if missing:  # the last step was done, but the run stopped while its reports were written
                write_reports(trainer.history, args.out, trainer.loss.scores)
            done = f"; wrote its missing {', '.join(missing)}" if missing else ""
            print(f"nothing to train: the run in {printable(str(args.out))} is already at step {trainer.step} "
                  f"(asked for {steps}){done}; pass a larger --steps to go on", file=sys.stderr)
        return
    kept_out = f" ({len(held_out)} held out for evaluate)" if holdout else ""
    world = runtime.world_size()
    where = (f"{world} processes ({trainer.placement.precision}), {cfg.batch_size // world} images each" if world > 1
             else trainer.placement.precision)
    if runtime.is_main():
        which = "a style-based G " if cfg.arch == "style" else ""
        print(f"training {which}on {len(data)} images{kept_out} from {printable(data.name)} at {cfg.image_size} px, "
              f"{where}, steps {trainer.step} -> {steps}", file=sys.stderr)
    trainer.fit(steps, progress=not args.quiet, on_log=runtime.SlowCpuNote(trainer.device))
    if runtime.is_main():
        print(f"wrote {printable(str(args.out))}/{CHECKPOINT_FILE}, samples/, losses.png, progress.gif, history.csv")


def _generate(args: argparse.Namespace) -> None:
    print(printable(str(generate_grid(args.checkpoint, args.out, args.n, args.seed, args.device, args.scale,
                                      args.overwrite, args.truncation, args.class_name))))


def _prepare(args: argparse.Namespace) -> None:
    if args.data == "synthetic":
        raise GanLibError("the synthetic faces are drawn on the fly and need no preparing: train with --data synthetic")
    data = load_images(args.data, Config(image_size=args.image_size).image_size, drop_duplicates=args.drop_duplicates)
    print(describe(data.summary))
    print(f"training set: {len(data)} images")


def _evaluate(args: argparse.Namespace) -> None:
    print(evaluate(args.checkpoint, args.metric, args.n, args.data, args.seed, args.device, args.inception_weights))


TORCHRUN_SIGTERM = "stopped by SIGTERM (torchrun stops every process when one fails)"


class Terminated(KeyboardInterrupt):
    """SIGTERM: a kill, or torchrun stopping every process because one of them failed. Handled like Ctrl-C."""


def _terminate(signum: int, frame: object) -> None:
    raise Terminated


def _interrupted(args: argparse.Namespace | None, how: str = "interrupted") -> str:
    """What an interrupt leaves, in words that fit the command."""
    if args is None:
        return f"{how} while starting: nothing was done or written"
    if args.command != "train":
        return INTERRUPTED[args.command].replace("interrupted", how, 1)
    checkpoint = printable(str(args.out / CHECKPOINT_FILE))
    if (args.out / CHECKPOINT_FILE).exists():
        try:
            at = f" (step {read_checkpoint(args.out / CHECKPOINT_FILE).step})"
        except GanLibError:
            at = ""
        return f"{how}: the last checkpoint, {checkpoint}, is kept{at}; continue with --resume"
    return f"{how} before the first checkpoint: nothing to resume; train again to start over"


def _rank_prefix() -> str:
    """Under torchrun every process that fails says so, rank 0 plainly; torchrun then stops the others."""

    return f"rank {runtime.rank()}: " if not runtime.is_main() else ""


def _lost_peer(exc: RuntimeError) -> str:
    """What a collective's error says of a lost peer ('Connection reset by peer', 'timed out'), or ''."""
    found = re.search(r"Connection (?:reset|closed|refused)[a-z ]*|[Tt]imed? ?out", str(exc))
    return found.group(0).strip() if found else ""


def _say(watch: runtime.SigtermWatch | None, line: str, code: int) -> int:
    """Print the command's one closing line on stderr (through the SIGTERM watch under torchrun); return `code`."""
    watch.say(line) if watch is not None else print(line, file=sys.stderr)
    return code


def main(argv: list[str] | None = None) -> int:
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _terminate) if in_main_thread else None
    args = watch = None
    try:
        try:
            args = _parser().parse_args(argv)
            if in_main_thread and runtime.launched():
                watch = runtime.SigtermWatch(lambda: _rank_prefix() + _interrupted(args, TORCHRUN_SIGTERM))
            {"train": _train, "generate": _generate, "prepare": _prepare, "evaluate": _evaluate}[args.command](args)
        finally:  # the outcome is known: a SIGTERM from here on (torchrun's, after this line) ends the process quietly
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)
    except GanLibError as exc:
        return _say(watch, _rank_prefix() + _error_line(exc), 2)  # one line, whatever names it holds
    except Terminated:
        return _say(watch, _interrupted(args, TORCHRUN_SIGTERM if runtime.launched() else "stopped by SIGTERM"), 143)
    except KeyboardInterrupt:
        return _say(watch, _interrupted(args), 130)
    except RuntimeError as exc:  # under torchrun, a peer that died or stalled breaks the next collective
        if not (runtime.launched() and _lost_peer(exc)):
            raise
        return _say(watch, _interrupted(args, f"{_rank_prefix()}error: another process of this run stopped "
                                              f"({_lost_peer(exc)})"), 2)
    except OSError as exc:  # a full disk or a vanished file outside the places that name their own
        return _say(watch, _error_line(exc), 2)
    finally:
        if watch is not None:
            watch.say()  # whatever the outcome, its line is said: a SIGTERM from here on ends quietly
        runtime.teardown()
        if watch is not None:
            watch.close()
    return 0
