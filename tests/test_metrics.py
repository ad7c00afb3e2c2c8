import pytest
import torch

from gan_lib.data.synthetic import ATTRIBUTES, make_faces
from gan_lib.measure import metrics
from gan_lib.support.errors import GanLibError


@pytest.fixture(scope="module")
def faces():
    return make_faces(300, 32, seed=3)


def _noisy(images, sigma):
    g = torch.Generator().manual_seed(1)
    return (images.float() / 127.5 - 1 + sigma * torch.randn(images.shape, generator=g)).clamp(-1, 1)


def test_swd_is_zero_on_itself_grows_with_noise_and_is_symmetric(faces):
    images = faces[0]
    assert metrics.sliced_wasserstein(images, images, projections=128)["mean"] == 0
    small = metrics.sliced_wasserstein(images, _noisy(images, 0.05), projections=128)
    large = metrics.sliced_wasserstein(images, _noisy(images, 0.3), projections=128)
    assert 0 < small["mean"] < large["mean"]
    assert len(small["levels"]) == 2  # 32 px and the 16 px residual
    swapped = metrics.sliced_wasserstein(_noisy(images, 0.3), images, projections=128)
    assert swapped["mean"] == pytest.approx(large["mean"], rel=1e-6)


def test_swd_reads_images_in_batches_and_as_uint8_with_the_same_result(faces):
    images, other = faces[0][:150], faces[0][150:]
    whole = metrics.sliced_wasserstein(images.float() / 127.5 - 1, other.float() / 127.5 - 1, batch=1000)
    assert metrics.sliced_wasserstein(images, other, batch=7) == whole  # uint8, 7 images at a time: bit for bit


SWD_PEAK = """
import resource, sys, torch
from gan_lib.measure import metrics
metrics.MAX_DESCRIPTORS = 2**14
n = int(sys.argv[1])
g = torch.Generator().manual_seed(0)
a, b = (torch.randint(0, 256, (n, 3, 32, 32), dtype=torch.uint8, generator=g) for _ in range(2))
start = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
metrics.sliced_wasserstein(a, b, batch=250)
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - start)
"""


def test_swd_needs_no_more_memory_for_many_images_than_for_a_few():
    """Past MAX_DESCRIPTORS patches a level, each image gives fewer: 8,000 images at 128 patches would be 600 MB of
    descriptors per set and level; with the cap (2**14 here) the peak grows by less than 40 MB from 1,000 images."""
    import subprocess
    import sys

    def peak_growth_mb(n: int) -> float:
        out = subprocess.run([sys.executable, "-c", SWD_PEAK, str(n)], capture_output=True, text=True, check=True)
        return int(out.stdout) / 1024  # ru_maxrss is in KB on Linux

    few, many = peak_growth_mb(1000), peak_growth_mb(8000)
    assert many - few < 40, (few, many)


def test_swd_needs_sets_of_the_same_shape(faces):
    with pytest.raises(GanLibError, match="same shape"):
        metrics.sliced_wasserstein(faces[0][:10], faces[0][:20])


def test_laplacian_pyramid_reconstructs_the_image():
    x = torch.rand(2, 3, 64, 64)
    levels = metrics.laplacian_pyramid(x)
    assert [lvl.shape[-1] for lvl in levels] == [64, 32, 16]
    up = levels[-1]
    for band in reversed(levels[:-1]):
        up = metrics._blur(torch.nn.functional.interpolate(up, scale_factor=2, mode="nearest")) + band
    assert torch.allclose(up, x, atol=1e-5)


def test_frechet_distance_matches_the_closed_form_for_gaussians():
    g = torch.Generator().manual_seed(0)
    mu1, mu2 = torch.tensor([0.0, 1.0, -1.0, 2.0]), torch.tensor([1.0, 1.0, 0.0, 0.0])
    var1, var2 = torch.tensor([1.0, 2.0, 0.5, 1.0]), torch.tensor([2.0, 1.0, 0.5, 4.0])
    a = mu1 + var1.sqrt() * torch.randn(200_000, 4, generator=g)
    b = mu2 + var2.sqrt() * torch.randn(200_000, 4, generator=g)
    closed_form = float(((mu1 - mu2) ** 2).sum() + (var1 + var2 - 2 * (var1 * var2).sqrt()).sum())
    assert metrics.fid_from_features(a, b) == pytest.approx(closed_form, rel=0.02)
    assert metrics.fid_from_features(a, a) == pytest.approx(0, abs=1e-6)


