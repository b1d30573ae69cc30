"""Pixel convention: inside the library every image is float32 in [0, 1], never uint8 arithmetic."""

from __future__ import annotations

import cv2
import numpy as np

from .errors import InputError


def to_float_image(image: np.ndarray, *, name: str = "image") -> np.ndarray:
    """Convert an 8/16-bit or float image to float32 in [0, 1].

    Args:
        image: H x W or H x W x C array; uint8 (/255), uint16 (/65535), bool, or float
            already in [0, 1]. C is 1, 3 or 4 (alpha is dropped).
        name: how to call the image in error messages.

    Returns:
        float32 array, H x W or H x W x 3, values in [0, 1].

    Raises:
        InputError: other dtypes or channel counts, NaN/inf, float values outside [0, 1].
    """
    image = np.asarray(image)
    if image.ndim == 3 and image.shape[2] in (1, 4):
        image = image[..., 0] if image.shape[2] == 1 else image[..., :3]
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] != 3):
        raise InputError(f"{name} has shape {image.shape}; expected H x W or H x W x 3")
    if image.dtype == np.uint8:
        return image.astype(np.float32) * np.float32(1 / 255)
    if image.dtype == np.uint16:
        return image.astype(np.float32) * np.float32(1 / 65535)
    if image.dtype == np.bool_:
        return image.astype(np.float32)
    if not np.issubdtype(image.dtype, np.floating):
        raise InputError(f"{name} has unsupported pixel type {image.dtype}; use 8/16-bit or float")
    image = image.astype(np.float32, copy=False)
    if not np.isfinite(image).all():
        raise InputError(f"{name} contains NaN or infinite pixel values")
    lo, hi = float(image.min()), float(image.max())
    if lo < -1e-3 or hi > 1 + 1e-3:
        raise InputError(f"{name} is a float image with values in [{lo:.3g}, {hi:.3g}]; expected [0, 1]")
    return np.clip(image, 0.0, 1.0)


def scaled_size(height: int, width: int, scale: float) -> tuple[int, int]:
    """(height, width) of an image resized by ``scale`` (rounded, at least 1 pixel each)."""
    return max(1, round(height * scale)), max(1, round(width * scale))


def resize_image(image: np.ndarray, scale: float) -> np.ndarray:
    """An H x W [x C] float image resized by ``scale`` (area averaging when shrinking); ``scale`` 1 returns it."""
    if scale == 1:
        return image
    h, w = scaled_size(image.shape[0], image.shape[1], scale)
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    return cv2.resize(image, (w, h), interpolation=interpolation)
