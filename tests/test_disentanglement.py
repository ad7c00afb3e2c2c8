"""z against w: the seam (the same faces in both spaces), path length, linear separability, entanglement's step
rule, the table, and one-line errors; on a tiny untrained style G and stand-ins whose answers are known."""

import math

import pytest
import torch
from torch import nn

from gan_lib.config import Config
from gan_lib.data.synthetic import ATTRIBUTES
from gan_lib.measure import disentanglement as dis
from gan_lib.measure.attributes import AttributeClassifier
from gan_lib.models import Generator
from gan_lib.style import StyleGenerator
from gan_lib.support.errors import GanLibError


def tiny_style_G() -> StyleGenerator:
    torch.manual_seed(0)
    return StyleGenerator(Config(image_size=32, g_width=8, d_width=8, latent_dim=16, mapping_layers=2,
                                 arch="style")).eval()


@pytest.fixture(scope="module")
def G():
    return tiny_style_G()


@pytest.fixture(scope="module")
def reader():
    """An untrained attribute classifier: its features and labels are fixed functions of the image, enough here."""
    torch.manual_seed(1)
    return AttributeClassifier().eval()


class OneNumberFace(nn.Module):
    """A stand-in style G whose face is one number: w = mapping(z), and the image is tanh(w's first coordinate -
    centre) everywhere."""

    latent_dim, num_ws = 8, 3

    def __init__(self, mapping, centre: float = 0.0):
        super().__init__()
        self.mapping, self.centre = mapping, centre
        self.anchor = nn.Parameter(torch.zeros(1))  # generate reads G's device from a parameter

    def map(self, z):
        return self.mapping(z)

    def synthesis(self, ws, noise_mode=None):
        return torch.tanh(ws[:, 0, 0] - self.centre)[:, None, None, None].expand(-1, 3, 4, 4)


class SignReader:
    """A stand-in classifier: every attribute is 1 where the face is bright, else 0."""

    def predict(self, images):
        return {attribute: (images[:, 0, 0, 0] > 0).long() for attribute in ATTRIBUTES}


def test_both_spaces_see_the_same_faces_and_a_seed_repeats_them(G):
    z, w = dis.sample(G, "z", 6, seed=3), dis.sample(G, "w", 6, seed=3)
    assert z.shape == w.shape == (6, 16)
    assert torch.allclose(w, G.map(z)) and not torch.allclose(w, z)
    assert torch.allclose(dis.render(G, "z", z), dis.render(G, "w", w), atol=1e-6)
    assert dis.render(G, "w", w).shape == (6, 3, 32, 32)
    assert torch.equal(dis.sample(G, "w", 6, seed=3), w) and not torch.allclose(dis.sample(G, "w", 6, seed=4), w)


def test_path_length_is_repeatable_per_seed_and_differs_between_z_and_w(G, reader):
    z_length = dis.path_length(G, reader, "z", n=64, seed=0)
    assert z_length == dis.path_length(G, reader, "z", n=64, seed=0) > 0
    assert z_length != dis.path_length(G, reader, "z", n=64, seed=1)
    w_length = dis.path_length(G, reader, "w", n=64, seed=0)
    assert w_length > 0 and not math.isclose(z_length, w_length, rel_tol=0.05)


def test_path_length_of_a_generator_that_ignores_its_latent_is_zero(reader):
    G = tiny_style_G()
    for layer in G.layers:  # every style is its bias alone: the face no longer depends on w
        layer.style.weight.data.zero_()
    assert dis.path_length(G, reader, "z", n=32) == dis.path_length(G, reader, "w", n=32) == 0.0


def test_conditional_entropy_is_zero_when_x_tells_y_and_h_y_when_it_tells_nothing():
    y = torch.tensor([True, False] * 50)
    assert dis.conditional_entropy(y, y) == 0.0 and dis.conditional_entropy(y, ~y) == 0.0
    assert dis.conditional_entropy(y, torch.zeros(100, dtype=torch.bool)) == pytest.approx(math.log(2))


def test_an_attribute_linear_in_w_but_not_in_z_is_separable_in_w_only():
    def xor(z):  # w's first coordinate has the sign of z0 * z1 (and a margin): linear in w, an XOR of signs in z
        return torch.cat([torch.sign(z[:, :1] * z[:, 1:2]) * (1 + z[:, 2:3].abs()), z[:, 1:]], 1)

    G = OneNumberFace(xor)
    in_z, in_w = (dis.separability(G, SignReader(), space, n=600) for space in ("z", "w"))
    assert in_w["hair_color"] < 0.1 and in_z["hair_color"] > 1.0  # two values, each about log 2 in z
    assert dis.score(in_w) < 1.5 < 50 < dis.score(in_z)


