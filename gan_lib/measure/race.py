"""Runs trained side by side and scored as they go: to equal steps, then a faster run on until it has had another's
training time (notebook 06's DCGAN against the style-based G). Each score is the SWD of a run's samples (its EMA
generator, fixed latents) against held-out faces."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import torch

from ..models import noise
from ..train import Trainer
from .metrics import sliced_wasserstein


@dataclass
class Race:
    """Trainers by name, the held-out faces (uint8) they are scored against, and what the race has measured: SWD
    against steps and against seconds of training, per run."""

    runs: dict[str, Trainer]
    reference: torch.Tensor
    chunk: int  # steps between scores
    key: str = "race"  # the scores' latents: models.noise(n, cfg, key)
    by_steps: dict[str, list[tuple[int, float]]] = field(default_factory=dict)
    by_seconds: dict[str, list[tuple[float, float]]] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    def __post_init__(self):
        for name in self.runs:
            self.by_steps[name], self.by_seconds[name], self.seconds[name] = [], [], 0.0

    def score(self, name: str) -> float:
        """SWD x 1e3 of the run's samples (the same latents for every run and score) against the reference."""
        run = self.runs[name]
        samples = run.generate(noise(len(self.reference), run.cfg, self.key, device=run.device))
        return sliced_wasserstein(self.reference, samples)["mean"]

    def train(self, name: str, until_step: int | None = None, until_seconds: float | None = None) -> float:
        """Train the run in chunks, scoring after each, until a step count or a number of seconds of training;
        its last score."""
        run = self.runs[name]
        while (run.step < until_step) if until_step else (self.seconds[name] < until_seconds):
            start = time.perf_counter()
            run.fit(min(run.step + self.chunk, until_step) if until_step else run.step + max(1, self.chunk // 4),
                    progress=False)
            self.seconds[name] += time.perf_counter() - start
            swd = self.score(name)
            self.by_steps[name].append((run.step, swd))
            self.by_seconds[name].append((self.seconds[name], swd))
        return self.by_steps[name][-1][1]

    def ms_per_step(self, name: str) -> float:
        return 1000 * self.seconds[name] / max(1, self.runs[name].step)
