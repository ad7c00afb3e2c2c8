"""Notebook 02's implement-it checks: the generator's and the discriminator's blocks, D's and G's losses."""

from __future__ import annotations

import copy
from collections.abc import Callable

import torch
from torch import nn
from torch.nn import functional as F

from .. import losses
from ..config import Config
from ..models import Discriminator, Generator, init_weights
from .verdicts import implementation_verdict

LOGIT_CASES = [tuple(torch.randn(2, 16, generator=torch.Generator().manual_seed(seed)) * 3) for seed in (0, 1, 2)]


def check_d_loss(d_loss: Callable, label_smoothing: float = 0.1) -> None:
    """d_loss(logits_real, logits_fake, label_smoothing) against losses.discriminator_bce with one-sided smoothing."""
    def bce(logits: torch.Tensor, target: float) -> torch.Tensor:
        return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, target))

    cases = [(r, f, label_smoothing) for r, f in LOGIT_CASES]
    print(implementation_verdict("D's loss", d_loss, lambda r, f, a: losses.discriminator_bce(r, f, 1 - a), cases, {
        "smoothing on both sides (the fake images' target must stay 0)":
            lambda r, f, a: losses.discriminator_bce(r, f, 1 - a, a),
        "no smoothing (real images' target is 1 - label_smoothing)": lambda r, f, a: losses.discriminator_bce(r, f),
        "the wrong sign (a loss is minimised: BCE is already -log)":
            lambda r, f, a: -losses.discriminator_bce(r, f, 1 - a),
        "real and fake swapped (real images' target is the high one)": lambda r, f, a: bce(r, 0) + bce(f, 1 - a),
        "the mean of the two terms (D's loss is their sum)": lambda r, f, a: (bce(r, 1 - a) + bce(f, 0)) / 2,
    }))


def check_g_loss(g_loss: Callable) -> None:
    """g_loss(logits_fake) against the non-saturating loss, naming the saturating one and the wrong sign."""
    cases = [(f,) for _, f in LOGIT_CASES]
    print(implementation_verdict("G's loss", g_loss, losses.generator_non_saturating, cases, {
        "the saturating loss log(1 - D(G(z))) (G is to minimise -log D(G(z)))": losses.generator_saturating,
        "the wrong sign (G minimises -log D(G(z)), not log D(G(z)))":
            lambda f: -losses.generator_non_saturating(f),
    }))


# --- The blocks: built by the learner, run with gan_lib's weights copied in ------------------------------------

BLOCK_CONFIG = Config(image_size=32, latent_dim=16, g_width=8, d_width=8)  # G: 32 -> 16 -> 8 channels; D: 8 -> 16 -> 32


def _initialised(*layers: nn.Module) -> nn.Sequential:
    block = nn.Sequential(*layers)
    init_weights(block)
    return block


def check_generator_block(generator_block: Callable[[int, int], nn.Module]) -> None:
    """generator_block(in_channels, out_channels) against the first upsampling block of gan_lib's Generator."""
    torch.manual_seed(0)
    reference = Generator(BLOCK_CONFIG).upsample[:3]
    c_in, c_out = reference[0].in_channels, reference[0].out_channels
    x = torch.randn(4, c_in, 4, 4, generator=torch.Generator().manual_seed(0))

    def conv(bias: bool = False) -> nn.Module:
        return nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=bias)

    print(module_verdict("G's block", lambda: generator_block(c_in, c_out), reference, x, {
        "a block without BatchNorm (DCGAN normalises after every layer of G but the last)":
            lambda: _initialised(conv(), nn.ReLU()),
        "a bias in the convolution (BatchNorm's shift makes it redundant: bias=False)":
            lambda: _initialised(conv(bias=True), nn.BatchNorm2d(c_out), nn.ReLU()),
        "LeakyReLU in G (DCGAN: ReLU in G, LeakyReLU(0.2) in D)":
            lambda: _initialised(conv(), nn.BatchNorm2d(c_out), nn.LeakyReLU(0.2)),
        "the activation before BatchNorm (the order is convolution, BatchNorm, activation)":
            lambda: _initialised(conv(), nn.ReLU(), nn.BatchNorm2d(c_out)),
    }, shape_hint="kernel 4, stride 2 and padding 1 double the side"))


