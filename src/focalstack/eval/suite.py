"""Our benchmark suites: fixed-seed simulated test splits every later result is reported on.

**The procedural suite** (:func:`build_suite`, ``focalstack eval --suite``):

Six procedural splits (phone, DSLR macro and microscope profiles, each with an ideal camera and
with all camera imperfections), 8 stacks of 5 x 256x256 each, plus, when RGB-D folders are
given (Middlebury 2003 cones and teddy, Tsukuba; see ``docs/simulator.md``), one stack per
scene through the phone camera with all imperfections. The splits are generated once into a
folder (deterministic, resumable) and read back with :class:`~.datasets.simulated.SimulatedStacks`.

**The real-image benchmark** (:func:`build_real_suite`, ``focalstack eval --real DATA``): the held-out
RGB-D photographs (:data:`~focalstack.simulate.rgbd.RGBD_TEST`, 11 scenes; or the development scenes,
``split="dev"``, for choosing checkpoints) rendered as 2 random 256x256 views per scene through the phone,
DSLR macro and microscope cameras with every imperfection (random focus sweeps of 8 slices, metres), and
through the 9 x 9-view light field with the 4D Light Field benchmark's protocol (10 refocus disparities
from +2.5 to -2.5 px; depth in disparity pixels).

Bump a version when anything here changes: results on different versions do not compare.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError
from ..simulate.camera import CameraEffects
from ..simulate.dataset import SimulationConfig, write_dataset
from ..simulate.rgbd import rgbd_split
from .datasets.simulated import SimulatedStacks

SUITE_VERSION = 1
_STACKS_PER_SPLIT = 8
_SEED = 20261122
REAL_SUITE_VERSION = 1
_REAL_VIEWS_PER_SCENE = 2
_REAL_SEED = {"test": 20261203, "dev": 20261303}


@dataclass(frozen=True)
class SuiteSplit:
    """One split of the suite: a name and the simulation that makes it."""

    name: str
    config: SimulationConfig


def suite_splits(rgbd_dirs: Sequence[str | Path] = ()) -> list[SuiteSplit]:
    """The splits of suite version :data:`SUITE_VERSION`."""
    splits = []
    for index, profile in enumerate(("phone", "dslr_macro", "microscope")):
        for offset, (label, effects) in enumerate((("ideal", CameraEffects.none()), ("real", CameraEffects()))):
            config = SimulationConfig(profile=profile, num=_STACKS_PER_SPLIT, size=256, slices=5,
                                      seed=_SEED + 10 * index + offset, effects=effects)
            splits.append(SuiteSplit(f"{profile}-{label}", config))
    for folder in rgbd_dirs:
        folder = Path(folder)
        config = SimulationConfig(profile="phone", num=1, slices=5, seed=_SEED + 100, scenes=(str(folder.resolve()),),
                                  depth_range_m=(0.12, 0.8))
        splits.append(SuiteSplit(f"rgbd-{folder.name}", config))
    return splits


def build_suite(root: str | Path, *, rgbd_dirs: Sequence[str | Path] = (), workers: int = 1,
                progress: Callable[[int, int], None] | None = None) -> dict[str, SimulatedStacks]:
    """Generate (or complete) the suite under ``root/v{SUITE_VERSION}`` and open every split."""
    return _build(Path(root) / f"v{SUITE_VERSION}", suite_splits(rgbd_dirs), workers, progress)


def real_suite_splits(data_root: str | Path, split: str = "test") -> list[SuiteSplit]:
    """The splits of real-image benchmark version :data:`REAL_SUITE_VERSION` (``split``: ``test`` or ``dev``)."""
    if split not in _REAL_SEED:
        raise InputError(f"the real-image benchmark has splits test and dev, not {split!r}")
    scenes = tuple(str(p.resolve()) for p in rgbd_split(data_root, split))
    num = _REAL_VIEWS_PER_SCENE * len(scenes)
    seed = _REAL_SEED[split]
    prefix = "real" if split == "test" else "realdev"
    splits = [SuiteSplit(f"{prefix}-{profile}", SimulationConfig(
        profile=profile, num=num, size=256, slices=8, seed=seed + index, scenes=scenes, sweep="random",
        rgbd_views=True)) for index, profile in enumerate(("phone", "dslr_macro", "microscope"))]
    splits.append(SuiteSplit(f"{prefix}-lightfield", SimulationConfig(
        profile="lightfield", num=num, size=256, slices=10, seed=seed + 10, scenes=scenes, psf="lightfield",
        sweep="profile", rgbd_views=True)))
    return splits


def build_real_suite(root: str | Path, data_root: str | Path, *, split: str = "test", workers: int = 1,
                     progress: Callable[[int, int], None] | None = None) -> dict[str, SimulatedStacks]:
    """Generate (or complete) the real-image benchmark under ``root/real-v{REAL_SUITE_VERSION}`` from the
    RGB-D scenes under ``data_root`` (the layout of ``shared/data``) and open every split."""
    return _build(Path(root) / f"real-v{REAL_SUITE_VERSION}", real_suite_splits(data_root, split), workers, progress)


def _build(base: Path, splits: list[SuiteSplit], workers: int,
           progress: Callable[[int, int], None] | None) -> dict[str, SimulatedStacks]:
    total = sum(s.config.num for s in splits)
    done = 0
    for split in splits:
        write_dataset(split.config, base / split.name, workers=workers,
                      progress=(lambda d, t, offset=done: progress(offset + d, total)) if progress else None)
        done += split.config.num
    return {split.name: SimulatedStacks(base / split.name) for split in splits}


RATIO_GROUPS = {  # ratios.md's geometric-mean columns: dataset-name predicates
    "real-image": lambda name: name.startswith(("real-", "realdev-")),
    "procedural suite": lambda name: name.split("-")[0] in ("phone", "dslr_macro", "microscope"),
}
