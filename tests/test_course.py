import sys
import types
from pathlib import Path

import pytest

from gan_lib.config import Config
from gan_lib.course import settings as course
from gan_lib.data import datasets


@pytest.fixture
def local(monkeypatch, tmp_path):
    for name in ("GAN_LIB_TINY", "GAN_LIB_RUN_DIR", "GAN_LIB_DATA", "GAN_LIB_STEPS", "GAN_LIB_DRIVE",
                 "KAGGLE_KERNEL_RUN_TYPE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(course, "KAGGLE_WORKING", tmp_path / "no-kaggle")
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    monkeypatch.setattr(course, "device_kind", lambda: "cpu")
    for name in ("KAGGLE_USERNAME", "KAGGLE_KEY"):  # no Kaggle credentials and no dataset on disk, as on CI
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("KAGGLE_CONFIG_DIR", str(tmp_path / "no-kaggle-token"))
    monkeypatch.setattr(datasets, "find_on_disk", lambda dataset: None)


@pytest.fixture
def anime_faces_on_disk(monkeypatch, tmp_path):
    monkeypatch.setattr(datasets, "find_on_disk", lambda dataset: tmp_path / "images")


def test_tiny_mode_trains_a_few_steps_on_synthetic_faces_and_says_so_in_a_banner(local, monkeypatch, capsys):
    monkeypatch.setenv("GAN_LIB_TINY", "1")
    assert course.tiny_mode()
    tiny = course.course_settings()
    assert tiny.data == "synthetic" and tiny.steps <= 100 and tiny.config.image_size == 32
    banner = capsys.readouterr().out.strip()
    assert banner.startswith("TINY MODE") and f"{tiny.steps}-step" in banner and f"{tiny.synthetic_count} " in banner


def test_the_environment_sets_data_steps_and_run_folder(local, monkeypatch):
    monkeypatch.setenv("GAN_LIB_TINY", "0")
    monkeypatch.setenv("GAN_LIB_DATA", "/some/folder")
    monkeypatch.setenv("GAN_LIB_STEPS", "123")
    monkeypatch.setenv("GAN_LIB_RUN_DIR", "/runs/mine")
    real = course.course_settings()
    assert (real.data, real.steps, real.run_dir) == ("/some/folder", 123, Path("/runs/mine"))
    monkeypatch.setenv("GAN_LIB_STEPS", " +45\n")  # a sign and surrounding whitespace, as int() reads them
    assert course.course_settings().steps == 45


def test_the_size_and_length_suit_the_device(local, anime_faces_on_disk, monkeypatch):
    cpu = course.course_settings()
    assert (course.platform(), cpu.data, cpu.config, cpu.steps) == ("local", "anime-faces", Config(image_size=32), 3000)
    assert cpu.run_dir == Path("runs/course")
    monkeypatch.setattr(course, "device_kind", lambda: "cuda")
    gpu = course.course_settings()
    assert (gpu.config.image_size, gpu.steps) == (64, 5000)


def test_offline_or_without_credentials_the_course_goes_on_with_the_synthetic_faces_and_says_so(local, monkeypatch,
                                                                                                 capsys):
    assert course.course_settings().data == "synthetic"
    said = capsys.readouterr().out.strip()
    assert said.startswith("anime-faces: it is not on disk and no Kaggle credentials were found, so this notebook "
                           "uses the synthetic faces") and "KAGGLE_USERNAME" in said and "\n" not in said
    monkeypatch.setenv("KAGGLE_USERNAME", "learner")
    monkeypatch.setenv("KAGGLE_KEY", "0123")

    def offline(*args, **kwargs):
        raise OSError("Network is unreachable")

    monkeypatch.setattr(datasets.socket, "create_connection", offline)
    assert course.course_settings().data == "synthetic"
    assert "www.kaggle.com cannot be reached" in capsys.readouterr().out
    monkeypatch.setattr(datasets.socket, "create_connection", lambda *args, **kwargs: types.SimpleNamespace(
        close=lambda: None))  # online with credentials: the real faces, downloaded when first loaded
    assert course.course_settings().data == "anime-faces" and capsys.readouterr().out == ""
    monkeypatch.setenv("GAN_LIB_DATA", "anime-faces")  # asked for by name: never replaced
    monkeypatch.setattr(datasets.socket, "create_connection", offline)
    assert course.course_settings().data == "anime-faces"


def test_on_kaggle_runs_go_to_the_working_folder(local, monkeypatch):
    monkeypatch.setenv("KAGGLE_KERNEL_RUN_TYPE", "Interactive")
    assert course.platform() == "kaggle"
    assert course.course_settings().run_dir == course.KAGGLE_WORKING / "runs" / "course"


def test_on_colab_every_notebook_finds_the_run_on_drive(local, monkeypatch):
    mounted = []
    colab = types.ModuleType("google.colab")
    colab.drive = types.SimpleNamespace(mount=mounted.append)
    monkeypatch.setitem(sys.modules, "google.colab", colab)
    assert course.platform() == "colab"
    settings = course.course_settings()
    assert mounted == [] and settings.config.image_size == 32  # notebooks 01 and 02 never need the run: no prompt
    assert settings.run_dir == course.DRIVE_FOLDER / "course" and settings.run_dir == course.DRIVE_FOLDER / "course"
    assert mounted == [str(course.DRIVE_MOUNT)]  # mounted once, when the run folder was first asked for
    monkeypatch.setenv("GAN_LIB_DRIVE", "0")  # off Drive: the runtime's own disk
    assert course.course_settings().run_dir == Path("runs/course") and len(mounted) == 1


def test_a_recipe_with_changes_gets_its_own_run_folder_beside_the_course_run(local):
    settings = course.course_settings()
    assert settings.run_dir_for({}) == settings.run_dir
    changed = settings.run_dir_for({"label_smoothing": 0.2, "augment": "color,translation"})
    assert changed.parent == settings.run_dir.parent
    assert changed.name == "course-augment=color+translation-label_smoothing=0.2"


@pytest.mark.parametrize("value, on", [("1", True), ("yes", True), ("TRUE", True), ("0", False), ("no", False),
                                       ("false", False), ("off", False), ("", False)])
def test_tiny_mode_reads_the_usual_words_for_on_and_off(local, monkeypatch, value, on):
    monkeypatch.setenv("GAN_LIB_TINY", value)
    assert course.tiny_mode() is on


@pytest.mark.parametrize("name, value", [("GAN_LIB_TINY", "maybe"), ("GAN_LIB_STEPS", "abc"), ("GAN_LIB_STEPS", "0"),
                                         ("GAN_LIB_STEPS", "-5"), ("GAN_LIB_STEPS", "1.5"),
                                         ("GAN_LIB_STEPS", str(10**12))])
def test_a_setting_that_makes_no_sense_names_its_variable(local, monkeypatch, name, value):
    from gan_lib.support.errors import GanLibError

    monkeypatch.setenv(name, value)
    with pytest.raises(GanLibError, match=name):
        course.course_settings()


def test_the_run_folder_and_the_cache_expand_home(local, monkeypatch, tmp_path):
    from gan_lib.support.files import cache_dir

    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("GAN_LIB_RUN_DIR", "~/runs/mine")
    monkeypatch.setenv("GAN_LIB_CACHE", "~/cache")
    assert course.course_settings().run_dir == tmp_path / "runs" / "mine" and cache_dir() == tmp_path / "cache"


def test_a_file_in_place_of_the_run_folder_fails_before_the_first_step(tmp_path, tiny_cfg, tiny_data):
    from gan_lib.runs.run_folder import start_or_resume
    from gan_lib.support.errors import GanLibError

    (tmp_path / "run").write_text("my notes")
    with pytest.raises(GanLibError, match="is a file"):
        start_or_resume(tiny_cfg, tiny_data, tmp_path / "run")
    assert (tmp_path / "run").read_text() == "my notes"


@pytest.mark.parametrize("kind, size, widths, steps", [("cpu", 32, 64, 3000), ("cuda", 64, 64, 5000),
                                                       ("mps", 64, 64, 5000)])
def test_the_command_line_and_the_notebooks_pick_one_recipe_for_each_device(local, monkeypatch, tmp_path, capsys,
                                                                           kind, size, widths, steps):
    """One place decides (recipes.for_device): a new `train` run and the notebooks' run get the same config and
    length on the CPU, a CUDA GPU and an Apple GPU (the device mocked; the trainer replaced where it would start)."""
    import types

    import torch

    from gan_lib.runs import cli
    monkeypatch.setattr(course, "device_kind", lambda: kind)
    monkeypatch.setattr(cli.runtime, "resolve_device", lambda device: torch.device(kind))
    opened = {}

    def open_run(state, cfg, data, out, device, on_data_change):
        opened["cfg"] = cfg  # a trainer already past any length: the CLI then says what it was asked for
        return types.SimpleNamespace(step=10**9, batches=types.SimpleNamespace(steps_per_epoch=8), cfg=cfg)

    monkeypatch.setattr(cli, "open_run", open_run)
    monkeypatch.setattr(cli, "missing_reports", lambda run_dir: [])
    assert cli.main(["train", "--data", "synthetic", "--synthetic-count", "512", "--out", str(tmp_path / "run")]) == 0
    settings = course.course_settings()
    assert opened["cfg"] == settings.config and (settings.config.image_size, settings.config.g_width) == (size, widths)
    assert f"(asked for {steps})" in capsys.readouterr().err and settings.steps == steps
    assert cli.main(["train", "--data", "synthetic", "--synthetic-count", "512", "--out", str(tmp_path / "r64"),
                     "--image-size", "64"]) == 0
    assert opened["cfg"].g_width == (32 if kind == "cpu" else 64)  # the CPU's 64 px runs are narrower


def test_each_clinic_run_is_a_named_recipe_one_change_from_the_clinics_base(tmp_path):
    """Notebook 03's clinic trains recipes of recipes.py, which `train --recipe` also knows."""
    from dataclasses import asdict

    from gan_lib.runs import cli
    from gan_lib.runs.recipes import CLINIC, recipe

    base = asdict(recipe("clinic"))
    changed = {name: {k for k, v in asdict(recipe(r)).items() if base[k] != v} for name, r in CLINIC.items()}
    assert changed == {"default": set(), "spectral norm": {"spectral_norm"}, "EMA 0.999": {"ema_decay"},
                       "lr x10": {"lr_g", "lr_d"}, "fake side smoothed": {"fake_label"}}
    assert cli.main(["train", "--data", "synthetic", "--synthetic-count", "64", "--recipe", "clinic+sn",
                     "--steps", "1", "--batch-size", "8", "--g-width", "8", "--d-width", "8",
                     "--out", str(tmp_path / "run")]) == 0


def test_a_full_run_inside_the_repository_saves_its_figures_in_the_repository_s_img(monkeypatch):
    chosen = course.CourseSettings("synthetic", Config(), 1, lambda: Path("runs/x"), clinic_steps=1)
    monkeypatch.delenv("GAN_LIB_TINY", raising=False)
    assert chosen.img_dir == Path(__file__).resolve().parent.parent / "img"
    monkeypatch.setenv("GAN_LIB_TINY", "1")
    assert chosen.img_dir == Path("runs") / "img"
