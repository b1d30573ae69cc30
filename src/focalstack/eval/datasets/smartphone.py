"""Smartphone focal stacks of "Learning to Autofocus" (Herrmann et al., CVPR 2020), the DfF-in-the-Wild protocol.

Download and preparation (URLs as published; nothing is fetched by this module):

- Dataset and its readme ("LearnAF Dataset Readme.pdf") in the Google Cloud bucket
  https://storage.googleapis.com/cvpr2020-af-data/ (linked from the paper). Pixel 3 focal
  sweeps of 49 slices with depth and confidence from multi-view stereo; the magnification-
  corrected ("scaled") slices DfFintheWild reads are 504 x 378 (portrait).
- Arrange the parts as DfFintheWild (``train_codes/train_Dataloader.py``,
  ``Depth_Estimation_Test/test_Dataloader.py``) reads them, under one root (their
  ``Datasets/Real_data_DP/``): ``test/`` and ``train1/`` ... ``train7/``, each with
  ``scaled_images/<scene>/<j>/result_scaled_image_center.jpg`` for slices j = 0..48,
  ``merged_depth/<scene>/result_merged_depth_center.png`` and
  ``merged_conf/<scene>/result_merged_conf_center.exr``.

Conventions applied (all from DfFintheWild, whose Table 2 reports MAE* / MSE* on this data):

- **Split**: ``test`` = the ``test/`` part; ``train`` = all ``train*/`` parts; scenes sorted by name.
- **Slices**: ``num_slices`` (default 10) of the 49, at indices ``rint(linspace(0, 48, n))``
  (0, 5, 11, 16, 21, 27, 32, 37, 43, 48); ``num_slices=49`` keeps all.
- **Focus positions**: slice j is focused at :data:`FOCUS_DISTANCES_MM` [j] (3910.92 mm for j = 0
  down to 102.01 mm for j = 48, the table of the dataset readme as quoted by DfFintheWild).
  DfFintheWild works in inverse depth (``focus_dists = 1 / (mm * 0.001)``), so the unit here is
  ``"diopter"`` (1/m) and the ground truth is inverse depth too: the published MAE*/MSE* are in
  1/m even though the paper's table header says metres.
- **Depth**: the 8-bit PNG holds normalised inverse depth v in [0, 1] (v = value / 255); depth
  = 20 / (100 - (100 - 0.2) v) m, i.e. near 0.2 m at v = 0 and far 100 m at v = 1, and inverse
  depth = 5 - 4.99 v (1/m). (A 16-bit PNG would be normalised by 65535.)
- **Confidence** (``Sample.confidence``): the EXR channel OpenCV lists last (DfFintheWild reads
  ``[..., -1]`` of ``cv2.imread(..., IMREAD_UNCHANGED)``: A if present, else R; the only channel
  of a one-channel file), clipped to at most 1 (and at least 0). MAE* / MSE* are the
  confidence-weighted means ``sum(c |e|) / sum(c)`` over valid pixels.
- **Crop**: the centred 336 x 252 window (``[84:-84, 63:-63]`` of 504 x 378) of slices, depth,
  confidence and mask (``crop``; ``crop=None`` keeps the full frame).
- **Validity**: finite inverse depth inside the sweep's range [1/3.91092, 1/0.10201] 1/m
  (DfFintheWild ``min_depth`` / ``max_depth``) when ``within_focus_range`` (default).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from ...errors import InputError
from .base import (
    Sample,
    apply_window,
    as_bool,
    as_size,
    center_window,
    check_split,
    image_file_stack,
    read_exr_channels,
    register_loader,
)

#: Focus distance of sweep slice j in millimetres (far to near), from the dataset's readme.
FOCUS_DISTANCES_MM = (
    3910.92, 2289.27, 1508.71, 1185.83, 935.91, 801.09, 700.37, 605.39, 546.23, 486.87, 447.99, 407.40,
    379.91, 350.41, 329.95, 307.54, 291.72, 274.13, 261.53, 247.35, 237.08, 225.41, 216.88, 207.10,
    198.18, 191.60, 183.96, 178.29, 171.69, 165.57, 160.99, 155.61, 150.59, 146.81, 142.35, 138.98,
    134.99, 131.23, 127.69, 124.99, 121.77, 118.73, 116.40, 113.63, 110.99, 108.47, 106.54, 104.23,
    102.01,
)
NEAR_M, FAR_M = 0.2, 100.0  # the depth PNG's encoding range
DEFAULT_CROP = (336, 252)
SPLITS = ("train", "test")
_SLICE_FILE = "result_scaled_image_center.jpg"
_DEPTH_FILE = "result_merged_depth_center.png"
_CONF_FILE = "result_merged_conf_center.exr"


def slice_indices(num_slices: int) -> np.ndarray:
    """Sweep indices of ``num_slices`` evenly spread slices: ``rint(linspace(0, 48, n))``."""
    try:
        num_slices = int(num_slices)
    except (TypeError, ValueError):
        raise InputError(f"num_slices must be a whole number, got {num_slices!r}") from None
    if not 2 <= num_slices <= len(FOCUS_DISTANCES_MM):
        raise InputError(f"num_slices must be in [2, {len(FOCUS_DISTANCES_MM)}], got {num_slices}")
    return np.rint(np.linspace(0, len(FOCUS_DISTANCES_MM) - 1, num_slices)).astype(int)


def decode_inverse_depth(png: np.ndarray) -> np.ndarray:
    """Inverse depth in 1/m from the dataset's depth PNG (uint8 or uint16, normalised inverse depth)."""
    v = png.astype(np.float32) / np.float32(np.iinfo(png.dtype).max)
    return (1 / NEAR_M - (1 / NEAR_M - 1 / FAR_M) * v).astype(np.float32)


