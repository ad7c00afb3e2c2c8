"""Procedural anime-style faces: the offline dataset for the demo, the tests and CI.

Each face is drawn with PIL on a canvas four times the output size and box-downsampled (antialiased). A face is a
pure function of (seed, index), and its discrete attributes are reported so that generated faces can later be
checked for mode collapse.
"""

from __future__ import annotations

import colorsys
import os
import random
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import torch
from PIL import Image, ImageDraw

HAIR_COLORS = {
    "black": (45, 40, 52), "brown": (115, 72, 42), "blonde": (240, 208, 118), "red": (205, 55, 45),
    "blue": (62, 112, 215), "pink": (242, 142, 182), "silver": (198, 204, 218), "green": (72, 165, 95),
    "purple": (135, 82, 185),
}
EYE_COLORS = {
    "blue": (45, 125, 235), "green": (35, 170, 85), "red": (215, 40, 50), "purple": (150, 70, 205),
    "brown": (135, 80, 40), "gold": (232, 172, 28),
}
HAIR_STYLES = ("short", "long", "bob", "twintails", "ponytail")
MOUTHS = ("smile", "open", "flat", "cat")
SKIN_TONES = ((255, 232, 214), (250, 216, 192), (236, 192, 160))

ATTRIBUTES: dict[str, tuple[str, ...]] = {
    "hair_color": tuple(HAIR_COLORS),
    "eye_color": tuple(EYE_COLORS),
    "hair_style": HAIR_STYLES,
    "mouth": MOUTHS,
}


def _shade(color: tuple[int, int, int], factor: float) -> tuple[int, int, int]:
    """Darken (factor < 1) or lighten towards white (factor > 1) an RGB colour."""
    if factor <= 1:
        return tuple(int(c * factor) for c in color)
    return tuple(int(c + (255 - c) * (factor - 1)) for c in color)


def _mix(a: tuple[int, int, int], b: tuple[int, int, int], t: float) -> tuple[int, int, int]:
    return tuple(int(x + (y - x) * t) for x, y in zip(a, b))


class _Canvas:
    """An ImageDraw that takes coordinates in the unit square, with the face's jitter of position and scale."""

    def __init__(self, size: int, background: tuple[int, int, int], dx: float, dy: float, scale: float):
        self.size = size
        self.image = Image.new("RGB", (size, size), background)
        self.draw = ImageDraw.Draw(self.image)
        self.dx, self.dy, self.scale = dx, dy, scale

    def xy(self, x: float, y: float) -> tuple[float, float]:
        return ((0.5 + self.dx + (x - 0.5) * self.scale) * self.size,
                (0.5 + self.dy + (y - 0.5) * self.scale) * self.size)

    def box(self, x0: float, y0: float, x1: float, y1: float) -> list[float]:
        return [*self.xy(x0, y0), *self.xy(x1, y1)]

    def px(self, width: float) -> int:
        return max(1, round(width * self.size * self.scale))

    def ellipse(self, box, fill) -> None:
        self.draw.ellipse(self.box(*box), fill=fill)

    def polygon(self, points, fill) -> None:
        self.draw.polygon([self.xy(x, y) for x, y in points], fill=fill)

    def arc(self, box, start: float, end: float, fill, width: float) -> None:
        self.draw.arc(self.box(*box), start, end, fill=fill, width=self.px(width))

    def line(self, points, fill, width: float) -> None:
        self.draw.line([self.xy(x, y) for x, y in points], fill=fill, width=self.px(width))


def _back_hair(c: _Canvas, style: str, color, rng: random.Random) -> None:
    if style == "long":
        c.draw.rounded_rectangle(c.box(0.18, 0.16, 0.82, 0.98), radius=c.px(0.25), fill=color)
    elif style == "bob":
        c.draw.rounded_rectangle(c.box(0.17, 0.14, 0.83, 0.76), radius=c.px(0.22), fill=color)
    elif style == "twintails":
        c.ellipse((0.03, 0.30, 0.27, 0.96), color)
        c.ellipse((0.73, 0.30, 0.97, 0.96), color)
    elif style == "ponytail":
        side = rng.choice((0, 1))
        c.ellipse((0.66, 0.12, 0.96, 0.78) if side else (0.04, 0.12, 0.34, 0.78), color)


