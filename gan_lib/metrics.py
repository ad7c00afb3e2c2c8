"""Sample-quality measures."""

from __future__ import annotations

import torch


def diversity(images: torch.Tensor, max_images: int = 512) -> float:
    """Mean pairwise RMS pixel distance between images in [-1, 1]: falls towards 0 as a generator collapses."""
    x = images[:max_images].flatten(1).float()
    if images.dtype == torch.uint8:
        x = x / 127.5 - 1
    n = len(x)
    if n < 2:
        raise ValueError("diversity needs at least two images")
    distances = torch.cdist(x, x) / x.shape[1] ** 0.5
    return float(distances.sum() / (n * (n - 1)))
