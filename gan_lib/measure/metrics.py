"""Sample-quality measures: sliced Wasserstein distance, FID and KID (with their feature cache), mode coverage,
conditioning accuracy, diversity.

All take images as float tensors in [-1, 1] or uint8, (N, 3, H, W).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..data.synthetic import ATTRIBUTES
from ..support.errors import GanLibError
from ..support.pixels import to_float
from .attributes import AttributeClassifier, attribute_classifier, attribute_shares
from .inception import cached_features, inception_features


def diversity(images: torch.Tensor, max_images: int = 512) -> float:
    """Mean pairwise RMS pixel distance between images: falls towards 0 as a generator collapses."""
    x = to_float(images[:max_images]).flatten(1)
    n = len(x)
    if n < 2:
        raise GanLibError("diversity needs at least two images")
    distances = torch.cdist(x, x) / x.shape[1] ** 0.5
    return float(distances.sum() / (n * (n - 1)))


# --- Sliced Wasserstein distance (Karras et al. 2018, "Progressive Growing of GANs", appendix D) -------------

_BINOMIAL = torch.tensor([1.0, 4.0, 6.0, 4.0, 1.0]) / 16


def _blur(x: torch.Tensor) -> torch.Tensor:
    kernel = (_BINOMIAL[:, None] * _BINOMIAL[None, :]).to(x)
    kernel = kernel.expand(x.shape[1], 1, 5, 5)
    return F.conv2d(F.pad(x, (2, 2, 2, 2), mode="reflect"), kernel, groups=x.shape[1])


def laplacian_pyramid(images: torch.Tensor, min_size: int = 16) -> list[torch.Tensor]:
    """Band-pass levels from full resolution down to min_size; the last level is the low-pass residual."""
    levels, current = [], images
    while current.shape[-1] > min_size:
        down = _blur(current)[..., ::2, ::2]
        up = F.interpolate(down, scale_factor=2, mode="nearest")
        levels.append(current - _blur(up))
        current = down
    return levels + [current]


def _descriptors(level: torch.Tensor, ys: torch.Tensor, xs: torch.Tensor, size: int = 7) -> torch.Tensor:
    """The size x size neighbourhoods at (ys, xs), each (N, per_image), flattened: (N * per_image, 3 * size**2)."""
    n, per_image = ys.shape
    offsets = torch.arange(size)
    rows = (ys[..., None] + offsets).view(n, per_image, size, 1).expand(n, per_image, size, size)
    cols = (xs[..., None] + offsets).view(n, per_image, 1, size).expand(n, per_image, size, size)
    batch = torch.arange(n).view(n, 1, 1, 1)
    patches = level.permute(0, 2, 3, 1)[batch, rows, cols]  # (n, per_image, size, size, c)
    return patches.permute(0, 1, 4, 2, 3).reshape(n * per_image, -1)


def _normalise(desc: torch.Tensor) -> torch.Tensor:
    """Per-channel normalisation of descriptors to zero mean and unit standard deviation (in place)."""
    d = desc.view(len(desc), 3, -1)
    d -= d.mean(dim=(0, 2), keepdim=True)
    d /= d.std(dim=(0, 2), keepdim=True).clamp_min(1e-8)
    return desc


def _level_descriptors(images: torch.Tensor, level: int, ys: torch.Tensor, xs: torch.Tensor,
                       batch: int) -> torch.Tensor:
    """The descriptors of one pyramid level, built `batch` images at a time, so that neither the float images nor
    their pyramids are ever held whole (images may be uint8: a quarter of the memory)."""
    per_image = ys.shape[1]
    out = torch.empty(len(images) * per_image, 3 * 7 * 7)
    for i in range(0, len(images), batch):
        pyramid_level = laplacian_pyramid(to_float(images[i:i + batch]))[level]
        out[i * per_image:(i + batch) * per_image] = _descriptors(pyramid_level, ys[i:i + batch], xs[i:i + batch])
    return out


def sliced_distance(a: torch.Tensor, b: torch.Tensor, projections: int, rng: torch.Generator,
                    chunk: int = 128) -> float:
    """Mean over random unit directions of the 1-D Wasserstein-1 distance between the projected sets.

    The directions are taken `chunk` at a time, fewer for large sets, so that the projections of a chunk stay
    about 256 MB."""
    chunk = max(1, min(chunk, 2**26 // max(len(a), 1)))
    total = 0.0
    for start in range(0, projections, chunk):
        directions = torch.randn(min(chunk, projections - start), a.shape[1], generator=rng,
                                 dtype=torch.float32).to(a.dtype)  # drawn as ever, in the sets' own type
        directions /= directions.norm(dim=1, keepdim=True)
        pa = np.sort((directions @ a.T).numpy(), axis=1)  # numpy's SIMD sort: several times torch's on a CPU
        pb = np.sort((directions @ b.T).numpy(), axis=1)
        total += float(np.abs(pa - pb).mean(axis=1).sum())
    return total / projections


SCORE_FACES = 2000  # real and generated faces per score (evaluate's --n): all the held-out faces of a set under 16,000
SYNTHETIC_SCORE_FACES = 500  # the synthetic faces' short runs (03's clinic, 05, 06): 500 of their 1,250 held out
MAX_DESCRIPTORS = 2**20  # per set and pyramid level (600 MB of floats): past it, fewer patches per image


def sliced_wasserstein(real: torch.Tensor, fake: torch.Tensor, patches_per_image: int = 128,
                       projections: int = 512, seed: int = 0, batch: int = 500) -> dict[str, list[float] | float]:
    """SWD between two image sets per Laplacian pyramid level (finest first) and averaged, x 1e3 as in the paper.

    Both sets need the same shape; patches are taken at the same random places in both, so a set against itself
    gives exactly 0 and swapping the sets gives the same value. Lower is better. The images are read `batch` at a
    time, and past MAX_DESCRIPTORS / patches_per_image images (8,192 at 128) each gives fewer patches, so that
    the memory stays bounded however many images are compared.
    """
    if real.shape != fake.shape:
        raise GanLibError(f"SWD needs two sets of the same shape, got {tuple(real.shape)} and {tuple(fake.shape)}")
    n, size = len(real), real.shape[-1]
    per_image = max(1, min(patches_per_image, MAX_DESCRIPTORS // max(n, 1)))
    rng = torch.Generator().manual_seed(seed)
    levels = []
    for level in range(len(laplacian_pyramid(to_float(real[:1])))):
        side = size >> level
        ys = torch.randint(0, side - 6, (n, per_image), generator=rng)
        xs = torch.randint(0, side - 6, (n, per_image), generator=rng)
        a, b = (_normalise(_level_descriptors(images, level, ys, xs, batch)) for images in (real, fake))
        levels.append(1e3 * sliced_distance(a, b, projections, rng))
    return {"levels": levels, "mean": sum(levels) / len(levels)}


# --- FID and KID through torchmetrics, on Inception features ------------------------------------------------

class _Precomputed(nn.Module):
    """Hands features already computed to torchmetrics' FID/KID, which take a feature extractor module."""

    def __init__(self, num_features: int):
        super().__init__()
        self.num_features = num_features

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return features