def _bangs(c: _Canvas, style: str, color, rng: random.Random) -> None:
    c.ellipse((0.2, 0.09, 0.8, 0.52), color)  # the hair cap over the top of the head
    spikes = rng.randint(4, 7)
    points = [(0.2, 0.3)]
    for i in range(spikes):
        x0, x1 = 0.21 + 0.58 * i / spikes, 0.21 + 0.58 * (i + 1) / spikes
        points += [(x0, 0.29), ((x0 + x1) / 2 + rng.uniform(-0.02, 0.02), rng.uniform(0.38, 0.47))]
    points += [(0.79, 0.29), (0.8, 0.3)]
    c.polygon(points, color)
    if style != "short":  # side locks framing the face
        c.polygon([(0.2, 0.28), (0.29, 0.32), (0.25, rng.uniform(0.6, 0.7))], color)
        c.polygon([(0.8, 0.28), (0.71, 0.32), (0.75, rng.uniform(0.6, 0.7))], color)


def _eye(c: _Canvas, x: float, y: float, w: float, h: float, iris, lash) -> None:
    c.ellipse((x - w / 2, y - h / 2, x + w / 2, y + h / 2), (255, 255, 255))
    iw, ih = 0.78 * w, 0.9 * h
    c.ellipse((x - iw / 2, y - ih / 2 + 0.005, x + iw / 2, y + ih / 2), _shade(iris, 0.55))
    c.ellipse((x - iw / 2.6, y - ih / 2.6 + 0.01, x + iw / 2.6, y + ih / 2.2), iris)
    c.ellipse((x - iw / 5, y - ih / 5, x + iw / 5, y + ih / 4), _shade(iris, 0.3))
    c.ellipse((x - w / 4 - 0.02, y - h / 4 - 0.02, x - w / 4 + 0.02, y - h / 4 + 0.02), (255, 255, 255))
    c.ellipse((x + w / 6 - 0.01, y + h / 5 - 0.01, x + w / 6 + 0.01, y + h / 5 + 0.01), (255, 255, 255))
    c.arc((x - w / 2 - 0.01, y - h / 2, x + w / 2 + 0.01, y + h / 2 + 0.04), 195, 345, lash, 0.022)


def _mouth(c: _Canvas, kind: str, skin) -> None:
    line = _shade(skin, 0.45)
    if kind == "smile":
        c.arc((0.44, 0.63, 0.56, 0.71), 20, 160, line, 0.012)
    elif kind == "open":
        c.ellipse((0.455, 0.665, 0.545, 0.725), (150, 40, 50))
        c.ellipse((0.475, 0.695, 0.525, 0.725), (235, 120, 130))
    elif kind == "flat":
        c.line([(0.46, 0.69), (0.54, 0.69)], line, 0.01)
    else:  # cat mouth, a small 'w'
        c.arc((0.44, 0.66, 0.5, 0.71), 0, 180, line, 0.01)
        c.arc((0.5, 0.66, 0.56, 0.71), 0, 180, line, 0.01)


