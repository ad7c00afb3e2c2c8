"""Images from a folder (or the synthetic faces) into one uint8 tensor, cached on disk, and batches on the device."""

from __future__ import annotations

import hashlib
import io
import json
import os
import signal
import sys
import warnings
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps
from torchvision.io import decode_jpeg
from tqdm.auto import tqdm

from .config import derive_seed, seeded
from .datasets import NAMED_DATASETS, locate
from .distributed import my_share
from .errors import GanLibError
from .files import IMAGE_EXTENSIONS, atomic_path, cache_dir, check_writable, remove_dead_temporaries

CACHE_VERSION = 3  # 3: the summary lists the relative path of every prepared image
SYNTHETIC_COUNT = 10_000
HOLDOUT_EVERY = 8  # --holdout: one image in eight is held out for evaluation


@dataclass
class ImageSet:
    """A prepared dataset: uint8 images (N, 3, S, S) and what preparing them found."""

    images: torch.Tensor
    name: str
    summary: dict = field(default_factory=dict)
    cache_file: Path | None = None  # the uint8 file behind `images`, for prepared folders
    keys: list[str] = field(default_factory=list)  # per image: the relative path of its first byte-identical copy
    holdout: int = 0  # 1 in `holdout` images is held out of this set (0: none)
    part: str = "all"  # "all", or after split(): "train" or "held-out"

    def __len__(self) -> int:
        return len(self.images)

    def split(self, every: int = HOLDOUT_EVERY) -> tuple[ImageSet, ImageSet]:
        """(training part, held-out part): one image in `every` is held out, chosen by a stable hash of its file's
        relative path, the same on every machine; byte-identical copies share a key, so they fall on one side."""
        if every < 2:
            raise GanLibError(f"--holdout must be at least 2 (one image in N held out), got {every}")
        if self.part != "all":
            raise GanLibError("this image set is already one part of a split")
        held = torch.tensor([_bucket(key) % every == 0 for key in self.keys], dtype=torch.bool)
        parts = []
        for part, mask in (("train", ~held), ("held-out", held)):
            index = mask.nonzero().flatten()
            parts.append(ImageSet(self.images[index], self.name, self.summary, self.cache_file,
                                  [self.keys[i] for i in index.tolist()], every, part))
        if not len(parts[1]) or not len(parts[0]):
            raise GanLibError(f"{self.name} has {len(self)} images, too few to hold one in {every} out: "
                              "add images or train without --holdout")
        return parts[0], parts[1]

    @property
    def identity(self) -> dict:
        """What a checkpoint records of the data it trained on."""
        return {"source": self.summary.get("source", self.name), "name": self.name, "images": len(self),
                "files": self.summary.get("files"), "holdout": self.holdout, "part": self.part,
                "drop_duplicates": bool(self.summary.get("duplicates_dropped"))}


def _bucket(key: str) -> int:
    """A stable integer hash of a string (Python's hash() changes between processes)."""
    return int.from_bytes(hashlib.blake2b(key.encode("utf-8", "surrogateescape"), digest_size=8).digest(), "little")


def _scan(root: Path) -> tuple[list[tuple[str, int, int]], list[str]]:
    """((path relative to root, size, mtime_ns) of every image file below root, sorted; folders that could not be
    read). Symbolic links to folders are followed, each folder once (no loops); hidden files and folders and macOS'
    __MACOSX are left out. Plain strings and os.scandir: a folder of 63k files is listed in a fraction of a second.
    """
    found, unreadable, folders, seen = [], [], [""], set()
    while folders:
        folder = folders.pop()
        try:
            st = os.stat(root / folder)
            if (st.st_dev, st.st_ino) in seen:  # a link back up the tree, or a second link to one folder
                continue
            seen.add((st.st_dev, st.st_ino))
            with os.scandir(root / folder) as listing:
                entries = list(listing)
        except OSError:
            unreadable.append(folder or ".")
            continue
        for entry in entries:
            if entry.name.startswith(".") or entry.name == "__MACOSX":
                continue
            relative = f"{folder}/{entry.name}" if folder else entry.name
            try:
                if entry.is_dir():
                    folders.append(relative)
                elif os.path.splitext(entry.name)[1].lower() in IMAGE_EXTENSIONS and entry.is_file():
                    st = entry.stat()
                    found.append((relative, st.st_size, st.st_mtime_ns))
            except OSError:  # a broken link, or gone since the listing
                continue
    return sorted(found), unreadable


