"""Scenes for the simulator: an all-in-focus image with metric ground-truth depth.

- :func:`procedural_scene`: a textured background surface (fronto-parallel, slanted or curved)
  with textured polygons and ellipses in front of it, composited far to near so that nearer
  shapes occlude farther ones; depths uniform in inverse depth within a range.
- :func:`dead_leaves_scene`: closer to real scenes: a background surface, 20-150 occluding
  discs, ellipses and polygons with dead-leaves (r^-3) sizes and their own textures (mostly
  natural-image patches) on fronto-parallel or slightly slanted planes, a few thin structures
  (wires, twigs) in front of what they cross, and sometimes texture-poor regions (walls, sky).
- :func:`scene_from_rgbd`: any RGB image with metric depth or disparity.
- :func:`load_middlebury2003`, :func:`load_tsukuba`, :func:`load_rgbd`: the RGB-D scenes of
  ``shared/data/rgbd`` in their published formats.

Masks are hard (not anti-aliased), so the image and the depth agree exactly at every edge.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
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
    """One surface of a procedural scene: where it is, its texture and its inverse depth.

    The arrays cover a window of the image whose top-left pixel is ``origin`` (row, column):
    the whole image by default, or just the surface's bounding box (cheaper for small shapes).
    """

    mask: np.ndarray  # h x w bool
    texture: np.ndarray  # h x w x 3
    inverse_depth: np.ndarray  # h x w diopters (a plane: constant or slanted)
    kind: str = "surface"  # "background", "disc", "ellipse", "polygon" or "thin"
    origin: tuple[int, int] = (0, 0)  # (row, column) of the window in the image

    def window(self) -> tuple[slice, slice]:
        """The (rows, columns) slices of the image that the layer's arrays cover."""
        (y, x), (h, w) = self.origin, self.mask.shape
        return slice(y, y + h), slice(x, x + w)


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
        _paint(image, inverse, layer)
    return image, inverse


def _paint(image: np.ndarray, inverse: np.ndarray, layer: Layer) -> None:
    """Paint one layer in place where it is at least as near as what ``inverse`` holds already."""
    rows, cols = layer.window()
    under, colour = inverse[rows, cols], image[rows, cols]  # views: writing them writes the image
    wins = layer.mask & (layer.inverse_depth >= under)
    colour[wins] = layer.texture[wins]
    under[wins] = layer.inverse_depth[wins]


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
    near, far = depth_range_m
    if not 0 < near < far:
        raise ValueError(f"depth_range_m must be (near, far) with 0 < near < far, got {depth_range_m}")
    if min(size) < 8 or not 0 <= num_shapes[0] <= num_shapes[1]:
        raise ValueError(f"need size >= 8 px and 0 <= num_shapes[0] <= num_shapes[1], got {size}, {num_shapes}")
    background, layers = procedural_layers(rng, size=size, depth_range_m=depth_range_m, num_shapes=num_shapes,
                                           natural_probability=natural_probability)
    return _composite_scene(background, layers, depth_range_m, "procedural")


def _composite_scene(background: Layer, layers: list[Layer], depth_range_m, name: str) -> Scene:
    """Composite the layers (far to near, depth test) into a scene with depth clipped to the range."""
    near, far = depth_range_m
    image, inverse = composite_layers(background, layers)
    inverse = np.clip(inverse, 1.0 / far, 1.0 / near)
    return Scene(image=image.astype(np.float32), depth_m=(1.0 / inverse).astype(np.float32), name=name)


def procedural_layers(rng: np.random.Generator, *, size: tuple[int, int], depth_range_m: tuple[float, float],
                      num_shapes: tuple[int, int], natural_probability: float) -> tuple[Layer, list[Layer]]:
    """The background and the foreground shapes of :func:`procedural_scene`, far to near."""
    h, w = size
    near, far = depth_range_m
    lo, hi = 1.0 / far, 1.0 / near  # diopters
    background = _background_layer(rng, (h, w), lo, hi, random_texture(rng, (h, w),
                                                                       natural_probability=natural_probability))
    count = int(rng.integers(num_shapes[0], num_shapes[1] + 1))
    # far to near: each new shape is in front of everything drawn before it
    placements = np.sort(rng.uniform(lo + 0.2 * (hi - lo), hi, size=count))
    return background, [_shape_layer(rng, (h, w), d, lo, hi, natural_probability) for d in placements]


