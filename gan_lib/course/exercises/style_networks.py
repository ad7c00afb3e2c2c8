"""Notebook 06's implement-it check on the style-based generator's mapping network (style.MappingNetwork), run beside
gan_lib's own with its weights copied into the learner's module (style mixing's check is in style_mixing).

The untouched stub, a function or forward that returns None or raises NotImplementedError (or a class without a
forward), is not answered yet; a learner's code that uses gan_lib's own answer is told to write it."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from torch.func import functional_call
from torch.nn import functional as F

from ...style import EqualLinear, MappingNetwork, normalize_latent
from .guard import guarded_call
from .style_common import _answering, _build, _forward_unanswered, _frozen, _rng, _safely
from .verdicts import NOT_ANSWERED, Case, Signature, implementation_verdict

# --- gan_lib's weights copied into the learner's module, by shape ----------------------------------------------

def _by_shape(module: nn.Module) -> dict[tuple[int, ...], list[torch.Tensor]]:
    """The module's parameters grouped by shape, in the order it defines them within each shape."""
    groups: dict[tuple[int, ...], list[torch.Tensor]] = {}
    for p in module.parameters():
        groups.setdefault(tuple(p.shape), []).append(p)
    return groups


def _paired(module: nn.Module, reference: nn.Module) -> dict[str, torch.Tensor]:
    """reference's parameter names -> module's parameters of the same shape, in order within each shape."""
    groups = {shape: iter(tensors) for shape, tensors in _by_shape(module).items()}
    return {key: next(groups[tuple(p.shape)]) for key, p in reference.named_parameters()}


def _copy_in(module: nn.Module, reference: nn.Module) -> None:
    """reference's weights into module's parameters of the same shapes (the structures were compared already)."""
    with torch.no_grad():
        for key, p in _paired(module, reference).items():
            p.copy_(reference.get_parameter(key))


# --- 2. The mapping network --------------------------------------------------------------------------------------

# (latent_dim, layers, lr_mul): StyleGAN's lr_mul, and two more (9 layers: more than StyleGAN's 8)
MAPPING_CONFIGS = ((8, 4, 0.01), (5, 2, 0.5), (6, 9, 0.1))
INIT_CONFIG = (64, 4, 0.01)  # built once more, as it starts: its weights' spread is read at init (16,384 of them)
MAPPING_WATCHED = (MappingNetwork.forward, EqualLinear.forward, normalize_latent)


def _mapping_reference(latent_dim: int, layers: int, lr_mul: float) -> MappingNetwork:
    """gan_lib's mapping network with biases away from 0 (a bias not multiplied by lr_mul then shows)."""
    reference = MappingNetwork(latent_dim, layers, lr_mul)
    with torch.no_grad():
        for key, p in reference.named_parameters():
            if key.endswith("bias"):
                p.copy_(torch.randn(p.shape) * 0.5 / lr_mul)
    return reference


