"""MSE of models relative to a reference model on the suite's simulated splits, in metres and in diopters.

The suite scores depth in metres (m²). The networks work in inverse depth (diopters for metric stacks), where
an error of a given size costs the same at every distance; in m² the far end of a split's focus range weighs
most. This prints, per split and as a geometric mean over the six simulated splits, each model's MSE divided by
the reference model's, both ways (stacks as recorded, the benchmarks' protocol; the suite's evaluation mask)::

    python benchmarks/ratio_in_diopters.py --suite-dir /tmp/suite aifdepthnet_light aifdepthnet_light:aif
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np

from focalstack.eval.metrics import evaluation_mask
from focalstack.methods import resolve_method
from focalstack.simulate.dataset import read_simulated

SPLITS = ("phone-ideal", "phone-real", "dslr_macro-ideal", "dslr_macro-real", "microscope-ideal", "microscope-real")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("reference", help="the model the others are divided by, e.g. aifdepthnet_light")
    parser.add_argument("models", nargs="+", help="models (as for focalstack eval -m)")
    parser.add_argument("--suite-dir", type=Path, default=Path(".focalstack-suite"),
                        help="the suite's folder (focalstack eval --suite generates it)")
    args = parser.parse_args()
    names = [args.reference, *args.models]
    methods = {name: resolve_method(name) for name in names}
    mse: dict[tuple[str, str], tuple[float, float]] = {}
    for split in SPLITS:
        folder = args.suite_dir / "v1" / split
        if not folder.is_dir():
            raise SystemExit(f"no suite split {folder}: run focalstack eval --suite --suite-dir {args.suite_dir} first")
        samples = [read_simulated(f) for f in sorted(folder.iterdir()) if f.is_dir()]
        for name, method in methods.items():
            metres, diopters = [], []
            for sample in samples:
                stack = sample.to_focal_stack()
                span = (stack.focus_positions.min(), stack.focus_positions.max())
                mask = evaluation_mask(sample.depth_m, valid=sample.valid, focus_range=span)
                depth = method(stack).depth[mask]
                truth = sample.depth_m[mask]
                metres.append(float(((depth - truth) ** 2).mean()))
                diopters.append(float(((1 / depth - 1 / truth) ** 2).mean()))
            mse[name, split] = (float(np.mean(metres)), float(np.mean(diopters)))

    def geometric(values: list[float]) -> float:
        return math.exp(sum(math.log(v) for v in values) / len(values))

    print(f"MSE divided by {args.reference}'s, per simulated split and geometric mean:\n")
    print("| model | unit | " + " | ".join(SPLITS) + " | geometric mean |")
    print("|---|---|" + "---:|" * (len(SPLITS) + 1))
    for name in args.models:
        for unit, index in (("m²", 0), ("diopters²", 1)):
            ratios = [mse[name, s][index] / mse[args.reference, s][index] for s in SPLITS]
            print(f"| {name} | {unit} | " + " | ".join(f"{r:.2f}" for r in ratios) + f" | {geometric(ratios):.2f} |")


if __name__ == "__main__":
    main()