def _scan_images(root: Path) -> tuple[list[tuple[str, int, int]], list[str]]:
    if not root.is_dir():
        raise GanLibError(f"no folder at {root}: pass a folder of images, a dataset name (anime-faces, "
                          "anime-faces-64, comic-faces), or --data synthetic to try without downloading")
    files, unreadable = _scan(root)
    if not files:
        cannot_read = f" ({len(unreadable)} folder(s) could not be read, e.g. {unreadable[0]})" if unreadable else ""
        raise GanLibError(f"no images found under {root}{cannot_read}: expected "
                          f"{'/'.join(sorted(IMAGE_EXTENSIONS))} files; pass --data synthetic to try without "
                          "downloading")
    return files, unreadable


def find_images(root: str | Path) -> list[Path]:
    """Every image file below root, recursively, in a stable order; a clear error if there is none."""
    root = Path(root).expanduser()
    return [root / relative for relative, _, _ in _scan_images(root)[0]]


MIN_SIDE = 8  # images with a shorter side are skipped: a 1 px image says nothing at 32 px
MAX_ASPECT = 4.0  # nor does a strip: the centre square of a 400 x 20 banner is 20 px of it


class Skipped(Exception):
    """A file that is not used, and why (one of SKIP_REASONS)."""


SKIP_REASONS = ("unreadable", "too large (a decompression bomb)", f"too small (under {MIN_SIDE} px)",
                f"a strip (over {MAX_ASPECT:.0f}:1)")


def _jpeg_fast(data: bytes) -> Image.Image | None:
    """RGB and greyscale JPEGs through torchvision's libjpeg-turbo (about 1.7x PIL's speed on small faces), EXIF
    orientation applied."""
    try:
        x = decode_jpeg(torch.frombuffer(bytearray(data), dtype=torch.uint8), apply_exif_orientation=True)
    except RuntimeError:  # truncated or unusual: PIL decodes it or names the problem
        return None
    if x.shape[0] == 3:
        return Image.fromarray(x.permute(1, 2, 0).numpy())
    return Image.fromarray(x[0].numpy()) if x.shape[0] == 1 else None  # CMYK goes through PIL


def _eight_bits(image: Image.Image) -> Image.Image:
    """16-bit and 32-bit greyscale (PNG, TIFF-like modes) scaled to 8 bits, instead of clipped to white."""
    values = np.asarray(image, dtype=np.float64)
    peak = 65535.0 if image.mode.startswith("I;16") or values.max() > 255 else 255.0
    if image.mode == "F":
        peak = max(1.0, values.max())
    return Image.fromarray(np.clip(values * (255 / peak), 0, 255).round().astype(np.uint8), "L")


