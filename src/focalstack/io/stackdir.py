"""A focal stack on disk: a folder of slices plus an optional ``stack.json`` sidecar.

Sidecar (all keys optional, unknown keys ignored)::

    {"files": ["slice_00.png", "slice_01.png"], "focus_positions": [0.5, 0.8], "unit": "m",
     "camera": {"focal_length_mm": 4.4, "f_number": 1.8, "pixel_pitch_um": 1.4}}

Focus information is taken from, in this order: the caller's ``focus_positions``, the
sidecar, the slices' focus distances in EXIF, maker notes or XMP (:mod:`.metadata`), and finally
the slice index (with a warning). Camera values: the sidecar's ``camera`` block, then the first
slice's metadata for the fields it leaves out. Slices are decoded lazily, one at a time, so a stack
of any length costs the memory of one slice.

Camera RAW files (:mod:`.raw`, the ``raw`` extra) are slices like any other. A shot saved both as
RAW and as JPEG/TIFF/... under the same name (RAW+JPEG) is read from the RAW file; without rawpy,
from the other file, with a warning.
"""

from __future__ import annotations

import functools
import json
import math
import warnings
from dataclasses import fields
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..pixels import resize_image, scaled_size
from ..stack import Camera, FocalStack
from ..units import check_unit
from .atomic import atomic_directory
from .exif import ExifInfo
from .images import IMAGE_SUFFIXES, image_header, read_image_native, to_float_image, write_image
from .metadata import camera_from_metadata, read_metadata
from .raw import ENCODINGS, is_raw, rawpy_available

SIDECAR = "stack.json"
DEFAULT_MAX_MEGAPIXELS = 100.0
_SENSOR_GEOMETRY = ("pixel_pitch_um", "sensor_width_mm")  # taken together from one source


class FocusInfoWarning(UserWarning):
    """Focus information was missing or unusable and a fallback was taken."""


def list_slices(folder: Path, sidecar: dict) -> list[Path]:
    """Slice files: the sidecar's ``files`` if given, else the folder's images sorted by name."""
    if "files" in sidecar:
        files = sidecar["files"]
        if not isinstance(files, list) or not all(isinstance(f, str) for f in files):
            raise InputError(f"{folder / SIDECAR}: 'files' must be a list of file names")
        paths = [folder / f for f in files]
        missing = [p.name for p in paths if not p.is_file()]
        if missing:
            raise InputError(f"{folder / SIDECAR} lists files that do not exist: {', '.join(missing)}")
        return paths
    return _one_file_per_shot(sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES))


def _one_file_per_shot(paths: list[Path]) -> list[Path]:
    """Of shots saved as RAW and as another image with the same name, keep the RAW file (without rawpy,
    the other one, with a warning)."""
    raw_stems = {p.stem for p in paths if is_raw(p)}
    twins = {p.stem for p in paths if not is_raw(p) and p.stem in raw_stems}
    if not twins:
        return paths
    if rawpy_available():
        return [p for p in paths if is_raw(p) or p.stem not in twins]
    warnings.warn(f"{len(twins)} shot(s) are saved both as camera RAW and as another image; reading the other "
                  f"images, as reading RAW needs rawpy (pip install focalstack[raw])", UserWarning, stacklevel=3)
    return [p for p in paths if not is_raw(p) or p.stem not in twins]


def read_sidecar(folder: Path) -> dict:
    """The parsed ``stack.json`` of a folder, or ``{}`` when there is none."""
    path = folder / SIDECAR
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"cannot read {path}: {exc}") from None
    if not isinstance(data, dict):
        raise InputError(f"{path} must hold a JSON object")
    return data


