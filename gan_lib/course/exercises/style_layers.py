"""Notebook 06's implement-it checks on the style-based generator's layer-level parts (gan_lib/style.py), each run
beside gan_lib's own: the truncation trick in w and AdaIN (noise injection's check is in style_noise).

The untouched stub, a function or forward that returns None or raises NotImplementedError (or a class without a
forward), is not answered yet; a learner's code that uses gan_lib's own answer is told to write it."""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace

import torch

from ...style import StyleGenerator, adain
from .guard import guarded_call
from .style_common import _answering, _generic, _rng, _safely
from .verdicts import NOT_ANSWERED, Case, Signature, implementation_verdict

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
    Case((_ws(5, 2, 6).double(), W_AVG.double(), 0.8), "float64 ws and w_avg"),
    Case((_ws(10, 3).double(), W_AVG, 0.6), "float64 ws and a float32 w_avg (G's buffer): ws's dtype is kept"),
    Case((_ws(8, 3), W_AVG, 0), "psi 0 (a plain 0): every w the average w"),
    Case((_ws(9, 3), W_AVG, 2.5), "psi 2.5: far past w, away from the average"),
]
TRUNCATION_CASES = SCALAR_PSI_CASES + [
    Case((_ws(6, 8, 3), W_AVG, torch.linspace(1.0, 0.0, 8)), "ws (8, 3, 8) and one psi per image, from 1 to 0"),
    Case((_ws(7, 8), W_AVG, torch.linspace(1.2, -0.2, 8)), "w (8, 8) and one psi per image"),
]
PSI_PER_IMAGE = ("psi of shape (N,) must broadcast over each image's row: psi.view(-1, *[1] * (ws.dim() - 1)), "
                 "(N, 1) for w and (N, 1, 1) for ws")
ONE_PSI_PER_IMAGE = (f"one psi per image not broadcast over its row (psi (N,) lines up with w's last axis; "
                     f"{PSI_PER_IMAGE})")
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
    signature = Signature(("ws", "w_avg", "psi"), wrt=(0,), watched=(StyleGenerator.truncate,))

    def judge() -> str:
        learner = _answering(truncate)
        line = implementation_verdict(name, learner, _truncated, TRUNCATION_CASES, signature, TRUNCATION_MISTAKES)
        if line.endswith((": right", NOT_ANSWERED)) or "this looks like" in line:
            return line
        if _generic(line) and _clips_large_values(learner):
            return f"{name}: not yet, this looks like {TRUNCATED_NOISE}"
        scalar = implementation_verdict(name, learner, _truncated, SCALAR_PSI_CASES, signature)
        if scalar.endswith(": right"):  # right for one psi, wrong (or raising) for one psi per image
            return (f"{name}: not yet, it is right for one psi but not for one psi per image (each image's psi moves "
                    f"its own w; {PSI_PER_IMAGE})")
        return line

    return _safely(name, judge)


def check_truncation(truncate: Callable) -> None:
    """truncate(ws, w_avg, psi) -> the truncated ws: each w moved towards the average w, to psi of its distance,
    w_avg + psi * (ws - w_avg) (StyleGenerator.truncate; psi 1 leaves ws as they are, 0 gives w_avg, and below 0 goes
    past it). ws: (N, latent_dim), or (N, num_ws, latent_dim) with one w per layer; w_avg: (latent_dim,); psi: a
    number, or a tensor (N,) of one psi per image, to broadcast over that image's w or ws. ws itself must stay as it
    was (the caller still needs it). Compared in value and in the gradient with respect to ws (a truncated w
    must still carry a gradient back to the mapping network and to z)."""
    print(truncation_verdict(truncate))


# --- 4. AdaIN ------------------------------------------------------------------------------------------------------

def _normalised(x: torch.Tensor, dims: tuple[int, ...] = (2, 3), eps: float = 1e-5, correction: int = 0,
                eps_on: str = "variance") -> torch.Tensor:
    mean, var = x.mean(dims, keepdim=True), x.var(dims, keepdim=True, correction=correction)
    return (x - mean) / ((var + eps).sqrt() if eps_on == "variance" else var.sqrt() + eps)


def _styled(x: torch.Tensor, scale: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    return x * scale[:, :, None, None] + bias[:, :, None, None]


def _adain_cases() -> list[Case]:
    def style(seed, n, c, dtype=torch.float32):
        scale = torch.rand(n, c, generator=_rng(seed), dtype=dtype) + 0.5
        sign = torch.where(torch.arange(n * c).reshape(n, c) % 3 == 1, -1.0, 1.0).to(dtype)  # some negative scales
        return scale * sign, torch.randn(n, c, generator=_rng(seed + 1), dtype=dtype)

    constant = torch.randn(2, 3, 4, 4, generator=_rng(4), dtype=torch.float64)
    constant[0, 1] = 0.7
    # float64 for these two: 1 / sqrt(var + eps) magnifies float32's rounding in their gradients
    tiny = torch.randn(2, 3, 4, 4, generator=_rng(5), dtype=torch.float64) * 2
    tiny[1, 2] = 0.3 + 1e-3 * torch.randn(4, 4, generator=_rng(6), dtype=torch.float64)
    return [Case((torch.randn(3, 4, 5, 5, generator=_rng(0)) * 2 + 1, *style(1, 3, 4)), "3 images, 4 channels, 5x5"),
            Case((torch.randn(2, 3, 2, 2, generator=_rng(3)) * 3 - 1, *style(3, 2, 3)), "2x2 images: 4 pixels each"),
            Case((torch.randn(1, 3, 3, 5, generator=_rng(11)) - 2, *style(12, 1, 3)), "one image, 3x5: not square"),
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
