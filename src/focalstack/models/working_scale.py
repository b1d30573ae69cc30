"""The resolution a network works at: bring a stack's defocus blur into the range the network was trained on.

A network sees blur through its receptive field. The released networks were trained on stacks whose largest
defocus blur (the circle of confusion of the farthest focus position seen from the nearest one and vice
versa) is 7-30 pixels; a full-resolution photograph of the same scene has several times that (a 12-megapixel
phone frame has about four times the pixels across of the training stacks' camera). On copies of the
real-image benchmark upsampled 4x, ``aifdepthnet_light`` at full resolution loses its lead over ``sml`` on
the phone; run at a quarter of the size it keeps it (``benchmarks/bench_resolution.py``, docs/benchmarks.md).

:func:`network_scale` picks the factor from the stack's camera and focus distances (the thin-lens circle of
confusion), or from its size when they are unknown; :func:`upsample_result` brings the network's depth,
confidence and slice index back to the full frame and fuses the all-in-focus image from the full-resolution
slices, so no output loses pixels.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from ..optics.thin_lens import coc_diameter_m
from ..stack import DepthResult, FocalStack
from ..units import from_blur_coordinate, to_blur_coordinate

#: Largest defocus blur, in pixels across the circle of confusion, that a network is run at: about the 95th
#: percentile of the released networks' training stacks (the real-image mix: 24 px phone, 27 px DSLR macro,
#: 30 px microscope), so the stacks they were trained and benchmarked on keep their full resolution.
TRAINED_BLUR_PX = 28.0
#: The diagonal of a 36 x 24 mm frame, on which 35 mm-equivalent focal lengths are defined.
FULL_FRAME_DIAGONAL_MM = 43.27
#: Without the camera and focus distances the blur is unknown: the network then sees at most this many pixels
#: along the longer side. On the 2048 x 1536 microscope stack of ``shared/data/microscope_pcb`` (no focus
#: information), ``aifdepthnet_light`` at full size marks board texture as near and far; at 1024 px it gives
#: a smooth board and a sharp-edged switch (docs/benchmarks.md).
UNKNOWN_BLUR_LONG_SIDE = 1024
#: Factors closer to 1 than this are not worth a resampling.
MIN_GAIN = 0.9


def largest_blur_px(stack: FocalStack) -> float | None:
    """The stack's largest circle of confusion in pixels (the far end of the sweep seen focused at the near end,
    or the reverse), or None when it cannot be known: focus positions not in metres or diopters, or no focal
    length, f-number or pixel pitch (``stack.json``'s camera block or EXIF; the pitch may also come from the
    sensor width or the 35 mm-equivalent focal length, defined on the 43.27 mm diagonal)."""
    camera = stack.camera
    if stack.unit not in ("m", "diopter") or camera is None or not camera.focal_length_mm or not camera.f_number:
        return None
    pitch_um = camera.pixel_pitch_for(stack.shape[1])
    if pitch_um is None and camera.focal_length_35mm:  # EXIF's 35 mm equivalent: the crop factor gives the sensor
        height, width = stack.shape
        pitch_um = 1000.0 * FULL_FRAME_DIAGONAL_MM * camera.focal_length_mm / camera.focal_length_35mm / math.hypot(
            height, width)
    if not pitch_um:
        return None
    metres = 1.0 / to_blur_coordinate(np.asarray(stack.focus_positions, dtype=np.float64), stack.unit)
    near, far = float(metres.min()), float(metres.max())
    focal_m = camera.focal_length_mm * 1e-3
    if near <= focal_m:
        return None
    blur = max(coc_diameter_m(far, focus_distance_m=near, focal_length_mm=camera.focal_length_mm,
                              f_number=camera.f_number),
               coc_diameter_m(near, focus_distance_m=far, focal_length_mm=camera.focal_length_mm,
                              f_number=camera.f_number))
    return float(blur) / (pitch_um * 1e-6)


def network_scale(stack: FocalStack, *, target_blur_px: float = TRAINED_BLUR_PX) -> float:
    """The factor (0 < s <= 1) to resize ``stack`` by before a network sees it: ``target_blur_px`` over the
    stack's largest blur (:func:`largest_blur_px`); when that is unknown, whatever brings the longer side to
    ``UNKNOWN_BLUR_LONG_SIDE`` pixels; 1 when the factor would be above ``MIN_GAIN``.

    Example:
        >>> from focalstack import Camera
        >>> camera = Camera(focal_length_mm=4.4, f_number=1.8, pixel_pitch_um=1.4)
        >>> stack = FocalStack(np.zeros((3, 64, 64), np.float32), [0.1, 0.15, 0.3], unit="m", camera=camera)
        >>> round(largest_blur_px(stack)), round(network_scale(stack), 2)
        (54, 0.52)
    """
    blur = largest_blur_px(stack)
    if blur is None:
        scale = UNKNOWN_BLUR_LONG_SIDE / max(stack.shape)
    else:
        scale = target_blur_px / blur
    return 1.0 if scale > MIN_GAIN else scale


def upsample_result(result: DepthResult, stack: FocalStack) -> DepthResult:
    """``result`` (from a resized copy of ``stack``) at ``stack``'s full size: depth interpolated in the blur
    coordinate (inverse depth for metres), confidence bilinearly, and the all-in-focus image fused from the
    full-resolution slices, each pixel blended from the two slices around its fractional in-focus index."""
    height, width = stack.shape
    blur = to_blur_coordinate(result.depth.astype(np.float64), result.unit).astype(np.float32)
    blur = cv2.resize(blur, (width, height), interpolation=cv2.INTER_LINEAR)
    positions = to_blur_coordinate(np.asarray(stack.focus_positions, dtype=np.float64), stack.unit)
    index = _fractional_index(blur, positions)
    result.depth = from_blur_coordinate(blur, stack.unit).astype(np.float32)
    result.confidence = np.clip(cv2.resize(result.confidence, (width, height), interpolation=cv2.INTER_LINEAR),
                                0, 1).astype(np.float32)
    result.slice_index = index
    result.all_in_focus = fuse_at_index(stack, index)
    return result


def _fractional_index(blur: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """Fractional slice index (0 = the first slice) of each blur coordinate, between the stack's positions."""
    steps = np.arange(len(positions), dtype=np.float64)
    if positions[-1] < positions[0]:
        positions, steps = positions[::-1], steps[::-1]
    return np.interp(blur, positions, steps).astype(np.float32)


def fuse_at_index(stack: FocalStack, index: np.ndarray) -> np.ndarray:
    """All-in-focus image from the full-resolution slices: each pixel is the linear blend of the two slices on
    either side of its fractional in-focus ``index``; reads one slice at a time."""
    total = None
    for k in range(len(stack)):
        weight = np.clip(1.0 - np.abs(index - k), 0.0, 1.0)
        if not weight.any():
            continue
        image = stack[k]
        part = image * (weight[..., None] if image.ndim == 3 else weight)
        total = part if total is None else total + part
    return np.clip(total, 0, 1).astype(np.float32)
