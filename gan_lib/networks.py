"""The networks a config asks for: the generator of its architecture (cfg.arch: the DCGAN's, or the style-based
one) and the DCGAN discriminator, seeded from the config."""

from __future__ import annotations

import torch
from torch import nn

from .models import Discriminator, Generator
from .style import StyleGenerator

# Every architecture of G, by the name a config gives it (Config.arch, train --arch): the Config's choices and the
# command line's help come from this table. A new architecture is a module of the core and a row here.
GENERATORS = {"dcgan": Generator, "style": StyleGenerator}


def build_generator(cfg) -> nn.Module:
    """A new generator of cfg.arch (its weights drawn from the global generator)."""
    return GENERATORS[cfg.arch](cfg)


def build_models(cfg, device: torch.device | str = "cpu") -> tuple[nn.Module, Discriminator]:
    """G and D for this config, seeded from cfg.seed so the same seed gives the same weights."""
    torch.manual_seed(cfg.seed)
    return build_generator(cfg).to(device), Discriminator(cfg).to(device)
