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
from .camera import PROFILES, CameraEffects, SimulatedStack, random_sweep, simulate_stack
from .rgbd import cached_rgbd_scene, load_rgbd_scene, random_view
from .scenes import Scene, dead_leaves_scene, procedural_scene

FORMAT = "focalstack-sim-v1"
SCENE_SOURCES = ("procedural", "dead_leaves")  # or a path to an RGB-D folder
SWEEPS = ("profile", "random")


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
        psf: ``disc``, ``gaussian`` or ``lightfield`` (use it with the ``lightfield`` profile).
        scenes: ``procedural``, ``dead_leaves`` or RGB-D folders, used in turn.
        depth_range_m: scene depths (near, far) in metres; default the profile's.
        sweep: ``profile`` (uniform in diopters over the profile's focus range) or ``random``
            (:func:`~focalstack.simulate.camera.random_sweep`: ends relative to the scene's depth, not
            always covering it, spacing in diopters or metres, jittered).
        rgbd_views: RGB-D scenes become random ``size`` x ``size`` views (scale, crop, flip) with a
            random depth range inside ``depth_range_m`` (:func:`~focalstack.simulate.rgbd.random_view`)
            instead of the whole scene on ``depth_range_m``.
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
    sweep: str = "profile"
    rgbd_views: bool = False

    def __post_init__(self) -> None:
        if self.profile not in PROFILES:
            raise InputError(f"unknown camera profile {self.profile!r}; use one of {', '.join(PROFILES)}")
        if self.num < 1 or self.size < 16 or self.slices < 2:
            raise InputError("need num >= 1, size >= 16 and slices >= 2")
        if self.renderer not in ("layered", "per_pixel") or self.psf not in ("disc", "gaussian", "lightfield"):
            raise InputError("renderer must be layered|per_pixel and psf disc|gaussian|lightfield")
        if self.sweep not in SWEEPS:
            raise InputError(f"sweep must be one of {', '.join(SWEEPS)}, not {self.sweep!r}")

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
    focus = random_sweep(profile, config.slices, rng, depth_m=scene.depth_m) if config.sweep == "random" else None
    stack = simulate_stack(scene, profile, num_slices=config.slices, focus_distances_m=focus,
                           effects=config.effects, rng=rng, renderer=config.renderer, psf=config.psf)
    stack.info.update(seed=[config.seed, index])
    return stack


def _scene(config: SimulationConfig, index: int, rng: np.random.Generator, profile) -> Scene:
    source = config.scenes[index % len(config.scenes)]
    depth_range = config.depth_range_m or profile.depth_range_m
    if source == "procedural":
        return procedural_scene(rng, size=(config.size, config.size), depth_range_m=depth_range)
    if source == "dead_leaves":
        return dead_leaves_scene(rng, size=(config.size, config.size), depth_range_m=depth_range)
    if config.rgbd_views:
        return random_view(cached_rgbd_scene(source), rng, size=config.size, depth_range_m=depth_range)
    return load_rgbd_scene(source, depth_range_m=depth_range)


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


def read_simulated(folder: str | Path, *, require_ground_truth: bool = True) -> SimulatedStack:
    """Read one stack folder written by :func:`write_stack`.

    With ``require_ground_truth=False`` the folder may lack ``depth.npy``, ``valid.npy``, ``aif.png``
    and the ``warps``, ``true_focus_distances_m`` and ``profile`` of ``stack.json`` (a dataset
    stripped of its ground truth, or one's own stacks in this layout): those fields are then None
    (``profile`` ""); a ``depth.npy`` without ``valid.npy`` is valid where finite and positive.
    """
    folder = Path(folder)
    optional = not require_ground_truth

    def load(name: str, reader):
        return None if optional and not (folder / name).exists() else reader(folder / name)

    try:
        meta = json.loads((folder / "stack.json").read_text())
        slices = np.stack([read_image(folder / name) for name in meta["files"]])
        depth, valid, aif = load("depth.npy", np.load), load("valid.npy", np.load), load("aif.png", read_image)
        true_focus, warps, profile = (meta.get(key) if optional else meta[key]
                                      for key in ("true_focus_distances_m", "warps", "profile"))
        focus, camera = np.asarray(meta["focus_positions"]), Camera(**meta["camera"])
    except (OSError, KeyError, ValueError, TypeError) as exc:
        raise InputError(f"{folder} is not a simulated stack folder: {exc}") from None
    if valid is None and depth is not None:
        valid = np.isfinite(depth) & (depth > 0)
    return SimulatedStack(slices=slices, focus_distances_m=focus,
                          true_focus_distances_m=None if true_focus is None else np.asarray(true_focus),
                          depth_m=depth, all_in_focus=aif, warps=None if warps is None else np.asarray(warps),
                          camera=camera, valid=valid, profile=profile or "",
                          info={k: meta[k] for k in ("scene", "effects", "renderer", "psf", "seed", "disparity")
                                if k in meta})


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
    for _ in run_jobs([(config, root, i) for i in todo], workers):
        done += 1
        if progress:
            progress(done, config.num)
    return len(todo)


def run_jobs(jobs: list[tuple[SimulationConfig, Path, int]], workers: int) -> Iterator[int]:
    """Make and write stack ``index`` of ``(config, root, index)`` for every job, in ``workers`` processes
    (each with one torch thread); yields the indices as the stacks are finished."""
    if workers <= 1:
        for job in jobs:
            yield _make_one(*job)
        return
    with ProcessPoolExecutor(max_workers=workers, initializer=_worker_init) as pool:
        yield from pool.map(_make_one, *zip(*jobs), chunksize=1) if jobs else ()


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
        # through the config, so that fields added since it was written take their defaults
        theirs = {"format": existing.get("format"), **SimulationConfig.from_json(existing).to_json()}
        if {k: v for k, v in mine.items() if k != "num"} != {k: v for k, v in theirs.items() if k != "num"}:
            raise InputError(f"{root} holds a dataset made with other settings; use another --out")
    elif root.exists() and any(root.iterdir()):
        raise InputError(f"{root} exists and is not a focalstack dataset; use another --out")
    root.mkdir(parents=True, exist_ok=True)
    tmp = meta_path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(meta, indent=1) + "\n")
    tmp.replace(meta_path)


