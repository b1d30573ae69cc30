"""Stack alignment on the benchmark suite: warp error against the simulator's exact warps, and seconds.

Every stack of the suite's simulated splits (``focalstack.eval.suite``, generated on first use into
``--suite-dir`` as ``focalstack eval --suite`` does) is aligned by each method of
``focalstack.align.align``. The error of a slice is the mean distance in pixels, over the four corners
and the centre, between where the estimated and the exact warp send a reference-frame point
(``focalstack.align.warp_error_px``), both expressed in the nearest-focus slice's frame (the exact warps
map the ground truth's frame, which also differs from that slice by its principal-point shift). Rows:
split x method, columns: mean and maximum error over the stacks' non-reference slices, and the median
seconds per stack. One Markdown table; prints numbers, asserts nothing.

With ``--depth METHOD ...`` (focus measures or models, as ``focalstack eval -m``) it prints instead the depth
MSE (metres², ``focalstack eval``'s protocol) of each depth method on one split's stacks as they are, aligned by
``align(method="auto")``, and warped with the exact warps into the nearest-focus slice's frame and into the
ground truth's frame. The ground truth lies in the simulated camera's ideal frame, which no slice shares (each
has its own principal-point shift), so only the last variant is registered with it exactly.

Usage:
    python benchmarks/bench_align.py [--suite-dir .focalstack-suite] [--methods none,metadata,...] [--limit N]
    python benchmarks/bench_align.py --depth sml daifnet [--split phone-real]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np

from focalstack.align import align, relative_to, warp_error_px, warp_to_reference
from focalstack.eval.datasets.base import Sample
from focalstack.eval.runner import score_sample
from focalstack.eval.suite import build_suite
from focalstack.methods import resolve_method
from focalstack.simulate.dataset import read_simulated
from focalstack.stack import FocalStack


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite-dir", type=Path, default=Path(".focalstack-suite"))
    parser.add_argument("--methods", default="none,metadata,ecc,metadata+ecc")
    parser.add_argument("--limit", type=int, default=None, help="stacks per split")
    parser.add_argument("--depth", nargs="*", default=None, help="depth methods to score on aligned stacks")
    parser.add_argument("--split", default="phone-real")
    args = parser.parse_args()
    methods = args.methods.split(",")
    splits = build_suite(args.suite_dir)
    if args.depth:
        depth_table(splits[args.split].folders[: args.limit], args.depth)
        return
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


def depth_table(folders, names: list[str]) -> None:
    methods = {name: resolve_method(name) for name in names}
    variants = ("as recorded", "auto", "exact, nearest slice's frame", "exact, ground truth's frame")
    mse = {(v, m): [] for v in variants for m in methods}
    for folder in folders:
        sim = read_simulated(folder)
        stack = sim.to_focal_stack()
        exact = np.asarray(sim.warps, np.float64)
        stacks = dict(zip(variants, (stack, align(stack, method="auto").stack,
                                     _warped(stack, relative_to(exact, 0)), _warped(stack, exact))))
        for variant, aligned in stacks.items():
            sample = Sample(name=folder.name, stack=aligned, depth=sim.depth_m, valid=sim.valid)
            for name, method in methods.items():
                mse[variant, name].append(score_sample(sample, method(aligned))["mse"])
    print("| slices | " + " | ".join(methods) + " |")
    print("|---|" + "---:|" * len(methods))
    for variant in variants:
        print(f"| {variant} | " + " | ".join(f"{np.mean(mse[variant, m]):.4g}" for m in methods) + " |")


def _warped(stack: FocalStack, warps: np.ndarray) -> FocalStack:
    slices = [warp_to_reference(s, w) for s, w in zip(stack, warps)]
    return FocalStack(slices, stack.focus_positions, unit=stack.unit, camera=stack.camera)


if __name__ == "__main__":
    main()
