"""Simulated focal stacks: scenes with ground-truth depth, cameras, datasets.

- :mod:`.textures`: procedural textures and natural-image patches, ``(rng, shape) -> H x W x 3``.
- :mod:`.scenes`: :class:`Scene` (all-in-focus image + metric depth), random layered
  procedural scenes, and scenes from RGB-D images (Middlebury 2003, Tsukuba).
- :mod:`.rgbd`: real RGB-D photographs as scenes, their fixed test / dev / train split, random views.
- :mod:`.camera`: camera profiles (with a light field), focus sweeps, real-camera effects, :func:`simulate_stack`.
- :mod:`.dataset`: the on-disk dataset format, writer/reader, torch datasets.
- :mod:`.mix`: training mixes of several sources, written once to disk.
"""

from .camera import (
    PROFILES,
    CameraEffects,
    CameraProfile,
    SimulatedStack,
    focus_sweep,
    random_sweep,
    simulate_stack,
    unwarp,
)
from .dataset import (
    FocalStackFolderDataset,
    SimulatedDataset,
    SimulationConfig,
    generate,
    read_simulated,
    write_dataset,
)
from .mix import MixConfig, MixSource, write_mix
from .rgbd import RGBD_DEV, RGBD_TEST, load_rgbd_scene, random_view, rgbd_split
from .scenes import (
    Scene,
    dead_leaves_scene,
    load_middlebury2003,
    load_rgbd,
    load_tsukuba,
    procedural_scene,
    scene_from_rgbd,
)
from .textures import (
    NATURAL_SOURCES,
    TEXTURES,
    checkers_texture,
    load_natural_source,
    natural_texture,
    noise_texture,
    random_texture,
    stripes_texture,
    strokes_texture,
)

__all__ = [
    "PROFILES", "CameraEffects", "CameraProfile", "FocalStackFolderDataset", "Scene", "SimulatedDataset",
    "SimulatedStack", "SimulationConfig", "focus_sweep", "generate", "load_middlebury2003", "load_rgbd",
    "load_tsukuba", "procedural_scene", "read_simulated", "scene_from_rgbd", "simulate_stack", "unwarp",
    "write_dataset", "random_sweep", "dead_leaves_scene", "MixConfig", "MixSource", "write_mix", "RGBD_DEV",
    "RGBD_TEST", "load_rgbd_scene", "random_view", "rgbd_split",
    "NATURAL_SOURCES", "TEXTURES", "checkers_texture", "load_natural_source", "natural_texture",
    "noise_texture", "random_texture", "stripes_texture", "strokes_texture",
]
