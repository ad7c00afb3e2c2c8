"""Notebook 06's implement-it checks on the style-based generator's parts: right answers in several forms (a copy of
gan_lib's code and independently written ones) are accepted; the untouched stub is not answered yet; each typical
mistake is named; an answer that raises or returns the wrong shape or kind gets a verdict, never an exception; a
copy of gan_lib's own answer is noticed; no check leaves the global RNG or torch's settings changed."""

import math
from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from conftest import said
from gan_lib.course.exercises import (
    check_adain,
    check_mapping_network,
    check_noise_injection,
    check_style_mixing,
    check_truncation,
)
from gan_lib.style import EqualLinear, MappingNetwork, NoiseInjection, StyleGenerator, adain, normalize_latent


def _judged(check_fn, expected, answer, capsys):
    line = said(check_fn, answer, capsys)
    if expected.startswith("right"):
        assert line.endswith(": right"), line
    else:
        assert ": right" not in line and expected in line, (expected, line)


def _stub(*args):
    raise NotImplementedError


# --- 1. Truncation ---------------------------------------------------------------------------------------------------

def _psi(psi, ws):
    """psi, or one psi per image shaped to broadcast over each image's row(s)."""
    return psi.view(-1, *[1] * (ws.dim() - 1)) if torch.is_tensor(psi) else psi


def _resampled(ws, w_avg, psi):
    """BigGAN's truncated noise on w: values beyond 1 drawn again (from a fixed generator, here)."""
    again = torch.randn(ws.shape, generator=torch.Generator().manual_seed(0), dtype=ws.dtype).clamp(-1, 1)
    return torch.where(ws.abs() > 1, again, ws)


def _under_no_grad(compute):
    with torch.no_grad():
        return compute()


def _reseeding(ws, w_avg, psi):
    torch.manual_seed(0)  # a learner's habit: right values, but every call would draw the same numbers after it
    return w_avg + _psi(psi, ws) * (ws - w_avg)


def _in_place(ws, w_avg, psi):
    return ws.sub_(w_avg).mul_(_psi(psi, ws)).add_(w_avg)


TRUNCATION = {
    "right": lambda ws, a, p: a.to(ws.dtype).lerp(ws, _psi(p, ws)),  # gan_lib's StyleGenerator.truncate
    "right, the formula": lambda ws, a, p: a + _psi(p, ws) * (ws - a),
    "right, psi per image by hand": lambda ws, a, p: (a + (p[:, None] if ws.dim() == 2 else p[:, None, None])
                                                      * (ws - a)) if torch.is_tensor(p) else a + p * (ws - a),
    "right, shortcut at psi 1": lambda ws, a, p: ws if not torch.is_tensor(p) and p == 1 else
    (1 - _psi(p, ws)) * a + _psi(p, ws) * ws,
    "psi the wrong way round": lambda ws, a, p: ws + _psi(p, ws) * (a - ws),
    "truncation towards 0": lambda ws, a, p: _psi(p, ws) * ws,
    "truncation towards 0 the other way round": lambda ws, a, p: (1 - _psi(p, ws)) * ws,
    "truncated-noise trick": lambda ws, a, p: ws.clamp(-abs(p), abs(p)) if not torch.is_tensor(p) else ws,
    "truncated-noise trick ": _resampled,
    "one psi per image not broadcast": lambda ws, a, p: a + p * (ws - a),
    "it is right for one psi but not for one psi per image":
        lambda ws, a, p: a + (p[:, None] if torch.is_tensor(p) else p) * (ws - a),
    "an in-place operation": _in_place,  # on ws, which requires grad
    "not answered yet": _stub,
    "not answered yet ": lambda ws, a, p: None,
    "raised ZeroDivisionError": lambda ws, a, p: 1 / 0,
    "it gives shape": lambda ws, a, p: (a + _psi(p, ws) * (ws - a)).mean(0),
    "it returns a list": lambda ws, a, p: list(a + _psi(p, ws) * (ws - a)),
    "a string": lambda ws, a, p: "ws",
    "autograd cannot follow": lambda ws, a, p: (a + _psi(p, ws) * (ws - a)).detach(),
    "not yet, on case": lambda ws, a, p: a + _psi(p if torch.is_tensor(p) else p or 1.0, ws) * (ws - a),  # psi 0 as 1
    "autograd cannot follow ": lambda ws, a, p: _under_no_grad(lambda: a + _psi(p, ws) * (ws - a)),
    "it reseeds torch's global random number generator (torch.manual_seed)": _reseeding,
    "calls gan_lib's own style.StyleGenerator.truncate":
        lambda ws, a, p: StyleGenerator.truncate(SimpleNamespace(w_avg=a), ws, p),
}


