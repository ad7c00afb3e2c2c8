"""Notebook 06's implement-it check on the style-based generator's noise injection (style.NoiseInjection), run beside
gan_lib's own with the learner's strengths copied in: given a noise, then drawing its own from rng.

The untouched stub, a function or forward that returns None or raises NotImplementedError (or a class without a
forward), is not answered yet; a learner's code that uses gan_lib's own answer is told to write it."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from torch.func import functional_call

from ...style import NoiseInjection
from .guard import guarded_call
from .style_common import _answering, _build, _forward_unanswered, _frozen, _generic, _rng, _safely
from .verdicts import NOT_ANSWERED, Case, Signature, copied_module, implementation_verdict

# --- 3. Noise injection ------------------------------------------------------------------------------------------

NOISE_STRENGTHS = {4: [0.5, -1.0, 2.0, 0.25], 3: [1.5, 0.3, -0.5]}  # channels -> strengths copied in


def _strength_of(layer: nn.Module) -> torch.Tensor:
    return next(layer.parameters()).reshape(-1)


def _injected(layer: nn.Module, x: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    """gan_lib's NoiseInjection with the learner's strength."""
    strength = _strength_of(layer)
    return functional_call(NoiseInjection(len(strength)), {"strength": strength}, (x, noise))


def _drawn(x: torch.Tensor, rng: torch.Generator) -> torch.Tensor:
    """The noise StyleLayer draws: one Gaussian map per image, shared by its channels."""
    n, _, h, w = x.shape
    return torch.randn(n, 1, h, w, generator=rng, device=x.device, dtype=x.dtype)


def _injected_drawn(layer: nn.Module, x: torch.Tensor, rng: torch.Generator) -> torch.Tensor:
    return _injected(layer, x, _drawn(x, rng))


def _with_strength(fn: Callable) -> Callable:
    """A wrong injection fn(x, noise, strength (1, C, 1, 1)) as a function of the layer, x and the noise."""
    return lambda layer, x, noise: fn(x, noise, _strength_of(layer)[None, :, None, None])


GIVEN_NOISE_MISTAKES = {
    "the strength multiplying x instead of the noise (x * strength + noise: it is x + strength * noise, the "
    "strength scaling the noise map, per channel)": _with_strength(lambda x, n, s: x * s + n),
    "the strength multiplying x and the noise together (strength * (x + noise): it is x + strength * noise, the "
    "strength scaling the noise map, per channel)": _with_strength(lambda x, n, s: (x + n) * s),
    "the strength broadcast along the width (strength * noise lines (C,) up with the last axis, W: reshape it to "
    "(1, C, 1, 1), strength[None, :, None, None])": lambda layer, x, n: x + _strength_of(layer) * n,
    "x as it is (the noise, times the strength, is added to it)": lambda layer, x, n: x + 0 * n.sum(),
}
PER_CHANNEL = ("one noise map per channel (torch.randn(N, C, H, W)): StyleGAN draws one map per image, "
               "torch.randn(N, 1, H, W, generator=rng), shared by its channels")
SAME_FOR_EVERY_IMAGE = ("the same noise map for every image in the batch (torch.randn(1, 1, H, W)): draw one per "
                        "image, torch.randn(N, 1, H, W, generator=rng)")
UNIFORM = "uniform noise (torch.rand): the noise is Gaussian, torch.randn(N, 1, H, W, generator=rng)"
DRAWN_NOISE_MISTAKES = {
    PER_CHANNEL: lambda layer, x, g: _injected(layer, x, torch.randn(x.shape, generator=g)),
    SAME_FOR_EVERY_IMAGE: lambda layer, x, g: _injected(layer, x, torch.randn(1, 1, *x.shape[2:], generator=g)),
    UNIFORM: lambda layer, x, g: _injected(layer, x, torch.rand(len(x), 1, *x.shape[2:], generator=g)),
}


def _noise_structure(name: str, layer: nn.Module, channels: int) -> str | None:
    params = list(layer.named_parameters())
    if not params:
        return (f"{name}: not yet, it has no learned strength: make it an nn.Parameter (a plain tensor or a buffer "
                "would never train), nn.Parameter(torch.zeros(channels))")
    if len(params) == 1 and params[0][1].numel() == 1 and channels > 1:
        return (f"{name}: not yet, this looks like one strength for all channels (a single number): NoiseInjection "
                "learns one per channel, nn.Parameter(torch.zeros(channels))")
    if len(params) > 1 or params[0][1].numel() != channels:
        shapes = ", ".join(f"{key} {tuple(p.shape)}" for key, p in params)
        return (f"{name}: not yet, its parameters are {shapes} where NoiseInjection({channels}) has one, the "
                f"strength ({channels},): one per channel")
    return None


def _noise_used(layer: nn.Module, x: torch.Tensor, call_args: tuple) -> torch.Tensor | None:
    """The noise the learner's layer (strengths all non-zero) added: (out - x) / strength, per channel; None when
    its output cannot be read so."""
    call = guarded_call(_answering(layer), x.clone(), *call_args)
    out = call.value
    if call.error is not None or not isinstance(out, torch.Tensor) or out.shape != x.shape:
        return None
    return (out.detach() - x) / _strength_of(layer).detach()[None, :, None, None]


def _drawn_noise_problem(layer: nn.Module) -> str | None:
    """The mistake in how the learner's layer draws its noise, read from the noise it added to a batch, or None."""
    with torch.no_grad():
        next(layer.parameters()).copy_(torch.arange(1.0, len(_strength_of(layer)) + 1).reshape(
            next(layer.parameters()).shape))
    x = torch.randn(3, len(_strength_of(layer)), 5, 6, generator=_rng(5))
    rng = _rng(6)
    start = rng.get_state()
    noise = _noise_used(layer, x, (None, rng))
    if noise is None:
        return None
    if not torch.allclose(noise, noise[:, :1].expand_as(noise), atol=1e-5):
        return PER_CHANNEL
    if torch.allclose(noise, noise[:1].expand_as(noise), atol=1e-5):
        return SAME_FOR_EVERY_IMAGE
    if torch.equal(rng.get_state(), start):
        return ("noise that never draws from rng: draw it with torch.randn(N, 1, H, W, generator=rng), so that the "
                "check (and a resumed run) sees the same noise")
    if noise.min() >= 0 and noise.max() <= 1:
        return UNIFORM
    x64 = x.double()
    noise64 = _noise_used(layer, x64, (None, _rng(6)))
    if noise64 is not None and torch.allclose(noise64, _drawn(x, _rng(6)).double().expand_as(noise64), atol=1e-5):
        return ("float32 noise for float64 images (torch.randn draws float32 unless told): "
                "torch.randn(N, 1, H, W, generator=rng, dtype=x.dtype, device=x.device)")
    return None