def _layers_of(network: nn.Module, latent_dim: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    groups = _by_shape(network)
    return list(zip(groups.get((latent_dim, latent_dim), []), groups.get((latent_dim,), [])))


def _mapping(network: nn.Module, z: torch.Tensor, lr_mul: float, transposed: bool = False) -> torch.Tensor:
    """gan_lib's MappingNetwork run with the learner's parameters (which hold gan_lib's weights); transposed: each
    weight read as (in, out), for a learner who computes x @ w."""
    layers = _layers_of(network, z.shape[1])
    reference = MappingNetwork(z.shape[1], len(layers), lr_mul)
    params = {}
    for i, (w, b) in enumerate(layers):
        params[f"net.{2 * i}.weight"], params[f"net.{2 * i}.bias"] = (w.T if transposed else w), b
    return functional_call(reference, params, (z,))


def _mapping_variant(*, normalise: str = "rms", act: Callable = lambda x: F.leaky_relu(x, 0.2), last: bool = True,
                     gain: str = "equal", bias_lr: bool = True, fixed_lr_mul: float | None = None) -> Callable:
    """The mapping network with one thing changed: how z is normalised, the activation (after the last layer too or
    not), the scale the weights are used at, and whether the bias is multiplied by lr_mul."""
    def forward(network: nn.Module, z: torch.Tensor, lr_mul: float) -> torch.Tensor:
        lr_mul = fixed_lr_mul or lr_mul
        d = z.shape[1]
        x = {"rms": normalize_latent,
             "none": lambda z: z,
             "norm": lambda z: z / z.norm(dim=1, keepdim=True),
             "batch": lambda z: z * torch.rsqrt(z.square().mean(0, keepdim=True) + 1e-8)}[normalise](z)
        scale = {"equal": lr_mul / d**0.5, "fan_in": 1 / d**0.5, "none": 1.0, "lr_mul": lr_mul}[gain]
        layers = _layers_of(network, d)
        for i, (w, b) in enumerate(layers):
            x = F.linear(x, w * scale, b * lr_mul if bias_lr else b)
            if last or i < len(layers) - 1:
                x = act(x)
        return x
    return forward


MAPPING_MISTAKES = {
    "z not normalised first (normalize_latent: each z scaled to a mean square of 1, z * rsqrt(mean(z^2) + 1e-8), "
    "before the first layer)": _mapping_variant(normalise="none"),
    "z divided by its norm (StyleGAN scales z to a mean square of 1, z * rsqrt(mean(z^2) + 1e-8), which is "
    "sqrt(latent_dim) times z / |z|)": _mapping_variant(normalise="norm"),
    "z normalised over the batch (dim 0): each z is normalised on its own, over its latent_dim numbers (dim 1)":
        _mapping_variant(normalise="batch"),
    "ReLU as the activation (the mapping network uses LeakyReLU(0.2))": _mapping_variant(act=F.relu),
    "LeakyReLU's default slope 0.01 (the mapping network uses LeakyReLU(0.2))": _mapping_variant(act=F.leaky_relu),
    "no activation between the layers (without one the layers collapse into one linear map: LeakyReLU(0.2) after "
    "each)": _mapping_variant(act=lambda x: x),
    "no LeakyReLU after the last layer (gan_lib's mapping network ends with one: every layer, the last too, is a "
    "linear layer then LeakyReLU(0.2))": _mapping_variant(last=False),
    "the learning-rate multiplier missing (the weights are used at 1/sqrt(latent_dim) but not times lr_mul: "
    "w * lr_mul / sqrt(latent_dim))": _mapping_variant(gain="fan_in"),
    "no equalised learning rate (the weights used as stored: scale them by lr_mul / sqrt(latent_dim) when used)":
        _mapping_variant(gain="none"),
    "the equalised-lr scale 1/sqrt(latent_dim) missing (the weights are used times lr_mul only: w * lr_mul / "
    "sqrt(latent_dim))": _mapping_variant(gain="lr_mul"),
    "the bias not multiplied by lr_mul (EqualLinear uses bias * lr_mul, so that it too learns at lr_mul times the "
    "rate)": _mapping_variant(bias_lr=False),
    "a fixed lr_mul of 0.01 (use the lr_mul it is given: 0.5 in one of these cases)":
        _mapping_variant(fixed_lr_mul=0.01),
}


def _mapping_structure(name: str, network: nn.Module, latent_dim: int, layers: int) -> str | None:
    """Why gan_lib's weights cannot be copied into the learner's network (its parameters are not `layers` weights
    (latent_dim, latent_dim) and `layers` biases (latent_dim,)), or None."""
    shapes = [tuple(p.shape) for p in network.parameters()]
    d = latent_dim
    weights, biases = shapes.count((d, d)), shapes.count((d,))
    others = [s for s in shapes if s not in ((d, d), (d,))]
    expected = (f"gan_lib's has {layers} weights ({d}, {d}) and {layers} biases ({d},) for latent_dim={d}, "
                f"layers={layers}")
    if not shapes:
        return (f"{name}: not yet, it has no parameters (nn.Parameter) to learn: {expected}, so they cannot be "
                "copied in")
    if any(tuple(b.shape) == (d, d) for b in network.buffers()) and weights < layers:
        return (f"{name}: not yet, its weights are buffers (register_buffer), not nn.Parameter: they would never "
                "train; make each an nn.Parameter")
    if len(list(network.named_parameters(remove_duplicate=False))) > len(shapes):
        return (f"{name}: not yet, its layers share one parameter (the same nn.Parameter in several layers): each "
                "layer has its own weight and bias")
    if others:
        return (f"{name}: not yet, it has a parameter of shape {others[0]}, where {expected}: its structure "
                "differs, so gan_lib's weights cannot be copied in")
    if weights != layers:
        return (f"{name}: not yet, this looks like the wrong number of layers: {weights} weight matrices of ({d}, {d}) "
                f"where layers={layers} asks for {layers} (one linear layer, then LeakyReLU(0.2), per layer)")
    if biases != layers:
        return (f"{name}: not yet, it has {biases} biases of ({d},) where each of its {layers} layers has one "
                f"({expected}), so gan_lib's weights cannot be copied in")
    return None


def _mapping_init(name: str, network: nn.Module, latent_dim: int, lr_mul: float) -> str | None:
    """What is wrong with how the learner's network starts (read before any weights are copied in), or None: each
    weight drawn on its own from N(0, 1/lr_mul^2), each bias zeros."""
    right = (f"gan_lib's start as torch.randn(latent_dim, latent_dim) / lr_mul, mean 0 and std 1/lr_mul = "
             f"{1 / lr_mul:g}, so that the weights in use, w * lr_mul / sqrt(latent_dim), start at std "
             "1/sqrt(latent_dim)")
    start = f"{name}: not yet, its outputs and gradients are right with gan_lib's weights copied in, but"
    layers = _layers_of(network, latent_dim)
    weights = [w.detach().double() * lr_mul for w, _ in layers]  # each N(0, 1) when drawn as gan_lib's
    for number, w in enumerate(weights, 1):
        if (w == 0).double().mean() > 0.01:
            return (f"{start} its weight {number} starts with {(w == 0).double().mean():.0%} of its entries 0 (an "
                    f"identity or a sparse start?) where {right}")
        if abs(w.mean()) > 4 / w.numel() ** 0.5:
            return f"{start} its weight {number} starts with mean {w.mean() / lr_mul:.3g} where {right}"
        if abs(w.std() - 1) > 0.15:
            return f"{start} its weights start with std {w.std() / lr_mul:.3g} where {right}"
    pooled = torch.cat([w.flatten() for w in weights])
    if abs(pooled.std() - 1) > 8 / (2 * len(pooled)) ** 0.5:  # 8 standard errors of a normal sample's std
        return f"{start} its weights start with std {pooled.std() / lr_mul:.3g} where {right}"
    within_one_std = torch.cat(weights).abs().lt(1).double().mean()  # 0.68 for N(0, 1), 0.58 for a uniform draw
    if len(torch.cat(weights).flatten()) >= 2000 and within_one_std < 0.63:
        return (f"{start} its weights do not start Gaussian ({within_one_std:.0%} of them within one std, where a "
                f"normal draw has 68%: a uniform draw?) where {right}")
    if any(torch.equal(a, b) for i, a in enumerate(weights) for b in weights[i + 1:]):
        return (f"{start} its layers start with the same weight matrix (one drawn and reused?) where each layer draws "
                "its own, torch.randn(latent_dim, latent_dim) / lr_mul")
    if any(b.detach().any() for _, b in layers):
        return f"{start} its biases do not start at 0 (torch.zeros(latent_dim), as gan_lib's)"
    return None


def _zero_latent(name: str, network: nn.Module, latent_dim: int, lr_mul: float) -> str | None:
    """Whether z = 0 gives gan_lib's w (normalize_latent's eps keeps 0 / 0 away), or what it gives."""
    z = torch.zeros(2, latent_dim)
    with torch.no_grad():
        call = guarded_call(_answering(network), z.clone())
        expected = [_mapping(network, z, lr_mul, transposed) for transposed in (False, True)]
    w = call.value
    if call.error is not None or not isinstance(w, torch.Tensor) or w.shape != expected[0].shape:
        return None  # judged on the other cases already
    if not torch.isfinite(w).all():
        return (f"{name}: not yet, this looks like eps missing in z's normalisation: z = 0 gives NaN (0 / 0); "
                "z * rsqrt(mean(z^2) + 1e-8), as normalize_latent, keeps it finite")
    if not any(torch.allclose(w.double(), e.double(), rtol=1e-4, atol=1e-4) for e in expected):
        return f"{name}: not yet, for z = 0 it gives a w that differs from gan_lib's (is eps 1e-8, in the mean square?)"
    return None


def mapping_network_verdict(network_class: Callable) -> str:
    """The verdict check_mapping_network prints."""
    name = "the mapping network"

    def judge() -> str:
        watched = (MappingNetwork.__init__, EqualLinear.__init__)
        cases = []
        for number, (d, layers, lr_mul) in enumerate(MAPPING_CONFIGS):
            torch.manual_seed(number)
            network = _build(name, network_class, (d, layers, lr_mul), watched)
            if isinstance(network, str):
                return network
            if _forward_unanswered(network, torch.randn(2, d, generator=_rng(9))):
                return f"{name}: {NOT_ANSWERED}"
            problem = _frozen(name, network) or _mapping_structure(name, network, d, layers)
            if problem:
                return problem
            _copy_in(network, _mapping_reference(d, layers, lr_mul))
            if number == 0:
                cases += [Case((network, torch.randn(6, d, generator=_rng(1)) * 2, lr_mul),
                               f"latent_dim {d}, {layers} layers, lr_mul {lr_mul}, a batch of 6 latents"),
                          Case((network, torch.randn(1, d, generator=_rng(2)) * 0.3, lr_mul), "one small latent")]
            else:
                cases.append(Case((network, torch.randn(4, d, generator=_rng(3)) * 0.7 + 0.2, lr_mul),
                                  f"latent_dim {d}, {layers} layers, lr_mul {lr_mul}"))
        second = cases[2].args
        cases.append(Case((second[0], torch.randn(9, len(second[1][0]), generator=_rng(4)) * 1.5, second[2]),
                          "the second network again, a batch of 9 latents"))
        signature = Signature(("network", "z", "lr_mul"), wrt=(0, 1), watched=MAPPING_WATCHED)
        line = implementation_verdict(name, _answering(lambda network, z, lr_mul: network(z)), _mapping, cases,
                                      signature, MAPPING_MISTAKES,
                                      also_right=[lambda n, z, lr: _mapping(n, z, lr, transposed=True)],
                                      tolerance=1e-4)  # float32 through 4 layers, lr_mul 0.01's large raw weights
        if not line.endswith(": right"):
            return line
        zero = _zero_latent(name, cases[2].args[0], MAPPING_CONFIGS[1][0], MAPPING_CONFIGS[1][2])  # the second's
        if zero:
            return zero
        torch.manual_seed(2)
        d, layers, lr_mul = INIT_CONFIG
        network = _build(name, network_class, INIT_CONFIG, watched)
        if isinstance(network, str):
            return network
        return _mapping_structure(name, network, d, layers) or _mapping_init(name, network, d, lr_mul) or line

    return _safely(name, judge)


def check_mapping_network(network_class: Callable) -> None:
    """network_class(latent_dim, layers, lr_mul): an nn.Module like style.MappingNetwork, whose forward(z) maps z
    (N, latent_dim) to w (N, latent_dim): z normalised to a mean square of 1 (normalize_latent), then `layers`
    linear layers of latent_dim -> latent_dim, each followed by LeakyReLU(0.2), the last too, with an equalised
    learning rate: each weight stored as torch.randn(latent_dim, latent_dim) / lr_mul and used times
    lr_mul / sqrt(latent_dim), each bias stored as zeros and used times lr_mul (style.EqualLinear).

    The check builds it for two (latent_dim, layers, lr_mul), copies gan_lib's weights into its parameters by shape
    (its weights (latent_dim, latent_dim) in the order it defines them, its biases (latent_dim,) likewise; a weight
    used as x @ w is read transposed), compares outputs and the gradients with respect to z and every parameter,
    then its w for z = 0 (finite: the eps), then reads how its weights start (each layer's own draw)."""
    print(mapping_network_verdict(network_class))
