"""The GAN objective in numbers and figures (Goodfellow et al. 2014, arXiv:1406.2661): the optimal discriminator,
its link to the Jensen-Shannon divergence, the two generator losses and their gradients, and what one-sided label
smoothing (Salimans et al. 2016, arXiv:1606.03498) does to the optimal D. Every curve is computed, not drawn by hand.
"""

from __future__ import annotations

import math

import torch

from ..losses import GENERATOR_LOSSES, critic_wasserstein, gradient_penalty

GRID = torch.linspace(-6, 8, 2801, dtype=torch.float64)  # where the 1-D densities below are evaluated


def gaussian(x: torch.Tensor, mean: float, std: float = 1.0) -> torch.Tensor:
    return torch.exp(-0.5 * ((x - mean) / std) ** 2) / (std * math.sqrt(2 * math.pi))


def optimal_discriminator(p_data: torch.Tensor, p_g: torch.Tensor, label_smoothing: float = 0.0) -> torch.Tensor:
    """D*(x) = (1 - a) p_data / (p_data + p_g): the D that maximises the game's value for a fixed G, when real
    images are labelled 1 - a (a = 0: the paper's game; a = 0.1: our one-sided smoothing)."""
    return (1 - label_smoothing) * p_data / (p_data + p_g).clamp_min(1e-300)


def value_with_optimal_d(p_data: torch.Tensor, p_g: torch.Tensor, x: torch.Tensor = GRID) -> float:
    """V(D*, G) = E_data[log D*] + E_g[log(1 - D*)], integrated numerically on x."""
    d = optimal_discriminator(p_data, p_g).clamp(1e-12, 1 - 1e-12)
    return float(torch.trapezoid(p_data * d.log() + p_g * (1 - d).log(), x))


def js_divergence(p: torch.Tensor, q: torch.Tensor, x: torch.Tensor = GRID) -> float:
    """Jensen-Shannon divergence (nats) between two densities on x: KL(p || m)/2 + KL(q || m)/2, m = (p + q)/2."""
    m = (p + q) / 2

    def kl(a: torch.Tensor) -> torch.Tensor:
        return torch.where(a > 0, a * (a.clamp_min(1e-300) / m.clamp_min(1e-300)).log(), torch.zeros_like(a))

    return float(torch.trapezoid(kl(p) / 2 + kl(q) / 2, x))


def generator_losses(d_of_fake: torch.Tensor) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """For each G loss, (its value, its gradient with respect to D's logit) at D(G(z)) = d_of_fake, by autograd.

    'saturating' is the minimax game's log(1 - D(G(z))); 'non-saturating' is -log D(G(z)), what G minimises here.
    """
    out = {}
    for name in ("saturating", "non-saturating"):
        logit = torch.logit(d_of_fake.double()).requires_grad_()
        loss = GENERATOR_LOSSES[name](logit, reduction="none")
        (grad,) = torch.autograd.grad(loss.sum(), logit)
        out[name] = (loss.detach(), grad)
    return out


def plot_generator_losses():
    """The two G losses and the size of their gradients against D(G(z))."""
    import matplotlib.pyplot as plt

    d = torch.linspace(0.001, 0.999, 500)
    fig, (ax_loss, ax_grad) = plt.subplots(1, 2, figsize=(11, 3.6))
    for name, (loss, grad) in generator_losses(d).items():
        ax_loss.plot(d, loss, label=name)
        ax_grad.plot(d, grad.abs(), label=name)
    ax_loss.set(xlabel="D(G(z))", ylabel="G's loss", title="G's loss (minimised)")
    ax_grad.set(xlabel="D(G(z))", ylabel="|d loss / d logit|", title="how hard it pushes G")
    ax_grad.axvspan(0, 0.1, color="grey", alpha=0.15, label="early training: D rejects G's images")
    for ax in (ax_loss, ax_grad):
        ax.legend()
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def plot_optimal_discriminator(shift: float = 2.0, label_smoothing: float = 0.1):
    """Left: p_data, p_g and D* with and without smoothing. Right: V(D*, G) against -log 4 + 2 JSD as p_g moves."""
    import matplotlib.pyplot as plt

    p_data, p_g = gaussian(GRID, 0.0), gaussian(GRID, shift)
    fig, (ax_d, ax_v) = plt.subplots(1, 2, figsize=(11, 3.6))
    ax_d.plot(GRID, p_data, label="p_data")
    ax_d.plot(GRID, p_g, label="p_g")
    ax_d.plot(GRID, optimal_discriminator(p_data, p_g), label="D*")
    ax_d.plot(GRID, optimal_discriminator(p_data, p_g, label_smoothing), "--",
              label=f"D* with real labels {1 - label_smoothing:g}")
    ax_d.set(xlabel="x", xlim=(-4, shift + 4), title="the optimal discriminator for a fixed G")
    shifts = torch.linspace(0, 5, 26)
    values = [value_with_optimal_d(p_data, gaussian(GRID, float(s))) for s in shifts]
    js = [-math.log(4) + 2 * js_divergence(p_data, gaussian(GRID, float(s))) for s in shifts]
    ax_v.plot(shifts, values, "o", label="V(D*, G), integrated")
    ax_v.plot(shifts, js, label="-log 4 + 2 JSD(p_data || p_g)")
    ax_v.axhline(-math.log(4), color="grey", linestyle=":", label="-log 4: p_g = p_data")
    ax_v.set(xlabel="distance between the means of p_g and p_data", title="the game's value is a JS divergence")
    for ax in (ax_d, ax_v):
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


