"""Image grids, loss curves, progress GIFs and the notebooks' figures, for files and for notebooks."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torchvision.utils import make_grid

from ..losses import NonSaturatingGAN
from ..models import Discriminator, Generator, layer_summary
from ..support.files import atomic_path
from ..support.pixels import enlarge, to_uint8


def grid(images: torch.Tensor, nrow: int | None = None) -> torch.Tensor:
    """One uint8 (3, H, W) picture of a batch, as square as possible."""
    nrow = nrow or math.ceil(math.sqrt(len(images)))
    return make_grid(to_uint8(images), nrow=nrow, padding=2, pad_value=255)


def save_grid(images: torch.Tensor, path: str | Path, nrow: int | None = None, scale: int = 1) -> Path:
    path = Path(path)
    picture = grid(enlarge(to_uint8(images), scale), nrow)  # uint8 throughout: a quarter of float's memory
    with atomic_path(path) as tmp:  # interrupted, the previous image stays whole
        Image.fromarray(picture.permute(1, 2, 0).numpy()).save(tmp, format=_format(path))
    return path


def _format(path: Path) -> str:
    """The image format a file name asks for (the temporary that is written first has another suffix)."""
    return {".jpg": "jpeg", ".tif": "tiff"}.get(path.suffix.lower(), path.suffix.lower().lstrip(".") or "png")


def save_figure(fig, path: str | Path, dpi: int) -> Path:
    """A matplotlib figure written atomically."""
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi, format=_format(path))
    return path


def literal(text: str) -> str:
    """Text for a matplotlib title or label, shown as typed: a "$" would start mathtext (and a bad formula fails)."""
    return str(text).replace("$", r"\$")


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
        ax.set_title(literal(title))
    return ax


def show_rows(images: torch.Tensor, labels: Sequence[str], title: str | None = None, span: float | None = None):
    """One labelled row per label (len(images) // len(labels) images each), e.g. a gallery of latent directions
    from -span to +span; returns the axes."""
    import matplotlib.pyplot as plt

    columns = len(images) // max(1, len(labels))
    picture_width, picture_height = (columns * (images.shape[-1] + 2) + 2, len(labels) * (images.shape[-2] + 2) + 2)
    scale = min(2.5, 11 / (picture_width / 72))  # faces large enough to name what changes, at most 11 inches wide
    _, ax = plt.subplots(figsize=(picture_width / 72 * scale, picture_height / 72 * scale))
    show_grid(images, nrow=columns, title=title, ax=ax)
    ax.axis("on")
    height = images.shape[-2] + 2  # make_grid's padding
    ax.set_yticks([2 + height * (i + 0.5) for i in range(len(labels))], [literal(label) for label in labels])
    if span is not None:
        width = images.shape[-1] + 2
        ax.set_xticks([2 + width * (i + 0.5) for i in range(columns)],
                      [f"{v:+.1f}" for v in torch.linspace(-span, span, columns).tolist()])
    else:
        ax.set_xticks([])
    ax.tick_params(length=0)
    for side in ax.spines.values():
        side.set_visible(False)
    return ax


def show_noise(G: torch.nn.Module, w: torch.Tensor, draws: int = 16, seed: int = 0) -> torch.Tensor:
    """What a style-based G's noise does to its image of one w (1, latent_dim): four fresh draws of the noise, no
    noise, and each pixel's standard deviation over `draws` draws, averaged over the colour channels (its colours
    scaled to its own range, its largest value in the title). Returns that map."""
    import matplotlib.pyplot as plt

    ws = w[:1, None, :].expand(draws, G.num_ws, -1)
    kept = G.draws
    try:
        with torch.no_grad():
            G.draws = torch.Generator(w.device).manual_seed(seed)
            fresh = G.synthesis(ws, noise_mode="random").cpu()
            without = G.synthesis(ws[:1], noise_mode="none").cpu()
    finally:
        G.draws = kept
    spread = fresh.std(0).mean(0)
    fig, axes = plt.subplots(1, 3, figsize=(9, 3))
    show_grid(fresh[:4], nrow=2, title="the same w, 4 noise draws", ax=axes[0])
    show_grid(without, nrow=1, title="no noise", ax=axes[1])
    axes[2].imshow(spread, cmap="magma")
    axes[2].set_title(f"std over {draws} noise draws (max {float(spread.max()):.3f})")
    axes[2].axis("off")
    return spread


def plot_entanglement(matrices: dict[str, torch.Tensor], rows: Sequence[str], columns: Sequence[str]):
    """Heat maps side by side: for each slider (row), the share of faces whose attribute (column) changed."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(matrices), figsize=(4.6 * len(matrices), 0.5 * len(rows) + 1.6), squeeze=False)
    for ax, (title, matrix) in zip(axes[0], matrices.items()):
        ax.imshow(matrix.numpy(), vmin=0, vmax=1, cmap="viridis", aspect="auto")
        ax.set_xticks(range(len(columns)), [literal(c) for c in columns], rotation=30)
        ax.set_yticks(range(len(rows)), [literal(r) for r in rows])
        for (i, j), value in np.ndenumerate(matrix.numpy()):
            ax.text(j, i, f"{value:.2f}", ha="center", va="center", color="white" if value < 0.6 else "black")
        ax.set_title(literal(title))
    fig.tight_layout()
    return fig


