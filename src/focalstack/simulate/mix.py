"""A training mix: several simulated sources in chosen proportions, written to disk once.

A mix file (YAML) names the sources and their weights; :func:`write_mix` writes each source as an
ordinary simulated dataset (the format of :func:`~focalstack.simulate.dataset.write_dataset`) under one
root, so it is resumable, deterministic per stack and readable by ``focalstack train`` as ``data.folders``::

    total: 2000            # stacks over all sources, shared out by weight
    size: 256              # side of every stack, pixels
    slices: 10             # slices per stack (training draws random subsets)
    seed: 31000
    rgbd_root: ../shared/data    # RGB-D scenes: only the training split is ever used
    sources:
      - {name: rgbd-phone, scenes: rgbd, profile: phone, effects: real, weight: 3}
      - {name: lightfield, scenes: rgbd, profile: lightfield, weight: 1}
      - {name: leaves-macro, scenes: dead_leaves, profile: dslr_macro, effects: ideal, weight: 1}

``scenes``: ``rgbd`` (random views of the training split's RGB-D scenes, see
:mod:`~focalstack.simulate.rgbd`), ``dead_leaves`` or ``procedural``; ``effects``: ``real`` (every camera
imperfection) or ``ideal``; ``sweep``: ``random`` (default) or ``profile``. Each source's seed is
derived from the mix's seed and the source's name, so adding a source does not change the others.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import yaml

from ..errors import InputError
from .camera import PROFILES, CameraEffects
from .dataset import SimulationConfig, _prepare_root, run_jobs, stack_folder
from .rgbd import rgbd_split

SCENE_KINDS = ("rgbd", "dead_leaves", "procedural")


@dataclass(frozen=True)
class MixSource:
    """One source of a mix: which scenes, through which camera, and its share."""

    name: str
    scenes: str
    profile: str
    weight: float
    effects: str = "real"
    sweep: str = "random"

    def __post_init__(self) -> None:
        if not self.name or "/" in self.name or self.name.startswith("."):
            raise InputError(f"mix source name {self.name!r} must be a plain folder name")
        if self.scenes not in SCENE_KINDS:
            raise InputError(f"mix source {self.name}: scenes must be one of {', '.join(SCENE_KINDS)}")
        if self.profile not in PROFILES:
            raise InputError(f"mix source {self.name}: unknown profile {self.profile!r}")
        if self.effects not in ("real", "ideal") or not self.weight > 0:
            raise InputError(f"mix source {self.name}: effects must be real or ideal and weight > 0")


@dataclass(frozen=True)
class MixConfig:
    """A whole mix (see the module docstring)."""

    sources: tuple[MixSource, ...]
    total: int = 2000
    size: int = 256
    slices: int = 10
    seed: int = 31000
    rgbd_root: str = ""

    def __post_init__(self) -> None:
        names = [s.name for s in self.sources]
        if not names or len(set(names)) != len(names):
            raise InputError("a mix needs at least one source and distinct source names")
        if self.total < len(names) or self.size < 16 or self.slices < 2:
            raise InputError("a mix needs total >= number of sources, size >= 16 and slices >= 2")
        if any(s.scenes == "rgbd" for s in self.sources) and not self.rgbd_root:
            raise InputError("sources with scenes: rgbd need rgbd_root (the folder holding rgbd/ and rgbd_more/)")

    @classmethod
    def from_yaml(cls, path: str | Path) -> MixConfig:
        """Read a mix file; ``rgbd_root`` is relative to the file's folder."""
        path = Path(path)
        try:
            data = yaml.safe_load(path.read_text())
        except (OSError, yaml.YAMLError) as exc:
            raise InputError(f"cannot read mix file {path}: {exc}") from None
        if not isinstance(data, dict) or not isinstance(data.get("sources"), list):
            raise InputError(f"{path} must be a mapping with a list of sources")
        try:
            sources = tuple(MixSource(**entry) for entry in data.pop("sources"))
            known = {k: data.pop(k) for k in ("total", "size", "slices", "seed", "rgbd_root") if k in data}
        except TypeError as exc:
            raise InputError(f"bad mix source in {path}: {exc}") from None
        if data:
            raise InputError(f"unknown key(s) in {path}: {', '.join(sorted(data))}")
        if known.get("rgbd_root"):
            known["rgbd_root"] = str((path.parent / known["rgbd_root"]).resolve())
        return cls(sources=sources, **known)

    def counts(self) -> dict[str, int]:
        """Stacks per source: ``total`` shared out by weight (largest remainders), at least one each."""
        weights = {s.name: s.weight for s in self.sources}
        scale = self.total / sum(weights.values())
        exact = {name: w * scale for name, w in weights.items()}
        counts = {name: max(1, int(v)) for name, v in exact.items()}
        for name in sorted(exact, key=lambda n: exact[n] - int(exact[n]), reverse=True):
            if sum(counts.values()) >= self.total:
                break
            counts[name] += 1
        return counts

    def simulation(self, source: MixSource, num: int) -> SimulationConfig:
        """The :class:`SimulationConfig` of one source."""
        profile = PROFILES[source.profile]
        scenes = tuple(str(p) for p in rgbd_split(self.rgbd_root, "train")) if source.scenes == "rgbd" \
            else (source.scenes,)
        effects = CameraEffects() if source.effects == "real" else CameraEffects.none()
        return SimulationConfig(profile=source.profile, num=num, size=self.size, slices=self.slices,
                                seed=self.seed + zlib.crc32(source.name.encode()) % 100_000, effects=effects,
                                psf=profile.psf, scenes=scenes, sweep=source.sweep, rgbd_views=True)


def write_mix(mix: MixConfig, root: str | Path, *, workers: int = 1,
              progress: Callable[[int, int], None] | None = None) -> list[Path]:
    """Write (or complete) every source of ``mix`` under ``root/<name>``; returns the folders, for
    ``data.folders`` of a training config. ``root/mix.json`` records the counts and settings.

    Stacks are made interleaved across the sources (each source's i-th stack at the fraction i / count
    of the run), so an interrupted run leaves a smaller mix in the same proportions, and resuming
    makes only what is missing.
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    counts = mix.counts()
    configs = {s.name: mix.simulation(s, counts[s.name]) for s in mix.sources}
    record = {name: config.to_json() for name, config in configs.items()}
    (root / "mix.json").write_text(json.dumps({"total": mix.total, "sources": record}, indent=1) + "\n")
    for name, config in configs.items():
        _prepare_root(root / name, config)
    tasks = sorted(((i / config.num, name, i) for name, config in configs.items() for i in range(config.num)
                    if not stack_folder(root / name, i).exists()))
    total, done = sum(counts.values()), sum(counts.values()) - len(tasks)
    if progress:
        progress(done, total)
    jobs = [(configs[name], root / name, i) for _, name, i in tasks]
    for _ in run_jobs(jobs, workers):
        done += 1
        if progress:
            progress(done, total)
    return [root / name for name in configs]

