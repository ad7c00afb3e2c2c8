"""The dataset API: a prepared set of uint8 images (a folder, a named dataset or the synthetic faces), its held-out
split, a summary for people, reference samples for the metrics, and the training batches on the device."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path, PurePath

import numpy as np
import torch

from ..support.errors import GanLibError, printable
from ..support.runtime import derive_seed, my_share, seeded
from .datasets import NAMED_DATASETS, locate
from .image_cache import cached_images, skipped_line
from .synthetic import ATTRIBUTES, make_faces

SYNTHETIC_COUNT = 10_000  # faces in --data synthetic
MAX_SYNTHETIC = 1_000_000  # 3 GB of uint8 faces at 32 px, 12 GB at 64 px
HOLDOUT_EVERY = 8  # --holdout: one image in eight is held out for evaluation


@dataclass
class ImageSet:
    """A prepared dataset: uint8 images (N, 3, S, S) and what preparing them found."""

    images: torch.Tensor
    name: str
    summary: dict = field(default_factory=dict)
    cache_file: Path | None = None  # the uint8 file behind `images`, for prepared folders
    keys: list[str] = field(default_factory=list)  # per image: the relative path of its first byte-identical copy
    holdout: int = 0  # 1 in `holdout` images is held out of this set (0: none)
    part: str = "all"  # "all", or after split(): "train" or "held-out"
    labels: torch.Tensor | None = None  # per image, its class's index in `classes` (a conditional DCGAN's labels)
    classes: tuple[str, ...] = ()

    def __len__(self) -> int:
        return len(self.images)

    def split(self, every: int = HOLDOUT_EVERY) -> tuple[ImageSet, ImageSet]:
        """(training part, held-out part): one image in `every` is held out, chosen by a stable hash of its file's
        relative path, the same on every machine; byte-identical copies share a key, so they fall on one side."""
        if every < 2:
            raise GanLibError(f"--holdout must be at least 2 (one image in N held out), got {every}")
        if self.part != "all":
            raise GanLibError("this image set is already one part of a split")
        held = torch.tensor([_bucket(key) % every == 0 for key in self.keys], dtype=torch.bool)
        parts = []
        for part, mask in (("train", ~held), ("held-out", held)):
            index = mask.nonzero().flatten()
            labels = self.labels[index] if self.labels is not None else None
            parts.append(ImageSet(self.images[index], self.name, self.summary, self.cache_file,
                                  [self.keys[i] for i in index.tolist()], every, part, labels, self.classes))
        if not len(parts[1]) or not len(parts[0]):
            raise GanLibError(f"{self.name} has {len(self)} images, too few to hold one in {every} out: "
                              "add images or train without --holdout")
        return parts[0], parts[1]

    @property
    def identity(self) -> dict:
        """What a checkpoint records of the data it trained on."""
        return {"source": self.summary.get("source", self.name), "name": self.name, "images": len(self),
                "files": self.summary.get("files"), "holdout": self.holdout, "part": self.part,
                "drop_duplicates": bool(self.summary.get("duplicates_dropped"))}


def _bucket(key: str) -> int:
    """A stable integer hash of a string (Python's hash() changes between processes)."""
    return int.from_bytes(hashlib.blake2b(key.encode("utf-8", "surrogateescape"), digest_size=8).digest(), "little")



def prepare_folder(root: str | Path, size: int = 64, workers: int | None = None,
                   drop_duplicates: bool = False, condition: str = "") -> ImageSet:
    """Every usable image under root, from the uint8 cache (built on first use; see image_cache).

    drop_duplicates keeps only the first of each set of byte-identical files. condition "folder" labels each image
    with its class, the subfolder of root it lies in (torchvision's ImageFolder convention: root/<class>/...).
    """
    check_condition(str(root), condition)
    images, summary, array_file = cached_images(root, size, workers)
    classes, labels = folder_labels(Path(root).expanduser(), summary["paths"]) if condition else ((), None)
    first_of_digest: dict[str, int] = {}
    for i, digest in enumerate(summary["digests"]):
        first_of_digest.setdefault(digest, i)
    keys = [summary["paths"][first_of_digest[digest]] for digest in summary["digests"]]
    summary["duplicates"] = len(summary["digests"]) - len(first_of_digest)
    summary["duplicates_dropped"] = drop_duplicates
    if drop_duplicates and summary["duplicates"]:
        kept = sorted(first_of_digest.values())
        images, keys = images[kept], [keys[i] for i in kept]
        labels = labels[kept] if labels is not None else None
    name = str(Path(root).expanduser())  # a folder called synthetic keeps its ./: "synthetic" is the built-in faces
    name = os.path.join(os.curdir, name) if name == "synthetic" else name
    return ImageSet(images, name, summary, array_file, keys, labels=labels, classes=classes)


def check_condition(data: str, condition: str) -> None:
    """What can label `data`: a synthetic face attribute for the synthetic faces, "folder" (its subfolders) for a
    folder; checked before any image is read."""
    allowed = tuple(ATTRIBUTES) if data == "synthetic" else ("folder",)
    if condition and condition not in allowed:
        raise GanLibError(f"{printable(data)} cannot be labelled by {printable(repr(condition))}: choose "
                          f"{' or '.join(allowed)}")


def folder_labels(root: Path, paths: list[str]) -> tuple[tuple[str, ...], torch.Tensor]:
    """(class names, each image's class index): the class of root/<class>/.../image.jpg is <class>, the classes
    sorted by name as torchvision's ImageFolder sorts them (its find_classes)."""
    from torchvision.datasets.folder import find_classes

    tops = [PurePath(p).parts[0] if len(PurePath(p).parts) > 1 else None for p in paths]
    if None in tops:
        loose = paths[tops.index(None)]
        raise GanLibError(f"{tops.count(None)} images lie directly in {printable(str(root))}, outside any class "
                          f"subfolder (e.g. {printable(loose)}): a conditional DCGAN reads each image's class from "
                          "its subfolder (root/<class>/image.jpg); move them into one")
    index = find_classes(root)[1]
    classes = tuple(c for c in index if c in set(tops))  # subfolders without a usable image are no class
    if len(classes) < 2:
        raise GanLibError(f"every image under {printable(str(root))} lies in one subfolder ({printable(classes[0])}): "
                          "a conditional DCGAN needs at least two classes, root/<class>/image.jpg")
    return classes, torch.tensor([classes.index(t) for t in tops])


def describe(summary: dict) -> str:
    """A few lines on a prepared folder: counts, what was skipped and why, original sizes, modes, duplicates."""
    sizes = np.array(summary["original_sizes"])
    sides = sizes.min(1)
    lines = [
        f"{summary['files']} files under {summary['source']}: {summary['images']} images prepared at "
        f"{summary['image_size']} px" + (skipped_line(summary) or "; none skipped"),
        f"original shorter side: min {sides.min()}, median {int(np.median(sides))}, max {sides.max()} px; "
        f"aspect ratio (w/h) {np.min(sizes[:, 0] / sizes[:, 1]):.2f} to {np.max(sizes[:, 0] / sizes[:, 1]):.2f}",
        "modes: " + ", ".join(f"{mode} {n}" for mode, n in sorted(summary["modes"].items())),
        f"exact duplicates (byte-identical files): {summary['duplicates']}"
        + (" (dropped)" if summary["duplicates_dropped"] else " (kept; drop them with --drop-duplicates)"),
    ]
    return "\n".join(lines)


def duplicate_groups(summary: dict) -> list[list[int]]:
    """Indices (into the prepared images, duplicates kept) of each set of byte-identical files, largest first."""
    groups: dict[str, list[int]] = {}
    for i, digest in enumerate(summary["digests"]):
        groups.setdefault(digest, []).append(i)
    return sorted((g for g in groups.values() if len(g) > 1), key=len, reverse=True)


def channel_stats(images: torch.Tensor, batch: int = 4096) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel mean and standard deviation of uint8 images, in [0, 1] units."""
    total = torch.zeros(3, dtype=torch.float64)
    squares = torch.zeros(3, dtype=torch.float64)
    for start in range(0, len(images), batch):
        x = images[start:start + batch].to(torch.float64) / 255
        total += x.sum((0, 2, 3))
        squares += (x * x).sum((0, 2, 3))
    count = images.shape[0] * images.shape[2] * images.shape[3]
    mean = total / count
    return mean.float(), (squares / count - mean * mean).sqrt().float()


def synthetic_set(size: int = 64, count: int = SYNTHETIC_COUNT, seed: int = 0, condition: str = "") -> ImageSet:
    """The procedural faces as a dataset, with a summary like a folder's (drawing 10k takes seconds: no cache).
    condition: an attribute (e.g. hair_color) whose values label the faces, for a conditional DCGAN."""
    check_condition("synthetic", condition)
    if not 1 <= count <= MAX_SYNTHETIC:
        raise GanLibError(f"the synthetic faces number from 1 to {MAX_SYNTHETIC:,} (memory), not {count:,}: choose "
                          "another --synthetic-count")
    images, attributes = make_faces(count, size, seed)
    summary = {
        "source": f"synthetic faces (seed {seed})", "image_size": size, "files": count, "images": count,
        "skipped": {}, "original_sizes": [(4 * size, 4 * size)] * count, "modes": {"RGB": count},
        "digests": [hashlib.blake2b(image.numpy().tobytes(), digest_size=16).hexdigest() for image in images],
        "duplicates": 0, "duplicates_dropped": False, "attributes": attributes,
    }
    labels, classes = (attributes[condition], ATTRIBUTES[condition]) if condition else (None, ())
    return ImageSet(images, "synthetic", summary, keys=[f"face-{i}" for i in range(count)], labels=labels,
                    classes=classes)


def load_images(data: str | Path, size: int = 64, count: int = SYNTHETIC_COUNT, drop_duplicates: bool = False,
                condition: str = "") -> ImageSet:
    """Resolve --data: 'synthetic', a named Kaggle dataset (downloaded if need be), or a folder of images.
    condition labels the images for a conditional DCGAN (see synthetic_set and prepare_folder)."""
    if str(data) == "synthetic":
        return synthetic_set(size, count, condition=condition)
    check_condition(str(data), condition)  # before a download
    if str(data) in NAMED_DATASETS and not Path(data).exists():
        return prepare_folder(locate(str(data)), size, drop_duplicates=drop_duplicates, condition=condition)
    return prepare_folder(data, size, drop_duplicates=drop_duplicates, condition=condition)


def reference_samples(data: ImageSet, holdout: int, n: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """(real images to score generated ones against, other real images for the real-vs-real floor), n each.

    data is the whole set. The first come from the part held out by `holdout` (a model trained with the same
    holdout never saw them), the second from the training part; with holdout 0 the set is split one in
    HOLDOUT_EVERY all the same, so that the floor still compares two disjoint sets. n is capped by the smaller part.
    """
    train_part, held_part = data.split(holdout or HOLDOUT_EVERY)
    n = min(n, len(train_part), len(held_part))
    rng = torch.Generator().manual_seed(seed)
    held, other = (part.images[torch.randperm(len(part), generator=rng)[:n]] for part in (held_part, train_part))
    return held, other


class DeviceBatches:
    """The training batches: shuffled float images in [-1, 1], drawn and flipped on the training device, in the
    memory format the models use.

    The batch for a step is a pure function of (seed, step), so a resumed run sees exactly the batches that an
    uninterrupted one would. Under torchrun each process takes its share of that same global batch.
    """

    def __init__(self, images: torch.Tensor, batch_size: int, seed: int, device: torch.device | str = "cpu",
                 flip: bool = True, memory_format: torch.memory_format = torch.contiguous_format,
                 labels: torch.Tensor | None = None):
        if len(images) < batch_size:
            raise GanLibError(f"the dataset has {len(images)} images, fewer than the batch size {batch_size}: "
                              "lower --batch-size or add images")
        self.images = images.to(device)
        self.image_labels = labels.to(device) if labels is not None else None
        self.batch_size, self.seed, self.device, self.flip = batch_size, seed, torch.device(device), flip
        self.memory_format = memory_format
        self.steps_per_epoch = len(images) // batch_size
        self.share = my_share(batch_size)  # this process's part of the global batch (all of it in one process)
        self._epoch, self._order = -1, None
        self._flip_rng = torch.Generator(self.device)

    def index(self, step: int) -> torch.Tensor:
        """Which images (on the device) make training step `step`'s batch (this process's share of them)."""
        epoch, i = divmod(step, self.steps_per_epoch)
        if epoch != self._epoch:
            shuffle_rng = torch.Generator().manual_seed(derive_seed(self.seed, "epoch", epoch))
            self._epoch, self._order = epoch, torch.randperm(len(self.images), generator=shuffle_rng).to(self.device)
        return self._order[i * self.batch_size:(i + 1) * self.batch_size][self.share]

    def labels(self, step: int) -> torch.Tensor | None:
        """The class labels of step `step`'s images, or None for images without labels."""
        return self.image_labels[self.index(step)] if self.image_labels is not None else None

    def batch(self, step: int) -> torch.Tensor:
        """The images of training step `step` (this process's share of them)."""
        x = self.images[self.index(step)].float().div_(127.5).sub_(1.0)
        if self.flip:
            flip_rng = seeded(self._flip_rng, self.seed, "flip", step)
            flips = torch.rand(self.batch_size, generator=flip_rng, device=self.device)[self.share]
            mirror = (flips < 0.5).view(-1, 1, 1, 1)
            x = torch.where(mirror, x.flip(3), x)
        return x.contiguous(memory_format=self.memory_format)
