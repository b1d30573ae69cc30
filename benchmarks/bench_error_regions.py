"""Where is a method's depth error? MSE split by the kind of pixel, on simulated datasets with ground truth.

Every valid pixel of every stack falls in exactly one region, in this order of precedence:

- ``edge``: within 3 px of a depth discontinuity of the ground truth (a step of more than ``--edge-step`` of the
  stack's focus span between neighbours, in the blur coordinate: inverse depth, or disparity);
- ``outside``: ground truth beyond the nearest or farthest focus position (no slice is sharp there);
- ``flat``: texture-poor (standard deviation of the all-in-focus image's grey level under 0.02 in a 9 x 9 window);
- ``textured``: the rest.

For each region the table gives its share of the pixels, the method's MSE there, and its share of the total
squared error (MSE in the benchmark's units: metres², disparity px²). The light field's rows show how much of a
network's error a perfect texture-rich, edge-free scene would leave.

    python benchmarks/bench_error_regions.py --suite-dir .focalstack-suite/real-v1 \
        --datasets realdev-lightfield realdev-phone -m dffwild -m aifdepthnet -m sml
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from scipy import ndimage

from focalstack import estimate_depth, resolve_method
from focalstack.eval.runner import open_dataset

REGIONS = ("edge", "outside", "flat", "textured")


def region_masks(truth: np.ndarray, valid: np.ndarray, image: np.ndarray, positions: np.ndarray, *,
                 unit: str, edge_step: float = 0.05) -> dict[str, np.ndarray]:
    """The four disjoint regions (boolean H x W maps whose union is ``valid``) of one stack."""
    coord = truth if unit == "disparity" else 1.0 / np.where(valid, truth, 1.0)
    focus = np.asarray(positions, np.float64) if unit == "disparity" else 1.0 / np.asarray(positions, np.float64)
    span = float(focus.max() - focus.min()) or 1.0
    step = np.maximum(np.abs(np.diff(coord, axis=0, append=coord[-1:])), np.abs(np.diff(coord, axis=1,
                                                                                       append=coord[:, -1:])))
    edge = ndimage.binary_dilation(step > edge_step * span, iterations=3) & valid
    outside = ((coord < focus.min()) | (coord > focus.max())) & valid & ~edge
    gray = image.mean(axis=-1) if image.ndim == 3 else image
    mean = ndimage.uniform_filter(gray, 9)
    std = np.sqrt(np.maximum(ndimage.uniform_filter(gray * gray, 9) - mean * mean, 0.0))
    flat = (std < 0.02) & valid & ~edge & ~outside
    textured = valid & ~edge & ~outside & ~flat
    return dict(zip(REGIONS, (edge, outside, flat, textured)))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--suite-dir", type=Path, default=Path(".focalstack-suite/real-v1"))
    parser.add_argument("--datasets", nargs="+", default=["realdev-lightfield"])
    parser.add_argument("-m", "--method", dest="methods", action="append", required=True)
    parser.add_argument("--edge-step", type=float, default=0.05)
    args = parser.parse_args(argv)

    print("| dataset | method | MSE | " + " | ".join(f"{r}: pixels / MSE / share of error" for r in REGIONS) + " |")
    print("|---|---|---:|" + "---:|" * len(REGIONS))
    for name in args.datasets:
        dataset = open_dataset(f"sim:{args.suite_dir / name}")
        samples = [dataset[index] for index in range(len(dataset))]  # read once, scored by every method
        masks = [region_masks(np.asarray(s.depth, np.float64), np.asarray(s.valid, bool) & np.isfinite(s.depth),
                              np.asarray(s.all_in_focus, np.float64), s.stack.focus_positions, unit=s.stack.unit,
                              edge_step=args.edge_step) for s in samples]
        for spec in args.methods:
            method = resolve_method(spec)
            sums = dict.fromkeys(REGIONS, 0.0)
            counts = dict.fromkeys(REGIONS, 0)
            for sample, sample_masks in zip(samples, masks):
                result = estimate_depth(sample.stack, method=method, align="none")
                error = (np.asarray(result.depth, np.float64) - np.asarray(sample.depth, np.float64)) ** 2
                for region, mask in sample_masks.items():
                    sums[region] += float(error[mask].sum())
                    counts[region] += int(mask.sum())
            total_error, total_pixels = sum(sums.values()), sum(counts.values())
            cells = []
            for region in REGIONS:
                mse = sums[region] / counts[region] if counts[region] else float("nan")
                cells.append(f"{counts[region] / total_pixels:.0%} / {mse:.3g} / {sums[region] / total_error:.0%}")
            print(f"| {name} | {spec} | {total_error / total_pixels:.3g} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
