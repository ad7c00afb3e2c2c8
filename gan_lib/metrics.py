"""Sample-quality measures: sliced Wasserstein distance, FID and KID, mode coverage, diversity.

All take images as float tensors in [-1, 1] or uint8, (N, 3, H, W).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .errors import GanLibError
from .files import cache_dir, check_writable, save_atomically
from .viz import to_uint8


def _as_float(images: torch.Tensor) -> torch.Tensor:
    return images.float() / 127.5 - 1 if images.dtype == torch.uint8 else images.float()


def diversity(images: torch.Tensor, max_images: int = 512) -> float:
    """Mean pairwise RMS pixel distance between images: falls towards 0 as a generator collapses."""
    x = _as_float(images[:max_images]).flatten(1)
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
    """Per-channel normalisation of descriptors to zero mean and unit standard deviation."""
    d = desc.view(len(desc), 3, -1)
    d = d - d.mean(dim=(0, 2), keepdim=True)
    d = d / d.std(dim=(0, 2), keepdim=True).clamp_min(1e-8)
    return d.view(len(desc), -1)


def _sliced_distance(a: torch.Tensor, b: torch.Tensor, projections: int, g: torch.Generator,
                     chunk: int = 128) -> float:
    """Mean over random unit directions of the 1-D Wasserstein-1 distance between the projected sets."""
    total = 0.0
    for start in range(0, projections, chunk):
        directions = torch.randn(min(chunk, projections - start), a.shape[1], generator=g)
        directions /= directions.norm(dim=1, keepdim=True)
        pa = np.sort((directions @ a.T).numpy(), axis=1)  # numpy's SIMD sort: several times torch's on a CPU
        pb = np.sort((directions @ b.T).numpy(), axis=1)
        total += float(np.abs(pa - pb).mean(axis=1).sum())
    return total / projections


def sliced_wasserstein(real: torch.Tensor, fake: torch.Tensor, patches_per_image: int = 128,
                       projections: int = 512, seed: int = 0) -> dict[str, list[float] | float]:
    """SWD between two image sets per Laplacian pyramid level (finest first) and averaged, x 1e3 as in the paper.

    Both sets need the same shape; patches are taken at the same random places in both, so a set against itself
    gives exactly 0 and swapping the sets gives the same value. Lower is better.
    """
    if real.shape != fake.shape:
        raise GanLibError(f"SWD needs two sets of the same shape, got {tuple(real.shape)} and {tuple(fake.shape)}")
    g = torch.Generator().manual_seed(seed)
    levels = []
    for level_real, level_fake in zip(laplacian_pyramid(_as_float(real)), laplacian_pyramid(_as_float(fake))):
        n, _, h, w = level_real.shape
        ys = torch.randint(0, h - 6, (n, patches_per_image), generator=g)
        xs = torch.randint(0, w - 6, (n, patches_per_image), generator=g)
        a = _normalise(_descriptors(level_real, ys, xs))
        b = _normalise(_descriptors(level_fake, ys, xs))
        levels.append(1e3 * _sliced_distance(a, b, projections, g))
    return {"levels": levels, "mean": sum(levels) / len(levels)}


# --- FID and KID through torchmetrics, on Inception features ------------------------------------------------

class _Precomputed(nn.Module):
    """Hands features already computed to torchmetrics' FID/KID, which take a feature extractor module."""

    def __init__(self, num_features: int):
        super().__init__()
        self.num_features = num_features

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return features


def inception_features(images: torch.Tensor, weights: str | Path | None = None, batch: int = 100,
                       device: str | torch.device = "cpu") -> torch.Tensor:
    """2048-d Inception-v3 pool features (the standard FID network), (N, 2048).

    The weights are downloaded on first use where there is network (Colab); offline, pass a local weights file
    (weights-inception-2015-12-05-6726825d.pth from torch-fidelity's releases on GitHub).
    """
    try:
        from torchmetrics.image.fid import NoTrainInceptionV3
    except (ImportError, ModuleNotFoundError) as exc:
        raise GanLibError("FID and KID need torchmetrics and torch-fidelity: pip install 'gan_lib[metrics]'") from exc
    try:
        net = NoTrainInceptionV3(name="inception-v3-compat", features_list=["2048"],
                                 feature_extractor_weights_path=str(weights) if weights else None).to(device)
    except Exception as exc:  # no network, no weights file, or a broken one
        raise GanLibError(f"could not load the Inception weights for FID/KID ({type(exc).__name__}: {exc}); "
                          "connect to the internet once, or download weights-inception-2015-12-05-6726825d.pth "
                          "from github.com/toshas/torch-fidelity/releases and pass it with --inception-weights; "
                          "--metric swd needs no weights") from exc
    uint8 = to_uint8(images)
    with torch.no_grad():
        return torch.cat([net(uint8[i:i + batch].to(device)).cpu() for i in range(0, len(uint8), batch)])


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


