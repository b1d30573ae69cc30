"""Coloured point clouds from a depth map: back-projection and binary PLY files.

**Projection.** When the depth is metric (``m``, or ``diopter``, turned into metres as 1 / value)
and the focal length in pixels is known, pixels are back-projected through a pinhole camera with
the principal point at the image centre: pixel (column u, row v) at depth Z goes to
``x = (u - cx) Z / f``, ``y = (v - cy) Z / f``, ``z = Z`` with ``cx = (W - 1) / 2``, ``cy = (H - 1) / 2``
(OpenCV's camera frame: x right, y down, z forward, metres). The focal length f in pixels comes
from :class:`~focalstack.stack.Camera`:

- ``focal_length_mm`` / the pixel pitch (``Camera.pixel_pitch_for(W)``, from ``pixel_pitch_um`` or
  ``sensor_width_mm``), or else
- ``focal_length_35mm`` / 36 mm x W: the image width is taken to span the 36 mm width of the
  35 mm frame (exact for a 3:2 image that fills the sensor; approximate for crops).

Otherwise (``disparity``, ``index``, or no focal length) the cloud is **orthographic**:
``x = u``, ``y = v`` in pixels and ``z`` = the depth value in its unit. The file's comments say which.

**PLY.** Binary little-endian, one ``vertex`` element with ``float x, y, z`` and ``uchar red,
green, blue`` (what MeshLab, CloudCompare, Open3D and Blender read), written and read with NumPy.

Example:
    >>> import tempfile, os
    >>> cloud = depth_to_point_cloud(np.full((2, 3), 2.0, np.float32), np.ones((2, 3), np.float32), unit="m",
    ...                              camera=Camera(focal_length_mm=4.0, pixel_pitch_um=2.0))
    >>> cloud.projection.startswith("pinhole"), cloud.points[:, 2].tolist()
    (True, [2.0, 2.0, 2.0, 2.0, 2.0, 2.0])
    >>> path = os.path.join(tempfile.mkdtemp(), "points.ply")
    >>> write_ply(path, cloud)
    >>> read_ply(path).points.shape
    (6, 3)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..stack import Camera
from ..units import check_unit

FRAME_DIAGONAL_35MM = math.hypot(36.0, 24.0)  # 35 mm equivalents are defined on the diagonal (CIPA DC-008)
"""Width of the 35 mm film frame in millimetres (for ``focal_length_35mm``)."""

_VERTEX = np.dtype([("x", "<f4"), ("y", "<f4"), ("z", "<f4"), ("red", "u1"), ("green", "u1"), ("blue", "u1")])
_PLY_TYPES = {"char": "i1", "int8": "i1", "uchar": "u1", "uint8": "u1", "short": "<i2", "int16": "<i2",
              "ushort": "<u2", "uint16": "<u2", "int": "<i4", "int32": "<i4", "uint": "<u4", "uint32": "<u4",
              "float": "<f4", "float32": "<f4", "double": "<f8", "float64": "<f8"}
_VERTEX_PROPERTIES = ("float x", "float y", "float z", "uchar red", "uchar green", "uchar blue")


@dataclass
class PointCloud:
    """Points with colours.

    Attributes:
        points: P x 3 float32 (x, y, z): metres for a pinhole projection, else pixels and the depth unit.
        colors: P x 3 uint8 RGB.
        projection: how the points were made (``pinhole ...`` or ``orthographic ...``), one line.
        comments: further comment lines (e.g. read from a file).
    """

    points: np.ndarray
    colors: np.ndarray
    projection: str = ""
    comments: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.points)


def focal_length_px(camera: Camera | dict | None, width_px: int, height_px: int) -> tuple[float, str] | None:
    """The focal length in pixels of ``width_px`` x ``height_px`` images, and where it came from; None when
    unknown. From the 35 mm equivalent f35 the image diagonal spans the 35 mm frame's: f = f35 / 43.27 mm x
    sqrt(W^2 + H^2), the rule ``read_stack`` uses for the sensor width too."""
    camera = as_camera(camera)
    if camera is None:
        return None
    pitch_um = camera.pixel_pitch_for(width_px)
    if camera.focal_length_mm is not None and pitch_um is not None:
        return 1000.0 * camera.focal_length_mm / pitch_um, "focal length / pixel pitch"
    if camera.focal_length_35mm is not None:
        return (camera.focal_length_35mm / FRAME_DIAGONAL_35MM * math.hypot(width_px, height_px),
                "35 mm equivalent, image diagonal = 43.27 mm")
    return None


def depth_to_point_cloud(
    depth: np.ndarray,
    image: np.ndarray | None,
    *,
    unit: str,
    camera: Camera | dict | None = None,
    confidence: np.ndarray | None = None,
    min_confidence: float = 0.0,
) -> PointCloud:
    """One coloured point per pixel with a finite depth and ``confidence >= min_confidence``.

    Args:
        depth: H x W depth in ``unit``.
        image: H x W or H x W x 3 float in [0, 1] (the all-in-focus image) for the colours; None for grey.
        unit: the depth's unit; ``m`` and ``diopter`` are back-projected when the focal length is known.
        camera: a :class:`~focalstack.stack.Camera` or its ``to_dict()`` (``result.metadata["camera"]``).
        confidence: H x W in [0, 1], or None (keep every point).
        min_confidence: drop points whose confidence is below this (0 keeps all).

    Returns:
        A :class:`PointCloud`, row-major pixel order, with its ``projection`` line.
    """
    depth = _check_map(depth, "depth")
    keep = np.isfinite(depth)
    if confidence is not None:
        keep &= _check_map(confidence, "confidence", depth.shape) >= min_confidence
    rows, cols = np.nonzero(keep)
    values = depth[keep].astype(np.float64)
    focal = focal_length_px(camera, depth.shape[1], depth.shape[0]) if check_unit(unit) in ("m", "diopter") else None
    if focal is None:
        points, projection = np.stack([cols, rows, values], axis=1), _orthographic_line(unit)
    else:
        points, projection = _pinhole(rows, cols, values, depth.shape, unit, *focal)
    colors = _colors(image, depth.shape)[rows, cols] if rows.size else np.zeros((0, 3), np.uint8)
    finite = np.isfinite(points).all(axis=1)
    return PointCloud(points[finite].astype(np.float32), colors[finite], projection)


def write_ply(path: str | Path, cloud: PointCloud) -> None:
    """Write a binary little-endian PLY: ``float x y z``, ``uchar red green blue``, comments from the cloud."""
    vertices = np.empty(len(cloud), _VERTEX)
    for k, name in enumerate("xyz"):
        vertices[name] = cloud.points[:, k]
    for k, name in enumerate(("red", "green", "blue")):
        vertices[name] = cloud.colors[:, k]
    comments = [line for line in [cloud.projection, *cloud.comments] if line]
    header = ["ply", "format binary_little_endian 1.0", *(f"comment {line}" for line in comments),
              f"element vertex {len(cloud)}",
              *(f"property {p}" for p in _VERTEX_PROPERTIES), "end_header"]
    with open(path, "wb") as fh:
        fh.write(("\n".join(header) + "\n").encode("ascii"))
        fh.write(vertices.tobytes())


def read_ply(path: str | Path) -> PointCloud:
    """Read a binary little-endian PLY with one ``vertex`` element (x, y, z and optional red, green, blue).

    Raises:
        InputError: missing file, ASCII or big-endian PLY, other elements, or truncated data.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"cannot read {path}: no such file")
    with open(path, "rb") as fh:
        dtype, count, comments = _read_ply_header(fh, path)
        vertices = np.fromfile(fh, dtype=dtype, count=count)
    if vertices.size != count:
        raise InputError(f"{path} is truncated: {vertices.size} of {count} vertices")
    points = np.stack([vertices[n] for n in "xyz"], axis=1).astype(np.float32)
    has_color = all(n in dtype.names for n in ("red", "green", "blue"))
    colors = (np.stack([vertices[n] for n in ("red", "green", "blue")], axis=1).astype(np.uint8) if has_color
              else np.full((count, 3), 255, np.uint8))
    projection = next((c for c in comments if c.startswith(("pinhole", "orthographic"))), "")
    return PointCloud(points, colors, projection, [c for c in comments if c != projection])


