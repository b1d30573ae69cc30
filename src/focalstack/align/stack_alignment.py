"""One entry point for stack alignment: :func:`align`."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import InputError
from ..stack import FocalStack
from .ecc import refine_warps
from .metadata import breathing_warps
from .warps import identity_warps, warp_to_reference

METHODS = ("auto", "none", "metadata", "ecc", "metadata+ecc", "homography", "learned")


@dataclass
class Alignment:
    """An aligned stack and how it was aligned.

    Attributes:
        stack: the slices resampled into the reference slice's frame (same focus positions, unit,
            camera and names as the input).
        warps: N x 3 x 3 warps, reference frame pixel -> input slice pixel (:mod:`.warps`).
        method: the method that ran (``auto`` resolved).
        reference: index (near to far) of the slice whose frame the stack is now in.
    """

    stack: FocalStack
    warps: np.ndarray
    method: str
    reference: int


def align(stack: FocalStack, *, method: str = "auto", max_side: int = 512) -> Alignment:
    """Align a focal stack's slices into one frame.

    Methods:
        - ``"metadata"``: undo focus breathing from the focus distances and the focal length
          (:func:`~.metadata.breathing_warps`); needs metric focus positions (m or diopters) and
          ``camera.focal_length_mm``.
        - ``"ecc"``: affine ECC registration of each slice to its neighbour (:func:`~.ecc.refine_warps`),
          each starting from its neighbour's warp; for stacks without metadata (a microscope, a focus
          rail, a lens whose focal length is unknown).
        - ``"metadata+ecc"``: the metadata warps, then an ECC translation on top (the principal point
          and focus-distance errors the metadata cannot know).
        - ``"homography"``: ECC with a full homography (perspective too: a tilted sensor, a camera
          that moved between shots); each slice starts from its neighbour's warp, or, with the
          metadata, from both the metadata warp and no warp, keeping the better-correlated.
        - ``"learned"``: the metadata warp, then the residual magnification and shift of every slice
          against the reference from the learned 3-basis alignment network (:mod:`.learned`; Won & Jeon,
          ECCV 2022, section 3.1); as with ``auto``, the network also starts from no warp and each slice
          keeps the result that matches the reference better; without the metadata, the network along the
          slice chain, each slice against its aligned neighbour. Imports torch.
        - ``"auto"``: with the metadata, each slice refined by an ECC translation from both the
          metadata warp and no warp, keeping the better-correlated (lenses that do not breathe, such
          as a microscope focused by moving its stage, or a telecentric lens, stay unwarped); without
          it, ``ecc``.
        - ``"none"``: the stack as it is.

    Args:
        stack: the focal stack.
        method: one of :data:`METHODS`.
        max_side: ECC registration resolution (longest side, pixels).

    Returns:
        :class:`Alignment`; the reference frame is the nearest-focus slice's (the smallest field of
        view under focus breathing, so the aligned slices need no invented border). The aligned
        stack decodes and resamples a slice when it is read, so alignment keeps the library's
        constant memory: registration holds only grey copies of at most ``max_side`` pixels.

    Example:
        >>> from focalstack.stack import Camera
        >>> imgs = np.random.rand(3, 32, 32).astype(np.float32)
        >>> stack = FocalStack(imgs, [0.1, 0.3, 1.0], unit="m", camera=Camera(focal_length_mm=4.4))
        >>> result = align(stack, method="metadata")
        >>> result.warps[:, 0, 0].round(3)  # the farther focus sees a wider field
        array([1.  , 0.97, 0.96])
    """
    if method not in METHODS:
        raise InputError(f"unknown alignment method {method!r}; use one of {', '.join(METHODS)}")
    if method == "auto" and not has_breathing_metadata(stack):
        method = "ecc"
    if method == "none":
        return Alignment(stack, identity_warps(len(stack)), method, 0)
    identity = identity_warps(len(stack))
    # the metadata warp: required by the methods built on it, a second start for the others when available
    needed = method in ("metadata", "metadata+ecc", "auto")
    metadata = breathing_warps(focus_distances_m(stack), focal_length_mm=stack.camera.focal_length_mm,
                               shape=stack.shape) if needed or has_breathing_metadata(stack) else None
    starts = None if metadata is None else [metadata, identity]
    if method == "metadata":
        warps = metadata
    elif method == "metadata+ecc":
        warps = refine_warps(stack, metadata, motion="translation", max_side=max_side)
    elif method == "auto":
        warps = refine_warps(stack, starts, motion="translation", max_side=max_side)
    elif method == "ecc":
        warps = refine_warps(stack, None, motion="affine", max_side=max_side)
    elif method == "homography":
        warps = refine_warps(stack, starts, motion="homography", max_side=max_side)
    else:  # learned
        from .learned import learned_warps  # torch: imported only when asked for

        warps = learned_warps(stack, starts)
    return Alignment(_resampled(stack, warps), warps, method, 0)


def has_breathing_metadata(stack: FocalStack) -> bool:
    """Whether :func:`align` can undo focus breathing from ``stack``'s metadata."""
    return stack.unit in ("m", "diopter") and stack.camera is not None and bool(stack.camera.focal_length_mm)


def focus_distances_m(stack: FocalStack) -> np.ndarray:
    """The focus distances of a stack with breathing metadata, in metres (diopters inverted); InputError otherwise."""
    if not has_breathing_metadata(stack):
        raise InputError("alignment from metadata needs focus positions in metres or diopters and the camera's "
                         "focal length (stack.json camera.focal_length_mm or EXIF); use --align ecc instead")
    positions = np.asarray(stack.focus_positions, np.float64)
    if stack.unit == "m":
        return positions
    with np.errstate(divide="ignore"):
        return np.where(positions > 0, 1.0 / positions, np.inf)


def _resampled(stack: FocalStack, warps: np.ndarray) -> FocalStack:
    """The stack seen through its warps, decoded and resampled one slice at a time on access."""
    shape = stack.shape if stack.channels == 1 else (*stack.shape, stack.channels)
    return FocalStack.from_loader(lambda k: warp_to_reference(stack[k], warps[k]), [shape] * len(stack),
                                  stack.focus_positions, unit=stack.unit, camera=stack.camera, names=stack.names,
                                  bit_depth=stack.bit_depth)