def fid_from_features(real: torch.Tensor, fake: torch.Tensor) -> float:
    """Frechet distance between Gaussians fitted to two feature sets (torchmetrics' FID on given features)."""
    from torchmetrics.image.fid import FrechetInceptionDistance

    metric = FrechetInceptionDistance(feature=_Precomputed(real.shape[1]))
    metric.update(real.double(), real=True)
    metric.update(fake.double(), real=False)
    return float(metric.compute())


def kid_from_features(real: torch.Tensor, fake: torch.Tensor, subsets: int = 50) -> tuple[float, float]:
    """Kernel Inception Distance (mean, std over subsets) on given features, through torchmetrics.

    Subsets hold half the smaller set (at most 1,000), so that they differ and the std means something.
    """
    from torchmetrics.image.kid import KernelInceptionDistance

    smaller = min(len(real), len(fake))
    if smaller < 4:
        raise GanLibError(f"KID needs at least 4 images in each set, got {smaller}")
    metric = KernelInceptionDistance(feature=_Precomputed(real.shape[1]), subsets=subsets,
                                     subset_size=min(1000, smaller // 2))
    metric.update(real.double(), real=True)
    metric.update(fake.double(), real=False)
    mean, std = metric.compute()
    return float(mean), float(std)


# --- Mode coverage on the synthetic faces --------------------------------------------------------------------

def mode_coverage(images: torch.Tensor, classifier: AttributeClassifier | None = None,
                  min_share: float = 0.01) -> dict[str, dict[str, float]]:
    """Per attribute: how many of its values appear in at least min_share of the images, and the KL divergence
    KL(generated || true) of the predicted value distribution from the synthetic set's (uniform) one, in nats.
    """
    report = {}
    for name, share in attribute_shares(images, classifier).items():
        true = torch.full_like(share, 1 / len(share))
        kl = float((share[share > 0] * (share[share > 0] / true[share > 0]).log()).sum())
        report[name] = {"covered": int((share >= min_share).sum()), "values": len(share), "kl": kl}
    return report


def conditioning_accuracy(images: torch.Tensor, labels: torch.Tensor, attribute: str,
                          classifier: AttributeClassifier | None = None) -> float:
    """The share of a conditional G's synthetic faces whose `attribute` the classifier reads as the class they were
    asked for (labels: indices into synthetic.ATTRIBUTES[attribute]); chance is one over its number of values."""
    if attribute not in ATTRIBUTES:
        raise GanLibError(f"conditioning accuracy reads a synthetic face attribute ({', '.join(ATTRIBUTES)}), "
                          f"not {attribute!r}")
    predicted = (classifier or attribute_classifier()).predict(images)[attribute]
    return float((predicted == labels.cpu()).double().mean())


def conditioning_by_class(drawn: torch.Tensor, asked: torch.Tensor, real: torch.Tensor, real_labels: torch.Tensor,
                          attribute: str, classifier: AttributeClassifier | None = None) -> dict[str, dict]:
    """Per class of `attribute`: `accuracy`, the share of G's faces drawn for it that the classifier reads as it;
    `ceiling`, the classifier's own accuracy on real faces of the class (no G can be judged above it); and
    `diversity`, G's faces' diversity within the class over the real faces' (1: as varied as the data, 0: one face
    per class), so that neither one face per class nor one class for every request scores well."""
    classifier = classifier or attribute_classifier()
    got, truth = (classifier.predict(x)[attribute] for x in (drawn, real))
    report = {}
    for index, name in enumerate(ATTRIBUTES[attribute]):
        mine, theirs = asked.cpu() == index, real_labels.cpu() == index
        if mine.sum() < 2 or theirs.sum() < 2:
            continue
        report[name] = {"accuracy": float((got[mine] == index).double().mean()),
                        "ceiling": float((truth[theirs] == index).double().mean()),
                        "diversity": diversity(drawn[mine]) / diversity(real[theirs])}
    return report


# --- What `python -m gan_lib evaluate` prints: one row of METRICS per metric ----------------------------------

@dataclass
class Scoring:
    """What a metric's report gets: generated images and, for metrics that need them, as many real images the model
    did not train on and as many other real ones for the real-vs-real floor; all uint8 (`to_float` for [-1, 1])."""

    fake: torch.Tensor
    real: torch.Tensor | None = None
    other: torch.Tensor | None = None
    inception_weights: Path | None = None
    device: torch.device | str = "cpu"
    labels: torch.Tensor | None = None  # a conditional G's: the class each generated image was asked for
    condition: str = ""  # what its classes are (a synthetic face attribute, or "folder")


def _swd_report(s: Scoring) -> str:
    score, floor = sliced_wasserstein(s.real, s.fake), sliced_wasserstein(s.real, s.other)
    size = s.real.shape[-1]
    levels = ", ".join(f"{size >> i} px {v:.2f}" for i, v in enumerate(score["levels"]))
    floor_levels = ", ".join(f"{v:.2f}" for v in floor["levels"])
    return (f"SWD x1e3 ({len(s.real)} images, {size} px): {score['mean']:.2f} ({levels}); "
            f"real-vs-real floor {floor['mean']:.2f} ({floor_levels})")


def _inception(s: Scoring) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Inception features of (real, other, fake); the real images' are cached."""
    def real_features(images: torch.Tensor) -> torch.Tensor:
        return cached_features(images, s.inception_weights, lambda: inception_features(
            images, s.inception_weights, device=s.device))

    real, other = real_features(s.real), real_features(s.other)
    return real, other, inception_features(s.fake, s.inception_weights, device=s.device)


def _fid_report(s: Scoring) -> str:
    real, other, fake = _inception(s)
    fid, floor = (fid_from_features(real, f) for f in (fake, other))
    return f"FID ({len(real)} real, {len(fake)} generated): {fid:.2f}; real-vs-real floor {floor:.2f}"


def _kid_report(s: Scoring) -> str:
    real, other, fake = _inception(s)
    (mean, std), (floor, floor_std) = (kid_from_features(real, f) for f in (fake, other))
    return (f"KID ({len(real)} real, {len(fake)} generated): {mean:.4f} +- {std:.4f}; real-vs-real floor "
            f"{floor:.4f} +- {floor_std:.4f}")


def _modes_report(s: Scoring) -> str:
    report = mode_coverage(s.fake)
    lines = [f"{name}: {m['covered']}/{m['values']} values covered, KL {m['kl']:.4f}" for name, m in report.items()]
    lines.append(f"modes: {sum(m['covered'] for m in report.values())}/{sum(m['values'] for m in report.values())} "
                 f"covered, KL sum {sum(m['kl'] for m in report.values()):.4f}")
    return "\n".join(lines)


def _conditioning_report(s: Scoring) -> str:
    if s.labels is None:
        raise GanLibError("conditioning accuracy needs a conditional DCGAN (trained with --conditional)")
    if s.condition not in ATTRIBUTES:
        raise GanLibError(f"conditioning accuracy reads the synthetic faces' attributes; this DCGAN's classes are "
                          f"{s.condition}s, which no classifier here reads")
    accuracy, values = conditioning_accuracy(s.fake, s.labels, s.condition), len(ATTRIBUTES[s.condition])
    return (f"conditioning accuracy ({len(s.fake)} generated, every class in turn): {accuracy:.1%} read back as the "
            f"{s.condition} asked for; chance {1 / values:.1%}")


@dataclass(frozen=True)
class Metric:
    report: Callable[[Scoring], str]
    needs_real: bool = True  # False: scored on generated images alone (no data is loaded)


METRICS = {"swd": Metric(_swd_report), "fid": Metric(_fid_report), "kid": Metric(_kid_report),
           "modes": Metric(_modes_report, needs_real=False),
           "conditioning": Metric(_conditioning_report, needs_real=False)}
