"""Every hyperparameter in one dataclass, with the seeds' DCGAN defaults."""

from __future__ import annotations

import hashlib
import os
import sys
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import torch

from .errors import GanLibError

IMAGE_SIZES = (32, 64, 128)


def derive_seed(*parts: object) -> int:
    """A 63-bit seed that is a pure function of its parts, e.g. (run seed, "noise", step)."""
    digest = hashlib.blake2b(repr(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") >> 1


def seeded(g: torch.Generator, *key: object) -> torch.Generator:
    """g reseeded with derive_seed(*key): draws from it happen on g's device, with no copy from the host."""
    return g.manual_seed(derive_seed(*key))


@dataclass
class Config:
    """Model, optimiser and run settings; saved inside every checkpoint.

    The defaults are the seeds' DCGAN recipe plus what measurably improved it (benchmarks/quality.py): an EMA of
    G's weights and one-sided label smoothing. Config(**SEEDS_RECIPE) is the seeds' recipe alone.
    """

    # model
    image_size: int = 64
    latent_dim: int = 100
    g_width: int = 64  # G's channels at its last hidden layer (ngf)
    d_width: int = 64  # D's channels at its first layer (ndf)
    dense_projection: bool = False  # the seeds' variant: G starts with a dense layer to 4x4xC
    # optimisation
    batch_size: int = 64
    lr_g: float = 2e-4
    lr_d: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    label_smoothing: float = 0.1  # one-sided: D's target for real images is 1 - label_smoothing (seeds: 0)
    # beyond the seeds' recipe
    ema_decay: float = 0.99  # samples and evaluation use G's weights averaged with this decay; 0 turns it off
    augment: str = ""  # DiffAugment for D: a comma list of color, translation, cutout; "" turns it off
    spectral_norm: bool = False  # spectral normalisation on D's convolutions (D then has no BatchNorm)
    # speed: "auto" picks the fastest safe choice for the device (on the CPU: all off, results bit-exact)
    amp: str = "auto"  # mixed precision: auto, bf16, fp16 or off
    channels_last: str = "auto"  # auto, on or off
    fused_adam: str = "auto"  # auto, on or off
    compile: bool = False  # torch.compile G and D
    # several processes (torchrun): batch_size is the global batch, each of N processes trains on batch_size / N
    sync_batchnorm: bool = False  # BatchNorm statistics over the global batch instead of each process's share
    # run
    seed: int = 0
    log_every: int = 25  # steps between reading losses back from the device
    sample_every: int = 200  # steps between sample grids from the fixed noise
    checkpoint_every: int = 500  # steps between checkpoints (also written at the end)

    def __post_init__(self) -> None:
        if self.image_size not in IMAGE_SIZES:
            raise GanLibError(f"image size {self.image_size} is not supported: choose one of {IMAGE_SIZES}")
        for name in ("latent_dim", "g_width", "d_width", "batch_size", "log_every", "sample_every",
                     "checkpoint_every"):
            if getattr(self, name) < 1:
                raise GanLibError(f"{name} must be a positive integer, got {getattr(self, name)}")
        for name in ("lr_g", "lr_d"):
            if not 0.0 < getattr(self, name) < 1.0:  # also refuses NaN
                raise GanLibError(f"{name} must be a learning rate between 0 and 1, got {getattr(self, name)}")
        for name in ("beta1", "beta2"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise GanLibError(f"{name} must be in [0, 1), got {getattr(self, name)}")
        if not 0.0 <= self.label_smoothing < 0.5:
            raise GanLibError(f"label_smoothing must be in [0, 0.5), got {self.label_smoothing}")
        if not 0.0 <= self.ema_decay < 1.0:
            raise GanLibError(f"ema_decay must be in [0, 1), got {self.ema_decay}")
        for name, allowed in (("amp", ("auto", "bf16", "fp16", "off")), ("channels_last", ("auto", "on", "off")),
                              ("fused_adam", ("auto", "on", "off"))):
            if getattr(self, name) not in allowed:
                raise GanLibError(f"{name} must be one of {', '.join(allowed)}, got {getattr(self, name)!r}")
        from .augment import parse_policy

        parse_policy(self.augment)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> Config:
        """Build from a dict, ignoring keys this version does not know (older or newer checkpoints)."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})


# The seeds' DCGAN recipe, for comparison with ours (benchmarks/quality.py): Config(**SEEDS_RECIPE).
SEEDS_RECIPE = {"ema_decay": 0.0, "augment": "", "spectral_norm": False, "lr_g": 2e-4, "lr_d": 2e-4,
                "label_smoothing": 0.0}


def tiny_mode() -> bool:
    """GAN_LIB_TINY=1 (set by CI and the test command): notebooks use a tiny synthetic subset and a few steps."""
    return os.environ.get("GAN_LIB_TINY", "") not in ("", "0")


def on_colab() -> bool:
    return "google.colab" in sys.modules


@dataclass
class CourseSettings:
    """What the notebooks train on and where they keep the run, in one place for all of them."""

    data: str  # 'synthetic', a dataset name or a folder
    config: Config
    steps: int
    run_dir: Path
    synthetic_count: int = 10_000
    holdout: int = 8  # one image in eight is held out of training, to score the run on faces it never saw

    @property
    def img_dir(self) -> Path:
        """The repository's img/ when a notebook runs inside it (not in tiny mode), else the run folder's img/."""
        repo_img = Path(__file__).resolve().parent.parent / "img"
        return repo_img if repo_img.is_dir() and not tiny_mode() else self.run_dir / "img"


def course_settings(drive: bool = False) -> CourseSettings:
    """Tiny under GAN_LIB_TINY=1; else the real dataset ($GAN_LIB_DATA, default anime-faces) and a real length.

    drive=True on Colab keeps the run on Google Drive, so that it survives a disconnected runtime.
    """
    if tiny_mode():
        cfg = Config(image_size=32, g_width=16, d_width=16, batch_size=32, sample_every=10, checkpoint_every=20,
                     log_every=5)
        return CourseSettings("synthetic", cfg, steps=40, run_dir=Path("runs/course-tiny"), synthetic_count=512)
    run_dir = Path(os.environ.get("GAN_LIB_RUN_DIR", "runs/course"))
    if drive and on_colab():
        from google.colab import drive as colab_drive

        colab_drive.mount("/content/drive")
        run_dir = Path("/content/drive/MyDrive/anime-face-gan") / run_dir.name
    steps = int(os.environ.get("GAN_LIB_STEPS", "5000"))
    return CourseSettings(os.environ.get("GAN_LIB_DATA", "anime-faces"), Config(), steps, run_dir)
