"""DCGAN Generator and Discriminator, sized from the config for 32, 64 or 128 px; their weight init; latent noise,
interpolation between latents and sampling in batches."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .support.errors import GanLibError
from .support.pixels import to_uint8
from .support.runtime import seeded


def _stages(image_size: int) -> int:
    """Number of 2x resolution steps between 4x4 and the image size."""
    return int(math.log2(image_size)) - 2


def generator_block(c_in: int, c_out: int) -> nn.Sequential:
    """One of G's upsampling blocks: a transposed convolution that doubles the side (kernel 4, stride 2, padding 1; no
    bias, BatchNorm's shift does its job), BatchNorm, ReLU. Notebook 02's exercise checks a learner's against it."""
    return nn.Sequential(nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(True))


def discriminator_block(c_in: int, c_out: int, norm: str = "batch") -> nn.Sequential:
    """One of D's downsampling blocks after the first: a convolution that halves the side (kernel 4, stride 2,
    padding 1, no bias), D's normalisation (config.Config.discriminator_norm), LeakyReLU(0.2)."""
    return nn.Sequential(nn.Conv2d(c_in, c_out, 4, 2, 1, bias=False), _norm(norm, c_out), nn.LeakyReLU(0.2, True))


class Generator(nn.Module):
    """Latent vector (N, latent_dim) -> image (N, 3, S, S) in [-1, 1].

    Conditional (cfg.classes): G also reads each image's class, as a one-hot vector beside z (Mirza and Osindero
    2014), so its first layer has one input per class more."""

    def __init__(self, cfg):
        super().__init__()
        n = _stages(cfg.image_size)
        channels = [cfg.g_width * 2 ** (n - 1 - i) for i in range(n)]  # e.g. 512, 256, 128, 64 at 64 px
        self.latent_dim = cfg.latent_dim
        self.classes = cfg.classes
        self.start_channels = channels[0]
        inputs = cfg.latent_dim + len(cfg.classes)
        if cfg.dense_projection:
            self.project = nn.Sequential(
                nn.Linear(inputs, channels[0] * 16, bias=False),
                nn.Unflatten(1, (channels[0], 4, 4)),
                nn.BatchNorm2d(channels[0]),
                nn.ReLU(True),
            )
        else:
            self.project = nn.Sequential(
                nn.Unflatten(1, (inputs, 1, 1)),
                nn.ConvTranspose2d(inputs, channels[0], 4, 1, 0, bias=False),
                nn.BatchNorm2d(channels[0]),
                nn.ReLU(True),
            )
        layers: list[nn.Module] = []
        for c_in, c_out in zip(channels, channels[1:]):
            layers += generator_block(c_in, c_out)  # its layers, in one Sequential: checkpoints keep their keys
        layers += [nn.ConvTranspose2d(channels[-1], 3, 4, 2, 1, bias=False), nn.Tanh()]
        self.upsample = nn.Sequential(*layers)
        init_weights(self)

    def inputs(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """What the first layer reads: z, and for a conditional G the one-hot class beside it (labels None: the
        classes in turn, 0, 1, 2, ..., 0, 1, ..., each as often as the others)."""
        if not self.classes:
            if labels is not None:
                raise GanLibError("this generator is unconditional: it takes no class labels")
            return z
        labels = balanced_labels(len(z), len(self.classes), z.device) if labels is None else labels
        return torch.cat([z, F.one_hot(labels, len(self.classes)).to(z.dtype)], 1)

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        x = self.project(self.inputs(z, labels))  # (N, latent_dim) -> (N, 8 * g_width, 4, 4) at 64 px
        return self.upsample(x)  # doubling each stage, halving the channels -> (N, 3, S, S) in [-1, 1]


def balanced_labels(n: int, classes: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """n class labels, the classes in turn: what a conditional G draws when it is not told which."""
    return torch.arange(n, device=device) % classes


class Discriminator(nn.Module):
    """Image (N, 3, S, S) -> one real/fake logit per image, shape (N,).

    Conditional (cfg.classes): D also reads each image's class by projection (Miyato and Koyama 2018): the logit
    gains the inner product of a learned embedding of the class with D's last features, summed over positions."""

    def __init__(self, cfg):
        super().__init__()
        n = _stages(cfg.image_size)
        channels = [cfg.d_width * 2**i for i in range(n)]  # e.g. 64, 128, 256, 512 at 64 px
        layers: list[nn.Module] = [nn.Conv2d(3, channels[0], 4, 2, 1, bias=False), nn.LeakyReLU(0.2, True)]
        for c_in, c_out in zip(channels, channels[1:]):
            layers += discriminator_block(c_in, c_out, cfg.discriminator_norm)
        layers += [nn.Conv2d(channels[-1], 1, 4, 1, 0, bias=False), nn.Flatten(0)]
        self.net = nn.Sequential(*layers)
        self.embed = nn.Embedding(len(cfg.classes), channels[-1]) if cfg.classes else None
        init_weights(self)
        if cfg.spectral_norm:
            for i, layer in enumerate(self.net):
                if isinstance(layer, nn.Conv2d):
                    self.net[i] = nn.utils.parametrizations.spectral_norm(layer)

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        if self.embed is None:
            return self.net(x)  # (N, 3, S, S) -> halving each stage to (N, 8 * d_width, 4, 4) at 64 px -> (N,) logits
        if labels is None:
            raise GanLibError("this discriminator is conditional: pass the images' class labels, D(images, labels)")
        features = self.net[:-2](x)  # (N, 8 * d_width, 4, 4) at 64 px
        projection = (self.embed(labels) * features.sum((2, 3))).sum(1)
        return self.net[-2:](features) + projection


def _norm(kind: str, channels: int) -> nn.Module:
    """D's normalisation layer: BatchNorm (DCGAN), LayerNorm over each image's channels and pixels (GroupNorm with
    one group), InstanceNorm with a learned scale and shift, or none."""
    return {"batch": lambda: nn.BatchNorm2d(channels), "layer": lambda: nn.GroupNorm(1, channels),
            "instance": lambda: nn.InstanceNorm2d(channels, affine=True), "none": nn.Identity}[kind]()


def init_weights(model: nn.Module) -> None:
    """DCGAN init: conv and linear weights N(0, 0.02); BatchNorm scale N(1, 0.02), shift 0."""
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if getattr(m, "bias", None) is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


def noise(n: int, cfg, *key: object, device: torch.device | str = "cpu") -> torch.Tensor:
    """Latent vectors (n, latent_dim), a pure function of (cfg.seed, key): the same on every device."""
    return torch.randn(n, cfg.latent_dim, generator=seeded(torch.Generator(), cfg.seed, *key)).to(device)


BATCHNORM_BATCHES = 16  # batches of noise that measure an averaged G's BatchNorm statistics (1,024 faces at 64)


def recompute_batchnorm(G: nn.Module, cfg, batches: int = BATCHNORM_BATCHES) -> nn.Module:
    """A copy of G, in eval mode, whose BatchNorm running statistics are measured on its own activations (torch's
    update_bn, on `batches` batches of fixed noise), for a G whose weights are an average (the EMA): the average of
    another generator's statistics does not fit the averaged weights (at 64 px it cost about 11% SWD at 1,000
    steps). The copy is a plain module of G's class, so a G with cross-process BatchNorm is measured in this process
    alone; a G without BatchNorm (the style-based one) is copied as it is."""
    from torch.optim.swa_utils import update_bn

    device = next(G.parameters()).device
    with torch.random.fork_rng(devices=[]):  # its initial weights are replaced: the global generator stays as it was,
        copy = type(G)(cfg).to(device)  # so a run's checkpoint does not depend on when it sampled
    copy.load_state_dict(G.state_dict())
    update_bn([noise(cfg.batch_size, cfg, "batchnorm", i, device=device) for i in range(batches)], copy)
    return copy.eval()


@torch.no_grad()
def generate(model: nn.Module, z: torch.Tensor, batch: int = 500, labels: torch.Tensor | None = None,
             as_uint8: bool = False) -> torch.Tensor:
    """model(z) in eval mode, `batch` latents at a time on the model's device, as float on the CPU; the model goes
    back to the mode it was in (a generator in training stays in training). labels: the classes of a conditional
    G's images (default: the classes in turn). as_uint8: each batch made uint8 as it comes, a quarter of the
    memory (for a large grid)."""
    device, training = next(model.parameters()).device, model.training
    if labels is None and getattr(model, "classes", ()):  # in turn over the whole set, not within each batch
        labels = balanced_labels(len(z), len(model.classes))
    model.eval()
    try:
        images = []
        for i in range(0, len(z), batch):
            inputs = [z[i:i + batch]] + ([] if labels is None else [labels[i:i + batch]])
            out = model(*(x.to(device) for x in inputs)).float().cpu()
            images.append(to_uint8(out) if as_uint8 else out)
        return torch.cat(images)
    finally:
        model.train(training)


def lerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Linear interpolation: the straight line from a to b (its middle has a smaller norm than either end)."""
    return a + (b - a) * t


def slerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation: keeps the latent's norm typical of a Gaussian sample along the path."""
    cos = (a * b).sum(-1, keepdim=True) / (a.norm(dim=-1, keepdim=True) * b.norm(dim=-1, keepdim=True))
    omega = torch.acos(cos.clamp(-1 + 1e-7, 1 - 1e-7))
    so = torch.sin(omega)
    return (torch.sin((1 - t) * omega) / so) * a + (torch.sin(t * omega) / so) * b


def interpolate(a: torch.Tensor, b: torch.Tensor, steps: int = 8, spherical: bool = True) -> torch.Tensor:
    """`steps` latents from a to b inclusive, shape (steps, latent_dim)."""
    t = torch.linspace(0, 1, steps).unsqueeze(1)
    return (slerp if spherical else lerp)(a.unsqueeze(0), b.unsqueeze(0), t)


def layer_summary(model: nn.Module, example: torch.Tensor) -> list[dict]:
    """One row per layer that runs on `example`: name, type, output shape and parameter count."""
    rows, hooks = [], []
    for name, module in model.named_modules():
        if not list(module.children()):
            def record(m, inputs, output, name=name):
                rows.append({"layer": name, "type": type(m).__name__, "output": tuple(output.shape[1:]),
                             "parameters": sum(p.numel() for p in m.parameters())})
            hooks.append(module.register_forward_hook(record))
    try:
        with torch.no_grad():
            model.eval()(example)
    finally:
        model.train()
        for hook in hooks:
            hook.remove()
    return rows


def format_layers(rows: list[dict]) -> str:
    """A plain-text table of layer_summary rows with the total parameter count."""
    lines = [f"{'layer':<14}{'type':<18}{'output (C, H, W)':<20}{'parameters':>12}"]
    lines += [f"{r['layer']:<14}{r['type']:<18}{str(r['output']):<20}{r['parameters']:>12,}" for r in rows]
    lines.append(f"{'total':<52}{sum(r['parameters'] for r in rows):>12,}")
    return "\n".join(lines)
