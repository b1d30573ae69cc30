"""Snapshot every released method's output on a few stacks, or compare two snapshots.

A refactoring must not change any result. Take a snapshot with the old code and one with the new,
then compare (the command line is called in a child process, so any version of the package works):

    python benchmarks/output_snapshot.py SNAP_OLD --stacks S1 S2 S3
    python benchmarks/output_snapshot.py SNAP_NEW --stacks S1 S2 S3
    python benchmarks/output_snapshot.py SNAP_NEW --compare SNAP_OLD

Each stack goes through `sml` with its default options, a classical method with every option changed, each
released network, test-time augmentation, 3 steps of test-time optimisation and `--scale 0.5`.
Prints the largest absolute difference of depth and confidence per run; asserts nothing.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import numpy as np

RUNS = {
    "sml": ["-m", "sml"],
    "tenengrad": ["-m", "tenengrad", "--window", "5", "--fusion", "pyramid", "--refine", "wmedian",
                  "--peak-fit", "parabolic"],
    "rdf-scale": ["-m", "rdf", "--scale", "0.5"],
    **{name.replace(":", "_"): ["-m", name] for name in (
        "aifdepthnet_light", "aifdepthnet_light:aif", "aifdepthnet_light:self", "aifdepthnet", "aifdepthnet:aif",
        "aifdepthnet:self", "daifnet", "dffwild_light")},
    "tta": ["-m", "aifdepthnet_light", "--dihedral"],
    "tto": ["-m", "aifdepthnet_light", "--tto", "3"],
    "scale": ["-m", "daifnet", "--scale", "0.5"],
}


def snapshot(out: Path, stacks: list[Path]) -> None:
    for stack in stacks:
        for name, args in RUNS.items():
            target = out / f"{stack.parent.name}-{stack.name}-{name}"
            command = [sys.executable, "-m", "focalstack.cli", "depth", str(stack), "-o", str(target), "-q",
                       "--overwrite", *args]
            done = subprocess.run(command, capture_output=True, text=True)
            print(f"{target.name}: {'ok' if done.returncode == 0 else 'FAILED ' + done.stderr.strip()[-200:]}")


def compare(new: Path, old: Path) -> None:
    print("| run | max abs depth difference | max abs confidence difference |")
    print("|---|---:|---:|")
    worst = 0.0
    for folder in sorted(p for p in old.iterdir() if p.is_dir()):
        other = new / folder.name
        if not (other / "depth.npy").is_file():
            print(f"| {folder.name} | missing | missing |")
            continue
        diffs = []
        for name in ("depth.npy", "confidence.npy"):
            a, b = np.load(folder / name), np.load(other / name)
            diffs.append(float(np.nanmax(np.abs(a - b))) if a.shape == b.shape else float("inf"))
        worst = max(worst, *diffs)
        print(f"| {folder.name} | {diffs[0]:.3g} | {diffs[1]:.3g} |")
    print(f"\nlargest difference: {worst:.3g}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="snapshot folder (written, or compared with --compare)")
    parser.add_argument("--stacks", type=Path, nargs="*", default=[], help="stack folders to snapshot")
    parser.add_argument("--compare", type=Path, help="an older snapshot to compare OUT with")
    args = parser.parse_args()
    if args.compare:
        compare(args.out, args.compare)
    else:
        snapshot(args.out, args.stacks)


if __name__ == "__main__":
    main()
