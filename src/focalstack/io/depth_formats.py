"""Depth maps in the file formats other tools read, and the sharpest-slice index map.

Every writer takes an H x W depth map (float, in the unit of the focus positions; NaN or
infinity where there is no depth) and every reader gives it back as float32:

- ``pfm``: Portable Float Map (:mod:`focalstack.io.pfm`), exact;
- ``tiff``: single-channel float32 TIFF (tifffile), exact;
- ``exr``: OpenEXR, one float32 channel ``Z`` (the conventional depth channel) with a ``unit``
  header attribute (OpenEXR's own Python bindings), exact;
- ``png16``: 16-bit grey PNG with the text chunks ``depth_offset``, ``depth_scale`` and ``unit``:
  ``depth = depth_offset + depth_scale * value`` for values 1..65535; **value 0 means no depth**
  (NaN or infinity on writing, NaN on reading). The finite range [lo, hi] maps onto 1..65535, so the
  error is at most ``depth_scale / 2`` = (hi - lo) / 131068; a constant map has ``depth_scale`` 0.

:func:`slice_index_map` gives the fractional index of the sharpest slice (0 = nearest) per pixel.

Example:
    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "depth16.png")
    >>> write_depth_png16(path, np.array([[0.5, 1.5], [np.nan, 1.0]], np.float32), unit="m")
    >>> depth, unit = read_depth_png16(path)
    >>> depth.round(4).tolist(), unit
    ([[0.5, 1.5], [nan, 1.0]], 'm')
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import InputError
from ..stack import DepthResult
from ..units import check_unit, to_blur_coordinate
from .pfm import read_pfm, write_pfm

PNG16_INVALID = 0
"""The 16-bit PNG value that marks a pixel without depth (NaN or infinity)."""

_PNG16_TOP = 65535
_EXR_CHANNEL = "Z"


def write_depth_tiff(path: str | Path, depth: np.ndarray) -> None:
    """Write an H x W depth map as a single-channel float32 TIFF (zlib-compressed, NaN kept)."""
    import tifffile

    tifffile.imwrite(path, _check_depth(depth), compression="zlib")


def read_depth_tiff(path: str | Path) -> np.ndarray:
    """Read a single-channel float TIFF as H x W float32."""
    import tifffile

    try:
        depth = tifffile.imread(_existing(path))
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read {path}: {exc}") from None
    return _check_read(depth, path)


def write_depth_pfm(path: str | Path, depth: np.ndarray) -> None:
    """Write an H x W depth map as a little-endian grey PFM (``Pf``)."""
    write_pfm(path, _check_depth(depth))


def read_depth_pfm(path: str | Path) -> np.ndarray:
    """Read a grey PFM as H x W float32."""
    return _check_read(read_pfm(path), path)


def write_depth_exr(path: str | Path, depth: np.ndarray, *, unit: str) -> None:
    """Write an H x W depth map as a float32 OpenEXR with one channel ``Z`` and a ``unit`` attribute."""
    exr = require_openexr()
    header = {"compression": exr.ZIP_COMPRESSION, "type": exr.scanlineimage, "unit": check_unit(unit)}
    with exr.File(header, {_EXR_CHANNEL: _check_depth(depth)}) as image:
        image.write(str(path))


def read_depth_exr(path: str | Path) -> tuple[np.ndarray, str | None]:
    """Read the depth channel (``Z``, or the only channel) of an OpenEXR file.

    Returns:
        (H x W float32 depth, the ``unit`` attribute or None when the file has none).
    """
    exr = require_openexr()
    try:
        image = exr.File(str(_existing(path)), separate_channels=True)
        channels, header = image.channels(), image.header()
    except Exception as exc:  # noqa: BLE001 - OpenEXR raises several types for damaged files
        raise InputError(f"cannot read {path}: {exc}") from None
    if _EXR_CHANNEL not in channels and len(channels) != 1:
        raise InputError(f"{path} has channels {sorted(channels)}; expected a depth channel {_EXR_CHANNEL!r}")
    channel = channels.get(_EXR_CHANNEL) or next(iter(channels.values()))
    unit = header.get("unit")
    return _check_read(channel.pixels, path), unit if isinstance(unit, str) else None


def write_depth_png16(path: str | Path, depth: np.ndarray, *, unit: str) -> None:
    """Write an H x W depth map as a 16-bit grey PNG that :func:`read_depth_png16` restores.

    The finite depths' range [lo, hi] is spread over the values 1..65535 (``depth_scale`` =
    (hi - lo) / 65534, ``depth_offset`` = lo - ``depth_scale``), so that ``depth = depth_offset +
    depth_scale * value`` within ``depth_scale / 2``; NaN and infinite depths are written as 0
    (:data:`PNG16_INVALID`). The offset, scale and ``unit`` go into PNG ``tEXt`` chunks.
    """
    from PIL import Image, PngImagePlugin

    depth = _check_depth(depth).astype(np.float64)
    values, offset, scale = _quantise(depth)
    info = PngImagePlugin.PngInfo()
    for key, text in (("depth_offset", repr(offset)), ("depth_scale", repr(scale)), ("unit", check_unit(unit))):
        info.add_text(key, text)
    Image.fromarray(values).save(path, format="PNG", pnginfo=info)


def read_depth_png16(path: str | Path) -> tuple[np.ndarray, str]:
    """Read a depth map written by :func:`write_depth_png16` (or any 16-bit PNG with those chunks).

    Returns:
        (H x W float32 depth = ``depth_offset + depth_scale * value``, NaN where the value is 0;
        the ``unit`` chunk).

    Raises:
        InputError: missing file, not a 16-bit grey PNG, or missing / unparsable text chunks.
    """
    from PIL import Image

    try:
        with Image.open(_existing(path)) as image:
            mode, text, values = image.mode, dict(getattr(image, "text", {})), np.asarray(image)
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc}") from None
    if not mode.startswith("I;16"):
        raise InputError(f"{path} is not a 16-bit grey PNG (mode {mode})")
    offset, scale, unit = _png16_chunks(text, path)
    depth = (offset + scale * values.astype(np.float64)).astype(np.float32)
    depth[values == PNG16_INVALID] = np.nan
    return depth, unit


def slice_index_map(result: DepthResult) -> np.ndarray:
    """The fractional index of the sharpest slice per pixel (0 = nearest slice), H x W float32.

    The method's own ``slice_index`` when it has one (the classical pipeline's peak fit);
    otherwise the depth placed between the focus positions by linear interpolation in the blur
    coordinate (:func:`focalstack.units.to_blur_coordinate`), clamped to [0, N - 1]; NaN where the
    depth is not finite.
    """
    if result.slice_index is not None:
        return np.asarray(result.slice_index, dtype=np.float32)
    coords = to_blur_coordinate(np.asarray(result.focus_positions, np.float64), result.unit)
    with np.errstate(divide="ignore", invalid="ignore"):
        blur = to_blur_coordinate(np.asarray(result.depth, np.float64), result.unit)
    order = np.argsort(coords)  # np.interp needs increasing abscissae
    index = np.interp(blur, coords[order], np.arange(coords.size, dtype=np.float64)[order])
    index[~np.isfinite(result.depth)] = np.nan
    return index.astype(np.float32)


def _quantise(depth: np.ndarray) -> tuple[np.ndarray, float, float]:
    """uint16 values (0 = invalid), offset and scale of a float64 depth map."""
    valid = np.isfinite(depth)
    if not valid.any():
        return np.zeros(depth.shape, np.uint16), 0.0, 0.0
    lo, hi = float(depth[valid].min()), float(depth[valid].max())
    scale = (hi - lo) / (_PNG16_TOP - 1)
    offset = lo - scale
    values = np.ones(depth.shape, np.float64) if scale == 0 else np.round((depth - offset) / scale)
    values = np.where(valid, np.clip(values, 1, _PNG16_TOP), PNG16_INVALID)
    return values.astype(np.uint16), offset, scale


def _png16_chunks(text: dict, path) -> tuple[float, float, str]:
    missing = [k for k in ("depth_offset", "depth_scale", "unit") if k not in text]
    if missing:
        raise InputError(f"{path} lacks the PNG text chunks {', '.join(missing)}; it is not a focalstack depth PNG")
    try:
        offset, scale = float(text["depth_offset"]), float(text["depth_scale"])
    except ValueError:
        raise InputError(f"{path}: depth_offset / depth_scale are not numbers") from None
    if not (np.isfinite(offset) and np.isfinite(scale)):
        raise InputError(f"{path}: depth_offset / depth_scale must be finite")
    return offset, scale, text["unit"]


def require_openexr():
    """The ``OpenEXR`` module, or InputError saying how to install it."""
    try:
        import OpenEXR
    except ImportError:
        raise InputError("the exr format needs the OpenEXR package: pip install 'OpenEXR>=3.2'") from None
    return OpenEXR


def _check_depth(depth: np.ndarray) -> np.ndarray:
    depth = np.asarray(depth)
    if depth.ndim != 2 or depth.dtype.kind not in "fiu":
        raise InputError(f"a depth map is an H x W array of numbers, got shape {depth.shape} ({depth.dtype})")
    return np.ascontiguousarray(depth, dtype=np.float32)


def _check_read(depth: np.ndarray, path) -> np.ndarray:
    depth = np.asarray(depth)
    if depth.ndim != 2:
        raise InputError(f"{path} holds a {depth.shape} array, not an H x W depth map")
    return depth.astype(np.float32, copy=False)


def _existing(path: str | Path) -> Path:
    path = Path(path)
    if not path.is_file():
        raise InputError(f"cannot read {path}: no such file")
    return path
