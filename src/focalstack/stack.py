"""The data model: :class:`Camera`, :class:`FocalStack` and :class:`DepthResult`.

A focal stack is N >= 2 images of one scene, each focused at a different distance, with
one focus position per slice in a unit of :mod:`focalstack.units`. Slices are stored (or
decoded on demand) as float32 in [0, 1] and are always ordered near to far.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace

import numpy as np

from .errors import InputError
from .pixels import resize_image, scaled_size, to_float_image
from .units import check_unit, near_to_far_order, to_blur_coordinate

SliceLoader = Callable[[int], np.ndarray]


@dataclass(frozen=True)
class Camera:
    """Optional camera metadata; every field may be ``None`` when unknown.

    Attributes:
        focal_length_mm: lens focal length f in millimetres.
        f_number: aperture N (dimensionless, e.g. 1.8).
        pixel_pitch_um: size of one pixel on the sensor in micrometres.
        sensor_width_mm: sensor width in millimetres (gives the pitch with the image width).
        focal_length_35mm: 35 mm-equivalent focal length in millimetres.
    """

    focal_length_mm: float | None = None
    f_number: float | None = None
    pixel_pitch_um: float | None = None
    sensor_width_mm: float | None = None
    focal_length_35mm: float | None = None

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            if value is not None and not (math.isfinite(value) and value > 0):
                raise InputError(f"camera {name} must be a positive number, got {value!r}")

    def pixel_pitch_for(self, width_px: int) -> float | None:
        """Pixel pitch in micrometres, from ``pixel_pitch_um`` or the sensor width."""
        if self.pixel_pitch_um is not None:
            return self.pixel_pitch_um
        if self.sensor_width_mm is not None:
            return 1000.0 * self.sensor_width_mm / width_px
        return None

    def scaled(self, scale: float) -> Camera:
        """The camera of images resized by ``scale``: the pixel pitch grows by 1 / ``scale``; the lens
        and the sensor stay (a pitch derived from ``sensor_width_mm`` follows the image width anyway)."""
        if self.pixel_pitch_um is None or scale == 1:
            return self
        return replace(self, pixel_pitch_um=self.pixel_pitch_um / scale)

    def to_dict(self) -> dict:
        """Known fields only, as in the ``camera`` block of ``stack.json``."""
        return {k: v for k, v in asdict(self).items() if v is not None}


class FocalStack:
    """N >= 2 images of one scene focused at different distances, ordered near to far.

    Args:
        images: an N x H x W or N x H x W x C array, or a sequence of N arrays of shape
            H x W or H x W x C (C = 3 RGB; 1 or 4 are reduced), uint8, uint16 or float in
            [0, 1]. Converted to float32 in [0, 1] on construction.
        focus_positions: N finite, distinct focus positions in ``unit``; ``None`` means
            the slice index (``unit`` must then be ``"index"``).
        unit: ``"m"``, ``"diopter"``, ``"disparity"`` or ``"index"``.
        camera: optional :class:`Camera` metadata.
        names: optional N names (file names) used in messages and reports.

    Attributes:
        focus_positions: N focus positions in ``unit``, near to far.
        bit_depth: bit depth of the source pixels (8, 16, or 32 for float).
        scale: size of the slices relative to the source images (1, or the factor of
            :meth:`resized` / ``read_stack(scale=...)``).
        encoding: how pixel values relate to light: ``"srgb"`` (the sRGB tone curve, as ordinary
            photos; the default) or ``"linear"`` (proportional to light, e.g. RAW read with
            ``read_stack(raw="linear")``).
        sources: where the focus positions and camera values came from, by name
            (``{"focus_positions": "EXIF SubjectDistance", "f_number": "stack.json"}``;
            set by :func:`~focalstack.io.read_stack`, empty otherwise).

    Raises:
        InputError: fewer than two slices, unequal sizes, non-finite, duplicate, missing or
            (for metres) non-positive focus positions, NaN pixels.

    Example:
        >>> imgs = np.random.rand(3, 8, 8).astype(np.float32)
        >>> stack = FocalStack(imgs, [2.0, 0.5, 1.0], unit="m")
        >>> stack.focus_positions  # sorted near to far
        array([0.5, 1. , 2. ])
    """

    def __init__(
        self,
        images: np.ndarray | Sequence[np.ndarray],
        focus_positions: Sequence[float] | np.ndarray | None = None,
        *,
        unit: str = "index",
        camera: Camera | None = None,
        names: Sequence[str] | None = None,
    ) -> None:
        if isinstance(images, np.ndarray) and images.ndim in (3, 4):
            images = list(images)
        if isinstance(images, np.ndarray) or not isinstance(images, Sequence):
            raise InputError("images must be an N x H x W [x C] array or a sequence of H x W [x C] arrays")
        names = list(names) if names is not None else [f"slice {i}" for i in range(len(images))]
        if len(names) != len(images):
            raise InputError(f"got {len(names)} names for {len(images)} slices")
        self.bit_depth = max((_bit_depth(np.asarray(img).dtype) for img in images), default=8)
        self.scale = 1.0
        slices = [to_float_image(img, name=name) for img, name in zip(images, names)]
        shapes = [s.shape for s in slices]
        self._init(len(slices), shapes, slices.__getitem__, focus_positions, unit, camera, names)

    @classmethod
    def from_loader(
        cls,
        loader: SliceLoader,
        shapes: Sequence[tuple[int, ...]],
        focus_positions: Sequence[float] | np.ndarray | None = None,
        *,
        unit: str = "index",
        camera: Camera | None = None,
        names: Sequence[str] | None = None,
        bit_depth: int = 8,
    ) -> FocalStack:
        """A stack whose slices are decoded on demand, one at a time (constant memory).

        Args:
            loader: ``loader(i)`` returns slice ``i`` (original order) as float32 in [0, 1].
            shapes: the N slice shapes (from file headers), checked for equality now;
                decoded slices are checked against them again when loaded.
            bit_depth: bit depth of the source (8, 16, or 32 for float), for writing outputs.
        """
        stack = cls.__new__(cls)
        stack.bit_depth, stack.scale = bit_depth, 1.0
        names = list(names) if names is not None else [f"slice {i}" for i in range(len(shapes))]
        stack._init(len(shapes), [tuple(s) for s in shapes], loader, focus_positions, unit, camera, names)
        return stack

    def _init(self, n, shapes, loader, focus_positions, unit, camera, names) -> None:
        check_unit(unit)
        if n < 2:
            raise InputError(f"a focal stack needs at least 2 slices, got {n}")
        if len(names) != n:
            raise InputError(f"got {len(names)} names for {n} slices")
        for shape, name in zip(shapes[1:], names[1:]):
            if shape != shapes[0]:
                raise InputError(
                    f"{name} has size {_size(shape)} but {names[0]} has {_size(shapes[0])}; all slices must match"
                )
        positions = _check_positions(focus_positions, n, unit)
        order = near_to_far_order(positions, unit)
        self._loader, self._order = loader, order
        self._shape = tuple(shapes[0])
        self.focus_positions = positions[order]
        self.unit = unit
        self.camera = camera
        self.names = [names[i] for i in order]
        self.encoding, self.sources = "srgb", {}

    def __len__(self) -> int:
        return len(self._order)

    def __getitem__(self, k: int) -> np.ndarray:
        """Slice ``k`` (near to far order) as float32 in [0, 1], H x W or H x W x 3."""
        if not -len(self) <= k < len(self):
            raise IndexError(f"slice {k} out of range for a stack of {len(self)}")
        image = self._loader(int(self._order[k]))
        if image.shape != self._shape:
            raise InputError(f"{self.names[k]} decoded to size {_size(image.shape)}, expected {_size(self._shape)}")
        return image

    def __iter__(self):
        return (self[k] for k in range(len(self)))

    @property
    def shape(self) -> tuple[int, int]:
        """(height, width) of every slice in pixels."""
        return self._shape[:2]

    @property
    def channels(self) -> int:
        """1 for grey, 3 for RGB."""
        return 1 if len(self._shape) == 2 else self._shape[2]

    @property
    def blur_coordinates(self) -> np.ndarray:
        """Focus positions in the coordinate where blur is linear (diopters for metres)."""
        return to_blur_coordinate(self.focus_positions, self.unit)

    def resized(self, scale: float) -> FocalStack:
        """The stack with every slice resized by ``scale`` (0 < scale <= 1, area averaging), decoded on
        demand like this one; the camera's pixel pitch follows (:meth:`Camera.scaled`).

        Example:
            >>> stack = FocalStack(np.random.rand(2, 8, 10).astype(np.float32), [0.5, 1.0], unit="m",
            ...                    camera=Camera(pixel_pitch_um=2.0))
            >>> half = stack.resized(0.5)
            >>> half.shape, half.camera.pixel_pitch_um, half.scale
            ((4, 5), 4.0, 0.5)
        """
        if not (isinstance(scale, (int, float)) and 0 < scale <= 1):
            raise InputError(f"scale must be in (0, 1], got {scale!r}")
        if scale == 1:
            return self
        shape = (*scaled_size(*self.shape, scale), *self._shape[2:])
        stack = FocalStack.from_loader(
            lambda k: resize_image(self[k], scale), [shape] * len(self), self.focus_positions, unit=self.unit,
            camera=self.camera.scaled(scale) if self.camera is not None else None, names=self.names,
            bit_depth=self.bit_depth)
        stack.scale, stack.encoding, stack.sources = self.scale * scale, self.encoding, self.sources
        return stack

    def to_array(self) -> np.ndarray:
        """All slices as one N x H x W [x 3] float32 array (costs N slices of memory)."""
        return np.stack(list(self))

    def __repr__(self) -> str:
        h, w = self.shape
        return f"FocalStack(n={len(self)}, size={w}x{h}, channels={self.channels}, unit={self.unit!r})"


@dataclass
class DepthResult:
    """What a depth-from-focus method returns.

    Attributes:
        depth: H x W float32, in ``unit`` (the unit of the stack's focus positions).
        all_in_focus: H x W [x 3] float32 in [0, 1].
        confidence: H x W float32 in [0, 1]; 0 = no information, 1 = a clean focus peak.
        unit: the unit of ``depth``.
        focus_positions: the stack's focus positions, near to far.
        slice_index: H x W float32, fractional index of the in-focus slice (0 = nearest).
        timings: seconds per stage (``decode``, ``focus_measure``, ``fusion``, ...).
        method: name of the method that produced it.
        parameters: the method's parameters, for reports.
        metadata: how the input was prepared (``scale``, ``camera``, ``alignment``; set by
            :func:`focalstack.estimate_depth`), written to ``result.json``.
    """

    depth: np.ndarray
    all_in_focus: np.ndarray
    confidence: np.ndarray
    unit: str
    focus_positions: np.ndarray
    slice_index: np.ndarray | None = None
    timings: dict[str, float] = field(default_factory=dict)
    method: str = ""
    parameters: dict = field(default_factory=dict)
    metadata: dict = field(default_factory=dict)


def _check_positions(focus_positions, n: int, unit: str) -> np.ndarray:
    if focus_positions is None:
        if unit != "index":
            raise InputError(f"focus positions are missing for unit {unit!r}")
        return np.arange(n, dtype=np.float64)
    try:
        positions = np.asarray(focus_positions, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise InputError(f"focus positions must be numbers, got {focus_positions!r}") from None
    if positions.size != n:
        raise InputError(f"got {positions.size} focus positions for {n} slices; give one per slice")
    if not np.isfinite(positions).all():
        raise InputError(f"focus positions must be finite, got {positions.tolist()}")
    if unit == "m" and (positions <= 0).any():
        raise InputError(f"focus distances in metres must be positive, got {positions.tolist()}")
    values, counts = np.unique(positions, return_counts=True)
    if (counts > 1).any():
        raise InputError(f"duplicate focus positions: {values[counts > 1].tolist()}; each slice needs its own")
    return positions


def _bit_depth(dtype: np.dtype) -> int:
    return 32 if dtype.kind == "f" else 16 if dtype == np.uint16 else 8


def _size(shape: tuple[int, ...]) -> str:
    text = f"{shape[1]}x{shape[0]}"
    return text + (f"x{shape[2]}" if len(shape) == 3 else "")
