"""Notebook 06's implement-it checks on the style-based generator's networks (gan_lib/style.py), each run beside
gan_lib's own, with its weights copied in where the learner builds a module: the mapping network and style mixing.

The untouched stub, a function or forward that returns None or raises NotImplementedError (or a class without a
forward), is not answered yet; a learner's code that uses gan_lib's own answer is told to write it."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from torch.func import functional_call
from torch.nn import functional as F

from ...config import Config
from ...style import EqualLinear, MappingNetwork, StyleGenerator, normalize_latent
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

MAPPING_CONFIGS = ((8, 4, 0.01), (5, 2, 0.5))  # (latent_dim, layers, lr_mul): StyleGAN's lr_mul, and another
INIT_CONFIG = (32, 3, 0.01)  # built once more, as it starts: its weights' spread is read at init
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
    """What is wrong with how the learner's network starts (read before any weights are copied in), or None."""
    layers = _layers_of(network, latent_dim)
    spread = torch.cat([w.detach().flatten() for w, _ in layers]).double().std().item()
    if abs(spread * lr_mul - 1) > 0.15:
        return (f"{name}: not yet, its outputs and gradients are right with gan_lib's weights copied in, but its "
                f"weights start with std {spread:.3g} where gan_lib's start with std 1/lr_mul = {1 / lr_mul:g} "
                "(torch.randn(latent_dim, latent_dim) / lr_mul, so that the weights in use, w * lr_mul / "
                "sqrt(latent_dim), start at std 1/sqrt(latent_dim))")
    if any(b.detach().any() for _, b in layers):
        return (f"{name}: not yet, its outputs and gradients are right with gan_lib's weights copied in, but its "
                "biases do not start at 0 (torch.zeros(latent_dim), as gan_lib's)")
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
        signature = Signature(("network", "z", "lr_mul"), wrt=(0, 1), watched=MAPPING_WATCHED)
        line = implementation_verdict(name, _answering(lambda network, z, lr_mul: network(z)), _mapping, cases,
                                      signature, MAPPING_MISTAKES,
                                      also_right=[lambda n, z, lr: _mapping(n, z, lr, transposed=True)],
                                      tolerance=1e-4)  # float32 through 4 layers, lr_mul 0.01's large raw weights
        if not line.endswith(": right"):
            return line
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
    then reads how its weights start."""
    print(mapping_network_verdict(network_class))


# --- 5. Style mixing -----------------------------------------------------------------------------------------------

MIXING_CONFIG = Config(image_size=32, latent_dim=8, g_width=4, arch="style", mapping_layers=1)  # 8 layers


def _mixing_generator() -> StyleGenerator:
    """A small style-based G in eval mode (each layer's fixed noise map: the same images every time)."""
    torch.manual_seed(0)
    return StyleGenerator(MIXING_CONFIG).eval()


def _mixed_ws(G, w1: torch.Tensor, w2: torch.Tensor, crossover: int) -> torch.Tensor:
    """One w per layer: w1's for layers before the crossover, w2's from it on (StyleGenerator.mix's rule, with the
    cut given)."""
    later = torch.arange(G.num_ws, device=w1.device)[None, :, None] >= crossover
    return torch.where(later, w2[:, None, :], w1[:, None, :])


def _style_mixed(G, w1, w2, crossover):
    return G.synthesis(_mixed_ws(G, w1, w2, crossover))


def _rows_mixed(G, w1, w2, crossover):
    w = torch.cat([w1[:crossover], w2[crossover:]])
    return G.synthesis(w[:, None, :].expand(-1, G.num_ws, -1))


MIXING_MISTAKES = {
    "the crossover off by one (layer `crossover` itself reads w2: layers 0 to crossover - 1 read w1)":
        lambda G, a, b, c: _style_mixed(G, a, b, c + 1),
    "the crossover off by one the other way (the first `crossover` layers, 0 to crossover - 1, read w1)":
        lambda G, a, b, c: _style_mixed(G, a, b, c - 1),
    "w1 and w2 swapped (the coarse layers, before the crossover, read w1, the fine ones w2)":
        lambda G, a, b, c: _style_mixed(G, b, a, c),
    "the crossover counted in resolutions (it is a layer index, of G.num_ws layers: two layers per resolution)":
        lambda G, a, b, c: _style_mixed(G, a, b, 2 * c),
    "the batch mixed instead of the layers (images 0 to crossover - 1 from w1: mixing is per layer, each image's "
    "coarse layers from w1 and its fine layers from w2)": _rows_mixed,
    "no mixing: every layer reads w1 (the layers from the crossover on read w2)":
        lambda G, a, b, c: _style_mixed(G, a, b, G.num_ws),
    "no mixing: every layer reads w2 (the layers before the crossover read w1)":
        lambda G, a, b, c: _style_mixed(G, a, b, 0),
    "w1 and w2 passed through the mapping network again (they are already w: give them to G.synthesis as they are)":
        lambda G, a, b, c: _style_mixed(G, G.mapping(a), G.mapping(b), c),
    "the per-layer ws themselves (give them to G.synthesis and return its images)": _mixed_ws,
}


def style_mixing_verdict(style_mix: Callable) -> str:
    """The verdict check_style_mixing prints."""
    name = "style mixing"

    def judge() -> str:
        G = _mixing_generator()

        def w(seed, n):
            return torch.randn(n, G.latent_dim, generator=_rng(seed))

        cases = [Case((G, w(1, 5), w(2, 5), 3), "5 pairs, crossover 3"),
                 Case((G, w(3, 4), w(4, 4), 1), "4 pairs, crossover 1: only the 4x4 constant's layer reads w1"),
                 Case((G, w(5, 3), w(6, 3), 6), "3 pairs, crossover 6: only the 32x32 layers read w2")]
        return implementation_verdict(name, _answering(style_mix), _style_mixed, cases,
                                      Signature(("G", "w1", "w2", "crossover"), wrt=(1, 2)), MIXING_MISTAKES)

    return _safely(name, judge)


def check_style_mixing(style_mix: Callable) -> None:
    """style_mix(G, w1, w2, crossover) -> images: G a StyleGenerator (in eval mode), w1 and w2 (N, latent_dim) two
    batches of w (from G.mapping), crossover a layer index in 0..G.num_ws; each image's layers before the crossover
    (0 to crossover - 1, the coarse styles: pose, shape) read its w1 and those from it on (the fine styles: colour,
    texture) its w2; the G.num_ws per-layer ws, (N, G.num_ws, latent_dim), go to G.synthesis, and its images are
    returned. Compared in value and in the gradients with respect to w1 and w2."""
    print(style_mixing_verdict(style_mix))
