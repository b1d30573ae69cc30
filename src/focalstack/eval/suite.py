"""Our benchmark suite: fixed-seed simulated test splits every later result is reported on.

Six procedural splits (phone, DSLR macro and microscope profiles, each with an ideal camera and
with all camera imperfections), 8 stacks of 5 x 256x256 each, plus, when RGB-D folders are
given (Middlebury 2003 cones and teddy, Tsukuba; see ``docs/simulator.md``), one stack per
scene through the phone camera with all imperfections. The splits are generated once into a
folder (deterministic, resumable) and read back with :class:`~.datasets.simulated.SimulatedStacks`.

Bump the version when anything here changes: results on different versions do not compare.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..simulate.camera import CameraEffects
from ..simulate.dataset import SimulationConfig, write_dataset
from .datasets.simulated import SimulatedStacks

SUITE_VERSION = 1
_STACKS_PER_SPLIT = 8
_SEED = 20261122


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
    base = Path(root) / f"v{SUITE_VERSION}"
    splits = suite_splits(rgbd_dirs)
    total = sum(s.config.num for s in splits)
    done = 0
    for split in splits:
        write_dataset(split.config, base / split.name, workers=workers,
                      progress=(lambda d, t, offset=done: progress(offset + d, total)) if progress else None)
        done += split.config.num
    return {split.name: SimulatedStacks(base / split.name) for split in splits}
