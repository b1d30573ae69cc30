"""Point spread functions: Gaussian, anti-aliased disc, light-field grid, or a user-supplied kernel shape.

A defocus PSF is parametrised by the circle-of-confusion radius R in pixels
(:func:`focalstack.optics.thin_lens.coc_radius_px`):

- ``"disc"``: the geometric-optics PSF, a uniform disc of radius R; per-axis standard
  deviation R / 2.
- ``"gaussian"``: the smooth stand-in used by Si et al. (CVPR 2023), with standard
  deviation ``sigma = sigma_per_radius * R``. The default 0.5 gives the Gaussian the same
  second moment as the disc of radius R; ``sigma_per_radius=1`` is the choice sigma = R.
- ``"lightfield"``: a light field of V x V sub-aperture views refocused by shift-and-add (the
  4D Light Field benchmark's 9 x 9 protocol, V = :data:`LIGHTFIELD_VIEWS`): a square grid of V^2
  equally weighted points at ``R * (u, v) / ((V - 1) / 2)``, u, v in -(V-1)/2 .. (V-1)/2, the
  outermost views at +-R in x and y (a thin lens with a square synthetic aperture of view
  samples); per-axis standard deviation R sqrt((V + 1) / (3 (V - 1))), R sqrt(5/12) for V = 9.
  R is the refocus disparity difference |d - d_f| * (V - 1) / 2 in pixels.
- a 2-D array: the shape of the PSF (e.g. a measured hexagonal aperture), given at its own
  half-width; it is resampled to each radius.

All kernels are odd-sized, non-negative and sum to 1. They are discretised for images whose
pixels are linearly interpolated (the PSF is splatted onto the pixel grid with tent weights), so
a zero-size PSF is exactly one pixel and sub-pixel blur grows smoothly with the radius instead
of vanishing below half a pixel.
"""

from __future__ import annotations

import math
from functools import lru_cache

import cv2
import numpy as np

PSFS = ("gaussian", "disc", "lightfield")
DEFAULT_SIGMA_PER_RADIUS = 0.5
LIGHTFIELD_VIEWS = 9  # views per axis of the named "lightfield" PSF (the 4D Light Field benchmark's 9 x 9)


def gaussian_psf(sigma_px: float, *, radius_px: int | None = None) -> np.ndarray:
    """Normalised 2-D Gaussian PSF kernel, (2r+1) x (2r+1) float64, r = ceil(3 sigma) + 1 by default.

    Discretised like every kernel here (see :func:`_splat`): per-axis variance sigma^2 + 1/6
    for sigma >~ 1, exactly one pixel at sigma = 0, and smooth in between.

    Example:
        >>> k = gaussian_psf(1.0); k.shape, round(float(k.sum()), 6)
        ((9, 9), 1.0)
    """
    if sigma_px < 0:
        raise ValueError(f"sigma_px must be >= 0, got {sigma_px}")
    r = int(math.ceil(3 * sigma_px)) + 1 if radius_px is None else int(radius_px)
    if sigma_px < 1e-3:
        return _delta(r)
    return _splat(lambda u2: np.exp(-0.5 * u2 / (sigma_px * sigma_px)), r)


def disc_psf(radius_px: float, *, size_px: int | None = None, supersample: int = 12) -> np.ndarray:
    """Normalised disc PSF of radius ``radius_px`` (geometric defocus), anti-aliased.

    Discretised like every kernel here (see :func:`_splat`): per-axis variance R^2/4 + 1/6 for
    R >~ 1, exactly one pixel at R = 0, and growing smoothly with R in between.

    Example:
        >>> k = disc_psf(2.0); k.shape, round(float(k.sum()), 6), bool(k[3, 3] == k.max())
        ((7, 7), 1.0, True)
    """
    if radius_px < 0:
        raise ValueError(f"radius_px must be >= 0, got {radius_px}")
    r = int(math.ceil(radius_px)) + 1 if size_px is None else (size_px - 1) // 2
    if radius_px < 0.5 / supersample:
        return _delta(r)
    return _splat(lambda u2: (u2 <= radius_px * radius_px).astype(np.float64), r, supersample=supersample)


