"""Tiled network inference: any image size within a memory budget.

A network needs memory for every slice of the pixels it sees at once, about ``(a N + b)`` bytes per
pixel for N slices (each registered variant's measured ``memory`` cost). When the whole frame does not
fit in the budget, the stack is cut into square tiles that overlap by :data:`OVERLAP` pixels; each tile
goes through the network with all its slices, and the tiles' depth (in the blur coordinate), all-in-focus
image and confidence are blended with weights that ramp linearly across the overlaps (feathering), so no
seam shows. The slices are read once into a 16-bit cache (in memory, or in a temporary file when that
would take more than half the budget), from which the tiles are cut.

Networks see the focus positions of the whole stack in every tile, so the depth scale is the same
everywhere; what differs from a whole-frame run is only the context a tile's border pixels see.
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from ..errors import InputError
from ..memory import format_bytes
from ..stack import DepthResult, FocalStack
from .base import FocalStackNet, depth_result, device_of
from .registry import DEFAULT_MEMORY

OVERLAP = 64
SAFETY = 1.25  # margin on the measured per-pixel cost
INPUT_BYTES = 24  # float32 RGB slice pixels, twice (the array and its contiguous tensor copy)
FIXED_BYTES = 512 * 2**20  # the interpreter, libraries and weights
ACCUMULATOR_BYTES = 32  # per pixel: depth, weights, confidence, all-in-focus (float32)
MIN_TILE = 128

ProgressCallback = Callable[[int, int], None]


@dataclass(frozen=True)
class TilePlan:
    """How a stack is cut: square tiles of ``tile`` pixels overlapping by ``overlap`` pixels; the slices'
    cache is held in memory or, with ``cache_on_disk``, in a temporary file."""

    tile: int
    overlap: int
    cache_on_disk: bool = False

    def windows(self, height: int, width: int) -> list[tuple[slice, slice]]:
        """The tiles' (rows, columns), covering the frame; the last ones end at the border."""
        return [(rows, cols) for rows in _spans(height, self.tile, self.overlap)
                for cols in _spans(width, self.tile, self.overlap)]


def frame_bytes(model: FocalStackNet, slices: int, pixels: int) -> float:
    """Estimated peak bytes of one forward pass over ``pixels`` pixels of ``slices`` slices."""
    per_slice, fixed = getattr(model, "memory_per_pixel", DEFAULT_MEMORY)  # unregistered models: the cautious cost
    return SAFETY * ((per_slice + INPUT_BYTES) * slices + fixed) * pixels


