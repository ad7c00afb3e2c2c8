"""No file that gan_lib reads can run code: a pickle that would create a file when unpickled is passed everywhere a
path is accepted or a cache holds one, and the file never appears. Each place refuses it in one line, or (a cache)
rebuilds what the file should have held."""

from pathlib import Path

import pytest
import torch

from gan_lib.measure import attributes, inception
from gan_lib.measure.directions import Directions
from gan_lib.runs.checkpoint import CHECKPOINT_FILE, load_generator, read_checkpoint
from gan_lib.runs.cli import main
from gan_lib.runs.run_folder import TrainingRun
from gan_lib.support.errors import GanLibError
from gan_lib.support.files import cache_dir


class _Planted:
    """Unpickling this calls open(target, "w"): the file appears only if the loader runs the pickle's code."""

    def __init__(self, target: Path):
        self.target = target

    def __reduce__(self):
        return open, (str(self.target), "w")


@pytest.fixture
def planted(tmp_path):
    """(path of a malicious pickle, the file its loading would create)."""
    marker = tmp_path / "code-ran"
    path = tmp_path / "innocent.pt"
    torch.save({"format": 1, "config": {}, "generator": _Planted(marker), "vectors": _Planted(marker)}, path)
    return path, marker


def _refused_in_one_line(capsys, *args):
    code = main([*map(str, args)])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err and err.strip().splitlines()[-1].startswith("error:"), err
    return err.strip().splitlines()[-1]


def test_a_planted_checkpoint_is_refused_everywhere_and_its_code_never_runs(planted, tmp_path, capsys, tiny_cfg,
                                                                            tiny_data):
    path, marker = planted
    for call in (lambda: read_checkpoint(path), lambda: load_generator(path),
                 lambda: TrainingRun.resume(path, tiny_data)):
        with pytest.raises(GanLibError, match="is not a gan_lib checkpoint"):
            call()
    line = _refused_in_one_line(capsys, "generate", "--checkpoint", path, "--out", tmp_path / "faces.png")
    assert "is not a gan_lib checkpoint" in line and "weights_only" not in line
    _refused_in_one_line(capsys, "evaluate", "--checkpoint", path, "--metric", "swd")
    run = tmp_path / "run"
    run.mkdir()
    (run / CHECKPOINT_FILE).write_bytes(path.read_bytes())
    _refused_in_one_line(capsys, "train", "--data", "synthetic", "--out", run, "--resume", "--steps", "2",
                         "--synthetic-count", "64", "--image-size", "32", "--quiet")
    assert not marker.exists()


def test_planted_directions_and_inception_weights_are_refused_and_their_code_never_runs(planted, tmp_path, capsys):
    path, marker = planted
    with pytest.raises(GanLibError, match="not a directions file"):
        Directions.load(path)
    with pytest.raises(GanLibError, match="not a file of Inception weights"):
        inception.weight_tensors(path)
    pytest.importorskip("torchmetrics")
    with pytest.raises(GanLibError, match="not a file of Inception weights"):
        inception.inception_features(torch.zeros(2, 3, 32, 32), weights=path)
    assert not marker.exists()


def test_planted_caches_are_rebuilt_and_their_code_never_runs(planted, monkeypatch, capsys):
    path, marker = planted
    images = torch.randint(0, 256, (4, 3, 32, 32), dtype=torch.uint8)
    (cache_dir() / f"features-{inception.content_key(images, None)}.pt").write_bytes(path.read_bytes())
    computed = inception.cached_features(images, None, lambda: torch.ones(4, inception.FEATURES))
    assert torch.equal(computed, torch.ones(4, inception.FEATURES))
    assert torch.equal(inception.cached_features(images, None, lambda: torch.zeros(1)), computed)  # now cached

    classifier_file = attributes.classifier_path()
    classifier_file.write_bytes(path.read_bytes())
    monkeypatch.setattr(attributes, "train_attribute_classifier", lambda: attributes.AttributeClassifier().eval())
    assert isinstance(attributes.attribute_classifier(), attributes.AttributeClassifier)
    assert "cannot be used" in capsys.readouterr().err
    attributes.AttributeClassifier().load_state_dict(torch.load(classifier_file, weights_only=True))  # replaced
    assert not marker.exists()


