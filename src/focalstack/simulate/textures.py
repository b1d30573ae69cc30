"""Random textures for simulated scenes: procedural patterns and crops of natural images.

Defocus blur is only visible where there is texture, so every texture here has detail at
several scales (from 1-2 px up to tens of pixels) and no large flat areas, and its contrast
is normalised: luminance percentiles 1 and 99 are mapped to a random range of about
0.05-0.95. Every texture is a function ``(rng, shape) -> image`` with

- ``rng``: a :class:`numpy.random.Generator`, the only source of randomness (same state,
  same texture);
- ``shape``: ``(height, width)`` in pixels;
- the image: ``height x width x 3`` float32 in [0, 1], RGB.

Natural patches are random crops (scale, flips, 90 degree turns) of images that ship inside
installed packages (scikit-image's bundled ``skimage.data`` images and matplotlib's sample
Grace Hopper photograph), so no network is needed; see :data:`NATURAL_SOURCES`.

Example:
    >>> rng = np.random.default_rng(0)
    >>> image = random_texture(rng, (64, 96))
    >>> image.shape, image.dtype
    ((64, 96, 3), dtype('float32'))
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

import cv2
import numpy as np

from ..errors import InputError

Texture = Callable[[np.random.Generator, tuple[int, int]], np.ndarray]

#: Images that ship inside installed wheels and load without network: ``"skimage:<function>"``
#: (bundled ``skimage.data`` files) and ``"matplotlib:<file>"`` (``mpl-data/sample_data``).
#: All are public domain, CC0 or "no known copyright restrictions" (see docs/simulator.md).
NATURAL_SOURCES: tuple[str, ...] = (
    "skimage:astronaut",
    "skimage:brick",
    "skimage:camera",
    "skimage:chelsea",
    "skimage:coffee",
    "skimage:coins",
    "skimage:grass",
    "skimage:gravel",
    "skimage:immunohistochemistry",
    "skimage:rocket",
    "skimage:text",
    "matplotlib:grace_hopper.jpg",
)

_MIN_SIZE = 4  # pixels; smaller textures have no room for several scales
_FLAT_BLOCK = 16  # pixels; side of the blocks checked for flatness in natural crops
_NATURAL_TRIES = 8  # crops tried before taking the least flat one
_FONTS = (
    cv2.FONT_HERSHEY_SIMPLEX, cv2.FONT_HERSHEY_DUPLEX, cv2.FONT_HERSHEY_COMPLEX,
    cv2.FONT_HERSHEY_TRIPLEX, cv2.FONT_HERSHEY_SCRIPT_SIMPLEX, cv2.FONT_HERSHEY_PLAIN,
)
_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


def noise_texture(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """Multi-scale value noise (octaves from 1 px to a quarter of the image) through a random palette.

    Args:
        rng: random generator. shape: (height, width) in pixels, each >= 4.

    Returns:
        H x W x 3 float32 in [0, 1].

    Example:
        >>> noise_texture(np.random.default_rng(1), (32, 32)).shape
        (32, 32, 3)
    """
    shape = _check(rng, shape)
    field = _fractal_noise(rng, shape, roughness=rng.uniform(0.55, 0.9))
    return _normalise(rng, _palette(rng, rng.integers(2, 6))(field))


def stripes_texture(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """Stripes with random period (3-40 px), orientation, colours and waviness; hard or soft edges.

    Fine multi-scale grain is added so that the stripes themselves are not flat.

    Args:
        rng: random generator. shape: (height, width) in pixels, each >= 4.

    Returns:
        H x W x 3 float32 in [0, 1].

    Example:
        >>> stripes_texture(np.random.default_rng(1), (32, 48)).shape
        (32, 48, 3)
    """
    shape = _check(rng, shape)
    period = np.exp(rng.uniform(np.log(3.0), np.log(40.0)))
    u, _ = _rotated_coordinates(rng, shape)
    u = u + rng.uniform(0.0, 0.6) * period * (_fractal_noise(rng, shape, roughness=0.3) - 0.5)
    wave = np.sin(2 * np.pi * u / period + rng.uniform(0, 2 * np.pi))
    soft = rng.random() < 0.5
    field = 0.5 + 0.5 * wave if soft else (wave > rng.uniform(-0.5, 0.5)).astype(np.float32)
    return _with_grain(rng, _palette(rng, 2)(field))


def checkers_texture(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """Rotated checkerboard with random cell size (3-40 px); cells vary in shade, with fine grain.

    Args:
        rng: random generator. shape: (height, width) in pixels, each >= 4.

    Returns:
        H x W x 3 float32 in [0, 1].

    Example:
        >>> checkers_texture(np.random.default_rng(1), (32, 48)).shape
        (32, 48, 3)
    """
    shape = _check(rng, shape)
    cell = np.exp(rng.uniform(np.log(3.0), np.log(40.0)))
    u, v = _rotated_coordinates(rng, shape)
    i, j = np.floor(u / cell).astype(np.int64), np.floor(v / cell).astype(np.int64)
    i, j = i - i.min(), j - j.min()
    shades = rng.random((int(i.max()) + 1, int(j.max()) + 1))
    field = 0.7 * ((i + j) % 2) + 0.3 * shades[i, j]
    return _with_grain(rng, _palette(rng, 3)(field.astype(np.float32)))


def strokes_texture(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """Text-like strokes drawn with OpenCV: rows of random printed glyphs and handwritten scribbles.

    Rows of random letters (several Hershey fonts and sizes) and random short polylines and
    arcs cover a light or dark, slightly grainy background.

    Args:
        rng: random generator. shape: (height, width) in pixels, each >= 4.

    Returns:
        H x W x 3 float32 in [0, 1].

    Example:
        >>> strokes_texture(np.random.default_rng(1), (40, 60)).shape
        (40, 60, 3)
    """
    shape = _check(rng, shape)
    light = rng.random() < 0.5
    paper, ink = _palette(rng, 2)(np.array([1.0, 0.0] if light else [0.0, 1.0], np.float32))
    coverage = np.zeros(shape, np.uint8)  # OpenCV draws text into 8-bit images only
    _draw_print(rng, coverage)
    _draw_scribbles(rng, coverage)
    alpha = coverage.astype(np.float32)[..., None] / np.float32(255.0)
    grain = _fractal_noise(rng, shape, roughness=0.9)[..., None] - 0.5
    image = paper * (1 - alpha) + ink * alpha + 0.25 * grain
    return _normalise(rng, image)


def natural_texture(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """A random crop of a natural image from :data:`NATURAL_SOURCES`.

    The crop is scaled (mostly down, so the patch stays sharp), flipped and turned by a
    multiple of 90 degrees at random; grey sources get a random colour tint. A crop with more
    than 15 % flat 16 px blocks is re-drawn (source and window, up to 8 times, then the least
    flat one is kept).

    Args:
        rng: random generator. shape: (height, width) in pixels, each >= 4.

    Returns:
        H x W x 3 float32 in [0, 1].

    Example:
        >>> natural_texture(np.random.default_rng(1), (32, 32)).shape
        (32, 32, 3)
    """
    shape = _check(rng, shape)
    crops = []
    for _ in range(_NATURAL_TRIES):
        source = load_natural_source(NATURAL_SOURCES[rng.integers(len(NATURAL_SOURCES))])
        crops.append(_random_crop(rng, source, shape))
        if _flat_fraction(crops[-1]) < 0.15:
            break
    patch = min(crops, key=_flat_fraction)
    if patch.ndim == 2:
        patch = _palette(rng, 2)(patch)
    return _normalise(rng, patch)


def random_texture(
    rng: np.random.Generator, shape: tuple[int, int], *, natural_probability: float = 0.5
) -> np.ndarray:
    """A texture of a random kind: a natural patch with ``natural_probability``, else a procedural one.

    Args:
        rng: random generator.
        shape: (height, width) in pixels, each >= 4.
        natural_probability: chance in [0, 1] of a natural-image patch; the procedural kinds
            (noise, stripes, checkers, strokes) share the rest equally.

    Returns:
        H x W x 3 float32 in [0, 1].

    Example:
        >>> random_texture(np.random.default_rng(2), (16, 24), natural_probability=0.0).shape
        (16, 24, 3)
    """
    if not 0.0 <= natural_probability <= 1.0:
        raise InputError(f"natural_probability must be in [0, 1], got {natural_probability!r}")
    shape = _check(rng, shape)
    if rng.random() < natural_probability:
        return natural_texture(rng, shape)
    procedural = [name for name in TEXTURES if name != "natural"]
    return TEXTURES[procedural[rng.integers(len(procedural))]](rng, shape)


#: Every texture by name; each is ``(rng, (height, width)) -> H x W x 3 float32 in [0, 1]``.
TEXTURES: dict[str, Texture] = {
    "noise": noise_texture,
    "stripes": stripes_texture,
    "checkers": checkers_texture,
    "strokes": strokes_texture,
    "natural": natural_texture,
}


@lru_cache(maxsize=None)
def load_natural_source(name: str) -> np.ndarray:
    """Load (once, then cached) one of :data:`NATURAL_SOURCES` as float32 in [0, 1].

    Args:
        name: ``"skimage:<function>"`` or ``"matplotlib:<file>"``, one of :data:`NATURAL_SOURCES`.

    Returns:
        H x W (grey sources) or H x W x 3 (colour) float32 in [0, 1], read-only (shared by the cache).

    Example:
        >>> load_natural_source("skimage:brick").shape
        (512, 512)
    """
    if name not in NATURAL_SOURCES:
        raise InputError(f"unknown natural texture source {name!r}; choose one of {list(NATURAL_SOURCES)}")
    package, item = name.split(":")
    image = _load_skimage(item) if package == "skimage" else _load_matplotlib(item)
    image = image.astype(np.float32) / np.float32(255.0)
    image = image[..., :3] if image.ndim == 3 else image
    image.setflags(write=False)
    return image


def _load_skimage(item: str) -> np.ndarray:
    import skimage.data

    return np.asarray(getattr(skimage.data, item)())


def _load_matplotlib(item: str) -> np.ndarray:
    from matplotlib import cbook
    from PIL import Image

    with cbook.get_sample_data(item) as fh, Image.open(fh) as im:
        return np.asarray(im.convert("RGB"))


def _check(rng, shape) -> tuple[int, int]:
    if not isinstance(rng, np.random.Generator):
        raise InputError(f"rng must be a numpy.random.Generator (np.random.default_rng), got {type(rng).__name__}")
    try:
        height, width = (int(s) for s in shape)
    except (TypeError, ValueError):
        raise InputError(f"shape must be (height, width), got {shape!r}") from None
    if (height, width) != tuple(shape) or min(height, width) < _MIN_SIZE:
        raise InputError(f"shape must be two integers >= {_MIN_SIZE} (height, width in pixels), got {shape!r}")
    return height, width


def _fractal_noise(rng: np.random.Generator, shape: tuple[int, int], *, roughness: float) -> np.ndarray:
    """Sum of bicubic value-noise octaves at 1, 2, 4, ... px; amplitude ~ scale**(1 - roughness).

    Returns H x W float32 in [0, 1] (min-max normalised).
    """
    h, w = shape
    field = np.zeros(shape, np.float32)
    scale = 1
    while scale <= max(1, min(h, w) // 4):
        small = rng.random((h // scale + 3, w // scale + 3), dtype=np.float32)
        big = cv2.resize(small, (small.shape[1] * scale, small.shape[0] * scale), interpolation=cv2.INTER_CUBIC)
        oy, ox = rng.integers(0, scale, size=2) + scale
        field += scale ** (1.0 - roughness) * big[oy : oy + h, ox : ox + w]
        scale *= 2
    return (field - field.min()) / max(float(field.max() - field.min()), 1e-6)


def _palette(rng: np.random.Generator, count: int) -> Callable[[np.ndarray], np.ndarray]:
    """A random colour ramp: ``count`` colours of increasing brightness with random hues.

    The returned function maps an H x W field in [0, 1] to H x W x 3 colours (piecewise linear).
    """
    brightness = np.linspace(0.0, 1.0, count) + rng.uniform(-0.1, 0.1, count)
    colours = np.clip(brightness[:, None] + rng.uniform(-0.35, 0.35, (count, 3)), 0.0, 1.0)
    stops = np.linspace(0.0, 1.0, count)

    def apply(field: np.ndarray) -> np.ndarray:
        channels = [np.interp(field, stops, colours[:, c]) for c in range(3)]
        return np.stack(channels, axis=-1).astype(np.float32)

    return apply


def _with_grain(rng: np.random.Generator, image: np.ndarray) -> np.ndarray:
    """Add low-amplitude multi-scale grain (detail at every scale), then normalise contrast."""
    grain = _fractal_noise(rng, image.shape[:2], roughness=rng.uniform(0.6, 0.9))
    return _normalise(rng, image + rng.uniform(0.12, 0.25) * (grain[..., None] - 0.5))


def _normalise(rng: np.random.Generator, image: np.ndarray) -> np.ndarray:
    """Map luminance percentiles 1 and 99 to a random range [lo, hi] with lo ~ 0.02-0.15, hi ~ 0.85-0.98."""
    luminance = image.mean(axis=-1)
    p1, p99 = np.percentile(luminance, [1, 99])
    lo, hi = rng.uniform(0.02, 0.15), rng.uniform(0.85, 0.98)
    scaled = (image - p1) * ((hi - lo) / max(float(p99 - p1), 1e-3)) + lo
    return np.clip(scaled, 0.0, 1.0).astype(np.float32)


def _rotated_coordinates(rng: np.random.Generator, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Pixel coordinates (u, v) rotated by a random angle, H x W float32 each."""
    angle = rng.uniform(0.0, np.pi)
    y, x = np.indices(shape, dtype=np.float32)
    c, s = np.float32(np.cos(angle)), np.float32(np.sin(angle))
    return x * c + y * s, -x * s + y * c


