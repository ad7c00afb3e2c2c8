"""What the notebooks share: tiny mode, the platform (Colab, Kaggle, local), Google Drive and the run folder.

Environment variables change it for every notebook at once: GAN_LIB_TINY=1 (a tiny synthetic subset and a few
steps: the tests), GAN_LIB_SHOW_SOLUTIONS=1 (the solution cells show their answers: the tests too), GAN_LIB_DATA,
GAN_LIB_STEPS, GAN_LIB_RUN_DIR, and GAN_LIB_DRIVE=0 (Colab: keep runs off Drive).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from ..config import MAX_STEPS, Config
from ..data.datasets import why_unavailable
from ..data.loading import HOLDOUT_EVERY, SYNTHETIC_COUNT
from ..runs.recipes import RECIPES, for_device
from ..support.environment import count_setting, path_setting, switch_setting, text_setting
from ..support.runtime import resolve_device

DRIVE_MOUNT = Path("/content/drive")
DRIVE_FOLDER = DRIVE_MOUNT / "MyDrive" / "anime-face-gan"  # where every notebook keeps its runs on Colab
COURSE_DATA = "anime-faces"  # the dataset the course trains on, where it can be had
KAGGLE_WORKING = Path("/kaggle/working")  # Kaggle Notebooks' writable, saved output folder


TINY_BANNER = ("TINY MODE (GAN_LIB_TINY=1): a {steps}-step smoke run on {count} synthetic faces, to check that every "
               "cell runs. The text describes a full run; numbers and figures here will not match it.")


def tiny_mode() -> bool:
    """GAN_LIB_TINY=1 (set by CI and the test command): notebooks use a tiny synthetic subset and a few steps."""
    return switch_setting("GAN_LIB_TINY")


def show_solutions() -> bool:
    """GAN_LIB_SHOW_SOLUTIONS=1 (set by the tests): every solution cell shows its answer when it runs. Off by
    default, so that "Run all" shows no answer before the learner asks for it."""
    return switch_setting("GAN_LIB_SHOW_SOLUTIONS")


SOLUTION_HIDDEN = ("solution hidden: set SHOW_SOLUTIONS = True in the cell under \"Exercises\", run that cell, then "
                   "this one")


def steps_setting(default: int) -> int:
    """$GAN_LIB_STEPS, a whole number of steps, or the default."""
    return count_setting("GAN_LIB_STEPS", default, 1, MAX_STEPS, "training steps")


def platform() -> str:
    """'colab', 'kaggle' or 'local'."""
    if "google.colab" in sys.modules:
        return "colab"
    if os.environ.get("KAGGLE_KERNEL_RUN_TYPE") or KAGGLE_WORKING.is_dir():
        return "kaggle"
    return "local"


def device_kind() -> str:
    """The kind of device the notebooks train on ('cpu', 'cuda' or 'mps'): the CLI's --device auto."""
    return resolve_device("auto").type


@dataclass
class CourseSettings:
    """What the notebooks train on and where they keep the run, in one place for all of them."""

    data: str  # 'synthetic', a dataset name or a folder
    config: Config
    steps: int
    locate_run: Callable[[], Path]  # where the run goes; called once, when a notebook first needs it (Drive mounts)
    clinic_steps: int  # each of notebook 03's failure-clinic runs (synthetic faces, 32 px): the device's recipe
    synthetic_count: int = SYNTHETIC_COUNT
    holdout: int = HOLDOUT_EVERY  # one image in eight is held out of training, to score the run on faces it never saw
    toy_steps: int = 2000  # notebook 03's 2-D toy GAN
    beyond_steps: int = 1000  # each of notebook 05's runs: one per loss, and the conditional DCGAN (synthetic, 32 px)
    critic_steps: int = 400  # notebook 05's 1-D critics
    style_steps: int = 1000  # each of notebook 06's runs: the DCGAN and the style-based G (synthetic, 32 px)
    style_measure: int = 2000  # notebook 06's faces per measurement (truncation, z against w)
    style_real_steps: int = 500  # each of notebook 06's runs on the real faces (32 px)

    @cached_property
    def run_dir(self) -> Path:
        """The run folder; on Colab, asking for it mounts Google Drive (so notebooks 01 and 02 never ask)."""
        return self.locate_run()

    def run_dir_for(self, changes: dict) -> Path:
        """The run folder for the default recipe with `changes`: the course's own run (notebook 03's, which the
        capstone then reuses) when there are none, else a folder beside it named after them."""
        if not changes:
            return self.run_dir
        name = "-".join(f"{key}={value}" for key, value in sorted(changes.items()))
        return self.run_dir.with_name(f"{self.run_dir.name}-{name}".replace("/", "_").replace(",", "+"))

    @property
    def img_dir(self) -> Path:
        """The repository's img/ when a notebook runs inside it (not in tiny mode), else runs/img (never on Drive)."""
        repo_img = Path(__file__).resolve().parents[2] / "img"  # gan_lib/course/settings.py -> the repository
        return repo_img if repo_img.is_dir() and not tiny_mode() else Path("runs") / "img"