def _background_layer(rng, shape, lo: float, hi: float, texture: np.ndarray) -> Layer:
    """The whole-image background layer: ``texture`` on a surface in the far 35 % of [lo, hi] diopters."""
    return Layer(np.ones(shape, bool), texture, _background_surface(rng, shape, lo, lo + 0.35 * (hi - lo)),
                 "background")


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
    """A whole-image layer: an ellipse or polygon of radius 8-35 % of the side, centred anywhere near the image."""
    h, w = shape
    centre = np.array([rng.uniform(-0.1, 1.1) * w, rng.uniform(-0.1, 1.1) * h])
    radius = rng.uniform(0.08, 0.35) * min(h, w)
    kind = "ellipse" if rng.random() < 0.5 else "polygon"
    mask = _shape_mask(rng, shape, centre, radius, kind)
    plane = _tilted_plane(rng, (slice(0, h), slice(0, w)), shape, centre, inverse_depth, lo, hi)
    return Layer(mask, random_texture(rng, shape, natural_probability=natural_probability), plane, kind)


def _shape_mask(rng, shape, centre: np.ndarray, radius: float, kind: str) -> np.ndarray:
    """Hard H x W bool mask of a ``"disc"``, random ``"ellipse"`` or random star-shaped ``"polygon"``.

    ``centre`` is (x, y) in pixels of the mask; every point of the shape is within ``radius`` px of it.
    """
    mask = np.zeros(shape, np.uint8)
    if kind == "polygon":
        vertices = int(rng.integers(3, 9))
        angles = np.sort(rng.uniform(0, 2 * np.pi, vertices))
        radii = radius * rng.uniform(0.4, 1.0, vertices)
        points = centre + np.stack([np.cos(angles) * radii, np.sin(angles) * radii], axis=1)
        cv2.fillPoly(mask, [np.round(points).astype(np.int32)], 1)
    else:
        minor = radius if kind == "disc" else radius * rng.uniform(0.3, 1.0)
        angle = 0.0 if kind == "disc" else float(rng.uniform(0, 180))
        axes = (max(1, int(radius)), max(1, int(minor)))
        cv2.ellipse(mask, tuple(int(c) for c in centre), axes, angle, 0, 360, 1, -1)
    return mask.astype(bool)


def _tilted_plane(rng, window: tuple[slice, slice], shape, centre: np.ndarray, inverse_depth: float,
                  lo: float, hi: float) -> np.ndarray:
    """Inverse depth (diopters) over ``window`` of an image of ``shape`` of a plane through ``centre`` (x, y px).

    Fronto-parallel, or (40 %) slightly slanted: a gradient of about 10 % of [lo, hi] per image side.
    Clipped to [lo, hi]; float32 of the window's shape.
    """
    h, w = shape
    yy, xx = np.mgrid[window].astype(np.float32)
    tilt = rng.normal(0, 0.1 * (hi - lo), size=2) if rng.random() < 0.4 else np.zeros(2)
    plane = inverse_depth + tilt[0] * (xx - centre[0]) / w + tilt[1] * (yy - centre[1]) / h
    return np.clip(plane, lo, hi).astype(np.float32)


