"""DDFF 12-Scene (Hazirbas et al., "Deep Depth From Focus", ACCV 2018), read from its HDF5 files.

Download and preparation (URLs as published; nothing is fetched by this module):

- Benchmark page: https://hazirbas.com/datasets/ddff12scene/ ; toolbox (refocusing, camera
  parameters): https://github.com/hazirbas/ddff-toolbox
- ``ddff-dataset-trainval.h5`` (12.6 GB) and ``ddff-dataset-test.h5`` (761 MB) from
  https://vision.in.tum.de/webarchive/hazirbas/ddff12scene/ (as linked from
  https://github.com/soyers/ddff-pytorch). No conversion: point the loader at either file or at
  the folder holding them. The test split has no public ground truth (it is scored by the
  CodaLab competition 17807), so its samples have ``depth=None``.

On-disk format: datasets ``stack_<split>`` (N x 10 x H x W x 3 uint8, H x W = 383 x 552) and
``disp_<split>`` (N x H x W float disparity in pixels; a singleton channel axis is squeezed) for
``split`` in ``train`` / ``val`` (trainval file) and ``test`` (test file, stacks only). Slices are
read one at a time straight from the file (h5py), so a sample costs one slice of memory.

Conventions applied:

- **Focus positions** (unit ``"disparity"``): the ten refocusing disparities of the official
  toolbox (``ddff-toolbox/utility/python/refocus.py``): ``linspace(b f / 0.5, b f / 7, 10)`` for
  focus distances 0.5 m to 7 m, b = K2 / flens * 1e-3 with K2 = 1982.0250823695178, flens =
  7317.020641763665 (the calibration values quoted in AiFDepthNet ``test.py`` and DfFintheWild
  ``test_Dataloader.py``) and f = 521.4052 px, i.e. 0.28247 ... 0.020177 px. Slice k of the file
  is focused at the k-th value (nearest first). DFV (``fuy34/DFV``, ``dataloader/DDFF12.py``)
  uses the rounded ``linspace(0.28, 0.02, 10)`` instead; its values differ by < 0.003 px and we
  keep the exact ones. The README of ``soyers/ddff-pytorch`` likewise gives the disparity range
  [0.0202, 0.2825].
- **Validity**: zero disparity marks missing ground truth (the official ``calmetrics`` by
  Hazirbas, in ``ddff-pytorch`` ``BaseDDFFEval.py`` and DFV ``eval_DDFF12.py``: ``ignore_zero``).
  ``within_focus_range=True`` additionally drops ground truth outside the focus range (the
  ``*_fp`` metrics of AiFDepthNet ``test.py``); the official protocol does not.
- **Evaluation window**: the official evaluation (``BaseDDFFEval.evaluate``, DFV
  ``eval_DDFF12.py``) pads the network input to 384 x 576 (a multiple of 32) and crops the
  prediction back to ``image_size = (383, 552)``, i.e. it scores the **whole original frame**; so
  no crop is applied by default (padding is a model's business, not the dataset's). ``crop=(h, w)``
  keeps the top-left h x w window of slices, ground truth and mask: ``(383, 552)`` restores the
  official window from a file saved padded, ``(256, 256)`` reproduces DFV's validation during
  training (``[:256, :256]``), which is not the benchmark protocol.
- **Channel order**: slices are taken as stored, as RGB (DFV and ``ddff-pytorch`` normalise them
  with RGB ImageNet statistics). AiFDepthNet swaps channels before saving DDFF all-in-focus
  images, which suggests the file may hold BGR; ``swap_rb=True`` swaps red and blue if you find so.
  Depth from focus hardly depends on it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ...errors import InputError
from ...stack import FocalStack
from .base import Sample, Window, apply_window, as_bool, as_size, check_split, register_loader, window_shape

_BASELINE_M = 1982.0250823695178 / 7317.020641763665 * 1e-3  # K2 / flens * 1e-3
_FOCAL_PX = 521.4052
FOCUS_DISTANCES_M = (0.5, 7.0)  # nearest and farthest refocusing distance of the toolbox
#: The ten refocusing disparities in pixels, nearest (0.2825) first, as slice k of the file.
DISPARITIES = np.linspace(*(_BASELINE_M * _FOCAL_PX / z for z in FOCUS_DISTANCES_M), 10)
SPLITS = ("train", "val", "test")


class _H5File:
    """An HDF5 file opened on first use and reopened after pickling (h5py handles do not pickle)."""

    def __init__(self, path: Path) -> None:
        self.path, self._file = path, None

    def __getitem__(self, key: str):
        return self._open()[key]

    def keys(self) -> set[str]:
        return set(self._open().keys())

    def _open(self):
        if self._file is None:
            import h5py

            try:
                self._file = h5py.File(self.path, "r")
            except OSError as exc:
                raise InputError(f"DDFF-12: cannot read {self.path} as HDF5: {exc}") from None
        return self._file

    def __getstate__(self) -> dict:
        return {"path": self.path, "_file": None}


class _H5Slices:
    """Loader of slice k of stack ``index`` (uint8 -> float32 [0, 1]), cropped to ``window``."""

    def __init__(self, h5: _H5File, key: str, index: int, window: Window | None, swap_rb: bool) -> None:
        self.h5, self.key, self.index, self.window, self.swap_rb = h5, key, index, window, swap_rb

    def __call__(self, k: int) -> np.ndarray:
        top, left, height, width = self.window or (0, 0, None, None)
        rows = slice(top, None if height is None else top + height)
        cols = slice(left, None if width is None else left + width)
        pixels = np.asarray(self.h5[self.key][self.index, k, rows, cols])  # reads only this window
        if self.swap_rb:
            pixels = pixels[..., ::-1]
        return np.ascontiguousarray(pixels, dtype=np.float32) * np.float32(1 / 255)


@register_loader("ddff12")
class DDFF12:
    """DDFF 12-Scene focal stacks with disparity ground truth, read lazily from HDF5.

    Args:
        root: ``ddff-dataset-trainval.h5`` / ``ddff-dataset-test.h5``, or a folder holding them
            (the first ``*.h5`` that has ``stack_<split>`` is used).
        split: ``"train"``, ``"val"`` (with ground truth) or ``"test"`` (no ground truth).
        crop: optional (height, width) top-left window in pixels, e.g. ``(383, 552)``; default none.
        within_focus_range: also mark ground truth outside [0.0202, 0.2825] px invalid.
        swap_rb: swap the red and blue channels of the slices.

    Each sample: 10 slices of H x W x 3 float32 in [0, 1] (383 x 552 for the official files),
    focus positions :data:`DISPARITIES` in ``"disparity"`` (px); ``depth`` H x W float32
    disparity in px, ``valid`` = disparity > 0; no all-in-focus image.

    Raises:
        InputError: missing file or datasets, unexpected shapes, bad options.
    """

    def __init__(self, root: str | Path, *, split: str = "val", crop=None, within_focus_range=False,
                 swap_rb=False) -> None:
        self.split = check_split(split, SPLITS, "ddff12")
        self.crop = as_size(crop, name="crop")
        self.within_focus_range = as_bool(within_focus_range, name="within_focus_range")
        self.swap_rb = as_bool(swap_rb, name="swap_rb")
        path = _find_file(Path(root), split)
        self._h5 = _H5File(path)
        self._stack_key, self._disp_key = _keys(self._h5.keys(), split, path)
        self._count, self._shape = _check_stacks(self._h5[self._stack_key].shape, path, self._stack_key)
        self._window = _top_left_window(self._shape, self.crop)

    def __len__(self) -> int:
        return self._count

    def __getitem__(self, index: int) -> Sample:
        if not 0 <= index < self._count:
            raise IndexError(f"sample {index} out of range for {self._count} samples")
        names = [f"slice {k} ({d:.4f} px)" for k, d in enumerate(DISPARITIES)]
        slices = _H5Slices(self._h5, self._stack_key, index, self._window, self.swap_rb)
        shape = window_shape(self._shape, self._window)
        stack = FocalStack.from_loader(slices, [shape] * len(DISPARITIES), DISPARITIES, unit="disparity",
                                       names=names, bit_depth=8)
        depth = self._disparity(index)
        return Sample(name=f"ddff12/{self.split}/{index:04d}", stack=stack, depth=depth,
                      valid=None if depth is None else self._valid(depth))

    def _disparity(self, index: int) -> np.ndarray | None:
        if self._disp_key is None:
            return None
        disp = np.asarray(self._h5[self._disp_key][index], dtype=np.float32).squeeze()
        if disp.shape != self._shape[:2]:
            raise InputError(f"{self._disp_key}[{index}] has shape {disp.shape}, expected {self._shape[:2]}")
        return np.ascontiguousarray(apply_window(disp, self._window))

    def _valid(self, disp: np.ndarray) -> np.ndarray:
        valid = np.isfinite(disp) & (disp > 0)
        if self.within_focus_range:
            valid &= (disp >= DISPARITIES.min()) & (disp <= DISPARITIES.max())
        return valid


def _find_file(root: Path, split: str) -> Path:
    if root.is_file():
        return root
    if not root.is_dir():
        raise InputError(f"DDFF-12: {root} does not exist")
    for path in sorted(root.glob("*.h5")):
        keys = _H5File(path).keys()
        if f"stack_{split}" in keys or f"stacks_{split}" in keys:
            return path
    raise InputError(f"DDFF-12: no .h5 file in {root} holds the {split!r} split (stack_{split})")


def _keys(keys: set[str], split: str, path: Path) -> tuple[str, str | None]:
    stack_key = next((k for k in (f"stack_{split}", f"stacks_{split}") if k in keys), None)
    if stack_key is None:
        raise InputError(f"DDFF-12: {path} has no dataset stack_{split} (it has {', '.join(sorted(keys))})")
    disp_key = f"disp_{split}" if f"disp_{split}" in keys else None
    if disp_key is None and split != "test":
        raise InputError(f"DDFF-12: {path} has no ground truth disp_{split} for the {split!r} split")
    return stack_key, disp_key


def _check_stacks(shape: tuple[int, ...], path: Path, key: str) -> tuple[int, tuple[int, int, int]]:
    if len(shape) != 5 or shape[1] != len(DISPARITIES) or shape[4] != 3:
        raise InputError(f"DDFF-12: {path}:{key} has shape {shape}; expected N x 10 x H x W x 3")
    return shape[0], (shape[2], shape[3], 3)


def _top_left_window(shape: tuple[int, ...], size: tuple[int, int] | None) -> Window | None:
    if size is None:
        return None
    if size[0] > shape[0] or size[1] > shape[1]:
        raise InputError(f"DDFF-12: crop {size[1]}x{size[0]} is larger than the {shape[1]}x{shape[0]} slices")
    return 0, 0, size[0], size[1]