def run_folder(chosen: Path | None, drive: bool, name: str = "course") -> Path:
    """`chosen` ($GAN_LIB_RUN_DIR) if given, else: on Colab with `drive` ($GAN_LIB_DRIVE) a folder on Google Drive
    (mounted here; it survives a disconnect, and every notebook finds it), on Kaggle /kaggle/working/runs/<name>,
    locally runs/<name>."""
    if chosen is not None:
        return chosen
    where = platform()
    if where == "colab" and drive:
        from google.colab import drive as colab_drive

        colab_drive.mount(str(DRIVE_MOUNT))  # asks for access the first time in each runtime
        return DRIVE_FOLDER / name
    if where == "kaggle":
        return KAGGLE_WORKING / "runs" / name
    return Path("runs") / name


def course_data() -> str:
    """$GAN_LIB_DATA; else the Anime Face Dataset where it is on disk or can be downloaded, else (offline, or without
    Kaggle credentials) the synthetic faces, said in one line that says how to get the real ones."""
    if "GAN_LIB_DATA" in os.environ:
        return text_setting("GAN_LIB_DATA", COURSE_DATA)
    if why := why_unavailable(COURSE_DATA):
        print(f"{COURSE_DATA}: {why}, so this notebook uses the synthetic faces (built in, offline); for the real "
              "faces set KAGGLE_USERNAME and KAGGLE_KEY (on Colab: secrets of those names; or ~/.kaggle/kaggle.json) "
              "and run again, or set GAN_LIB_DATA to a folder of faces")
        return "synthetic"
    return COURSE_DATA


def course_settings(drive: bool | None = None) -> CourseSettings:
    """Tiny under GAN_LIB_TINY=1 (the tiny recipe); else the real dataset (course_data) at
    the size and length that suit the device (recipes.for_device, as `train` picks them): 32 px and 3,000 steps on
    a CPU (about 10 minutes on 2 cores), 64 px and 5,000 on a GPU."""
    if tiny_mode():
        tiny = CourseSettings("synthetic", Config(**RECIPES["tiny"]), steps=40,
                              locate_run=lambda: Path("runs/course-tiny"), synthetic_count=512, toy_steps=100,
                              clinic_steps=20, beyond_steps=20, critic_steps=50, style_steps=20,
                              style_measure=200, style_real_steps=20)
        print(TINY_BANNER.format(steps=tiny.steps, count=tiny.synthetic_count))
        return tiny
    # every setting is read and checked now, once, though the folder is located when a notebook first needs it
    chosen = path_setting("GAN_LIB_RUN_DIR", Path("runs")) if "GAN_LIB_RUN_DIR" in os.environ else None
    drive = switch_setting("GAN_LIB_DRIVE", default=True) if drive is None else drive
    device = for_device(device_kind())
    return CourseSettings(course_data(), device.config(), steps_setting(device.steps),
                          lambda: run_folder(chosen, drive), clinic_steps=device.clinic_steps)
