"""A GAN in two dimensions: a ring of Gaussians that a pair of small MLPs learn in seconds on a CPU, where
convergence and mode collapse can be seen directly (the ring is the standard toy of Metz et al. 2017, "Unrolled
GANs", arXiv:1611.02163).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
from torch import nn

from ..losses import GENERATOR_LOSSES, by_name


def ring(n: int, modes: int = 8, radius: float = 2.0, std: float = 0.05, seed: int = 0) -> torch.Tensor:
    """n points (n, 2) from `modes` Gaussians of standard deviation std, evenly spaced on a circle."""
    rng = torch.Generator().manual_seed(seed)
    angle = torch.randint(0, modes, (n,), generator=rng) * (2 * math.pi / modes)
    centres = radius * torch.stack([angle.cos(), angle.sin()], 1)
    return centres + std * torch.randn(n, 2, generator=rng)


def ring_centres(modes: int = 8, radius: float = 2.0) -> torch.Tensor:
    angle = torch.arange(modes) * (2 * math.pi / modes)
    return radius * torch.stack([angle.cos(), angle.sin()], 1)


def modes_covered(points: torch.Tensor, modes: int = 8, radius: float = 2.0, std: float = 0.05,
                  min_share: float = 0.02) -> tuple[int, float]:
    """(how many modes hold at least min_share of the points, the share of points within 3 std of a mode)."""
    distances = torch.cdist(points, ring_centres(modes, radius))
    nearest, index = distances.min(1)
    close = nearest < 3 * std
    shares = torch.bincount(index[close], minlength=modes).float() / len(points)
    return int((shares >= min_share).sum()), float(close.float().mean())


def _mlp(n_in: int, n_out: int, width: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(n_in, width), nn.ReLU(), nn.Linear(width, width), nn.ReLU(),
                         nn.Linear(width, width), nn.ReLU(), nn.Linear(width, n_out))


@dataclass
class ToyRun:
    """What a toy run leaves: generated points at each snapshot."""

    snapshots: dict[int, torch.Tensor] = field(default_factory=dict)  # step -> (n, 2) generated points


def train_toy_gan(steps: int = 2000, g_loss: str = "non-saturating", lr: float = 1e-3, batch: int = 256,
                  latent_dim: int = 2, width: int = 128, label_smoothing: float = 0.0, d_steps: int = 1,
                  snapshot_every: int = 250, seed: int = 0, loss: str = "bce",
                  betas: tuple[float, float] = (0.5, 0.999)) -> ToyRun:
    """Train G (latent -> point) and D (point -> logit) with Adam(lr, betas) on the ring (the DCGAN's betas by
    default; WGAN-GP's paper uses (0, 0.9)).

    loss: 'bce' (the DCGAN's), 'hinge' or 'wgan-gp' (see losses). g_loss, for bce: 'non-saturating' (G minimises
    -log D(G(z)), what every GAN in practice uses) or 'saturating' (G minimises log(1 - D(G(z))), the minimax game
    as written). d_steps: D updates per G update.
    """
    if g_loss not in GENERATOR_LOSSES:
        raise ValueError(f"g_loss must be one of {', '.join(GENERATOR_LOSSES)}, got {g_loss!r}")
    adversarial = by_name(loss, label_smoothing, seed=seed)
    generator_loss = GENERATOR_LOSSES[g_loss] if loss == "bce" else adversarial.generator
    torch.manual_seed(seed)
    G, D = _mlp(latent_dim, 2, width), _mlp(2, 1, width)
    opt_g = torch.optim.Adam(G.parameters(), lr=lr, betas=betas)
    opt_d = torch.optim.Adam(D.parameters(), lr=lr, betas=betas)
    data = ring(steps * batch * d_steps, seed=seed).view(steps, d_steps, batch, 2)
    fixed = torch.randn(1000, latent_dim, generator=torch.Generator().manual_seed(seed + 1))
    run = ToyRun()
    for step in range(steps + 1):
        if step % snapshot_every == 0 or step == steps:
            with torch.no_grad():
                run.snapshots[step] = G(fixed)
        if step == steps:
            break
        for repeat, real in enumerate(data[step]):
            fake = G(torch.randn(batch, latent_dim)).detach()
            logit_real, logit_fake = D(real), D(fake)
            loss_d = adversarial.discriminator(logit_real, logit_fake) + adversarial.penalty(D, real, fake,
                                                                                             (step, repeat))
            opt_d.zero_grad()
            loss_d.backward()
            opt_d.step()
        loss_g = generator_loss(D(G(torch.randn(batch, latent_dim))))
        opt_g.zero_grad()
        loss_g.backward()
        opt_g.step()
    return run


def plot_toy_runs(runs: dict[str, ToyRun], columns: int = 5):
    """One row per run: its generated points (and the ring's centres) at evenly spaced snapshots, titled with the
    modes covered."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(runs), columns, figsize=(2.3 * columns, 2.4 * len(runs)), squeeze=False)
    centres = ring_centres()
    for row, (name, run) in zip(axes, runs.items()):
        steps = sorted(run.snapshots)
        picks = [steps[round(i * (len(steps) - 1) / (columns - 1))] for i in range(columns)]
        for ax, step in zip(row, picks):
            points = run.snapshots[step]
            covered, near = modes_covered(points)
            ax.scatter(points[:, 0], points[:, 1], s=2, alpha=0.4)
            ax.scatter(centres[:, 0], centres[:, 1], s=30, marker="x", color="black")
            ax.set(xlim=(-3, 3), ylim=(-3, 3), xticks=[], yticks=[], aspect="equal")
            ax.set_title(f"step {step}: {covered}/8 modes", fontsize=9)
        row[0].set_ylabel(name)
    fig.tight_layout()
    return fig


def plot_modes_over_training(runs: dict[str, ToyRun]):
    """Modes covered against training steps, one line per run (from each run's snapshots)."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 3.2))
    for name, run in runs.items():
        steps = sorted(run.snapshots)
        ax.plot(steps, [modes_covered(run.snapshots[s])[0] for s in steps], marker="o", label=name)
    ax.set(xlabel="step", ylabel="modes covered (of 8)", ylim=(-0.3, 8.3))
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig
