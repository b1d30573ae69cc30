"""Stack alignment on the benchmark suite: warp error against the simulator's exact warps, and seconds.

Every stack of the suite's simulated splits (``focalstack.eval.suite``, generated on first use into
``--suite-dir`` as ``focalstack eval --suite`` does) is aligned by each method of
``focalstack.align.align``. The error of a slice is the mean distance in pixels, over the four corners
and the centre, between where the estimated and the exact warp send a reference-frame point
(``focalstack.align.warp_error_px``), both expressed in the nearest-focus slice's frame (the exact warps
map the ground truth's frame, which also differs from that slice by its principal-point shift). Rows:
split x method, columns: mean and maximum error over the stacks' non-reference slices, and the median
seconds per stack. One Markdown table; prints numbers, asserts nothing.

Usage:
    python benchmarks/bench_align.py [--suite-dir .focalstack-suite] [--methods none,metadata,...] [--limit N]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np

from focalstack.align import align, relative_to, warp_error_px
from focalstack.eval.suite import build_suite
from focalstack.simulate.dataset import read_simulated


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite-dir", type=Path, default=Path(".focalstack-suite"))
    parser.add_argument("--methods", default="none,metadata,ecc,metadata+ecc")
    parser.add_argument("--limit", type=int, default=None, help="stacks per split")
    args = parser.parse_args()
    methods = args.methods.split(",")
    splits = build_suite(args.suite_dir)
    print("| split | method | mean error px | max error px | s / stack |")
    print("|---|---|---:|---:|---:|")
    for name, dataset in splits.items():
        folders = dataset.folders[: args.limit]
        for method in methods:
            errors, seconds = [], []
            for folder in folders:
                sim = read_simulated(folder)
                stack = sim.to_focal_stack()
                start = time.perf_counter()
                result = align(stack, method=method)
                seconds.append(time.perf_counter() - start)
                true = relative_to(np.asarray(sim.warps, np.float64), result.reference)
                errors.extend(np.delete(warp_error_px(result.warps, true, stack.shape), result.reference))
            print(f"| {name} | {method} | {np.mean(errors):.3f} | {np.max(errors):.3f} | "
                  f"{statistics.median(seconds):.3f} |")


if __name__ == "__main__":
    main()
