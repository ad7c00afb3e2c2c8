"""The latent-space explorer: sliders along fixed latent directions, truncation, seed; works on ipywidgets 7.7 and 8."""

from __future__ import annotations

import io

import torch
from PIL import Image

from .config import derive_seed
from .viz import enlarge, to_uint8


def latent_directions(latent_dim: int, count: int, seed: int = 0) -> torch.Tensor:
    """`count` orthonormal directions in latent space, fixed by the seed, shape (count, latent_dim)."""
    g = torch.Generator().manual_seed(derive_seed(seed, "directions"))
    q, _ = torch.linalg.qr(torch.randn(latent_dim, count, generator=g))
    return q.T.contiguous()


def png_bytes(image: torch.Tensor, display_px: int = 256) -> bytes:
    """One float image (3, H, W) in [-1, 1], enlarged without blurring, as PNG bytes for an Image widget."""
    big = enlarge(to_uint8(image), max(1, display_px // image.shape[-1]))
    buffer = io.BytesIO()
    Image.fromarray(big.permute(1, 2, 0).numpy()).save(buffer, "PNG")
    return buffer.getvalue()


class LatentExplorer:
    """Seed box, random button, truncation slider and one slider per direction; the picture updates in place.

    Show it with `display(explorer.widget)` (or as the last line of a cell).
    """

    def __init__(self, generator: torch.nn.Module, latent_dim: int, directions: int = 5, seed: int = 0,
                 display_px: int = 256):
        import ipywidgets as w

        self.G = generator.eval()
        self.device = next(generator.parameters()).device
        self.latent_dim, self.display_px = latent_dim, display_px
        self.directions = latent_directions(latent_dim, directions)
        self.seed = w.IntText(value=seed, description="seed")
        self.random = w.Button(description="random face", icon="random")
        self.truncation = w.FloatSlider(value=1.0, min=0.0, max=2.0, step=0.05, description="truncation",
                                        continuous_update=False)
        self.sliders = [w.FloatSlider(value=0.0, min=-3.0, max=3.0, step=0.1, description=f"direction {i + 1}",
                                      continuous_update=False) for i in range(directions)]
        self.reset = w.Button(description="reset sliders")
        self.image = w.Image(value=self.render(), format="png", width=display_px, height=display_px)
        for control in (self.seed, self.truncation, *self.sliders):
            control.observe(self._update, names="value")
        self.random.on_click(self._random_seed)
        self.reset.on_click(self._reset)
        self.widget = w.HBox([self.image, w.VBox([w.HBox([self.seed, self.random]), self.truncation, *self.sliders,
                                                  self.reset])])

    def latent(self) -> torch.Tensor:
        """The latent now shown: the seed's Gaussian sample scaled by truncation, moved along the directions."""
        g = torch.Generator().manual_seed(derive_seed(self.seed.value, "explorer"))
        z = torch.randn(self.latent_dim, generator=g) * self.truncation.value
        offsets = torch.tensor([s.value for s in self.sliders], dtype=torch.float)
        return z + offsets @ self.directions

    @torch.no_grad()
    def render(self) -> bytes:
        return png_bytes(self.G(self.latent()[None].to(self.device))[0].cpu(), self.display_px)

    def _update(self, change=None) -> None:
        self.image.value = self.render()

    def _random_seed(self, button=None) -> None:
        self.seed.value = int(torch.randint(0, 2**31 - 1, (1,)))

    def _reset(self, button=None) -> None:
        for slider in self.sliders:
            slider.value = 0.0
        self.truncation.value = 1.0

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)
