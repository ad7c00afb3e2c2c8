import pytest
import torch
from torch import nn

from gan_lib.config import Config
from gan_lib.data.synthetic import ATTRIBUTES, make_faces
from gan_lib.measure import directions as dirs
from gan_lib.measure.attributes import attribute_shares
from gan_lib.models import Generator, generate

HAIR = ATTRIBUTES["hair_color"]


class HairFromLatent(nn.Module):
    """A stand-in generator whose hair colour is a known function of z: the colour whose coordinate among z's first
    len(HAIR) is largest. The face itself (style, eyes, mouth) is picked by z's next coordinate."""

    latent_dim = 16

    def __init__(self):
        super().__init__()
        faces, attrs = make_faces(600, 32, seed=7)
        self.bank = [faces[attrs["hair_color"] == k].float() / 127.5 - 1 for k in range(len(HAIR))]
        self.anchor = nn.Parameter(torch.zeros(1))

    def forward(self, z):
        hair = z[:, :len(HAIR)].argmax(1)
        pick = (z[:, len(HAIR)].abs() * 1000).long()
        return torch.stack([self.bank[h][p % len(self.bank[h])] for h, p in zip(hair.tolist(), pick.tolist())])


@pytest.fixture(scope="module")
def fake_G():
    return HairFromLatent()


def test_the_blonde_direction_makes_faces_blonde_and_is_deterministic(fake_G, classifier):
    found = dirs.attribute_directions(fake_G, classifier, n=1500)
    assert "blonde hair" in found.names and "black hair" in found.names
    blonde = found.vectors[found.index("blonde hair")]
    z = dirs.sample_latents(300, 16, seed=9)
    before = attribute_shares(generate(fake_G, z), classifier)["hair_color"][HAIR.index("blonde")]
    after = attribute_shares(generate(fake_G, z + 3 * blonde), classifier)["hair_color"][HAIR.index("blonde")]
    assert before < 0.2 and after > 0.8, (before, after)
    again = dirs.attribute_directions(fake_G, classifier, n=1500)
    assert again.names == found.names and torch.equal(again.vectors, found.vectors)


def test_conditional_directions_are_orthogonal_to_the_other_attributes(fake_G, classifier):
    plain = dirs.attribute_directions(fake_G, classifier, n=1500)
    conditional = dirs.attribute_directions(fake_G, classifier, n=1500, conditional=True)
    assert conditional.names == plain.names and conditional.method == "interfacegan conditional"
    hair = [i for i, name in enumerate(plain.names) if name in [f"{colour} hair" for colour in HAIR]]
    others = [i for i in range(len(plain)) if i not in hair]
    assert others, "the stand-in's faces vary in more than hair colour"
    overlap = conditional.vectors[hair] @ plain.vectors[others].T
    assert overlap.abs().max() < 1e-5
    assert torch.allclose(conditional.vectors.norm(dim=1), torch.ones(len(conditional)))


def test_entanglement_shows_the_blonde_slider_changes_hair_colour_most(fake_G, classifier):
    found = dirs.attribute_directions(fake_G, classifier, n=1500).select(["blonde hair"])
    matrix = dirs.entanglement(fake_G, classifier, found, n=200)
    assert matrix.shape == (1, len(ATTRIBUTES))
    assert matrix[0, 0] > 0.7  # hair colour changes for most faces


def test_a_collapsed_generator_gives_no_attribute_directions(classifier):
    class OneFace(HairFromLatent):
        def forward(self, z):
            return self.bank[0][:1].expand(len(z), -1, -1, -1)

    assert len(dirs.attribute_directions(OneFace(), classifier, n=300)) == 0


@pytest.fixture(scope="module")
def G():
    torch.manual_seed(0)
    return Generator(Config(image_size=32, g_width=8, latent_dim=16)).eval()


def test_sefa_directions_are_orthonormal_and_change_the_first_layer_most(G):
    found = dirs.sefa_directions(G, k=16)
    assert torch.allclose(found.vectors @ found.vectors.T, torch.eye(16), atol=1e-5)
    with torch.no_grad():
        change = [float((G.project(v[None]) - G.project(torch.zeros(1, 16))).norm()) for v in found.vectors]
    assert change[0] > change[-1]
    assert found.notes[0].startswith("eigenvalue 1")


def test_sefa_reads_a_dense_first_layer_too():
    torch.manual_seed(0)
    G = Generator(Config(image_size=32, g_width=8, latent_dim=16, dense_projection=True)).eval()
    assert dirs.sefa_directions(G, k=4).vectors.shape == (4, 16)


def test_ganspace_components_explain_decreasing_variance(G):
    found = dirs.ganspace_directions(G, k=5, n=600)
    shares = [float(note.split(", ")[1].split("%")[0]) for note in found.notes]
    assert shares == sorted(shares, reverse=True) and found.names[0] == "PC1"
    assert found.vectors.shape == (5, 16)


