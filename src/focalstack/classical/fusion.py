"""All-in-focus fusion, streamed one slice at a time.

- :class:`SoftBlend`: per-pixel weights proportional to focus^power, i.e. a softmax of
  ``power * log(focus)`` over slices, accumulated with a running maximum (online
  softmax) so memory does not grow with N. A large power approaches hard per-pixel
  selection of the sharpest slice; a small one averages.
- :class:`PyramidFusion`: Laplacian-pyramid fusion (Burt & Adelson 1983). Each band keeps
  the coefficient of the slice with the most local band energy; the coarsest Gaussian
  level is soft-blended with the focus measure. Keeps fine detail of the sharpest slice
  without the seams of hard selection.

Both take float32 images in [0, 1] (H x W or H x W x 3) and the slice's focus map.
"""

from __future__ import annotations

import cv2
import numpy as np

FUSIONS = ("soft", "pyramid")
_TINY_WEIGHT = 1e-30


class SoftBlend:
    """Running focus-weighted average: sum_k w_k I_k / sum_k w_k with w_k = focus_k^power.

    Focus values are divided by a scale fixed at the first slice (its 99th percentile),
    which cancels in the ratio but keeps focus^power inside float32 range; pixels where
    every weight underflows (no texture in any slice) get the plain average.

    Args:
        power: sharpness of the selection (>= 0); 0 averages all slices.
    """

    _MAX_WEIGHT = 1e30  # keeps the running sums finite in float32

    def __init__(self, *, power: float = 8.0) -> None:
        if power < 0:
            raise ValueError(f"power must be >= 0, got {power}")
        self.power = float(power)
        self._scale = self._acc = self._weight = None

    def update(self, image: np.ndarray, focus: np.ndarray) -> None:
        """Add one slice (H x W [x 3] float32) with its focus map (H x W float32 >= 0)."""
        if self._acc is None:
            self._scale = float(np.percentile(focus[::4, ::4], 99)) or 1.0
            self._acc = np.zeros(image.shape, np.float32)
            self._weight = np.zeros(focus.shape, np.float32)
            self._cap = self._MAX_WEIGHT ** (1 / self.power) if self.power > 0 else np.inf
        ratio = cv2.min(cv2.multiply(focus, 1.0 / self._scale), self._cap)
        weight = cv2.add(cv2.pow(ratio, self.power), float(_TINY_WEIGHT))
        cv2.accumulate(weight, self._weight)
        cv2.accumulateProduct(image, _expand_channels(weight, image), self._acc)

    def result(self) -> np.ndarray:
        """The fused image, same shape as the slices, float32 in [0, 1]."""
        if self._acc is None:
            raise ValueError("no slices were added")
        fused = cv2.divide(self._acc, _expand_channels(self._weight, self._acc))
        return np.clip(fused, 0.0, 1.0)


class PyramidFusion:
    """Laplacian-pyramid fusion with max-energy selection per band.

    Args:
        levels: number of band-pass levels; ``None`` picks as many as leave the coarsest
            level at least 16 pixels on its short side (at most 8).
        energy_window: side in pixels of the window over which band energy is summed.
        power: power of the soft blend used for the coarsest level.
    """

    def __init__(self, *, levels: int | None = None, energy_window: int = 5, power: float = 8.0) -> None:
        self.levels, self.energy_window = levels, energy_window
        self._top = SoftBlend(power=power)
        self._bands: list[np.ndarray] = []
        self._energy: list[np.ndarray] = []

    def update(self, image: np.ndarray, focus: np.ndarray) -> None:
        """Add one slice (H x W [x 3] float32) with its focus map (H x W float32 >= 0)."""
        if self.levels is None:
            self.levels = _auto_levels(image.shape[:2])
        bands, top = _laplacian_pyramid(image, self.levels)
        top_focus = cv2.resize(focus, top.shape[1::-1], interpolation=cv2.INTER_AREA)
        self._top.update(top, top_focus)
        for level, band in enumerate(bands):
            energy = self._band_energy(band)
            if level == len(self._bands):
                self._bands.append(band)
                self._energy.append(energy)
                continue
            better = cv2.compare(energy, self._energy[level], cv2.CMP_GT)
            self._bands[level] = cv2.copyTo(band, better, self._bands[level])
            self._energy[level] = cv2.copyTo(energy, better, self._energy[level])

    def _band_energy(self, band: np.ndarray) -> np.ndarray:
        squared = cv2.multiply(band, band)
        if squared.ndim == 3:  # sum over channels (cv2.transform is ~10x faster than numpy here)
            squared = cv2.transform(squared, np.ones((1, squared.shape[2]), np.float32))
        size = (self.energy_window, self.energy_window)
        return cv2.boxFilter(squared, cv2.CV_32F, size, borderType=cv2.BORDER_REFLECT)

    def result(self) -> np.ndarray:
        """The fused image, float32 in [0, 1]."""
        image = self._top.result()
        for band in reversed(self._bands):
            image = cv2.add(cv2.pyrUp(image, dstsize=band.shape[1::-1]), band)
        return np.clip(image, 0.0, 1.0)


def _laplacian_pyramid(image: np.ndarray, levels: int) -> tuple[list[np.ndarray], np.ndarray]:
    bands, current = [], image
    for _ in range(levels):
        smaller = cv2.pyrDown(current)
        bands.append(cv2.subtract(current, cv2.pyrUp(smaller, dstsize=current.shape[1::-1])))
        current = smaller
    return bands, current


def _auto_levels(shape: tuple[int, int]) -> int:
    short = min(shape)
    return int(max(1, min(8, np.floor(np.log2(max(short, 2) / 16)))))


def _expand_channels(weights: np.ndarray, like: np.ndarray) -> np.ndarray:
    """An H x W map repeated to the channels of ``like`` (OpenCV does not broadcast)."""
    return cv2.merge([weights] * like.shape[2]) if like.ndim == 3 else weights


def make_fusion(name: str, *, power: float = 8.0):
    """A fresh fusion accumulator by name (``"soft"`` or ``"pyramid"``)."""
    if name == "soft":
        return SoftBlend(power=power)
    if name == "pyramid":
        return PyramidFusion(power=power)
    raise ValueError(f"unknown fusion {name!r}; use one of {', '.join(FUSIONS)}")
