"""A focal stack on disk: a folder of slices plus an optional ``stack.json`` sidecar.

Sidecar (all keys optional, unknown keys ignored)::

    {"files": ["slice_00.png", "slice_01.png"], "focus_positions": [0.5, 0.8], "unit": "m",
     "camera": {"focal_length_mm": 4.4, "f_number": 1.8, "pixel_pitch_um": 1.4}}

Focus information is taken from, in this order: the caller's ``focus_positions``, the
sidecar, the slices' EXIF focus distance, and finally the slice index (with a warning).
Slices are decoded lazily, one at a time, so a stack of any length costs the memory of
one slice.
"""

from __future__ import annotations

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
from .exif import read_exif
from .images import IMAGE_SUFFIXES, image_header, read_image_native, to_float_image, write_image

SIDECAR = "stack.json"
DEFAULT_MAX_MEGAPIXELS = 100.0


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
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


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
) -> FocalStack:
    """Open a folder of slices as a lazily decoded :class:`FocalStack`.

    Args:
        folder: directory holding the slices (PNG, JPEG, TIFF 8/16-bit or float) and
            optionally ``stack.json``.
        focus_positions: one focus position per slice, in file order; overrides the
            sidecar and EXIF.
        unit: unit of ``focus_positions`` (``"m"``, ``"diopter"``, ``"disparity"``,
            ``"index"``); required with ``focus_positions``. ``unit="index"`` alone
            ignores all focus information.
        scale: resize factor applied to every slice on decoding (0 < scale <= 1); the camera's
            pixel pitch is that of the resized slices (the file's divided by ``scale``).
        max_megapixels: refuse slices larger than this (after ``scale``).

    Returns:
        A :class:`FocalStack` (near to far) whose slices are decoded on access; it also
        carries ``bit_depth`` (8, 16 or 32) of the source files.

    Raises:
        InputError: with one sentence naming the problem (missing folder, no images,
            unreadable or mismatched files, bad focus positions, image too large).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"{folder} is not a folder" if folder.exists() else f"{folder} does not exist")
    if not (0 < scale <= 1):
        raise InputError(f"scale must be in (0, 1], got {scale}")
    sidecar = read_sidecar(folder)
    paths = list_slices(folder, sidecar)
    if len(paths) < 2:
        raise InputError(f"{folder} holds {len(paths)} image(s); a focal stack needs at least 2")
    headers = [image_header(p) for p in paths]
    shapes = [_scaled_shape(h, scale) for h in headers]
    _check_size(paths[0], shapes[0], max_megapixels)
    positions, unit = _focus_info(folder, paths, sidecar, focus_positions, unit)
    camera = _camera(folder, paths, sidecar)
    stack = FocalStack.from_loader(
        _SliceLoader(paths, scale), shapes, positions, unit=unit,
        camera=camera.scaled(scale) if camera is not None else None, names=[p.name for p in paths],
        bit_depth=max(h.bit_depth for h in headers),
    )
    stack.scale = scale
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

    def __init__(self, paths: list[Path], scale: float) -> None:
        self.paths, self.scale = paths, scale

    def __call__(self, i: int) -> np.ndarray:
        image = read_image_native(self.paths[i])
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


def _focus_info(folder, paths, sidecar, positions, unit) -> tuple[np.ndarray | None, str]:
    if positions is not None:
        if unit is None:
            raise InputError("focus positions were given without a unit; add --unit m|diopter|disparity|index")
        return _as_positions(positions, len(paths), "the given focus positions"), check_unit(unit)
    if unit == "index":
        return None, "index"
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
        return _as_positions(sidecar["focus_positions"], len(paths), where), sidecar_unit
    return _exif_focus(paths)


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


def _exif_focus(paths: list[Path]) -> tuple[np.ndarray | None, str]:
    distances = [read_exif(p).focus_distance_m for p in paths]
    usable = all(d is not None and math.isfinite(d) for d in distances)
    if usable and len(set(distances)) == len(distances):
        return np.asarray(distances, dtype=np.float64), "m"
    reason = "no focus information (no stack.json, no --focus-positions, no EXIF focus distance)"
    if usable:
        reason = "the EXIF focus distances repeat"
    warnings.warn(f"{reason}; using the slice index as depth (unit 'index')", FocusInfoWarning, stacklevel=3)
    return None, "index"


def _camera(folder: Path, paths: list[Path], sidecar: dict) -> Camera | None:
    block = sidecar.get("camera")
    if block is not None:
        if not isinstance(block, dict):
            raise InputError(f"{folder / SIDECAR}: 'camera' must be a JSON object")
        known = {f.name for f in fields(Camera)}
        try:
            return Camera(**{k: float(v) for k, v in block.items() if k in known and v is not None})
        except (TypeError, ValueError) as exc:
            raise InputError(f"{folder / SIDECAR}: camera: {exc}") from None
    exif = read_exif(paths[0])
    if exif.focal_length_mm is None and exif.f_number is None:
        return None
    return Camera(focal_length_mm=exif.focal_length_mm, f_number=exif.f_number,
                  focal_length_35mm=exif.focal_length_35mm)
