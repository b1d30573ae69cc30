"""What a stack folder holds and how it would be read: :func:`inspect_stack`, behind ``focalstack inspect``.

Per slice: the file, its size and bit depth, and the focus distance, focal length, f-number and pixel
pitch its metadata gives (with where each came from). For the folder: what :func:`~.stackdir.read_stack`
makes of it (unit, order near to far, camera, pixel encoding, warnings) and what is missing for
metric depth, for test-time optimisation and for alignment from metadata. Nothing is decoded.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InputError
from ..stack import Camera, FocalStack
from .exif import ExifInfo
from .images import ImageHeader, image_header
from .metadata import camera_from_metadata, read_metadata
from .raw import is_raw
from .stackdir import SIDECAR, list_slices, read_sidecar, read_stack

_METRIC_UNITS = ("m", "diopter")
_COLUMNS = (("focus_distance_m", "focus distance"), ("focal_length_mm", "focal length"),
            ("f_number", "f-number"), ("pixel_pitch_um", "pixel pitch"))


@dataclass(frozen=True)
class SliceReport:
    """One slice file: its header (``None`` when unreadable, with ``problem``) and its metadata.

    ``metadata.pixel_pitch_um`` is the pitch found or derived (from the 35 mm equivalent); its source
    says which.
    """

    file: str
    header: ImageHeader | None
    metadata: ExifInfo
    problem: str | None = None


@dataclass(frozen=True)
class StackReport:
    """A stack folder as :func:`read_stack` would read it.

    Attributes:
        folder: the folder.
        slices: one :class:`SliceReport` per slice file, in file order.
        stack: the lazily read stack (nothing decoded), or ``None`` when the folder does not read as
            one; ``problem`` then says why.
        warnings: what reading it warned about (e.g. the fallback to the slice index).
        missing: what is missing for metric depth and for the methods that need a camera; empty
            when nothing is.
    """

    folder: Path
    slices: list[SliceReport]
    stack: FocalStack | None
    problem: str | None = None
    warnings: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)

    def to_text(self) -> str:
        """The report as ``focalstack inspect`` prints it."""
        return "\n".join([*_slice_table(self), "", *_reading(self)]) + "\n"


def inspect_stack(folder: str | Path, *, raw: str = "srgb") -> StackReport:
    """Report what a stack folder holds and how :func:`~.stackdir.read_stack` would read it.

    Args:
        folder: a folder of slices, optionally with ``stack.json``.
        raw: passed to :func:`read_stack` (``"srgb"`` or ``"linear"``).

    Raises:
        InputError: the folder is missing, not a folder, cannot be listed, or its ``stack.json``
            is unreadable. Problems of single files or of the stack as a whole are in the report.

    Example:
        >>> report = inspect_stack("my_stack")  # doctest: +SKIP
        >>> print(report.to_text())  # doctest: +SKIP
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"{folder} is not a folder" if folder.exists() else f"{folder} does not exist")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            paths = list_slices(folder, read_sidecar(folder))
        except OSError as exc:
            raise InputError(f"cannot list {folder}: {exc.strerror or exc}") from None
        slices = [_slice_report(p) for p in paths]
        try:
            stack, problem = read_stack(folder, raw=raw), None
        except InputError as exc:
            stack, problem = None, str(exc)
    messages = list(dict.fromkeys(str(w.message) for w in caught))
    return StackReport(folder, slices, stack, problem, messages, _missing(stack) if stack is not None else [])


def _slice_report(path: Path) -> SliceReport:
    try:
        header, problem = image_header(path), None
    except InputError as exc:
        header, problem = None, str(exc)
    info = read_metadata(path)
    if header is not None and info.pixel_pitch_um is None:
        camera, sources = camera_from_metadata(info, width_px=header.width, height_px=header.height)
        if camera is not None and camera.sensor_width_mm is not None:
            info = ExifInfo(**{**_values(info), "pixel_pitch_um": camera.pixel_pitch_for(header.width)},
                            sources={**info.sources, "pixel_pitch_um": sources["sensor_width_mm"]})
    return SliceReport(path.name, header, info, problem)