def test_a_step_in_w_is_measured_in_ws_spread_so_a_scaled_w_entangles_as_z_does():
    G = OneNumberFace(lambda z: 10 * z + 5, centre=5.0)  # w is z stretched and moved: the same faces
    (z_dirs, in_z), (w_dirs, in_w) = (dis.entanglement_in(G, SignReader(), space, n=400, moved=200)
                                      for space in ("z", "w"))
    assert z_dirs.names == w_dirs.names and len(z_dirs) == 2 * len(ATTRIBUTES)
    assert torch.allclose(z_dirs.vectors, w_dirs.vectors, atol=1e-3)
    assert torch.allclose(in_z, in_w, atol=0.02) and in_z.min() > 0.3  # 3 spreads, not 0.3 of w's


def test_the_table_has_both_spaces_leaves_G_as_it_was_and_formats_the_spread(reader):
    G = tiny_style_G().train()
    tracked = G.w_avg.clone()
    table = dis.z_against_w(G, reader, n=200, pairs=32, moved=20)
    assert G.training and torch.equal(G.w_avg, tracked)  # measured in eval mode, nothing tracked
    assert list(table) == list(dis.ROWS) and all(set(cells) == {"z", "w"} for cells in table.values())
    assert table["path length"]["z"] > 0 and table["separability"]["z"] >= 1
    lines = dis.format_table(table).splitlines()
    assert lines[0] == "| measure | z | w |" and len(lines) == 2 + len(dis.ROWS) and "±" not in lines[2]
    other = {row: {"z": cells["z"] + 1, "w": cells["w"]} for row, cells in table.items()}
    assert f"{table['path length']['z'] + 0.5:.3g} ± 0.707" in dis.format_table([table, other]).splitlines()[2]


class SameReader(AttributeClassifier):
    """A stand-in classifier that reads every face as the first value of every attribute."""

    def predict(self, images):
        return {attribute: torch.zeros(len(images), dtype=torch.long) for attribute in ATTRIBUTES}


def test_the_explorer_in_w_has_sliders_whatever_the_classifier_reads(G):
    found, _ = dis.entanglement_in(G, SameReader(), "w", n=200, moved=20)
    assert len(found) == 0  # no value is common enough for a boundary when every face reads alike
    w = dis.sample(G, "w", 200)
    sliders, what = dis.explorer_directions(found, w)
    assert len(sliders) == 4 and sliders.vectors.shape == (4, 16) and torch.isfinite(sliders.vectors).all()
    assert "principal directions" in what and "\n" not in what

    attribute_found, _ = dis.entanglement_in(OneNumberFace(lambda z: z), SignReader(), "w", n=400, moved=20)
    sliders, what = dis.explorer_directions(attribute_found, w)
    assert sliders is attribute_found and what.endswith(f"found in w ({', '.join(attribute_found.names)})")


def test_a_table_without_directions_says_so_instead_of_nan(G):
    tables = [dis.z_against_w(G, SameReader(), n=200, seed=seed, pairs=16, moved=20) for seed in (0, 1)]
    assert math.isnan(tables[0]["entanglement: own attribute"]["w"])
    text = dis.format_table(tables)
    assert "nan" not in text.lower()
    assert "| entanglement: own attribute | no direction found | no direction found |" in text.splitlines()
    tables[1]["entanglement: own attribute"]["z"] = 0.5
    assert "| entanglement: own attribute | 0.5 (1 of 2 seeds) |" in dis.format_table(tables)


def test_a_dcgan_or_an_unknown_space_is_refused_in_one_line(G, reader):
    dcgan = Generator(Config(image_size=32, g_width=8, latent_dim=16))
    for call in (lambda: dis.sample(dcgan, "w", 4), lambda: dis.path_length(dcgan, reader, "z", 4),
                 lambda: dis.separability(dcgan, reader, "w", 50), lambda: dis.z_against_w(dcgan, reader, 50)):
        with pytest.raises(GanLibError, match="needs a style-based generator") as caught:
            call()
        assert "\n" not in str(caught.value)
    with pytest.raises(GanLibError, match="must be 'z' or 'w', not 'y'"):
        dis.render(G, "y", torch.zeros(1, 16))
