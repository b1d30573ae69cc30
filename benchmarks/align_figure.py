"""Before/after pictures of a real misaligned stack aligned by each method, with seconds and a residual.

Reads a stack folder (default: the microscope PCB stack of ``shared/data``, 10 x 2048x1536, slice order only, a
magnification change of about 14 % over the stack), aligns it with each method of ``focalstack.align.align``
and draws, per method, the nearest (red) and the farthest (cyan) slice of the aligned stack over each other in a
corner crop, where a magnification error moves content most: grey where they agree, coloured fringes where they
do not. Prints a Markdown table: seconds of the alignment, the magnification found for the farthest slice, and
the correlation of the nearest and farthest aligned slices (grey, smoothed by a Gaussian of 1 % of the image
width to even out their different focus; higher is better aligned; 8 % borders, which a magnifying warp invents,
left out). Asserts nothing.

    python benchmarks/align_figure.py [--stack ../shared/data/microscope_pcb/depthmap] [--out docs/images/align_pcb.png]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import cv2
import numpy as np

from focalstack.align import align
from focalstack.io.stackdir import read_stack

METHODS = ("none", "ecc", "homography", "learned")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stack", type=Path, default=Path("../shared/data/microscope_pcb/depthmap"))
    parser.add_argument("--out", type=Path, default=Path("docs/images/align_pcb.png"))
    parser.add_argument("--methods", default=",".join(METHODS))
    args = parser.parse_args()
    stack = read_stack(args.stack)
    h, w = stack.shape
    crop = (slice(0, h // 3), slice(0, w // 3))  # the top-left corner
    panels, rows = [], []
    for method in args.methods.split(","):
        start = time.perf_counter()
        result = align(stack, method=method)
        seconds = time.perf_counter() - start
        near, far = _grey(result.stack[0]), _grey(result.stack[len(stack) - 1])
        rows.append((method, seconds, result.warps[-1][0, 0], _correlation(near, far)))
        overlay = np.stack([near[crop], far[crop], far[crop]], axis=-1)
        panels.append((result.method, overlay))
    print(f"{args.stack}: {len(stack)} x {w}x{h}\n")
    print("| alignment | s / stack | far slice magnification | correlation nearest-farthest |")
    print("|---|---:|---:|---:|")
    for method, seconds, zoom, corr in rows:
        print(f"| {method} | {seconds:.2f} | {zoom:.4f} | {corr:.4f} |")
    _figure(panels, args.out)


def _grey(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image, np.float32)
    return image.mean(axis=2) if image.ndim == 3 else image


def _correlation(a: np.ndarray, b: np.ndarray) -> float:
    sigma = 0.01 * a.shape[1]
    a, b = cv2.GaussianBlur(a, (0, 0), sigma), cv2.GaussianBlur(b, (0, 0), sigma)
    margin = int(0.08 * max(a.shape))  # leave out the border a magnifying warp invents
    a, b = a[margin:-margin, margin:-margin], b[margin:-margin, margin:-margin]
    a, b = a - a.mean(), b - b.mean()
    return float((a * b).sum() / np.sqrt((a * a).sum() * (b * b).sum()))


def _figure(panels, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(3.2 * len(panels), 2.8), dpi=80)
    for k, (name, overlay) in enumerate(panels):
        ax = fig.add_subplot(1, len(panels), k + 1)
        lo, hi = np.percentile(overlay, (1, 99))
        ax.imshow(np.clip((overlay - lo) / (hi - lo + 1e-6), 0, 1))
        ax.set_title(name, fontsize=10)
        ax.axis("off")
    fig.suptitle("nearest slice (red) over farthest slice (cyan), top-left corner", fontsize=9)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
