"""Simulated focal-stack datasets: on disk (writer, reader) and on the fly (torch ``Dataset``).

On-disk format (``FORMAT``), one folder per stack, readable as a stack folder by
:func:`focalstack.io.read_stack`::

    DATASET/
      dataset.json          {"format", "version", "profile", "num", "size", "slices", "seed",
                             "effects", "renderer", "psf", "scenes"}
      000000/
        slice_00.png ...    the recorded slices, 8-bit RGB, near to far
        stack.json          files, focus_positions (metadata, metres), unit "m", camera,
                            true_focus_distances_m, warps (N x 2 x 3, target pixel -> slice pixel),
                            profile, seed, scene
        depth.npy           float32 H x W ground-truth depth in metres (target slice's frame)
        valid.npy           bool H x W, where the depth is ground truth
        aif.png             the all-in-focus image, 8-bit RGB
      000001/ ...

Stack ``i`` of a dataset with seed ``s`` is generated from ``numpy.random.default_rng([s, i])``,
so it is the same whichever worker makes it and in whatever order; a stack folder appears
atomically (written to a temporary folder and renamed), so an interrupted run leaves only
finished stacks and can be resumed.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from .. import __version__
from ..errors import InputError
from ..io.images import read_image, write_image
from ..stack import Camera
from .camera import PROFILES, CameraEffects, SimulatedStack, simulate_stack
from .scenes import Scene, load_rgbd, procedural_scene

FORMAT = "focalstack-sim-v1"
SCENE_SOURCES = ("procedural",)  # or a path to an RGB-D folder


@dataclass(frozen=True)
class SimulationConfig:
    """Everything that determines a simulated dataset.

    Attributes:
        profile: camera profile name (see :data:`focalstack.simulate.camera.PROFILES`).
        num: number of stacks.
        size: side of the square procedural scenes, pixels (RGB-D scenes keep their size).
        slices: slices per stack.
        seed: master seed.
        effects: camera effects switched on.
        renderer: ``layered`` or ``per_pixel``.
        psf: ``disc`` or ``gaussian``.
        scenes: ``procedural`` or a list of RGB-D folders (used in turn).
        depth_range_m: scene depths (near, far) in metres; default the profile's.
    """

    profile: str = "phone"
    num: int = 100
    size: int = 256
    slices: int = 5
    seed: int = 0
    effects: CameraEffects = field(default_factory=CameraEffects)
    renderer: str = "layered"
    psf: str = "disc"
    scenes: tuple[str, ...] = ("procedural",)
    depth_range_m: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        if self.profile not in PROFILES:
            raise InputError(f"unknown camera profile {self.profile!r}; use one of {', '.join(PROFILES)}")
        if self.num < 1 or self.size < 16 or self.slices < 2:
            raise InputError("need num >= 1, size >= 16 and slices >= 2")
        if self.renderer not in ("layered", "per_pixel") or self.psf not in ("disc", "gaussian"):
            raise InputError("renderer must be layered|per_pixel and psf disc|gaussian")

    def to_json(self) -> dict:
        data = asdict(self)
        data["scenes"] = list(self.scenes)
        data["depth_range_m"] = list(self.depth_range_m) if self.depth_range_m else None
        return data

    @classmethod
    def from_json(cls, data: dict) -> SimulationConfig:
        data = dict(data)
        data["effects"] = CameraEffects(**data.get("effects", {}))
        data["scenes"] = tuple(data.get("scenes", ("procedural",)))
        data["depth_range_m"] = tuple(data["depth_range_m"]) if data.get("depth_range_m") else None
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


def generate(config: SimulationConfig, index: int) -> SimulatedStack:
    """Stack ``index`` of the dataset ``config`` describes (deterministic)."""
    rng = np.random.default_rng([config.seed, index])
    profile = PROFILES[config.profile]
    scene = _scene(config, index, rng, profile)
    stack = simulate_stack(scene, profile, num_slices=config.slices, effects=config.effects, rng=rng,
                           renderer=config.renderer, psf=config.psf)
    stack.info.update(seed=[config.seed, index])
    return stack


def _scene(config: SimulationConfig, index: int, rng: np.random.Generator, profile) -> Scene:
    source = config.scenes[index % len(config.scenes)]
    depth_range = config.depth_range_m or profile.depth_range_m
    if source == "procedural":
        return procedural_scene(rng, size=(config.size, config.size), depth_range_m=depth_range)
    return load_rgbd(source, depth_range_m=depth_range)


def write_stack(stack: SimulatedStack, folder: Path) -> None:
    """Write one simulated stack in the dataset format, atomically (temporary folder + rename)."""
    folder = Path(folder)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.tmp-", dir=folder.parent))
    try:
        files = [f"slice_{k:02d}.png" for k in range(len(stack.slices))]
        for name, image in zip(files, stack.slices):
            write_image(tmp / name, image)
        write_image(tmp / "aif.png", stack.all_in_focus)
        np.save(tmp / "depth.npy", stack.depth_m.astype(np.float32))
        np.save(tmp / "valid.npy", stack.valid.astype(bool))
        meta = {"files": files, "focus_positions": stack.focus_distances_m.tolist(), "unit": "m",
                "camera": stack.camera.to_dict(), "true_focus_distances_m": stack.true_focus_distances_m.tolist(),
                "warps": stack.warps.tolist(), "profile": stack.profile, **stack.info}
        (tmp / "stack.json").write_text(json.dumps(meta, indent=1) + "\n")
        tmp.rename(folder)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def read_simulated(folder: str | Path) -> SimulatedStack:
    """Read one stack folder written by :func:`write_stack`."""
    folder = Path(folder)
    try:
        meta = json.loads((folder / "stack.json").read_text())
        slices = np.stack([read_image(folder / name) for name in meta["files"]])
        depth = np.load(folder / "depth.npy")
        valid = np.load(folder / "valid.npy")
        aif = read_image(folder / "aif.png")
    except (OSError, KeyError, ValueError) as exc:
        raise InputError(f"{folder} is not a simulated stack folder: {exc}") from None
    return SimulatedStack(slices=slices, focus_distances_m=np.asarray(meta["focus_positions"]),
                          true_focus_distances_m=np.asarray(meta["true_focus_distances_m"]), depth_m=depth,
                          all_in_focus=aif, warps=np.asarray(meta["warps"]), camera=Camera(**meta["camera"]),
                          valid=valid, profile=meta["profile"],
                          info={k: meta[k] for k in ("scene", "effects", "renderer", "psf", "seed") if k in meta})


def stack_folder(root: Path, index: int) -> Path:
    return Path(root) / f"{index:06d}"


def write_dataset(
    config: SimulationConfig,
    root: str | Path,
    *,
    workers: int = 1,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Generate a dataset into ``root``, skipping stacks that are already there (resumable).

    Args:
        config: what to generate; must match the ``dataset.json`` of an existing ``root``.
        workers: processes generating in parallel (each with one torch thread).
        progress: called as ``progress(done, total)``, counting skipped stacks as done.

    Returns:
        The number of stacks generated by this call.
    """
    root = Path(root)
    _prepare_root(root, config)
    todo = [i for i in range(config.num) if not stack_folder(root, i).exists()]
    done = config.num - len(todo)
    if progress:
        progress(done, config.num)
    for _ in _run(config, root, todo, workers):
        done += 1
        if progress:
            progress(done, config.num)
    return len(todo)


