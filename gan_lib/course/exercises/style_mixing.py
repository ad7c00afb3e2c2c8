"""Notebook 06's implement-it check on style mixing (gan_lib/style.py): a learner's forward pass that gives each
image's coarse layers one w and its fine layers another, run on a small style-based G beside gan_lib's own rule.

The untouched stub, a function that returns None or raises NotImplementedError, is not answered yet."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import torch
from torch import nn

from ...config import Config
from ...style import StyleGenerator
from .style_common import _answering, _rng, _safely
from .verdicts import Case, Signature, implementation_verdict

# --- 5. Style mixing -----------------------------------------------------------------------------------------------

MIXING_CONFIG = Config(image_size=32, latent_dim=8, g_width=4, arch="style", mapping_layers=1)  # 8 layers


def _mixing_generator(image_size: int = 32, noise_mode: str = "const", psi: float = 1.0) -> StyleGenerator:
    """A small style-based G in eval mode (each layer's fixed noise map, or none: the same images every time), its
    noise strengths non-zero (as after training: the noise mode shows in its images), its psi as the caller set it
    (G.synthesis does not truncate: only G(z) does)."""
    torch.manual_seed(0)
    G = StyleGenerator(replace(MIXING_CONFIG, image_size=image_size)).eval()
    with torch.no_grad():
        for layer in G.layers:
            layer.noise.strength.normal_(0, 0.5)
    G.noise_mode, G.psi = noise_mode, psi
    return G


def _settings(G: nn.Module) -> tuple:
    """What a caller set on G and a forward pass must leave as it found it: its mode, noise mode, psi and draws."""
    return G.training, getattr(G, "noise_mode", None), getattr(G, "psi", None), getattr(G, "draws", None)


def _watching_settings(style_mix: Callable, changed: list[str]) -> Callable:
    """style_mix, noting into `changed` what it changed of G's settings (on the check's copy of G)."""
    def call(G, w1, w2, crossover):
        before, modes, train = _settings(G), [], G.train
        G.train = lambda mode=True: (modes.append(mode), train(mode))[1]  # G.eval() calls it too
        try:
            return style_mix(G, w1, w2, crossover)
        finally:
            del G.train
            after = _settings(G)
            names = ("its mode (G.train() or G.eval())", "G.noise_mode", "G.psi", "G.draws")
            changed.extend(name for name, a, b in zip(names, before, after) if a is not b and a != b)
            if modes and not changed:
                changed.append("its mode (G.train() or G.eval(), even when it sets it back: the caller's may differ)")
    return call


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
    "G's eval-mode noise forced (noise_mode=G.noise_mode): in train mode G draws fresh noise per image; call "
    "G.synthesis(ws) and let G's mode decide": lambda G, a, b, c: G.synthesis(_mixed_ws(G, a, b, c), G.noise_mode),
}


def style_mixing_verdict(style_mix: Callable) -> str:
    """The verdict check_style_mixing prints."""
    name = "style mixing"

    def judge() -> str:
        G = _mixing_generator()

        def w(seed, n):
            return torch.randn(n, G.latent_dim, generator=_rng(seed))

        other = _mixing_generator(64, noise_mode="none", psi=0.5)
        training = _mixing_generator().train()  # fresh noise per image: the caller's mode decides, not G.noise_mode
        cases = [Case((G, w(1, 5), w(2, 5), 3), "5 pairs, crossover 3"),
                 Case((G, w(3, 4), w(4, 4), 1), "4 pairs, crossover 1: only the 4x4 constant's layer reads w1"),
                 Case((G, w(5, 3), w(6, 3), 6), "3 pairs, crossover 6: only the 32x32 layers read w2"),
                 Case((G, w(7, 2), w(8, 2), 0), "crossover 0: every layer reads w2"),
                 Case((G, w(9, 2), w(10, 2), G.num_ws), f"crossover {G.num_ws}, G.num_ws: every layer reads w1"),
                 Case((other, w(11, 3), w(12, 3), 7), f"a 64 px G of {other.num_ws} layers, its noise_mode 'none' "
                      "and psi 0.5 as the caller set them, crossover 7"),
                 Case((training, w(13, 3), w(14, 3), 4), "a G in train mode (random noise, as while training), "
                      "crossover 4")]
        changed: list[str] = []
        line = implementation_verdict(name, _watching_settings(_answering(style_mix), changed), _style_mixed, cases,
                                      Signature(("G", "w1", "w2", "crossover"), wrt=(1, 2),
                                                watched=(StyleGenerator.styles_mixed, StyleGenerator.mixing_grid)),
                                      MIXING_MISTAKES)
        if changed:
            return (f"{name}: not yet, it changes {changed[0]}, which is the caller's: give the mode as "
                    "G.synthesis(ws, noise_mode=...) if it must differ, and leave G's settings as they were")
        return line

    return _safely(name, judge)


def check_style_mixing(style_mix: Callable) -> None:
    """style_mix(G, w1, w2, crossover) -> images: G a StyleGenerator (in eval mode), w1 and w2 (N, latent_dim) two
    batches of w (from G.mapping), crossover a layer index in 0..G.num_ws; each image's layers before the crossover
    (0 to crossover - 1, the coarse styles: pose, shape) read its w1 and those from it on (the fine styles: colour,
    texture) its w2; the G.num_ws per-layer ws, (N, G.num_ws, latent_dim), go to G.synthesis, and its images are
    returned. Compared in value and in the gradients with respect to w1 and w2, on two Gs (32 and 64 px; their noise
    strengths non-zero, so the noise mode the caller set shows), for crossovers from 0 (all w2) to G.num_ws (all
    w1); G's mode, noise_mode and psi must be left as the caller set them."""
    print(style_mixing_verdict(style_mix))