def plot_clinic(runs: dict[str, dict], nrow: int = 6):
    """Runs side by side, one column each: D's outputs over training, a grid of samples, and the share of each
    attribute value among the samples (mode coverage). Each run is {"history", "samples", "shares"}, where shares
    maps an attribute to the share of each of its values."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(3, len(runs), figsize=(3.2 * len(runs), 9.2), squeeze=False,
                             gridspec_kw={"height_ratios": [1, 1.3, 1]})
    for column, (name, run) in enumerate(runs.items()):
        history = run["history"]
        steps = [h["step"] for h in history]
        window = max(1, len(history) // 20)
        ax = axes[0, column]
        for key, label in (("d_real", "D(x)"), ("d_fake", "D(G(z))")):
            ax.plot(steps, _smooth([h[key] for h in history], window), label=label)
        ax.set(ylim=(0, 1), title=literal(name), xlabel="step")
        ax.grid(alpha=0.3)
        if column == 0:
            ax.legend(fontsize=8)
        show_grid(run["samples"][:nrow * nrow], nrow=nrow, ax=axes[1, column])
        ax = axes[2, column]
        start = 0
        for attribute, shares in run["shares"].items():
            positions = range(start, start + len(shares))
            ax.bar(positions, shares.tolist(), label=attribute)
            ax.hlines(1 / len(shares), start - 0.4, start + len(shares) - 0.6, color="black", linewidth=1)
            start += len(shares) + 1
        ax.set(xticks=[], ylim=(0, 1), ylabel="share of samples" if column == 0 else None)
        if column == 0:
            ax.legend(fontsize=7)
    axes[2, 0].set_xlabel("attribute values (black: the true share)")
    fig.tight_layout()
    return fig


def _smooth(values: Sequence[float], window: int) -> list[float]:
    out, total = [], 0.0
    for i, v in enumerate(values):
        total += v - (values[i - window] if i >= window else 0.0)
        out.append(total / min(i + 1, window))
    return out


def plot_history(history: Sequence[dict], path: str | Path | None = None, scores=None):
    """Losses of D and G, and D's diagnostics on real and generated images: each a moving average over a fiftieth
    of the run, the values as logged faint behind it. scores: how they read (the loss's `scores`; default BCE's D(x)
    and D(G(z)), probabilities, with D's "cannot tell" line at 0.5)."""
    import matplotlib.pyplot as plt

    fig, (ax_loss, ax_d) = plt.subplots(1, 2, figsize=(11, 3.6))
    steps = [h["step"] for h in history]
    window = max(1, len(history) // 50)
    real, fake, axis, probabilities = scores or NonSaturatingGAN.scores
    drawn = {ax_loss: (("loss_d", "D loss"), ("loss_g", "G loss")), ax_d: (("d_real", real), ("d_fake", fake))}
    for ax, pairs in drawn.items():
        for key, label in pairs:
            logged = [h[key] for h in history]
            (line,) = ax.plot(steps, _smooth(logged, window), label=label)
            ax.plot(steps, logged, color=line.get_color(), alpha=0.2, linewidth=0.8)
    if probabilities:
        ax_d.axhline(0.5, color="grey", linestyle=":", label="0.5: D cannot tell real from generated")
    span = f"averaged over {steps[min(window, len(steps) - 1)] - steps[0]} steps" if window > 1 else "as logged"
    ax_loss.set(xlabel="step", ylabel="loss", title=f"losses ({span}; faint: as logged)")
    ax_d.set(xlabel="step", ylabel=axis, ylim=(0, 1) if probabilities else (None, None), title="discriminator")
    return _finish(fig, [ax_loss, ax_d], path)


def plot_learning_curves(curves: dict[str, Sequence[tuple[int, float]]], floor: float,
                         path: str | Path | None = None, title: str = "sample quality over training",
                         xlabel: str = "step"):
    """SWD against training steps (or another x, e.g. seconds), one line per run, and the real-vs-real floor as a
    dashed line."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    for label, curve in curves.items():
        steps, values = zip(*curve)
        ax.plot(steps, values, marker="o", label=label)
    ax.axhline(floor, color="grey", linestyle="--", label=f"floor, real vs real ({floor:.1f})")
    ax.set(xlabel=xlabel, ylabel="SWD x 1e3 (lower is better)", title=literal(title) if title else None, ylim=(0, None))
    return _finish(fig, [ax], path)


def _finish(fig, axes, path: str | Path | None):
    """Legends and grids, a tight layout, and the figure saved (then closed) where a path is given."""
    import matplotlib.pyplot as plt

    for ax in axes:
        ax.legend()
        ax.grid(alpha=0.3)
    fig.tight_layout()
    if path is not None:
        save_figure(fig, path, dpi=100)
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
    with atomic_path(path) as tmp:
        pictures[0].save(tmp, format="GIF", save_all=True, append_images=pictures[1:], duration=duration_ms, loop=0)
    return path


def plot_image_sizes(summary: dict):
    """Histograms of the original images' shorter sides and aspect ratios (from a prepared folder's summary)."""
    import matplotlib.pyplot as plt
    import numpy as np

    sizes = np.array(summary["original_sizes"])
    fig, (ax_side, ax_ratio) = plt.subplots(1, 2, figsize=(11, 3.4))
    ax_side.hist(sizes.min(1), bins=40, color="tab:blue")
    ax_side.axvline(summary["image_size"], color="tab:red", ls="--", label=f"training size {summary['image_size']}")
    ax_side.set(xlabel="shorter side (px)", ylabel="images", title="original size")
    ax_side.legend()
    ax_ratio.hist(sizes[:, 0] / sizes[:, 1], bins=40, color="tab:green")
    ax_ratio.set(xlabel="width / height", title="aspect ratio (cropped to 1.0 for training)")
    fig.tight_layout()
    return fig


def plot_weight_histograms(model: torch.nn.Module, title: str = ""):
    """Histograms of the weights of every convolution (and linear layer), to check the N(0, 0.02) initialisation."""
    import matplotlib.pyplot as plt

    weighted = (torch.nn.Conv2d, torch.nn.ConvTranspose2d, torch.nn.Linear)
    layers = [(n, m) for n, m in model.named_modules() if isinstance(m, weighted)]
    fig, axes = plt.subplots(1, len(layers), figsize=(2.6 * len(layers), 2.4), squeeze=False)
    for ax, (name, m) in zip(axes[0], layers):
        w = m.weight.detach().flatten().cpu()
        ax.hist(w.numpy(), bins=50, color="tab:purple")
        ax.set_title(f"{name}\nstd {w.std():.4f}", fontsize=8)
        ax.tick_params(labelsize=7)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def draw_architecture(cfg, path: str | Path | None = None):
    """G and D as rows of blocks, one per (transposed) convolution, sized by channels and resolution."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle


    size = cfg.image_size
    g_rows = layer_summary(Generator(cfg), torch.zeros(2, cfg.latent_dim))
    d_rows = layer_summary(Discriminator(cfg), torch.zeros(2, 3, size, size))
    rows = (
        ("Generator: latent vector -> image", "tab:orange", [("z", (cfg.latent_dim, 1, 1))]
         + [(r["type"], r["output"]) for r in g_rows if r["type"] in ("ConvTranspose2d", "Linear")]),
        ("Discriminator: image -> real/fake logit", "tab:blue", [("image", (3, size, size))]
         + [(r["type"], r["output"]) for r in d_rows if r["type"] == "Conv2d"]),
    )
    fig, axes = plt.subplots(2, 1, figsize=(12, 5))
    for ax, (title, colour, blocks) in zip(axes, rows):
        for i, (kind, shape) in enumerate(blocks):
            channels, side = shape[0], shape[1] if len(shape) > 1 else 1
            height = 0.15 + 0.7 * math.log2(side + 1) / math.log2(129)
            width = 0.15 + 0.65 * math.log2(channels + 1) / 11
            ax.add_patch(Rectangle((i * 1.6, 0.55 - height / 2), width, height, color=colour, alpha=0.75))
            ax.text(i * 1.6 + width / 2, 0.5 - height / 2, f"{kind}\n{'x'.join(map(str, shape))}", ha="center",
                    va="top", fontsize=8)
            if i:
                ax.annotate("", (i * 1.6 - 0.05, 0.55), ((i - 1) * 1.6 + 0.85, 0.55), arrowprops={"arrowstyle": "->"})
        ax.set(xlim=(-0.3, len(blocks) * 1.6), ylim=(-0.2, 1.0))
        ax.axis("off")
        ax.set_title(title, loc="left")
    fig.tight_layout()
    if path is not None:
        save_figure(fig, path, dpi=110)
    return fig


class LiveView:
    """An on_log callback for Trainer.fit that redraws the loss curves and the fixed-noise samples in a notebook."""

    def __init__(self, every: int = 1):
        self.every, self.calls = every, 0

    def __call__(self, trainer) -> None:
        import matplotlib.pyplot as plt
        from IPython.display import clear_output, display

        self.calls += 1
        if self.calls % self.every:
            return
        clear_output(wait=True)
        fig = plot_history(trainer.history, scores=trainer.loss.scores)
        display(fig)
        plt.close(fig)
        ax = show_grid(trainer.generate()[:32], nrow=8, title=f"step {trainer.step}")
        display(ax.figure)
        plt.close(ax.figure)