@pytest.mark.parametrize("expected", TRUNCATION, ids=[k.strip() for k in TRUNCATION])
def test_the_truncation_check(expected, capsys):
    _judged(check_truncation, expected.strip(), TRUNCATION[expected], capsys)


# --- 2. The mapping network ----------------------------------------------------------------------------------------

class _OwnEqualLinear(nn.Module):
    """A copy of gan_lib's EqualLinear (its own code, so that it is no call into gan_lib)."""

    def __init__(self, c_in, c_out, lr_mul=1.0):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(c_out, c_in) / lr_mul)
        self.bias = nn.Parameter(torch.zeros(c_out))
        self.weight_gain, self.lr_mul = lr_mul / math.sqrt(c_in), lr_mul

    def forward(self, x):
        return F.linear(x, self.weight * self.weight_gain, self.bias * self.lr_mul)


class _GanLibsCopy(nn.Module):
    """gan_lib's MappingNetwork, its code copied."""

    def __init__(self, latent_dim, layers, lr_mul):
        super().__init__()
        self.net = nn.Sequential(*[m for _ in range(layers)
                                   for m in (_OwnEqualLinear(latent_dim, latent_dim, lr_mul), nn.LeakyReLU(0.2))])

    def forward(self, z):
        return self.net(z * torch.rsqrt(z.square().mean(1, keepdim=True) + 1e-8))


class _Mapping(nn.Module):
    """A learner's mapping network written independently (weights, then biases, in two lists), with one thing
    changed where asked."""

    def __init__(self, latent_dim, layers, lr_mul, *, normalise="rms", act=lambda x: F.leaky_relu(x, 0.2),
                 last=True, gain="equal", bias_lr=True, count=None, weight_std=None, bias_init=0.0, transposed=False,
                 extra=False, frozen=False, eps=1e-8, start=None):
        super().__init__()
        count = layers if count is None else count
        std = 1 / lr_mul if weight_std is None else weight_std
        first = torch.randn(latent_dim, latent_dim) * std
        starts = {None: lambda: torch.randn(latent_dim, latent_dim) * std,
                  "uniform": lambda: (torch.rand(latent_dim, latent_dim) * 2 - 1) * 3**0.5 * std,
                  "mean 300": lambda: torch.randn(latent_dim, latent_dim) * std + 300,
                  "identity": lambda: torch.eye(latent_dim) * std * latent_dim**0.5,
                  "one drawn": lambda: first.clone()}[start]
        self.weights = nn.ParameterList([nn.Parameter(starts()) for _ in range(count)])
        self.biases = nn.ParameterList([nn.Parameter(torch.zeros(latent_dim) + bias_init * torch.randn(latent_dim))
                                        for _ in range(count)])
        if extra:
            self.gain = nn.Parameter(torch.ones(1))
        if frozen:
            self.biases[0].requires_grad_(False)
        self.normalise, self.act, self.last, self.bias_lr, self.eps = normalise, act, last, bias_lr, eps
        self.lr_mul = 0.01 if gain == "fixed" else lr_mul
        self.scale = {"equal": lr_mul / math.sqrt(latent_dim), "fan_in": 1 / math.sqrt(latent_dim), "none": 1.0,
                      "lr_mul": lr_mul, "fixed": 0.01 / math.sqrt(latent_dim)}[gain]
        self.transposed = transposed

    def forward(self, z):
        if self.normalise == "rms":
            x = z / torch.sqrt((z**2).mean(dim=1, keepdim=True) + self.eps)
        elif self.normalise == "norm":
            x = z / z.norm(dim=1, keepdim=True)
        elif self.normalise == "F.normalize":
            x = F.normalize(z, dim=1) * math.sqrt(z.shape[1])
        elif self.normalise == "batch":
            x = z / torch.sqrt((z**2).mean(dim=0, keepdim=True) + 1e-8)
        else:
            x = z
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            w = w * self.scale
            x = (x @ w if self.transposed else x @ w.T) + (b * self.lr_mul if self.bias_lr else b)
            if self.last or i < len(self.weights) - 1:
                x = self.act(x)
        return x