def draw_face(seed: int, index: int, size: int = 64) -> tuple[Image.Image, dict[str, int]]:
    """Face number `index` of the set drawn from `seed`, as a size x size RGB image, and its attributes."""
    rng = random.Random(seed * 1_000_003 + index)
    attrs = {name: rng.randrange(len(values)) for name, values in ATTRIBUTES.items()}
    hair = _mix(HAIR_COLORS[ATTRIBUTES["hair_color"][attrs["hair_color"]]], (128, 128, 128), rng.uniform(-0.08, 0.08))
    iris = EYE_COLORS[ATTRIBUTES["eye_color"][attrs["eye_color"]]]
    style = HAIR_STYLES[attrs["hair_style"]]
    skin = rng.choice(SKIN_TONES)
    background = tuple(int(255 * v) for v in colorsys.hsv_to_rgb(rng.random(), rng.uniform(0.1, 0.45),
                                                                  rng.uniform(0.78, 1.0)))
    c = _Canvas(4 * size, background, rng.uniform(-0.04, 0.04), rng.uniform(-0.03, 0.05), rng.uniform(0.88, 1.08))

    hair_back = _shade(hair, 0.8)
    _back_hair(c, style, hair_back, rng)
    c.draw.rectangle(c.box(0.43, 0.68, 0.57, 0.92), fill=_shade(skin, 0.88))  # neck
    c.ellipse((0.12, 0.86, 0.88, 1.35), tuple(rng.randrange(40, 230) for _ in range(3)))  # shoulders
    c.ellipse((0.24, 0.18, 0.76, 0.7), skin)  # face
    c.polygon([(0.245, 0.47), (0.755, 0.47), (0.62, 0.72), (0.5, 0.79), (0.38, 0.72)], skin)  # jaw and chin
    if rng.random() < 0.5:
        blush = _mix(skin, (255, 110, 135), 0.4)
        c.ellipse((0.29, 0.6, 0.39, 0.645), blush)
        c.ellipse((0.61, 0.6, 0.71, 0.645), blush)
    w, h = rng.uniform(0.12, 0.145), rng.uniform(0.12, 0.16)
    lash = _shade(hair, 0.35)
    for x in (0.365, 0.635):
        _eye(c, x, 0.535, w, h, iris, lash)
    c.line([(0.5, 0.615), (0.495, 0.635)], _shade(skin, 0.7), 0.008)  # nose
    _mouth(c, MOUTHS[attrs["mouth"]], skin)
    _bangs(c, style, hair, rng)
    for x in (0.365, 0.635):  # brows over the bangs, in the hair's darker shade
        c.arc((x - 0.06, 0.42, x + 0.06, 0.5), 215, 325, _shade(hair, 0.5), 0.012)
    return c.image.reduce(4), attrs


def _draw_range(args: tuple[int, int, int, int]) -> tuple[np.ndarray, np.ndarray]:
    seed, start, stop, size = args
    images = np.empty((stop - start, size, size, 3), np.uint8)
    attrs = np.empty((stop - start, len(ATTRIBUTES)), np.int64)
    for row, index in enumerate(range(start, stop)):
        image, values = draw_face(seed, index, size)
        images[row] = np.asarray(image)
        attrs[row] = list(values.values())
    return images, attrs


def make_faces(n: int, size: int = 64, seed: int = 0, workers: int | None = None
               ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """n faces as a uint8 tensor (n, 3, size, size) and their attributes, {name: (n,) int64}, in parallel."""
    workers = workers or os.cpu_count() or 1
    chunk = 256
    jobs = [(seed, start, min(start + chunk, n), size) for start in range(0, n, chunk)]
    if workers == 1 or len(jobs) == 1:
        parts = [_draw_range(job) for job in jobs]
    else:
        with ProcessPoolExecutor(min(workers, len(jobs))) as pool:
            parts = list(pool.map(_draw_range, jobs))
    images = np.concatenate([p[0] for p in parts]) if parts else np.empty((0, size, size, 3), np.uint8)
    attrs = np.concatenate([p[1] for p in parts]) if parts else np.empty((0, len(ATTRIBUTES)), np.int64)
    tensor = torch.from_numpy(images).permute(0, 3, 1, 2).contiguous()
    return tensor, {name: torch.from_numpy(attrs[:, i].copy()) for i, name in enumerate(ATTRIBUTES)}
