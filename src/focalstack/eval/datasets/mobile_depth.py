"""Mobile Depth (Suwajanakorn, Hernandez and Seitz, "Depth from Focus with Your Mobile Phone", CVPR 2015).

Real hand-held phone focal stacks (balls, bottles, fruits, keyboard, metals, plants, telephone,
window, ...), without ground truth: a qualitative benchmark.

Download and preparation (nothing is fetched by this module):

- The authors' release (linked from the paper's project page) has aligned stacks
  (``Aligned/<figure>/<scene>/a00.jpg`` ...) and per-scene calibration
  (``Photos_Calibration_Results/calibration/<scene>/calibrated.txt``: one "focus_depth aperture"
  line per slice, then the focal length). DfFintheWild repackages scenes as one folder each
  (https://github.com/wcy199705/DfFintheWild, ``End_to_End/Datasets/balls/``): slices
  ``00.jpg`` ... ``09.jpg`` plus ``focus_distance.txt`` (one value per slice, same order) and
  ``focal_length.txt``. This loader reads that repackaging; to use the original release, copy a
  scene's aligned ``a*.jpg`` into a folder and write its calibrated focus depths, one per line
  and in slice order, to ``focus_distance.txt`` (AiFDepthNet ``test.py`` notes that the
  calibration of ``metals`` is listed in reverse slice order).

Conventions applied:

- **Scenes**: ``root`` is one scene folder (it holds ``focus_distance.txt``) or a folder of scene
  folders (sorted by name). Split: only ``"test"`` (all scenes).
- **Slices**: files named ``a<digits>.jpg|png`` (the original aligned frames) if the folder has
  any, else all images, in natural order (``a2`` before ``a10``) -- DfFintheWild
  ``End_to_End/Test_dataloader.py`` sorts the folder's PNG/JPEG names.
- **Focus positions**: the values of ``focus_distance.txt``, one per slice (count must match),
  as focus *distances* in relative units: the largest value is focused farthest (``balls``:
  7223525.79, i.e. about infinity, for ``00.jpg`` down to 10.0 for ``09.jpg``) and inverse depth
  is 1 / value, as DfFintheWild computes ``focus_dists = 1 / focus_distance``. Unit ``"m"``, but
  the scale is relative (the calibration is known only up to scale): depth maps come back in the
  same relative units, good for ordering and shape, not metres.
- **Border crop**: DfFintheWild removes ``H // 12`` rows and ``W // 12`` columns on every side
  (alignment leaves invalid borders); ``border_divisor`` (default 12; 0 for none) does the same.
- No ground truth: ``depth``, ``valid`` and ``all_in_focus`` are ``None``.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from ...errors import InputError
from ...io.images import IMAGE_SUFFIXES, image_header
from .base import Sample, Window, check_split, image_file_stack, natural_key, register_loader

FOCUS_FILE = "focus_distance.txt"
_ALIGNED = re.compile(r"^a\d+\.(jpe?g|png)$", re.IGNORECASE)


@register_loader("mobile_depth")
class MobileDepth:
    """Mobile Depth phone focal stacks (DfFintheWild repackaging), focus distances in relative units.

    Args:
        root: a scene folder (with ``focus_distance.txt``) or a folder of scene folders.
        split: ``"test"`` (every scene).
        border_divisor: crop ``H // border_divisor`` and ``W // border_divisor`` pixels from each
            side (default 12, DfFintheWild); 0 keeps the full frame.

    Each sample: N slices H x W x 3 float32 in [0, 1], focus positions in ``"m"`` (relative scale,
    near to far after sorting); no ground truth.

    Raises:
        InputError: no scenes, fewer than two slices, a focus file whose count or values are wrong.
    """

    def __init__(self, root: str | Path, *, split: str = "test", border_divisor: int = 12) -> None:
        self.split = check_split(split, ("test",), "mobile_depth")
        self.border_divisor = int(border_divisor)
        if self.border_divisor < 0 or self.border_divisor in (1, 2):
            raise InputError(f"border_divisor must be 0 (no crop) or at least 3, got {border_divisor}")
        root = Path(root)
        if not root.is_dir():
            raise InputError(f"Mobile Depth: {root} is not a folder")
        if (root / FOCUS_FILE).is_file():
            self.folders = [root]
        else:
            self.folders = sorted((p for p in root.iterdir() if (p / FOCUS_FILE).is_file()),
                                  key=lambda p: natural_key(p.name))
        if not self.folders:
            raise InputError(f"Mobile Depth: no scene folder with {FOCUS_FILE} in {root}")

    def __len__(self) -> int:
        return len(self.folders)

    def __getitem__(self, index: int) -> Sample:
        folder = self.folders[index]
        paths = slice_files(folder)
        distances = read_focus_distances(folder / FOCUS_FILE, len(paths))
        stack = image_file_stack(paths, distances, unit="m", window=self._window(paths[0]))
        return Sample(name=f"mobile_depth/{folder.name}", stack=stack)

    def _window(self, path: Path) -> Window | None:
        if not self.border_divisor:
            return None
        header = image_header(path)
        top, left = header.height // self.border_divisor, header.width // self.border_divisor
        return top, left, header.height - 2 * top, header.width - 2 * left


def slice_files(folder: Path) -> list[Path]:
    """The slices of a scene folder: ``a<digits>`` frames if present, else every image; natural order."""
    images = [p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES]
    aligned = [p for p in images if _ALIGNED.match(p.name)]
    paths = sorted(aligned or images, key=lambda p: natural_key(p.name))
    if len(paths) < 2:
        raise InputError(f"Mobile Depth: {folder} holds {len(paths)} image(s); a focal stack needs at least 2")
    return paths


def read_focus_distances(path: Path, count: int) -> np.ndarray:
    """One positive focus distance per line (blank lines ignored); exactly ``count`` values."""
    try:
        values = [float(line) for line in path.read_text().split("\n") if line.strip()]
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise InputError(f"cannot read {path}: {exc}") from None
    if len(values) != count:
        raise InputError(f"{path} has {len(values)} focus distances for {count} slices; give one per slice")
    distances = np.asarray(values, dtype=np.float64)
    if not (np.isfinite(distances).all() and (distances > 0).all()):
        raise InputError(f"{path}: focus distances must be positive numbers, got {values}")
    return distances
