"""Images in a folder: finding them (fast, loop-safe, hidden files left out) and decoding one file into a square
uint8 array (EXIF orientation, transparency on white, 16-bit greyscale scaled, centre crop, antialiased resize).
Files that say nothing at the training size are refused from their header, before any decoding."""

from __future__ import annotations

import hashlib
import io
import os
import warnings
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps
from torchvision.io import decode_jpeg

from ..support.errors import GanLibError
from ..support.files import IMAGE_EXTENSIONS
from .datasets import NAMED_DATASETS


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


def scan_images(root: Path) -> tuple[list[tuple[str, int, int]], list[str]]:
    """_scan, with a clear error for a missing folder or one without images."""
    if not root.is_dir():
        raise GanLibError(f"no folder at {root}: pass a folder of images, a dataset name "
                          f"({', '.join(NAMED_DATASETS)}), or --data synthetic to try without downloading")
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
    return [root / relative for relative, _, _ in scan_images(root)[0]]


MIN_SIDE = 8  # images with a shorter side are skipped: a 1 px image says nothing at 32 px
MAX_ASPECT = 4.0  # nor does a strip: the centre square of a 400 x 20 banner is 20 px of it


class Skipped(Exception):
    """A file that is not used, and why (one of SKIP_REASONS)."""


MAX_FILE_BYTES = 64 * 2**20  # a face image is a few hundred KB: a larger file is skipped before it is read
SKIP_REASONS = ("unreadable", "too large (a decompression bomb)", f"too small (under {MIN_SIDE} px)",
                f"a strip (over {MAX_ASPECT:.0f}:1)", f"too large a file (over {MAX_FILE_BYTES // 2**20} MB)")


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


def decode_files(args: tuple[list[str], int]) -> tuple[np.ndarray, list[tuple[str, str, tuple[int, int], str]]]:
    """Worker: decode a chunk of files into (k, 3, S, S) uint8 and, for each file, (why it was skipped or "",
    digest, original size, mode)."""
    paths, size = args
    torch.set_num_threads(1)  # one process per core already
    arrays, info = [], []
    for path in paths:
        try:
            if os.path.getsize(path) > MAX_FILE_BYTES:
                raise Skipped(SKIP_REASONS[4])
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
