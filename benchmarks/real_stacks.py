"""Run every focus measure on real focal stacks; print timings and write a comparison figure.

The stacks are those of ``../shared/data`` (not shipped with the project):

- ``phone_balls_10``: 10 x 1280x720 phone JPEGs (Suwajanakorn et al., CVPR 2015); focus values
  from ``focus_distance.txt`` passed with ``--unit m``: the values behave as relative focus
  distances (slice 0, 7.2e6, is focused on the far background), so inverse depth is 1/value.
- ``microscope_pcb/depthmap``: 10 x 2048x1536 microscope JPEGs, slice order only, processed at
  ``scale`` 0.5. The files are given far to near (pcb_009 is focused on the top of the switch
  actuator, the highest point), so depth is a slice index with 0 = nearest.

Usage:
    python benchmarks/real_stacks.py --data ../shared/data --out docs/images
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from focalstack import depth_from_focus, read_stack
from focalstack.classical import FOCUS_MEASURES
from focalstack.units import to_blur_coordinate


def stacks(data: Path) -> dict:
    balls = data / "phone_balls_10"
    positions = [float(v) for v in (balls / "focus_distance.txt").read_text().split()]
    return {
        "phone_balls_10": dict(folder=balls, focus_positions=positions, unit="m", scale=1.0),
        "microscope_pcb": dict(folder=data / "microscope_pcb" / "depthmap", focus_positions=list(range(9, -1, -1)),
                               unit="index", scale=0.5),
    }


def figure(name: str, results: dict, aifs: dict, path: Path) -> None:
    """All-in-focus images and one depth panel per measure, coloured in the blur coordinate (near = red)."""
    h, w = aifs["soft"].shape[:2]
    fig = Figure(figsize=(15, 2 * 5 * h / w + 0.8), dpi=72, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(2, 3)
    panels = [("aif", "soft"), ("depth", "sml"), ("depth", "tenengrad"),
              ("aif", "pyramid"), ("depth", "variance"), ("depth", "rdf")]
    for ax, (kind, key) in zip(axes.flat, panels):
        if kind == "aif":
            ax.imshow(aifs[key], cmap="gray")
            ax.set_title(f"all-in-focus, {key} fusion")
        else:
            result = results[key]
            shown = to_blur_coordinate(result.depth, result.unit)
            lo, hi = np.percentile(shown, [1, 99])
            ax.imshow(shown, cmap="turbo_r" if result.unit == "index" else "turbo", vmin=lo, vmax=hi)
            ax.set_title(f"depth, {key} (mean confidence {result.confidence.mean():.2f})")
        ax.set_axis_off()
    fig.suptitle(f"{name}: near = red, far = blue")
    fig.savefig(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--out", type=Path, default=None, help="folder for the comparison figures")
    args = parser.parse_args()
    print("| stack | size | measure | depth range | mean confidence | total s | decode s |")
    print("|---|---|---|---|---:|---:|---:|")
    for name, spec in stacks(args.data).items():
        results = {}
        for measure in FOCUS_MEASURES:
            stack = read_stack(spec["folder"], focus_positions=spec["focus_positions"], unit=spec["unit"],
                               scale=spec["scale"])
            result = depth_from_focus(stack, focus_measure=measure)
            results[measure] = result
            h, w = stack.shape
            print(f"| {name} | {len(stack)} x {w}x{h} | {measure} | {result.depth.min():.4g}..{result.depth.max():.4g} "
                  f"{result.unit} | {result.confidence.mean():.2f} | {result.timings['total']:.2f} "
                  f"| {result.timings['decode']:.2f} |")
        if args.out:
            args.out.mkdir(parents=True, exist_ok=True)
            pyramid = depth_from_focus(read_stack(spec["folder"], focus_positions=spec["focus_positions"],
                                                  unit=spec["unit"], scale=spec["scale"]), fusion="pyramid")
            aifs = {"soft": results["sml"].all_in_focus, "pyramid": pyramid.all_in_focus}
            figure(name, results, aifs, args.out / f"{name}_measures.jpg")


if __name__ == "__main__":
    main()
