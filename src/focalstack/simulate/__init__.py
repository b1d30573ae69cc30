"""Simulated focal stacks: scenes with ground-truth depth, cameras, datasets.

- :mod:`.textures`: procedural textures and natural-image patches, ``(rng, shape) -> H x W x 3``.
- :mod:`.scenes`: :class:`Scene` (all-in-focus image + metric depth), random layered
  procedural scenes, and scenes from RGB-D images (Middlebury 2003, Tsukuba).
- :mod:`.camera`: camera profiles, focus sweeps, real-camera effects, :func:`simulate_stack`.
- :mod:`.dataset`: the on-disk dataset format, writer/reader, torch datasets.
"""

from .camera import PROFILES, CameraEffects, CameraProfile, SimulatedStack, focus_sweep, simulate_stack, unwarp
from .dataset import (
    FocalStackFolderDataset,
    SimulatedDataset,
    SimulationConfig,
    generate,
    read_simulated,
    write_dataset,
)
from .scenes import Scene, load_middlebury2003, load_rgbd, load_tsukuba, procedural_scene, scene_from_rgbd
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
    "write_dataset",
    "NATURAL_SOURCES", "TEXTURES", "checkers_texture", "load_natural_source", "natural_texture",
    "noise_texture", "random_texture", "stripes_texture", "strokes_texture",
]