def lightfield_psf(radius_px: float, *, views: int = LIGHTFIELD_VIEWS, size_px: int | None = None) -> np.ndarray:
    """Normalised light-field refocus PSF: a ``views`` x ``views`` grid of points spanning +-R.

    View (u, v), u, v in -(V-1)/2 .. (V-1)/2, images a point at offset R * (u, v) / ((V-1)/2)
    pixels with weight 1/V^2 (shift-and-add refocusing). Each point is splatted with bilinear
    (tent) weights, the kernel that bilinear shift-and-add produces: exactly one pixel at R = 0,
    per-axis variance R^2 (V+1) / (3 (V-1)) plus the tents' (between 0 and 1/4). Separable: the
    outer product of one 1-D row with itself.

    Args:
        radius_px: R, offset of the outermost views in pixels, >= 0.
        views: V, views per axis, >= 2.
        size_px: odd output size; default 2 ceil(R) + 3 (half-width ceil(R) + 1).

    Returns:
        (2r+1) x (2r+1) float64, non-negative, symmetric, sums to 1.

    Example:
        >>> k = lightfield_psf(2.0); k.shape, round(float(k.sum()), 6), round(float(k[3, 3]), 6)
        ((7, 7), 1.0, 0.049383)
    """
    if not (isinstance(views, (int, np.integer)) and views >= 2):
        raise ValueError(f"views must be an integer >= 2, got {views!r}")
    if not radius_px >= 0:
        raise ValueError(f"radius_px must be >= 0, got {radius_px}")
    r = int(math.ceil(radius_px)) + 1 if size_px is None else (size_px - 1) // 2
    row = _tent(radius_px * np.linspace(-1.0, 1.0, views), r).sum(axis=0)  # views splatted on one axis
    if row.sum() <= 0:
        raise ValueError(f"no view of radius {radius_px} falls inside a kernel of size {2 * r + 1}")
    row = row / row.sum()
    return np.outer(row, row)


def _delta(r: int) -> np.ndarray:
    out = np.zeros((2 * r + 1, 2 * r + 1))
    out[r, r] = 1.0
    return out


def _splat(density, r: int, *, supersample: int = 12) -> np.ndarray:
    """Discretise a continuous radial PSF for images whose pixels are linearly interpolated.

    The PSF is sampled on a fine grid (``supersample`` points per pixel) and each sample is
    splatted onto the pixel grid with bilinear (tent) weights: the exact kernel for a scene
    that is the linear interpolation of its pixels, blurred, then sampled at pixel centres.
    Separable as ``T^T W T`` with T the fine-to-pixel tent matrix.
    """
    fine = np.arange(-(r + 1) * supersample, (r + 1) * supersample + 1) / supersample
    weights = density(fine[:, None] ** 2 + fine[None, :] ** 2)
    tent = _tent(fine, r)  # fine x pixels
    kernel = tent.T @ weights @ tent
    return kernel / kernel.sum()


def _tent(points: np.ndarray, r: int) -> np.ndarray:
    """Bilinear (tent) weights of 1-D points (pixels) on the pixel centres -r..r: P x (2r+1)."""
    centres = np.arange(-r, r + 1)
    return np.clip(1.0 - np.abs(points[:, None] - centres[None, :]), 0.0, None)


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
    """The kernel's own size parameter for a CoC radius: sigma for Gaussian, radius otherwise (disc,
    light field, custom)."""
    return sigma_per_radius * radius_px if isinstance(psf, str) and psf == "gaussian" else radius_px


def psf_kernel(psf, size: float, *, kernel_radius_px: int | None = None) -> np.ndarray:
    """One kernel of the given family at its size parameter (sigma or radius, pixels).

    Args:
        psf: ``"gaussian"``, ``"disc"``, ``"lightfield"`` (:data:`LIGHTFIELD_VIEWS` per axis) or a
            2-D array (custom shape).
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
    elif psf == "lightfield":
        kernel = lightfield_psf(size, size_px=None if kernel_radius_px is None else 2 * kernel_radius_px + 1)
    else:
        kernel = disc_psf(size, size_px=None if kernel_radius_px is None else 2 * kernel_radius_px + 1)
    kernel.setflags(write=False)
    return kernel


def kernel_extent_px(psf, size: float) -> int:
    """Half-width in pixels that holds the PSF of the given size parameter: ceil(3 sigma) + 1 for the
    Gaussian, ceil(R) + 1 otherwise (disc, light field, custom)."""
    if isinstance(psf, str) and psf == "gaussian":
        return int(math.ceil(3 * size)) + 1
    return int(math.ceil(size)) + 1