def as_camera(camera: Camera | dict | None) -> Camera | None:
    """A :class:`Camera` from a Camera, its ``to_dict()`` (unknown keys ignored) or None."""
    if camera is None or isinstance(camera, Camera):
        return camera
    if not isinstance(camera, dict):
        raise InputError(f"camera must be a Camera or a dict of its fields, got {type(camera).__name__}")
    names = {f.name for f in fields(Camera)}
    return Camera(**{k: v for k, v in camera.items() if k in names})


def _pinhole(rows, cols, values, shape, unit, focal, source) -> tuple[np.ndarray, str]:
    with np.errstate(divide="ignore", invalid="ignore"):
        z = 1.0 / values if unit == "diopter" else values
    z = np.where(z > 0, z, np.nan)  # behind or at the camera: no point
    cy, cx = (shape[0] - 1) / 2, (shape[1] - 1) / 2
    points = np.stack([(cols - cx) * z / focal, (rows - cy) * z / focal, z], axis=1)
    line = (f"pinhole fx={focal:.6g} fy={focal:.6g} cx={cx:g} cy={cy:g} ({source}); "
            f"metres{' from diopters' if unit == 'diopter' else ''}; x right, y down, z forward")
    return points, line


def _orthographic_line(unit: str) -> str:
    why = "unit is not metric" if unit not in ("m", "diopter") else "focal length unknown"
    return f"orthographic ({why}): x = column, y = row in pixels, z = depth in {unit}"