@register_loader("smartphone")
class Smartphone:
    """Learning-to-Autofocus focal stacks with inverse-depth ground truth and its confidence.

    Args:
        root: the folder holding ``test/`` and ``train1/`` ... ``train7/``.
        split: ``"test"`` or ``"train"``.
        num_slices: slices taken from the 49-slice sweep (default 10).
        crop: centred (height, width) window in pixels, default (336, 252); ``None`` for none.
        within_focus_range: mark inverse depth outside the sweep's range invalid (default true).

    Each sample: ``num_slices`` slices H x W x 3 float32 in [0, 1], focus positions in
    ``"diopter"`` (1/m); ``depth`` H x W float32 inverse depth (1/m); ``confidence`` H x W
    float32 in [0, 1]; ``valid`` as in the module docstring; no all-in-focus image.

    Raises:
        InputError: missing parts, scenes without slices, depth or confidence; bad options.
    """

    def __init__(self, root: str | Path, *, split: str = "test", num_slices: int = 10, crop=DEFAULT_CROP,
                 within_focus_range=True) -> None:
        self.split = check_split(split, SPLITS, "smartphone")
        self.indices = slice_indices(num_slices)
        self.crop = as_size(crop, name="crop")
        self.within_focus_range = as_bool(within_focus_range, name="within_focus_range")
        self.scenes = [(part, scene) for part in _parts(Path(root), split) for scene in _scene_names(part)]
        if not self.scenes:
            raise InputError(f"Smartphone: no scenes in the {split} part(s) under {root}")

    def __len__(self) -> int:
        return len(self.scenes)

    def __getitem__(self, index: int) -> Sample:
        part, scene = self.scenes[index]
        paths = [part / "scaled_images" / scene / str(j) / _SLICE_FILE for j in self.indices]
        missing = [p for p in paths if not p.is_file()]
        if missing:
            raise InputError(f"Smartphone: {missing[0]} is missing")
        depth_full = _read_depth(part / "merged_depth" / scene / _DEPTH_FILE)
        window = center_window(depth_full.shape, self.crop, what=f"scene {scene}")
        positions = 1000.0 / np.asarray(FOCUS_DISTANCES_MM)[self.indices]
        stack = image_file_stack(paths, positions, unit="diopter", window=window,
                                 names=[f"{scene}/{j}/{_SLICE_FILE}" for j in self.indices])
        depth = np.ascontiguousarray(apply_window(depth_full, window))
        if depth.shape != stack.shape:
            raise InputError(f"Smartphone: scene {scene}: depth {depth_full.shape} does not match the slices")
        confidence = np.ascontiguousarray(apply_window(_read_confidence(part / "merged_conf" / scene / _CONF_FILE,
                                                                        depth_full.shape), window))
        return Sample(name=f"smartphone/{part.name}/{scene}", stack=stack, depth=depth, valid=self._valid(depth),
                      confidence=confidence)

    def _valid(self, inverse_depth: np.ndarray) -> np.ndarray:
        valid = np.isfinite(inverse_depth)
        if self.within_focus_range:
            lo, hi = 1000.0 / max(FOCUS_DISTANCES_MM), 1000.0 / min(FOCUS_DISTANCES_MM)
            valid &= (inverse_depth >= lo) & (inverse_depth <= hi)
        return valid


def _parts(root: Path, split: str) -> list[Path]:
    if not root.is_dir():
        raise InputError(f"Smartphone: {root} is not a folder")
    parts = [root / "test"] if split == "test" else sorted(root.glob("train*"))
    parts = [p for p in parts if (p / "scaled_images").is_dir()]
    if not parts:
        where = "test/" if split == "test" else "train1/ ... train7/"
        raise InputError(f"Smartphone: {root} has no {where} with scaled_images/")
    return parts


def _scene_names(part: Path) -> list[str]:
    return sorted(p.name for p in (part / "scaled_images").iterdir() if p.is_dir())


def _read_depth(path: Path) -> np.ndarray:
    if not path.is_file():
        raise InputError(f"Smartphone: {path} is missing")
    png = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if png is None or png.dtype not in (np.uint8, np.uint16):
        raise InputError(f"Smartphone: {path} is not an 8- or 16-bit PNG")
    return decode_inverse_depth(png if png.ndim == 2 else png[..., 0])


def _read_confidence(path: Path, shape: tuple[int, int]) -> np.ndarray:
    channels = read_exr_channels(path)
    name = next(iter(channels)) if len(channels) == 1 else "A" if "A" in channels else "R"
    if name not in channels:
        raise InputError(f"{path} has channels {sorted(channels)}; expected R (or A) with the confidence")
    conf = np.clip(np.nan_to_num(channels[name]), 0.0, 1.0).astype(np.float32)
    if conf.shape != shape:
        raise InputError(f"{path} is {conf.shape[1]}x{conf.shape[0]}, the depth is {shape[1]}x{shape[0]}")
    return conf
