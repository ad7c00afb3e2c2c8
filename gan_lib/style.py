"""The style-based generator (Karras et al. 2019, StyleGAN), small enough for a CPU at 32 px: a mapping network
z -> w, a learned constant input, a style per layer applied by AdaIN, per-pixel noise with a learned strength per
channel, the tracked average w, truncation towards it in w, and style mixing while training. It takes z and gives
images like models.Generator, so the losses, the Trainer, checkpoints, generate and evaluate serve both."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .models import _stages
from .support.errors import GanLibError

NOISE_MODES = ("random", "const", "none")  # fresh noise per image, the layer's fixed map, or no noise


class EqualLinear(nn.Module):
    """A linear layer with an equalised learning rate: weights drawn from N(0, 1 / lr_mul^2) and scaled by
    lr_mul / sqrt(fan_in) when used, so every layer learns at the same pace and Adam's steps on this one are lr_mul
    times smaller (StyleGAN's 0.01 on the mapping network)."""

    def __init__(self, c_in: int, c_out: int, lr_mul: float = 1.0, bias: torch.Tensor | float = 0.0):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(c_out, c_in) / lr_mul)
        self.bias = nn.Parameter(torch.zeros(c_out) + bias) if isinstance(bias, float) else nn.Parameter(bias.clone())
        self.bias.data /= lr_mul
        self.weight_gain, self.lr_mul = lr_mul / math.sqrt(c_in), lr_mul

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight * self.weight_gain, self.bias * self.lr_mul)


