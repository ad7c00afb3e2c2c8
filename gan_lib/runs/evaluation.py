"""`evaluate`: a checkpoint's generator scored by one of metrics.METRICS, against real images it did not train on
where its run held some out, beside the floor the metric reports."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import torch

from ..data.loading import SYNTHETIC_COUNT, load_images, reference_samples
from ..measure.metrics import METRICS, SCORE_FACES, Scoring
from ..models import balanced_labels, generate, noise
from ..support.errors import GanLibError, printable
from .checkpoint import load_generator, read_checkpoint

MAX_EVALUATE = 50_000  # evaluate's n: FID's customary sample; held as uint8 (600 MB a set at 64 px), SWD bounded


def scored_faces(G: torch.nn.Module, cfg, count: int) -> torch.Tensor:
    """The faces a score compares with the real ones: count of G's, as uint8 like the real ones (a quarter of float's
    memory), from noise drawn in chunks of 500 keyed by their start, so that a seed keeps its scores. `evaluate` and
    the notebooks score with these, so that both give one number for one run."""
    z = torch.cat([noise(min(500, count - i), cfg, "evaluate", i) for i in range(0, count, 500)])
    return generate(G, z, as_uint8=True)


def evaluate(checkpoint: str | Path, metric: str = "swd", n: int = SCORE_FACES, data: str | None = None, seed: int = 0,
             device: str = "auto", inception_weights: str | Path | None = None) -> str:
    """The metric's report for n faces of the checkpoint's generator, drawn from `seed`; the real images are the
    run's held-out ones, from `data` (default: the data the checkpoint records). Where the real images come from is
    said on stderr."""
    if not 2 <= n <= MAX_EVALUATE:
        raise GanLibError(f"--n must be between 2 and {MAX_EVALUATE:,} (FID's customary sample size), got {n:,}")
    state = read_checkpoint(checkpoint)
    trained_on = state.data.get("name")
    if metric == "modes" and trained_on != "synthetic":
        raise GanLibError(f"--metric modes reads faces with a classifier of the synthetic faces' attributes, and "
                          f"{printable(str(checkpoint))} trained on {printable(trained_on or 'unrecorded data')}, "
                          "whose faces it cannot read: score it with --metric swd, fid or kid")
    G, cfg = load_generator(state, device)
    cfg = replace(cfg, seed=seed)  # checked like any config
    scoring = METRICS[metric]

    if not scoring.needs_real:
        labels = balanced_labels(n, len(cfg.classes)) if cfg.conditional else None  # what generate() draws
        return scoring.report(Scoring(scored_faces(G, cfg, n), labels=labels, condition=cfg.condition))
    record = state.data
    if not (data or record.get("name")):
        raise GanLibError(f"{checkpoint} does not record the data it trained on: pass --data")
    images = load_images(data or record["name"], cfg.image_size, record.get("files") or SYNTHETIC_COUNT,
                         record.get("drop_duplicates", False))
    holdout = state.holdout if images.summary.get("source") == record.get("source") else 0
    real, other = reference_samples(images, holdout, n, seed)
    if holdout:
        print(f"real images: {len(real)} of the {printable(images.name)} images held out of training (1 in "
              f"{holdout})", file=sys.stderr)
    else:
        print(f"note: the checkpoint was not trained with --holdout on {printable(images.name)}, so it may have seen "
              f"the {len(real)} real images it is compared with; train with --holdout for a fair score",
              file=sys.stderr)
    device_of_g = next(G.parameters()).device
    return scoring.report(Scoring(scored_faces(G, cfg, len(real)), real, other, inception_weights, device_of_g))
