from dataclasses import replace

import pytest

from gan_lib.config import Config
from gan_lib.runs.recipes import DCGAN_RECIPE, RECIPES, recipe
from gan_lib.support.errors import GanLibError
from gan_lib.support.runtime import derive_seed


def test_derived_seeds_are_stable_and_distinct():
    assert derive_seed(0, "z", 5) == derive_seed(0, "z", 5)
    assert len({derive_seed(0, "z", s) for s in range(1000)}) == 1000
    assert 0 <= derive_seed(1, "x") < 2**63


def test_round_trip_ignores_unknown_keys():
    cfg = Config(image_size=32, ema_decay=0.99)
    assert Config.from_dict({**cfg.to_dict(), "from_a_newer_version": 1}) == cfg


@pytest.mark.parametrize("bad, message", [
    ({"amp": "fp8"}, "amp must be one of"), ({"augment": "blur"}, "unknown augmentation"),
    ({"ema_decay": 1.0}, "ema_decay"), ({"batch_size": 0}, "batch_size"), ({"label_smoothing": 0.7}, "smoothing"),
])
def test_bad_values_are_clear_errors(bad, message):
    with pytest.raises(GanLibError, match=message):
        Config(**bad)


@pytest.mark.parametrize("loss, name, value, owner", [("hinge", "fake_label", 0.1, "bce"),
                                                      ("wgan-gp", "label_smoothing", 0.2, "bce"),
                                                      ("bce", "gp_weight", 5.0, "wgan-gp")])
def test_a_setting_the_loss_does_not_use_is_refused(loss, name, value, owner):
    with pytest.raises(GanLibError, match=f"{name} {value:g} applies to loss {owner} only, and this run trains with "
                                          f"loss {loss}: drop it"):
        Config(loss=loss, **{name: value})
    assert Config(loss=loss, **{name: 0.0})  # off is no setting; so is the default, and r1_gamma applies to any loss
    assert Config(loss=loss, r1_gamma=1.0, **{name: getattr(Config, name)})


def test_every_recipe_passes_but_not_with_a_loss_it_does_not_fit_and_an_older_checkpoint_still_loads():
    for name in RECIPES:
        recipe(name)
    with pytest.raises(GanLibError, match="fake_label 0.1 applies to loss bce only"):
        recipe("clinic+fake-smoothed", loss="hinge")
    paper_hinge = Config(**{**DCGAN_RECIPE, "loss": "hinge"})  # label_smoothing 0: off, as hinge has it
    assert Config.from_dict(paper_hinge.to_dict()) == paper_hinge
    saved = {**Config(loss="hinge").to_dict(), "fake_label": 0.1}  # train --recipe clinic+fake-smoothed --loss hinge
    assert Config.from_dict(saved) == Config(loss="hinge")  # it had no effect on that run


@pytest.mark.parametrize("args", [["--recipe", "dcgan+smoothing", "--loss", "hinge"],
                                  ["--label-smoothing", "0.1", "--loss", "hinge"],
                                  ["--recipe", "smoothing+ema999", "--loss", "wgan-gp"]])
def test_a_loss_option_given_by_name_is_refused_even_at_its_default_under_another_loss(args, tmp_path, capsys):
    from gan_lib.runs.cli import main

    assert main(["train", "--data", "synthetic", "--out", str(tmp_path / "run"), "--steps", "1", *args]) == 2
    assert "label_smoothing 0.1 applies to loss bce only" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_a_setting_its_loss_does_not_read_is_refused_in_a_notebooks_config_too():
    with pytest.raises(GanLibError, match="gp_weight 5 applies to loss wgan-gp only"):
        Config(loss="bce", gp_weight=5.0)
    with pytest.raises(GanLibError, match="label_smoothing 0.2 applies to loss bce only"):
        replace(Config(label_smoothing=0.2), loss="hinge")
    assert Config(loss="hinge").label_smoothing == Config.label_smoothing  # the default: left alone, unread


def test_a_new_loss_is_a_class_and_a_row_of_the_registry(monkeypatch):
    from gan_lib import losses

    class Least(losses.AdversarialLoss):  # least squares, as LSGAN
        pass

    monkeypatch.setitem(losses.LOSSES, "least-squares", Least)
    assert isinstance(losses.for_config(Config(loss="least-squares")), Least)
    with pytest.raises(GanLibError, match="gp_weight 5 applies to loss wgan-gp only"):
        Config(loss="least-squares", gp_weight=5.0)
    with pytest.raises(GanLibError, match="loss must be one of bce, hinge, wgan-gp, least-squares"):
        Config(loss="least")
