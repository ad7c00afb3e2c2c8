"""The conditional DCGAN: labels from a folder's subfolders or a synthetic attribute, G and D that read them, the
CLI's --conditional and generate --class, exact resume, and classes that a reader finds again in G's images."""

from dataclasses import replace

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import resumed_equals_straight
from gan_lib.config import Config
from gan_lib.data import load_images, synthetic_set
from gan_lib.data.synthetic import ATTRIBUTES
from gan_lib.models import Discriminator, Generator, generate, noise
from gan_lib.runs.checkpoint import load_generator
from gan_lib.runs.cli import main
from gan_lib.support.errors import GanLibError
from gan_lib.train import Trainer

COLOURS = {"blue": (30, 60, 220), "red": (220, 40, 30)}


def colour_folder(root, per_class=48, loose=0):
    """root/red/*.png and root/blue/*.png: noisy squares of one colour each (a class anyone can read back)."""
    rng = np.random.default_rng(0)
    for name, colour in COLOURS.items():
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            pixels = np.clip(np.array(colour) + rng.normal(0, 25, (40, 40, 3)), 0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(root / name / f"{i}.png")
    for i in range(loose):
        Image.fromarray(np.zeros((40, 40, 3), np.uint8)).save(root / f"loose{i}.png")
    return root


def test_a_folder_s_subfolders_are_its_classes_and_what_cannot_label_is_refused(tmp_path):
    data = load_images(colour_folder(tmp_path / "colours"), 32, condition="folder")
    assert data.classes == ("blue", "red")  # sorted, as torchvision's ImageFolder sorts them
    red_share = (data.images[:, 0].float().mean((1, 2)) > data.images[:, 2].float().mean((1, 2)))
    assert torch.equal(red_share.long(), data.labels)
    train, held = data.split(4)
    assert len(train.labels) == len(train) and held.classes == data.classes
    with pytest.raises(GanLibError, match="lie directly in .*outside any class subfolder"):
        load_images(colour_folder(tmp_path / "loose", per_class=8, loose=2), 32, condition="folder")
    with pytest.raises(GanLibError, match="at least two classes"):
        load_images(colour_folder(tmp_path / "one" / "nested", per_class=8).parent, 32, condition="folder")
    with pytest.raises(GanLibError, match="cannot be labelled by 'folder'"):
        synthetic_set(32, 16, condition="folder")
    with pytest.raises(GanLibError, match="cannot be labelled by 'hair_color': choose folder"):
        load_images(tmp_path / "colours", 32, condition="hair_color")
    faces = synthetic_set(32, 64, condition="eye_color")
    assert faces.classes == ATTRIBUTES["eye_color"]
    assert torch.equal(faces.labels, faces.summary["attributes"]["eye_color"])


def test_config_needs_condition_and_classes_together():
    with pytest.raises(GanLibError, match="needs both condition and classes"):
        Config(condition="hair_color")
    with pytest.raises(GanLibError, match="distinct non-empty names"):
        Config(condition="folder", classes=("a", "a"))
    cfg = Config(condition="folder", classes=["a", "b"])
    assert cfg.classes == ("a", "b") and Config.from_dict(cfg.to_dict()) == cfg and cfg.conditional


def test_g_draws_the_class_it_is_told_and_d_reads_the_label_by_projection():
    cfg = Config(image_size=32, g_width=8, d_width=8, latent_dim=16, condition="folder", classes=("a", "b", "c"))
    torch.manual_seed(0)
    G, D = Generator(cfg).eval(), Discriminator(cfg)
    z = torch.randn(6, 16)
    zeros, ones = torch.zeros(6, dtype=torch.long), torch.ones(6, dtype=torch.long)
    assert not torch.allclose(G(z, zeros), G(z, ones))
    assert torch.equal(G(z), G(z, torch.tensor([0, 1, 2, 0, 1, 2])))  # no labels: the classes in turn
    assert torch.equal(generate(G, z, batch=4), G(z))  # in turn over the whole set, not within each batch
    x = torch.randn(6, 3, 32, 32)
    assert not torch.allclose(D(x, zeros), D(x, ones))
    with pytest.raises(GanLibError, match="pass the images' class labels"):
        D(x)
    with pytest.raises(GanLibError, match="unconditional: it takes no class labels"):
        Generator(Config(image_size=32, g_width=8, latent_dim=16))(z, zeros)
    with pytest.raises(GanLibError, match="the data has no labels"):
        Trainer(replace(cfg, batch_size=8), synthetic_set(32, 16), device="cpu")
    with pytest.raises(GanLibError, match="the data's are black, brown"):
        Trainer(replace(cfg, batch_size=8), synthetic_set(32, 16, condition="hair_color"), device="cpu")


@pytest.mark.parametrize("loss", ["bce", "wgan-gp"])
def test_a_conditional_run_with_several_d_steps_resumes_exactly(loss, tiny_cfg, tmp_path):
    data = synthetic_set(32, 64, condition="hair_color")
    cfg = replace(tiny_cfg, loss=loss, d_steps=2, condition="hair_color", classes=data.classes)
    resumed = resumed_equals_straight(cfg, data, tmp_path, 6)
    assert resumed.opt_d.state_dict()["state"][0]["step"] == 2 * resumed.opt_g.state_dict()["state"][0]["step"] == 12


def test_the_cli_trains_a_conditional_dcgan_whose_classes_come_back(tmp_path, capsys):
    """On two colours, 80 steps (at a high learning rate, for speed): G's images of each class are read back as
    that class (chance: half)."""
    data, run = colour_folder(tmp_path / "colours"), tmp_path / "run"
    assert main(["train", "--data", str(data), "--conditional", "--out", str(run), "--steps", "80", "--image-size",
                 "32", "--g-width", "8", "--d-width", "8", "--batch-size", "16", "--lr-g", "2e-3", "--lr-d", "2e-3",
                 "--ema-decay", "0", "--quiet"]) == 0
    G, cfg = load_generator(run / "checkpoint.pt", "cpu")
    assert (cfg.condition, cfg.classes) == ("folder", ("blue", "red"))
    labels = torch.arange(200) % 2
    images = generate(G, noise(200, cfg, "test"), labels=labels)
    read_red = (images[:, 0].mean((1, 2)) > images[:, 2].mean((1, 2))).long()
    assert (read_red == labels).float().mean() > 0.9
    out = tmp_path / "red.png"
    assert main(["generate", "--checkpoint", str(run / "checkpoint.pt"), "--out", str(out), "--class", "red",
                 "--n", "16"]) == 0
    grid = np.asarray(Image.open(out)).astype(float)
    assert grid[..., 0].mean() > grid[..., 2].mean()
    assert main(["generate", "--checkpoint", str(run / "checkpoint.pt"), "--out", str(out), "--class", "green"]) == 2
    assert "no class 'green': choose one of blue, red" in capsys.readouterr().err
    assert main(["train", "--data", str(data), "--conditional", "hair_color", "--out", str(tmp_path / "r2")]) == 2
    assert "cannot be labelled by 'hair_color': choose folder" in capsys.readouterr().err
    assert main(["evaluate", "--checkpoint", str(run / "checkpoint.pt"), "--metric", "conditioning"]) == 2
    assert "folders, which no classifier here reads" in capsys.readouterr().err


def test_unconditional_checkpoints_refuse_a_class_and_conditioning_accuracy(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "--data", "synthetic", "--synthetic-count", "64", "--image-size", "32", "--g-width", "8",
                 "--d-width", "8", "--batch-size", "16", "--quiet", "--out", str(run), "--steps", "1"]) == 0
    assert main(["generate", "--checkpoint", str(run / "checkpoint.pt"), "--out", str(tmp_path / "g.png"),
                 "--class", "red"]) == 2
    assert "--class needs a conditional DCGAN" in capsys.readouterr().err
    assert main(["evaluate", "--checkpoint", str(run / "checkpoint.pt"), "--metric", "conditioning"]) == 2
    assert "needs a conditional DCGAN" in capsys.readouterr().err