def _colors(image: np.ndarray | None, shape: tuple[int, int]) -> np.ndarray:
    if image is None:
        return np.full((*shape, 3), 128, np.uint8)
    image = np.asarray(image, dtype=np.float32)
    if image.shape[:2] != shape or image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] != 3):
        raise InputError(f"the image for the colours has shape {image.shape}; expected {shape} [x 3]")
    pixels = np.round(np.clip(image, 0, 1) * 255).astype(np.uint8)
    return np.repeat(pixels[..., None], 3, axis=2) if pixels.ndim == 2 else pixels


def _check_map(values: np.ndarray, name: str, shape: tuple[int, int] | None = None) -> np.ndarray:
    values = np.asarray(values)
    if values.ndim != 2 or (shape is not None and values.shape != shape):
        raise InputError(f"{name} must be H x W{f' = {shape}' if shape else ''}, got shape {values.shape}")
    return values


def _read_ply_header(fh, path: Path) -> tuple[np.dtype, int, list[str]]:
    if fh.readline().strip() != b"ply":
        raise InputError(f"{path} is not a PLY file")
    properties, comments, count, element = [], [], None, None
    for raw in iter(fh.readline, b""):
        words = raw.decode("ascii", "replace").split()
        if not words or words[0] == "obj_info":
            continue
        if words[0] == "end_header":
            break
        if words[0] == "comment":
            comments.append(raw.decode("ascii", "replace").strip()[len("comment "):])
        elif words[0] == "format" and words[1:2] != ["binary_little_endian"]:
            raise InputError(f"{path}: only binary_little_endian PLY files are read, not {' '.join(words[1:2])}")
        elif words[0] == "element":
            if element is not None or words[1] != "vertex":
                raise InputError(f"{path}: only a single 'vertex' element is read, found {words[1]!r}")
            element, count = words[1], int(words[2])
        elif words[0] == "property":
            if words[1] == "list" or words[1] not in _PLY_TYPES:
                raise InputError(f"{path}: unsupported PLY property {' '.join(words[1:])!r}")
            properties.append((words[2], _PLY_TYPES[words[1]]))
    else:
        raise InputError(f"{path}: the PLY header has no end_header")
    names = [n for n, _ in properties]
    if count is None or not all(n in names for n in "xyz"):
        raise InputError(f"{path}: no vertex element with x, y, z")
    return np.dtype(properties), count, comments