def test_the_inception_network_is_given_a_copy_that_holds_nothing_but_tensors(tmp_path, monkeypatch):
    """torch-fidelity unpickles the weights file it is given: it gets a checked copy, never the user's file."""
    fid = pytest.importorskip("torchmetrics.image.fid")
    weights = tmp_path / "weights.pth"
    torch.save({"conv.weight": torch.ones(2, 2)}, weights)
    given = []

    class Recording(torch.nn.Module):
        def __init__(self, name, features_list, feature_extractor_weights_path):
            super().__init__()
            given.append((feature_extractor_weights_path,
                          torch.load(feature_extractor_weights_path, weights_only=True)))

        def forward(self, x):
            return torch.zeros(len(x), inception.FEATURES)

    monkeypatch.setattr(fid, "NoTrainInceptionV3", Recording)
    features = inception.inception_features(torch.zeros(3, 3, 32, 32), weights=weights)
    assert features.shape == (3, inception.FEATURES)
    (copy, state), = given
    assert Path(copy) != weights and not Path(copy).exists() and torch.equal(state["conv.weight"], torch.ones(2, 2))


def test_feature_caches_are_keyed_by_the_images_and_the_weights(tmp_path):
    a = torch.randint(0, 256, (4, 3, 32, 32), dtype=torch.uint8)
    b = a.clone()
    b[0, 0, 0, 0] ^= 1
    weights = tmp_path / "w.pth"
    torch.save({"w": torch.ones(1)}, weights)
    keys = {inception.content_key(a, None), inception.content_key(b, None), inception.content_key(a, weights)}
    assert len(keys) == 3 and inception.content_key(a.clone(), None) == inception.content_key(a, None)


@pytest.mark.parametrize("damage", ["truncated", "wrong shape", "not a tensor"])
def test_a_damaged_feature_cache_is_computed_again(damage):
    images = torch.randint(0, 256, (4, 3, 32, 32), dtype=torch.uint8)
    path = cache_dir() / f"features-{inception.content_key(images, None)}.pt"
    if damage == "truncated":
        torch.save(torch.ones(4, inception.FEATURES), path)
        path.write_bytes(path.read_bytes()[:100])
    else:
        torch.save(torch.ones(3, 7) if damage == "wrong shape" else {"a": 1}, path)
    assert torch.equal(inception.cached_features(images, None, lambda: torch.full((4, inception.FEATURES), 2.0)),
                       torch.full((4, inception.FEATURES), 2.0))


def test_a_damaged_directions_file_or_another_latent_size_is_one_line(tmp_path):
    directions = Directions(torch.randn(2, 16), ["a", "b"])
    path = directions.save(tmp_path / "d.pt")
    assert Directions.load(path, latent_dim=16).names == ["a", "b"]
    with pytest.raises(GanLibError, match="latent size 16, but the generator's latent size is 100"):
        Directions.load(path, latent_dim=100)
    torch.save({"vectors": torch.randn(3), "names": ["a"], "notes": [""]}, path)
    with pytest.raises(GanLibError, match="damaged directions file"):
        Directions.load(path)
    path.write_bytes(b"\x00" * 10)
    with pytest.raises(GanLibError, match="not a directions file"):
        Directions.load(path)


def test_a_checkpoint_without_its_generator_or_with_other_shapes_is_one_line(tmp_path, tiny_cfg, tiny_data):
    trainer = TrainingRun(tiny_cfg, tiny_data, tmp_path)
    state = trainer.state_dict()
    path = tmp_path / "c.pt"
    torch.save({k: v for k, v in state.items() if k != "generator"}, path)
    with pytest.raises(GanLibError, match="damaged gan_lib checkpoint.*generator"):
        read_checkpoint(path)
    state["ema"] = None
    state["generator"] = {k: v[..., :1] if v.dim() else v for k, v in state["generator"].items()}
    torch.save(state, path)
    with pytest.raises(GanLibError, match="does not fit its own config"):
        load_generator(path)


def test_library_calls_a_learner_makes_fail_in_a_sentence(tiny_cfg, tiny_data):
    pytest.importorskip("ipywidgets")
    from gan_lib.course.widgets import LatentExplorer
    from gan_lib.models import Generator

    with pytest.raises(GanLibError, match="has no run folder"):
        TrainingRun(tiny_cfg, tiny_data).save_checkpoint()
    G = Generator(tiny_cfg)
    with pytest.raises(GanLibError, match="latent size 100 but the generator's is 16"):
        LatentExplorer(G, Directions(torch.randn(2, 100), ["a", "b"]), torch.zeros(16))
    with pytest.raises(GanLibError, match="start has 100 numbers"):
        LatentExplorer(G, Directions(torch.randn(2, 16), ["a", "b"]), torch.zeros(100))
