"""Memory budgets: how much memory a run may use, and what a method needs within it.

A budget is a number of bytes (``--max-memory 8G`` on the command line). By default it is 75 % of the
memory the operating system reports as available when the run starts, so a run leaves room for the
rest of the machine. The classical pipeline streams the slices and needs a fixed set of full-size maps
whatever the slice count; a network needs memory for all slices of the pixels it sees at once, so it
runs tile by tile when the whole frame does not fit (:mod:`focalstack.models.tiling`).
"""

from __future__ import annotations

import os
import re

from .errors import InputError

DEFAULT_FRACTION = 0.75
CLASSICAL_BYTES_PER_PIXEL = 140  # measured peak of the streamed pipeline (~121 B/px) with a margin
_UNITS = {"": 1, "B": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}


def available_memory() -> int:
    """Bytes of memory available to a new allocation now (``MemAvailable`` on Linux; free pages elsewhere)."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):  # pragma: no cover - platforms without sysconf
        return 8 * 2**30


def default_budget() -> int:
    """The budget of a run that names none: 75 % of the available memory."""
    return int(DEFAULT_FRACTION * available_memory())


def parse_memory(text: str | int | float) -> int:
    """Bytes from ``"8G"``, ``"512M"``, ``"1.5GB"``, ``"4GiB"`` or a number of bytes.

    Example:
        >>> parse_memory("1.5G"), parse_memory("512MiB"), parse_memory(1000)
        (1610612736, 536870912, 1000)
    """
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        value = float(text)
    else:
        match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([KMGT]?)(I?B)?\s*", str(text).upper())
        if not match:
            raise InputError(f"memory must be a size such as 8G, 512M or a number of bytes, got {text!r}")
        value = float(match.group(1)) * _UNITS[match.group(2)]
    if not value > 0:
        raise InputError(f"memory must be positive, got {text!r}")
    return int(value)


def format_bytes(count: float) -> str:
    """``1.5 GiB``-style text for messages."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(count) < 1024:
            return f"{count:.3g} {unit}"
        count /= 1024
    return f"{count:.3g} TiB"


def check_classical(height: int, width: int, budget: int) -> None:
    """Refuse a classical run whose full-size maps cannot fit in ``budget`` bytes."""
    need = CLASSICAL_BYTES_PER_PIXEL * height * width
    if need > budget:
        raise InputError(f"a {width}x{height} stack needs about {format_bytes(need)} with a focus measure, more than "
                         f"the memory budget of {format_bytes(budget)}; raise --max-memory or downscale with --scale")