def read_stack(
    folder: str | Path,
    *,
    focus_positions: list[float] | None = None,
    unit: str | None = None,
    scale: float = 1.0,
    max_megapixels: float = DEFAULT_MAX_MEGAPIXELS,
    raw: str = "srgb",
) -> FocalStack:
    """Open a folder of slices as a lazily decoded :class:`FocalStack`.

    Args:
        folder: directory holding the slices (PNG, JPEG, TIFF 8/16-bit or float, WebP, BMP,
            camera RAW with the ``raw`` extra) and optionally ``stack.json``.
        focus_positions: one focus position per slice, in file order; overrides the
            sidecar and the files' metadata (EXIF, maker notes, XMP).
        unit: unit of ``focus_positions`` (``"m"``, ``"diopter"``, ``"disparity"``,
            ``"index"``); required with ``focus_positions``. ``unit="index"`` alone
            ignores all focus information.
        scale: resize factor applied to every slice on decoding (0 < scale <= 1); the camera's
            pixel pitch is that of the resized slices (the file's divided by ``scale``).
        max_megapixels: refuse slices larger than this (after ``scale``).
        raw: how camera RAW slices are demosaiced: ``"srgb"`` (the sRGB tone curve, as the other
            formats; the default) or ``"linear"`` (proportional to light); see :mod:`.raw`.

    Returns:
        A :class:`FocalStack` (near to far) whose slices are decoded on access; it also
        carries ``bit_depth`` (8, 16 or 32) of the source files, ``encoding`` (``"linear"`` for
        RAW read linearly, else ``"srgb"``) and ``sources`` (where the focus positions and each
        camera value came from: ``"argument"``, ``"stack.json"``, ``"EXIF SubjectDistance"``, ...).

    Raises:
        InputError: with one sentence naming the problem (missing folder, no images,
            unreadable or mismatched files, bad focus positions, image too large).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"{folder} is not a folder" if folder.exists() else f"{folder} does not exist")
    if not (0 < scale <= 1):
        raise InputError(f"scale must be in (0, 1], got {scale}")
    if raw not in ENCODINGS:
        raise InputError(f"raw must be one of {', '.join(ENCODINGS)}, got {raw!r}")
    sidecar = read_sidecar(folder)
    paths = list_slices(folder, sidecar)
    if len(paths) < 2:
        raise InputError(f"{folder} holds {len(paths)} image(s); a focal stack needs at least 2")
    headers = [image_header(p) for p in paths]
    shapes = [_scaled_shape(h, scale) for h in headers]
    _check_size(paths[0], shapes[0], max_megapixels)
    metadata = functools.cache(lambda i: read_metadata(paths[i]))
    positions, unit, focus_source = _focus_info(folder, paths, sidecar, focus_positions, unit, metadata)
    camera, sources = _camera(folder, sidecar, metadata, headers[0])
    stack = FocalStack.from_loader(
        _SliceLoader(paths, scale, raw), shapes, positions, unit=unit,
        camera=camera.scaled(scale) if camera is not None else None, names=[p.name for p in paths],
        bit_depth=max(h.bit_depth for h in headers),
    )
    stack.scale, stack.sources = scale, {"focus_positions": focus_source, **sources}
    stack.encoding = "linear" if raw == "linear" and any(is_raw(p) for p in paths) else "srgb"
    return stack


def parse_focus_positions(text: str) -> list[float]:
    """Focus positions from text: ``"P1,P2,..."`` or ``"@FILE"`` (numbers separated by commas, spaces or
    new lines), as ``focalstack depth --focus-positions`` takes them.

    Example:
        >>> parse_focus_positions("0.3, 0.5,0.8")
        [0.3, 0.5, 0.8]
    """
    if text.startswith("@"):
        try:
            text = Path(text[1:]).read_text()
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"cannot read focus positions from {text[1:]}: {exc.strerror or exc}") from None
        parts = text.replace(",", " ").split()
    else:
        parts = text.replace(" ", "").split(",")
    try:
        return [float(part) for part in parts]
    except ValueError:
        raise InputError(f"--focus-positions must be comma-separated numbers, got {text!r}") from None


def write_stack(stack: FocalStack, folder: str | Path, *, overwrite: bool = False, extra: dict | None = None) -> Path:
    """Write a stack as a folder :func:`read_stack` reads back: PNG slices (16-bit when the source had
    more than 8 bits) named after the stack's slice names, and a ``stack.json`` with the files, focus
    positions, unit, camera and the ``extra`` keys. Atomic: the whole folder or nothing.

    Example:
        >>> import tempfile
        >>> stack = FocalStack(np.random.rand(2, 8, 8).astype(np.float32), [0.5, 1.0], unit="m")
        >>> out = write_stack(stack, Path(tempfile.mkdtemp()) / "copy")
        >>> read_stack(out).focus_positions
        array([0.5, 1. ])
    """
    bit_depth = 8 if stack.bit_depth == 8 else 16
    files = _png_names(stack.names)
    sidecar = {"files": files, "focus_positions": [float(p) for p in stack.focus_positions], "unit": stack.unit}
    if stack.camera is not None:
        sidecar["camera"] = stack.camera.to_dict()
    with atomic_directory(folder, overwrite=overwrite) as tmp:
        for name, image in zip(files, stack):
            write_image(tmp / name, image, bit_depth=bit_depth)
        (tmp / SIDECAR).write_text(json.dumps({**sidecar, **(extra or {})}, indent=1) + "\n")
    return Path(folder)


def _png_names(names: list[str]) -> list[str]:
    stems = [Path(n).stem or "slice" for n in names]
    if len(set(stems)) < len(stems):
        stems = [f"{k:03d}_{stem}" for k, stem in enumerate(stems)]
    return [f"{stem}.png" for stem in stems]


class _SliceLoader:
    """Decodes slice ``i`` to float32 [0, 1], resized by ``scale`` (picklable for workers)."""

    def __init__(self, paths: list[Path], scale: float, raw: str = "srgb") -> None:
        self.paths, self.scale, self.raw = paths, scale, raw

    def __call__(self, i: int) -> np.ndarray:
        image = read_image_native(self.paths[i], raw=self.raw)
        return resize_image(to_float_image(image, name=f"image {self.paths[i]}"), self.scale)


def _scaled_shape(header, scale: float) -> tuple[int, ...]:
    h, w = scaled_size(header.height, header.width, scale)
    return (h, w) if header.channels == 1 else (h, w, 3)


def _check_size(path: Path, shape: tuple[int, ...], max_megapixels: float) -> None:
    megapixels = shape[0] * shape[1] / 1e6
    if megapixels > max_megapixels:
        raise InputError(
            f"{path.name} is {shape[1]}x{shape[0]} ({megapixels:.0f} MP), above the limit of "
            f"{max_megapixels:g} MP; downscale with --scale or raise --max-megapixels"
        )


def _focus_info(folder, paths, sidecar, positions, unit, metadata) -> tuple[np.ndarray | None, str, str]:
    if positions is not None:
        if unit is None:
            raise InputError("focus positions were given without a unit; add --unit m|diopter|disparity|index")
        return _as_positions(positions, len(paths), "the given focus positions"), check_unit(unit), "argument"
    if unit == "index":
        return None, "index", "none (unit 'index' asked for)"
    if unit is not None:
        raise InputError(f"--unit {unit} needs --focus-positions (only 'index' works without them)")
    if "focus_positions" in sidecar:
        where = str(folder / SIDECAR)
        sidecar_unit = sidecar.get("unit")
        if sidecar_unit is None:
            raise InputError(f"{where} gives focus_positions without a 'unit'")
        try:
            check_unit(sidecar_unit)
        except ValueError as exc:
            raise InputError(f"{where}: {exc}") from None
        return _as_positions(sidecar["focus_positions"], len(paths), where), sidecar_unit, SIDECAR
    return _metadata_focus([metadata(i) for i in range(len(paths))])


def _as_positions(values, n: int, where: str) -> np.ndarray:
    if not isinstance(values, (list, tuple, np.ndarray)):
        raise InputError(f"{where}: focus positions must be a list of numbers")
    try:
        positions = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError(f"{where}: focus positions must be numbers, got {list(values)!r}") from None
    if positions.ndim != 1 or positions.size != n:
        raise InputError(f"{where}: {positions.size} focus positions for {n} slices; give one per slice")
    return positions


def _metadata_focus(infos: list[ExifInfo]) -> tuple[np.ndarray | None, str, str]:
    distances = [info.focus_distance_m for info in infos]
    usable = all(d is not None and math.isfinite(d) for d in distances)
    if usable and len(set(distances)) == len(distances):
        sources = sorted({info.sources["focus_distance_m"] for info in infos})
        return np.asarray(distances, dtype=np.float64), "m", ", ".join(sources)
    reason = "no focus information (no stack.json, no --focus-positions, no focus distance in EXIF, maker notes or XMP)"
    if usable:
        reason = "the focus distances in the files' metadata repeat"
    elif any(d is not None for d in distances):
        reason = (f"only {sum(d is not None and math.isfinite(d) for d in distances)} of {len(distances)} slices "
                  "record a finite focus distance")
    warnings.warn(f"{reason}; using the slice index as depth (unit 'index')", FocusInfoWarning, stacklevel=3)
    return None, "index", "none found"


def _camera(folder: Path, sidecar: dict, metadata, header) -> tuple[Camera | None, dict[str, str]]:
    """The sidecar's camera block, completed field by field from the first slice's metadata (the pixel
    pitch and sensor width only when the block gives neither), and where each field came from."""
    given = _sidecar_camera(folder, sidecar)
    derived, derived_sources = camera_from_metadata(metadata(0), width_px=header.width, height_px=header.height)
    values, sources = dict(given), dict.fromkeys(given, SIDECAR)
    for name, value in (derived.to_dict() if derived is not None else {}).items():
        if name in values or (name in _SENSOR_GEOMETRY and any(g in given for g in _SENSOR_GEOMETRY)):
            continue
        values[name], sources[name] = value, derived_sources[name]
    return (Camera(**values) if values else None), sources


def _sidecar_camera(folder: Path, sidecar: dict) -> dict[str, float]:
    block = sidecar.get("camera")
    if block is None:
        return {}
    if not isinstance(block, dict):
        raise InputError(f"{folder / SIDECAR}: 'camera' must be a JSON object")
    known = {f.name for f in fields(Camera)}
    try:
        return Camera(**{k: float(v) for k, v in block.items() if k in known and v is not None}).to_dict()
    except (TypeError, ValueError) as exc:
        raise InputError(f"{folder / SIDECAR}: camera: {exc}") from None
