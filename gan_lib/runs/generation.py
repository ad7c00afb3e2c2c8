"""`generate`: a grid of a checkpoint's faces in an image file, checked before any face is drawn (the file name,
the grid's size, a class or a truncation the generator has)."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import torch

from ..config import Config
from ..measure.viz import save_grid
from ..models import generate, noise
from ..support.errors import GanLibError, printable
from ..support.files import IMAGE_EXTENSIONS, write_fix
from .checkpoint import load_generator

MAX_GRID_SIDE = 16384  # generate's grid, in pixels per side: about 800 MB of RGB at most


def class_labels(cfg: Config, name: str | None, n: int) -> torch.Tensor | None:
    """n labels of the class `name` of a conditional DCGAN, or None (every class in turn)."""
    if name is None:
        return None
    if not cfg.conditional:
        raise GanLibError("--class needs a conditional DCGAN (trained with --conditional); this one has no classes")
    if name not in cfg.classes:
        raise GanLibError(f"this DCGAN has no class {printable(repr(name))}: choose one of {', '.join(cfg.classes)}")
    return torch.full((n,), cfg.classes.index(name))


def set_truncation(G: torch.nn.Module, cfg: Config, psi: float) -> None:
    """A style-based G draws each w moved towards the average w, to psi of the way."""
    if cfg.arch != "style":
        raise GanLibError("--truncation moves w towards its average: it needs a style-based G (train --arch style)")
    if not 0.0 <= psi <= 1.0:
        raise GanLibError(f"--truncation must be in [0, 1] (0: the average face, 1: as drawn), got {psi}")
    G.psi = psi


def generate_grid(checkpoint: str | Path, out: Path, n: int = 64, seed: int = 0, device: str = "auto",
                  scale: int = 1, overwrite: bool = False, truncation: float | None = None,
                  class_name: str | None = None) -> Path:
    """n faces of the checkpoint's generator, drawn from `seed`, in a grid written to `out` (each face enlarged
    `scale` times); returns the path written."""
    if n < 1:
        raise GanLibError(f"--n must be at least 1, got {n}")
    if scale < 1:
        raise GanLibError(f"--scale must be at least 1, got {scale}")
    try:
        is_folder = out.is_dir()
    except OSError as exc:  # a name longer than the filesystem allows, a folder that cannot be searched
        raise GanLibError(f"cannot write --out {out} ({exc.strerror or exc}): {write_fix(exc)}") from exc
    if is_folder:
        raise GanLibError(f"--out {out} is a folder: name an image file, e.g. {out / 'faces.png'}")
    if out.suffix.lower() not in IMAGE_EXTENSIONS:
        raise GanLibError(f"--out {out} is not an image file name: end it with {', '.join(sorted(IMAGE_EXTENSIONS))}")
    G, cfg = load_generator(checkpoint, device)
    cfg = replace(cfg, seed=seed)  # checked like any config
    if truncation is not None:
        set_truncation(G, cfg, truncation)
    side = math.ceil(math.sqrt(n)) * (cfg.image_size * scale + 2) + 2  # make_grid pads by 2
    if side > MAX_GRID_SIDE:
        raise GanLibError(f"{n:,} faces at {cfg.image_size} px x {scale} make a grid of {side:,} pixels a side, "
                          f"more than {MAX_GRID_SIDE:,}: lower --n or --scale")
    labels = class_labels(cfg, class_name, n)
    if out.exists() and not overwrite:
        raise GanLibError(f"--out {out} exists: pass --overwrite to replace it, or choose another file name")
    faces = generate(G, noise(n, cfg, "generate"), labels=labels, as_uint8=True)
    return save_grid(faces, out, scale=scale)
