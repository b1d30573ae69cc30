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

from ._blocks import for_row_blocks

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
        if focus.shape != self.best.shape:
            raise ValueError(f"focus map of shape {focus.shape} for a curve of shape {self.best.shape}")
        for_row_blocks(lambda rows: self._update_rows(focus, rows), *self.best.shape)
        self.count += 1

    def _update_rows(self, focus: np.ndarray, rows: slice) -> None:
        k, focus = self.count, focus[rows]
        best, index, new = self.best[rows], self.best_index[rows], self._new[rows]
        np.greater(focus, best, out=new)
        follows_best = (index == k - 1) & ~new
        np.copyto(self.right[rows], focus, where=follows_best)
        np.copyto(self.left[rows], self._prev[rows], where=new)
        np.copyto(best, focus, where=new)
        np.copyto(index, k, where=new)
        self.total[rows] += focus
        self._prev[rows] = focus

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
        if fit == "none" or self.count < 3:
            return coords.take(self.best_index), self.best_index.astype(np.float32)
        # Offsets to the neighbours of the best slice; zero at the ends of the sweep, where
        # the peak is not bracketed and so is not moved.
        left_gap, right_gap = np.zeros_like(coords), np.zeros_like(coords)
        left_gap[1:-1], right_gap[1:-1] = coords[:-2] - coords[1:-1], coords[2:] - coords[1:-1]
        position = np.empty(self.best.shape, np.float32)
        index = np.empty(self.best.shape, np.float32)

        def fit_rows(rows: slice) -> None:
            i = self.best_index[rows]
            d0, d2 = left_gap.take(i), right_gap.take(i)
            y0, y1, y2 = self.left[rows], self.best[rows], self.right[rows]
            if fit == "gaussian":
                y0, y1, y2 = (np.log(np.maximum(v, _TINY)) for v in (y0, y1, y2))
            offset = _vertex_offset(d0, d2, y0 - y1, y2 - y1)
            step = np.where(offset * d2 > 0, d2, -d0)  # gap on the side the peak moved to
            np.add(coords.take(i), offset, out=position[rows])
            np.divide(offset, step, out=index[rows], where=step != 0)
            index[rows][step == 0] = 0
            index[rows] += i

        for_row_blocks(fit_rows, *self.best.shape)
        return position, index

    def confidence(self, *, texture_floor: float | None = None) -> np.ndarray:
        """Confidence in [0, 1]: peak prominence times a texture term.

        Prominence is (best - mean) / (best (1 - 1/N)): 1 for a single sharp peak, 0 for a
        flat curve. The texture term best / (best + floor) suppresses pixels whose best
        focus value is at the noise level; ``floor`` defaults to 2 % of the 99th
        percentile of the best values over the image.
        """
        n = self.count
        if texture_floor is None:
            texture_floor = 0.02 * float(np.percentile(self.best[::4, ::4], 99)) + float(_TINY)
        floor, keep = np.float32(texture_floor), np.float32(1 - 1 / n)
        confidence = np.empty(self.best.shape, np.float32)

        def rows_confidence(rows: slice) -> None:
            best = self.best[rows]
            prominence = (best - self.total[rows] / np.float32(n)) / (best * keep + _TINY)
            np.clip(prominence * best / (best + floor), 0.0, 1.0, out=confidence[rows])

        for_row_blocks(rows_confidence, *self.best.shape)
        return confidence


def _vertex_offset(d0, d2, e0, e2) -> np.ndarray:
    """Offset of the vertex of the parabola through (d0, e0), (0, 0), (d2, e2).

    With y = a d^2 + b d, the vertex is at -b / 2a = (d2^2 e0 - d0^2 e2) / 2 (e0 d2 - e2 d0).
    The middle sample is the maximum, so the vertex lies between the midpoints d0/2 and
    d2/2; it is clipped there against round-off and flat curves (which give 0).
    """
    numerator = d2 * d2 * e0 - d0 * d0 * e2
    denominator = 2 * (e0 * d2 - e2 * d0)
    vertex = np.divide(numerator, denominator, out=np.zeros_like(numerator), where=denominator != 0)
    return np.clip(vertex, np.minimum(d0, d2) / 2, np.maximum(d0, d2) / 2)