def check_discriminator_block(discriminator_block: Callable[[int, int], nn.Module]) -> None:
    """discriminator_block(in_channels, out_channels) against the second block of gan_lib's Discriminator."""
    torch.manual_seed(0)
    reference = Discriminator(BLOCK_CONFIG).net[2:5]
    c_in, c_out = reference[0].in_channels, reference[0].out_channels
    x = torch.randn(4, c_in, 8, 8, generator=torch.Generator().manual_seed(0))

    def conv(bias: bool = False) -> nn.Module:
        return nn.Conv2d(c_in, c_out, 4, 2, 1, bias=bias)

    print(module_verdict("D's block", lambda: discriminator_block(c_in, c_out), reference, x, {
        "a block without BatchNorm (DCGAN's D normalises every layer but the first and the last)":
            lambda: _initialised(conv(), nn.LeakyReLU(0.2)),
        "a bias in the convolution (BatchNorm's shift makes it redundant: bias=False)":
            lambda: _initialised(conv(bias=True), nn.BatchNorm2d(c_out), nn.LeakyReLU(0.2)),
        "LeakyReLU's default slope 0.01 (DCGAN uses 0.2: nn.LeakyReLU(0.2))":
            lambda: _initialised(conv(), nn.BatchNorm2d(c_out), nn.LeakyReLU()),
        "ReLU in D (DCGAN: LeakyReLU(0.2) in D, so that rejected images still pass a gradient)":
            lambda: _initialised(conv(), nn.BatchNorm2d(c_out), nn.ReLU()),
        "the activation before BatchNorm (the order is convolution, BatchNorm, activation)":
            lambda: _initialised(conv(), nn.LeakyReLU(0.2), nn.BatchNorm2d(c_out)),
    }, shape_hint="kernel 4, stride 2 and padding 1 halve the side"))


def module_verdict(name: str, build: Callable[[], nn.Module], reference: nn.Module, x: torch.Tensor,
                   mistakes: dict[str, Callable[[], nn.Module]], shape_hint: str = "") -> str:
    """One line on a module the learner builds: 'right' when, with `reference`'s weights copied in, it gives the
    same output on x; else the typical mistake it behaves like, or its first difference (parameters, shape)."""
    try:
        module = build()
    except Exception as exc:  # the learner's code: reported, never re-raised
        return f"{name}: not yet, building it raised {type(exc).__name__}: {exc}"
    if module is None:
        return f"{name}: not answered yet (fill in the function above, then run this cell again)"
    if not isinstance(module, nn.Module):
        return f"{name}: not yet, it returns a {type(module).__name__}: return the layers as one nn.Sequential"
    if _behaves_like(module, reference, x):
        return f"{name}: right"
    for mistake, make_it in mistakes.items():
        if _behaves_like(module, make_it(), x):
            return f"{name}: not yet, this looks like {mistake}"
    count, expected = (sum(p.numel() for p in m.parameters()) for m in (module, reference))
    if count != expected:
        return f"{name}: not yet, it has {count:,} parameters where gan_lib's block has {expected:,}"
    try:
        shape, expected_shape = (tuple(m.train()(x).shape) for m in (copy.deepcopy(module), copy.deepcopy(reference)))
    except Exception as exc:
        return f"{name}: not yet, a batch of shape {tuple(x.shape)} raised {type(exc).__name__}: {exc}"
    if shape != expected_shape:
        return (f"{name}: not yet, it turns {tuple(x.shape)} into {shape} where {expected_shape} is expected "
                f"({shape_hint})")
    return f"{name}: not yet, with gan_lib's weights copied in its output differs: check the layers and their order"


def _behaves_like(module: nn.Module, other: nn.Module, x: torch.Tensor) -> bool:
    """Same tensors in the same order, and with other's values copied in, the same output on x (in train mode)."""
    own, theirs = module.state_dict(), other.state_dict()
    if [v.shape for v in own.values()] != [v.shape for v in theirs.values()]:
        return False
    module, other = copy.deepcopy(module).train(), copy.deepcopy(other).train()
    try:
        module.load_state_dict(dict(zip(own, theirs.values())))
        with torch.no_grad():
            a, b = module(x), other(x)
    except Exception:  # a module that cannot take other's weights or x does not behave like it
        return False
    return isinstance(a, torch.Tensor) and a.shape == b.shape and torch.allclose(a, b, atol=1e-5)
