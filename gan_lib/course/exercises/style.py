"""Notebook 06's implement-it checks: the style-based generator's parts (gan_lib/style.py), each run beside gan_lib's
own, with its weights copied in where the learner builds a module: the truncation trick in w, the mapping network,
noise injection, AdaIN and style mixing.

The untouched stub, a function or forward that returns None or raises NotImplementedError (or a class without a
forward), is not answered yet; a learner's code that uses gan_lib's own answer is told to write it."""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace

import torch
from torch import nn
from torch.func import functional_call
from torch.nn import functional as F

from ...config import Config
from ...style import EqualLinear, MappingNetwork, NoiseInjection, StyleGenerator, adain, normalize_latent
from .guard import guarded_call, preserved_state
from .verdicts import NOT_ANSWERED, Case, Signature, _raised, implementation_verdict


def _rng(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _is_stub(exc: BaseException | None) -> bool:
    """A NotImplementedError of the learner's stub (`raise NotImplementedError`, or nn.Module's missing forward),
    not one of torch's operators missing for a backend ("Could not run 'aten::...'")."""
    return isinstance(exc, NotImplementedError) and not str(exc).startswith("Could not run")


def _answering(fn: Callable | None) -> Callable:
    """fn, with the untouched stub read as not answered: where it raises NotImplementedError it returns None."""
    def call(*args):
        if fn is None:
            return None
        try:
            return fn(*args)
        except NotImplementedError as exc:
            if not _is_stub(exc):
                raise
            return None
    return call


def _safely(name: str, make_line: Callable[[], str]) -> str:
    """The verdict make_line() gives, in the clean state and leaving the notebook's as it was; never an exception.
    It runs on one thread: on cases this small, threads only wait for each other (and for a busy machine's cores)."""
    with preserved_state():
        torch.set_num_threads(1)
        try:
            return make_line()
        except Exception as exc:  # what the learner's code returned resists reading: one line all the same
            return f"{name}: not yet, its result could not be read: {type(exc).__name__}: {exc}"


def _generic(line: str) -> bool:
    """A verdict that only says where the answer differs (no problem named, no mistake recognised)."""
    return ": not yet, on case" in line


# --- 1. The truncation trick in w ------------------------------------------------------------------------------

W_DIM = 8
W_AVG = torch.randn(W_DIM, generator=_rng(0)) * 0.5 + 0.3  # away from 0: truncating towards 0 is told apart


def _ws(seed: int, *shape: int) -> torch.Tensor:
    return torch.randn(*shape, W_DIM, generator=_rng(seed)) * 1.5


def _per_image(psi: float | torch.Tensor, ws: torch.Tensor) -> float | torch.Tensor:
    """psi as a number, or one psi per image (N,) shaped to broadcast over each image's w or ws."""
    if isinstance(psi, torch.Tensor):
        return psi.to(ws.dtype).reshape(-1, *[1] * (ws.dim() - 1))
    return psi


def _truncated(ws: torch.Tensor, w_avg: torch.Tensor, psi: float | torch.Tensor) -> torch.Tensor:
    """gan_lib's truncation (StyleGenerator.truncate), psi per image too."""
    if isinstance(psi, torch.Tensor):
        return w_avg.to(ws.dtype).lerp(ws, _per_image(psi, ws))
    return StyleGenerator.truncate(SimpleNamespace(w_avg=w_avg), ws, psi)


SCALAR_PSI_CASES = [
    Case((_ws(1, 4, 6), W_AVG, 0.7), "ws (4, 6, 8), one w per layer, psi 0.7"),
    Case((_ws(2, 5), W_AVG, 0.3), "w (5, 8), psi 0.3"),
    Case((_ws(3, 3), W_AVG, -0.4), "psi -0.4, past the average to the other side"),
    Case((_ws(4, 3), W_AVG, 1.0), "psi 1: w as it is"),
    Case((_ws(5, 2, 6).double(), W_AVG, 0.8), "float64 ws"),
]
TRUNCATION_CASES = SCALAR_PSI_CASES + [
    Case((_ws(6, 8, 3), W_AVG, torch.linspace(1.0, 0.0, 8)), "ws (8, 3, 8) and one psi per image, from 1 to 0"),
    Case((_ws(7, 8), W_AVG, torch.linspace(1.2, -0.2, 8)), "w (8, 8) and one psi per image"),
]
ONE_PSI_PER_IMAGE = ("one psi per image not broadcast over its row (psi of shape (N,) lines up with w's last axis, "
                     "the features: reshape it to (N, 1) for w, (N, 1, 1) for ws, psi.view(-1, *[1] * (ws.dim() - 1)))")
TRUNCATION_MISTAKES = {
    "psi the wrong way round (w + psi * (w_avg - w) keeps 1 - psi of the distance: psi 1 must leave w as it is and "
    "psi 0 give w_avg, w_avg + psi * (w - w_avg))": lambda ws, a, p: _truncated(ws, a, 1 - p),
    "truncation towards 0 (psi * w shrinks w towards the origin: the centre is the average w, "
    "w_avg + psi * (w - w_avg))": lambda ws, a, p: _per_image(p, ws) * ws,
    "truncation towards 0 the other way round (psi * w shrinks towards the origin, and psi 1 must leave w as it "
    "is: w_avg + psi * (w - w_avg))": lambda ws, a, p: (1 - _per_image(p, ws)) * ws,
    ONE_PSI_PER_IMAGE: lambda ws, a, p: a + p * (ws - a),
}
TRUNCATED_NOISE = ("the truncated-noise trick of the DCGAN and BigGAN samplers (values beyond a threshold clipped or "
                   "drawn again, as z is truncated): StyleGAN truncates in w, moving each whole w towards the "
                   "average w, w_avg + psi * (w - w_avg)")


def _clips_large_values(fn: Callable) -> bool:
    """Whether fn changes only w's largest values (clipped or redrawn beyond a threshold), leaving the rest as they
    are: the truncated-noise trick on z, where truncation in w moves every value."""
    ws, w_avg, psi = SCALAR_PSI_CASES[0].args
    call = guarded_call(fn, ws.clone(), w_avg.clone(), psi)
    out = call.value
    if call.error is not None or not isinstance(out, torch.Tensor) or out.shape != ws.shape:
        return False
    changed = ~torch.isclose(out.detach().double(), ws.double(), atol=1e-6)
    return bool(changed.any() and (~changed).any() and ws.abs()[changed].min() >= ws.abs()[~changed].max())


def truncation_verdict(truncate: Callable) -> str:
    """The verdict check_truncation prints."""
    name = "the truncation"
    signature = Signature(("ws", "w_avg", "psi"), watched=(StyleGenerator.truncate,))

    def judge() -> str:
        learner = _answering(truncate)
        line = implementation_verdict(name, learner, _truncated, TRUNCATION_CASES, signature, TRUNCATION_MISTAKES)
        if line.endswith((": right", NOT_ANSWERED)) or "this looks like" in line:
            return line
        if _generic(line) and _clips_large_values(learner):
            return f"{name}: not yet, this looks like {TRUNCATED_NOISE}"
        scalar = implementation_verdict(name, learner, _truncated, SCALAR_PSI_CASES, signature)
        if scalar.endswith(": right"):  # right for one psi, wrong (or raising) for one psi per image
            return f"{name}: not yet, this looks like {ONE_PSI_PER_IMAGE}"
        return line

    return _safely(name, judge)


def check_truncation(truncate: Callable) -> None:
    """truncate(ws, w_avg, psi) -> the truncated ws: each w moved towards the average w, to psi of its distance,
    w_avg + psi * (ws - w_avg) (StyleGenerator.truncate; psi 1 leaves ws as they are, 0 gives w_avg, and below 0 goes
    past it). ws: (N, latent_dim), or (N, num_ws, latent_dim) with one w per layer; w_avg: (latent_dim,); psi: a
    number, or a tensor (N,) of one psi per image, to broadcast over that image's w or ws. ws itself must stay as it
    was (the caller still needs it)."""
    print(truncation_verdict(truncate))


# --- Modules the learner builds: gan_lib's weights copied in by shape -----------------------------------------------

def _build(name: str, cls: Callable | None, args: tuple, watched: tuple[Callable, ...]) -> nn.Module | str:
    """The learner's module cls(*args), or the verdict line when there is none to judge."""
    if cls is None:
        return f"{name}: {NOT_ANSWERED}"
    call = guarded_call(cls, *args, watched=watched)
    if call.changed:
        return f"{name}: not yet, {call.changed}"
    if call.called:
        return (f"{name}: not yet, it builds on gan_lib's own {', '.join(sorted(call.called))}, which is the answer: "
                "write the layers yourself")
    if _is_stub(call.error):
        return f"{name}: {NOT_ANSWERED}"
    if call.error is not None:
        return f"{name}: not yet, building it {_raised(call.error).removeprefix('it ')}"
    if call.value is None:
        return f"{name}: {NOT_ANSWERED}"
    if not isinstance(call.value, nn.Module):
        return (f"{name}: not yet, building it gives a {type(call.value).__name__} where an nn.Module is expected "
                "(a class that subclasses nn.Module)")
    return call.value


def _forward_unanswered(module: nn.Module, *inputs: object) -> bool:
    """Whether the module's forward is the untouched stub (it returns None or raises NotImplementedError)."""
    call = guarded_call(_answering(module), *inputs)
    return call.error is None and not call.changed and call.value is None


def _frozen(name: str, module: nn.Module) -> str | None:
    frozen = [key for key, p in module.named_parameters() if not p.requires_grad]
    return f"{name}: not yet, its {frozen[0]} does not require grad, so it would never train" if frozen else None


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
    return None


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
        watched = (NoiseInjection.forward,)
        line = implementation_verdict(name, _answering(lambda layer, x, noise: layer(x, noise)), _injected, given,
                                      Signature(("layer", "x", "noise"), wrt=(0, 1, 2), watched=watched),
                                      GIVEN_NOISE_MISTAKES)
        if _generic(line):
            first = given[0].args
            once, twice = (_noise_used(first[0], first[1], (first[2],)) for _ in range(2))
            if once is not None and twice is not None and not torch.equal(once, twice):
                return (f"{name}: not yet, it draws its own noise even when it is given one: add the `noise` it is "
                        "given, and draw only when noise is None")
        if not line.endswith(": right"):
            return line
        drawn = [Case((layers[4], torch.randn(3, 4, 5, 6, generator=_rng(6)), _rng(7)), "3 images of 4 channels"),
                 Case((layers[3], torch.randn(2, 3, 4, 4, generator=_rng(8)), _rng(9)), "2 images of 3 channels")]
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
    with respect to x, the noise and the strength), then given rng (the noise it draws), and reads its start."""
    print(noise_injection_verdict(layer_class))


# --- 4. AdaIN ------------------------------------------------------------------------------------------------------

def _normalised(x: torch.Tensor, dims: tuple[int, ...] = (2, 3), eps: float = 1e-5, correction: int = 0,
                eps_on: str = "variance") -> torch.Tensor:
    mean, var = x.mean(dims, keepdim=True), x.var(dims, keepdim=True, correction=correction)
    return (x - mean) / ((var + eps).sqrt() if eps_on == "variance" else var.sqrt() + eps)


def _styled(x: torch.Tensor, scale: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    return x * scale[:, :, None, None] + bias[:, :, None, None]


def _adain_cases() -> list[Case]:
    def style(seed, n, c, dtype=torch.float32):
        return ((torch.rand(n, c, generator=_rng(seed), dtype=dtype) + 0.5),
                torch.randn(n, c, generator=_rng(seed + 1), dtype=dtype))

    constant = torch.randn(2, 3, 4, 4, generator=_rng(4), dtype=torch.float64)
    constant[0, 1] = 0.7
    # float64 for these two: 1 / sqrt(var + eps) magnifies float32's rounding in their gradients
    tiny = torch.randn(2, 3, 4, 4, generator=_rng(5), dtype=torch.float64) * 2
    tiny[1, 2] = 0.3 + 1e-3 * torch.randn(4, 4, generator=_rng(6), dtype=torch.float64)
    return [Case((torch.randn(3, 4, 5, 5, generator=_rng(0)) * 2 + 1, *style(1, 3, 4)), "3 images, 4 channels, 5x5"),
            Case((torch.randn(2, 3, 2, 2, generator=_rng(3)) * 3 - 1, *style(3, 2, 3)), "2x2 images: 4 pixels each"),
            Case((tiny, *style(7, 2, 3, torch.float64)), "a channel of tiny variance (1e-6: where eps is added shows)"),
            Case((torch.randn(2, 2, 3, 3, generator=_rng(9), dtype=torch.float64) + 2,
                  *style(10, 2, 2, torch.float64)), "float64"),
            Case((constant, *style(5, 2, 3, torch.float64)),
                 "a constant channel (variance 0: eps keeps the division finite)")]


ADAIN_MISTAKES = {
    "normalised over the batch (batch norm: each channel over all the images; AdaIN normalises each image's "
    "channels over their own pixels, dims (2, 3))": lambda x, s, b: _styled(_normalised(x, (0, 2, 3)), s, b),
    "normalised over the channels too (layer norm: each image over all its channels and pixels; AdaIN normalises "
    "each channel on its own, over its pixels, dims (2, 3))": lambda x, s, b: _styled(_normalised(x, (1, 2, 3)), s, b),
    "the unbiased variance (torch.var and torch.std divide by n - 1 by default; instance norm divides by n: "
    "correction=0, or unbiased=False)": lambda x, s, b: _styled(_normalised(x, correction=1), s, b),
    "eps added to the standard deviation (F.instance_norm adds it to the variance, under the square root: "
    "(x - mean) / sqrt(var + 1e-5))": lambda x, s, b: _styled(_normalised(x, eps_on="std"), s, b),
    "an eps of 1e-8 (F.instance_norm's, and gan_lib's, is 1e-5)": lambda x, s, b: _styled(_normalised(x, eps=1e-8),
                                                                                          s, b),
    "scale and bias swapped (the scale multiplies the normalised x, the bias is added)":
        lambda x, s, b: _styled(_normalised(x), b, s),
    "only the mean removed (the std not divided: AdaIN first normalises each channel to mean 0 and standard "
    "deviation 1, (x - mean) / sqrt(var + eps))": lambda x, s, b: _styled(x - x.mean((2, 3), keepdim=True), s, b),
    "a scale of 1 + scale (gan_lib's style already starts at a scale of 1: multiply by scale itself)":
        lambda x, s, b: _styled(_normalised(x), 1 + s, b),
    "the style applied before the normalisation (normalise x first, then scale and shift: the style must survive)":
        lambda x, s, b: _normalised(_styled(x, s, b)),
}


def adain_verdict(learner_adain: Callable) -> str:
    """The verdict check_adain prints."""
    name = "AdaIN"

    def judge() -> str:
        cases = _adain_cases()
        signature = Signature(("x", "scale", "bias"), wrt=(0, 1, 2), watched=(adain,))
        line = implementation_verdict(name, _answering(learner_adain), adain, cases, signature, ADAIN_MISTAKES)
        if _generic(line):  # a mistake whose gradient is NaN on the constant channel (sqrt at 0) is named all the same
            without_constant = implementation_verdict(name, _answering(learner_adain), adain, cases[:-1], signature,
                                                      ADAIN_MISTAKES)
            if "this looks like" in without_constant:
                return without_constant
        if "NaN or inf" in line and cases[-1].about in line:
            return (f"{name}: not yet, this looks like eps missing: a constant channel has variance 0, so "
                    "(x - mean) / std divides 0 by 0; add eps = 1e-5 to the variance, under the square root")
        if "The size of tensor" in line:
            return (f"{name}: not yet, {line.split(': not yet, ', 1)[1]}: scale and bias are (N, C); reshape them to "
                    "(N, C, 1, 1), scale[:, :, None, None], so that each image's channel gets its own")
        return line

    return _safely(name, judge)


def check_adain(learner_adain: Callable) -> None:
    """learner_adain(x, scale, bias) -> AdaIN, like style.adain: each image's channels normalised over their own
    pixels to mean 0 and standard deviation 1 (the biased variance, as instance norm: (x - mean) / sqrt(var + 1e-5)),
    then times scale and plus bias, the image's style: x (N, C, H, W); scale and bias (N, C), one per image and
    channel (scale itself, not 1 + scale: gan_lib's style starts at 1). Compared in value and in the gradients with
    respect to x, scale and bias."""
    print(adain_verdict(learner_adain))


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
