"""Notebook 04's implement-it checks: slerp, the 1-D and sliced Wasserstein distances, and the Fréchet distance
between two Gaussians (the formula behind FID)."""

from __future__ import annotations

import warnings
from collections.abc import Callable

import torch

from ...measure.metrics import fid_from_features, sliced_distance
from ...models import interpolate, lerp, slerp
from .verdicts import Case, Signature, implementation_verdict


def _rng(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def check_slerp(learner_slerp: Callable) -> None:
    """learner_slerp(a, b, t) against models.slerp on pairs of latents and several t, the ends included."""
    a, b = torch.randn(5, 100, generator=_rng(0)), torch.randn(5, 100, generator=_rng(1))
    t = torch.tensor([[0.0], [0.25], [0.5], [0.8], [1.0]])
    cases = [Case((a, b, t), "five pairs, t from 0 to 1"),
             Case((a[:1], -0.5 * a[:1] + b[:1], torch.tensor([[0.3]])), "a pair more than 90 degrees apart"),
             Case((3 * a[1:3], b[1:3], torch.tensor([[0.6], [0.1]])), "latents of different norms"),
             Case((a[4:5], a[4:5] + 0.3 * b[4:5], torch.tensor([[0.5]])), "two latents about 17 degrees apart"),
             Case((a[3:4], a[3:4].clone(), torch.tensor([[0.4]])),
                  "a latent and itself: the angle is 0 (clamp the cosine before acos, and mind the division by sin)")]
    signature = Signature(("a", "b", "t"), watched=(slerp, interpolate))
    print(implementation_verdict("slerp", learner_slerp, slerp, cases, signature, {
        "lerp, the straight line (its middle is shorter than either end: slerp follows the arc)": lerp,
        "t and 1 - t swapped (t = 0 must give a, t = 1 must give b)": lambda a, b, t: slerp(a, b, 1 - t),
    }, tolerance=1e-4))


def _w1(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """gan_lib's sliced distance along the one axis there is: the 1-D Wasserstein-1 distance."""
    return torch.tensor(sliced_distance(a[:, None], b[:, None], 1, _rng(0)))


def check_wasserstein_1d(wasserstein_1d: Callable) -> None:
    """wasserstein_1d(a, b) of two 1-D samples of the same size, against gan_lib's sliced distance in one dimension,
    on cases with a closed-form answer (a shift by 2 gives 2) and on two unrelated samples."""
    a = torch.randn(1000, generator=_rng(0))
    cases = [Case((a, a + 2), "a sample and itself shifted by 2: W1 = 2"), Case((a, 3 * a), "a sample and 3 times it"),
             Case((a, torch.rand(1000, generator=_rng(1)) * 4), "two unrelated samples"),
             Case((a[:7], a[7:14] - 1), "seven values each"),
             Case((torch.tensor([0.0, 0.0, 1.0, 1.0, 1.0, 3.0]), torch.tensor([0.0, 2.0, 2.0, 2.0, 2.0, 5.0])),
                  "repeated values (quantised pixels have many): ties count once each")]
    print(implementation_verdict("1-D Wasserstein", wasserstein_1d, _w1, cases,
                                 Signature(("a", "b"), watched=(sliced_distance,)), {
        "no sorting: the samples paired in the order given (W1 pairs them by rank: sort both first)":
            lambda a, b: (a - b).abs().mean(),
        "the squared distance (that is W2 squared: W1 averages |differences|)":
            lambda a, b: (a.sort().values - b.sort().values).pow(2).mean(),
        "the sum over the samples (W1 is their mean)": lambda a, b: (a.sort().values - b.sort().values).abs().sum(),
    }, tolerance=1e-4))


def _unit_directions(k: int, dim: int, seed: int) -> torch.Tensor:
    """The directions metrics.sliced_distance draws from a generator seeded with `seed`."""
    directions = torch.randn(k, dim, generator=_rng(seed), dtype=torch.float32)  # as sliced_distance draws them
    return directions / directions.norm(dim=1, keepdim=True)


def check_sliced_wasserstein(sliced_wasserstein: Callable) -> None:
    """sliced_wasserstein(a, b, directions) of two point sets (n, d) along unit directions (k, d), against
    metrics.sliced_distance (the core of SWD) with the same directions."""
    cases, seeds = [], (3, 4)

    def redrawn(rng: torch.Generator) -> tuple:  # other point sets, other sizes, other unit directions
        n, dim = int(torch.randint(50, 400, (), generator=rng)), int(torch.randint(2, 12, (), generator=rng))
        directions = torch.randn(int(torch.randint(8, 80, (), generator=rng)), dim, generator=rng)
        return (torch.randn(n, dim, generator=rng) * 2, torch.randn(n, dim, generator=rng) + 1,
                directions / directions.norm(dim=1, keepdim=True))

    for seed in seeds:
        a = torch.randn(500, 8, generator=_rng(seed), dtype=torch.float32)  # whatever the notebook's default
        b = torch.randn(500, 8, generator=_rng(seed + 10), dtype=torch.float32) * 1.5 + 1
        cases.append(Case((a, b, _unit_directions(64, 8, seed)), f"500 points in 8-D, 64 directions (seed {seed})",
                          redraw=redrawn))

    def projected(a, b, d):
        return (a @ d.T).sort(dim=0).values, (b @ d.T).sort(dim=0).values

    def reference(a, b, directions):  # gan_lib's own on the fixed cases; the definition itself on drawn ones
        seed = next((s for s, c in zip(seeds, cases) if torch.equal(c.args[2], directions)), None)
        if seed is None:
            return (lambda pa, pb: (pa - pb).abs().mean())(*projected(a, b, directions))
        return torch.tensor(sliced_distance(a, b, len(directions), _rng(seed)))

    print(implementation_verdict("sliced Wasserstein", sliced_wasserstein, reference, cases,
                                 Signature(("a", "b", "directions"), watched=(sliced_distance,)), {
        "the largest over the directions (that is the max-sliced distance: SWD takes the mean)":
            lambda a, b, d: (lambda pa, pb: (pa - pb).abs().mean(0).max())(*projected(a, b, d)),
        "the sum over the directions (SWD takes the mean)":
            lambda a, b, d: (lambda pa, pb: (pa - pb).abs().mean(0).sum())(*projected(a, b, d)),
        "no sorting of the projections (each direction's 1-D distance pairs them by rank)":
            lambda a, b, d: ((a - b) @ d.T).abs().mean(),
    }, tolerance=1e-4))


def _gaussian(mean: list[float], variances: list[float]) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.tensor(mean, dtype=torch.float64), torch.diag(torch.tensor(variances, dtype=torch.float64))


def _features(seed: int) -> torch.Tensor:
    mixing = torch.randn(6, 6, generator=_rng(seed), dtype=torch.float64)
    return torch.randn(400, 6, generator=_rng(seed + 1), dtype=torch.float64) @ mixing + seed


def _fitted_gaussians(rng: torch.Generator) -> tuple:
    """Two Gaussians fitted to features drawn afresh: another dimension, and spreads a thousand times apart."""
    dim = int(torch.randint(3, 9, (), generator=rng))
    fitted = []
    for _ in range(2):
        scales = 10 ** (3 * torch.rand(dim, generator=rng, dtype=torch.float64) - 1.5)
        mixing = torch.randn(dim, dim, generator=rng, dtype=torch.float64)
        features = (torch.randn(300, dim, generator=rng, dtype=torch.float64) * scales) @ mixing
        fitted += [features.mean(0) + torch.randn(dim, generator=rng, dtype=torch.float64), torch.cov(features.T)]
    return tuple(fitted)


def _frechet(m1, c1, m2, c2) -> torch.Tensor:
    """|mu1 - mu2|^2 + tr(C1 + C2 - 2 sqrt(C1 C2)): sqrt(C1 C2)'s trace is the sum of the square roots of C1 C2's
    eigenvalues (real and non-negative for two covariances)."""
    return ((m1 - m2).pow(2).sum() + c1.trace() + c2.trace()
            - 2 * torch.linalg.eigvals(c1 @ c2).real.clamp(min=0).sqrt().sum())


def _frechet_cases() -> tuple[list[Case], list[torch.Tensor]]:
    """Closed-form cases (equal Gaussians: 0; a shift of (3, 4): 25; diagonal covariances: the sum of
    (sqrt(a) - sqrt(b))^2), then two fitted Gaussians whose answer torchmetrics' FID gives."""
    same = _gaussian([1, 2], [1, 4])
    cases = [Case((*same, *same), "two equal Gaussians: 0"),
             Case((*_gaussian([0, 0], [1, 1]), *_gaussian([3, 4], [1, 1])), "means 3 and 4 apart: 25"),
             Case((*_gaussian([0, 0, 0], [1, 4, 9]), *_gaussian([0, 0, 0], [4, 1, 16])), "diagonal covariances: 3")]
    answers = [torch.tensor(0.0), torch.tensor(25.0), torch.tensor(1.0 + 1.0 + 1.0)]
    real, fake = _features(1), _features(2)
    cases.append(Case((real.mean(0), torch.cov(real.T), fake.mean(0), torch.cov(fake.T)),
                      "two Gaussians fitted to 6-D features, against torchmetrics' FID", redraw=_fitted_gaussians))
    answers.append(torch.tensor(fid_from_features(real, fake)))
    return cases, answers


def check_frechet_distance(frechet_distance: Callable) -> None:
    """frechet_distance(mu1, cov1, mu2, cov2) on closed-form cases and against gan_lib's FID (torchmetrics)."""
    with warnings.catch_warnings():  # torchmetrics' first import adds warnings filters: none stays behind
        cases, answers = _frechet_cases()

    def reference(m1, c1, m2, c2):  # the closed forms and torchmetrics on the fixed cases; the formula on drawn ones
        known = next((answer for case, answer in zip(cases, answers)
                      if torch.equal(case.args[0], m1) and torch.equal(case.args[1], c1)), None)
        return _frechet(m1, c1, m2, c2) if known is None else known

    def cross(c1, c2):
        return torch.linalg.eigvals(c1 @ c2).sqrt().real.sum()

    print(implementation_verdict("Fréchet distance", frechet_distance, reference, cases,
                                 Signature(("mu1", "cov1", "mu2", "cov2"), watched=(fid_from_features,)), {
        "the mean difference not squared (the first term is |mu1 - mu2|^2)":
            lambda m1, c1, m2, c2: (m1 - m2).norm() + c1.trace() + c2.trace() - 2 * cross(c1, c2),
        "the cross term without its factor 2 (tr(C1 + C2 - 2 sqrt(C1 C2)))":
            lambda m1, c1, m2, c2: (m1 - m2).pow(2).sum() + c1.trace() + c2.trace() - cross(c1, c2),
        "an element-wise square root (sqrt(C1 C2) is a matrix square root: the element-wise one agrees only when "
        "both covariances are diagonal)":
            lambda m1, c1, m2, c2: ((m1 - m2).pow(2).sum() + c1.trace() + c2.trace()
                                    - 2 * (c1 @ c2).diagonal().sqrt().sum()),
    }, tolerance=1e-3))
