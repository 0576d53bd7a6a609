"""Drawing one synthetic flower photo with NumPy and Pillow: background, distractors, the flower, jitter."""

from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageDraw

CLASSES = ("daisy", "dandelion", "rose", "sunflower", "tulip")
SUPERSAMPLE = 2  # drawn at twice the size, then downsampled: smooth edges


def _jitter_colour(rng, colour, amount=18):
    return tuple(int(np.clip(value + rng.normal(0, amount), 0, 255)) for value in colour)


def _background(rng, size: int) -> np.ndarray:
    """Grass and soil: a vertical gradient, low-frequency blotches and fine noise, (size, size, 3) float."""
    top = np.array([rng.uniform(60, 110), rng.uniform(110, 160), rng.uniform(50, 90)])  # greens
    bottom = np.array([rng.uniform(70, 120), rng.uniform(80, 120), rng.uniform(40, 70)])  # olive/soil
    ramp = np.linspace(0, 1, size)[:, None, None]
    picture = top * (1 - ramp) + bottom * ramp + np.zeros((size, size, 3))
    coarse = rng.normal(0, 1, (size // 16 + 2, size // 16 + 2, 3))
    blotches = np.stack(
        [
            np.asarray(Image.fromarray(coarse[..., c].astype(np.float32)).resize((size, size), Image.BICUBIC))
            for c in range(3)
        ],
        -1,
    )
    picture += 14 * blotches + rng.normal(0, 9, (size, size, 3))
    return picture


def _petal_polygon(cx, cy, angle, inner, outer, width, points=10):
    """An elongated petal as a polygon from radius ``inner`` to ``outer`` along ``angle``."""
    outline = []
    for step in range(points + 1):
        t = step / points
        radius = inner + (outer - inner) * t
        half = width * math.sin(math.pi * t) ** 0.8
        outline.append((radius, half))
    for step in range(points, -1, -1):
        radius, half = outline[step]
        outline.append((radius, -half))
    cos_a, sin_a = math.cos(angle), math.sin(angle)
    return [(cx + r * cos_a - h * sin_a, cy + r * sin_a + h * cos_a) for r, h in outline]


def _draw_distractors(draw, rng, size: int, count: int) -> None:
    for _ in range(count):
        kind = rng.integers(3)
        x, y = rng.uniform(0, size, 2)
        if kind == 0:  # leaf
            length, width = rng.uniform(0.05, 0.14) * size, rng.uniform(0.02, 0.05) * size
            colour = _jitter_colour(rng, (50, 120, 40), 20)
            draw.polygon(_petal_polygon(x, y, rng.uniform(0, 2 * math.pi), 0, length, width), fill=colour)
        elif kind == 1:  # pebble
            radius = rng.uniform(0.015, 0.04) * size
            colour = _jitter_colour(rng, (135, 130, 120), 25)
            draw.ellipse((x - radius, y - radius * 0.7, x + radius, y + radius * 0.7), fill=colour)
        else:  # small blob in a flower colour
            radius = rng.uniform(0.008, 0.02) * size
            colour = _jitter_colour(
                rng, [(240, 240, 235), (240, 200, 30), (200, 30, 40), (180, 80, 170)][rng.integers(4)], 15
            )
            draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=colour)


def _draw_radial(draw, rng, class_name: str, cx: float, cy: float, radius: float, rotation: float) -> None:
    """A daisy (white petals, small yellow centre) or a sunflower (yellow petals, large dark seeded centre)."""
    daisy = class_name == "daisy"
    petals = int(rng.integers(13, 19)) if daisy else int(rng.integers(18, 25))
    petal_colour = _jitter_colour(rng, (245, 245, 240) if daisy else (245, 195, 20), 10)
    centre_ratio = rng.uniform(0.18, 0.26) if daisy else rng.uniform(0.42, 0.52)
    width = radius * (0.13 if daisy else 0.16)
    for index in range(petals):
        angle = rotation + 2 * math.pi * index / petals + rng.normal(0, 0.04)
        shade = _jitter_colour(rng, petal_colour, 8)
        outer = radius * rng.uniform(0.9, 1.0)
        draw.polygon(_petal_polygon(cx, cy, angle, radius * centre_ratio * 0.6, outer, width), fill=shade)
    centre = radius * centre_ratio
    centre_colour = _jitter_colour(rng, (235, 190, 30) if daisy else (75, 45, 20), 10)
    draw.ellipse((cx - centre, cy - centre, cx + centre, cy + centre), fill=centre_colour)
    if not daisy:  # seed texture
        for _ in range(40):
            r, a = centre * math.sqrt(rng.uniform(0, 0.9)), rng.uniform(0, 2 * math.pi)
            dot = centre * 0.06
            x, y = cx + r * math.cos(a), cy + r * math.sin(a)
            draw.ellipse((x - dot, y - dot, x + dot, y + dot), fill=_jitter_colour(rng, (50, 30, 15), 8))


def _draw_dandelion(draw, rng, cx: float, cy: float, radius: float) -> None:
    """A dense yellow pom-pom of thin rays."""
    base = _jitter_colour(rng, (245, 205, 25), 10)
    draw.ellipse((cx - radius * 0.55, cy - radius * 0.55, cx + radius * 0.55, cy + radius * 0.55), fill=base)
    for _ in range(140):
        angle = rng.uniform(0, 2 * math.pi)
        length = radius * rng.uniform(0.6, 1.0)
        x, y = cx + length * math.cos(angle), cy + length * math.sin(angle)
        draw.line((cx, cy, x, y), fill=_jitter_colour(rng, base, 14), width=max(1, int(radius * 0.05)))


def _draw_rose(draw, rng, cx: float, cy: float, radius: float, rotation: float) -> None:
    """A red, layered spiral."""
    outer = _jitter_colour(rng, (195, 25, 40), 14)
    draw.ellipse((cx - radius, cy - radius * 0.92, cx + radius, cy + radius * 0.92), fill=outer)
    layers = 7
    for layer in range(layers):
        r = radius * (1 - (layer + 1) / (layers + 1))
        start = math.degrees(rotation) + layer * 57
        shade = tuple(int(value * (0.62 + 0.05 * layer)) for value in outer)
        draw.arc((cx - r, cy - r, cx + r, cy + r), start, start + 250, fill=shade, width=max(2, int(radius * 0.09)))


# The outline of a tulip's cup, in units of the radius around the flower's centre (y down).
# fmt: off
TULIP_CUP = ((-0.62, -0.55), (-0.38, -0.15), (-0.2, -0.62), (0.0, -0.2), (0.2, -0.62), (0.38, -0.15), (0.62, -0.55),
             (0.6, 0.05), (0.45, 0.35), (0.0, 0.45), (-0.45, 0.35), (-0.6, 0.05))
# fmt: on


def _draw_tulip(draw, rng, cx: float, cy: float, radius: float) -> tuple[float, float, float, float]:
    """A cup with pointed tips, red, pink or purple, on a green stem; returns its box."""
    colour = _jitter_colour(rng, [(215, 30, 45), (235, 110, 160), (125, 45, 150)][rng.integers(3)], 12)
    stem = _jitter_colour(rng, (40, 110, 35), 10)
    tilt = rng.normal(0, 0.25)
    cos_t, sin_t = math.cos(tilt), math.sin(tilt)

    def turned(points):
        return [(cx + x * cos_t - y * sin_t, cy + x * sin_t + y * cos_t) for x, y in points]

    draw.line(turned([(0, radius * 0.3), (0, radius * 1.0)]), fill=stem, width=max(2, int(radius * 0.1)))
    draw.polygon(turned([(x * radius, y * radius) for x, y in TULIP_CUP]), fill=colour)
    shade = tuple(int(value * 0.75) for value in colour)
    draw.line(turned([(0, -0.2 * radius), (0, 0.4 * radius)]), fill=shade, width=max(1, int(radius * 0.05)))
    return (cx - 0.65 * radius, cy - 0.65 * radius, cx + 0.65 * radius, cy + 1.0 * radius)


def _draw_flower(draw, rng, class_name: str, cx: float, cy: float, radius: float) -> tuple[float, float, float, float]:
    """Draw one flower; returns its bounding box (x0, y0, x1, y1) in canvas pixels."""
    rotation = rng.uniform(0, 2 * math.pi)  # drawn for every class, so each class's random stream is as before
    box = (cx - radius, cy - radius, cx + radius, cy + radius)
    if class_name in ("daisy", "sunflower"):
        _draw_radial(draw, rng, class_name, cx, cy, radius, rotation)
    elif class_name == "dandelion":
        _draw_dandelion(draw, rng, cx, cy, radius)
    elif class_name == "rose":
        _draw_rose(draw, rng, cx, cy, radius, rotation)
    elif class_name == "tulip":
        box = _draw_tulip(draw, rng, cx, cy, radius)
    else:
        raise ValueError(f"unknown synthetic class {class_name!r}; choose from {', '.join(CLASSES)}")
    return box


def draw_flower_photo(class_name: str, size: int, seed: int) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """One synthetic photo and its flower's box.

    Returns:
        (image (size, size, 3) uint8, box (x0, y0, x1, y1) in pixels, clipped to the image).
    """
    rng = np.random.default_rng(seed)
    canvas_size = size * SUPERSAMPLE
    background = _background(rng, canvas_size)
    canvas = Image.fromarray(np.clip(background, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(canvas)
    _draw_distractors(draw, rng, canvas_size, int(rng.integers(6, 14)))
    radius = rng.uniform(0.16, 0.3) * canvas_size
    cx, cy = rng.uniform(radius, canvas_size - radius, 2)
    box = _draw_flower(draw, rng, class_name, cx, cy, radius)
    _draw_distractors(draw, rng, canvas_size, int(rng.integers(0, 3)))  # a few in front
    picture = np.asarray(canvas.resize((size, size), Image.LANCZOS)).astype(np.float32)
    # photometric jitter: brightness, contrast, per-channel gain
    picture = (picture - 128) * rng.uniform(0.8, 1.2) + 128 + rng.normal(0, 12)
    picture *= rng.uniform(0.92, 1.08, 3)
    scaled = tuple(int(round(np.clip(value / SUPERSAMPLE, 0, size - 1))) for value in box)
    return np.clip(picture, 0, 255).astype(np.uint8), scaled
