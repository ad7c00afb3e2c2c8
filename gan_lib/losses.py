"""The adversarial losses, defined once: the trainer's step, the 2-D toy GAN and the theory figures all call these.

D outputs a logit (a real number, no sigmoid); every loss below takes logits, which is what keeps it numerically
stable (binary_cross_entropy_with_logits fuses the sigmoid and the log). A new loss is a new class with the same two
methods, and `for_config` returns it: the training step never changes.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .config import Config


def discriminator_bce(logits_real: torch.Tensor, logits_fake: torch.Tensor, real_label: float = 1.0,
                      fake_label: float = 0.0) -> torch.Tensor:
    """D's loss: binary cross-entropy with targets real_label for real images and fake_label for generated ones.

    With the labels 1 and 0 this is -[log D(x) + log(1 - D(G(z)))], the negated value of the GAN game; a
    real_label of 1 - a is one-sided label smoothing (Salimans et al. 2016)."""
    return (F.binary_cross_entropy_with_logits(logits_real, torch.full_like(logits_real, real_label))
            + F.binary_cross_entropy_with_logits(logits_fake, torch.full_like(logits_fake, fake_label)))


def generator_non_saturating(logits_fake: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    """G's loss -log D(G(z)): strong gradients while D still rejects G's images (what every DCGAN uses)."""
    return F.binary_cross_entropy_with_logits(logits_fake, torch.ones_like(logits_fake), reduction=reduction)


def generator_saturating(logits_fake: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    """G's loss log(1 - D(G(z))), the minimax game as written: its gradient vanishes while D rejects G's images."""
    return -F.binary_cross_entropy_with_logits(logits_fake, torch.zeros_like(logits_fake), reduction=reduction)


GENERATOR_LOSSES = {"non-saturating": generator_non_saturating, "saturating": generator_saturating}


@dataclass(frozen=True)
class NonSaturatingGAN:
    """The DCGAN paper's losses: D's binary cross-entropy (optionally smoothed) and G's non-saturating loss."""

    real_label: float = 1.0
    fake_label: float = 0.0

    def discriminator(self, logits_real: torch.Tensor, logits_fake: torch.Tensor) -> torch.Tensor:
        return discriminator_bce(logits_real, logits_fake, self.real_label, self.fake_label)

    def generator(self, logits_fake: torch.Tensor) -> torch.Tensor:
        return generator_non_saturating(logits_fake)


def for_config(cfg: Config) -> NonSaturatingGAN:
    """The loss a config trains with (one-sided smoothing: D's target for real images is 1 - label_smoothing)."""
    return NonSaturatingGAN(real_label=1.0 - cfg.label_smoothing, fake_label=cfg.fake_label)
