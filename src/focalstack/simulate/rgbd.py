"""Real RGB-D photographs as simulator scenes: loading every layout, the fixed splits, random views.

Real textures with real depth are what keeps a network from learning the simulator: the
procedural scenes' shapes and textures are ours, an RGB-D photograph's are the world's. This
module turns the RGB-D folders of ``shared/data`` (or any folder in one of these layouts) into
:class:`~focalstack.simulate.scenes.Scene` objects:

- ``image.png`` + ``disparity.npy`` (float32 pixels, NaN unknown): the ``rgbd_more`` layout;
- ``im2.png`` + ``disp2.pgm`` (Middlebury 2003) and ``left.png`` + ``groundtruth.png`` (Tsukuba):
  :func:`~focalstack.simulate.scenes.load_rgbd`.

Disparity is proportional to inverse depth, so a scene is loaded once onto a nominal range and
:func:`remap_depth` moves it, linearly in inverse depth, to the range a simulated stack needs.
:func:`random_view` cuts a training view: a random scale, crop and horizontal flip, and a random
depth range within a camera's.

The scenes are split once and for all (:data:`RGBD_TEST`, :data:`RGBD_DEV`; the rest trains):
the test scenes make the real-image benchmark (``focalstack eval --suite real``), the development
scenes choose checkpoints, and neither is ever rendered into training data.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from ..errors import InputError
from ..io.images import read_image
from .scenes import Scene, load_rgbd, scene_from_rgbd

#: Held out of training: the real-image benchmark. The three scenes of ``rgbd/`` (in the procedural
#: suite since its first version) and eight of ``rgbd_more/``, two or more from each Middlebury year.
RGBD_TEST: tuple[str, ...] = (
    "middlebury2003_cones", "middlebury2003_teddy", "tsukuba",
    "middlebury2001_venus", "middlebury2005_art", "middlebury2005_moebius", "middlebury2006_baby1",
    "middlebury2006_rocks1", "middlebury2014_adirondack", "middlebury2014_motorcycle", "middlebury2014_vintage",
)
#: Held out of training: the development split that chooses checkpoints and stages.
RGBD_DEV: tuple[str, ...] = (
    "middlebury2001_sawtooth", "middlebury2005_dolls", "middlebury2006_cloth3", "middlebury2006_lampshade2",
    "middlebury2014_pipes", "middlebury2014_shelves",
)
SPLITS = ("train", "dev", "test")

_NOMINAL_RANGE_M = (0.5, 2.0)  # scenes load onto this range; remap_depth moves them


def is_rgbd_folder(folder: str | Path) -> bool:
    """Whether ``folder`` holds an RGB-D scene in one of the layouts this module reads."""
    folder = Path(folder)
    return any((folder / a).is_file() and (folder / b).is_file() for a, b in
               (("image.png", "disparity.npy"), ("im2.png", "disp2.pgm"), ("left.png", "groundtruth.png")))


def find_rgbd_scenes(root: str | Path) -> list[Path]:
    """Every RGB-D scene folder directly under ``root`` or one level deeper (``rgbd/``, ``rgbd_more/``), by name."""
    root = Path(root)
    if not root.is_dir():
        raise InputError(f"RGB-D root {root} is not a folder")
    found = [p for p in root.iterdir() if p.is_dir() and is_rgbd_folder(p)]
    found += [q for p in root.iterdir() if p.is_dir() for q in p.iterdir() if q.is_dir() and is_rgbd_folder(q)]
    return sorted(set(found), key=lambda p: p.name)


def rgbd_split(root: str | Path, split: str) -> list[Path]:
    """The scene folders of ``split`` (``train``, ``dev`` or ``test``) found under ``root``.

    ``test`` and ``dev`` must be complete (a missing scene is an error: the benchmark would change);
    ``train`` is every other scene found.

    Example:
        >>> # rgbd_split("../shared/data", "test")  ->  11 folders
    """
    if split not in SPLITS:
        raise InputError(f"unknown RGB-D split {split!r}; use one of {', '.join(SPLITS)}")
    scenes = {p.name: p for p in find_rgbd_scenes(root)}
    if split == "train":
        return [p for name, p in scenes.items() if name not in RGBD_TEST + RGBD_DEV]
    wanted = RGBD_TEST if split == "test" else RGBD_DEV
    missing = [name for name in wanted if name not in scenes]
    if missing:
        raise InputError(f"{root} lacks the {split} scene(s) {', '.join(missing)} (expected the layout of "
                         "shared/data: rgbd/ and rgbd_more/)")
    return [scenes[name] for name in wanted]


def load_rgbd_scene(folder: str | Path, *, depth_range_m: tuple[float, float] = _NOMINAL_RANGE_M) -> Scene:
    """An RGB-D scene in any supported layout, its disparity mapped linearly onto inverse depths
    ``depth_range_m`` (near, far) metres (largest disparity nearest), unmeasured pixels inpainted."""
    folder = Path(folder)
    if (folder / "image.png").is_file() and (folder / "disparity.npy").is_file():
        try:
            disparity = np.load(folder / "disparity.npy")
        except (OSError, ValueError) as exc:
            raise InputError(f"cannot read {folder / 'disparity.npy'}: {exc}") from None
        return scene_from_rgbd(read_image(folder / "image.png"), disparity=disparity,
                               depth_range_m=depth_range_m, name=folder.name)
    return load_rgbd(folder, depth_range_m=depth_range_m)


@lru_cache(maxsize=64)
def _cached_scene(folder: str) -> Scene:
    return load_rgbd_scene(folder)


def cached_rgbd_scene(folder: str | Path) -> Scene:
    """:func:`load_rgbd_scene`, loaded once per process (inpainting a 700-pixel scene takes a while).
    The arrays are shared: copy before changing them."""
    return _cached_scene(str(Path(folder).resolve()))


def remap_depth(scene: Scene, depth_range_m: tuple[float, float]) -> Scene:
    """The scene with its depth mapped linearly in inverse depth onto ``depth_range_m`` (near, far) metres:
    its nearest point at ``near``, its farthest at ``far``."""
    near, far = depth_range_m
    if not 0 < near < far:
        raise InputError(f"depth_range_m must be (near, far) with 0 < near < far, got {depth_range_m}")
    inverse = 1.0 / scene.depth_m.astype(np.float64)
    lo, hi = inverse.min(), inverse.max()
    t = (inverse - lo) / max(hi - lo, 1e-12)
    mapped = 1.0 / (1.0 / far + t * (1.0 / near - 1.0 / far))
    return Scene(image=scene.image, depth_m=mapped.astype(np.float32), name=scene.name, valid=scene.valid)


def random_view(scene: Scene, rng: np.random.Generator, *, size: int, depth_range_m: tuple[float, float],
                min_span: float = 0.25, min_scale: float = 0.35) -> Scene:
    """A random ``size`` x ``size`` training view of an RGB-D scene.

    The image is scaled by a factor drawn log-uniformly from [``min_scale``, 1] (never so small that the
    crop does not fit), cropped at a random place and flipped left-right half the time; its depth is
    mapped onto a random sub-range of ``depth_range_m`` spanning at least ``min_span`` of it in inverse
    depth (scenes are seen near and far, deep and shallow).

    Args:
        scene: an RGB-D scene (:func:`load_rgbd_scene`).
        rng: the only source of randomness.
        size: side of the view in pixels.
        depth_range_m: (near, far) metres the view's depth is placed within.
    """
    h, w = scene.depth_m.shape
    low = max(min_scale, size / min(h, w))
    if low > 1.0 + 1e-9:
        raise InputError(f"scene {scene.name} ({w} x {h}) is smaller than a {size}-pixel view")
    scale = float(np.exp(rng.uniform(np.log(low), 0.0))) if low < 1 else 1.0
    image, depth, valid = _rescale(scene, scale, size)
    top, left = int(rng.integers(0, depth.shape[0] - size + 1)), int(rng.integers(0, depth.shape[1] - size + 1))
    crop = np.s_[top:top + size, left:left + size]
    image, depth, valid = image[crop], depth[crop], valid[crop]
    if rng.random() < 0.5:
        image, depth, valid = image[:, ::-1], depth[:, ::-1], valid[:, ::-1]
    view = Scene(image=np.ascontiguousarray(image), depth_m=np.ascontiguousarray(depth), name=scene.name,
                 valid=np.ascontiguousarray(valid))
    return remap_depth(view, _random_range(rng, depth_range_m, min_span))


def _rescale(scene: Scene, scale: float, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Image (area-averaged), depth and validity (nearest, so depth edges stay edges) at ``scale``."""
    valid = scene.valid if scene.valid is not None else np.ones(scene.depth_m.shape, bool)
    if scale >= 1.0:
        return scene.image, scene.depth_m, valid
    h, w = scene.depth_m.shape
    out = (max(size, round(w * scale)), max(size, round(h * scale)))
    image = cv2.resize(scene.image, out, interpolation=cv2.INTER_AREA)
    depth = cv2.resize(scene.depth_m, out, interpolation=cv2.INTER_NEAREST)
    valid = cv2.resize(valid.astype(np.uint8), out, interpolation=cv2.INTER_NEAREST).astype(bool)
    return image, depth, valid


def _random_range(rng: np.random.Generator, depth_range_m: tuple[float, float], min_span: float) -> tuple[float, float]:
    """A random (near, far) inside ``depth_range_m`` spanning at least ``min_span`` of it in inverse depth."""
    near, far = depth_range_m
    lo, hi = 1.0 / far, 1.0 / near
    span = rng.uniform(min_span, 1.0) * (hi - lo)
    start = rng.uniform(lo, hi - span)
    return 1.0 / (start + span), 1.0 / start