class _KeepsItsW(_Mapping):
    """Right, and it keeps its last output (part of a graph) as an attribute."""

    def forward(self, z):
        self.last_w = super().forward(z)
        return self.last_w


class _WeightsAsBuffers(_Mapping):
    def __init__(self, latent_dim, layers, lr_mul):
        super().__init__(latent_dim, layers, lr_mul)
        weights = [w.detach().clone() for w in self.weights]
        del self.weights
        for i, w in enumerate(weights):
            self.register_buffer(f"weight{i}", w)
        self.weights = weights


class _SharedWeight(_Mapping):
    def __init__(self, latent_dim, layers, lr_mul):
        super().__init__(latent_dim, layers, lr_mul)
        self.weights = nn.ParameterList([self.weights[0]] * layers)


def _mapping(**changes):
    return lambda d, layers, lr_mul: _Mapping(d, layers, lr_mul, **changes)


class _MappingStub(nn.Module):
    def __init__(self, latent_dim, layers, lr_mul):
        super().__init__()

    def forward(self, z):
        raise NotImplementedError


class _NoForward(nn.Module):
    def __init__(self, latent_dim, layers, lr_mul):
        super().__init__()


class _OnGanLibsLayers(_Mapping):
    def __init__(self, latent_dim, layers, lr_mul):
        super().__init__(latent_dim, layers, lr_mul)
        self.layers = nn.Sequential(*[EqualLinear(latent_dim, latent_dim, lr_mul) for _ in range(layers)])


class _OnGanLibsNormalisation(_Mapping):
    def forward(self, z):
        return super().forward(normalize_latent(z) * 1.0)


MAPPING = {
    "right": _GanLibsCopy,
    "right, two lists": _mapping(),
    "right, x @ w": _mapping(transposed=True),
    "z not normalised first": _mapping(normalise="none"),
    "z divided by its norm": _mapping(normalise="norm"),
    "z normalised over the batch": _mapping(normalise="batch"),
    "ReLU as the activation": _mapping(act=F.relu),
    "LeakyReLU's default slope 0.01": _mapping(act=nn.LeakyReLU()),
    "no activation between the layers": _mapping(act=lambda x: x),
    "no LeakyReLU after the last layer": _mapping(last=False),
    "the learning-rate multiplier missing": _mapping(gain="fan_in"),
    "no equalised learning rate": _mapping(gain="none"),
    "the equalised-lr scale 1/sqrt(latent_dim) missing": _mapping(gain="lr_mul"),
    "a fixed lr_mul of 0.01": _mapping(gain="fixed"),
    "the bias not multiplied by lr_mul": _mapping(bias_lr=False),
    "the wrong number of layers": lambda d, layers, lr_mul: _Mapping(d, layers, lr_mul, count=layers - 1),
    "weights start with std": _mapping(weight_std=1.0),
    "biases do not start at 0": _mapping(bias_init=0.1),
    "starts with mean": _mapping(start="mean 300"),
    "of its entries 0 (an identity": _mapping(start="identity"),
    "start with the same weight matrix": _mapping(start="one drawn"),
    "do not start Gaussian": _mapping(start="uniform"),
    "right, keeps its last w": lambda d, layers, lr_mul: _KeepsItsW(d, layers, lr_mul),
    "its weights are buffers": lambda d, layers, lr_mul: _WeightsAsBuffers(d, layers, lr_mul),
    "its layers share one parameter": lambda d, layers, lr_mul: _SharedWeight(d, layers, lr_mul),
    "eps missing in z's normalisation": _mapping(eps=0.0),
    "right, F.normalize": _mapping(normalise="F.normalize"),
    "its structure differs": _mapping(extra=True),
    "does not require grad": _mapping(frozen=True),
    "not answered yet": _MappingStub,
    "not answered yet ": _NoForward,
    "not answered yet  ": _stub,
    "not answered yet   ": lambda d, layers, lr_mul: None,
    "building it raised ZeroDivisionError": lambda d, layers, lr_mul: 1 / 0,
    "an nn.Module is expected": lambda d, layers, lr_mul: "network",
    "gan_lib's own style.EqualLinear, style.MappingNetwork": MappingNetwork,
    "gan_lib's own style.EqualLinear": _OnGanLibsLayers,
    "calls gan_lib's own style.normalize_latent": _OnGanLibsNormalisation,
}