def dead_leaves_scene(
    rng: np.random.Generator,
    *,
    size: tuple[int, int] = (256, 256),
    depth_range_m: tuple[float, float] = (0.3, 3.0),
    natural_probability: float = 0.7,
    flat_probability: float = 0.3,
    num_leaves: tuple[int, int] = (50, 300),
    num_thin: tuple[int, int] = (0, 6),
) -> Scene:
    """A dead-leaves scene: many occluding textured shapes of power-law sizes, thin structures, flat patches.

    Drawn far to near with a depth test (a nearer surface always wins):

    1. a background surface, fronto-parallel, slanted or curved, in the far 35 % of the inverse-depth range;
    2. ``num_leaves`` leaves: discs, ellipses and polygons of radius r with density ~ r^-3 between 2 % and
       40 % of the image side (the dead-leaves law), each with its own texture (a natural-image patch
       with ``natural_probability``) on a fronto-parallel or slightly slanted plane at an inverse depth
       uniform in the nearer 80 % of the range;
    3. ``num_thin`` thin structures 1-4 px wide (random walks, Bezier curves, branching twigs), each at
       its own depth in front of everything it crosses, in a colour contrasting with what is behind it;
    4. with ``flat_probability``, one or two texture-poor regions: the background or the leaves that
       show the most get a nearly uniform texture (a smooth gradient of a few % plus < 1 % noise), where
       depth from focus is ambiguous, as on real walls and skies.

    Masks are hard, so image and depth agree at every edge.

    Args:
        rng: the only source of randomness (same state, same scene).
        size: (height, width) in pixels, each >= 16.
        depth_range_m: (near, far) metres, 0 < near < far; inverse depths lie in [1/far, 1/near].
        natural_probability: chance in [0, 1] that a leaf's or the background's texture is a natural patch.
        flat_probability: chance in [0, 1] that the scene has texture-poor regions.
        num_leaves: inclusive range (>= 0) of the number of leaves.
        num_thin: inclusive range (>= 0) of the number of thin structures.

    Returns:
        :class:`Scene` named ``"dead_leaves"``: image H x W x 3 float32 in [0, 1], depth H x W float32 metres.

    Example:
        >>> scene = dead_leaves_scene(np.random.default_rng(0), size=(64, 64), depth_range_m=(0.5, 2.0))
        >>> scene.image.shape, bool((scene.depth_m >= 0.5 - 1e-6).all() and (scene.depth_m <= 2.0 + 1e-6).all())
        ((64, 64, 3), True)
    """
    _check_dead_leaves_arguments(rng, size, depth_range_m, natural_probability, flat_probability, num_leaves, num_thin)
    background, layers = _dead_leaves_layers(rng, size=(int(size[0]), int(size[1])), depth_range_m=depth_range_m,
                                             natural_probability=natural_probability,
                                             flat_probability=flat_probability, num_leaves=num_leaves,
                                             num_thin=num_thin)
    return _composite_scene(background, layers, depth_range_m, "dead_leaves")


def _check_dead_leaves_arguments(rng, size, depth_range_m, natural_probability, flat_probability,
                                 num_leaves, num_thin) -> None:
    """Raise :class:`InputError` (a ValueError) unless the arguments of :func:`dead_leaves_scene` make sense."""
    if not isinstance(rng, np.random.Generator):
        raise InputError(f"rng must be a numpy.random.Generator (np.random.default_rng), got {type(rng).__name__}")
    if not (isinstance(size, (tuple, list)) and len(size) == 2
            and all(isinstance(s, (int, np.integer)) and s >= 16 for s in size)):
        raise InputError(f"size must be (height, width), two integers >= 16 pixels, got {size!r}")
    near, far = depth_range_m
    if not (np.isfinite([near, far]).all() and 0 < near < far):
        raise InputError(f"depth_range_m must be (near, far) metres with 0 < near < far, got {depth_range_m!r}")
    for name, p in (("natural_probability", natural_probability), ("flat_probability", flat_probability)):
        if not 0.0 <= p <= 1.0:
            raise InputError(f"{name} must be in [0, 1], got {p!r}")
    for name, pair in (("num_leaves", num_leaves), ("num_thin", num_thin)):
        if not (isinstance(pair, (tuple, list)) and len(pair) == 2 and 0 <= pair[0] <= pair[1]):
            raise InputError(f"{name} must be (min, max) with 0 <= min <= max, got {pair!r}")


