"""Render the point cloud of a real phone focal stack for the docs (``docs/images/point_cloud_phone_balls.png``).

Runs ``focalstack.estimate_depth`` with the focus measure ``sml`` on ``phone_balls_10`` (10 x 1280x720 phone JPEGs,
Suwajanakorn, Hu and Seitz, "Depth from Focus with Your Mobile Phone", CVPR 2015, as repackaged by DfF in the
Wild), writes ``points.ply`` through ``focalstack.io.results.write_result(formats=["ply"])``, reads it back and
draws it from an oblique viewpoint with matplotlib (no GUI backend).

What the data gives and what is assumed:

- the focus values of ``focus_distance.txt`` are relative focus distances (10 = the nearest ball, 7.2e6 = the far
  background; see docs/classical.md), passed as ``m``: the depth is on a relative scale, not in real metres;
- the JPEGs carry no EXIF and the folder no camera block, so the intrinsics are **assumed**: a 35 mm-equivalent
  focal length of 28 mm (a typical phone main camera; 28 / 36 x 1280 = 996 px), principal point at the centre.
  A perspective back-projection scales with depth, so the cloud's shape is right up to the unknown global scale
  (if the focal length is); without any camera the writer would fall back to an orthographic cloud.
- points below ``--min-confidence`` (default 0.5) are dropped by the writer; the picture also leaves out the far
  background (beyond the seventh focus position, 39 relative units), which would otherwise stretch the depth axis
  10^5-fold. Depth is clamped to the focus sweep, so the front of the near ball, closer than the nearest focus
  position (10), sits flat at 10.

Usage (from the repository root):
    python benchmarks/render_point_cloud.py --data ../shared/data --out docs/images/point_cloud_phone_balls.png
"""

from __future__ import annotations

import argparse
import io
import tempfile
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image

from focalstack import Camera, estimate_depth, read_stack
from focalstack.io import read_ply
from focalstack.io.results import write_result

ASSUMED_CAMERA = Camera(focal_length_35mm=28.0)
FAR_CUT = 40.0  # relative units; the seventh focus position is 39.11, the eighth 58.34


def point_cloud(folder: Path, out: Path, min_confidence: float):
    """Depth of the stack through ``sml``, written as points.ply in ``out``; (result, cloud)."""
    positions = [float(v) for v in (folder / "focus_distance.txt").read_text().split()]
    stack = read_stack(folder, focus_positions=positions, unit="m")
    result = estimate_depth(stack, method="sml")
    write_result(result, out, formats=["ply"], min_confidence=min_confidence, camera=ASSUMED_CAMERA, overwrite=True)
    return result, read_ply(out / "points.ply")


def render(result, cloud, path: Path, *, min_confidence: float, max_points: int, seed: int = 0) -> None:
    """The all-in-focus image and the cloud seen from above-left of the camera, saved as a palette PNG."""
    points, colors = cloud.points, cloud.colors
    lo, hi = np.percentile(points, [0.5, 99.5], axis=0)  # frame the bulk, not a few stray points
    shown = (points[:, 2] <= FAR_CUT) & (points[:, :2] >= lo[:2]).all(axis=1) & (points[:, :2] <= hi[:2]).all(axis=1)
    points, colors = points[shown], colors[shown]
    pick = np.random.default_rng(seed).permutation(len(points))[:max_points]
    x, y, z = points[pick].T  # camera frame: x right, y down, z forward
    fig = Figure(figsize=(12, 5), dpi=90, layout="constrained")
    FigureCanvasAgg(fig)
    grid = fig.add_gridspec(1, 2, width_ratios=(1, 1.3))
    left = fig.add_subplot(grid[0])
    left.imshow(np.clip(result.all_in_focus, 0, 1))
    left.set_title("all-in-focus (sml)")
    left.set_axis_off()
    ax = fig.add_subplot(grid[1], projection="3d")
    ax.scatter(x, z, -y, c=colors[pick] / 255.0, s=1.0, linewidths=0, depthshade=False)
    ax.set_xlabel("x")
    ax.set_ylabel("depth (relative units)")
    ax.set_zlabel("height")
    ax.set_box_aspect((np.ptp(x), np.ptp(z), np.ptp(y)))
    ax.set_proj_type("persp", focal_length=0.5)
    ax.view_init(elev=22, azim=-58)
    ax.set_title(f"points.ply: {len(cloud):,} points (confidence >= {min_confidence:g}), "
                 f"{len(pick):,} drawn", fontsize=10)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    Image.open(buffer).convert("RGB").quantize(colors=192).save(path, optimize=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--out", type=Path, default=Path("docs/images/point_cloud_phone_balls.png"))
    parser.add_argument("--min-confidence", type=float, default=0.5)
    parser.add_argument("--max-points", type=int, default=80_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        result, cloud = point_cloud(args.data / "phone_balls_10", Path(tmp) / "balls", args.min_confidence)
    render(result, cloud, args.out, min_confidence=args.min_confidence, max_points=args.max_points)
    kept = cloud.points[:, 2] <= FAR_CUT
    print(f"{len(cloud)} points of {result.depth.size} pixels (min confidence {args.min_confidence}); "
          f"{kept.sum()} within {FAR_CUT} relative units; {cloud.projection}")
    print(f"wrote {args.out} ({args.out.stat().st_size / 1024:.0f} kB)")


if __name__ == "__main__":
    main()
