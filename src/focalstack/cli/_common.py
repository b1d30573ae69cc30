"""What every command shares: the choices of the library's registries, the exit-status-2 error path,
the stack reader with its warnings and the lazy progress bar."""

from __future__ import annotations

import time
import warnings
from enum import Enum

import typer

from ..align import METHODS as ALIGN_METHODS
from ..classical import FUSIONS, PEAK_FITS, REFINEMENTS
from ..errors import error_message
from ..io.raw import ENCODINGS as RAW_ENCODINGS
from ..io.results import DEPTH_FORMATS
from ..io.stackdir import parse_focus_positions, read_stack
from ..units import UNITS


def _choices(name: str, values) -> type[Enum]:
    return Enum(name, {v: v for v in values}, type=str)


Unit = _choices("Unit", UNITS)
PeakFit = _choices("PeakFit", PEAK_FITS)
TTORenderer = _choices("TTORenderer", ("per_pixel", "layered"))
TTOAif = _choices("TTOAif", ("model", "coarse"))
Fusion = _choices("Fusion", FUSIONS)
Refinement = _choices("Refinement", REFINEMENTS)
AlignMethod = _choices("AlignMethod", ALIGN_METHODS)
DepthFormat = _choices("DepthFormat", [f for f in DEPTH_FORMATS if f != "npy"])
Device = _choices("Device", ("auto", "cpu", "cuda", "mps"))
RawEncoding = _choices("RawEncoding", RAW_ENCODINGS)
ALIGN_HELP = ("Align the slices first: auto (undo focus breathing from focus distances + focal length, refined by "
              "ECC; ECC alone without that metadata), metadata, ecc, metadata+ecc, homography (ECC with "
              "perspective), learned (the learned 3-basis alignment network) or none.")


def open_stack(stack_dir, focus_positions, unit, scale, max_megapixels):
    """read_stack with --focus-positions text; its warnings become `warning:` lines on stderr."""
    positions = parse_focus_positions(focus_positions) if focus_positions is not None else None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        stack = read_stack(stack_dir, focus_positions=positions, unit=unit, scale=scale,
                           max_megapixels=max_megapixels)
    for warning in caught:
        typer.echo(f"warning: {warning.message}", err=True)
    return stack


def fail(exc: BaseException) -> None:
    typer.echo(f"error: {error_message(exc)}", err=True)
    raise typer.Exit(2)


class LazyProgress:
    """A rich progress bar that only appears once a run has taken more than a second."""

    def __init__(self, *, disabled: bool = False, delay_s: float = 1.0, label: str = "slices") -> None:
        self.disabled, self.delay_s, self.label = disabled, delay_s, label
        self._start = time.perf_counter()
        self._bar = self._task = None

    def __call__(self, done: int, total: int) -> None:
        if self.disabled:
            return
        if self._bar is None and time.perf_counter() - self._start > self.delay_s and done < total:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

            self._bar = Progress("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
                                 TimeRemainingColumn(), console=Console(stderr=True), transient=True)
            self._bar.start()
            self._task = self._bar.add_task(self.label, total=total)
        if self._bar is not None:
            self._bar.update(self._task, completed=done, total=total)

    def __enter__(self) -> LazyProgress:
        return self

    def __exit__(self, *exc) -> None:
        if self._bar is not None:
            self._bar.stop()
