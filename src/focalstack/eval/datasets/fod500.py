"""FoD500, the synthetic focal stacks of DefocusNet (Maximov et al., "Focus on Defocus", CVPR 2020).

Download and preparation (URLs as published; nothing is fetched by this module):

- The dataset archive linked from https://github.com/dvl-tum/defocus-net (README: Google Drive
  file ``1bR-WZQf44s0nsScC27HiEwaXPyEQ3-Dw``). Unzip; the folder ``fs_6/`` holds 500 scenes of
  256 x 256 px. Point the loader at ``fs_6`` (flat, as DefocusNet, DFV and AiFDepthNet read it)
  or at a folder with ``train/`` and ``test/`` subfolders (the layout DfFintheWild expects).
- Per scene NNNNNN (six digits): ``NNNNNN_00All.tif`` ... ``NNNNNN_04All.tif``, the five
  defocused slices (8-bit RGB TIFF; "All" does not mean all-in-focus: the archive has no
  all-in-focus images, see defocus-net issue #3), and ``NNNNNNDpt.exr``, depth in metres in the
  R channel (half float; DefocusNet ``util_func.read_dpt``).

Conventions applied:

- **Split**: scenes 0-399 train, 400-499 test (DefocusNet ``TRAIN_SPLIT`` 0.8 of 500; DFV
  ``FoD500Loader``: ``int(name[:6]) < 400``; AiFDepthNet ``DefocusNet_gen_txt.py``). With
  ``train/`` / ``test/`` subfolders, every scene of the split's folder is used.
- **Focus positions**: slice k (the k-th ``All.tif`` of a scene) is focused at
  [0.1, 0.15, 0.3, 0.7, 1.5][k] metres (DefocusNet README and ``run_training.py``), unit ``"m"``.
- **Validity**: finite depth > 0 and, with ``within_focus_range`` (default), 0.1 <= depth <= 1.5 m:
  the "exclude depths outside the focus range" protocol of AiFDepthNet ``test.py`` (``mask_fp``)
  followed by DfFintheWild (``FS6_dataset``: depths outside [0.1, 1.5] set to 0 and masked).
  DFV ``eval_FoD500.py`` differs: it *clips* ground truth and prediction to [0, 1.5] m (and
  stores both as uint16 PNG x 10^4) instead of masking, so its numbers count far pixels clipped
  to 1.5 m; we follow the masking protocol, which the published AiFDepthNet and DfFintheWild
  numbers use. DefocusNet's own training clips depth at 3 m, which does not concern evaluation.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from ...errors import InputError
from .base import Sample, as_bool, check_split, image_file_stack, read_exr_channels, register_loader

FOCUS_DISTANCES_M = np.array([0.1, 0.15, 0.3, 0.7, 1.5])
TRAIN_SCENES = 400  # ids 0..399 train, the rest test
SPLITS = ("train", "test")
_SLICE = re.compile(r"^(\d{6})_(\d{2})All\.tif$")
_DEPTH = re.compile(r"^(\d{6})Dpt\.exr$")


@register_loader("fod500")
class FoD500:
    """FoD500 (DefocusNet) scenes: 5 slices in metres and metric depth.

    Args:
        root: the ``fs_6`` folder (flat), or a folder with ``train/`` and ``test/`` subfolders.
        split: ``"test"`` (scenes 400-499) or ``"train"`` (scenes 0-399).
        within_focus_range: mark depth outside [0.1, 1.5] m invalid (default true).

    Each sample: 5 slices H x W x 3 float32 in [0, 1] (256 x 256), focus positions 0.1 ... 1.5 m;
    ``depth`` H x W float32 in metres; ``valid`` as described in the module docstring; no
    all-in-focus image.

    Raises:
        InputError: missing folder, a scene without its 5 slices or depth, no scenes in the split.
    """

    def __init__(self, root: str | Path, *, split: str = "test", within_focus_range=True) -> None:
        self.split = check_split(split, SPLITS, "fod500")
        self.within_focus_range = as_bool(within_focus_range, name="within_focus_range")
        root = Path(root)
        subfolder = (root / split).is_dir()
        folder = root / split if subfolder else root
        if not folder.is_dir():
            raise InputError(f"FoD500: {root} is not a folder")
        scenes = _scenes(folder)
        if not subfolder:
            scenes = {k: v for k, v in scenes.items() if (k < TRAIN_SCENES) == (split == "train")}
        if not scenes:
            raise InputError(f"FoD500: no {split} scenes (NNNNNNDpt.exr) in {folder}")
        self.ids = sorted(scenes)
        self._files = [scenes[i] for i in self.ids]

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, index: int) -> Sample:
        slices, depth_path = self._files[index]
        stack = image_file_stack(slices, FOCUS_DISTANCES_M, unit="m")
        depth = _read_depth(depth_path)
        if depth.shape != stack.shape:
            raise InputError(f"{depth_path} is {depth.shape[1]}x{depth.shape[0]}, the slices are "
                             f"{stack.shape[1]}x{stack.shape[0]}")
        return Sample(name=f"fod500/{self.split}/{self.ids[index]:06d}", stack=stack, depth=depth,
                      valid=self._valid(depth))

    def _valid(self, depth: np.ndarray) -> np.ndarray:
        valid = np.isfinite(depth) & (depth > 0)
        if self.within_focus_range:
            valid &= (depth >= FOCUS_DISTANCES_M.min()) & (depth <= FOCUS_DISTANCES_M.max())
        return valid


def _scenes(folder: Path) -> dict[int, tuple[list[Path], Path]]:
    """Scene id -> (its 5 slice files in focus order, its depth file)."""
    slices: dict[int, dict[int, Path]] = {}
    depths: dict[int, Path] = {}
    for path in folder.iterdir():
        if m := _SLICE.match(path.name):
            slices.setdefault(int(m[1]), {})[int(m[2])] = path
        elif m := _DEPTH.match(path.name):
            depths[int(m[1])] = path
    scenes = {}
    for scene, depth in depths.items():
        found = slices.get(scene, {})
        if sorted(found) != list(range(len(FOCUS_DISTANCES_M))):
            raise InputError(f"FoD500: scene {scene:06d} in {folder} needs slices _00 to _04All.tif, "
                             f"found {sorted(found)}")
        scenes[scene] = ([found[k] for k in sorted(found)], depth)
    return scenes


def _read_depth(path: Path) -> np.ndarray:
    """Depth in metres: the R channel (DefocusNet's reader), or the only channel of a one-channel file."""
    channels = read_exr_channels(path)
    name = "R" if "R" in channels else next(iter(channels)) if len(channels) == 1 else None
    if name is None:
        raise InputError(f"{path} has channels {sorted(channels)}; expected R (depth in metres)")
    return np.ascontiguousarray(channels[name], dtype=np.float32)
