"""Differentiable augmentation for D (Zhao et al. 2020, "Differentiable Augmentation for Data-Efficient GAN
Training"): colour, translation and cutout, applied to real and generated images alike, so G gets gradients
through them and D cannot memorise a small dataset. Under torchrun each process draws its own images' share of the
global batch's draws (runtime.my_part).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .support.errors import GanLibError
from .support.runtime import my_part

POLICIES = ("color", "translation", "cutout")


def _rand(n: int, rng: torch.Generator, device: torch.device) -> torch.Tensor:
    return my_part(lambda m: torch.rand(m, 1, 1, 1, generator=rng, device=rng.device), n).to(device)


def _randint(low: int, high: int, n: int, rng: torch.Generator, device: torch.device) -> torch.Tensor:
    return my_part(lambda m: torch.randint(low, high, (m, 1, 1), generator=rng, device=rng.device), n).to(device)


def color(x: torch.Tensor, rng: torch.Generator) -> torch.Tensor:
    """Random brightness (+-0.5), saturation (x0-2) and contrast (x0.5-1.5), per image."""
    n = len(x)
    x = x + (_rand(n, rng, x.device) - 0.5)
    mean = x.mean(dim=1, keepdim=True)
    x = (x - mean) * (_rand(n, rng, x.device) * 2) + mean
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * (_rand(n, rng, x.device) + 0.5) + mean


def translation(x: torch.Tensor, rng: torch.Generator, ratio: float = 0.125) -> torch.Tensor:
    """Shift each image by up to ratio of its size, filling with zeros."""
    n, _, h, w = x.shape
    sh, sw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    dy, dx = _randint(-sh, sh + 1, n, rng, x.device), _randint(-sw, sw + 1, n, rng, x.device)
    rows = (torch.arange(h, device=x.device).view(1, h, 1) + dy).clamp(-1, h)  # -1 and h land in the padding
    cols = (torch.arange(w, device=x.device).view(1, 1, w) + dx).clamp(-1, w)
    padded = F.pad(x, (1, 1, 1, 1))
    batch = torch.arange(n, device=x.device).view(n, 1, 1)
    return padded.permute(0, 2, 3, 1)[batch, rows + 1, cols + 1].permute(0, 3, 1, 2)


def cutout(x: torch.Tensor, rng: torch.Generator, ratio: float = 0.5) -> torch.Tensor:
    """Zero a random square, half the image's side, in each image (it may hang over the edge)."""
    n, _, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    top = _randint(0, h + 1 - ch % 2, n, rng, x.device) - ch // 2
    left = _randint(0, w + 1 - cw % 2, n, rng, x.device) - cw // 2
    rows = torch.arange(h, device=x.device).view(1, h, 1)
    cols = torch.arange(w, device=x.device).view(1, 1, w)
    hole = (rows >= top) & (rows < top + ch) & (cols >= left) & (cols < left + cw)
    return x * (~hole).unsqueeze(1).to(x.dtype)


def parse_policy(policy: str) -> tuple[str, ...]:
    """'color,translation,cutout' -> the names, checked; '' means no augmentation."""
    names = tuple(p.strip() for p in policy.split(",") if p.strip())
    unknown = [p for p in names if p not in POLICIES]
    if unknown:
        raise GanLibError(f"unknown augmentation {unknown}: choose from {', '.join(POLICIES)}")
    return names


def diff_augment(x: torch.Tensor, policy: tuple[str, ...], rng: torch.Generator) -> torch.Tensor:
    """Apply the policy's augmentations in order; differentiable with respect to x."""
    for name in policy:
        x = {"color": color, "translation": translation, "cutout": cutout}[name](x, rng)
    return x
