"""Every hyperparameter in one dataclass, with the seeds' DCGAN defaults."""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, fields

from .errors import GanLibError

IMAGE_SIZES = (32, 64, 128)


def derive_seed(*parts: object) -> int:
    """A 63-bit seed that is a pure function of its parts, e.g. (run seed, "noise", step)."""
    digest = hashlib.blake2b(repr(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") >> 1


@dataclass
class Config:
    """Model, optimiser and run settings; saved inside every checkpoint."""

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
    label_smoothing: float = 0.0  # one-sided: D's target for real images is 1 - label_smoothing
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
        if not 0.0 <= self.label_smoothing < 0.5:
            raise GanLibError(f"label_smoothing must be in [0, 0.5), got {self.label_smoothing}")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> Config:
        """Build from a dict, ignoring keys this version does not know (older or newer checkpoints)."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})