def test_principal_directions_follow_the_spread_of_the_latents():
    scale = torch.ones(16)
    scale[3], scale[7] = 10.0, 5.0  # the most spread along coordinate 3, then 7
    found = dirs.principal_directions(torch.randn(2000, 16, generator=torch.Generator().manual_seed(0)) * scale, k=3)
    assert found.names == ["PC1", "PC2", "PC3"] and found.vectors.shape == (3, 16)
    assert found.vectors[0, 3].abs() > 0.99 and found.vectors[1, 7].abs() > 0.99
    shares = [float(note.split(", ")[1].split("%")[0]) for note in found.notes]
    assert shares == sorted(shares, reverse=True) and shares[0] > 50


def test_gallery_has_one_row_per_direction(G):
    found = dirs.sefa_directions(G, k=2)
    faces = dirs.gallery(G, found, torch.zeros(16), frames=5)
    assert faces.shape == (10, 3, 32, 32)
    with torch.no_grad():
        assert torch.allclose(faces[2], G(torch.zeros(1, 16))[0], atol=1e-6)  # the middle frame is the start


def test_an_unknown_direction_name_says_which_exist(G):
    with pytest.raises(Exception, match="SeFa 1"):
        dirs.sefa_directions(G, k=2).index("blonde")


def test_saved_names_come_back_only_for_the_same_directions(G, tmp_path):
    found = dirs.sefa_directions(G, k=3)
    path = tmp_path / "directions-sefa.pt"
    assert found.with_saved_names(path).names == found.names  # nothing saved yet
    named = dirs.sefa_directions(G, k=3)
    named.rename(1, "hair darkness")
    named.save(path)
    again = dirs.sefa_directions(G, k=3).with_saved_names(path)  # a later session, the same generator
    assert again.names == ["SeFa 1", "hair darkness", "SeFa 3"] and torch.equal(again.vectors, found.vectors)
    assert again.notes == found.notes
    other = dirs.sefa_directions(Generator(Config(image_size=32, latent_dim=16, g_width=8)), k=3)
    assert other.with_saved_names(path).names == other.names  # another generator: its own names
    assert dirs.sefa_directions(G, k=2).with_saved_names(path).names == ["SeFa 1", "SeFa 2"]  # not the same set


def test_saving_never_replaces_a_file_of_other_directions_without_overwrite(G, tmp_path):
    from gan_lib.support.errors import GanLibError

    path = tmp_path / "directions-sefa-step3000.pt"
    mine = dirs.sefa_directions(G, k=3)
    mine.rename(0, "hair darkness")
    mine.save(path)
    renamed = dirs.sefa_directions(G, k=3).with_saved_names(path)
    renamed.rename(1, "head tilt")
    renamed.save(path)  # the same directions, new names: their own file is updated
    assert dirs.Directions.load(path).names == ["hair darkness", "head tilt", "SeFa 3"]
    trained_further = dirs.sefa_directions(Generator(Config(image_size=32, latent_dim=16, g_width=8)), k=3)
    with pytest.raises(GanLibError, match="holds other directions .* pass overwrite=True"):
        trained_further.save(path)
    assert dirs.Directions.load(path).names == ["hair darkness", "head tilt", "SeFa 3"]  # the learner's names stay
    (tmp_path / "notes.pt").write_text("a file of the learner's")
    with pytest.raises(GanLibError, match="is not a directions file"):
        trained_further.save(tmp_path / "notes.pt")
    trained_further.save(path, overwrite=True)
    assert dirs.Directions.load(path).names == ["SeFa 1", "SeFa 2", "SeFa 3"]


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_a_directions_file_of_nan_or_inf_is_refused_on_load_naming_the_file(G, tmp_path, bad):
    from gan_lib.support.errors import GanLibError

    found = dirs.sefa_directions(G, k=2)
    path = tmp_path / "directions-sefa.pt"
    torch.save({"vectors": torch.full_like(found.vectors, bad), "names": found.names, "notes": found.notes,
                "method": "sefa"}, path)
    with pytest.raises(GanLibError, match="not numbers \\(NaN or inf\\)") as caught:
        dirs.Directions.load(path)
    assert str(path) in str(caught.value) and "overwrite=True" in str(caught.value) and "\n" not in str(caught.value)
    found.save(path, overwrite=True)
    assert torch.equal(dirs.Directions.load(path).vectors, found.vectors)  # found again and saved over it


def test_directions_of_nan_are_not_saved_huge_ones_stay_unit_and_sparse_or_zero_files_are_one_line(tmp_path):
    import torch

    from gan_lib.measure.directions import Directions
    from gan_lib.support.errors import GanLibError

    with pytest.raises(GanLibError, match="not numbers"):
        Directions(torch.full((2, 8), float("nan")), ["a", "b"]).save(tmp_path / "nan.pt")
    assert not (tmp_path / "nan.pt").exists()
    huge = Directions(torch.full((2, 8), 1e38), ["a", "b"])  # its float32 norm overflows
    assert torch.allclose(huge.vectors.norm(dim=1), torch.ones(2))
    for name, vectors in (("sparse", torch.ones(2, 8).to_sparse()), ("zero", torch.zeros(2, 8))):
        torch.save({"vectors": vectors, "names": ["a", "b"], "notes": ["", ""]}, tmp_path / f"{name}.pt")
        with pytest.raises(GanLibError, match=f"{name}.pt"):
            Directions.load(tmp_path / f"{name}.pt")