class _ForwardReturns(nn.Module):
    """A network whose forward returns what it is told to, after the right computation."""

    def __init__(self, latent_dim, layers, lr_mul, what):
        super().__init__()
        self.inner, self.what = _Mapping(latent_dim, layers, lr_mul), what

    def forward(self, z):
        w = self.inner(z)
        return {"shape": lambda: w[:, :2], "tuple": lambda: (w,), "error": lambda: w @ torch.ones(3, 3)}[self.what]()


MAPPING |= {"it gives shape": lambda d, layers, lr_mul: _ForwardReturns(d, layers, lr_mul, "shape"),
            "a tuple of 1": lambda d, layers, lr_mul: _ForwardReturns(d, layers, lr_mul, "tuple"),
            "raised RuntimeError": lambda d, layers, lr_mul: _ForwardReturns(d, layers, lr_mul, "error")}


@pytest.mark.parametrize("expected", MAPPING, ids=[k.strip() for k in MAPPING])
def test_the_mapping_network_check(expected, capsys):
    _judged(check_mapping_network, expected.strip(), MAPPING[expected], capsys)


# --- 3. Noise injection --------------------------------------------------------------------------------------------

class _GanLibsNoise(nn.Module):
    """gan_lib's NoiseInjection, its code copied, drawing its noise as StyleLayer does when none is given."""

    def __init__(self, channels):
        super().__init__()
        self.strength = nn.Parameter(torch.zeros(channels))

    def forward(self, x, noise=None, rng=None):
        if noise is None:
            n, _, h, w = x.shape
            noise = torch.randn(n, 1, h, w, generator=rng, device=x.device, dtype=x.dtype)
        return x + self.strength[None, :, None, None] * noise


class _Noise(nn.Module):
    """A learner's noise injection written independently (its strength (1, C, 1, 1)), one thing changed where asked."""

    def __init__(self, channels, *, init="zeros", scalar=False, buffer=False, draw="image", mix="noise",
                 view=True, use_given=True, eval_mode="same"):
        super().__init__()
        shape = (1,) if scalar else (1, channels, 1, 1) if view else (channels,)
        start = {"zeros": torch.zeros, "ones": torch.ones, "randn": torch.randn}[init](shape)
        if buffer:
            self.register_buffer("strength", start)
        else:
            self.strength = nn.Parameter(start)
        self.draw, self.mix, self.use_given, self.eval_mode, self.kept = draw, mix, use_given, eval_mode, None

    def forward(self, x, noise=None, rng=None):
        n, c, h, w = x.shape
        if noise is None or not self.use_given:
            noise = {"image": lambda: torch.randn(n, 1, h, w, generator=rng, dtype=x.dtype),
                     "float32": lambda: torch.randn(n, 1, h, w, generator=rng),
                     "channel": lambda: torch.randn(n, c, h, w, generator=rng),
                     "batch": lambda: torch.randn(1, 1, h, w, generator=rng),
                     "uniform": lambda: torch.rand(n, 1, h, w, generator=rng),
                     "global": lambda: torch.randn(n, 1, h, w),
                     "once": lambda: self.kept if self.kept is not None and self.kept.shape == (n, 1, h, w)
                     else torch.randn(n, 1, h, w, generator=rng, dtype=x.dtype),
                     "own generator": lambda: torch.randn(n, 1, h, w, generator=rng or torch.Generator(),
                                                          dtype=x.dtype)}[self.draw]()
            self.kept = noise
        if self.mix == "x" or (self.eval_mode == "x" and not self.training):
            return x * self.strength + noise
        if self.mix == "none":
            return x
        return x + self.strength * noise


