"""Cache build speed (img/s) and reload time, on a folder of images.

    python benchmarks/prepare.py [FOLDER] [--size 64] [--full 63565]

Builds the uint8 cache from scratch in a temporary cache folder, reloads it, and reports the exact duplicates.
With --full N it also links the folder's files N times over (cycling) into a temporary folder, the size of the
full Anime Face Dataset, and times the build and reload of that.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from gan_lib.data import prepare_folder
from gan_lib.data.images import find_images
from gan_lib.runs.cli import OneLineParser, at_least, run_script


def measure(folder: Path, size: int) -> None:
    start = time.perf_counter()
    built = prepare_folder(folder, size)
    build_s = time.perf_counter() - start
    start = time.perf_counter()
    reloaded = prepare_folder(folder, size)
    reload_s = time.perf_counter() - start
    assert len(reloaded) == len(built)
    print(f"{folder}: {built.summary['files']} files -> {len(built)} images at {size} px, "
          f"build {build_s:.2f} s = {built.summary['files'] / build_s:.0f} img/s on {os.cpu_count()} cores, "
          f"reload {reload_s:.2f} s, exact duplicates {built.summary['duplicates']}")


def main() -> None:
    parser = OneLineParser(prog="benchmarks/prepare.py", description=__doc__,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", nargs="?", default="../shared/data/animefacedataset", type=Path)
    parser.add_argument("--size", type=at_least(1), default=64)
    parser.add_argument("--full", type=at_least(0), default=0, help="also time a folder of this many linked files")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["GAN_LIB_CACHE"] = str(Path(tmp) / "cache")
        measure(args.folder, args.size)
        if args.full:
            files = find_images(args.folder)
            linked = Path(tmp) / "full"
            linked.mkdir()
            for i in range(args.full):
                source = files[i % len(files)].resolve()
                (linked / f"{i:06d}{source.suffix}").symlink_to(source)
            measure(linked, args.size)


if __name__ == "__main__":
    sys.exit(run_script(main))
