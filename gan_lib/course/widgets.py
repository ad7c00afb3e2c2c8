"""The latent-space explorer: from a face the learner picked, one slider per latent direction, a strip of the
current direction's effect, truncation and a random face; in z, or in a style-based G's w (style.InW). Works on
ipywidgets 7.7 (Colab) and 8 (JupyterLab)."""

from __future__ import annotations

import html
import io

import torch
from PIL import Image

from ..measure.directions import Directions, gallery
from ..measure.viz import grid
from ..support.errors import GanLibError
from ..support.pixels import enlarge, to_uint8


def as_text(text: str) -> str:
    """A widget's description that shows `text` as typed, never as markup: ipywidgets 7 (Colab's) renders a
    description as HTML, so it is escaped there; 8 renders it as text (unless description_allow_html)."""
    import ipywidgets

    return html.escape(text) if int(ipywidgets.__version__.split(".")[0]) < 8 else text


def png_bytes(image: torch.Tensor, display_px: int = 256) -> bytes:
    """One image (3, H, W), float in [-1, 1] or uint8, enlarged without blurring, as PNG bytes for an Image widget."""
    big = enlarge(to_uint8(image), max(1, display_px // image.shape[-1]))
    buffer = io.BytesIO()
    Image.fromarray(big.permute(1, 2, 0).numpy()).save(buffer, "PNG")
    return buffer.getvalue()


class LatentExplorer:
    """Sliders along named directions from a starting latent; the face and the strip update in place.

    generator: use the EMA generator (checkpoint.load_generator gives it). start: the latent of the face to start
    from, e.g. z[favourites[0]]. Show it with `display(explorer.widget)` (or as the last line of a cell).
    """

    def __init__(self, generator: torch.nn.Module, directions: Directions, start: torch.Tensor,
                 span: float = 3.0, strip_frames: int = 7, display_px: int = 256):
        import ipywidgets as w

        latent_dim = getattr(generator, "latent_dim", None)
        if latent_dim is not None and directions.vectors.shape[1] != latent_dim:
            raise GanLibError(f"the directions are of latent size {directions.vectors.shape[1]} but the generator's is "
                              f"{latent_dim}: find them on this generator (sefa_directions(G), ...) or load its own")
        if latent_dim is not None and start.numel() != latent_dim:
            raise GanLibError(f"start has {start.numel()} numbers but the generator's latent size is {latent_dim}: "
                              "pass one latent, e.g. z[favourites[0]]")
        if not len(directions):
            raise GanLibError("there are no directions to put on sliders: select at least one")
        self.G = generator.eval()
        self.device = next(generator.parameters()).device
        self.directions, self.span, self.strip_frames, self.display_px = directions, span, strip_frames, display_px
        self.start = start.detach().float().cpu().flatten()
        centre = getattr(generator, "centre", None)  # style.InW's average w; z's centre is the origin
        self.centre = torch.zeros_like(self.start) if centre is None else centre.detach().float().cpu().flatten()
        self.rng = torch.Generator()
        self.rng.seed()  # its own randomness: "random face" differs in every session, whatever training seeded
        self._holding = False
        self.current = 0  # the direction the strip shows: the last slider moved
        width = max(len(name) for name in ["truncation", *directions.names])
        wide = {"description_width": f"{width * 0.6 + 1:.1f}em"}  # one width for every label: the tracks line up
        self.truncation = w.FloatSlider(value=1.0, min=0.0, max=2.0, step=0.05, description="truncation",
                                        continuous_update=False, style=wide, layout=w.Layout(width="420px"))
        self.sliders = [w.FloatSlider(value=0.0, min=-span, max=span, step=0.1, description=as_text(name),
                                      continuous_update=False, style=wide, layout=w.Layout(width="420px"))
                        for name in directions.names]
        notes = [w.Label(note) for note in directions.notes]
        classes = list(getattr(generator, "classes", ()))  # a conditional G: which class to draw
        self.class_choice = w.Dropdown(options=classes, value=classes[0], description="class", style=wide,
                                       layout=w.Layout(width="420px")) if classes else None
        self.random = w.Button(description="random face", icon="random")
        self.reset = w.Button(description="back to start")
        self.image = w.Image(value=self.render(), format="png", width=display_px, height=display_px)
        self.strip_label = w.Label()
        self.strip = w.Image(format="png")
        self._draw_strip()
        for index, slider in enumerate(self.sliders):
            slider.observe(lambda change, index=index: self._moved(index), names="value")
        self.truncation.observe(self._update, names="value")
        if self.class_choice is not None:
            self.class_choice.observe(self._update, names="value")
        self.random.on_click(self._random_face)
        self.reset.on_click(self._reset)
        rows = [w.HBox([slider, note]) for slider, note in zip(self.sliders, notes)]
        chooser = [self.class_choice] if self.class_choice is not None else []
        controls = w.VBox([w.HBox([self.random, self.reset]), *chooser, self.truncation, *rows])
        self.widget = w.VBox([w.HBox([self.image, controls]), self.strip_label, self.strip])
        for widget, name in ((self.widget, "latent-explorer"), (self.image, "explorer-face"),
                             (self.strip, "explorer-strip"), (self.truncation, "explorer-truncation"),
                             *((s, "explorer-direction") for s in self.sliders),
                             *((c, "explorer-class") for c in chooser)):
            widget.add_class(name)  # handles for the browser test (browser_tests/) and for styling

    def latent(self) -> torch.Tensor:
        """The latent now shown: the start drawn towards the centre by truncation (z's origin; in w, through
        style.InW, the average w), moved along the directions by the sliders."""
        offsets = torch.tensor([s.value for s in self.sliders], dtype=torch.float)
        return self.centre.lerp(self.start, self.truncation.value) + offsets @ self.directions.vectors

    def label(self) -> int | None:
        """The class chosen for a conditional G (its index), or None."""
        return self.class_choice.index if self.class_choice is not None else None

    @torch.no_grad()
    def render(self) -> bytes:
        labels = None if self.label() is None else torch.tensor([self.label()], device=self.device)
        return png_bytes(self.G(self.latent()[None].to(self.device), labels)[0].float().cpu(), self.display_px)

    def strip_images(self) -> torch.Tensor:
        """The current face moved from -span to +span along the current direction, (strip_frames, 3, H, W)."""
        return gallery(self.G, self.directions.select([self.current]), self.latent(), self.span, self.strip_frames,
                       self.label())

    def _draw_strip(self) -> None:
        if not len(self.directions):
            self.strip_label.value = "no directions to show"
            return
        self.strip_label.value = (f"{self.directions.names[self.current]}: -{self.span:g} ... +{self.span:g} from the "
                                  "face above")
        strip = grid(self.strip_images(), nrow=self.strip_frames)  # frames about half as wide as the face
        self.strip.value = png_bytes(strip, self.display_px // 2 * self.strip_frames)

    def _moved(self, index: int) -> None:
        self.current = index
        self._update()

    def _update(self, change=None) -> None:
        if self._holding:
            return
        self.image.value = self.render()
        self._draw_strip()

    def set_start(self, z: torch.Tensor) -> None:
        """Start from another latent, with every slider back at 0."""
        self.start = z.detach().float().cpu().flatten()
        self._reset()

    def _random_face(self, button=None) -> None:
        z = torch.randn(len(self.start), generator=self.rng)
        if hasattr(self.G, "from_z"):  # in w (style.InW): the w of a random z
            z = self.G.from_z(z[None].to(self.device))[0].float().cpu()
        self.set_start(z)

    def _reset(self, button=None) -> None:
        self._holding = True  # one update at the end, not one per slider
        try:
            for slider in self.sliders:
                slider.value = 0.0
            self.truncation.value = 1.0
        finally:
            self._holding = False
        self._update()

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)
