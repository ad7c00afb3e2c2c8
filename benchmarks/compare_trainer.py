"""Another commit's Trainer against this checkout's, in one process: speed and bit-identity of CPU training.

    python benchmarks/compare_trainer.py --ref REF [--image-size 32] [--blocks 10] [--steps 25]

For a change that must leave training as it was (a re-lay, a rename): gan_lib at REF is extracted with `git archive`
and imported under another name; both trainers train the DCGAN paper's recipe from the same seed on the same random
images, in alternating blocks of steps (so a machine that speeds up or slows down affects both alike). Prints each
one's img/s, and whether G's and D's weights are bit-identical at the end (exit status 1 if not).
"""

from __future__ import annotations

import importlib
import io
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import torch

from gan_lib.runs.cli import OneLineParser, at_least, run_script

ROOT = Path(__file__).resolve().parent.parent


def import_at(ref: str, folder: Path):
    """gan_lib as it was at `ref`, importable as gan_lib_at_ref (its imports inside the package are relative)."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", ref, "gan_lib"], capture_output=True, check=True)
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(folder, filter="data")
    (folder / "gan_lib").rename(folder / "gan_lib_at_ref")
    sys.path.insert(0, str(folder))
    return importlib.import_module("gan_lib_at_ref")


def trainer(package, images: torch.Tensor, size: int):
    config, data, train = (importlib.import_module(f"{package.__name__}.{m}") for m in ("config", "data", "train"))
    recipe = getattr(config, "DCGAN_RECIPE", None)  # where commits before the wings kept it
    if recipe is None:
        recipe = importlib.import_module(f"{package.__name__}.runs.recipes").DCGAN_RECIPE
    cfg = config.Config(image_size=size, batch_size=64, **recipe)
    return train.Trainer(cfg, data.ImageSet(images, "benchmark"), device="cpu")


def main() -> int:
    parser = OneLineParser(prog="benchmarks/compare_trainer.py", description=__doc__.split("\n")[0])
    parser.add_argument("--ref", required=True, help="the commit to compare with, e.g. HEAD~1 or a tag")
    parser.add_argument("--image-size", type=at_least(1), default=32)
    parser.add_argument("--blocks", type=at_least(1), default=10, help="alternating blocks per trainer")
    parser.add_argument("--steps", type=at_least(1), default=25, help="steps per block")
    args = parser.parse_args()
    import gan_lib

    with tempfile.TemporaryDirectory() as folder:
        before = import_at(args.ref, Path(folder))
        size = args.image_size
        images = torch.randint(0, 256, (4096, 3, size, size), dtype=torch.uint8,
                               generator=torch.Generator().manual_seed(0))
        trainers = {args.ref: trainer(before, images, size), "this checkout": trainer(gan_lib, images, size)}
        seconds = dict.fromkeys(trainers, 0.0)
        for t in trainers.values():
            t.fit(5, progress=False)  # warm-up
        for block in range(args.blocks):
            for name in (list(trainers) if block % 2 == 0 else list(trainers)[::-1]):
                t = trainers[name]
                start = time.perf_counter()
                t.fit(t.step + args.steps, progress=False)
                seconds[name] += time.perf_counter() - start
        for name, s in seconds.items():
            print(f"{name}: {args.blocks * args.steps * 64 / s:.1f} img/s at {size} px")
        a, b = trainers.values()
        identical = all(torch.equal(x, y) for m in ("G", "D") for x, y in
                        zip(getattr(a, m).state_dict().values(), getattr(b, m).state_dict().values()))
        print(f"G and D after {b.step} steps: " + ("bit-identical" if identical else "DIFFERENT"))
    return 0 if identical else 1


if __name__ == "__main__":
    sys.exit(run_script(main))