def _values(info: ExifInfo) -> dict:
    return {name: getattr(info, name) for name in ("focus_distance_m", "focal_length_mm", "f_number",
                                                   "focal_length_35mm", "pixel_pitch_um")}


def _missing(stack: FocalStack) -> list[str]:
    """What stands between this stack and metric depth, test-time optimisation, metadata alignment."""
    missing = []
    if stack.unit not in _METRIC_UNITS:
        missing.append(f"focus distances: depth comes back as {_unit_words(stack.unit)}; give them in {SIDECAR} "
                       "('focus_positions' and 'unit') or with --focus-positions and --unit")
    camera = stack.camera or Camera()
    lens = [name for name, value in (("focal length", camera.focal_length_mm), ("f-number", camera.f_number),
                                     ("pixel pitch or sensor width", camera.pixel_pitch_for(stack.shape[1])))
            if value is None]
    if lens:
        missing.append(f"camera for test-time optimisation (+tto): {', '.join(lens)} ('camera' in {SIDECAR})")
    if camera.focal_length_mm is None:
        missing.append(f"camera for alignment from metadata (--align metadata): focal length ('camera' in {SIDECAR})")
    return missing


def _unit_words(unit: str) -> str:
    return "a fractional slice index" if unit == "index" else "disparity (no metric scale)"


# --- text ---------------------------------------------------------------------------------------------------


def _slice_table(report: StackReport) -> list[str]:
    legend: dict[str, int] = {}
    rows = [("file", "size", "bits", *(title for _, title in _COLUMNS))]
    for s in report.slices:
        rows.append((s.file, _size(s), str(s.header.bit_depth) if s.header else "-",
                     *(_cell(s.metadata, name, legend) for name, _ in _COLUMNS)))
    widths = [max(len(row[k]) for row in rows) for k in range(len(rows[0]))]
    lines = [f"{report.folder}: {len(report.slices)} slice file(s)"]
    lines += ["  " + "  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
    lines += [f"  [{k}] {source}" for source, k in legend.items()]
    lines += [f"  {s.file}: {s.problem}" for s in report.slices if s.problem]
    return lines


def _size(s: SliceReport) -> str:
    if s.header is None:
        return "unreadable"
    colour = "grey" if s.header.channels == 1 else "RGB"
    return f"{s.header.width}x{s.header.height} {colour}{' RAW' if is_raw(s.file) else ''}"


def _cell(info: ExifInfo, name: str, legend: dict[str, int]) -> str:
    value = getattr(info, name)
    if value is None:
        return "-"
    source = info.sources.get(name, "?")
    mark = legend.setdefault(source, len(legend) + 1)
    return f"{_format(name, value)} [{mark}]"


def _format(name: str, value: float) -> str:
    if name == "focus_distance_m":
        return "inf" if math.isinf(value) else f"{value:.4g} m"
    if name == "f_number":
        return f"f/{value:.3g}"
    return f"{value:.4g} {'mm' if name == 'focal_length_mm' else 'um'}"


def _reading(report: StackReport) -> list[str]:
    lines = [f"warning: {message}" for message in report.warnings]
    stack = report.stack
    if stack is None:
        return [*lines, f"not readable as a stack: {report.problem}"]
    where = stack.sources.get("focus_positions", "?")
    positions = ", ".join(f"{p:.4g}" for p in stack.focus_positions) if stack.unit != "index" else "slice index"
    h, w = stack.shape
    lines += [f"read as: {len(stack)} slices of {w}x{h}, {stack.bit_depth}-bit, {stack.encoding} pixels",
              f"  unit: {stack.unit} (focus positions from: {where})",
              f"  near to far: {', '.join(stack.names)}",
              f"  focus positions: {positions}"]
    camera = stack.camera.to_dict() if stack.camera is not None else {}
    lines.append(f"  camera:{'' if camera else ' none'}")
    lines += [f"    {k} {v:.4g} ({stack.sources.get(k, '?')})" for k, v in camera.items()]
    metric = stack.unit in _METRIC_UNITS
    lines.append(f"metric depth: {'yes' if metric else 'no'} (unit {stack.unit})")
    if not report.missing:
        return [*lines, "missing: nothing"]
    return [*lines, "missing:", *(f"  - {m}" for m in report.missing)]