def _open(data: bytes, size: int) -> tuple[Image.Image, tuple[int, int], str]:
    """(the image, at least size px on its shorter side, upright, its original (width, height), its original mode).

    The header is read first: decompression bombs, tiny images and strips are refused before any decoding.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            header = Image.open(io.BytesIO(data))
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise Skipped(SKIP_REASONS[1]) from exc
    w, h = header.size
    if min(w, h) < MIN_SIDE:
        raise Skipped(SKIP_REASONS[2])
    if max(w, h) > MAX_ASPECT * min(w, h):
        raise Skipped(SKIP_REASONS[3])
    mode = header.mode
    if header.format == "JPEG" and mode in ("RGB", "L") and (image := _jpeg_fast(data)) is not None:
        return image, (w, h), mode
    header.draft(mode, (size, size))  # JPEG: decode at the smallest scale that is still >= size
    header.load()
    image = ImageOps.exif_transpose(header)
    if image.mode.startswith("I") or image.mode == "F":
        image = _eight_bits(image)
    return image, (w, h), mode


def decode_image(data: bytes, size: int) -> tuple[np.ndarray, tuple[int, int], str]:
    """Encoded bytes -> (size, size, 3) uint8 centre crop (transparency on white), original (width, height), mode."""
    image, original_size, mode = _open(data, size)
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        image = Image.new("RGB", rgba.size, (255, 255, 255))
        image.paste(rgba, mask=rgba.getchannel("A"))
    elif image.mode != "RGB":
        image = image.convert("RGB")
    w, h = image.size
    side = min(w, h)
    box = ((w - side) / 2, (h - side) / 2, (w + side) / 2, (h + side) / 2)
    # Pillow's filters widen their support when shrinking, so this is antialiased
    return np.asarray(image.resize((size, size), Image.Resampling.BILINEAR, box=box)), original_size, mode


def _decode_files(args: tuple[list[str], int]) -> tuple[np.ndarray, list[tuple[str, str, tuple[int, int], str]]]:
    """Worker: decode a chunk of files into (k, 3, S, S) uint8 and, for each file, (why it was skipped or "",
    digest, original size, mode)."""
    paths, size = args
    torch.set_num_threads(1)  # one process per core already
    arrays, info = [], []
    for path in paths:
        try:
            data = Path(path).read_bytes()
            digest = hashlib.blake2b(data, digest_size=16).hexdigest()
            array, original_size, mode = decode_image(data, size)
        except Skipped as skipped:
            info.append((str(skipped), "", (0, 0), ""))
            continue
        except (OSError, SyntaxError, ValueError, TypeError, Image.DecompressionBombError):
            info.append((SKIP_REASONS[0], "", (0, 0), ""))
            continue
        arrays.append(array)
        info.append(("", digest, original_size, mode))
    stacked = np.stack(arrays).transpose(0, 3, 1, 2) if arrays else np.empty((0, 3, size, size), np.uint8)
    return np.ascontiguousarray(stacked), info


def _listing_key(root: Path, files: list[tuple[str, int, int]], size: int) -> tuple[str, str]:
    """(key of folder and size, key of the exact file list): a changed file list means a stale cache."""
    folder = hashlib.blake2b(f"{root.resolve()}|{size}|{CACHE_VERSION}".encode("utf-8", "surrogateescape"),
                             digest_size=8).hexdigest()
    listing = hashlib.blake2b(digest_size=8)
    listing.update("".join(f"{relative}|{file_size}|{mtime}\n" for relative, file_size, mtime in files)
                   .encode("utf-8", "surrogateescape"))
    return folder, listing.hexdigest()


def _read_cache(array_file: Path, summary_file: Path, size: int) -> dict | None:
    """The summary of a complete cache, or None for a missing, damaged or half-written one (then it is rebuilt)."""
    try:
        summary = json.loads(summary_file.read_text())
        complete = array_file.stat().st_size == summary["images"] * 3 * size * size
        return summary if complete and len(summary["paths"]) == summary["images"] else None
    except (OSError, ValueError, KeyError, TypeError):
        return None


def prepare_folder(root: str | Path, size: int = 64, workers: int | None = None,
                   drop_duplicates: bool = False) -> ImageSet:
    """Decode, crop and resize every image under root once; later calls reload the cache in well under a second.

    drop_duplicates keeps only the first of each set of byte-identical files. A damaged cache is rebuilt; two
    processes preparing the same folder at once both succeed.
    """
    root = Path(root).expanduser()
    files, unreadable_folders = _scan_images(root)
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
        print(f"prepared {summary['images']} images from {root}" + _skipped_line(summary), file=sys.stderr)
        for stale in cache.glob(f"{stem}-*"):  # caches of an older file list; never another process's temporaries
            if stale not in (array_file, summary_file):
                stale.unlink(missing_ok=True)
    # copy-on-write memory map: ready at once, pages are read when training first touches them
    shape = (summary["images"], 3, size, size)
    images = torch.from_numpy(np.memmap(array_file, np.uint8, mode="c", shape=shape))
    first_of_digest: dict[str, int] = {}
    for i, digest in enumerate(summary["digests"]):
        first_of_digest.setdefault(digest, i)
    keys = [summary["paths"][first_of_digest[digest]] for digest in summary["digests"]]
    summary["duplicates"] = len(summary["digests"]) - len(first_of_digest)
    summary["duplicates_dropped"] = drop_duplicates
    if drop_duplicates and summary["duplicates"]:
        kept = sorted(first_of_digest.values())
        images, keys = images[kept], [keys[i] for i in kept]
    return ImageSet(images, str(root), summary, array_file, keys)


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
            results = pool.map(_decode_files, jobs)
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
                          + _skipped_line({"skipped": skipped}))
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


def printable(path: str) -> str:
    """A path that can be printed whatever bytes its name holds (undecodable bytes shown as U+FFFD)."""
    return path.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _skipped_line(summary: dict) -> str:
    """'; skipped 3: 2 unreadable (e.g. a.jpg), 1 too small (under 8 px) (e.g. b.png)', or '' if none was."""
    groups = [(reason, files) for reason, files in summary["skipped"].items() if files]
    if not groups:
        return ""
    total = sum(len(files) for _, files in groups)
    return f"; skipped {total}: " + ", ".join(f"{len(files)} {reason} (e.g. {printable(files[0])})"
                                              for reason, files in groups)


def describe(summary: dict) -> str:
    """A few lines on a prepared folder: counts, what was skipped and why, original sizes, modes, duplicates."""
    sizes = np.array(summary["original_sizes"])
    sides = sizes.min(1)
    lines = [
        f"{summary['files']} files under {summary['source']}: {summary['images']} images prepared at "
        f"{summary['image_size']} px" + (_skipped_line(summary) or "; none skipped"),
        f"original shorter side: min {sides.min()}, median {int(np.median(sides))}, max {sides.max()} px; "
        f"aspect ratio (w/h) {np.min(sizes[:, 0] / sizes[:, 1]):.2f} to {np.max(sizes[:, 0] / sizes[:, 1]):.2f}",
        "modes: " + ", ".join(f"{mode} {n}" for mode, n in sorted(summary["modes"].items())),
        f"exact duplicates (byte-identical files): {summary['duplicates']}"
        + (" (dropped)" if summary["duplicates_dropped"] else " (kept; drop them with --drop-duplicates)"),
    ]
    return "\n".join(lines)


def duplicate_groups(summary: dict) -> list[list[int]]:
    """Indices (into the prepared images, duplicates kept) of each set of byte-identical files, largest first."""
    groups: dict[str, list[int]] = {}
    for i, digest in enumerate(summary["digests"]):
        groups.setdefault(digest, []).append(i)
    return sorted((g for g in groups.values() if len(g) > 1), key=len, reverse=True)


def channel_stats(images: torch.Tensor, batch: int = 4096) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel mean and standard deviation of uint8 images, in [0, 1] units."""
    total = torch.zeros(3, dtype=torch.float64)
    squares = torch.zeros(3, dtype=torch.float64)
    for start in range(0, len(images), batch):
        x = images[start:start + batch].to(torch.float64) / 255
        total += x.sum((0, 2, 3))
        squares += (x * x).sum((0, 2, 3))
    count = images.shape[0] * images.shape[2] * images.shape[3]
    mean = total / count
    return mean.float(), (squares / count - mean * mean).sqrt().float()


