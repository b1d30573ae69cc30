"""Scenes for the simulator: an all-in-focus image with metric ground-truth depth.

- :func:`procedural_scene`: a textured background surface (fronto-parallel, slanted or curved)
  with textured polygons and ellipses in front of it, composited far to near so that nearer
  shapes occlude farther ones; depths uniform in inverse depth within a range.
- :func:`scene_from_rgbd`: any RGB image with metric depth or disparity.
- :func:`load_middlebury2003`, :func:`load_tsukuba`, :func:`load_rgbd`: the RGB-D scenes of
  ``shared/data/rgbd`` in their published formats.

Masks are hard (not anti-aliased), so the image and the depth agree exactly at every edge.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ..errors import InputError
from ..io.images import read_image, read_image_native
from ..pixels import to_float_image
from .textures import random_texture


@dataclass
class Scene:
    """An all-in-focus image and its depth.

    Attributes:
        image: H x W x 3 float32 in [0, 1].
        depth_m: H x W float32 depth in metres, finite and > 0 everywhere.
        name: where the scene came from.
        valid: H x W bool, where ``depth_m`` is measured (False where it was filled in);
            ``None`` means everywhere.
    """

    image: np.ndarray
    depth_m: np.ndarray
    name: str = ""
    valid: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.image.ndim != 3 or self.image.shape[2] != 3:
            raise ValueError(f"scene image must be H x W x 3, got {self.image.shape}")
        if self.depth_m.shape != self.image.shape[:2]:
            raise ValueError(f"depth {self.depth_m.shape} does not match image {self.image.shape[:2]}")
        if not (np.isfinite(self.depth_m).all() and (self.depth_m > 0).all()):
            raise ValueError("scene depth must be finite and positive everywhere")
        if self.valid is not None and self.valid.shape != self.depth_m.shape:
            raise ValueError("valid mask must match the depth")


@dataclass
class Layer:
    """One surface of a procedural scene: where it is, its texture and its inverse depth."""

    mask: np.ndarray  # H x W bool
    texture: np.ndarray  # H x W x 3
    inverse_depth: np.ndarray  # H x W diopters (a plane: constant or slanted)
    kind: str = "surface"  # "background", "ellipse" or "polygon"


def composite_layers(background: Layer, layers: list[Layer]) -> tuple[np.ndarray, np.ndarray]:
    """Paint layers over the background in the order given (far to near) with a depth test.

    A layer covers a pixel only where it is at least as near (inverse depth >=) as what is
    there already, so a nearer surface always wins, also where slanted layers cross each
    other or the background, and whatever order they come in.

    Returns:
        (image H x W x 3, inverse depth H x W).
    """
    image = background.texture.copy()
    inverse = background.inverse_depth.copy()
    for layer in layers:
        wins = layer.mask & (layer.inverse_depth >= inverse)
        image[wins] = layer.texture[wins]
        inverse[wins] = layer.inverse_depth[wins]
    return image, inverse


def procedural_scene(
    rng: np.random.Generator,
    *,
    size: tuple[int, int] = (256, 256),
    depth_range_m: tuple[float, float] = (0.3, 3.0),
    num_shapes: tuple[int, int] = (3, 10),
    natural_probability: float = 0.5,
) -> Scene:
    """A random layered scene: textured background surface plus textured shapes in front.

    Args:
        rng: the only source of randomness (same state, same scene).
        size: (height, width) in pixels.
        depth_range_m: (near, far) metres; depths are drawn uniformly in inverse depth.
        num_shapes: inclusive range of the number of foreground shapes.
        natural_probability: chance that a texture is a natural-image patch.

    Example:
        >>> scene = procedural_scene(np.random.default_rng(0), size=(64, 64))
        >>> scene.image.shape, bool((scene.depth_m >= 0.3 - 1e-6).all() and (scene.depth_m <= 3.0 + 1e-6).all())
        ((64, 64, 3), True)
    """
    h, w = size
    near, far = depth_range_m
    if not 0 < near < far:
        raise ValueError(f"depth_range_m must be (near, far) with 0 < near < far, got {depth_range_m}")
    if min(size) < 8 or not 0 <= num_shapes[0] <= num_shapes[1]:
        raise ValueError(f"need size >= 8 px and 0 <= num_shapes[0] <= num_shapes[1], got {size}, {num_shapes}")
    background, layers = procedural_layers(rng, size=size, depth_range_m=depth_range_m, num_shapes=num_shapes,
                                           natural_probability=natural_probability)
    image, inverse = composite_layers(background, layers)
    inverse = np.clip(inverse, 1.0 / far, 1.0 / near)
    return Scene(image=image.astype(np.float32), depth_m=(1.0 / inverse).astype(np.float32), name="procedural")


def procedural_layers(rng: np.random.Generator, *, size: tuple[int, int], depth_range_m: tuple[float, float],
                      num_shapes: tuple[int, int], natural_probability: float) -> tuple[Layer, list[Layer]]:
    """The background and the foreground shapes of :func:`procedural_scene`, far to near."""
    h, w = size
    near, far = depth_range_m
    lo, hi = 1.0 / far, 1.0 / near  # diopters
    background = Layer(np.ones((h, w), bool), random_texture(rng, (h, w), natural_probability=natural_probability),
                       _background_surface(rng, (h, w), lo, lo + 0.35 * (hi - lo)), "background")
    count = int(rng.integers(num_shapes[0], num_shapes[1] + 1))
    # far to near: each new shape is in front of everything drawn before it
    placements = np.sort(rng.uniform(lo + 0.2 * (hi - lo), hi, size=count))
    return background, [_shape_layer(rng, (h, w), d, lo, hi, natural_probability) for d in placements]


def _background_surface(rng, shape, lo: float, hi: float) -> np.ndarray:
    """Inverse depth of the background: fronto-parallel, slanted or curved, within [lo, hi]."""
    h, w = shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    u, v = xx / max(w - 1, 1) - 0.5, yy / max(h - 1, 1) - 0.5
    kind = rng.choice(["plane", "slanted", "curved"], p=[0.25, 0.4, 0.35])
    if kind == "plane":
        return np.full(shape, rng.uniform(lo, hi), np.float32)
    angle = rng.uniform(0, 2 * np.pi)
    ramp = np.cos(angle) * u + np.sin(angle) * v  # in [-0.71, 0.71]
    if kind == "curved":
        ramp = ramp + rng.uniform(-1, 1) * (u * u + v * v) + 0.3 * np.sin(rng.uniform(2, 6) * u + rng.uniform(0, 6))
    ramp = (ramp - ramp.min()) / max(float(ramp.max() - ramp.min()), 1e-6)
    a, b = np.sort(rng.uniform(lo, hi, size=2))
    return (a + (b - a) * ramp).astype(np.float32)


def _shape_layer(rng, shape, inverse_depth: float, lo: float, hi: float, natural_probability: float) -> Layer:
    h, w = shape
    mask = np.zeros(shape, np.uint8)
    centre = np.array([rng.uniform(-0.1, 1.1) * w, rng.uniform(-0.1, 1.1) * h])
    radius = rng.uniform(0.08, 0.35) * min(h, w)
    if rng.random() < 0.5:
        axes = (max(1, int(radius)), max(1, int(radius * rng.uniform(0.3, 1.0))))
        cv2.ellipse(mask, tuple(int(c) for c in centre), axes, float(rng.uniform(0, 180)), 0, 360, 1, -1)
        kind = "ellipse"
    else:
        vertices = int(rng.integers(3, 9))
        angles = np.sort(rng.uniform(0, 2 * np.pi, vertices))
        radii = radius * rng.uniform(0.4, 1.0, vertices)
        points = centre + np.stack([np.cos(angles) * radii, np.sin(angles) * radii], axis=1)
        cv2.fillPoly(mask, [np.round(points).astype(np.int32)], 1)
        kind = "polygon"
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    tilt = rng.normal(0, 0.1 * (hi - lo), size=2) if rng.random() < 0.4 else np.zeros(2)
    plane = inverse_depth + tilt[0] * (xx - centre[0]) / w + tilt[1] * (yy - centre[1]) / h
    return Layer(mask.astype(bool), random_texture(rng, shape, natural_probability=natural_probability),
                 np.clip(plane, lo, hi).astype(np.float32), kind)


def scene_from_rgbd(
    image: np.ndarray,
    *,
    depth_m: np.ndarray | None = None,
    disparity: np.ndarray | None = None,
    depth_range_m: tuple[float, float] | None = None,
    valid: np.ndarray | None = None,
    name: str = "",
) -> Scene:
    """A scene from an RGB image and its metric depth or its disparity.

    Args:
        image: H x W x 3 (or H x W grey) uint8/uint16/float in [0, 1].
        depth_m: H x W metres; or
        disparity: H x W, any positive scale; mapped linearly in inverse depth onto
            ``depth_range_m`` (largest disparity -> near end, smallest -> far end).
        depth_range_m: (near, far) metres; required with ``disparity``.
        valid: H x W bool of measured pixels; non-finite or non-positive values are invalid too.
            Invalid pixels are filled by inpainting so rendering has a depth everywhere.

    Returns:
        :class:`Scene` whose ``valid`` marks the measured pixels.
    """
    rgb = to_float_image(image, name="RGB-D image")
    if rgb.ndim == 2:
        rgb = np.repeat(rgb[..., None], 3, axis=2)
    if (depth_m is None) == (disparity is None):
        raise InputError("give exactly one of depth_m and disparity")
    values = np.asarray(depth_m if depth_m is not None else disparity, dtype=np.float64)
    if values.shape != rgb.shape[:2]:
        raise InputError(f"depth/disparity of shape {values.shape} does not match the image {rgb.shape[:2]}")
    measured = np.isfinite(values) & (values > 0)
    if valid is not None:
        measured &= np.asarray(valid, bool)
    if measured.sum() < 2:
        raise InputError("the depth map has fewer than 2 valid pixels")
    if depth_m is not None:
        inverse = np.where(measured, 1.0 / np.where(measured, values, 1.0), 0.0)
    else:
        if depth_range_m is None:
            raise InputError("disparity needs depth_range_m=(near, far) to become metric depth")
        near, far = depth_range_m
        if not (np.isfinite([near, far]).all() and 0 < near < far):
            raise InputError(f"depth_range_m must be (near, far) metres with 0 < near < far, got {depth_range_m}")
        d_lo, d_hi = values[measured].min(), values[measured].max()
        t = (values - d_lo) / max(d_hi - d_lo, 1e-12)
        inverse = np.where(measured, 1.0 / far + t * (1.0 / near - 1.0 / far), 0.0)
    inverse = _inpaint(inverse, measured)
    return Scene(image=rgb, depth_m=(1.0 / inverse).astype(np.float32), name=name, valid=measured)


def _inpaint(inverse: np.ndarray, measured: np.ndarray) -> np.ndarray:
    """Fill unmeasured pixels of an inverse-depth map (OpenCV Telea inpainting on 16-bit levels)."""
    if measured.all():
        return inverse
    lo, hi = inverse[measured].min(), inverse[measured].max()
    span = max(hi - lo, 1e-12)
    levels = np.where(measured, (inverse - lo) / span * 65535, 0).astype(np.uint16)
    filled = cv2.inpaint(levels, (~measured).astype(np.uint8), 5, cv2.INPAINT_TELEA).astype(np.float64)
    out = lo + filled / 65535 * span
    return np.where(measured, inverse, np.clip(out, lo, hi))


def load_middlebury2003(folder: str | Path, *, view: int = 2, depth_range_m: tuple[float, float] = (0.5, 2.0)) -> Scene:
    """A Middlebury 2003 scene (cones, teddy): ``im{view}.png`` + ``disp{view}.pgm``.

    Disparity is the PGM value / 4 pixels; 0 means unknown.
    """
    folder = Path(folder)
    image = read_image(folder / f"im{view}.png")
    disparity = read_image_native(folder / f"disp{view}.pgm").astype(np.float64) / 4.0
    if disparity.ndim != 2:
        raise InputError(f"{folder / f'disp{view}.pgm'} must be a grey image")
    return scene_from_rgbd(image, disparity=disparity, depth_range_m=depth_range_m,
                           name=f"middlebury2003/{folder.name}")


def load_tsukuba(folder: str | Path, *, depth_range_m: tuple[float, float] = (0.5, 2.0)) -> Scene:
    """The Tsukuba scene: ``left.png`` + ``groundtruth.png`` (disparity x 16 in the grey level; 0 unknown)."""
    folder = Path(folder)
    image = read_image(folder / "left.png")
    truth = read_image_native(folder / "groundtruth.png")
    if truth.ndim == 3:  # palette or RGB file: the grey level is the same in every channel
        truth = truth[..., 0]
    disparity = truth.astype(np.float64) / 16.0
    return scene_from_rgbd(image, disparity=disparity, depth_range_m=depth_range_m, name=f"tsukuba/{folder.name}")


def load_rgbd(folder: str | Path, **kwargs) -> Scene:
    """Load an RGB-D scene folder in Middlebury 2003 (im2.png + disp2.pgm) or Tsukuba layout."""
    folder = Path(folder)
    if (folder / "im2.png").is_file() and (folder / "disp2.pgm").is_file():
        return load_middlebury2003(folder, **kwargs)
    if (folder / "left.png").is_file() and (folder / "groundtruth.png").is_file():
        return load_tsukuba(folder, **kwargs)
    raise InputError(f"{folder} is neither a Middlebury 2003 (im2.png + disp2.pgm) nor a Tsukuba "
                     "(left.png + groundtruth.png) folder")