def _draw_print(rng: np.random.Generator, coverage: np.ndarray) -> None:
    """Rows of random 'words' in random Hershey fonts, drawn in place into an 8-bit ink coverage map."""
    h, w = coverage.shape
    line = int(np.clip(rng.uniform(0.06, 0.25) * min(h, w), 6, 60))  # line height in pixels
    for baseline in range(int(rng.integers(line // 2, line + 1)), h + line, line):
        x = int(rng.integers(-line, line // 2 + 1))
        while x < w:
            text = "".join(rng.choice(list(_LETTERS), size=int(rng.integers(1, 8))))
            font = int(_FONTS[rng.integers(len(_FONTS))])
            size = cv2.getFontScaleFromHeight(font, int(line * rng.uniform(0.4, 0.8)))
            thickness = max(1, int(round(line * rng.uniform(0.03, 0.1))))
            cv2.putText(coverage, text, (x, baseline), font, size, _pressure(rng), thickness, cv2.LINE_AA)
            x += cv2.getTextSize(text, font, size, thickness)[0][0] + int(line * rng.uniform(0.2, 0.8))


def _draw_scribbles(rng: np.random.Generator, coverage: np.ndarray) -> None:
    """Random short polylines (random walks) and arcs, drawn in place; about one per 600 px^2."""
    h, w = coverage.shape
    size = max(4.0, 0.08 * min(h, w))  # typical stroke extent in pixels
    for _ in range(int(rng.integers(1, 2 + h * w // 600))):
        thickness = int(rng.integers(1, 4))
        start = rng.uniform((-size, -size), (w + size, h + size))
        if rng.random() < 0.5:
            steps = rng.normal(0.0, size / 2, (int(rng.integers(2, 7)), 2))
            points = np.round(start + np.cumsum(steps, axis=0)).astype(np.int32)
            cv2.polylines(coverage, [points], False, _pressure(rng), thickness, cv2.LINE_AA)
        else:
            axes = tuple(int(a) for a in rng.uniform(2, size, 2))
            begin = rng.uniform(0, 360)
            centre = tuple(int(c) for c in start)
            arc = (centre, axes, rng.uniform(0, 180), begin, begin + rng.uniform(60, 300))
            cv2.ellipse(coverage, *arc, _pressure(rng), thickness, cv2.LINE_AA)


def _pressure(rng: np.random.Generator) -> int:
    """Ink coverage of one stroke, 160-255 (how dark the pen presses)."""
    return int(rng.integers(160, 256))


def _random_crop(rng: np.random.Generator, source: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Turn (k x 90 deg) and flip ``source``, crop a random window and resize it to ``shape``."""
    image = np.rot90(source, int(rng.integers(4)))
    image = image[:, ::-1] if rng.random() < 0.5 else image
    image = image[::-1] if rng.random() < 0.5 else image
    h, w = shape
    sh, sw = image.shape[:2]
    fits = max(h / sh, w / sw)  # zoom below which the crop would exceed the source
    zoom = rng.uniform(max(fits, 0.35), max(fits, 1.0))  # output px per source px; <= 1 keeps it sharp
    ch, cw = min(sh, max(1, round(h / zoom))), min(sw, max(1, round(w / zoom)))
    y, x = int(rng.integers(0, sh - ch + 1)), int(rng.integers(0, sw - cw + 1))
    crop = np.ascontiguousarray(image[y : y + ch, x : x + cw])
    interpolation = cv2.INTER_AREA if zoom < 1 else cv2.INTER_CUBIC
    return np.clip(cv2.resize(crop, (w, h), interpolation=interpolation), 0.0, 1.0)


def _flat_fraction(image: np.ndarray) -> float:
    """Fraction of (up to 16 x 16 px) blocks without fine detail.

    Detail is the mean absolute difference from a 2 px Gaussian blur of the luminance; a
    block is flat when it is below 1 % of the image's 1-99 percentile luminance range.
    """
    luminance = np.ascontiguousarray(image if image.ndim == 2 else image.mean(axis=-1), dtype=np.float32)
    detail = np.abs(luminance - cv2.GaussianBlur(luminance, (0, 0), 2.0, borderType=cv2.BORDER_REFLECT))
    h, w = detail.shape
    b = min(_FLAT_BLOCK, h, w)
    blocks = detail[: h - h % b, : w - w % b].reshape(h // b, b, w // b, b).mean(axis=(1, 3))
    spread = max(float(np.percentile(luminance, 99) - np.percentile(luminance, 1)), 1e-3)
    return float((blocks < 0.01 * spread).mean())
