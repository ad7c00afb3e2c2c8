"""Image grids, loss curves, progress GIFs and latent interpolation, for files and for notebooks."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import torch
from PIL import Image
from torchvision.utils import make_grid, save_image


def to_uint8(images: torch.Tensor) -> torch.Tensor:
    """Float images in [-1, 1] -> uint8 in [0, 255] (uint8 input passes through)."""
    if images.dtype == torch.uint8:
        return images
    return ((images.detach().float().cpu().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)


def grid(images: torch.Tensor, nrow: int | None = None) -> torch.Tensor:
    """One uint8 (3, H, W) picture of a batch, as square as possible."""
    nrow = nrow or math.ceil(math.sqrt(len(images)))
    return make_grid(to_uint8(images), nrow=nrow, padding=2, pad_value=255)


def save_grid(images: torch.Tensor, path: str | Path, nrow: int | None = None) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_image(grid(images, nrow).float() / 255, path)
    return path


def show_grid(images: torch.Tensor, nrow: int | None = None, title: str | None = None, ax=None):
    """Draw a grid with matplotlib (inline in a notebook); returns the axes."""
    import matplotlib.pyplot as plt

    picture = grid(images, nrow)
    if ax is None:
        size = min(10, 1.2 * picture.shape[-1] / 72)
        _, ax = plt.subplots(figsize=(size, size * picture.shape[1] / picture.shape[2]))
    ax.imshow(picture.permute(1, 2, 0).numpy())
    ax.axis("off")
    if title:
        ax.set_title(title)
    return ax


def _smooth(values: Sequence[float], window: int) -> list[float]:
    out, total = [], 0.0
    for i, v in enumerate(values):
        total += v - (values[i - window] if i >= window else 0.0)
        out.append(total / min(i + 1, window))
    return out


def plot_history(history: Sequence[dict], path: str | Path | None = None):
    """Losses of D and G, and D's mean outputs on real and generated images, smoothed over steps."""
    import matplotlib.pyplot as plt

    fig, (ax_loss, ax_d) = plt.subplots(1, 2, figsize=(11, 3.6))
    steps = [h["step"] for h in history]
    window = max(1, len(history) // 50)
    for key, label in (("loss_d", "D loss"), ("loss_g", "G loss")):
        ax_loss.plot(steps, _smooth([h[key] for h in history], window), label=label)
    for key, label in (("d_real", "D(x), real"), ("d_fake", "D(G(z)), generated")):
        ax_d.plot(steps, _smooth([h[key] for h in history], window), label=label)
    ax_loss.set(xlabel="step", ylabel="loss", title="losses")
    ax_d.set(xlabel="step", ylabel="mean D output", ylim=(0, 1), title="discriminator")
    for ax in (ax_loss, ax_d):
        ax.legend()
        ax.grid(alpha=0.3)
    fig.tight_layout()
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=100)
        plt.close(fig)
    return fig


def make_gif(frames: Sequence[str | Path | torch.Tensor], path: str | Path, duration_ms: int = 200) -> Path | None:
    """A looping GIF from image files or uint8/float (3, H, W) tensors; None if there are no frames."""
    if not frames:
        return None
    pictures = []
    for frame in frames:
        if isinstance(frame, torch.Tensor):
            pictures.append(Image.fromarray(to_uint8(frame).permute(1, 2, 0).numpy()))
        else:
            with Image.open(frame) as image:
                pictures.append(image.convert("RGB"))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    pictures[0].save(path, save_all=True, append_images=pictures[1:], duration=duration_ms, loop=0)
    return path


def lerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    return a + (b - a) * t


def slerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation: keeps the latent's norm typical of a Gaussian sample along the path."""
    cos = (a * b).sum(-1, keepdim=True) / (a.norm(dim=-1, keepdim=True) * b.norm(dim=-1, keepdim=True))
    omega = torch.acos(cos.clamp(-1 + 1e-7, 1 - 1e-7))
    so = torch.sin(omega)
    return (torch.sin((1 - t) * omega) / so) * a + (torch.sin(t * omega) / so) * b


def interpolate(a: torch.Tensor, b: torch.Tensor, steps: int = 8, spherical: bool = True) -> torch.Tensor:
    """`steps` latents from a to b inclusive, shape (steps, latent_dim)."""
    t = torch.linspace(0, 1, steps).unsqueeze(1)
    return (slerp if spherical else lerp)(a.unsqueeze(0), b.unsqueeze(0), t)
