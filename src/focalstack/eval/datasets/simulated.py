"""Datasets written by ``focalstack simulate`` (format ``focalstack-sim-v1``), as evaluation samples.

Ground truth is metric depth in metres (unit ``"m"``), valid where the scene's depth was
measured; the stack carries the metadata focus distances (not the true ones) and the camera.
Light-field stacks (``lightfield`` profile) are in disparity pixels instead, stack and ground truth.
"""

from __future__ import annotations

from pathlib import Path

from ...errors import InputError
from ...simulate.dataset import read_simulated
from .base import Sample, register_loader


@register_loader("sim")
class SimulatedStacks:
    """All stack folders of a simulated dataset, in index order.

    Args:
        root: the dataset folder (with ``dataset.json``).
        limit: use only the first ``limit`` stacks.
    """

    def __init__(self, root: str | Path, *, limit: int | None = None) -> None:
        self.root = Path(root)
        if not (self.root / "dataset.json").is_file():
            raise InputError(f"{self.root} is not a simulated dataset (no dataset.json)")
        self.folders = sorted(p for p in self.root.iterdir() if p.is_dir() and p.name.isdigit())[:limit]
        if not self.folders:
            raise InputError(f"{self.root} holds no stacks")

    def __len__(self) -> int:
        return len(self.folders)

    def __getitem__(self, index: int) -> Sample:
        sim = read_simulated(self.folders[index])
        depth = sim.disparity(sim.depth_m) if sim.info.get("disparity") else sim.depth_m
        return Sample(name=f"{self.root.name}/{self.folders[index].name}", stack=sim.to_focal_stack(),
                      depth=depth, valid=sim.valid, all_in_focus=sim.all_in_focus)