def _noise(**changes):
    return lambda channels: _Noise(channels, **changes)


class _GivenOnly(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.strength = nn.Parameter(torch.zeros(channels))

    def forward(self, x, noise):
        return x + self.strength.view(1, -1, 1, 1) * noise


class _NoiseStub(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.strength = nn.Parameter(torch.zeros(channels))

    def forward(self, x, noise=None, rng=None):
        raise NotImplementedError


class _OnGanLibsNoise(_GanLibsNoise):
    def forward(self, x, noise=None, rng=None):
        return NoiseInjection.forward(self, x, noise)


NOISE = {
    "right": _GanLibsNoise,
    "right, strength (1, C, 1, 1)": _noise(),
    "one strength for all channels": _noise(scalar=True),
    "a strength initialised non-zero": _noise(init="ones"),
    "a strength initialised non-zero ": _noise(init="randn"),
    "one noise map per channel": _noise(draw="channel"),
    "the same noise map for every image": _noise(draw="batch"),
    "uniform noise": _noise(draw="uniform"),
    "never draws from rng": _noise(draw="global"),
    "float32 noise for float64 images": _noise(draw="float32"),
    "noise drawn once and kept": _noise(draw="once"),
    "not in eval mode": _noise(eval_mode="x"),
    "called as layer(x), with neither noise nor rng": _noise(draw="own generator"),
    "the strength multiplying x instead of the noise": _noise(mix="x"),
    "the strength broadcast along the width": _noise(view=False),
    "x as it is": _noise(mix="none"),
    "it draws its own noise even when it is given one": _noise(draw="global", use_given=False),
    "no learned strength": _noise(buffer=True),
    "forward(x, noise=None, rng=None)": _GivenOnly,
    "not answered yet": _NoiseStub,
    "not answered yet ": _stub,
    "building it raised KeyError": lambda channels: {}["strength"],
    "calls gan_lib's own style.NoiseInjection.forward": _OnGanLibsNoise,
    "gan_lib's own style.NoiseInjection": NoiseInjection,
}


@pytest.mark.parametrize("expected", NOISE, ids=[k.strip() for k in NOISE])
def test_the_noise_injection_check(expected, capsys):
    _judged(check_noise_injection, expected.strip(), NOISE[expected], capsys)


# --- 4. AdaIN --------------------------------------------------------------------------------------------------------

def _norm(x, dims=(2, 3), unbiased=False, eps=1e-5):
    mean = x.mean(dims, keepdim=True)
    var = ((x - mean) ** 2).sum(dims, keepdim=True) / (math.prod(x.shape[d] for d in dims) - unbiased)
    return (x - mean) / torch.sqrt(var + eps)


def _by_hand(x, s, b, **norm):
    return _norm(x, **norm) * s.view(*s.shape, 1, 1) + b.view(*b.shape, 1, 1)


ADAIN = {
    "right": lambda x, s, b: F.instance_norm(x, eps=1e-5) * s[:, :, None, None] + b[:, :, None, None],  # gan_lib's
    "right, by hand": _by_hand,
    "right, var_mean": lambda x, s, b: (lambda v, m: (x - m) * torch.rsqrt(v + 1e-5))(
        *torch.var_mean(x, dim=(2, 3), keepdim=True, correction=0)) * s[..., None, None] + b[..., None, None],
    "normalised over the batch": lambda x, s, b: _by_hand(x, s, b, dims=(0, 2, 3)),
    "normalised over the channels too": lambda x, s, b: _by_hand(x, s, b, dims=(1, 2, 3)),
    "the unbiased variance": lambda x, s, b: _by_hand(x, s, b, unbiased=True),
    "eps missing": lambda x, s, b: (x - x.mean((2, 3), keepdim=True)) / x.std((2, 3), keepdim=True, correction=0)
    * s[:, :, None, None] + b[:, :, None, None],
    "eps added to the standard deviation": lambda x, s, b: (x - x.mean((2, 3), keepdim=True)) / (
        x.std((2, 3), keepdim=True, correction=0) + 1e-5) * s[:, :, None, None] + b[:, :, None, None],
    "an eps of 1e-8": lambda x, s, b: _by_hand(x, s, b, eps=1e-8),
    "scale and bias swapped": lambda x, s, b: _by_hand(x, b, s),
    "only the mean removed": lambda x, s, b: (x - x.mean((2, 3), keepdim=True)) * s[:, :, None, None]
    + b[:, :, None, None],
    "a scale of 1 + scale": lambda x, s, b: _by_hand(x, 1 + s, b),
    "the style applied before the normalisation": lambda x, s, b: _norm(x * s[:, :, None, None] + b[:, :, None, None]),
    "reshape them to (N, C, 1, 1)": lambda x, s, b: F.instance_norm(x) * s + b,
    "not answered yet": _stub,
    "not answered yet ": lambda x, s, b: None,
    "not answered yet  ": lambda x, s, b: (_ for _ in ()).throw(NotImplementedError("your code: AdaIN")),
    "raised ZeroDivisionError": lambda x, s, b: 1 / 0,
    "it gives shape": lambda x, s, b: _by_hand(x, s, b).mean(1),
    "it returns a tuple of 2": lambda x, s, b: (_by_hand(x, s, b), s),
    "autograd cannot follow": lambda x, s, b: _by_hand(x, s, b).detach(),
    "calls gan_lib's own style.adain": adain,
    "not yet, on case": lambda x, s, b: _square_only(x) * s[:, :, None, None] + b[:, :, None, None],
    "sparse coo tensor": lambda x, s, b: _by_hand(x, s, b).to_sparse(),
    "not yet, on case ": lambda x, s, b: F.instance_norm(x) * s.abs()[..., None, None] + b[..., None, None],
    "right, E[x^2] - mean^2": lambda x, s, b: (x - x.mean((2, 3), keepdim=True)) / torch.sqrt(
        x.square().mean((2, 3), keepdim=True) - x.mean((2, 3), keepdim=True) ** 2 + 1e-5) * s[..., None, None]
    + b[..., None, None],
}


def _square_only(x):
    """Instance norm with the variance's count written H * H (right only for square images)."""
    mean = x.mean((2, 3), keepdim=True)
    var = ((x - mean) ** 2).sum((2, 3), keepdim=True) / (x.shape[2] * x.shape[2])
    return (x - mean) / torch.sqrt(var + 1e-5)


@pytest.mark.parametrize("expected", ADAIN, ids=[k.strip() for k in ADAIN])
def test_the_adain_check(expected, capsys):
    _judged(check_adain, expected.strip(), ADAIN[expected], capsys)


# --- 5. Style mixing -------------------------------------------------------------------------------------------------

def _mix(G, w1, w2, c):  # gan_lib's rule (StyleGenerator.mix) with the cut given
    later = torch.arange(G.num_ws)[None, :, None] >= c
    return G.synthesis(torch.where(later, w2[:, None, :], w1[:, None, :]))


def _mix_cat(G, w1, w2, c):
    return G.synthesis(torch.cat([w1[:, None].expand(-1, c, -1), w2[:, None].expand(-1, G.num_ws - c, -1)], dim=1))


def _mix_loop(G, w1, w2, c):
    return G.synthesis(torch.stack([w1 if i < c else w2 for i in range(G.num_ws)], dim=1))


def _rows(G, w1, w2, c):
    w = torch.cat([w1[:c], w2[c:]])
    return G.synthesis(w.unsqueeze(1).repeat(1, G.num_ws, 1))


MIXING = {
    "right": _mix,
    "right, cat": _mix_cat,
    "right, a loop": _mix_loop,
    "the crossover off by one": lambda G, a, b, c: _mix_loop(G, a, b, c + 1),
    "the crossover off by one the other way": lambda G, a, b, c: _mix_loop(G, a, b, c - 1),
    "w1 and w2 swapped": lambda G, a, b, c: _mix_loop(G, b, a, c),
    "the crossover counted in resolutions": lambda G, a, b, c: _mix_loop(G, a, b, 2 * c),
    "the batch mixed instead of the layers": _rows,
    "no mixing: every layer reads w1": lambda G, a, b, c: G.synthesis(a[:, None].expand(-1, G.num_ws, -1)),
    "passed through the mapping network again": lambda G, a, b, c: _mix_loop(G, G.mapping(a), G.mapping(b), c),
    "the per-layer ws themselves": lambda G, a, b, c: torch.stack([a if i < c else b for i in range(G.num_ws)], 1),
    "raised RuntimeError": lambda G, a, b, c: G.synthesis(a),  # one w for all layers: synthesis indexes ws[:, i]
    "not answered yet": _stub,
    "not answered yet ": lambda G, a, b, c: None,
    "autograd cannot follow": lambda G, a, b, c: _mix(G, a, b, c).detach(),
    "not yet, on case": lambda G, a, b, c: _mix(G, a, b, max(c, 1)),  # crossover 0 read as 1
    "not yet, on case ": lambda G, a, b, c: G.synthesis(torch.where(
        torch.arange(G.num_ws)[None, :, None] >= c, b[:, None], a[:, None]), noise_mode="none"),
    "it changes its mode (G.train() or G.eval())": lambda G, a, b, c: (_mix(G, a, b, c), G.train())[0],
    "it changes G.psi": lambda G, a, b, c: (setattr(G, "psi", 0.7), _mix(G, a, b, c))[1],
    "it changes G.noise_mode": lambda G, a, b, c: (setattr(G, "noise_mode", "const"), _mix(G, a, b, c))[1],
    "raised IndexError": lambda G, a, b, c: G.synthesis(torch.where(
        torch.arange(8)[None, :, None] >= c, b[:, None], a[:, None])),  # num_ws written as 8
    "not yet, on case   ": lambda G, a, b, c: G.synthesis(torch.where(
        torch.arange(G.num_ws)[None, :, None] >= c, b[:, None], a[:, None]), noise_mode="const"),
    "not yet, on case    ": lambda G, a, b, c: G.synthesis(G.truncate(torch.where(
        torch.arange(G.num_ws)[None, :, None] >= c, b[:, None], a[:, None]), G.psi)),
    "calls gan_lib's own style.StyleGenerator.styles_mixed": lambda G, a, b, c: G.styles_mixed(a, b, c),
}


@pytest.mark.parametrize("expected", MIXING, ids=[k.strip() for k in MIXING])
def test_the_style_mixing_check(expected, capsys):
    _judged(check_style_mixing, expected.strip(), MIXING[expected], capsys)


def test_the_checks_leave_grad_mode_as_the_notebook_had_it(capsys):
    torch.set_grad_enabled(False)
    try:
        assert said(check_adain, ADAIN["right"], capsys).endswith(": right")  # judged with grad mode on
        assert said(check_mapping_network, _GanLibsCopy, capsys).endswith(": right")
        assert not torch.is_grad_enabled()
    finally:
        torch.set_grad_enabled(True)
