"""Image-based refinement of slice warps: ECC (Evangelidis & Psarakis 2008) through OpenCV.

Focus breathing is not all of a real stack's misalignment: the principal point wanders between slices
and the metadata focus distance is not exactly where the lens sat (Won & Jeon, ECCV 2022, section 3.1). Each slice is
registered to its neighbour nearer the reference, already resampled into the reference frame, by
maximising the enhanced correlation coefficient (invariant to gain and offset, so vignetting and
exposure changes do not matter), starting from the given warps (metadata or identity). Neighbours
differ least in blur, and a symmetric blur does not move a point, so correlation still peaks at the
right place. Registration runs on grey images downscaled to at most ``max_side`` pixels.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from .warps import homogeneous, identity_warps, point_shifts_px, warp_to_reference

# Side of the Gaussian ECC applies to both images: it evens out their different defocus. Measured on the
# suite (benchmarks/bench_align.py): 3 leaves up to 3 px errors on blurred microscope pairs, 11 under 0.3 px.
_SMOOTHING = 11
MOTIONS = {"translation": cv2.MOTION_TRANSLATION, "affine": cv2.MOTION_AFFINE, "homography": cv2.MOTION_HOMOGRAPHY}


def refine_warps(slices: Sequence[np.ndarray], warps: np.ndarray | Sequence[np.ndarray] | None = None, *,
                 reference: int = 0, motion: str = "translation", max_side: int = 512, iterations: int = 100,
                 max_change: float = 0.05) -> np.ndarray:
    """Refine N warps (N x 3 x 3 or N x 2 x 3, reference frame -> slice) by ECC, slice by slice outwards from
    ``reference``.

    Args:
        slices: N images H x W [x C], float32 in [0, 1]: an N x H x W [x C] array or any sequence,
            such as a lazily decoded :class:`~focalstack.stack.FocalStack` (each slice is read once
            and kept only as a grey image of at most ``max_side`` pixels).
        warps: initial warps (:func:`~.metadata.breathing_warps` or identities), or a list of
            alternative initial warps: each slice is refined from every alternative and keeps the
            one that correlates best (e.g. metadata warps and identities, for a lens that may or
            may not breathe). ``None``: each slice starts from its neighbour's refined warp (no
            prior; a slow drift such as breathing accumulates along the chain).
        reference: the slice whose frame is the reference (its warp is kept).
        motion: ``"translation"`` (refine a shift on top of the initial warp), ``"affine"``
            (also scale, shear, rotation: for stacks without metadata) or ``"homography"`` (also
            perspective: a tilted sensor, a camera that moved between slices).
        max_side: registration resolution, longest side in pixels.
        iterations: ECC iteration limit per slice.
        max_change: a refinement that moves any corner or the centre by more than this fraction
            of the image's longest side, or that does not converge, is discarded (its initial
            warp is kept, scored as the worst alternative).

    Returns:
        The refined N x 3 x 3 warps (float64).
    """
    if motion not in MOTIONS:
        raise ValueError(f"motion must be one of {', '.join(MOTIONS)}, got {motion!r}")
    h, w = np.asarray(slices[0]).shape[:2]
    small = [grey_copy(s, max_side) for s in slices]
    scale = pixel_scale((w, h), small[0].shape[::-1])
    chained = warps is None
    warps = identity_warps(len(small)) if chained else warps
    inits = [homogeneous(w) for w in (warps if isinstance(warps, (list, tuple)) else [warps])]
    out = inits[0].copy()
    for n in [*range(reference + 1, len(small)), *range(reference - 1, -1, -1)]:
        neighbour = n - 1 if n > reference else n + 1
        template = warp_to_reference(small[neighbour], to_small(out[neighbour], scale))
        starts = [out[neighbour]] if chained else [init[n] for init in inits]
        tries = [_refine_one(template, small[n], start, scale, MOTIONS[motion], iterations, (h, w), max_change)
                 for start in starts]
        out[n] = tries[int(np.argmax([score for score, _ in tries]))][1]
    return out


def to_small(warp: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """A full-resolution warp in the pixel coordinates of a copy whose :func:`pixel_scale` is ``scale``."""
    return np.linalg.inv(scale) @ homogeneous(warp) @ scale


def _refine_one(template, moving, init: np.ndarray, scale: np.ndarray, motion: int, iterations: int,
                shape: tuple[int, int], max_change: float) -> tuple[float, np.ndarray]:
    """(correlation, full-resolution warp) of one ECC run from ``init`` on the downscaled pair; (-inf, init)
    when it fails or moves a point by more than ``max_change`` of the longest side of ``shape``."""
    score, found = _ecc(template, moving, to_small(init, scale), motion, iterations)
    if found is None:
        return -np.inf, init
    warp = scale @ homogeneous(found) @ np.linalg.inv(scale)
    warp /= warp[2, 2]
    if point_shifts_px(warp, init, shape).max() > max_change * max(shape) or not _keeps_orientation(warp, shape):
        return -np.inf, init
    return score, warp


def _keeps_orientation(warp: np.ndarray, shape: tuple[int, int]) -> bool:
    """Whether a warp keeps every point of the frame in front of the camera and unmirrored (a homography
    whose horizon crosses the image, or that folds it over, is a diverged registration)."""
    h, w = shape
    corners = np.array([[0, 0, 1], [w - 1, 0, 1], [0, h - 1, 1], [w - 1, h - 1, 1]], np.float64)
    depth = corners @ warp[2]
    return bool(np.all(depth > 0.5) and np.all(depth < 2.0) and np.linalg.det(warp) / warp[2, 2] ** 3 > 0)


def _ecc(template: np.ndarray, moving: np.ndarray, init: np.ndarray, motion: int, iterations: int):
    """(correlation, warp) of ECC from ``init`` (3 x 3), or (-inf, None) when it fails."""
    criteria = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, iterations, 1e-5)
    start = init if motion == cv2.MOTION_HOMOGRAPHY else init[:2]
    try:
        score, found = cv2.findTransformECC(template, moving, start.astype(np.float32), motion, criteria, None,
                                            _SMOOTHING)
    except cv2.error:  # no convergence, or a textureless pair
        return -np.inf, None
    return (float(score), found.astype(np.float64)) if np.all(np.isfinite(found)) else (-np.inf, None)


def grey_copy(image: np.ndarray, max_side: int, min_side: int = 8) -> np.ndarray:
    """A grey float32 copy of a slice, area-resized to at most ``max_side`` pixels on the long side (at least
    ``min_side`` on each). Resized first, then the channels averaged: the same linear map, a few times faster
    on a full-resolution photo."""
    image = np.asarray(image, np.float32)
    h, w = image.shape[:2]
    factor = max(1.0, max(h, w) / max_side)
    size = (max(min_side, round(w / factor)), max(min_side, round(h / factor)))
    if size != (w, h):
        image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(image.mean(axis=2) if image.ndim == 3 else image)


def pixel_scale(full: tuple[int, int], small: tuple[int, int]) -> np.ndarray:
    """3 x 3 map from a small image's pixel coordinates to the full image's (pixel centres kept)."""
    kx, ky = full[0] / small[0], full[1] / small[1]
    return np.array([[kx, 0, 0.5 * kx - 0.5], [0, ky, 0.5 * ky - 0.5], [0, 0, 1.0]])