def plan_tiles(model: FocalStackNet, stack: FocalStack, budget: int, *, tile: int | None = None) -> TilePlan | None:
    """The tiling of ``stack`` for ``model`` within ``budget`` bytes, or None when the whole frame fits.

    ``tile`` forces a tile side (rounded to the network's size multiple). Raises :class:`InputError`
    when even a :data:`MIN_TILE`-pixel tile cannot fit.
    """
    height, width = stack.shape
    n, multiple = len(stack), max(1, model.size_multiple)
    if tile is None and frame_bytes(model, n, height * width) + FIXED_BYTES <= budget:
        return None
    cache = n * height * width * stack.channels * 2
    on_disk = cache > budget / 2
    room = budget - FIXED_BYTES - ACCUMULATOR_BYTES * height * width - (0 if on_disk else cache)
    side = tile or int(math.sqrt(max(room, 0) / frame_bytes(model, n, 1)))
    side = max(multiple, side // multiple * multiple)
    if tile is None and side < MIN_TILE:
        need = frame_bytes(model, n, MIN_TILE**2) + FIXED_BYTES + ACCUMULATOR_BYTES * height * width
        raise InputError(f"the memory budget of {format_bytes(budget)} cannot hold one {MIN_TILE}x{MIN_TILE} tile of "
                         f"{n} slices for {getattr(model, 'model_name', 'this network')} (about {format_bytes(need)}); "
                         "raise --max-memory, downscale with --scale or use fewer slices")
    overlap = min(OVERLAP, side // 4 // multiple * multiple)
    return TilePlan(side, overlap, on_disk)


@torch.no_grad()
def predict_tiled(model: FocalStackNet, stack: FocalStack, plan: TilePlan, *, dihedral: bool = False,
                  progress: ProgressCallback | None = None) -> DepthResult:
    """:meth:`FocalStackNet.predict` tile by tile (module docstring); ``progress(done, total)`` per tile."""
    height, width = stack.shape
    with tempfile.TemporaryDirectory(prefix="focalstack-tiles-") as folder:
        cache = _cache_slices(stack, folder if plan.cache_on_disk else None)
        positions = torch.from_numpy(np.asarray(stack.blur_coordinates, np.float32))[None].to(device_of(model))
        windows = plan.windows(height, width)
        total = {"depth": np.zeros((height, width), np.float32), "confidence": np.zeros((height, width), np.float32),
                 "weight": np.zeros((height, width), np.float32)}
        for done, (rows, cols) in enumerate(windows, 1):
            crop = np.ascontiguousarray(cache[:, rows, cols]).astype(np.float32) / 65535
            slices = torch.from_numpy(crop.transpose(0, 3, 1, 2))[None].to(device_of(model))
            depth, aif, confidence = model.infer(slices, positions, dihedral=dihedral)
            weight = _feather(rows, cols, plan.overlap, height, width)
            _accumulate(total, rows, cols, weight, depth=depth, confidence=confidence, aif=aif)
            if progress:
                progress(done, len(windows))
        del cache
    weight = total.pop("weight")
    mean = {name: value / (weight[..., None] if value.ndim == 3 else weight) for name, value in total.items()}
    return depth_result(stack, mean["depth"], mean.get("aif"), mean["confidence"], method=type(model).__name__)


def _spans(size: int, tile: int, overlap: int) -> list[slice]:
    if size <= tile:
        return [slice(0, size)]
    step = tile - overlap
    starts = list(range(0, size - tile, step)) + [size - tile]
    return [slice(s, s + tile) for s in starts]


def _feather(rows: slice, cols: slice, overlap: int, height: int, width: int) -> np.ndarray:
    """Blending weights of a tile: a linear ramp over ``overlap`` pixels at every edge that is not the
    image's border (where no other tile overlaps), 1 inside."""
    return np.outer(_ramp(rows, overlap, height), _ramp(cols, overlap, width)).astype(np.float32)


def _ramp(span: slice, overlap: int, size: int) -> np.ndarray:
    n = span.stop - span.start
    ramp = np.ones(n, np.float32)
    if overlap:
        edge = (np.arange(overlap, dtype=np.float32) + 0.5) / overlap
        if span.start > 0:
            ramp[:overlap] = np.minimum(ramp[:overlap], edge)
        if span.stop < size:
            ramp[-overlap:] = np.minimum(ramp[-overlap:], edge[::-1])
    return ramp


def _accumulate(total: dict, rows: slice, cols: slice, weight: np.ndarray, **outputs) -> None:
    for name, value in outputs.items():
        if value is None:
            continue
        if name not in total:
            total[name] = np.zeros((*total["weight"].shape, *value.shape[2:]), np.float32)
        total[name][rows, cols] += value * (weight[..., None] if value.ndim == 3 else weight)
    total["weight"][rows, cols] += weight


def _cache_slices(stack: FocalStack, folder: str | None) -> np.ndarray:
    """N x H x W x C uint16 copy of the slices (each decoded once), in memory or memory-mapped in ``folder``."""
    height, width = stack.shape
    shape = (len(stack), height, width, stack.channels)
    cache = (np.lib.format.open_memmap(f"{folder}/slices.npy", mode="w+", dtype=np.uint16, shape=shape)
             if folder else np.empty(shape, np.uint16))
    for k, image in enumerate(stack):
        cache[k] = np.rint(np.clip(image.reshape(height, width, -1), 0, 1) * 65535)
    return cache