def _dead_leaves_layers(rng: np.random.Generator, *, size: tuple[int, int], depth_range_m: tuple[float, float],
                        natural_probability: float, flat_probability: float, num_leaves: tuple[int, int],
                        num_thin: tuple[int, int]) -> tuple[Layer, list[Layer]]:
    """The background and the layers (leaves far to near, then thin structures) of :func:`dead_leaves_scene`."""
    near, far = depth_range_m
    lo, hi = 1.0 / far, 1.0 / near  # diopters
    flat_background, flat_leaves = _flat_targets(rng, flat_probability)
    texture = (_flat_texture(rng, size) if flat_background
               else random_texture(rng, size, natural_probability=natural_probability))
    background = _background_layer(rng, size, lo, hi, texture)
    leaves = _leaf_layers(rng, size, lo, hi, int(rng.integers(num_leaves[0], num_leaves[1] + 1)),
                          natural_probability, flat_leaves)
    image, inverse = composite_layers(background, leaves)
    thin = []
    for _ in range(int(rng.integers(num_thin[0], num_thin[1] + 1))):
        thin.append(_thin_layer(rng, image, inverse, hi))
        _paint(image, inverse, thin[-1])  # the next one is in front of this one too where they cross
    return background, leaves + thin


def _flat_targets(rng, probability: float) -> tuple[bool, int]:
    """Which surfaces get texture-poor textures: (whether the background does, how many leaves do).

    With ``probability``, one or two of {the background, a leaf, another leaf}; else none.
    """
    if rng.random() >= probability:
        return False, 0
    chosen = rng.choice(3, size=int(rng.integers(1, 3)), replace=False)
    return bool((chosen == 0).any()), int((chosen > 0).sum())


def _leaf_layers(rng, shape, lo: float, hi: float, count: int, natural_probability: float,
                 flat_count: int) -> list[Layer]:
    """``count`` textured dead leaves, far to near; the ``flat_count`` most visible ones get flat textures."""
    radii = _dead_leaves_radii(rng, count, min(shape))
    placements = np.sort(rng.uniform(lo + 0.2 * (hi - lo), hi, size=count))  # far to near
    leaves = [_leaf_shape(rng, shape, radius, d, lo, hi) for radius, d in zip(radii, placements)]
    flat = _most_visible(leaves, shape, flat_count)
    textures = (_flat_texture(rng, leaf.mask.shape) if i in flat
                else _window_texture(rng, leaf.mask.shape, natural_probability) for i, leaf in enumerate(leaves))
    return [replace(leaf, texture=texture) for leaf, texture in zip(leaves, textures)]


def _most_visible(layers: list[Layer], shape, count: int) -> set[int]:
    """Indices of the ``count`` layers that show the most pixels when composited with a depth test."""
    owner, inverse = np.full((*shape, 1), -1, np.int32), np.full(shape, -np.inf, np.float32)
    for i, layer in enumerate(layers):  # paint each layer's index instead of its texture
        _paint(owner, inverse, replace(layer, texture=np.full((*layer.mask.shape, 1), i, np.int32)))
    shown = np.bincount(owner[owner >= 0], minlength=len(layers))
    return set(np.argsort(-shown, kind="stable")[:count].tolist())


def _dead_leaves_radii(rng, count: int, side: int) -> np.ndarray:
    """``count`` radii (px) with density ~ r^-3 between 2 % (at least 1 px) and 40 % of ``side``.

    Inverse-CDF sampling: F(r) = (r_min^-2 - r^-2) / (r_min^-2 - r_max^-2).

    Example:
        >>> r = _dead_leaves_radii(np.random.default_rng(0), 1000, 256)
        >>> bool(5.12 <= r.min() and r.max() <= 102.4 and np.median(r) < 8)
        True
    """
    r_min, r_max = max(1.0, 0.02 * side), 0.4 * side
    u = rng.random(count)
    return (r_min**-2 - u * (r_min**-2 - r_max**-2)) ** -0.5


