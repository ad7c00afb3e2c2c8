"""The attribute classifier: a small CNN that reads a synthetic face's hair colour, eye colour, hair style and mouth,
trained once on drawn faces and kept in the cache folder under a key of how it was trained, and checked on held-out
faces before each use. Mode coverage (metrics) and the InterFaceGAN directions (directions) read generated faces
with it."""

from __future__ import annotations

import sys
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from ..data.synthetic import ATTRIBUTES, make_faces
from ..support.errors import printable
from ..support.files import cache_dir, check_writable, save_atomically
from ..support.pixels import to_float
from ..support.runtime import resolve_device

CLASSIFIER_SIZE = 32
CLASSIFIER_VERSION = 1  # bump with any change to the network, its training or the faces it trains on
CHECK_FACES, CHECK_SEED = 256, 4321  # the held-out faces, at 32 and at 64 px, a cached classifier is checked on
CHECK_ACCURACY = 0.85  # the least mean accuracy over the attributes a cached one must have there (ours: 0.95)


class AttributeClassifier(nn.Module):
    """A small CNN that reads a synthetic face's hair colour, eye colour, hair style and mouth (at 32 px)."""

    def __init__(self):
        super().__init__()
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
        x = to_float(images)
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
    device = resolve_device(str(device))
    torch.manual_seed(seed)
    parts = [make_faces(faces // 2, size, seed=1000 + size) for size in (32, 64)]
    model = AttributeClassifier().to(device)
    images = torch.cat([AttributeClassifier.prepare(p[0]) for p in parts]).to(device)
    labels = torch.stack([torch.cat([p[1][name] for p in parts]) for name in model.names], 1).to(device)
    optimiser = torch.optim.Adam(model.parameters(), lr=2e-3)
    shuffle_rng = torch.Generator().manual_seed(seed)
    batches = [torch.randperm(len(images), generator=shuffle_rng).split(128) for _ in range(epochs)]
    model.train()
    steps = tqdm([i for epoch in batches for i in epoch], desc=f"attribute classifier (once, {device.type})",
                 leave=False)
    with torch.autocast(device.type, enabled=False):  # fp32 wherever it is called from, as its cache key says
        for index in steps:
            index = index.to(device)
            outputs = model(images[index])
            loss = sum(F.cross_entropy(o, labels[index, k]) for k, o in enumerate(outputs))
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
    return model.cpu().eval()


def classifier_path() -> Path:
    """The cache file of the classifier this machine would train: named after what its weights depend on (the
    version of its recipe, the device kind, fp32 and the torch version), so that one trained otherwise is not read."""
    device = resolve_device("auto").type
    return cache_dir() / f"attribute-classifier-v{CLASSIFIER_VERSION}-{device}-fp32-torch{torch.__version__}.pt"


def held_out_accuracy(model: AttributeClassifier) -> float:
    """The mean accuracy over the attributes on CHECK_FACES faces at 32 and at 64 px that no classifier trains on."""
    correct = []
    for size in (32, 64):
        images, truth = make_faces(CHECK_FACES, size, seed=CHECK_SEED)
        predicted = model.predict(images)
        correct += [(predicted[name] == truth[name]).double().mean() for name in model.names]
    return float(torch.stack(correct).mean())


def attribute_classifier() -> AttributeClassifier:
    """The trained classifier, from the cache folder or trained once (says so; about a minute on a CPU). A cached
    one that is damaged, or reads fewer than CHECK_ACCURACY of the held-out faces right, is trained again."""
    path = classifier_path()
    if path.exists():
        try:
            model = AttributeClassifier()
            model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
            accuracy = held_out_accuracy(model)
        except Exception as exc:  # damaged, another shape, or a pickle that would run code: trained again
            print(f"the cached attribute classifier {printable(str(path))} cannot be used ({type(exc).__name__}): "
                  "training it again", file=sys.stderr)
        else:
            if accuracy >= CHECK_ACCURACY:
                return model.eval()
            print(f"the cached attribute classifier {printable(str(path))} reads {accuracy:.0%} of held-out faces "
                  f"right, under {CHECK_ACCURACY:.0%}: training it again", file=sys.stderr)
    check_writable(path.parent, "the cache folder", "set GAN_LIB_CACHE to a folder you can write")  # before training
    print(f"training the attribute classifier that reads synthetic faces (once; kept in {printable(str(path))})",
          file=sys.stderr)
    model = train_attribute_classifier()
    save_atomically(model.state_dict(), path)
    return model


def attribute_shares(images: torch.Tensor, classifier: AttributeClassifier | None = None) -> dict[str, torch.Tensor]:
    """{attribute: the share of the images that the classifier reads as each of its values}."""
    predictions = (classifier or attribute_classifier()).predict(images)
    return {name: torch.bincount(predictions[name], minlength=len(values)).double() / len(images)
            for name, values in ATTRIBUTES.items()}
