"""Light-field depth error against the scene's disparity range: the real-image benchmark's light field, narrowed.

The real-image benchmark's light field (``focalstack eval --real``) renders its photographs with scene disparities
of up to +-3 px between adjacent views, past the refocus sweep (+2.5 to -2.5 px). The HCI 4D Light Field scenes
that the papers' figures come from lie within about +-1.5 px. This script renders the same held-out photographs
(2 random 256x256 views each, the same 9 x 9-view camera and 10-slice protocol sweep) with every view's
disparity inside +-``--half-range`` px, and prints each method's MSE (px²), RMSE and Bump, with its MSE as a
multiple of the first method's (95 % bootstrap interval over the stacks), beside the published HCI figures.

The stacks are written once to ``SUITE_DIR/lightfield-range-v1/SPLIT-HALF_RANGE`` (fixed seeds; delete the folder
to render them again). Choose checkpoints on ``--split dev``; quote ``--split test``.

    python benchmarks/bench_lightfield_range.py --data ../shared/data --split test \
        -m sml -m dffwild -m dffwild:lightfield -m aifdepthnet
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

import numpy as np

from focalstack.eval.datasets.simulated import SimulatedStacks
from focalstack.eval.metrics import ratio_interval
from focalstack.eval.runner import evaluate, method_runner
from focalstack.eval.suite import real_suite_splits
from focalstack.simulate.camera import PROFILES
from focalstack.simulate.dataset import SimulationConfig, write_dataset

VERSION = 1
SEEDS = {"test": 20261503, "dev": 20261403}
# Won & Jeon (ECCV 2022), Table 2 (HCI 4D Light Field test scenes, MSE px², Bump)
PUBLISHED = (("DefocusNet", 0.0593, 2.69), ("AiFDepthNet (paper, depth)", 0.0472, 1.58),
             ("DfF in the Wild (paper)", 0.0230, 1.29))


def range_config(data_root: str | Path, split: str, half_range: float) -> SimulationConfig:
    """The real-image benchmark's light-field split of ``split``'s photographs, with other seeds and scene
    disparity inside +-``half_range`` px."""
    if split not in SEEDS:
        raise SystemExit(f"--split must be one of {', '.join(SEEDS)}")
    scale, offset = PROFILES["lightfield"].disparity  # d = scale / Z - offset
    if not 0 < half_range < offset:
        raise SystemExit(f"--half-range must be in (0, {offset:g}) px")
    benchmark = next(s.config for s in real_suite_splits(data_root, split) if s.name.endswith("-lightfield"))
    return replace(benchmark, seed=SEEDS[split],
                   depth_range_m=(scale / (offset + half_range), scale / (offset - half_range)))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path("../shared/data"), help="the RGB-D photographs' root")
    parser.add_argument("--split", default="test", help="test (to quote) or dev (to choose checkpoints)")
    parser.add_argument("--half-range", type=float, default=1.5, help="scene disparity within +-this, px")
    parser.add_argument("--suite-dir", type=Path, default=Path(".focalstack-suite"))
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("-m", "--method", dest="methods", action="append", required=True,
                        help="a method string; the first is the reference of the ratios (e.g. sml)")
    args = parser.parse_args(argv)

    config = range_config(args.data, args.split, args.half_range)
    folder = args.suite_dir / f"lightfield-range-v{VERSION}" / f"{args.split}-{args.half_range:g}"
    write_dataset(config, folder, workers=args.workers)
    name = f"lightfield {args.split}, +-{args.half_range:g} px"
    rows = evaluate({m: method_runner(m) for m in args.methods}, {name: SimulatedStacks(folder)})
    reference = [r["mse"] for r in rows[0].per_image]
    print(f"{name}: {rows[0].images} stacks of {rows[0].size}\n")
    print(f"| method | MSE px² | RMSE px | Bump | MSE / {rows[0].method}'s |")
    print("|---|---:|---:|---:|---:|")
    for row in rows:
        mse = [r["mse"] for r in row.per_image]
        ratio, low, high = ratio_interval([(mse, reference)])
        print(f"| {row.method} | {row.metrics['mse']:.4f} | {np.mean([r['rmse'] for r in row.per_image]):.3f} | "
              f"{row.metrics.get('bump', float('nan')):.2f} | {ratio:.2f} ({low:.2f}-{high:.2f}) |")
    for label, mse, bump in PUBLISHED:
        print(f"| {label}, HCI scenes (published) | {mse:.4f} | | {bump:.2f} | |")


if __name__ == "__main__":
    main()
