"""Copy simulated datasets without their ground truth, to train and choose checkpoints as on one's own stacks.

Every stack folder is copied with its slices (hard links where possible) and a stack.json that keeps only the
files, the metadata focus distances, unit and camera: no depth.npy, valid.npy, aif.png, warps, true focus
distances, profile or scene. The result reads like a folder of one's own focal stacks (docs/training.md,
"Training on your own stacks")::

    python configs/data/strip_ground_truth.py data/mix data/mix-nogt
    python configs/data/strip_ground_truth.py .focalstack-suite/real-v1 data/realdev-nogt --only realdev-
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
from pathlib import Path

KEEP = ("files", "focus_positions", "unit", "camera")


def strip_stack(source: Path, target: Path) -> None:
    meta = json.loads((source / "stack.json").read_text())
    target.mkdir(parents=True, exist_ok=True)
    for name in meta["files"]:
        try:
            os.link(source / name, target / name)
        except OSError:
            shutil.copy2(source / name, target / name)
    (target / "stack.json").write_text(json.dumps({k: meta[k] for k in KEEP if k in meta}, indent=1) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path, help="a folder of simulated datasets (e.g. data/mix)")
    parser.add_argument("target", type=Path)
    parser.add_argument("--only", default="", help="only datasets whose names start with this")
    args = parser.parse_args()
    for dataset in sorted(p for p in args.source.iterdir() if (p / "dataset.json").is_file()):
        if not dataset.name.startswith(args.only):
            continue
        stacks = sorted(p for p in dataset.iterdir() if p.is_dir() and p.name.isdigit())
        for stack in stacks:
            if not (args.target / dataset.name / stack.name / "stack.json").is_file():
                strip_stack(stack, args.target / dataset.name / stack.name)
        print(f"{dataset.name}: {len(stacks)} stacks")


if __name__ == "__main__":
    main()