def _keeps_noise(layer: nn.Module) -> bool:
    """Whether the learner's layer, called twice with two generators, adds the same noise both times (drawn once
    and kept)."""
    x = torch.randn(2, len(_strength_of(layer)), 4, 4, generator=_rng(16))
    first, second = (_noise_used(layer, x, (None, _rng(seed))) for seed in (17, 18))
    return first is not None and second is not None and torch.allclose(first, second, atol=1e-5)


def _from_global_rng(layer: nn.Module, x: torch.Tensor, seed: int) -> torch.Tensor:
    """The learner's layer called as layer(x), no noise and no rng, after the global RNG is seeded: it draws from
    torch's global generator (generator=None)."""
    torch.manual_seed(seed)
    return layer(x)


def _injected_global(layer: nn.Module, x: torch.Tensor, seed: int) -> torch.Tensor:
    torch.manual_seed(seed)
    return _injected(layer, x, _drawn(x, None))


def noise_injection_verdict(layer_class: Callable) -> str:
    """The verdict check_noise_injection prints."""
    name = "the noise injection"

    def judge() -> str:
        layers, starts_at_zero = {}, True
        for channels in NOISE_STRENGTHS:
            layer = _build(name, layer_class, (channels,), (NoiseInjection.__init__,))
            if isinstance(layer, str):
                return layer
            x = torch.randn(2, channels, 3, 3, generator=_rng(9))
            if _forward_unanswered(layer, x, torch.randn(2, 1, 3, 3, generator=_rng(10))):
                return f"{name}: {NOT_ANSWERED}"
            problem = _frozen(name, layer) or _noise_structure(name, layer, channels)
            if problem:
                return problem
            starts_at_zero &= not next(layer.parameters()).detach().any()
            with torch.no_grad():
                strength = next(layer.parameters())
                strength.copy_(torch.tensor(NOISE_STRENGTHS[channels]).reshape(strength.shape))
            layers[channels] = layer

        def x_and_noise(seed, n, c, h, w):
            return (torch.randn(n, c, h, w, generator=_rng(seed)),
                    torch.randn(n, 1, h, w, generator=_rng(seed + 1)))

        given = [Case((layers[4], *x_and_noise(0, 2, 4, 3, 4)), "2 images of 4 channels, 3x4"),
                 Case((layers[4], *x_and_noise(2, 1, 4, 5, 4)), "one image of 4 channels, 5x4"),
                 Case((layers[3], *x_and_noise(4, 3, 3, 2, 3)), "3 images of 3 channels, 2x3")]
        in_eval = Case((copied_module(layers[4]).eval(), *x_and_noise(12, 2, 4, 2, 4)), "in eval mode")
        watched = (NoiseInjection.forward,)
        given_signature = Signature(("layer", "x", "noise"), wrt=(0, 1, 2), watched=watched)
        given_call = _answering(lambda layer, x, noise: layer(x, noise))
        line = implementation_verdict(name, given_call, _injected, given + [in_eval], given_signature,
                                      GIVEN_NOISE_MISTAKES)
        if not line.endswith(": right") and implementation_verdict(name, given_call, _injected, given,
                                                                   given_signature).endswith(": right"):
            return (f"{name}: not yet, it is right in training mode but not in eval mode (self.training): the noise "
                    "it is given is added in both (which noise, random or fixed, is the caller's choice)")
        if _generic(line):
            first = given[0].args
            once, twice = (_noise_used(first[0], first[1], (first[2],)) for _ in range(2))
            if once is not None and twice is not None and not torch.equal(once, twice):
                return (f"{name}: not yet, it draws its own noise even when it is given one: add the `noise` it is "
                        "given, and draw only when noise is None")
        if not line.endswith(": right"):
            return line
        drawn = [Case((layers[4], torch.randn(3, 4, 5, 6, generator=_rng(6)), _rng(7)), "3 images of 4 channels"),
                 Case((layers[3], torch.randn(2, 3, 4, 4, generator=_rng(8)), _rng(9)), "2 images of 3 channels"),
                 Case((layers[4], torch.randn(3, 4, 5, 6, generator=_rng(10)), _rng(11)),
                      "3 images of 4 channels again, another rng: fresh noise"),
                 Case((layers[3], torch.randn(2, 3, 4, 4, generator=_rng(12), dtype=torch.float64), _rng(13)),
                      "float64 images: float64 noise"),
                 Case((copied_module(layers[4]).eval(), torch.randn(2, 4, 3, 3, generator=_rng(14)), _rng(15)),
                      "in eval mode: with no noise given it still draws some (fixed noise is the caller's choice)")]
        line = implementation_verdict(name, _answering(lambda layer, x, rng: layer(x, None, rng)), _injected_drawn,
                                      drawn, Signature(("layer", "x", "rng"), wrt=(0, 1), watched=watched),
                                      DRAWN_NOISE_MISTAKES)
        if not line.endswith(": right") and ("this looks like" not in line) and not line.endswith(NOT_ANSWERED):
            problem = _drawn_noise_problem(layers[4])
            if problem:
                return f"{name}: not yet, this looks like {problem}"
            if "TypeError" in line and "positional argument" in line:
                return (f"{name}: not yet, its forward must also take the noise's source: forward(x, noise=None, "
                        f"rng=None), drawing the noise when none is given ({line.split(': not yet, ', 1)[1]})")
            if _generic(line):
                return (f"{name}: not yet, the noise it draws when noise is None is not torch.randn(N, 1, H, W, "
                        f"generator=rng, dtype=x.dtype, device=x.device): {line.split(': not yet, ', 1)[1]}")
            return line.replace(": not yet, ", ": not yet, when noise is None (drawn from rng) ", 1)
        if line.endswith(NOT_ANSWERED):
            return (f"{name}: not yet, given noise=None it returns None: then draw the noise itself, one map per "
                    "image, torch.randn(N, 1, H, W, generator=rng)")
        if line.endswith(": right") and _keeps_noise(layers[4]):
            return (f"{name}: not yet, this looks like noise drawn once and kept (the same map on every call, whatever "
                    "the rng): draw it fresh on every call, torch.randn(N, 1, H, W, generator=rng)")
        if line.endswith(": right"):
            global_rng = [Case((layers[4], torch.randn(2, 4, 3, 5, generator=_rng(14)), 15), "2 images of 4 channels")]
            line = implementation_verdict(name, _answering(_from_global_rng), _injected_global, global_rng,
                                          Signature(("layer", "x", "seed"), wrt=(0, 1), watched=watched))
            if not line.endswith(": right"):
                return line.replace(": not yet, ", ": not yet, called as layer(x), with neither noise nor rng (torch's "
                                    "global generator: generator=None), ", 1)
        if line.endswith(": right") and not starts_at_zero:
            return (f"{name}: not yet, its output and gradients are right, but this looks like a strength "
                    "initialised non-zero: it starts at 0, nn.Parameter(torch.zeros(channels)), as in NVIDIA's code "
                    "(G learns how much noise each channel wants)")
        return line

    return _safely(name, judge)


def check_noise_injection(layer_class: Callable) -> None:
    """layer_class(channels): an nn.Module like style.NoiseInjection, with one learned strength per channel (an
    nn.Parameter of shape (channels,), zeros at first), whose forward(x, noise=None, rng=None) returns
    x + strength[c] * noise for each channel c: x (N, C, H, W), noise (N, 1, H, W), one map per image shared by its
    channels. When noise is None it draws that noise itself, as StyleLayer does:
    torch.randn(N, 1, H, W, generator=rng, dtype=x.dtype, device=x.device).

    The check copies strengths into its parameter, compares it with gan_lib's given a noise (outputs, and gradients
    with respect to x, the noise and the strength; in training and in eval mode alike), then given rng (the noise it
    draws: fresh on every call, in x's dtype), then called as layer(x) (drawn from torch's global generator), and
    reads its start."""
    print(noise_injection_verdict(layer_class))
