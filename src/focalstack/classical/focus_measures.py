"""Focus measures: per-pixel sharpness of one slice, averaged over a square window.

Each measure maps a grey float32 image (H x W, values in [0, 1]) to a non-negative float32
map of the same size; larger means sharper. The window (odd, pixels) sets the area each
value averages over: larger windows are more robust to noise and blur depth edges more.

- ``sml``: sum-modified-Laplacian (Nayar & Nakagawa 1994), |d2I/dx2| + |d2I/dy2|.
- ``tenengrad``: squared Sobel gradient magnitude (Tenenbaum 1970).
- ``variance``: local grey-level variance.
- ``rdf``: ring difference filter (Jeon et al., TIP 2019): |inner disc mean - ring mean|,
  with a one-pixel gap between disc and ring, which makes it robust to noise.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

import cv2
import numpy as np

_SECOND_DIFF = np.array([[-1.0, 2.0, -1.0]], dtype=np.float32)


def sum_modified_laplacian(gray: np.ndarray, window: int) -> np.ndarray:
    """Sum-modified-Laplacian: window mean of |2I - I(x-1) - I(x+1)| + |2I - I(y-1) - I(y+1)|."""
    dxx = cv2.filter2D(gray, cv2.CV_32F, _SECOND_DIFF, borderType=cv2.BORDER_REFLECT)
    dyy = cv2.filter2D(gray, cv2.CV_32F, _SECOND_DIFF.T, borderType=cv2.BORDER_REFLECT)
    ml = cv2.add(cv2.absdiff(dxx, 0.0), cv2.absdiff(dyy, 0.0))
    return _window_mean(ml, window)


def tenengrad(gray: np.ndarray, window: int) -> np.ndarray:
    """Tenengrad: window mean of the squared 3x3 Sobel gradient magnitude."""
    gx = cv2.Sobel(gray, cv2.CV_32F, 1, 0, ksize=3, borderType=cv2.BORDER_REFLECT)
    gy = cv2.Sobel(gray, cv2.CV_32F, 0, 1, ksize=3, borderType=cv2.BORDER_REFLECT)
    return _window_mean(cv2.add(cv2.multiply(gx, gx), cv2.multiply(gy, gy)), window)


def local_variance(gray: np.ndarray, window: int) -> np.ndarray:
    """Grey-level variance over the window: E[I^2] - E[I]^2 (clipped at 0)."""
    mean = _window_mean(gray, window)
    mean_sq = _window_mean(cv2.multiply(gray, gray), window)
    return np.maximum(cv2.subtract(mean_sq, cv2.multiply(mean, mean)), 0.0)


def ring_difference(gray: np.ndarray, window: int, *, inner_radius: int = 1, ring_radii=(3, 4)) -> np.ndarray:
    """Ring difference filter: window mean of |mean(inner disc) - mean(ring)|.

    The zero-sum kernel averages a disc of ``inner_radius`` pixels and subtracts the
    average of a ring between ``ring_radii`` (pixels), leaving a gap between them.
    """
    kernel = _rdf_kernel(inner_radius, tuple(ring_radii))
    response = cv2.filter2D(gray, cv2.CV_32F, kernel, borderType=cv2.BORDER_REFLECT)
    return _window_mean(cv2.absdiff(response, 0.0), window)


@lru_cache(maxsize=8)
def _rdf_kernel(inner_radius: int, ring_radii: tuple[int, int]) -> np.ndarray:
    r_in, r_out = ring_radii
    if not 0 <= inner_radius < r_in <= r_out:
        raise ValueError(f"need 0 <= inner_radius < ring radii, got {inner_radius}, {ring_radii}")
    y, x = np.mgrid[-r_out : r_out + 1, -r_out : r_out + 1]
    radius = np.hypot(x, y)
    disc = (radius <= inner_radius + 0.5).astype(np.float32)
    ring = ((radius >= r_in - 0.5) & (radius <= r_out + 0.5)).astype(np.float32)
    return disc / disc.sum() - ring / ring.sum()


def _window_mean(image: np.ndarray, window: int) -> np.ndarray:
    return cv2.boxFilter(image, cv2.CV_32F, (window, window), borderType=cv2.BORDER_REFLECT)


FOCUS_MEASURES: dict[str, Callable[[np.ndarray, int], np.ndarray]] = {
    "sml": sum_modified_laplacian,
    "tenengrad": tenengrad,
    "variance": local_variance,
    "rdf": ring_difference,
}


def focus_measure(image: np.ndarray, *, measure: str = "sml", window: int = 9) -> np.ndarray:
    """Per-pixel sharpness of one image.

    Args:
        image: H x W or H x W x 3 (RGB) float32 in [0, 1]; colour is reduced to grey.
        measure: one of :data:`FOCUS_MEASURES` (``sml``, ``tenengrad``, ``variance``, ``rdf``).
        window: odd side of the averaging window in pixels, >= 1.

    Returns:
        H x W float32 >= 0, larger = sharper.

    Example:
        >>> img = np.random.default_rng(0).random((32, 32), dtype=np.float32)
        >>> bool(focus_measure(img).mean() > focus_measure(cv2.GaussianBlur(img, (0, 0), 2)).mean())
        True
    """
    check_measure(measure, window)
    return FOCUS_MEASURES[measure](to_gray(image), window)


def check_measure(measure: str, window: int) -> None:
    """Raise ``ValueError`` for an unknown measure or a window that is not odd and >= 1."""
    if measure not in FOCUS_MEASURES:
        raise ValueError(f"unknown focus measure {measure!r}; use one of {', '.join(FOCUS_MEASURES)}")
    if not (isinstance(window, (int, np.integer)) and window >= 1 and window % 2 == 1):
        raise ValueError(f"window must be an odd integer >= 1, got {window!r}")


def to_gray(image: np.ndarray) -> np.ndarray:
    """Luma of an RGB float image (Rec. 601 weights); grey images pass through."""
    return cv2.cvtColor(image, cv2.COLOR_RGB2GRAY) if image.ndim == 3 else image
