"""The adversarial losses, defined once: the trainer's step, the 2-D toy GAN and the theory figures all call these.

D outputs a logit (a real number, no sigmoid); every loss below takes logits, which is what keeps it numerically
stable (binary_cross_entropy_with_logits fuses the sigmoid and the log). A new loss is a new class with the same
methods (D's loss, G's loss, and a penalty on D, none by default) and a row of LOSSES, which names it for the Config
and the command line: the training step never changes. R1, a penalty any of them can take, wraps the loss (WithR1).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, NamedTuple

import torch
import torch.nn.functional as F

from .support.errors import GanLibError
from .support.runtime import my_part, seeded


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


def discriminator_hinge(logits_real: torch.Tensor, logits_fake: torch.Tensor) -> torch.Tensor:
    """D's hinge loss (SAGAN, BigGAN): real logits are pushed above 1 and fake ones below -1, and no further."""
    return F.relu(1 - logits_real).mean() + F.relu(1 + logits_fake).mean()


def generator_mean_logit(logits_fake: torch.Tensor) -> torch.Tensor:
    """G's loss under the hinge and Wasserstein losses: raise D's mean score of its images."""
    return -logits_fake.mean()


def critic_wasserstein(logits_real: torch.Tensor, logits_fake: torch.Tensor) -> torch.Tensor:
    """The critic's loss in WGAN: its mean score of generated images minus that of real ones. Minimised, the
    difference estimates the Wasserstein-1 distance, if the critic is 1-Lipschitz (the penalty's job)."""
    return logits_fake.mean() - logits_real.mean()


def gradient_penalty(critic, real: torch.Tensor, fake: torch.Tensor,
                     rng: torch.Generator | None = None) -> torch.Tensor:
    """WGAN-GP's penalty (Gulrajani et al. 2017): the mean of (|grad_x critic(x)| - 1)^2 at points x drawn uniformly
    on the lines between paired real and generated images; differentiable, so that D learns to keep it small."""
    alpha = my_part(lambda n: torch.rand(n, *[1] * (real.dim() - 1), generator=rng, device=real.device,
                                         dtype=real.dtype), len(real))  # under torchrun, this process's share
    between = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
    grad, = torch.autograd.grad(critic(between).sum(), between, create_graph=True)
    return (grad.flatten(1).norm(dim=1) - 1).pow(2).mean()


def r1_penalty(D, real: torch.Tensor) -> torch.Tensor:
    """R1 (Mescheder et al. 2018, StyleGAN's D): the mean over real images of |grad_x D(x)|^2, differentiable. It
    pulls D's surface flat where the real images are, so that D cannot keep climbing there once G matches them."""
    real = real.detach().requires_grad_(True)
    grad, = torch.autograd.grad(D(real).sum(), real, create_graph=True)
    return grad.float().square().flatten(1).sum(1).mean()


class Scores(NamedTuple):
    """How a loss's diagnostics read: the history's d_real and d_fake columns, and their plot."""

    real: str  # the label of d_real
    fake: str  # the label of d_fake
    axis: str  # what they are
    probabilities: bool  # in [0, 1] (BCE's sigmoid), or any real number (a critic's score)


