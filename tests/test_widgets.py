import io

import pytest
import torch
from PIL import Image

from gan_lib.config import Config
from gan_lib.course.widgets import LatentExplorer, png_bytes
from gan_lib.measure.directions import Directions, sefa_directions
from gan_lib.models import Generator

pytest.importorskip("ipywidgets")


def picture(widget) -> bytes:
    return bytes(widget.value)  # ipywidgets 8 hands back a memoryview, 7.7 bytes


@pytest.fixture
def G():
    torch.manual_seed(0)
    return Generator(Config(image_size=32, g_width=8, latent_dim=16))


@pytest.fixture
def explorer(G):
    start = torch.randn(16, generator=torch.Generator().manual_seed(5))
    return LatentExplorer(G, sefa_directions(G, k=3), start, display_px=64)


def test_png_bytes_is_an_enlarged_png():
    image = Image.open(io.BytesIO(png_bytes(torch.zeros(3, 32, 32), display_px=128)))
    assert image.format == "PNG" and image.size == (128, 128)


def test_it_starts_at_the_given_latent_and_shows_that_face(G, explorer):
    assert torch.equal(explorer.latent(), explorer.start)
    with torch.no_grad():
        expected = png_bytes(G.eval()(explorer.start[None])[0], 64)
    assert picture(explorer.image) == expected
    assert [s.description for s in explorer.sliders] == ["SeFa 1", "SeFa 2", "SeFa 3"]


def test_a_slider_moves_the_latent_along_its_direction_and_back(explorer):
    start, strip = picture(explorer.image), picture(explorer.strip)
    explorer.sliders[1].value = 2.5
    assert torch.allclose(explorer.latent(), explorer.start + 2.5 * explorer.directions.vectors[1])
    assert picture(explorer.image) != start
    assert explorer.current == 1 and picture(explorer.strip) != strip
    assert explorer.strip_label.value.startswith("SeFa 2")
    explorer.sliders[1].value = 0.0
    assert picture(explorer.image) == start


def test_the_strip_runs_from_minus_to_plus_span_along_the_current_direction(G, explorer):
    frames = explorer.strip_images()
    assert frames.shape == (7, 3, 32, 32)
    with torch.no_grad():
        end = G(explorer.start[None] + 3.0 * explorer.directions.vectors[0][None])[0]
    assert torch.allclose(frames[-1], end, atol=1e-5)


def test_truncation_scales_the_start(explorer):
    explorer.truncation.value = 0.5
    assert torch.allclose(explorer.latent(), explorer.start * 0.5)


def test_random_face_draws_its_own_latent_and_back_to_start_resets_the_sliders(explorer):
    torch.manual_seed(0)
    explorer.random.click()
    first = explorer.start.clone()
    torch.manual_seed(0)  # a seeded global generator (as after training) must not make every random face the same
    explorer.random.click()
    assert not torch.equal(first, explorer.start)
    shown = picture(explorer.image)
    explorer.sliders[0].value = 1.0
    explorer.truncation.value = 0.3
    explorer.reset.click()
    assert all(s.value == 0 for s in explorer.sliders) and explorer.truncation.value == 1.0
    assert picture(explorer.image) == shown


def test_saved_directions_with_new_names_load_back(tmp_path, G):
    directions = sefa_directions(G, k=3)
    directions.rename(0, "hair darkness")
    loaded = Directions.load(directions.save(tmp_path / "directions.pt"))
    assert loaded.names == ["hair darkness", "SeFa 2", "SeFa 3"] and loaded.notes == directions.notes
    assert torch.equal(loaded.vectors, directions.vectors) and loaded.method == "sefa"


HOSTILE = '<img src=x onerror="alert(1)">hair & <b>eyes</b>'


class _Page(__import__("html.parser").parser.HTMLParser):
    """What a browser builds from innerHTML: the elements it would create, and the text it would show."""

    def __init__(self, markup: str):
        super().__init__(convert_charrefs=True)
        self.elements, self.text = [], ""
        self.feed(markup)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.elements.append(tag)

    def handle_data(self, data):
        self.text += data


def _shown(widget, major: int) -> tuple[list[str], str]:
    """The elements and text a slider's label shows: ipywidgets 7's DescriptionView sets label.innerHTML to the
    description (widgetsnbextension 3.6's extension.js); 8's sets textContent unless description_allow_html."""
    if major < 8 or getattr(widget, "description_allow_html", False):
        page = _Page(widget.description)
        return page.elements, page.text
    return [], widget.description


@pytest.mark.parametrize("major", [7, 8])
def test_a_names_file_cannot_put_markup_or_script_in_the_page(G, tmp_path, monkeypatch, major):
    import ipywidgets

    monkeypatch.setattr(ipywidgets, "__version__", f"{major}.7.1" if major == 7 else ipywidgets.__version__)
    found = sefa_directions(G, k=2)
    found.rename(0, HOSTILE)
    path = found.save(tmp_path / "names.pt")  # someone else's file, say
    explorer = LatentExplorer(G, Directions.load(path), torch.zeros(16), display_px=64)
    elements, text = _shown(explorer.sliders[0], major)
    assert elements == [] and text == HOSTILE  # shown as typed: no <img>, no handler, no bold
    assert _shown(explorer.sliders[1], major) == ([], "SeFa 2")
    explorer.sliders[0].value = 1.0  # the strip's label names the direction too: a Label, text on both versions
    assert explorer.strip_label.value.startswith(HOSTILE)


def test_names_in_figures_are_shown_as_typed_not_as_mathtext(G):
    import matplotlib

    matplotlib.use("Agg")
    from gan_lib.measure.viz import plot_entanglement, show_rows

    names = ["$\\frac{", "50$ wig"]  # an unclosed formula would stop the figure from drawing
    ax = show_rows(torch.zeros(4, 3, 32, 32), names, title="$x")
    ax.figure.canvas.draw()
    assert [t.get_text() for t in ax.get_yticklabels()] == ["\\$\\frac{", "50\\$ wig"]
    fig = plot_entanglement({"$y": torch.zeros(2, 2)}, names, names)
    fig.canvas.draw()
