"""The resolution a network works at: bring a stack's defocus blur into the range the network was trained on.

A network sees blur through its receptive field. The released networks were trained on stacks whose largest
defocus blur (the circle of confusion of the farthest focus position seen from the nearest one and vice
versa) is about 7-30 pixels. A full-resolution photograph often has several times that; a small image or a
short sweep may have only a few pixels. On copies of the real-image benchmark's development split resized by
4x, 1/2 and 1/4, ``aifdepthnet_light`` at the given size loses its lead over ``sml`` in both directions, and
keeps it when the stack is resized back into that range (``benchmarks/bench_resolution.py``,
docs/benchmarks.md).

:func:`network_scale` picks the factor from the stack's camera and focus distances (the thin-lens circle of
confusion), or from its size when they are unknown; :func:`full_size_result` brings the network's depth,
confidence and slice index back to the input's size and fuses the all-in-focus image from the full-resolution
slices, so no output loses pixels.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from ..io.depth_formats import slice_index_map
from ..optics.thin_lens import coc_diameter_m
from ..stack import DepthResult, FocalStack
from ..units import from_blur_coordinate, to_blur_coordinate

#: Largest defocus blur, in pixels across the circle of confusion, that a network is run at: about the 95th
#: percentile of the released networks' training stacks (the real-image mix: 24 px phone, 27 px DSLR macro,
#: 30 px microscope), so the stacks they were trained and benchmarked on keep their full resolution.
TRAINED_BLUR_PX = 28.0
#: Without the camera and focus distances the blur is unknown: the network then sees at most this many pixels
#: along the longer side. On the 2048 x 1536 microscope stack of ``shared/data/microscope_pcb`` (no focus
#: information), ``aifdepthnet_light`` at full size marks board texture as near and far; at 1024 px it gives
#: a smooth board and a sharp-edged switch (docs/benchmarks.md).
UNKNOWN_BLUR_LONG_SIDE = 1024
#: The diagonal of a 36 x 24 mm frame, on which 35 mm-equivalent focal lengths are defined.
FULL_FRAME_DIAGONAL_MM = 43.27
#: A stack whose largest blur is under ``SMALLEST_BLUR_PX`` is enlarged so that it becomes ``ENLARGED_BLUR_PX``
#: (up to ``MAX_UPSCALE`` and ``MAX_UPSCALED_SIDE``): too little blur is as far from the training stacks as too
#: much.
SMALLEST_BLUR_PX = 12.0
ENLARGED_BLUR_PX = 16.0
MAX_UPSCALE = 4.0
MAX_UPSCALED_SIDE = 2048
#: Factors closer to 1 than this (or than its inverse, enlarging) are not worth a resampling.
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


def network_scale(stack: FocalStack) -> float:
    """The factor to resize ``stack`` by before a network sees it: ``TRAINED_BLUR_PX`` over the stack's largest
    blur (:func:`largest_blur_px`) when that is larger; ``ENLARGED_BLUR_PX`` over it when it is under
    ``SMALLEST_BLUR_PX`` (at most ``MAX_UPSCALE``, and no longer side above ``MAX_UPSCALED_SIDE``); when the
    blur is unknown, whatever brings the longer side down to ``UNKNOWN_BLUR_LONG_SIDE`` pixels; 1 when the
    factor is within ``MIN_GAIN`` of it.

    Example:
        >>> from focalstack import Camera
        >>> camera = Camera(focal_length_mm=4.4, f_number=1.8, pixel_pitch_um=1.4)
        >>> stack = FocalStack(np.zeros((3, 64, 64), np.float32), [0.1, 0.15, 0.3], unit="m", camera=camera)
        >>> round(largest_blur_px(stack)), round(network_scale(stack), 2)
        (54, 0.52)
    """
    return scale_for_blur(largest_blur_px(stack), stack.shape)


def scale_for_blur(blur: float | None, shape: tuple[int, int]) -> float:
    """:func:`network_scale` of an image of ``shape`` (H, W) whose largest blur is ``blur`` px (None: unknown)."""
    if blur is None:
        scale = min(1.0, UNKNOWN_BLUR_LONG_SIDE / max(shape))
    elif blur > TRAINED_BLUR_PX:
        scale = TRAINED_BLUR_PX / blur
    elif blur < SMALLEST_BLUR_PX:
        scale = max(1.0, min(ENLARGED_BLUR_PX / blur, MAX_UPSCALE, MAX_UPSCALED_SIDE / max(shape)))
    else:
        scale = 1.0
    return 1.0 if MIN_GAIN < scale < 1 / MIN_GAIN else scale


def rescaled(stack: FocalStack, scale: float) -> FocalStack:
    """``stack`` resized by ``scale``: :meth:`FocalStack.resized` when shrinking, bicubic (clipped to [0, 1])
    when enlarging, decoded on demand; the camera's pixel pitch follows."""
    if scale <= 1:
        return stack.resized(scale)
    height, width = stack.shape
    shape = (round(height * scale), round(width * scale), *((stack.channels,) if stack.channels > 1 else ()))

    def load(k: int) -> np.ndarray:
        return np.clip(cv2.resize(stack[k], shape[1::-1], interpolation=cv2.INTER_CUBIC), 0, 1)

    larger = FocalStack.from_loader(load, [shape] * len(stack), stack.focus_positions, unit=stack.unit,
                                    camera=stack.camera.scaled(scale) if stack.camera is not None else None,
                                    names=stack.names)
    larger.scale, larger.encoding, larger.sources = stack.scale * scale, stack.encoding, stack.sources
    return larger


def full_size_result(result: DepthResult, stack: FocalStack) -> DepthResult:
    """``result`` (from a resized copy of ``stack``) at ``stack``'s size: depth resampled in the blur
    coordinate (inverse depth for metres), confidence likewise, and the all-in-focus image fused from the
    full-resolution slices, each pixel blended from the two slices around its fractional in-focus index."""
    height, width = stack.shape
    interpolation = cv2.INTER_LINEAR if width > result.depth.shape[1] else cv2.INTER_AREA
    blur = to_blur_coordinate(result.depth.astype(np.float64), result.unit).astype(np.float32)
    blur = cv2.resize(blur, (width, height), interpolation=interpolation)
    result.depth = from_blur_coordinate(blur, stack.unit).astype(np.float32)
    result.confidence = np.clip(cv2.resize(result.confidence, (width, height), interpolation=interpolation),
                                0, 1).astype(np.float32)
    result.slice_index = None  # the resized run's, if any: placed again from the full-size depth
    result.slice_index = slice_index_map(result)
    result.all_in_focus = fuse_at_index(stack, result.slice_index)
    return result


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
