"""Notebook 05's implement-it checks: the critic's Wasserstein loss, the gradient penalty and D's hinge loss."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from torch.nn import functional as F

from .. import losses
from .architecture import LOGIT_CASES
from .verdicts import implementation_verdict


def check_critic_loss(critic_loss: Callable) -> None:
    """critic_loss(logits_real, logits_fake) against losses.critic_wasserstein."""
    print(implementation_verdict("the critic's loss", critic_loss, losses.critic_wasserstein, list(LOGIT_CASES), {
        "the wrong sign (the critic minimises E[f(fake)] - E[f(real)]: it raises its score of real images)":
            lambda r, f: r.mean() - f.mean(),
        "BCE (a critic's scores are not probabilities: no sigmoid, no log)":
            lambda r, f: losses.discriminator_bce(r, f),
        "the sum over the batch (the loss is the difference of two means)": lambda r, f: f.sum() - r.sum(),
    }))


def check_hinge_loss(hinge_loss: Callable) -> None:
    """hinge_loss(logits_real, logits_fake) against losses.discriminator_hinge."""
    print(implementation_verdict("D's hinge loss", hinge_loss, losses.discriminator_hinge, list(LOGIT_CASES), {
        "no hinge (without relu it is the Wasserstein critic's loss, unbounded)":
            lambda r, f: (1 - r).mean() + (1 + f).mean(),
        "the margins swapped (real logits are pushed above +1, fake ones below -1)":
            lambda r, f: F.relu(1 + r).mean() + F.relu(1 - f).mean(),
        "a margin of 0 (the hinge is at 1: relu(1 - real) + relu(1 + fake))":
            lambda r, f: F.relu(-r).mean() + F.relu(f).mean(),
    }))


def _linear_critic(norm: float) -> Callable[[torch.Tensor], torch.Tensor]:
    """A critic f(x) = <w, x> on (3, 8, 8) images whose gradient has the given norm everywhere."""
    w = torch.full((3, 8, 8), norm / (3 * 8 * 8) ** 0.5)
    return lambda x: (x * w).flatten(1).sum(1)


def _quadratic_critic(x: torch.Tensor) -> torch.Tensor:
    """f(x) = |x|^2 / 2, whose gradient at x is x itself: each image's gradient has its own norm."""
    return 0.5 * x.flatten(1).pow(2).sum(1)


def _penalty_cases() -> list[tuple]:
    """(critic, real, fake, rng): a linear critic of gradient norm 3 (penalty 4) and of norm 1 (penalty 0), where
    the points fall does not matter; then real = fake of norms 0.5, 2 and 3, where the gradient at each point
    is the point itself (penalty the mean of (norm - 1)^2 = 1.75)."""
    rng = torch.Generator().manual_seed(0)
    real, fake = torch.randn(4, 3, 8, 8, generator=rng), torch.randn(4, 3, 8, 8, generator=rng)
    x = torch.randn(3, 3, 8, 8, generator=rng)
    x = torch.tensor([0.5, 2.0, 3.0]).view(3, 1, 1, 1) * x / x.flatten(1).norm(dim=1).view(3, 1, 1, 1)
    return [(_linear_critic(3.0), real, fake, torch.Generator().manual_seed(1)),
            (_linear_critic(1.0), real, fake, torch.Generator().manual_seed(1)),
            (_quadratic_critic, x, x.clone(), torch.Generator().manual_seed(1))]


def _penalty_gradient(penalty: Callable) -> torch.Tensor:
    """The gradient that a penalty sends into a small convolutional critic's weights (it must train the critic)."""
    torch.manual_seed(0)
    critic = nn.Sequential(nn.Conv2d(3, 4, 4, 2, 1), nn.LeakyReLU(0.2), nn.Flatten(), nn.Linear(64, 1), nn.Flatten(0))
    real, fake = torch.randn(4, 3, 8, 8), torch.randn(4, 3, 8, 8)
    value = penalty(critic, real, fake, torch.Generator().manual_seed(2))
    if not isinstance(value, torch.Tensor) or not value.requires_grad:
        raise ValueError("the penalty is not differentiable with respect to the critic's weights (torch.autograd."
                         "grad needs create_graph=True)")
    value.backward()
    return critic[0].weight.grad.clone()


def _whole_batch_norm(critic, real, fake, rng):
    alpha = torch.rand(len(real), 1, 1, 1, generator=rng)
    between = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
    grad, = torch.autograd.grad(critic(between).sum(), between, create_graph=True)
    return (grad.norm() - 1).pow(2)


def check_gradient_penalty(gradient_penalty: Callable) -> None:
    """gradient_penalty(critic, real, fake, rng) against losses.gradient_penalty: known answers, then the gradient
    it sends into a critic's weights."""
    def no_square(critic, real, fake, rng):
        return losses.gradient_penalty(critic, real, fake, rng).sqrt()

    def no_one(critic, real, fake, rng):
        alpha = torch.rand(len(real), 1, 1, 1, generator=rng)
        between = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
        grad, = torch.autograd.grad(critic(between).sum(), between, create_graph=True)
        return grad.flatten(1).norm(dim=1).pow(2).mean()

    line = implementation_verdict("the gradient penalty", gradient_penalty, losses.gradient_penalty, _penalty_cases(), {
        "the norm of the whole batch's gradient (the penalty is per image: grad.flatten(1).norm(dim=1))":
            _whole_batch_norm,
        "(|grad| - 1) not squared (the penalty is the mean of (|grad| - 1)^2)": no_square,
        "|grad|^2 without the 1 (the penalty pulls the norm towards 1, not 0)": no_one,
    })
    if line.endswith(": right"):
        try:
            same = torch.allclose(_penalty_gradient(gradient_penalty), _penalty_gradient(losses.gradient_penalty),
                                  atol=1e-6)
            line = line if same else ("the gradient penalty: not yet, its value is right but the gradient it sends "
                                      "into the critic's weights is not")
        except Exception as exc:  # the learner's code
            line = f"the gradient penalty: not yet, {type(exc).__name__}: {exc}"
    print(line)