def _leaf_shape(rng, shape, radius: float, inverse_depth: float, lo: float, hi: float) -> Layer:
    """One untextured leaf centred in the image, as a layer over its bounding box: a disc, ellipse or polygon."""
    h, w = shape
    centre = rng.uniform((0, 0), (w, h))  # (x, y) px
    window = _bounding_window(centre[None], radius, shape)
    origin = (window[0].start, window[1].start)
    box = (window[0].stop - origin[0], window[1].stop - origin[1])
    kind = ("disc", "ellipse", "polygon")[int(rng.integers(3))]
    mask = _shape_mask(rng, box, centre - (origin[1], origin[0]), radius, kind)
    plane = _tilted_plane(rng, window, shape, centre, inverse_depth, lo, hi)
    return Layer(mask, None, plane, kind, origin)


def _bounding_window(points: np.ndarray, reach: float, shape) -> tuple[slice, slice]:
    """(rows, columns) slices of the pixels within ``reach`` px of the box of ``points`` (N x 2, x y px).

    Clipped to the image of ``shape``; never empty when a point is inside the image.
    """
    h, w = shape
    x0, y0 = np.maximum(0, np.floor(points.min(axis=0) - reach)).astype(int)
    x1, y1 = np.minimum((w, h), np.ceil(points.max(axis=0) + reach) + 1).astype(int)
    return slice(int(y0), int(max(y1, y0 + 1))), slice(int(x0), int(max(x1, x0 + 1)))


def _window_texture(rng, box, natural_probability: float) -> np.ndarray:
    """A :func:`random_texture` of ``box`` (h, w) px; made at least 4 px a side (its minimum), then cropped."""
    h, w = box
    return random_texture(rng, (max(h, 4), max(w, 4)), natural_probability=natural_probability)[:h, :w]


def _flat_texture(rng, shape) -> np.ndarray:
    """A texture-poor H x W x 3 float32 texture in [0, 1]: a random colour, a smooth gradient, slight noise.

    The gradient spans about 1-8 % across the texture; the noise has a standard deviation of 0.2-0.6 %.

    Example:
        >>> flat = _flat_texture(np.random.default_rng(0), (32, 32))
        >>> flat.shape, bool(flat.std(axis=(0, 1)).max() < 0.03)
        ((32, 32, 3), True)
    """
    h, w = shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32) / np.float32(max(h, w))
    angle = rng.uniform(0, 2 * np.pi)
    ramp = np.float32(np.cos(angle)) * xx + np.float32(np.sin(angle)) * yy
    gradient = np.float32(rng.uniform(0.01, 0.06)) * (ramp - ramp.mean())
    noise = np.float32(rng.uniform(0.002, 0.006)) * rng.standard_normal((h, w, 3), dtype=np.float32)
    colour = rng.uniform(0.1, 0.9, 3).astype(np.float32)
    return np.clip(colour + gradient[..., None] + noise, 0.0, 1.0)


def _thin_layer(rng, image: np.ndarray, inverse: np.ndarray, hi: float) -> Layer:
    """A thin structure (1-4 px) in front of everything under it in ``inverse``, contrasting with ``image``."""
    shape = inverse.shape
    polylines = _thin_polylines(rng, shape)
    points = np.concatenate([p for p, _ in polylines])
    window = _bounding_window(points, max(width for _, width in polylines), shape)
    origin = (window[0].start, window[1].start)
    mask = _stroke_mask(polylines, origin, (window[0].stop - origin[0], window[1].stop - origin[1]))
    covered = float(inverse[window][mask].max())  # the start is inside the image, so the mask is not empty
    plane = np.full(mask.shape, rng.uniform(covered, max(covered, hi)), np.float32)
    texture = _contrasting_texture(rng, mask.shape, float(image[window][mask].mean()))
    return Layer(mask, texture, plane, "thin", origin)