def test_conditioning_accuracy_reads_the_asked_attribute(classifier):
    from gan_lib.measure.metrics import conditioning_accuracy

    faces = synthetic_set(32, 300, seed=3, condition="hair_color")
    assert conditioning_accuracy(faces.images, faces.labels, "hair_color", classifier) > 0.95
    shuffled = faces.labels[torch.randperm(300, generator=torch.Generator().manual_seed(0))]
    assert conditioning_accuracy(faces.images, shuffled, "hair_color", classifier) < 0.3  # chance 1/9


def test_conditioning_by_class_gives_real_faces_full_marks_and_sinks_one_face_per_class_or_one_class(classifier):
    from gan_lib.measure.metrics import conditioning_by_class

    faces = synthetic_set(32, 600, seed=3, condition="hair_color")
    real, drawn = faces.split(2)  # two halves of the data: as good as a G can be
    fair = conditioning_by_class(drawn.images, drawn.labels, real.images, real.labels, "hair_color", classifier)
    assert all(r["accuracy"] > 0.8 and r["ceiling"] > 0.8 and 0.8 < r["diversity"] < 1.25 for r in fair.values()), fair
    one_face = drawn.images.clone()
    for label in drawn.labels.unique():  # the first face of each class, repeated for every request of the class
        mine = drawn.labels == label
        one_face[mine] = drawn.images[mine][:1]
    copied = conditioning_by_class(one_face, drawn.labels, real.images, real.labels, "hair_color", classifier)
    assert all(r["diversity"] < 0.01 for r in copied.values()), copied  # cdist rounds: not exactly 0
    one_class = drawn.images[drawn.labels == 0][:1].expand(len(drawn), -1, -1, -1)
    stuck = conditioning_by_class(one_class, drawn.labels, real.images, real.labels, "hair_color", classifier)
    assert sum(r["accuracy"] > 0.5 for r in stuck.values()) == 1


def test_the_explorer_and_the_directions_work_on_a_conditional_generator():
    from gan_lib.course.widgets import LatentExplorer
    from gan_lib.measure.directions import ganspace_directions, sefa_directions

    cfg = Config(image_size=32, g_width=8, latent_dim=16, condition="folder", classes=("a", "b"))
    G = Generator(cfg).eval()
    directions = sefa_directions(G, k=3)
    assert directions.vectors.shape == (3, 16) and ganspace_directions(G, k=2, n=64).vectors.shape == (2, 16)
    explorer = LatentExplorer(G, directions, torch.randn(16))
    first = explorer.image.value
    explorer.class_choice.value = "b"
    assert explorer.label() == 1 and explorer.image.value != first
    assert "explorer-class" in explorer.class_choice._dom_classes
    plain = LatentExplorer(Generator(replace(cfg, condition="", classes=())).eval(), directions, torch.randn(16))
    assert plain.class_choice is None and plain.label() is None
