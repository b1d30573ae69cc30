"""Slice warps: the one convention every alignment method shares.

A warp is a 3 x 3 matrix ``W`` (a homography; affine warps have the last row ``0 0 1``) that maps a pixel
of the *reference frame* to the pixel of a slice that sees the same scene point,
``slice(W [x, y, 1]^T) ~ reference(x, y)`` after division by the third coordinate (pixel centres at integer
coordinates, x to the right, y down). It is the convention of OpenCV's ``findTransformECC`` and of the
simulator's exact warps (:class:`~focalstack.simulate.SimulatedStack`, stored as their 2 x 3 affine part),
so estimated and true warps compare directly. A stack's warps are an N x 3 x 3 float64 array; every
function here also takes 2 x 3 affine warps.
"""

from __future__ import annotations

import cv2
import numpy as np


def identity_warps(n: int) -> np.ndarray:
    """N identity warps (N x 3 x 3 float64)."""
    return np.tile(np.eye(3), (n, 1, 1))


def homogeneous(warp: np.ndarray) -> np.ndarray:
    """A warp (... x 2 x 3 affine or ... x 3 x 3) as ... x 3 x 3 float64 matrices."""
    warp = np.asarray(warp, np.float64)
    if warp.shape[-2:] == (3, 3):
        return warp.copy()
    if warp.shape[-2:] != (2, 3):
        raise ValueError(f"a warp is 2 x 3 or 3 x 3, got shape {warp.shape}")
    last = np.broadcast_to([0.0, 0.0, 1.0], (*warp.shape[:-2], 1, 3))
    return np.concatenate([warp, last], axis=-2)


def is_affine(warp: np.ndarray, tol: float = 1e-12) -> bool:
    """Whether a warp (or every warp of a stack) is affine: no perspective terms."""
    w = homogeneous(warp)
    return bool(np.all(np.abs(w[..., 2, :2]) <= tol) and np.allclose(w[..., 2, 2], 1.0, atol=tol))


def warp_to_reference(image: np.ndarray, warp: np.ndarray, *, nearest: bool = False) -> np.ndarray:
    """Resample one slice (H x W or H x W x C, float32) into the reference frame with its warp.

    Bilinear (nearest neighbour with ``nearest``: depth maps, masks); pixels that fall outside the slice
    mirror its border (``BORDER_REFLECT101``).

    Example:
        >>> img = np.random.rand(8, 8).astype(np.float32)
        >>> np.allclose(warp_to_reference(img, np.eye(3)), img)
        True
    """
    h, w = image.shape[:2]
    matrix = homogeneous(warp)
    flags = (cv2.INTER_NEAREST if nearest else cv2.INTER_LINEAR) | cv2.WARP_INVERSE_MAP
    if is_affine(matrix):
        out = cv2.warpAffine(image, matrix[:2], (w, h), flags=flags, borderMode=cv2.BORDER_REFLECT101)
    else:
        out = cv2.warpPerspective(image, matrix, (w, h), flags=flags, borderMode=cv2.BORDER_REFLECT101)
    return out.reshape(image.shape)


def compose(outer: np.ndarray, inner: np.ndarray) -> np.ndarray:
    """The warp ``x -> outer(inner(x))`` (3 x 3)."""
    return homogeneous(outer) @ homogeneous(inner)


def invert(warp: np.ndarray) -> np.ndarray:
    """The inverse of a warp (3 x 3)."""
    return np.linalg.inv(homogeneous(warp))


def relative_to(warps: np.ndarray, reference: int) -> np.ndarray:
    """Warps re-expressed in slice ``reference``'s frame: ``W_n o W_reference^-1`` (N x 3 x 3).

    Used to compare warps estimated into one slice's frame with exact warps into another frame.
    """
    back = invert(np.asarray(warps)[reference])
    return np.stack([compose(w, back) for w in warps])


def apply(warp: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Where warps (... x 3 x 3 or ... x 2 x 3) send points (P x 2): ... x P x 2 pixel coordinates."""
    points = np.asarray(points, np.float64)
    ones = np.ones((len(points), 1))
    mapped = np.einsum("...ij,pj->...pi", homogeneous(warp), np.hstack([points, ones]))
    return mapped[..., :2] / mapped[..., 2:]


def point_shifts_px(a: np.ndarray, b: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Distances in pixels between where warps ``a`` and ``b`` (... x 2 x 3 or ... x 3 x 3) send the four
    corners and the centre of a reference frame of ``shape`` = (H, W); shape ... x 5."""
    h, w = shape
    points = np.array([[0, 0], [w - 1, 0], [0, h - 1], [w - 1, h - 1], [(w - 1) / 2, (h - 1) / 2]])
    return np.linalg.norm(apply(a, points) - apply(b, points), axis=-1)


def warp_error_px(estimated: np.ndarray, true: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Alignment error of each of N estimated warps against the true ones: the mean of
    :func:`point_shifts_px` over the corners and the centre (N values, pixels)."""
    return point_shifts_px(estimated, true, shape).mean(axis=-1)
