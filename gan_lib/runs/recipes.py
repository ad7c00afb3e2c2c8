"""Named training recipes (changes to Config's defaults) and what suits each kind of device: one place for both,
read by the CLI (`train --recipe NAME`, the defaults of a new run), make, the notebooks and the benchmarks, so that
no two of them can disagree about a device."""

from __future__ import annotations

from dataclasses import dataclass

from ..config import Config

# What a CPU's budget buys at 64 px: more steps of widths 32 than of 64, and they score better (benchmarks/quality.py
# --minutes); a GPU trains the DCGAN paper's widths.
CPU_WIDTHS_AT_64 = 32

# The DCGAN paper's recipe (Radford et al. 2016), for comparison with ours (benchmarks/quality.py)
DCGAN_RECIPE = {"ema_decay": 0.0, "augment": "", "spectral_norm": False, "lr_g": 2e-4, "lr_d": 2e-4,
                "label_smoothing": 0.0}
_CLINIC_BASE = {"image_size": 32, "g_width": 32, "d_width": 32, "log_every": 5, "sample_every": 10**6,
                "checkpoint_every": 10**6}

RECIPES: dict[str, dict] = {
    "default": {},  # ours: the DCGAN paper's recipe, an EMA of G and one-sided label smoothing (config.Config)
    "dcgan": DCGAN_RECIPE,  # the paper's alone
    # the course's own runs: the test command's tiny one, and make demo's
    "tiny": {"image_size": 32, "g_width": 16, "d_width": 16, "batch_size": 32, "sample_every": 10,
             "checkpoint_every": 20, "log_every": 5},
    "demo": {"image_size": 32, "g_width": 32, "d_width": 32, "sample_every": 200, "checkpoint_every": 100},
    # notebook 03's failure clinic: the demo's widths, one change each (CLINIC names them)
    "clinic": _CLINIC_BASE,
    "clinic+sn": {**_CLINIC_BASE, "spectral_norm": True},
    "clinic+ema999": {**_CLINIC_BASE, "ema_decay": 0.999},
    "clinic+lr-x10": {**_CLINIC_BASE, "lr_g": 2e-3, "lr_d": 2e-3},
    "clinic+fake-smoothed": {**_CLINIC_BASE, "fake_label": 0.1},
    # benchmarks/quality.py's ablations of the paper's recipe, and of ours
    "dcgan+ema": {**DCGAN_RECIPE, "ema_decay": 0.99},
    "dcgan+ema999": {**DCGAN_RECIPE, "ema_decay": 0.999},
    "dcgan+smoothing": {**DCGAN_RECIPE, "label_smoothing": 0.1},
    "dcgan+diffaugment": {**DCGAN_RECIPE, "augment": "color,translation,cutout"},
    "dcgan+translation": {**DCGAN_RECIPE, "augment": "color,translation"},
    "dcgan+ttur": {**DCGAN_RECIPE, "lr_d": 4e-4, "lr_g": 1e-4},
    "dcgan+sn": {**DCGAN_RECIPE, "spectral_norm": True},
    "dcgan+ema+smoothing": {**DCGAN_RECIPE, "ema_decay": 0.99, "label_smoothing": 0.1},
    "dcgan+ema+diffaugment": {**DCGAN_RECIPE, "ema_decay": 0.99, "augment": "color,translation,cutout"},
    "smoothing+ema999": {**DCGAN_RECIPE, "ema_decay": 0.999, "label_smoothing": 0.1},
    "smoothing+ema995": {**DCGAN_RECIPE, "ema_decay": 0.995, "label_smoothing": 0.1},
    "smoothing+ema+translation": {**DCGAN_RECIPE, "ema_decay": 0.99, "label_smoothing": 0.1,
                                  "augment": "color,translation"},
    "smoothing+ema+lr1e-4": {**DCGAN_RECIPE, "ema_decay": 0.99, "label_smoothing": 0.1, "lr_g": 1e-4, "lr_d": 1e-4},
    # other losses on top of our default (EMA 0.99); wgan-gp+paper: Gulrajani et al.'s Adam (lr 1e-4, betas 0, 0.9)
    "hinge": {"loss": "hinge"},
    "wgan-gp": {"loss": "wgan-gp"},
    "wgan-gp+paper": {"loss": "wgan-gp", "lr_g": 1e-4, "lr_d": 1e-4, "beta1": 0.0, "beta2": 0.9},
    # the style-based generator (gan_lib/style.py) with our default's losses and D
    "style": {"arch": "style"},
    # and with R1 on D (StyleGAN's regulariser), at two weights gamma
    "style+r1-0.1": {"arch": "style", "r1_gamma": 0.1},
    "style+r1-1": {"arch": "style", "r1_gamma": 1.0},
    # widths and learning rates on top of our default, for a budget of minutes (--minutes)
    **{f"w{w}": {"g_width": w, "d_width": w} for w in (16, 24, 32, 48, 64)},
    "w32+lr4e-4": {"g_width": 32, "d_width": 32, "lr_g": 4e-4, "lr_d": 4e-4},
    "w48+lr4e-4": {"g_width": 48, "d_width": 48, "lr_g": 4e-4, "lr_d": 4e-4},
    "w32+batch32": {"g_width": 32, "d_width": 32, "batch_size": 32},
}

# The clinic's runs as notebook 03's table names them.
CLINIC = {"default": "clinic", "spectral norm": "clinic+sn", "EMA 0.999": "clinic+ema999", "lr x10": "clinic+lr-x10",
          "fake side smoothed": "clinic+fake-smoothed"}


def recipe(name: str, **changes) -> Config:
    """The config of a named recipe, with `changes` over it (Config's defaults where neither says)."""
    return Config(**{**RECIPES[name], **changes})


@dataclass(frozen=True)
class DeviceRecipe:
    """What suits a kind of device: the size a run trains at when none is given, the widths at 64 px, and the
    length of the course's run (notebook 03 and make real) and of notebook 03's failure-clinic runs."""

    image_size: int
    steps: int
    clinic_steps: int
    narrow_at_64: bool = False  # widths CPU_WIDTHS_AT_64 at 64 px, where none are given

    def config(self, **given) -> Config:
        """A new run's config on this device: `given` (settings or a recipe's) over this device's defaults."""
        size = given.get("image_size", self.image_size)
        widths = {"g_width": CPU_WIDTHS_AT_64, "d_width": CPU_WIDTHS_AT_64} if self.narrow_at_64 and size == 64 else {}
        return Config(**{"image_size": self.image_size, **widths, **given})


def for_device(kind: str) -> DeviceRecipe:
    """The recipe for a device kind (torch.device.type): the CPU trains 32 px, 3,000 steps in about 10 minutes on 2
    cores (5x slower at 64 px); CUDA and Apple GPUs train 64 px, 5,000 steps."""
    if kind == "cpu":
        return DeviceRecipe(image_size=32, steps=3000, clinic_steps=600, narrow_at_64=True)
    return DeviceRecipe(image_size=64, steps=5000, clinic_steps=2000)