def cached_features(key: str, compute) -> torch.Tensor:
    """Real-data features, computed once per key (dataset, image size, count) in the cache folder."""
    path = cache_dir() / f"features-{key}.pt"
    if path.exists():
        return torch.load(path, weights_only=True)
    features = compute()
    save_atomically(features, path)
    return features


# --- Mode coverage on the synthetic faces --------------------------------------------------------------------

CLASSIFIER_SIZE = 32
CLASSIFIER_VERSION = 1


class AttributeClassifier(nn.Module):
    """A small CNN that reads a synthetic face's hair colour, eye colour, hair style and mouth (at 32 px)."""

    def __init__(self):
        super().__init__()
        from .synthetic import ATTRIBUTES

        self.names = list(ATTRIBUTES)
        self.body = nn.Sequential(
            nn.Conv2d(3, 32, 3, 1, 1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, 1, 1), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(64, 128, 3, 1, 1), nn.BatchNorm2d(128), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(128 * 16, 256), nn.ReLU(),
        )
        self.heads = nn.ModuleList(nn.Linear(256, len(values)) for values in ATTRIBUTES.values())

    @staticmethod
    def prepare(images: torch.Tensor) -> torch.Tensor:
        """Float images at the classifier's 32 px (antialiased), whatever their size and dtype."""
        x = _as_float(images)
        if x.shape[-1] == CLASSIFIER_SIZE:
            return x
        return F.interpolate(x, size=(CLASSIFIER_SIZE, CLASSIFIER_SIZE), mode="bilinear", antialias=True,
                             align_corners=False)

    def forward(self, images: torch.Tensor) -> list[torch.Tensor]:
        features = self.body(self.prepare(images))
        return [head(features) for head in self.heads]

    @torch.no_grad()
    def predict(self, images: torch.Tensor, batch: int = 512) -> dict[str, torch.Tensor]:
        """{attribute: predicted value index per image}."""
        self.eval()
        outputs = [self(images[i:i + batch]) for i in range(0, len(images), batch)]
        return {name: torch.cat([o[k].argmax(1) for o in outputs]) for k, name in enumerate(self.names)}


def train_attribute_classifier(faces: int = 12_000, epochs: int = 5, seed: int = 0,
                               device: str | torch.device = "auto") -> AttributeClassifier:
    """Train on synthetic faces drawn at 32 and at 64 px (so it reads generators of either size), on the GPU when
    there is one (seconds; about 50 s on a 2-core CPU). Returned on the CPU, in eval mode."""
    from tqdm.auto import tqdm

    from .synthetic import make_faces
    from .train import resolve_device

    device = resolve_device(str(device))
    torch.manual_seed(seed)
    parts = [make_faces(faces // 2, size, seed=1000 + size) for size in (32, 64)]
    model = AttributeClassifier().to(device)
    images = torch.cat([AttributeClassifier.prepare(p[0]) for p in parts]).to(device)
    labels = torch.stack([torch.cat([p[1][name] for p in parts]) for name in model.names], 1).to(device)
    optimiser = torch.optim.Adam(model.parameters(), lr=2e-3)
    g = torch.Generator().manual_seed(seed)
    batches = [torch.randperm(len(images), generator=g).split(128) for _ in range(epochs)]
    model.train()
    for index in tqdm([i for epoch in batches for i in epoch], desc=f"attribute classifier (once, {device.type})",
                      leave=False):
        index = index.to(device)
        outputs = model(images[index])
        loss = sum(F.cross_entropy(o, labels[index, k]) for k, o in enumerate(outputs))
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    return model.cpu().eval()


def attribute_classifier() -> AttributeClassifier:
    """The trained classifier, from the cache folder or trained once (says so; about a minute on a CPU)."""
    import sys

    path = cache_dir() / f"attribute-classifier-v{CLASSIFIER_VERSION}.pt"
    model = AttributeClassifier()
    if path.exists():
        model.load_state_dict(torch.load(path, weights_only=True))
        return model.eval()
    check_writable(path.parent, "the cache folder", "set GAN_LIB_CACHE to a folder you can write")  # before training
    print(f"training the attribute classifier that reads synthetic faces (once; kept in {path})", file=sys.stderr)
    model = train_attribute_classifier()
    save_atomically(model.state_dict(), path)
    return model


def attribute_shares(images: torch.Tensor, classifier: AttributeClassifier | None = None) -> dict[str, torch.Tensor]:
    """{attribute: the share of the images that the classifier reads as each of its values}."""
    from .synthetic import ATTRIBUTES

    predictions = (classifier or attribute_classifier()).predict(images)
    return {name: torch.bincount(predictions[name], minlength=len(values)).double() / len(images)
            for name, values in ATTRIBUTES.items()}


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