def _run(config: SimulationConfig, root: Path, todo: list[int], workers: int) -> Iterator[int]:
    if workers <= 1:
        for i in todo:
            yield _make_one(config, root, i)
        return
    with ProcessPoolExecutor(max_workers=workers, initializer=_worker_init) as pool:
        yield from pool.map(_make_one, [config] * len(todo), [root] * len(todo), todo, chunksize=1)


def _worker_init() -> None:
    torch.set_num_threads(1)
    os.environ["OMP_NUM_THREADS"] = "1"


def _make_one(config: SimulationConfig, root: Path, index: int) -> int:
    write_stack(generate(config, index), stack_folder(root, index))
    return index


def _prepare_root(root: Path, config: SimulationConfig) -> None:
    meta_path = root / "dataset.json"
    meta = {"format": FORMAT, "version": __version__, **config.to_json()}
    if meta_path.exists():
        existing = json.loads(meta_path.read_text())
        mine = {k: v for k, v in meta.items() if k != "version"}
        theirs = {k: v for k, v in existing.items() if k != "version"}
        if {k: v for k, v in mine.items() if k != "num"} != {k: v for k, v in theirs.items() if k != "num"}:
            raise InputError(f"{root} holds a dataset made with other settings; use another --out")
    elif root.exists() and any(root.iterdir()):
        raise InputError(f"{root} exists and is not a focalstack dataset; use another --out")
    root.mkdir(parents=True, exist_ok=True)
    tmp = meta_path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(meta, indent=1) + "\n")
    tmp.replace(meta_path)


def _to_tensors(stack: SimulatedStack) -> dict[str, torch.Tensor]:
    return {
        "slices": torch.from_numpy(np.ascontiguousarray(stack.slices.transpose(0, 3, 1, 2))),  # N, 3, H, W
        "focus_positions": torch.from_numpy(stack.focus_distances_m.astype(np.float32)),  # N, metres
        "depth": torch.from_numpy(stack.depth_m[None].astype(np.float32)),  # 1, H, W metres
        "valid": torch.from_numpy(stack.valid[None]),  # 1, H, W
        "all_in_focus": torch.from_numpy(np.ascontiguousarray(stack.all_in_focus.transpose(2, 0, 1))),
        "warps": torch.from_numpy(stack.warps.astype(np.float32)),  # N, 2, 3
        "camera": torch.tensor([stack.camera.focal_length_mm, stack.camera.f_number, stack.camera.pixel_pitch_um],
                               dtype=torch.float32),  # focal length mm, f-number, pixel pitch um
    }


class SimulatedDataset(Dataset):
    """Stacks generated on the fly from a :class:`SimulationConfig` (index ``i`` is deterministic).

    Items are dicts of tensors: ``slices`` N x 3 x H x W in [0, 1], ``focus_positions`` N (metres),
    ``depth`` 1 x H x W (metres), ``valid`` 1 x H x W bool, ``all_in_focus`` 3 x H x W,
    ``warps`` N x 2 x 3, ``camera`` (focal length mm, f-number, pixel pitch um).
    """

    def __init__(self, config: SimulationConfig) -> None:
        self.config = config

    def __len__(self) -> int:
        return self.config.num

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        if not 0 <= index < len(self):
            raise IndexError(index)
        return _to_tensors(generate(self.config, index))


class FocalStackFolderDataset(Dataset):
    """A dataset written by :func:`write_dataset` (or ``focalstack simulate``), read from disk.

    Items are the same dicts as :class:`SimulatedDataset`'s.
    """

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        if not (self.root / "dataset.json").is_file():
            raise InputError(f"{self.root} has no dataset.json; not a focalstack dataset")
        self.folders = sorted(p for p in self.root.iterdir() if p.is_dir() and p.name.isdigit())

    def __len__(self) -> int:
        return len(self.folders)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return _to_tensors(read_simulated(self.folders[index]))
