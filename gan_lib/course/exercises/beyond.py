"""Notebook 05's implement-it checks: the critic's Wasserstein loss, the gradient penalty and D's hinge loss."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from torch.nn import functional as F

from ... import losses
from ...models import Discriminator, Generator
from .architecture import D_LOSS_CASES
from .guard import preserved_state
from .verdicts import Case, Signature, implementation_verdict

# D's scores of real and of generated images: real above fake and below it, a batch of one, float64
SCORE_CASES = [Case(case.args[:2], case.about.split(", ", 1)[1]) for case in D_LOSS_CASES]
SCORES = ("logits_real", "logits_fake")


def check_critic_loss(critic_loss: Callable) -> None:
    """critic_loss(scores_real, scores_fake) against losses.critic_wasserstein, in value and gradients."""
    signature = Signature(SCORES, wrt=(0, 1), watched=(losses.critic_wasserstein,
                                                      losses.WassersteinGP.discriminator))
    print(implementation_verdict("the critic's loss", critic_loss, losses.critic_wasserstein, SCORE_CASES, signature, {
        "the wrong sign (the critic minimises E[f(fake)] - E[f(real)]: it raises its score of real images)":
            lambda r, f: r.mean() - f.mean(),
        "the absolute value (the loss goes below 0 as the critic tells real from fake, and must be free to)":
            lambda r, f: (f.mean() - r.mean()).abs(),
        "BCE (a critic's scores are not probabilities: no sigmoid, no log)": losses.discriminator_bce,
        "a sigmoid on the scores (a critic's scores are not probabilities: use them as they are)":
            lambda r, f: torch.sigmoid(f).mean() - torch.sigmoid(r).mean(),
        "the sum over the batch (the loss is the difference of two means)": lambda r, f: f.sum() - r.sum(),
        "G's loss, -E[f(fake)] (the critic's loss has a term for the real images too)": lambda r, f: -f.mean(),
    }))


def check_hinge_loss(hinge_loss: Callable) -> None:
    """hinge_loss(logits_real, logits_fake) against losses.discriminator_hinge, in value and gradients."""
    signature = Signature(SCORES, wrt=(0, 1), watched=(losses.discriminator_hinge, losses.Hinge.discriminator))
    print(implementation_verdict("D's hinge loss", hinge_loss, losses.discriminator_hinge, SCORE_CASES, signature, {
        "no hinge (without relu it is the Wasserstein critic's loss, unbounded)":
            lambda r, f: (1 - r).mean() + (1 + f).mean(),
        "the margins swapped (real logits are pushed above +1, fake ones below -1)":
            lambda r, f: F.relu(1 + r).mean() + F.relu(1 - f).mean(),
        "a margin of 0 (the hinge is at 1: relu(1 - real) + relu(1 + fake))":
            lambda r, f: F.relu(-r).mean() + F.relu(f).mean(),
        "the sum over the batch (each term is a mean over its batch)":
            lambda r, f: F.relu(1 - r).sum() + F.relu(1 + f).sum(),
        "one hinge on the difference of the means (each image's logit has its own hinge)":
            lambda r, f: F.relu(1 - r.mean() + f.mean()),
    }))


# --- The gradient penalty: critics whose gradients are known ---------------------------------------------------

def _rng(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


class LinearCritic(nn.Module):
    """f(x) = <w, x>, with |w| = slope: its gradient is w at every point, so the penalty is (slope - 1)^2 wherever
    the points fall."""

    def __init__(self, shape: tuple[int, ...], slope: float):
        super().__init__()
        w = torch.randn(shape, generator=_rng(7))
        self.w = nn.Parameter(w * slope / w.norm())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x * self.w).flatten(1).sum(1)


class QuadraticCritic(nn.Module):
    """f(x) = scale |x|^2 / 2 + <v, x>: its gradient scale * x + v depends on the point, so the penalty tells the
    interpolates from the real or the generated images, one alpha per image from one per batch or per pixel."""

    def __init__(self, shape: tuple[int, ...], scale: float):
        super().__init__()
        self.scale = nn.Parameter(torch.tensor(scale))
        self.v = nn.Parameter(torch.randn(shape, generator=_rng(8)) * 0.1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return 0.5 * self.scale * x.flatten(1).pow(2).sum(1) + (x * self.v).flatten(1).sum(1)


def _penalty_cases() -> list[Case]:
    real, fake = torch.randn(4, 3, 8, 8, generator=_rng(0)), torch.randn(4, 3, 8, 8, generator=_rng(1)) * 2 + 1
    small_real, small_fake = torch.randn(3, 1, 4, 4, generator=_rng(2)), torch.randn(3, 1, 4, 4, generator=_rng(3))
    return [Case((LinearCritic((3, 8, 8), 3.0), real, fake, _rng(4)),
                 "a critic of slope 3 everywhere: the penalty is (3 - 1)^2 = 4 wherever the points fall"),
            Case((LinearCritic((3, 8, 8), 1.0), real, fake, _rng(4)), "a critic of slope 1 everywhere: penalty 0"),
            Case((LinearCritic((3, 8, 8), 0.5), real, fake, _rng(4)),
                 "a critic of slope 0.5 everywhere: the penalty is (0.5 - 1)^2 = 0.25, both sides of 1 count"),
            Case((QuadraticCritic((3, 8, 8), 0.5), real, fake, _rng(5)),
                 "a critic whose slope depends on the point, real and generated images far apart"),
            Case((QuadraticCritic((1, 4, 4), 1.5), small_real, small_fake, _rng(6)), "three one-channel 4x4 images")]


def _mix(real: torch.Tensor, fake: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
    return alpha * real + (1 - alpha) * fake


def _gradient_at(critic, points: torch.Tensor, total=torch.sum) -> torch.Tensor:
    """The gradient of total(critic(points)) with respect to the points, itself differentiable."""
    points = points.detach().requires_grad_(True)
    grad, = torch.autograd.grad(total(critic(points)), points, create_graph=True)
    return grad


def _interpolates(real, fake, rng) -> torch.Tensor:
    return _mix(real, fake, torch.rand(len(real), *[1] * (real.dim() - 1), generator=rng))


def _penalty_at(points: Callable) -> Callable:
    """A penalty taken at points(real, fake, rng) instead of at per-image interpolates."""
    def penalty(critic, real, fake, rng):
        return (_gradient_at(critic, points(real, fake, rng)).flatten(1).norm(dim=1) - 1).pow(2).mean()
    return penalty


def _per_image_norms(critic, real, fake, rng, total=torch.sum) -> torch.Tensor:
    return _gradient_at(critic, _interpolates(real, fake, rng), total).flatten(1).norm(dim=1)


def _whole_batch_norm(critic, real, fake, rng):
    return (_gradient_at(critic, _interpolates(real, fake, rng)).norm() - 1).pow(2)


PENALTY_MISTAKES = {
    "the penalty at the real images (it is taken at random points between real and generated images)":
        _penalty_at(lambda r, f, g: r),
    "the penalty at the generated images (it is taken at random points between real and generated images)":
        _penalty_at(lambda r, f, g: f),
    "one alpha for the whole batch (draw one per image: torch.rand(len(real), 1, 1, 1, generator=rng))":
        _penalty_at(lambda r, f, g: _mix(r, f, torch.rand(1, generator=g))),
    "one alpha per pixel (draw one per image, of shape (len(real), 1, 1, 1), so that each point lies on the line "
    "between its two images)": _penalty_at(lambda r, f, g: _mix(r, f, torch.rand(r.shape, generator=g))),
    "the norm of the whole batch's gradient (the penalty is per image: grad.flatten(1).norm(dim=1))":
        _whole_batch_norm,
    "(|grad| - 1) not squared (the penalty is the mean of (|grad| - 1)^2)":
        lambda *a: (_per_image_norms(*a) - 1).mean(),
    "|grad| - 1 without the square (its absolute value; the penalty is the mean of (|grad| - 1)^2)":
        lambda *a: (_per_image_norms(*a) - 1).abs().mean(),
    "a one-sided penalty (WGAN-GP's is two-sided: slopes below 1 are penalised too, (|grad| - 1)^2 with no relu)":
        lambda *a: F.relu(_per_image_norms(*a) - 1).pow(2).mean(),
    "|grad|^2 without the 1 (the penalty pulls the norm towards 1, not 0)":
        lambda *a: _per_image_norms(*a).pow(2).mean(),
    "the gradient of the mean score (autograd.grad of critic(x).mean() divides each image's gradient by the batch "
    "size: take it of .sum(), since each score depends on its own image only)":
        lambda *a: (_per_image_norms(*a, total=torch.mean) - 1).pow(2).mean(),
}


def check_gradient_penalty(gradient_penalty: Callable) -> None:
    """gradient_penalty(critic, real, fake, rng) against losses.gradient_penalty on critics whose gradients are known,
    in value and in the gradient it sends into the critic's parameters; both orders of the interpolation
    (alpha * real + (1 - alpha) * fake, or alpha * fake + (1 - alpha) * real) are right."""
    signature = Signature(("critic", "real", "fake", "rng"), wrt=(0,),
                          watched=(losses.gradient_penalty, losses.WassersteinGP.penalty))
    with preserved_state():
        line = implementation_verdict("the gradient penalty", gradient_penalty, losses.gradient_penalty,
                                      _penalty_cases(), signature, PENALTY_MISTAKES,
                                      also_right=[lambda c, r, f, g: losses.gradient_penalty(c, f, r, g)])
        if ": not yet, on case" in line and not _draws_from(gradient_penalty, _penalty_cases()[2].args):
            line = ("the gradient penalty: not yet, it never draws from rng: draw alpha with torch.rand(len(real), 1, "
                    "1, 1, generator=rng), so that the check (and a resumed run) sees the same points")
    print(line)


def _draws_from(penalty: Callable, args: tuple) -> bool:
    critic, real, fake, rng = args
    fresh = torch.Generator().manual_seed(123)
    start = fresh.get_state()
    try:
        penalty(critic, real.clone(), fake.clone(), fresh)
    except Exception:  # the learner's code: it was judged already
        return True
    return not torch.equal(fresh.get_state(), start)


# --- The conditional DCGAN: the one-hot class, G's input, D's projection term ---------------------------------

def _labels(*values: int) -> torch.Tensor:
    return torch.tensor(values)


def check_one_hot(one_hot: Callable) -> None:
    """one_hot(labels, classes) -> (N, classes) float, against F.one_hot; the classes' count must be taken from the
    argument, not from the largest label present."""
    cases = [Case((_labels(0, 2, 1, 2), 4), "labels 0, 2, 1, 2 of 4 classes (the last class absent)"),
             Case((torch.arange(9) % 9, 9), "each of 9 classes once"), Case((_labels(3), 5), "one label of 5 classes"),
             Case((_labels(13, 0, 11), 14), "14 classes: more than any table of ten")]
    print(implementation_verdict("the one-hot labels", one_hot, lambda y, k: F.one_hot(y, k).float(), cases,
                                 Signature(("labels", "classes")), {
        "F.one_hot without the number of classes (it sizes the vector by the largest label present)":
            lambda y, k: F.one_hot(y).float(),
        "one row per class and one column per image (transposed: each image's one-hot is a row)":
            lambda y, k: F.one_hot(y, k).float().T,
        "integers (G's input is float: .float() after F.one_hot)": lambda y, k: F.one_hot(y, k),
        "the label as one number (a class is no quantity: one input per class)": lambda y, k: y[:, None].float(),
    }))


def _z(n: int, seed: int, dim: int = 6) -> torch.Tensor:
    return torch.randn(n, dim, generator=_rng(seed))


def check_generator_input(generator_input: Callable) -> None:
    """generator_input(z, labels, classes) -> what a conditional G's first layer reads, against Generator.inputs:
    z, then the one-hot class, side by side."""
    def reference(z, y, k):
        return torch.cat([z, F.one_hot(y, k).to(z.dtype)], 1)

    cases = [Case((_z(4, 0), _labels(0, 2, 1, 2), 4), "4 latents of 6 numbers, 4 classes"),
             Case((_z(9, 1, 3), torch.arange(9) % 3, 3), "9 latents of 3 numbers, 3 classes"),
             Case((_z(2, 2).double(), _labels(1, 0), 2), "float64 latents"),
             Case((_z(3, 3), _labels(13, 0, 11), 14), "14 classes: more than any table of ten")]
    print(implementation_verdict("G's input", generator_input, reference, cases,
                                 Signature(("z", "labels", "classes"), wrt=(0,), watched=(Generator.inputs,)), {
        "the one-hot first (gan_lib's G reads z, then the class: its first layer's weights are laid out so)":
            lambda z, y, k: torch.cat([F.one_hot(y, k).to(z.dtype), z], 1),
        "the label as one number beside z (a class is no quantity: one input per class)":
            lambda z, y, k: torch.cat([z, y[:, None].to(z.dtype)], 1),
    }))


def check_projection(projection: Callable) -> None:
    """projection(features, class_embedding) -> each image's projection term, against Discriminator.forward's:
    D's last features (N, C, 4, 4), summed over the positions, times the embedding of the image's class (N, C),
    summed over the channels; in value and in the gradients that train D's features and the embedding."""
    def reference(features, embedded):
        return (embedded * features.sum((2, 3))).sum(1)

    features = torch.randn(5, 8, 4, 4, generator=_rng(0))
    cases = [Case((features, torch.randn(5, 8, generator=_rng(1))), "5 images, 8 channels"),
             Case((features[:1, :3].clone(), torch.randn(1, 3, generator=_rng(2))), "one image, 3 channels"),
             Case((torch.randn(3, 4, 2, 2, generator=_rng(3)) + 1, torch.randn(3, 4, generator=_rng(4))),
                  "3 images, 2x2 positions"),
             Case((torch.randn(2, 3, 4, 4, generator=_rng(5), dtype=torch.float64),
                   torch.randn(2, 3, generator=_rng(6), dtype=torch.float64)), "float64 features and embedding")]
    print(implementation_verdict("the projection term", projection, reference, cases,
                                 Signature(("features", "class_embedding"), wrt=(0, 1),
                                           watched=(Discriminator.forward,)), {
        "the mean over the positions (gan_lib sums them: features.sum((2, 3)))":
            lambda f, e: (e * f.mean((2, 3))).sum(1),
        "the mean over the channels (the inner product sums them: .sum(1))": lambda f, e: (e * f.sum((2, 3))).mean(1),
        "one number for the whole batch (the term is per image: sum over the channels only)":
            lambda f, e: (e * f.sum((2, 3))).sum(),
        "every image against every image's class (an inner product per image: multiply, then sum over channels)":
            lambda f, e: f.sum((2, 3)) @ e.T,
    }))