class AdversarialLoss:
    """What the training step asks a loss for: D's loss, G's loss, a penalty added to D's (none here), and how D is
    doing: its mean score of real and of generated images (a critic's scores mean nothing as probabilities)."""

    scores = Scores("mean score, real", "mean score, generated", "D's mean score (logit)", probabilities=False)
    remedy = ""  # a new run's setting that steadies this loss, for the advice after a divergence
    settings: ClassVar[tuple[str, ...]] = ()  # the config's settings that this loss alone reads

    @classmethod
    def configured(cls, label_smoothing: float, fake_label: float, gp_weight: float, seed: int) -> AdversarialLoss:
        """This loss with the settings it reads."""
        return cls()

    def diagnostics(self, logits_real: torch.Tensor, logits_fake: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The step's d_real and d_fake, read as `scores` says."""
        return logits_real.mean(), logits_fake.mean()

    def penalty(self, D, real: torch.Tensor, fake: torch.Tensor, key: tuple[int, ...]) -> torch.Tensor | float:
        """A term added to D's loss; `key` (the training step, and D's repeat) keys its random draws."""
        return 0.0


@dataclass(frozen=True)
class NonSaturatingGAN(AdversarialLoss):
    """The DCGAN paper's losses: D's binary cross-entropy (optionally smoothed) and G's non-saturating loss."""

    real_label: float = 1.0
    fake_label: float = 0.0
    scores = Scores("D(x), real", "D(G(z)), generated", "mean D output", probabilities=True)
    remedy = "more label smoothing (--label-smoothing 0.2)"
    settings = ("label_smoothing", "fake_label")

    @classmethod
    def configured(cls, label_smoothing: float, fake_label: float, gp_weight: float, seed: int) -> NonSaturatingGAN:
        """One-sided smoothing: D's target for real images is 1 - label_smoothing."""
        return cls(real_label=1.0 - label_smoothing, fake_label=fake_label)

    def diagnostics(self, logits_real: torch.Tensor, logits_fake: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """D(x) and D(G(z)): the mean probability D gives real and generated images of being real."""
        return logits_real.sigmoid().mean(), logits_fake.sigmoid().mean()

    def discriminator(self, logits_real: torch.Tensor, logits_fake: torch.Tensor) -> torch.Tensor:
        return discriminator_bce(logits_real, logits_fake, self.real_label, self.fake_label)

    def generator(self, logits_fake: torch.Tensor) -> torch.Tensor:
        return generator_non_saturating(logits_fake)


@dataclass(frozen=True)
class Hinge(AdversarialLoss):
    """The hinge loss of SAGAN and BigGAN."""

    remedy = "spectral normalisation on D (--spectral-norm)"

    def discriminator(self, logits_real: torch.Tensor, logits_fake: torch.Tensor) -> torch.Tensor:
        return discriminator_hinge(logits_real, logits_fake)

    def generator(self, logits_fake: torch.Tensor) -> torch.Tensor:
        return generator_mean_logit(logits_fake)


@dataclass(frozen=True)
class WassersteinGP(AdversarialLoss):
    """WGAN-GP: the Wasserstein critic loss with a gradient penalty of weight `weight`, its random points a pure
    function of (seed, key), so that a resumed run draws the same ones."""

    weight: float = 10.0
    seed: int = 0
    remedy = "the paper's recipe (--lr-g 1e-4 --lr-d 1e-4 --beta1 0 --beta2 0.9 --d-steps 5)"
    settings = ("gp_weight",)

    @classmethod
    def configured(cls, label_smoothing: float, fake_label: float, gp_weight: float, seed: int) -> WassersteinGP:
        return cls(gp_weight, seed)

    def discriminator(self, logits_real: torch.Tensor, logits_fake: torch.Tensor) -> torch.Tensor:
        return critic_wasserstein(logits_real, logits_fake)

    def generator(self, logits_fake: torch.Tensor) -> torch.Tensor:
        return generator_mean_logit(logits_fake)

    def penalty(self, D, real: torch.Tensor, fake: torch.Tensor, key: tuple[int, ...]) -> torch.Tensor:
        rng = seeded(torch.Generator(real.device), self.seed, "penalty", *key)
        return self.weight * gradient_penalty(D, real, fake, rng)


@dataclass(frozen=True)
class WithR1(AdversarialLoss):
    """A loss with R1 added to D's: its own terms and penalty, plus gamma / 2 times r1_penalty."""

    loss: AdversarialLoss
    gamma: float

    @property
    def scores(self) -> Scores:
        return self.loss.scores

    @property
    def remedy(self) -> str:
        return self.loss.remedy

    def diagnostics(self, logits_real: torch.Tensor, logits_fake: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.loss.diagnostics(logits_real, logits_fake)

    def discriminator(self, logits_real: torch.Tensor, logits_fake: torch.Tensor) -> torch.Tensor:
        return self.loss.discriminator(logits_real, logits_fake)

    def generator(self, logits_fake: torch.Tensor) -> torch.Tensor:
        return self.loss.generator(logits_fake)

    def penalty(self, D, real: torch.Tensor, fake: torch.Tensor, key: tuple[int, ...]) -> torch.Tensor:
        return self.loss.penalty(D, real, fake, key) + self.gamma / 2 * r1_penalty(D, real)


# Every loss, by the name a config gives it (Config.loss, train --loss): the Config's choices, the settings each
# loss alone reads and the command line's help all come from this table. A new loss is a class and a row here.
LOSSES: dict[str, type[AdversarialLoss]] = {"bce": NonSaturatingGAN, "hinge": Hinge, "wgan-gp": WassersteinGP}


def by_name(name: str, label_smoothing: float = 0.0, fake_label: float = 0.0, gp_weight: float = 10.0,
            seed: int = 0, r1_gamma: float = 0.0) -> AdversarialLoss:
    """The loss called `name` (a key of LOSSES); the smoothing labels apply to bce, gp_weight to wgan-gp, and
    R1 (r1_gamma above 0) to any."""
    if name not in LOSSES:
        raise GanLibError(f"loss must be one of {', '.join(LOSSES)}, got {name!r}")
    loss = LOSSES[name].configured(label_smoothing, fake_label, gp_weight, seed)
    return WithR1(loss, r1_gamma) if r1_gamma else loss


def for_config(cfg) -> AdversarialLoss:
    """The loss a config trains with: cfg.loss; for bce, one-sided smoothing (D's target for real images is
    1 - label_smoothing; label_smoothing and fake_label apply to bce only); R1 on D where cfg.r1_gamma > 0."""
    return by_name(cfg.loss, cfg.label_smoothing, cfg.fake_label, cfg.gp_weight, cfg.seed, cfg.r1_gamma)