# --- The Wasserstein distance and a critic that estimates it (Arjovsky et al. 2017; Gulrajani et al. 2017) ----------

def critic_estimate(shift: float, steps: int = 400, batch: int = 256, gp_weight: float = 10.0,
                    seed: int = 0) -> tuple[float, torch.nn.Module]:
    """Train a small critic f with WGAN-GP's loss on samples of N(0, 1) (real) and N(shift, 1) (generated), then
    return (E_real[f] - E_generated[f] on 20,000 new samples of each, f). For a 1-Lipschitz f that maximises it, the
    difference is the Wasserstein-1 distance, here |shift|; the gradient penalty keeps f close to 1-Lipschitz."""
    from torch import nn

    torch.manual_seed(seed)
    critic = nn.Sequential(nn.Linear(1, 64), nn.LeakyReLU(0.2), nn.Linear(64, 64), nn.LeakyReLU(0.2), nn.Linear(64, 1))
    optimiser = torch.optim.Adam(critic.parameters(), lr=1e-3, betas=(0.5, 0.9))
    for _ in range(steps):
        real, fake = torch.randn(batch, 1), torch.randn(batch, 1) + shift
        loss = critic_wasserstein(critic(real), critic(fake)) + gp_weight * gradient_penalty(critic, real, fake)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    with torch.no_grad():
        real, fake = torch.randn(20_000, 1), torch.randn(20_000, 1) + shift
        return float(critic(real).mean() - critic(fake).mean()), critic


def penalised_critic(distance: float, gp_weight: float = 10.0) -> tuple[float, float]:
    """(slope, estimate) of the best critic of constant slope k between two distributions `distance` apart along a
    line (two shifted Gaussians): it maximises k * distance - gp_weight * (k - 1)^2, at k = 1 + distance / (2 *
    gp_weight), where its estimate k * distance overshoots the distance by distance^2 / (2 * gp_weight)."""
    slope = 1 + distance / (2 * gp_weight)
    return slope, slope * distance


def plot_wasserstein_and_js(shifts: list[float], estimates: list[float]):
    """Against the distance between two unit Gaussians: the JS divergence (flat once they stop overlapping, so its
    gradient vanishes) beside the true Wasserstein-1 distance |shift| and the trained critics' estimates of it."""
    import matplotlib.pyplot as plt

    fine = torch.linspace(0, max(shifts), 60)
    js = [js_divergence(gaussian(GRID, 0.0), gaussian(GRID, float(s))) for s in fine]
    fig, ax = plt.subplots(figsize=(6.5, 3.6))
    ax.plot(fine, js, label="JS divergence (nats): what BCE's optimal D measures")
    ax.axhline(math.log(2), color="grey", linestyle=":", linewidth=1)
    ax.plot(fine, fine, label="Wasserstein-1 distance |shift|")
    ax.plot(shifts, estimates, "o", label="a trained critic's estimate (WGAN-GP)")
    ax.set(xlabel="shift between N(0, 1) and N(shift, 1)", ylabel="distance")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