def normalize_latent(z: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Each z scaled to a mean square of 1 (StyleGAN's first step: the mapping sees latents of one size)."""
    return z * torch.rsqrt(z.square().mean(1, keepdim=True) + eps)


class MappingNetwork(nn.Module):
    """z (N, latent_dim) -> w (N, latent_dim): z normalised, then `layers` equalised linear layers with
    LeakyReLU(0.2), learning at lr_mul times the optimiser's rate."""

    def __init__(self, latent_dim: int, layers: int, lr_mul: float):
        super().__init__()
        self.net = nn.Sequential(*[m for _ in range(layers)
                                   for m in (EqualLinear(latent_dim, latent_dim, lr_mul), nn.LeakyReLU(0.2))])

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(normalize_latent(z))


def adain(x: torch.Tensor, scale: torch.Tensor, bias: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """Adaptive instance normalisation (Huang and Belongie 2017): each image's channels normalised to mean 0 and
    standard deviation 1 over their pixels, then scaled and shifted by the image's style. x (N, C, H, W); scale and
    bias (N, C)."""
    return F.instance_norm(x, eps=eps) * scale[:, :, None, None] + bias[:, :, None, None]


class NoiseInjection(nn.Module):
    """x + strength * noise: one Gaussian map per image, shared by its channels, times a learned strength per channel
    (0 at first, as in NVIDIA's code: G learns how much noise each channel wants)."""

    def __init__(self, channels: int):
        super().__init__()
        self.strength = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        return x + self.strength[None, :, None, None] * noise  # noise (N, 1, H, W)


class StyleLayer(nn.Module):
    """One layer of the synthesis network: [2x bilinear upsampling,] a 3x3 convolution (none on the constant
    input), noise, LeakyReLU(0.2), then AdaIN with the style that an affine map reads from w."""

    def __init__(self, c_in: int, c_out: int, w_dim: int, size: int, upsample: bool = False, conv: bool = True):
        super().__init__()
        self.upsample = upsample
        self.conv = nn.Conv2d(c_in, c_out, 3, padding=1) if conv else None
        self.noise = NoiseInjection(c_out)
        self.style = EqualLinear(w_dim, 2 * c_out, bias=torch.cat([torch.ones(c_out), torch.zeros(c_out)]))
        self.register_buffer("noise_const", torch.randn(1, 1, size, size))  # "const" mode: the same map every time

    def forward(self, x: torch.Tensor, w: torch.Tensor, noise_mode: str = "random",
                rng: torch.Generator | None = None) -> torch.Tensor:
        if self.upsample:
            x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
        if self.conv is not None:
            x = self.conv(x)
        n, _, h, wd = x.shape
        if noise_mode == "random":  # fresh per image
            noise = torch.randn(n, 1, h, wd, generator=rng, device=x.device, dtype=x.dtype)
        else:
            noise = self.noise_const.to(x.dtype) if noise_mode == "const" else torch.zeros_like(self.noise_const)
        x = F.leaky_relu(self.noise(x, noise), 0.2)
        scale, bias = self.style(w).chunk(2, 1)  # the style: a scale (1 at first) and a bias per channel
        return adain(x, scale, bias)


class StyleGenerator(nn.Module):
    """Latent vector (N, latent_dim) -> image (N, 3, S, S) in [-1, 1], through w = mapping(z).

    Two layers per resolution from a learned 4x4 constant, each reading its own copy of w (num_ws in all), so a copy
    can come from another face (style mixing: coarse layers from one, fine from another). In training, w's running
    average is tracked, mixing happens with probability cfg.style_mixing and the noise is fresh (drawn from `draws`,
    a torch.Generator the Trainer seeds each step, for exact resume); in eval mode the noise is each layer's fixed
    map (`noise_mode`, for repeatable samples) and w is truncated towards its average by `psi` (1: no truncation)."""

    def __init__(self, cfg):
        super().__init__()
        n = _stages(cfg.image_size)
        channels = [cfg.g_width * 2 ** max(n - 1 - i, 0) for i in range(n + 1)]  # 4x4 ... S x S
        self.latent_dim, self.classes = cfg.latent_dim, ()
        self.mapping = MappingNetwork(cfg.latent_dim, cfg.mapping_layers, cfg.mapping_lr_mul)
        self.const = nn.Parameter(torch.randn(1, channels[0], 4, 4))
        layers = [StyleLayer(channels[0], channels[0], cfg.latent_dim, 4, conv=False),
                  StyleLayer(channels[0], channels[0], cfg.latent_dim, 4)]
        for i, (c_in, c_out) in enumerate(zip(channels, channels[1:]), 1):
            size = 4 * 2**i
            layers += [StyleLayer(c_in, c_out, cfg.latent_dim, size, upsample=True),
                       StyleLayer(c_out, c_out, cfg.latent_dim, size)]
        self.layers = nn.ModuleList(layers)
        self.to_rgb = nn.Conv2d(channels[-1], 3, 1)
        self.num_ws = len(layers)
        self.register_buffer("w_avg", torch.zeros(cfg.latent_dim))  # tracked in training, the truncation's centre
        self.w_avg_beta, self.mixing = 0.995, cfg.style_mixing
        self.psi, self.noise_mode = 1.0, "const"  # how eval mode draws (set them to explore)
        self.draws: torch.Generator | None = None

    def map(self, z: torch.Tensor) -> torch.Tensor:
        """w for z; in training, also moves the tracked average w towards this batch's mean."""
        w = self.mapping(z)
        if self.training:
            with torch.no_grad():
                self.w_avg.copy_(w.detach().float().mean(0).lerp(self.w_avg, self.w_avg_beta))
        return w

    def truncate(self, ws: torch.Tensor, psi: float) -> torch.Tensor:
        """The truncation trick in w: each w moved towards the average w, to psi of its distance (psi 1: as is)."""
        return ws if psi == 1 else self.w_avg.to(ws.dtype).lerp(ws, psi)

    def mix(self, ws: torch.Tensor) -> torch.Tensor:
        """Style mixing regularisation: with probability self.mixing an image's layers from a random cut-off on read
        the w of another z, so that G cannot rely on neighbouring layers' styles being one face's."""
        n = len(ws)
        device = ws.device
        other = self.mapping(torch.randn(n, self.latent_dim, generator=self.draws, device=device, dtype=ws.dtype))
        cut = torch.randint(1, self.num_ws, (n,), generator=self.draws, device=device)
        mixed = torch.rand(n, generator=self.draws, device=device) < self.mixing
        cut = torch.where(mixed, cut, torch.full_like(cut, self.num_ws))
        later = torch.arange(self.num_ws, device=device)[None, :] >= cut[:, None]  # (N, num_ws)
        return torch.where(later[:, :, None], other[:, None, :], ws)

    def styles_mixed(self, w_coarse: torch.Tensor, w_fine: torch.Tensor, crossover: int) -> torch.Tensor:
        """Images whose layers before `crossover` (a layer index, 0..num_ws) read w_coarse and the others w_fine, each
        (N, latent_dim): the coarse layers set pose and face shape, the fine ones colours and texture."""
        later = torch.arange(self.num_ws, device=w_coarse.device)[None, :, None] >= crossover
        return self.synthesis(torch.where(later, w_fine[:, None, :], w_coarse[:, None, :]))

    def mixing_grid(self, w_rows: torch.Tensor, w_columns: torch.Tensor, crossover: int) -> torch.Tensor:
        """A style-mixing grid, row by row: image (i, j) takes its coarse layers from w_rows[i] and its fine layers
        from w_columns[j] (len(w_rows) * len(w_columns) images)."""
        return self.styles_mixed(w_rows.repeat_interleave(len(w_columns), 0), w_columns.repeat(len(w_rows), 1),
                                 crossover)

    def synthesis(self, ws: torch.Tensor, noise_mode: str | None = None) -> torch.Tensor:
        """Images from one w per layer, ws (N, num_ws, latent_dim); noise_mode: one of NOISE_MODES (default:
        random in training, self.noise_mode in eval mode)."""
        mode = noise_mode or ("random" if self.training else self.noise_mode)
        if mode not in NOISE_MODES:
            raise GanLibError(f"noise_mode must be one of {', '.join(NOISE_MODES)}, got {mode!r}")
        x = self.const.expand(len(ws), -1, -1, -1).to(ws.dtype)
        for i, layer in enumerate(self.layers):
            x = layer(x, ws[:, i], mode, self.draws)
        return torch.tanh(self.to_rgb(x))

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        if labels is not None:
            raise GanLibError("this generator is unconditional: it takes no class labels")
        ws = self.map(z)[:, None, :].expand(-1, self.num_ws, -1)  # (N, num_ws, latent_dim): one w per layer
        if self.training and self.mixing:
            ws = self.mix(ws)
        return self.synthesis(ws if self.training else self.truncate(ws, self.psi))


class InW(nn.Module):
    """A style-based G read from w: w (N, latent_dim) -> images, every layer reading the same w (no mapping, no
    truncation). The latent explorer and gallery move in w through it; `centre`, the average w, is where the
    explorer's truncation slider draws a face towards."""

    def __init__(self, G: StyleGenerator):
        super().__init__()
        self.G, self.latent_dim, self.classes = G, G.latent_dim, ()

    @property
    def centre(self) -> torch.Tensor:
        return self.G.w_avg

    @torch.no_grad()
    def from_z(self, z: torch.Tensor) -> torch.Tensor:
        """The w of latents z (N, latent_dim): a random face's place in w."""
        return self.G.mapping(z)

    def forward(self, w: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        if labels is not None:
            raise GanLibError("this generator is unconditional: it takes no class labels")
        return self.G.synthesis(w[:, None, :].expand(-1, self.G.num_ws, -1))
