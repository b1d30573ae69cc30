"""4D Light Field Benchmark (Honauer et al., ACCV 2016) as focal stacks, the AiFDepthNet protocol.

Download and preparation (URLs as published; nothing is fetched by this module):

- Register at https://lightfield-analysis.uni-konstanz.de and download the scene archives
  (``training``, ``additional``, ``stratified``; per scene ``http://lightfield-analysis.net/
  benchmark/downloads/<scene>.zip``). Unzip them under one root, either flat
  (``root/<scene>/``) or by category (``root/additional/<scene>/`` as in the benchmark's
  ``full_data`` layout); scene folders are found up to two levels down. No other preparation:
  the focal stacks are rendered here from the views (AiFDepthNet instead pre-renders them into
  ``HCI_FS_trainval.h5`` with ``data/4D-Light-Field_Gen/FS_gen.py``).
- Per scene: ``input_Cam000.png`` ... ``input_Cam080.png`` (9 x 9 views of 512 x 512 RGB,
  row-major: view index = 9 * row + column, Cam040 the centre) and ``gt_disp_lowres.pfm``
  (disparity in px; read with :func:`focalstack.io.pfm.read_pfm`).

Conventions applied:

- **Split** (AiFDepthNet ``LF2hdf5.py`` + ``FS_gen.py``, reused by DfFintheWild): test = the four
  ``training``-category scenes boxes, cotton, dino, sideboard; train = the other 20 scenes with
  ground truth, i.e. the 16 ``additional`` scenes (antinous, boardgames, dishes, greek, kitchen,
  medieval2, museum, pens, pillows, platonic, rosemary, table, tomb, tower, town, vinyl) plus the
  4 ``stratified`` ones (backgammon, dots, pyramids, stripes). The ``test`` category (bedroom,
  bicycle, herbs, origami) has no public ground truth and is not used. ``scenes=`` overrides.
- **Focal stack**: 10 slices refocused by shift-and-add at disparities ``linspace(-2.5, 2.5, 10)``
  px (``FS_gen.py``), unit ``"disparity"``; all-in-focus = the centre view Cam040; depth = the
  ground-truth disparity.
- **Sign** (from ``FS_gen.py``: view (u, v) is shifted by ``(centre - (u, v)) * d`` with a Fourier
  shift that samples at ``x + shift``): view (u, v) sees the centre image displaced so that
  ``I_uv(y, x) = I_c(y + (u - 4) d, x + (v - 4) d)`` for a point of disparity d (positive
  disparity = nearer than the focal plane: it moves left in views to the right). Refocusing at
  delta averages ``I_uv(y - (u - 4) delta, x - (v - 4) delta)``, which is sharp exactly where
  delta = d. The known-answer test renders views with this model and checks that the sharpest
  slice agrees with the disparity; a real scene was not available to check it against here.
- **Interpolation**: bilinear sub-pixel shifts (OpenCV ``warpAffine``, replicated borders), sums
  in float32. The references shift with the Fourier phase theorem (sinc interpolation,
  circular borders) and store uint8 after truncation; slices therefore differ slightly in
  fine detail and within 10 px of the borders (the largest shift is 4 x 2.5 px).
- **Validity**: finite ground truth; with ``within_focus_range`` (default, DfFintheWild's
  ``HCI_dataset``) also only disparities inside [-2.5, 2.5]. AiFDepthNet reports both its
  all-pixel metrics and ``*_fp`` metrics restricted to that range.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import cv2
import numpy as np

from ...errors import InputError
from ...io.images import read_image
from ...io.pfm import read_pfm
from ...stack import FocalStack
from .base import Sample, as_bool, check_split, register_loader

GRID = 9
FOCUS_DISPARITIES = np.linspace(-2.5, 2.5, 10)
TEST_SCENES = ("boxes", "cotton", "dino", "sideboard")
ADDITIONAL_SCENES = ("antinous", "boardgames", "dishes", "greek", "kitchen", "medieval2", "museum", "pens",
                     "pillows", "platonic", "rosemary", "table", "tomb", "tower", "town", "vinyl")
STRATIFIED_SCENES = ("backgammon", "dots", "pyramids", "stripes")
SPLIT_SCENES = {"train": tuple(sorted(ADDITIONAL_SCENES + STRATIFIED_SCENES)), "test": TEST_SCENES}
CENTER_VIEW = "input_Cam040.png"
GT_FILE = "gt_disp_lowres.pfm"

ViewSource = np.ndarray | Callable[[int, int], np.ndarray]


def refocus(views: ViewSource, disparities: Sequence[float], *, grid: int = GRID) -> np.ndarray:
    """Shift-and-add refocusing of a square light field at the given disparities.

    Args:
        views: a grid x grid x H x W [x C] array (row, column, ...) or a function
            ``(row, column) -> H x W [x C]`` float image, called once per view (so views can be
            decoded one at a time).
        disparities: N refocusing disparities in px between neighbouring views.
        grid: views per side (9 for the 4D Light Field Benchmark); the centre is (grid - 1) / 2.

    Returns:
        N x H x W [x C] float32, slice k = mean over views of view (u, v) shifted by
        ``((u - c) d_k, (v - c) d_k)`` (rows, columns), bilinearly interpolated.

    Example:
        >>> lf = np.random.rand(3, 3, 8, 8).astype(np.float32)
        >>> refocus(lf, [0.0, 1.0], grid=3).shape
        (2, 8, 8)
    """
    get = views if callable(views) else (lambda u, v: views[u, v])
    center, acc = (grid - 1) / 2, None
    for u in range(grid):
        for v in range(grid):
            view = np.ascontiguousarray(get(u, v), dtype=np.float32)
            if acc is None:
                acc = np.zeros((len(disparities), *view.shape), np.float32)
            for k, d in enumerate(disparities):
                np.add(acc[k], _shift(view, dy=(u - center) * d, dx=(v - center) * d), out=acc[k])
    return acc / np.float32(grid * grid)


def _shift(image: np.ndarray, *, dy: float, dx: float) -> np.ndarray:
    """``out(y, x) = image(y - dy, x - dx)``, bilinear, borders replicated."""
    matrix = np.float32([[1, 0, -dx], [0, 1, -dy]])
    h, w = image.shape[:2]
    return cv2.warpAffine(image, matrix, (w, h), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_REPLICATE)


class _Views:
    """Decodes view (row, column) of a scene folder as float32 RGB in [0, 1]."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def __call__(self, u: int, v: int) -> np.ndarray:
        return read_image(self.folder / f"input_Cam{GRID * u + v:03d}.png")


