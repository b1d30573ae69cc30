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

With ``--table4`` it reproduces Table 4 of "Learning Depth from Focus in the Wild" (Won & Jeon, ECCV 2022):
for each alignment (none, field of view only, ECC ``auto``, homography, learned + field of view) the depth error
of one depth method (``--table4-depth``, default ``dffwild_light``) on each of the suite's ``-real`` splits at
256x256 (breathing, focus-distance errors and principal-point shifts) and on ``--hd`` stacks of 1920x1080
dead-leaves scenes through the phone camera with the same imperfections (made once under
``--suite-dir/table4-hd``), with the seconds of the alignment per stack. The ground truth is resampled
(nearest) into the nearest-focus slice's frame with the exact warp, so that a perfect alignment scores the
depth method's own error.

Usage:
    python benchmarks/bench_align.py [--suite-dir .focalstack-suite] [--methods none,metadata,...] [--limit N]
    python benchmarks/bench_align.py --depth sml daifnet [--split phone-real]
    python benchmarks/bench_align.py --table4 [--table4-depth dffwild_light] [--hd 4]
    python benchmarks/bench_align.py --heldout data/align-mix --methods metadata,auto,homography,learned
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from focalstack.align import align, invert, relative_to, warp_error_px, warp_to_reference
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
    parser.add_argument("--table4", action="store_true", help="the paper's Table 4 (see the module docstring)")
    parser.add_argument("--table4-depth", default="dffwild_light")
    parser.add_argument("--table4-align", default="none,metadata,auto,homography,learned")
    parser.add_argument("--hd", type=int, default=4, help="1920x1080 stacks for --table4 (0: none)")
    parser.add_argument("--heldout", type=Path, default=None,
                        help="instead of the suite: the stacks `focalstack train-align` holds out of DIR (every 10th)")
    args = parser.parse_args()
    methods = args.methods.split(",")
    if args.heldout:
        from focalstack.train.align import split_folders, stack_folders

        splits = {f"{args.heldout.name} (held out)": SimpleNamespace(
            folders=split_folders(stack_folders([args.heldout]))[1])}
    else:
        splits = build_suite(args.suite_dir)
    if args.table4:
        table4(splits, args)
        return
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


TABLE4_METRICS = ("mae", "mse", "rmse_log", "abs_rel", "sq_rel", "delta1", "delta2", "delta3")
TABLE4_NAMES = {"none": "w/o alignment", "metadata": "w/ initial FoVs (metadata)", "auto": "ECC (auto)",
                "homography": "homography (ECC)", "learned": "learned + FoVs"}


def table4(splits, args) -> None:
    groups = {f"{name}, 256x256": d.folders[: args.limit] for name, d in splits.items()
              if name.endswith("-real") and args.limit != 0}  # --limit 0: the 1920x1080 stacks only
    if args.hd:
        groups["phone, 1920x1080"] = hd_stacks(args.suite_dir / "table4-hd", args.hd)
    depth = resolve_method(args.table4_depth)
    print(f"Depth by `{args.table4_depth}`; metres; seconds: alignment per stack (median).\n")
    print("| stacks | alignment | " + " | ".join(TABLE4_METRICS) + " | warp error px | s / stack |")
    print("|---|---|" + "---:|" * (len(TABLE4_METRICS) + 2))
    for group, folders in groups.items():
        rows = {m: ([], [], []) for m in args.table4_align.split(",")}
        for folder in folders:
            sim = read_simulated(folder)
            stack = sim.to_focal_stack()
            exact = np.asarray(sim.warps, np.float64)
            truth = warp_to_reference(sim.depth_m, invert(exact[0]), nearest=True)
            valid = warp_to_reference(sim.valid.astype(np.float32), invert(exact[0]), nearest=True) > 0.5
            for method, (scores, errors, seconds) in rows.items():
                start = time.perf_counter()
                result = align(stack, method=method)
                seconds.append(time.perf_counter() - start)
                errors.extend(np.delete(warp_error_px(result.warps, relative_to(exact, 0), stack.shape), 0))
                sample = Sample(name=folder.name, stack=result.stack, depth=truth, valid=valid)
                scores.append(score_sample(sample, depth(result.stack)))
        for method, (scores, errors, seconds) in rows.items():
            means = [np.mean([s[k] for s in scores]) for k in TABLE4_METRICS]
            print(f"| {group} | {TABLE4_NAMES.get(method, method)} | " + " | ".join(f"{v:.4g}" for v in means)
                  + f" | {np.mean(errors):.2f} | {statistics.median(seconds):.3f} |")


def hd_stacks(root: Path, count: int) -> list[Path]:
    """``count`` phone stacks of 5 x 1920x1080 with every camera imperfection (written once, fixed seeds)."""
    from dataclasses import replace

    from focalstack.simulate import CameraEffects, dead_leaves_scene, simulate_stack
    from focalstack.simulate.camera import PROFILES
    from focalstack.simulate.dataset import write_stack

    phone = replace(PROFILES["phone"], working_scale=4032 / 1920)  # a phone photo read out at 1920 px wide
    folders = []
    for k in range(count):
        folder = root / f"{k:06d}"
        if not (folder / "stack.json").is_file():
            rng = np.random.default_rng(20261204 + k)
            scene = dead_leaves_scene(rng, size=(1080, 1920), depth_range_m=phone.depth_range_m)
            folder.parent.mkdir(parents=True, exist_ok=True)
            write_stack(simulate_stack(scene, phone, num_slices=5, effects=CameraEffects(), rng=rng), folder)
        folders.append(folder)
    return folders


def _warped(stack: FocalStack, warps: np.ndarray) -> FocalStack:
    slices = [warp_to_reference(s, w) for s, w in zip(stack, warps)]
    return FocalStack(slices, stack.focus_positions, unit=stack.unit, camera=stack.camera)


if __name__ == "__main__":
    main()
