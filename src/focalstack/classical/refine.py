"""Edge-aware refinement of a depth map guided by the all-in-focus image.

Depth from focus is reliable where there is texture and unknown where there is none.
Both refinements below spread reliable depth into unreliable pixels along image edges:

- ``guided``: confidence-weighted guided filter (He et al., TPAMI 2013) as normalised
  convolution: GF(depth x confidence) / GF(confidence), with the grey all-in-focus image
  as guide. OpenCV's ``ximgproc`` implementation.
- ``wmedian``: weighted median filter (Zhang et al., CVPR 2014) on pixels whose
  confidence is above a threshold, weights from the guide's colour similarity.

Refinement works on the blur coordinate (inverse depth for metric stacks), where
averaging is physically meaningful.
"""

from __future__ import annotations

import cv2
import numpy as np

from .focus_measures import to_gray

REFINEMENTS = ("none", "guided", "wmedian")


def refine_depth(
    depth: np.ndarray,
    confidence: np.ndarray,
    guide: np.ndarray,
    *,
    method: str = "guided",
    radius: int = 8,
    eps: float = 1e-4,
    min_confidence: float = 0.1,
) -> np.ndarray:
    """Edge-aware, confidence-aware smoothing of a depth map.

    Args:
        depth: H x W float32, in a coordinate where averaging is meaningful (inverse depth).
        confidence: H x W float32 in [0, 1].
        guide: H x W [x 3] float32 in [0, 1], normally the all-in-focus image.
        method: ``"guided"``, ``"wmedian"`` or ``"none"``.
        radius: filter radius in pixels.
        eps: guided-filter regularisation (squared intensity units; smaller keeps more edges).
        min_confidence: pixels below it do not vote in the weighted median.

    Returns:
        H x W float32 refined depth; pixels with no confident neighbour keep their value.
    """
    if method not in REFINEMENTS:
        raise ValueError(f"unknown refinement {method!r}; use one of {', '.join(REFINEMENTS)}")
    if radius < 1:
        raise ValueError(f"refinement radius must be >= 1, got {radius}")
    if method == "none":
        return depth
    gray = np.ascontiguousarray(to_gray(guide), dtype=np.float32)
    if method == "guided":
        return _confidence_guided(depth, confidence, gray, radius, eps)
    return _weighted_median(depth, confidence, gray, radius, min_confidence)


def _confidence_guided(depth, confidence, gray, radius, eps) -> np.ndarray:
    guided = cv2.ximgproc.createGuidedFilter(gray, radius, eps)
    weight = guided.filter(confidence)
    weighted = guided.filter(cv2.multiply(depth, confidence))
    trusted = weight > 1e-3
    return np.where(trusted, weighted / np.where(trusted, weight, 1.0), depth).astype(np.float32)


def _weighted_median(depth, confidence, gray, radius, min_confidence) -> np.ndarray:
    guide8 = np.clip(gray * 255 + 0.5, 0, 255).astype(np.uint8)
    mask = (confidence >= min_confidence).astype(np.uint8)
    if not mask.any():
        return depth
    out = cv2.ximgproc.weightedMedianFilter(guide8, depth.astype(np.float32), radius, sigma=25.5,
                                            weightType=int(cv2.ximgproc.WMF_EXP), mask=mask)
    return np.asarray(out, dtype=np.float32)