def synthetic_set(size: int = 64, count: int = SYNTHETIC_COUNT, seed: int = 0) -> ImageSet:
    """The procedural faces as a dataset, with a summary like a folder's (drawing 10k takes seconds: no cache)."""
    from .synthetic import make_faces

    images, attributes = make_faces(count, size, seed)
    summary = {
        "source": f"synthetic faces (seed {seed})", "image_size": size, "files": count, "images": count,
        "skipped": {}, "original_sizes": [(4 * size, 4 * size)] * count, "modes": {"RGB": count},
        "digests": [hashlib.blake2b(image.numpy().tobytes(), digest_size=16).hexdigest() for image in images],
        "duplicates": 0, "duplicates_dropped": False, "attributes": attributes,
    }
    return ImageSet(images, "synthetic", summary, keys=[f"face-{i}" for i in range(count)])


def load_images(data: str | Path, size: int = 64, count: int = SYNTHETIC_COUNT,
                drop_duplicates: bool = False) -> ImageSet:
    """Resolve --data: 'synthetic', a named Kaggle dataset (downloaded if need be), or a folder of images."""
    if str(data) == "synthetic":
        return synthetic_set(size, count)
    if str(data) in NAMED_DATASETS and not Path(data).exists():
        return prepare_folder(locate(str(data)), size, drop_duplicates=drop_duplicates)
    return prepare_folder(data, size, drop_duplicates=drop_duplicates)


