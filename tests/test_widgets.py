import io

import pytest
import torch
from PIL import Image

from gan_lib.config import Config
from gan_lib.models import Generator
from gan_lib.widgets import LatentExplorer, latent_directions, png_bytes

pytest.importorskip("ipywidgets")


def picture(explorer) -> bytes:
    return bytes(explorer.image.value)  # ipywidgets 8 hands back a memoryview, 7.7 bytes


@pytest.fixture
def explorer():
    torch.manual_seed(0)
    G = Generator(Config(image_size=32, g_width=8, latent_dim=16))
    return LatentExplorer(G, 16, directions=3, seed=5, display_px=64)


def test_directions_are_orthonormal_and_fixed():
    d = latent_directions(16, 4)
    assert torch.allclose(d @ d.T, torch.eye(4), atol=1e-5)
    assert torch.equal(d, latent_directions(16, 4))


def test_png_bytes_is_an_enlarged_png():
    image = Image.open(io.BytesIO(png_bytes(torch.zeros(3, 32, 32), display_px=128)))
    assert image.format == "PNG" and image.size == (128, 128)


def test_a_slider_changes_the_picture_and_moving_back_restores_it(explorer):
    start = picture(explorer)
    assert start.startswith(b"\x89PNG")
    explorer.sliders[1].value = 2.5
    moved = picture(explorer)
    assert moved != start
    explorer.sliders[1].value = 0.0
    assert picture(explorer) == start


def test_truncation_scales_the_latent(explorer):
    full = explorer.latent()
    explorer.truncation.value = 0.5
    assert torch.allclose(explorer.latent(), full * 0.5)
    assert picture(explorer) != png_bytes(torch.zeros(3, 32, 32))


def test_same_seed_same_image_and_the_random_button_moves_on(explorer):
    start = picture(explorer)
    explorer.random.click()
    assert explorer.seed.value != 5 and picture(explorer) != start
    explorer.seed.value = 5
    assert picture(explorer) == start
    explorer.sliders[0].value = 1.0
    explorer.reset.click()
    assert picture(explorer) == start
