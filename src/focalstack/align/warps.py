"""Affine slice warps: the one convention every alignment method shares.

A warp is a 2 x 3 affine matrix ``W`` that maps a pixel of the *reference frame* to the pixel of a slice
that sees the same scene point, ``slice(W [x, y, 1]^T) ~ reference(x, y)`` (pixel centres at integer
coordinates, x to the right, y down). It is the convention of the simulator's exact warps
(:class:`~focalstack.simulate.SimulatedStack`) and of OpenCV's ``findTransformECC``, so estimated and
true warps compare directly. A stack's warps are an N x 2 x 3 float64 array.
"""

from __future__ import annotations

import cv2
import numpy as np


def identity_warps(n: int) -> np.ndarray:
    """N identity warps (N x 2 x 3 float64)."""
    return np.tile(np.eye(2, 3), (n, 1, 1))


def warp_to_reference(image: np.ndarray, warp: np.ndarray) -> np.ndarray:
    """Resample one slice (H x W or H x W x C, float32) into the reference frame with its 2 x 3 warp.

    Bilinear; pixels that fall outside the slice mirror its border (``BORDER_REFLECT101``).

    Example:
        >>> img = np.random.rand(8, 8).astype(np.float32)
        >>> np.allclose(warp_to_reference(img, np.eye(2, 3)), img)
        True
    """
    h, w = image.shape[:2]
    out = cv2.warpAffine(image, np.asarray(warp, np.float64), (w, h), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                         borderMode=cv2.BORDER_REFLECT101)
    return out.reshape(image.shape)


def compose(outer: np.ndarray, inner: np.ndarray) -> np.ndarray:
    """The warp ``x -> outer(inner(x))`` of two 2 x 3 warps."""
    return (homogeneous(outer) @ homogeneous(inner))[:2]


def invert(warp: np.ndarray) -> np.ndarray:
    """The inverse of a 2 x 3 warp."""
    return np.linalg.inv(homogeneous(warp))[:2]


def relative_to(warps: np.ndarray, reference: int) -> np.ndarray:
    """Warps re-expressed in slice ``reference``'s frame: ``W_n o W_reference^-1`` (N x 2 x 3).

    Used to compare warps estimated into one slice's frame with exact warps into another frame.
    """
    back = invert(warps[reference])
    return np.stack([compose(w, back) for w in warps])


def point_shifts_px(a: np.ndarray, b: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Distances in pixels between where warps ``a`` and ``b`` (... x 2 x 3) send the four corners and
    the centre of a reference frame of ``shape`` = (H, W); shape ... x 5."""
    h, w = shape
    points = np.array([[0, 0, 1], [w - 1, 0, 1], [0, h - 1, 1], [w - 1, h - 1, 1], [(w - 1) / 2, (h - 1) / 2, 1]])
    diff = np.einsum("...ij,pj->...pi", np.asarray(a, np.float64) - np.asarray(b, np.float64), points)
    return np.linalg.norm(diff, axis=-1)


def warp_error_px(estimated: np.ndarray, true: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Alignment error of each of N estimated warps against the true ones: the mean of
    :func:`point_shifts_px` over the corners and the centre (N values, pixels)."""
    return point_shifts_px(estimated, true, shape).mean(axis=-1)


def homogeneous(warp: np.ndarray) -> np.ndarray:
    """A 2 x 3 warp as a 3 x 3 matrix."""
    return np.vstack([np.asarray(warp, np.float64), [0.0, 0.0, 1.0]])
