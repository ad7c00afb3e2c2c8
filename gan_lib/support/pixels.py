"""Pixels: float images in [-1, 1] (what G makes and D reads) and uint8 in [0, 255] (files, caches, widgets), and
nearest-neighbour enlargement. The ground floor: it imports nothing of gan_lib."""

from __future__ import annotations

import torch


def to_uint8(images: torch.Tensor) -> torch.Tensor:
    """Float images in [-1, 1] -> uint8 in [0, 255] (uint8 input passes through)."""
    if images.dtype == torch.uint8:
        return images
    return ((images.detach().float().cpu().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)


def to_float(images: torch.Tensor) -> torch.Tensor:
    """uint8 images in [0, 255] -> float in [-1, 1] (float input passes through, as float32)."""
    return images.float() / 127.5 - 1 if images.dtype == torch.uint8 else images.float()


def enlarge(images: torch.Tensor, factor: int) -> torch.Tensor:
    """Nearest-neighbour enlargement of (N, 3, H, W) or (3, H, W) images: crisp pixels for small samples."""
    if factor <= 1:
        return images
    return images.repeat_interleave(factor, dim=-1).repeat_interleave(factor, dim=-2)