def _stroke_mask(polylines: list[tuple[np.ndarray, int]], origin: tuple[int, int], box) -> np.ndarray:
    """Hard ``box`` (h, w) bool mask of polylines (x, y image px) of given widths, in the window at ``origin``.

    Each polyline is drawn 1 px wide (8-connected) and dilated (a square up to 3 px, a disc at 4 px),
    so it is ``width`` to ``width`` + 0.6 px wide in every direction; OpenCV's own thick lines come out
    1-2 px wider than asked.
    """
    mask = np.zeros(box, np.uint8)
    for line, width in polylines:
        stroke = np.zeros(box, np.uint8)
        cv2.polylines(stroke, [line - np.array([origin[1], origin[0]], np.int32)], False, 1, 1)
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE if width > 3 else cv2.MORPH_RECT, (width, width))
        mask |= cv2.dilate(stroke, kernel)
    return mask.astype(bool)


def _thin_polylines(rng, shape) -> list[tuple[np.ndarray, int]]:
    """One thin structure as pieces (polyline N x 2 int32 (x, y) px, width 1-4 px), starting inside the image.

    A random walk (a wire, a stem), a cubic Bezier curve (a cable), or a branch: a walk with 1-3
    thinner twigs forking from it.
    """
    h, w = shape
    side = min(h, w)
    start = rng.uniform((0, 0), (w - 1, h - 1))
    width = int(rng.integers(1, 5))
    kind = ("walk", "bezier", "branch")[int(rng.integers(3))]
    if kind == "bezier":
        return [(np.round(_bezier(rng, start, side)).astype(np.int32), width)]
    trunk = _random_walk(rng, start, int(rng.integers(6, 25)), max(4.0, rng.uniform(0.02, 0.06) * side))
    pieces = [(trunk, width)]
    for _ in range(int(rng.integers(1, 4)) if kind == "branch" else 0):
        fork = trunk[rng.integers(len(trunk))]
        twig = _random_walk(rng, fork, int(rng.integers(3, 10)), max(3.0, rng.uniform(0.01, 0.04) * side))
        pieces.append((twig, max(1, width - 1)))
    return [(np.round(line).astype(np.int32), t) for line, t in pieces]


def _random_walk(rng, start: np.ndarray, steps: int, step_px: float) -> np.ndarray:
    """(steps + 1) x 2 points (x, y px) from ``start``, steps of ``step_px`` whose heading drifts (0.25 rad a step)."""
    heading = rng.uniform(0, 2 * np.pi) + np.cumsum(rng.normal(0, 0.25, steps))
    moves = step_px * np.stack([np.cos(heading), np.sin(heading)], axis=1)
    return np.vstack([start, start + np.cumsum(moves, axis=0)])


def _bezier(rng, start: np.ndarray, side: float) -> np.ndarray:
    """48 x 2 points (x, y px) of a cubic Bezier curve from ``start`` with random control points ~ 0.35 side away."""
    controls = np.vstack([start, start + rng.normal(0, 0.35 * side, (3, 2))])
    t = np.linspace(0, 1, 48)[:, None]
    weights = ((1 - t) ** 3, 3 * (1 - t) ** 2 * t, 3 * (1 - t) * t**2, t**3)
    return sum(weight * point for weight, point in zip(weights, controls))


def _contrasting_texture(rng, shape, behind: float) -> np.ndarray:
    """H x W x 3 float32 in [0, 1]: a colour far in brightness from ``behind`` (0-1), plus a faint random texture."""
    level = rng.uniform(0.02, 0.3) if behind > 0.5 else rng.uniform(0.7, 0.98)
    colour = np.clip(level + rng.uniform(-0.15, 0.15, 3), 0.0, 1.0)
    detail = _window_texture(rng, shape, 0.5) - 0.5
    return np.clip(colour + rng.uniform(0.0, 0.3) * detail, 0.0, 1.0).astype(np.float32)


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
