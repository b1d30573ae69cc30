"""The per-pixel focus curve, kept as running statistics so memory does not grow with N.

Seeing the focus measure of one slice at a time, :class:`FocusCurve` keeps for every
pixel: the best value and its slice index, the values of the two slices either side of
the best (all a three-point peak fit needs), and the running sum (for the prominence).
That is six H x W arrays whatever the number of slices.

The peak is refined between slices by fitting a parabola to the log focus values
(a Gaussian focus curve) or to the values themselves, in the blur coordinate of
:mod:`focalstack.units` (diopters for metric stacks), where blur, and so the focus
curve, is symmetric.
"""

from __future__ import annotations

import numpy as np

PEAK_FITS = ("gaussian", "parabolic", "none")
_TINY = np.float32(1e-12)


class FocusCurve:
    """Running per-pixel statistics of the focus curve over slices 0..N-1.

    Args:
        shape: (H, W) of the focus-measure maps.

    Example:
        >>> curve = FocusCurve((1, 1))
        >>> for v in (1.0, 3.0, 2.0):
        ...     curve.update(np.full((1, 1), v, np.float32))
        >>> int(curve.best_index[0, 0]), float(curve.left[0, 0]), float(curve.right[0, 0])
        (1, 1.0, 2.0)
    """

    def __init__(self, shape: tuple[int, int]) -> None:
        self.best = np.full(shape, -np.inf, np.float32)
        self.left = np.zeros(shape, np.float32)  # focus value at best_index - 1
        self.right = np.zeros(shape, np.float32)  # focus value at best_index + 1
        self.total = np.zeros(shape, np.float32)
        self.best_index = np.zeros(shape, np.int32)
        self._prev = np.zeros(shape, np.float32)
        self._new = np.zeros(shape, bool)
        self.count = 0

    def update(self, focus: np.ndarray) -> None:
        """Add the focus-measure map (H x W float32 >= 0) of the next slice."""
        k = self.count
        np.greater(focus, self.best, out=self._new)
        follows_best = (self.best_index == k - 1) & ~self._new
        np.copyto(self.right, focus, where=follows_best)
        np.copyto(self.left, self._prev, where=self._new)
        np.copyto(self.best, focus, where=self._new)
        np.copyto(self.best_index, k, where=self._new)
        self.total += focus
        np.copyto(self._prev, focus)
        self.count += 1

    def peak(self, coordinates: np.ndarray, *, fit: str = "gaussian") -> tuple[np.ndarray, np.ndarray]:
        """Sub-slice position of the focus peak.

        Args:
            coordinates: N slice positions in the blur coordinate (e.g. diopters).
            fit: ``"gaussian"`` (parabola through log focus values), ``"parabolic"``
                (through the values) or ``"none"`` (the best slice).

        Returns:
            (position, fractional_index): H x W float32 each; position in the units of
            ``coordinates``, fractional_index in [0, N - 1].
        """
        if fit not in PEAK_FITS:
            raise ValueError(f"unknown peak fit {fit!r}; use one of {', '.join(PEAK_FITS)}")
        coords = np.asarray(coordinates, dtype=np.float32)
        if coords.size != self.count:
            raise ValueError(f"{coords.size} coordinates for a curve of {self.count} slices")
        i = self.best_index
        x1 = coords[i]
        if fit == "none" or self.count < 3:
            return x1, i.astype(np.float32)
        d0 = coords[np.maximum(i - 1, 0)] - x1  # offset to the left neighbour
        d2 = coords[np.minimum(i + 1, self.count - 1)] - x1  # offset to the right neighbour
        values = (self.left, self.best, self.right)
        if fit == "gaussian":
            values = tuple(np.log(np.maximum(v, _TINY)) for v in values)
        offset = _vertex_offset(d0, d2, values[0] - values[1], values[2] - values[1])
        interior = (i > 0) & (i < self.count - 1)
        offset = np.where(interior, offset, 0.0).astype(np.float32)
        toward_right = offset * d2 > 0
        fraction = np.where(toward_right, offset / np.where(d2 == 0, 1, d2), -offset / np.where(d0 == 0, 1, d0))
        return x1 + offset, (i + fraction).astype(np.float32)

    def confidence(self, *, texture_floor: float | None = None) -> np.ndarray:
        """Confidence in [0, 1]: peak prominence times a texture term.

        Prominence is (best - mean) / (best (1 - 1/N)): 1 for a single sharp peak, 0 for a
        flat curve. The texture term best / (best + floor) suppresses pixels whose best
        focus value is at the noise level; ``floor`` defaults to 2 % of the 99th
        percentile of the best values over the image.
        """
        n = self.count
        mean = self.total / n
        prominence = (self.best - mean) / (self.best * (1 - 1 / n) + _TINY)
        if texture_floor is None:
            texture_floor = 0.02 * float(np.percentile(self.best, 99)) + float(_TINY)
        texture = self.best / (self.best + np.float32(texture_floor))
        return np.clip(prominence * texture, 0.0, 1.0).astype(np.float32)


def _vertex_offset(d0, d2, e0, e2) -> np.ndarray:
    """Offset of the vertex of the parabola through (d0, e0), (0, 0), (d2, e2).

    The middle sample is the maximum, so the vertex lies between the midpoints d0/2 and
    d2/2; it is clipped there against round-off and flat curves.
    """
    det = d0 * d2 * (d0 - d2)
    safe = np.abs(det) > 1e-20
    det = np.where(safe, det, 1.0)
    a = (e0 * d2 - e2 * d0) / det
    b = (d0 * d0 * e2 - d2 * d2 * e0) / det
    concave = safe & (a < 0)
    vertex = np.where(concave, -b / (2 * np.where(concave, a, -1.0)), 0.0)
    lo, hi = np.minimum(d0, d2) / 2, np.maximum(d0, d2) / 2
    return np.clip(vertex, lo, hi)