def test_kid_is_near_zero_for_one_distribution_and_positive_for_two():
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(2000, 16, generator=g), torch.randn(2000, 16, generator=g)
    same, _ = metrics.kid_from_features(a, b, subsets=10)
    different, _ = metrics.kid_from_features(a, b + 1.0, subsets=10)
    assert abs(same) < 0.01 and different > 0.1


def test_kid_subsets_are_smaller_than_the_sets_so_its_spread_is_real():
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(1000, 16, generator=g), torch.randn(1000, 16, generator=g) + 0.5
    _, std = metrics.kid_from_features(a, b, subsets=10)
    assert std > 0  # with subsets of all 1,000 every subset would be the whole set, and the std exactly 0
    with pytest.raises(GanLibError, match="at least 4"):
        metrics.kid_from_features(a[:3], b[:3])


def test_inception_without_weights_is_a_clear_error(tmp_path):
    with pytest.raises(GanLibError, match="Inception weights|torch-fidelity"):
        metrics.inception_features(torch.zeros(2, 3, 32, 32), weights=tmp_path / "missing.pth")


def test_cached_inception_features_are_keyed_by_the_torch_that_computed_them(monkeypatch):
    from gan_lib.measure import inception
    images = torch.randint(0, 256, (4, 3, 32, 32), dtype=torch.uint8)
    inception.cached_features(images, None, lambda: torch.ones(4, inception.FEATURES))
    monkeypatch.setattr(torch, "__version__", "0.0.1")
    again = inception.cached_features(images, None, lambda: torch.zeros(4, inception.FEATURES))
    assert torch.equal(again, torch.zeros(4, inception.FEATURES))  # computed again, not read from the other's file


def test_attribute_classifier_is_accurate_on_held_out_faces(classifier):
    for size in (32, 64):
        images, attrs = make_faces(500, size, seed=12345)
        predicted = classifier.predict(images)
        accuracy = {name: float((predicted[name] == attrs[name]).float().mean()) for name in ATTRIBUTES}
        assert min(accuracy["hair_color"], accuracy["eye_color"], accuracy["hair_style"]) > 0.95, accuracy
        assert accuracy["mouth"] > 0.7, accuracy  # a few pixels at 32 px: the hardest attribute


def test_a_cached_classifier_is_read_only_under_its_own_key_and_only_if_it_reads_held_out_faces(
        classifier, monkeypatch, capsys):
    from gan_lib.measure import attributes
    from gan_lib.support.files import cache_dir

    path = attributes.classifier_path()
    assert path.parent == cache_dir() and torch.__version__ in path.name and "fp32" in path.name
    with monkeypatch.context() as patched:
        patched.setattr(torch, "__version__", "0.0.1")
        assert attributes.classifier_path() != path  # another torch trains another classifier: another file

    untrained = attributes.AttributeClassifier()
    torch.save(untrained.state_dict(), path.with_name(f"attribute-classifier-v{attributes.CLASSIFIER_VERSION}.pt"))
    monkeypatch.setattr(attributes, "train_attribute_classifier", lambda: classifier)
    assert attributes.attribute_classifier() is classifier  # the old name, which says nothing of how: not read
    assert "training the attribute classifier" in capsys.readouterr().err

    torch.save(untrained.state_dict(), path)  # a foreign classifier under this machine's key
    assert attributes.attribute_classifier() is classifier
    assert f"of held-out faces right, under {attributes.CHECK_ACCURACY:.0%}: training" in capsys.readouterr().err
    monkeypatch.setattr(attributes, "train_attribute_classifier", lambda: pytest.fail("a good cached one retrained"))
    cached = attributes.attribute_classifier()
    assert all(torch.equal(a, b) for a, b in zip(cached.state_dict().values(), classifier.state_dict().values()))
    assert capsys.readouterr().err == ""


def test_mode_coverage_sees_all_modes_in_real_faces_and_collapse_in_one(classifier, faces):
    images = faces[0]
    report = metrics.mode_coverage(images, classifier)
    for name, values in ATTRIBUTES.items():
        assert report[name]["covered"] == len(values) and report[name]["kl"] < 0.15
    collapsed = metrics.mode_coverage(images[:1].repeat(200, 1, 1, 1), classifier)
    for name, values in ATTRIBUTES.items():
        assert collapsed[name]["covered"] == 1
        assert collapsed[name]["kl"] == pytest.approx(torch.log(torch.tensor(len(values))).item(), rel=1e-4)


def test_diversity_falls_for_repeated_images(faces):
    images = faces[0][:64]
    assert metrics.diversity(images) > 0.3
    assert metrics.diversity(images[:1].repeat(64, 1, 1, 1)) == pytest.approx(0, abs=1e-3)
