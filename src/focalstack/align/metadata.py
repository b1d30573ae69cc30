"""Alignment from camera metadata: the field-of-view change of focus breathing.

A lens focused at distance F sits s = F f / (F - f) from the sensor (thin lens), so a slice focused at
F_n is magnified by s_n / s_ref relative to the reference slice (Eq. 1 of Won & Jeon, "Learning Depth
from Focus in the Wild", ECCV 2022, the paper's first alignment step). The reference is the slice with
the longest s, the nearest focus: it has the smallest field of view, so every other slice covers all of
it and no pixel of the aligned stack is invented. Magnification is about the image centre (the principal
point is not in the metadata; :mod:`.ecc` estimates what is left)."""

from __future__ import annotations

import numpy as np

from ..errors import InputError


def breathing_scales(focus_distances_m: np.ndarray, *, focal_length_mm: float) -> np.ndarray:
    """Magnification of each slice relative to the nearest-focus slice, s_n / max_k s_k (each <= 1).

    Args:
        focus_distances_m: N focus distances in metres, each longer than the focal length
            (``inf`` for focus at infinity, where s = f).
        focal_length_mm: the lens's focal length in millimetres (the real one, not 35 mm-equivalent).

    Example:
        >>> breathing_scales(np.array([0.1, 1.0]), focal_length_mm=4.4).round(4)
        array([1.    , 0.9602])
    """
    focus = np.asarray(focus_distances_m, np.float64)
    if not focal_length_mm > 0:
        raise InputError(f"the focal length must be positive, got {focal_length_mm} mm")
    if np.any(focus <= focal_length_mm * 1e-3):
        raise InputError(f"focus distances {focus.min():.4g} m and shorter are inside the focal length "
                         f"({focal_length_mm} mm): check the unit and the camera metadata")
    f = focal_length_mm * 1e-3
    # s = F f / (F - f) (optics.thin_lens.sensor_distance_m, not imported: it would bring torch into the
    # classical command), written as f / (1 - f / F) so that F = inf gives s = f
    s = f / (1.0 - f / focus)
    return s / s.max()


def breathing_warps(focus_distances_m: np.ndarray, *, focal_length_mm: float,
                    shape: tuple[int, int]) -> np.ndarray:
    """Warps (N x 3 x 3, reference frame -> slice, :mod:`.warps`) undoing focus breathing: each slice
    magnified by :func:`breathing_scales` about the centre of an image of ``shape`` = (H, W)."""
    scale = breathing_scales(focus_distances_m, focal_length_mm=focal_length_mm)
    h, w = shape
    centre = np.array([(w - 1) / 2, (h - 1) / 2])
    warps = np.zeros((len(scale), 3, 3))
    warps[:, 0, 0] = warps[:, 1, 1] = scale
    warps[:, :2, 2] = centre * (1.0 - scale[:, None])
    warps[:, 2, 2] = 1.0
    return warps
