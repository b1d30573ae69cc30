"""A result folder of ``focalstack depth``, opened for viewing: checked at the door, arrays read on demand.

Example:
    >>> result = open_result("out/pcb")                      # doctest: +SKIP
    >>> result.unit, result.depth.shape, result.slices_reason  # doctest: +SKIP
    ('index', (1536, 2048), '')
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..io.images import read_image
from ..io.results import FORMAT_FILES, RESULT_FILES
from ..units import UNITS

REPORT_FILE = "report.html"
"""The self-contained page that ``focalstack depth --html`` writes beside the other result files."""

DOWNLOADABLE_FILES = frozenset({*RESULT_FILES, *FORMAT_FILES.values(), REPORT_FILE})
"""The only file names of a result folder that the viewer's server hands out."""


@dataclass
class ResultFolder:
    """A checked result folder.

    Attributes:
        path: the folder.
        summary: ``result.json`` (method, unit, size, depth_range, camera, input, files, ...).
        name: what the page calls it (the folder name unless given).
    """

    path: Path
    summary: dict
    name: str

    @property
    def unit(self) -> str:
        return self.summary["unit"]

    @property
    def method(self) -> str:
        return str(self.summary.get("method", ""))

    @cached_property
    def depth(self) -> np.ndarray:
        """H x W float32 in :attr:`unit` (NaN where there is no depth)."""
        return _load_map(self.path / "depth.npy", "depth")

    @cached_property
    def confidence(self) -> np.ndarray:
        """H x W float32 in [0, 1]."""
        confidence = _load_map(self.path / "confidence.npy", "confidence", self.depth.shape)
        return np.clip(np.nan_to_num(confidence, nan=0.0), 0, 1)

    @cached_property
    def all_in_focus(self) -> np.ndarray:
        """H x W [x 3] float32 in [0, 1] (``aif.png``, 8- or 16-bit)."""
        image = read_image(self.path / "aif.png")
        if image.shape[:2] != self.depth.shape:
            raise InputError(f"{self.path}: aif.png is {image.shape[1]}x{image.shape[0]} but depth.npy is "
                             f"{self.depth.shape[1]}x{self.depth.shape[0]}")
        return image

    @property
    def slice_paths(self) -> list[Path]:
        """The input slices named in ``result.json`` (``input`` + ``files``), when they all still exist; else []."""
        return [] if self.slices_reason else [Path(self.summary["input"]) / name for name in self.summary["files"]]

    @property
    def slices_reason(self) -> str:
        """Why the input slices cannot be shown ('' when they can)."""
        folder, files = self.summary.get("input"), self.summary.get("files")
        if not folder or not isinstance(files, list) or not files:
            return "result.json does not name the input slices"
        if not Path(folder).is_dir():
            return f"the input folder {folder} no longer exists"
        missing = [name for name in files if not (Path(folder) / name).is_file()]
        if missing:
            return f"{missing[0]} is no longer in the input folder {folder}"
        return ""


def open_result(path: str | Path, *, name: str | None = None) -> ResultFolder:
    """Check that ``path`` is a result folder of ``focalstack depth`` and return it (arrays are read lazily).

    Args:
        path: the folder holding ``result.json``, ``depth.npy``, ``confidence.npy`` and ``aif.png``.
        name: how the page names it (default: the folder's name).

    Raises:
        InputError: one sentence saying why the folder is not a (complete) result.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path} does not exist")
    if not path.is_dir():
        raise InputError(f"{path} is not a folder (give a result folder written by focalstack depth -o)")
    if not (path / "result.json").is_file():
        raise InputError(f"{path} is not a focalstack result: it has no result.json "
                         "(focalstack depth STACK_DIR -o OUT writes one)")
    summary = _read_summary(path / "result.json")
    missing = [f for f in ("depth.npy", "confidence.npy", "aif.png") if not (path / f).is_file()]
    if missing:
        raise InputError(f"{path} is not a complete focalstack result: {missing[0]} is missing")
    return ResultFolder(path, summary, name or path.resolve().name)


def _read_summary(path: Path) -> dict:
    try:
        summary = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{path} is not a focalstack result description: {exc}") from None
    if not isinstance(summary, dict) or summary.get("unit") not in UNITS or "method" not in summary:
        raise InputError(f"{path} is not a focalstack result description: it needs 'method' and a 'unit' "
                         f"({', '.join(UNITS)})")
    return summary


def _load_map(path: Path, name: str, shape: tuple[int, int] | None = None) -> np.ndarray:
    try:
        values = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read {path}: {exc}") from None
    if values.ndim != 2 or values.size == 0 or (shape is not None and values.shape != shape):
        raise InputError(f"{path}: {name} must be an H x W array{f' of {shape}' if shape else ''}, got {values.shape}")
    return values.astype(np.float32, copy=False)


def different_stacks(results: list[ResultFolder]) -> str:
    """A warning when results to compare do not come from one stack (other input folder or size); '' otherwise."""
    first = results[0]
    for other in results[1:]:
        if first.summary.get("input") != other.summary.get("input"):
            return (f"{first.path} and {other.path} were made from different input folders "
                    f"({first.summary.get('input')} and {other.summary.get('input')})")
        if first.summary.get("size") != other.summary.get("size"):
            return f"{first.path} and {other.path} have different sizes"
    return ""
