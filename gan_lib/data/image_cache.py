"""The prepared uint8 cache of a folder: decoded once in worker processes, keyed by the folder, its exact file list
and the image size, checked when read, rebuilt when stale or damaged, and memory-mapped when loaded."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sys
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from ..support.errors import GanLibError, printable
from ..support.files import atomic_path, cache_dir, check_writable, remove_dead_temporaries
from .images import SKIP_REASONS, decode_files, scan_images

CACHE_VERSION = 3  # 3: the summary lists the relative path of every prepared image


def _listing_key(root: Path, files: list[tuple[str, int, int]], size: int) -> tuple[str, str]:
    """(key of folder and size, key of the exact file list): a changed file list means a stale cache."""
    folder = hashlib.blake2b(f"{root.resolve()}|{size}|{CACHE_VERSION}".encode("utf-8", "surrogateescape"),
                             digest_size=8).hexdigest()
    listing = hashlib.blake2b(digest_size=8)
    listing.update("".join(f"{relative}|{file_size}|{mtime}\n" for relative, file_size, mtime in files)
                   .encode("utf-8", "surrogateescape"))
    return folder, listing.hexdigest()


def _read_cache(array_file: Path, summary_file: Path, size: int) -> dict | None:
    """The summary of a complete cache, or None for a missing, damaged, half-written or foreign one (then it is
    rebuilt): every field is checked, with its type and, for the per-image lists, its length."""
    try:
        summary = json.loads(summary_file.read_text())
        n = summary["images"]
        valid = (
            isinstance(n, int) and 0 < n <= summary["files"] and summary["image_size"] == size
            and isinstance(summary["source"], str)
            and array_file.stat().st_size == n * 3 * size * size
            and all(isinstance(summary[key], list) and len(summary[key]) == n
                    for key in ("paths", "original_sizes", "digests"))
            and all(isinstance(p, str) for p in summary["paths"] + summary["digests"])
            and all(isinstance(s, list) and len(s) == 2 and all(isinstance(v, int) for v in s)
                    for s in summary["original_sizes"])
            and isinstance(summary["modes"], dict)
            and isinstance(summary["skipped"], dict) and all(isinstance(files, list) and
                                                             all(isinstance(f, str) for f in files)
                                                             for files in summary["skipped"].values()))
        return summary if valid else None
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def cached_images(root: str | Path, size: int = 64, workers: int | None = None) -> tuple[torch.Tensor, dict, Path]:
    """(uint8 images (N, 3, size, size), the summary, the array file) of every usable image under root: decoded,
    cropped and resized once, then reloaded from the cache in well under a second. A damaged cache is rebuilt; two
    processes preparing the same folder at once both succeed."""
    root = Path(root).expanduser()
    files, unreadable_folders = scan_images(root)
    folder_key, listing_key = _listing_key(root, files, size)
    cache = cache_dir()
    stem = f"{root.resolve().name}-{size}px-{folder_key}"
    array_file, summary_file = cache / f"{stem}-{listing_key}.u8", cache / f"{stem}-{listing_key}.json"
    summary = _read_cache(array_file, summary_file, size)
    if summary is None:
        check_writable(cache, "the cache folder", "set GAN_LIB_CACHE to a folder you can write (with room for "
                       f"{len(files) * 3 * size * size / 1e6:.0f} MB)")
        remove_dead_temporaries(cache)
        paths = [relative for relative, _, _ in files]
        with atomic_path(array_file) as tmp, open(tmp, "wb") as out:
            summary = _build_cache(root, paths, size, workers or os.cpu_count() or 1, out)
        summary["skipped"]["unreadable folder"] = unreadable_folders
        with atomic_path(summary_file) as tmp:  # written last: without it, the array does not count
            tmp.write_text(json.dumps(summary))
        print(f"prepared {summary['images']} images from {printable(str(root))}" + skipped_line(summary),
              file=sys.stderr)
        for stale in cache.glob(f"{stem}-*"):  # caches of an older file list; never another process's temporaries
            if stale not in (array_file, summary_file):
                stale.unlink(missing_ok=True)
    # copy-on-write memory map: ready at once, pages are read when training first touches them
    shape = (summary["images"], 3, size, size)
    return torch.from_numpy(np.memmap(array_file, np.uint8, mode="c", shape=shape)), summary, array_file


@contextmanager
def _interrupts_deferred():
    """Hold SIGINT back during the block (where the platform can), then deliver it."""
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _build_cache(root: Path, paths: list[str], size: int, workers: int, out) -> dict:
    """Decode in worker processes, writing each chunk of images to `out` as it arrives; returns the summary."""
    chunk = max(16, min(512, len(paths) // (4 * workers) + 1))
    jobs = [([str(root / p) for p in paths[i:i + chunk]], size) for i in range(0, len(paths), chunk)]
    info = []
    pool = ProcessPoolExecutor(workers)
    try:
        with _interrupts_deferred():  # a Ctrl-C while the workers are forked would be lost in a fork handler
            results = pool.map(decode_files, jobs)
        with tqdm(total=len(paths), desc="preparing", unit="img") as bar:
            for images, chunk_info in results:
                out.write(images.data)
                info += chunk_info
                bar.update(len(chunk_info))
    finally:  # on Ctrl-C or an error too: no decoding goes on for a cache that will not be written
        pool.shutdown(wait=True, cancel_futures=True)
    kept = [i for i, (reason, *_) in enumerate(info) if not reason]
    skipped = {reason: [paths[i] for i, (why, *_) in enumerate(info) if why == reason] for reason in SKIP_REASONS}
    if not kept:
        raise GanLibError(f"none of the {len(paths)} image files under {root} could be used:"
                          + skipped_line({"skipped": skipped}))
    return {
        "source": str(root.resolve()),
        "image_size": size,
        "files": len(paths),
        "images": len(kept),
        "paths": [paths[i] for i in kept],
        "skipped": skipped,
        "original_sizes": [info[i][2] for i in kept],
        "modes": dict(Counter(info[i][3] for i in kept)),
        "digests": [info[i][1] for i in kept],
    }


def skipped_line(summary: dict) -> str:
    """'; skipped 3: 2 unreadable (e.g. a.jpg), 1 too small (under 8 px) (e.g. b.png)', or '' if none was."""
    groups = [(reason, files) for reason, files in summary["skipped"].items() if files]
    if not groups:
        return ""
    total = sum(len(files) for _, files in groups)
    return f"; skipped {total}: " + ", ".join(f"{len(files)} {reason} (e.g. {printable(files[0])})"
                                              for reason, files in groups)
