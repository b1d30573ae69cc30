"""Released models against the best classical method on the benchmark suite, from a `focalstack eval` report.

For every split, each model's MSE and Bump are divided by the lowest MSE and the lowest Bump that any classical
method reaches there (< 1: the model beats every classical method on that metric), plus the ratios between
supervision regimes that issue 6 asks about (all-in-focus- and self-supervised vs depth-supervised MSE).

    focalstack eval --suite --suite-dir .focalstack-suite -m sml -m tenengrad -m variance -m rdf \
        -m aifdepthnet_light -m aifdepthnet_light:aif -m dffwild_light -m daifnet -o report
    python benchmarks/compare_released.py report/results.json

With per-image scores in the report (focalstack eval keeps them since session 10), each MSE ratio also gets a 95 %
bootstrap interval over the stacks of every split (:func:`focalstack.eval.metrics.ratio_interval`): how far the
suite's handful of stacks per split lets the ratio be trusted.
"""

from __future__ import annotations

import argparse
import json
import math
from collections import defaultdict

from focalstack.eval.metrics import ratio_interval

CLASSICAL = ("sml", "tenengrad", "variance", "rdf")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", help="results.json of focalstack eval")
    parser.add_argument("--depth-model", default="aifdepthnet_light", help="the depth-supervised reference")
    parser.add_argument("--reps", type=int, default=2000, help="bootstrap resamples of the ratio's interval")
    args = parser.parse_args()
    rows = json.load(open(args.results))["results"]
    table: dict[str, dict[str, dict]] = defaultdict(dict)
    for row in rows:
        table[row["dataset"]][row["method"]] = row
    methods = list(dict.fromkeys(r["method"] for r in rows))
    models = [m for m in methods if m not in CLASSICAL]

    print("MSE and Bump of each model divided by the best classical value of each (method named):\n")
    print("| split | best classical MSE / Bump | " + " | ".join(f"{m} MSE / Bump" for m in models) + " |")
    print("|---|---|" + "---:|" * len(models))
    wins = defaultdict(lambda: [0, 0, 0])
    for split, by_method in table.items():
        classical = [m for m in CLASSICAL if m in by_method]
        if not classical:
            continue
        best_mse = min(classical, key=lambda m: by_method[m]["metrics"]["mse"])
        best_bump = min(classical, key=lambda m: by_method[m]["metrics"]["bump"])
        ref = {"mse": by_method[best_mse]["metrics"]["mse"], "bump": by_method[best_bump]["metrics"]["bump"]}
        cells = []
        for model in models:
            if model not in by_method:
                cells.append("-")
                continue
            got = by_method[model]["metrics"]
            mse_ratio, bump_ratio = got["mse"] / ref["mse"], got["bump"] / ref["bump"]
            cells.append(f"{mse_ratio:.2f} / {bump_ratio:.2f}")
            if split.startswith("rgbd-"):
                continue
            wins[model][0] += mse_ratio < 1
            wins[model][1] += bump_ratio < 1
            wins[model][2] += 1
        print(f"| {split} | {best_mse} {ref['mse']:.3g} / {best_bump} {ref['bump']:.3g} | " + " | ".join(cells) + " |")
    print("\nSimulated splits (rgbd- excluded) where the model beats the best classical method:\n")
    print("| model | MSE | Bump |")
    print("|---|---:|---:|")
    for model in models:
        mse_wins, bump_wins, total = wins[model]
        print(f"| {model} | {mse_wins}/{total} | {bump_wins}/{total} |")

    print(f"\nMSE relative to the depth-supervised {args.depth_model} (geometric mean over simulated splits):\n")
    print("| model | MSE ratio | 95 % interval (bootstrap over stacks) |")
    print("|---|---:|---|")
    for model in models:
        pairs = [(by[model], by[args.depth_model]) for split, by in table.items()
                 if not split.startswith("rgbd-") and model in by and args.depth_model in by]
        if not pairs:
            continue
        ratio = math.exp(sum(math.log(m["metrics"]["mse"] / r["metrics"]["mse"]) for m, r in pairs) / len(pairs))
        interval = "-"
        if all(m.get("per_image") and r.get("per_image") for m, r in pairs):
            per_image = [([x["mse"] for x in m["per_image"]], [x["mse"] for x in r["per_image"]]) for m, r in pairs]
            _, low, high = ratio_interval(per_image, reps=args.reps)
            interval = f"{low:.2f}-{high:.2f}"
        print(f"| {model} | {ratio:.2f} | {interval} |")


if __name__ == "__main__":
    main()