@register_loader("hci4d")
class HCI4D:
    """4D Light Field Benchmark scenes as 10-slice focal stacks in disparity.

    Args:
        root: folder holding the scene folders (directly or one level down, by category).
        split: ``"test"`` (boxes, cotton, dino, sideboard) or ``"train"`` (the other 20).
        scenes: optional scene names (list or comma-separated text) replacing the split's list.
        within_focus_range: mark ground truth outside [-2.5, 2.5] px invalid (default true).

    Each sample: 10 slices H x W x 3 float32 in [0, 1] (512 x 512), focus positions
    :data:`FOCUS_DISPARITIES` (px, near to far after sorting); ``depth`` H x W float32 disparity
    (px) or ``None`` without ``gt_disp_lowres.pfm``; ``all_in_focus`` = centre view.
    Building a sample reads 81 views and renders 810 shifts (about a second at 512 x 512).

    Raises:
        InputError: unknown split, missing scenes or views, ground truth of the wrong size.
    """

    def __init__(self, root: str | Path, *, split: str = "test", scenes=None, within_focus_range=True) -> None:
        self.split = check_split(split, tuple(SPLIT_SCENES), "hci4d")
        self.within_focus_range = as_bool(within_focus_range, name="within_focus_range")
        self.scenes = _scene_list(scenes) or list(SPLIT_SCENES[split])
        found = _find_scenes(Path(root))
        missing = [s for s in self.scenes if s not in found]
        if missing:
            raise InputError(f"4D Light Field: scene(s) {', '.join(missing)} not found under {root}")
        self.folders = [found[s] for s in self.scenes]
        for folder in self.folders:
            _check_views(folder)

    def __len__(self) -> int:
        return len(self.folders)

    def __getitem__(self, index: int) -> Sample:
        folder = self.folders[index]
        slices = refocus(_Views(folder), FOCUS_DISPARITIES)
        names = [f"refocused at {d:+.3f} px" for d in FOCUS_DISPARITIES]
        stack = FocalStack(list(slices), FOCUS_DISPARITIES, unit="disparity", names=names)
        depth = _ground_truth(folder, stack.shape)
        valid = None if depth is None else self._valid(depth)
        return Sample(name=f"hci4d/{self.split}/{folder.name}", stack=stack, depth=depth, valid=valid,
                      all_in_focus=read_image(folder / CENTER_VIEW))

    def _valid(self, disp: np.ndarray) -> np.ndarray:
        valid = np.isfinite(disp)
        if self.within_focus_range:
            valid &= (disp >= FOCUS_DISPARITIES.min()) & (disp <= FOCUS_DISPARITIES.max())
        return valid


def _scene_list(scenes) -> list[str]:
    if scenes is None:
        return []
    if isinstance(scenes, str):
        scenes = scenes.split(",")
    return [s.strip() for s in scenes if s.strip()]


def _find_scenes(root: Path) -> dict[str, Path]:
    """Scene name -> folder, for folders holding the centre view at depth 0, 1 or 2 below ``root``."""
    if not root.is_dir():
        raise InputError(f"4D Light Field: {root} is not a folder")
    found: dict[str, Path] = {}
    for pattern in (CENTER_VIEW, f"*/{CENTER_VIEW}", f"*/*/{CENTER_VIEW}"):
        for view in sorted(root.glob(pattern)):
            found.setdefault(view.parent.name, view.parent)
    return found


def _check_views(folder: Path) -> None:
    missing = [i for i in range(GRID * GRID) if not (folder / f"input_Cam{i:03d}.png").is_file()]
    if missing:
        raise InputError(f"4D Light Field: {folder} lacks {len(missing)} of the 81 views "
                         f"(first missing: input_Cam{missing[0]:03d}.png)")


def _ground_truth(folder: Path, shape: tuple[int, int]) -> np.ndarray | None:
    path = folder / GT_FILE
    if not path.is_file():
        return None
    disp = read_pfm(path)
    if disp.shape != shape:
        raise InputError(f"{path} is {disp.shape[1]}x{disp.shape[0]}, the views are {shape[1]}x{shape[0]}")
    return disp