def _to_tensors(stack: SimulatedStack) -> dict[str, torch.Tensor]:
    """A stack as a dict of tensors; ``depth`` and ``valid``, ``all_in_focus`` and ``warps`` only when the
    stack has them (not None)."""
    out = {
        "slices": torch.from_numpy(np.ascontiguousarray(stack.slices.transpose(0, 3, 1, 2))),  # N, 3, H, W
        "focus_positions": torch.from_numpy(stack.focus_distances_m.astype(np.float32)),  # N, metres
    }
    if stack.depth_m is not None:
        out["depth"] = torch.from_numpy(stack.depth_m[None].astype(np.float32))  # 1, H, W metres
        out["valid"] = torch.from_numpy(stack.valid[None])  # 1, H, W
    if stack.all_in_focus is not None:
        out["all_in_focus"] = torch.from_numpy(np.ascontiguousarray(stack.all_in_focus.transpose(2, 0, 1)))
    if stack.warps is not None:
        out["warps"] = torch.from_numpy(stack.warps.astype(np.float32))  # N, 2, 3
    out["camera"] = torch.tensor([stack.camera.focal_length_mm, stack.camera.f_number, stack.camera.pixel_pitch_um],
                                 dtype=torch.float32)  # focal length mm, f-number, pixel pitch um
    return out


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
    """Focal stacks on disk as training data, in either of two layouts.

    - A **simulated dataset** (``ROOT/dataset.json`` and ``ROOT/NNNNNN/``, written by
      :func:`write_dataset` or ``focalstack simulate``). Its stack folders may lack ``depth.npy``,
      ``valid.npy``, ``aif.png`` and the ``warps`` of ``stack.json`` (:func:`read_simulated` with
      ``require_ground_truth=False``).
    - A **folder of stack folders** (no ``dataset.json``): every subfolder whose name does not start
      with ``.`` (or ``ROOT`` itself when it has none) is a stack as ``focalstack depth`` reads it
      (:func:`focalstack.io.read_stack`): images plus a ``stack.json`` giving ``focus_positions`` with
      ``unit`` ``"m"`` (or ``"diopter"``) and a ``camera`` with ``focal_length_mm``, ``f_number`` and
      ``pixel_pitch_um`` (or ``sensor_width_mm``). The slices of a stack share one size; stacks may
      differ. Grey slices are repeated into 3 channels. These stacks have no ground truth.

    Items are the dicts of :class:`SimulatedDataset`: ``slices`` N x 3 x H x W in [0, 1],
    ``focus_positions`` N (metres, near to far), ``camera`` (focal length mm, f-number, pixel pitch
    um), and of ``depth`` (with ``valid``), ``all_in_focus`` and ``warps`` those that every stack of
    the dataset has (:attr:`ground_truth`), so that all items carry the same keys.

    Args:
        root: the dataset or the folder of stack folders.
        max_side: downscale every slice of a stack folder (second layout) so that its longer side is
            at most this many pixels (0: never); the pixel pitch grows by the same factor, so the
            blur in pixels stays consistent with the camera. Simulated datasets keep their size.

    Attributes:
        ground_truth: frozenset of the optional keys (``depth``, ``all_in_focus``, ``warps``) in every item.
        min_slices: the smallest slice count of any stack.

    Raises:
        InputError: naming the folder, for a stack that is unreadable, has fewer than 2 slices, slices
            of different sizes, focus positions not in metres or diopters, or no complete camera (the
            self-supervised regime renders each stack through its own lens).

    Example:
        >>> data = FocalStackFolderDataset("data/my_stacks", max_side=512)  # doctest: +SKIP
        >>> sorted(data[0]), data.ground_truth  # doctest: +SKIP
        (['camera', 'focus_positions', 'slices'], frozenset())
    """

    LENS = ("focal_length_mm", "f_number", "pixel_pitch_um")

    def __init__(self, root: str | Path, *, max_side: int = 0) -> None:
        self.root, self.max_side = Path(root), max_side
        self.plain: list[tuple[float, list[float]]] | None = None  # per stack folder: (scale, camera row)
        if (self.root / "dataset.json").is_file():
            self.folders = sorted(p for p in self.root.iterdir() if p.is_dir() and p.name.isdigit())
            self.ground_truth = self._simulated_ground_truth()
            self.min_slices = int(json.loads((self.root / "dataset.json").read_text())["slices"])
        else:
            self.folders = self._stack_folders()
            metadata = [self._plain_metadata(folder) for folder in self.folders]
            self.plain = [(scale, row) for _, scale, row in metadata]
            self.ground_truth = frozenset()
            self.min_slices = min(count for count, _, _ in metadata)

    def _stack_folders(self) -> list[Path]:
        if not self.root.is_dir():
            raise InputError(f"{self.root} is not a folder" if self.root.exists() else f"{self.root} does not exist")
        folders = sorted(p for p in self.root.iterdir() if p.is_dir() and not p.name.startswith("."))
        return folders or [self.root]

    def _simulated_ground_truth(self) -> frozenset[str]:
        """The optional keys every stack folder provides; refuses a stack without its camera's lens."""
        have = {"depth", "all_in_focus", "warps"}
        for folder in self.folders:
            try:
                meta = json.loads((folder / "stack.json").read_text())
            except (OSError, ValueError) as exc:
                raise InputError(f"{folder} is not a simulated stack folder: {exc}") from None
            camera = meta.get("camera") or {}
            self._check_lens(folder, [camera.get(name) for name in self.LENS])
            have -= {key for key, name in (("depth", "depth.npy"), ("all_in_focus", "aif.png"))
                     if not (folder / name).is_file()}
            have -= set() if "warps" in meta else {"warps"}
        return frozenset(have)

    @classmethod
    def _check_lens(cls, folder: Path, row: list[float | None]) -> None:
        missing = [name for name, value in zip(cls.LENS, row) if value is None]
        if missing:
            raise InputError(f"{folder}: training re-renders each stack through its lens, so its stack.json needs a "
                             f"'camera' with focal_length_mm, f_number and pixel_pitch_um (or sensor_width_mm); "
                             f"missing: {', '.join(missing)}")

    def _plain_metadata(self, folder: Path) -> tuple[int, float, list[float]]:
        """(slice count, downscale factor, camera row at that scale) of a stack folder, or InputError."""
        from ..io.stackdir import read_stack

        try:
            stack = read_stack(folder)
        except InputError as exc:
            raise InputError(f"{folder} is not a usable stack folder: {exc}") from None
        if stack.unit not in ("m", "diopter") or (stack.focus_positions <= 0).any():
            raise InputError(f"{folder}: training needs positive focus positions in metres (or diopters), "
                             f"'focus_positions' with 'unit': 'm' in its stack.json; got unit {stack.unit!r}")
        height, width = stack.shape
        camera = stack.camera or Camera()
        row = [camera.focal_length_mm, camera.f_number, camera.pixel_pitch_for(width)]
        self._check_lens(folder, row)
        scale = min(1.0, self.max_side / max(height, width)) if self.max_side else 1.0
        row[2] *= width / max(1, round(width * scale))  # the same sensor in fewer, larger pixels
        return len(stack), scale, row

    def __len__(self) -> int:
        return len(self.folders)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        if self.plain is not None:
            return self._read_plain(index)
        item = _to_tensors(read_simulated(self.folders[index], require_ground_truth=False))
        absent = {"depth", "all_in_focus", "warps"} - self.ground_truth
        absent |= {"valid"} if "depth" in absent else set()
        return {key: value for key, value in item.items() if key not in absent}

    def _read_plain(self, index: int) -> dict[str, torch.Tensor]:
        from ..io.stackdir import read_stack

        scale, camera = self.plain[index]
        stack = read_stack(self.folders[index], scale=scale)
        slices = stack.to_array()
        if slices.ndim == 3:  # grey
            slices = np.repeat(slices[..., None], 3, axis=-1)
        focus = stack.focus_positions if stack.unit == "m" else 1.0 / stack.focus_positions
        return {"slices": torch.from_numpy(np.ascontiguousarray(slices.transpose(0, 3, 1, 2))),
                "focus_positions": torch.from_numpy(focus.astype(np.float32)),
                "camera": torch.tensor(camera, dtype=torch.float32)}
