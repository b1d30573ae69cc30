"""Timing protocol: warm-up runs, then the median of k timed runs, synchronising the device.

``time_call(fn, warmup=2, repeat=5)`` calls ``fn`` ``warmup`` times untimed (caches, lazy
initialisation, kernel selection), then ``repeat`` times timed, and returns the median and the
individual times. On a GPU, work is asynchronous: the clock is read only after
``torch.cuda.synchronize()`` (or the MPS equivalent), so a run is charged for all its work.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Timing:
    """Seconds of one timed call: the median and every run."""

    median_s: float
    runs_s: tuple[float, ...]


def synchronize(device=None) -> None:
    """Wait for queued GPU work on ``device`` (no-op on the CPU or without torch)."""
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency
        return
    kind = getattr(device, "type", device)
    if kind in (None, "cuda") and torch.cuda.is_available():
        torch.cuda.synchronize(device if kind == "cuda" else None)
    elif kind == "mps" and hasattr(torch, "mps"):
        torch.mps.synchronize()


def time_call(fn: Callable[[], object], *, warmup: int = 2, repeat: int = 5, device=None) -> Timing:
    """Median wall-clock seconds of ``fn()`` after ``warmup`` untimed calls.

    Example:
        >>> t = time_call(lambda: sum(range(1000)), warmup=1, repeat=3)
        >>> len(t.runs_s), t.median_s >= 0
        (3, True)
    """
    if repeat < 1 or warmup < 0:
        raise ValueError("need repeat >= 1 and warmup >= 0")
    for _ in range(warmup):
        fn()
    synchronize(device)
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        synchronize(device)
        runs.append(time.perf_counter() - start)
    return Timing(statistics.median(runs), tuple(runs))
