"""The networks a config asks for: the generator of its architecture (cfg.arch: the DCGAN's, or the style-based
one) and the DCGAN discriminator, seeded from the config."""

from __future__ import annotations

import torch
from torch import nn

from .config import Config
from .models import Discriminator, Generator
from .style import StyleGenerator

GENERATORS = {"dcgan": Generator, "style": StyleGenerator}  # config.ARCHS names these


def build_generator(cfg: Config) -> nn.Module:
    """A new generator of cfg.arch (its weights drawn from the global generator)."""
    return GENERATORS[cfg.arch](cfg)


def build_models(cfg: Config, device: torch.device | str = "cpu") -> tuple[nn.Module, Discriminator]:
    """G and D for this config, seeded from cfg.seed so the same seed gives the same weights."""
    torch.manual_seed(cfg.seed)
    return build_generator(cfg).to(device), Discriminator(cfg).to(device)
