"""Units of focus positions and depth, and the coordinate in which blur is linear.

Focus positions come with one of four units (``../DESIGN.md``):

- ``"m"``: metres from the camera;
- ``"diopter"``: inverse metres (1/m);
- ``"disparity"``: pixels, proportional to inverse depth (light fields, stereo);
- ``"index"``: slice number, no metric meaning.

Defocus blur grows linearly with the difference of *inverse* depths, so every
interpolation between slices happens in the **blur coordinate**: diopters for ``m``,
the value itself for ``diopter`` and ``disparity``, and the index for ``index``.
"""

from __future__ import annotations

import numpy as np

UNITS = ("m", "diopter", "disparity", "index")

UNIT_LABELS = {
    "m": "depth [m]",
    "diopter": "inverse depth [diopter]",
    "disparity": "disparity [px]",
    "index": "focus index",
}


def check_unit(unit: str) -> str:
    """Return ``unit`` if it is one of :data:`UNITS`, else raise ``ValueError``."""
    if unit not in UNITS:
        raise ValueError(f"unknown focus unit {unit!r}; use one of {', '.join(UNITS)}")
    return unit


def to_blur_coordinate(values: np.ndarray, unit: str) -> np.ndarray:
    """Map focus positions or depths to the coordinate in which defocus blur is linear.

    Args:
        values: focus positions or depths in ``unit``; any shape, must be > 0 for ``"m"``.
        unit: one of :data:`UNITS`.

    Returns:
        Same shape, float: diopters (1/m) for ``"m"``, the input otherwise.

    Example:
        >>> to_blur_coordinate(np.array([0.5, 2.0]), "m")
        array([2. , 0.5])
    """
    values = np.asarray(values)
    if check_unit(unit) == "m":
        return 1.0 / values
    return values


def from_blur_coordinate(values: np.ndarray, unit: str) -> np.ndarray:
    """Inverse of :func:`to_blur_coordinate` (metres from diopters for ``"m"``)."""
    return to_blur_coordinate(values, unit)


def near_to_far_order(positions: np.ndarray, unit: str) -> np.ndarray:
    """Indices that sort focus positions from near to far.

    Near means small metres, large diopters, large disparity; for ``"index"`` the
    index order is kept (slice 0 is taken as the nearest).
    """
    positions = np.asarray(positions, dtype=np.float64)
    key = positions if check_unit(unit) in ("m", "index") else -positions
    return np.argsort(key, kind="stable")
