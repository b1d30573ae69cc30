"""Point spread functions: Gaussian, anti-aliased disc, or a user-supplied kernel shape.

A defocus PSF is parametrised by the circle-of-confusion radius R in pixels
(:func:`focalstack.optics.thin_lens.coc_radius_px`):

- ``"disc"``: the geometric-optics PSF, a uniform disc of radius R, anti-aliased by exact-ish
  pixel coverage (supersampled); per-axis standard deviation R / 2.
- ``"gaussian"``: the smooth stand-in used by ``003_c13972046b5f2f80.txt``, with standard
  deviation ``sigma = sigma_per_radius * R``. The default 0.5 gives the Gaussian the same
  second moment as the disc of radius R; ``sigma_per_radius=1`` is the choice sigma = R.
- a 2-D array: the shape of the PSF (e.g. a measured hexagonal aperture), given at its own
  half-width; it is resampled to each radius.

All kernels are odd-sized, non-negative and sum to 1.
"""

from __future__ import annotations

import math
from functools import lru_cache

import cv2
import numpy as np

PSFS = ("gaussian", "disc")
DEFAULT_SIGMA_PER_RADIUS = 0.5


def gaussian_psf(sigma_px: float, *, radius_px: int | None = None) -> np.ndarray:
    """Normalised 2-D Gaussian kernel, (2r+1) x (2r+1) float64, r = ceil(3 sigma) by default.

    Each pixel holds the Gaussian's integral over its area (not a point sample), like the disc's
    pixel coverage, so the per-axis variance is sigma^2 + 1/12 for sigma >~ 0.5 and the kernel
    tends to a single pixel as sigma goes to 0.

    Example:
        >>> k = gaussian_psf(1.0); k.shape, round(float(k.sum()), 6)
        ((7, 7), 1.0)
    """
    if sigma_px < 0:
        raise ValueError(f"sigma_px must be >= 0, got {sigma_px}")
    r = int(math.ceil(3 * sigma_px)) if radius_px is None else int(radius_px)
    g = _gaussian_1d(sigma_px, r)
    return np.outer(g, g)


def _gaussian_1d(sigma_px: float, radius: int) -> np.ndarray:
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    if sigma_px < 1e-3:
        return (x == 0).astype(np.float64)
    edges = np.append(x - 0.5, radius + 0.5) / (sigma_px * math.sqrt(2))
    cdf = np.array([math.erf(e) for e in edges])
    g = np.diff(cdf)
    return g / g.sum()


def disc_psf(radius_px: float, *, size_px: int | None = None, supersample: int = 9) -> np.ndarray:
    """Normalised anti-aliased disc of radius ``radius_px``: each pixel weighs its covered area.

    Coverage is computed on a ``supersample`` x ``supersample`` grid inside every pixel.
    A radius below half a pixel gives (nearly) a single pixel.

    Example:
        >>> k = disc_psf(2.0); k.shape, round(float(k.sum()), 6), bool(k[3, 3] == k.max())
        ((7, 7), 1.0, True)
    """
    if radius_px < 0:
        raise ValueError(f"radius_px must be >= 0, got {radius_px}")
    r = int(math.ceil(radius_px + 0.5)) if size_px is None else (size_px - 1) // 2
    radius = max(radius_px, 0.5 / math.sqrt(math.pi))  # never smaller than a pixel's worth of area
    offsets = (np.arange(supersample) + 0.5) / supersample - 0.5
    axis = np.arange(-r, r + 1, dtype=np.float64)
    fine = (axis[:, None] + offsets[None, :]).reshape(-1)
    inside = (fine[:, None] ** 2 + fine[None, :] ** 2) <= radius * radius
    coverage = inside.reshape(2 * r + 1, supersample, 2 * r + 1, supersample).mean(axis=(1, 3))
    return coverage / coverage.sum()


def custom_psf(kernel: np.ndarray, radius_px: float, *, size_px: int | None = None) -> np.ndarray:
    """Resample a user PSF shape (given at its own half-width) to radius ``radius_px``.

    Args:
        kernel: 2-D non-negative array, odd square; its half-width (size - 1) / 2 is its radius.
        radius_px: target radius in pixels; 0 gives a single pixel.
        size_px: odd output size; default 2 ceil(radius) + 3.
    """
    kernel = np.asarray(kernel, dtype=np.float64)
    if kernel.ndim != 2 or kernel.shape[0] != kernel.shape[1] or kernel.shape[0] % 2 == 0 or (kernel < 0).any():
        raise ValueError("a custom PSF must be a non-negative odd square 2-D array")
    r = int(math.ceil(radius_px)) + 1 if size_px is None else (size_px - 1) // 2
    if radius_px < 0.5 or kernel.shape[0] == 1:
        out = np.zeros((2 * r + 1, 2 * r + 1))
        out[r, r] = 1.0
        return out
    half = (kernel.shape[0] - 1) / 2
    scale = half / radius_px  # source pixels per target pixel
    axis = np.arange(-r, r + 1, dtype=np.float32) * scale + half
    map_x, map_y = np.meshgrid(axis, axis)
    out = cv2.remap(kernel.astype(np.float32), map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    out = np.maximum(out.astype(np.float64), 0)
    if out.sum() <= 0:
        raise ValueError("the custom PSF vanished when resampled")
    return out / out.sum()


def psf_size(psf, radius_px: float, *, sigma_per_radius: float = DEFAULT_SIGMA_PER_RADIUS) -> float:
    """The kernel's own size parameter for a CoC radius: sigma for Gaussian, radius otherwise."""
    return sigma_per_radius * radius_px if isinstance(psf, str) and psf == "gaussian" else radius_px


def psf_kernel(psf, size: float, *, kernel_radius_px: int | None = None) -> np.ndarray:
    """One kernel of the given family at its size parameter (sigma or radius, pixels).

    Args:
        psf: ``"gaussian"``, ``"disc"`` or a 2-D array (custom shape).
        size: sigma in pixels for ``"gaussian"``, radius in pixels otherwise.
        kernel_radius_px: half-width of the returned (2k+1)^2 kernel; default fits the PSF.
    """
    if isinstance(psf, str):
        if psf not in PSFS:
            raise ValueError(f"unknown PSF {psf!r}; use one of {', '.join(PSFS)} or a 2-D kernel")
        return _cached_kernel(psf, round(float(size), 6), kernel_radius_px)
    return custom_psf(psf, size, size_px=None if kernel_radius_px is None else 2 * kernel_radius_px + 1)


@lru_cache(maxsize=4096)
def _cached_kernel(psf: str, size: float, kernel_radius_px: int | None) -> np.ndarray:
    if psf == "gaussian":
        kernel = gaussian_psf(size, radius_px=kernel_radius_px)
    else:
        kernel = disc_psf(size, size_px=None if kernel_radius_px is None else 2 * kernel_radius_px + 1)
    kernel.setflags(write=False)
    return kernel


def kernel_extent_px(psf, size: float) -> int:
    """Half-width in pixels that holds the PSF of the given size parameter."""
    if isinstance(psf, str) and psf == "gaussian":
        return int(math.ceil(3 * size))
    return int(math.ceil(size + 0.5)) + (0 if isinstance(psf, str) else 1)