def reference_samples(data: ImageSet, holdout: int, n: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """(real images to score generated ones against, other real images for the real-vs-real floor), n each.

    data is the whole set. The first come from the part held out by `holdout` (a model trained with the same
    holdout never saw them), the second from the training part; with holdout 0 the set is split one in
    HOLDOUT_EVERY all the same, so that the floor still compares two disjoint sets. n is capped by the smaller part.
    """
    train_part, held_part = data.split(holdout or HOLDOUT_EVERY)
    n = min(n, len(train_part), len(held_part))
    g = torch.Generator().manual_seed(seed)
    held, other = (part.images[torch.randperm(len(part), generator=g)[:n]] for part in (held_part, train_part))
    return held, other


class BatchSampler:
    """Shuffled batches of float images in [-1, 1], drawn and flipped on the training device.

    The batch for a step is a pure function of (seed, step), so a resumed run sees exactly the batches that an
    uninterrupted one would. Under torchrun each process takes its share of that same global batch.
    """

    def __init__(self, images: torch.Tensor, batch_size: int, seed: int, device: torch.device | str = "cpu",
                 flip: bool = True):
        if len(images) < batch_size:
            raise GanLibError(f"the dataset has {len(images)} images, fewer than the batch size {batch_size}: "
                              "lower --batch-size or add images")
        self.images = images.to(device)
        self.batch_size, self.seed, self.device, self.flip = batch_size, seed, torch.device(device), flip
        self.steps_per_epoch = len(images) // batch_size
        self.share = my_share(batch_size)  # this process's part of the global batch (all of it in one process)
        self._epoch, self._order = -1, None
        self._rng = torch.Generator(self.device)

    def batch(self, step: int) -> torch.Tensor:
        epoch, i = divmod(step, self.steps_per_epoch)
        if epoch != self._epoch:
            g = torch.Generator().manual_seed(derive_seed(self.seed, "epoch", epoch))
            self._epoch, self._order = epoch, torch.randperm(len(self.images), generator=g).to(self.device)
        index = self._order[i * self.batch_size:(i + 1) * self.batch_size][self.share]
        x = self.images[index].float().div_(127.5).sub_(1.0)
        if self.flip:
            g = seeded(self._rng, self.seed, "flip", step)
            flips = torch.rand(self.batch_size, generator=g, device=self.device)[self.share]
            mirror = (flips < 0.5).view(-1, 1, 1, 1)
            x = torch.where(mirror, x.flip(3), x)
        return x
