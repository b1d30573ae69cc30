"""Does a method hold up when the same scene is photographed with more pixels?

The real-image benchmark's stacks are 256x256, with defocus blur up to about 30 pixels across. A camera with
FACTOR x the resolution sees the same blur over FACTOR x as many pixels. This script upsamples the test split's
stacks (slices bicubic, ground truth bilinear, pixel pitch divided by the factor) and scores each method at every
factor as MSE / ``sml``'s MSE: each network with ``--net-scale auto`` (the default: the working resolution chosen
from the camera and the focus distances), at full size (``--net-scale 1``) and at ``--net-scale 1/FACTOR`` (the
blur in pixels it was trained on). The upsampled images carry no finer texture than the originals, so the
figures isolate the effect of the blur's size in pixels.

    python benchmarks/bench_resolution.py --suite-dir .focalstack-suite/real-v1 --factors 1 2 4 \
        -m aifdepthnet_light --work /tmp/resolution
    python benchmarks/bench_resolution.py --figure ../shared/data/microscope_pcb/depthmap \
        docs/images/resolution_pcb.png
"""

from __future__ import annotations

import argparse
import io
import json
import shutil
from functools import partial
from pathlib import Path

import cv2
import numpy as np

from focalstack import estimate_depth, resolve_method
from focalstack.eval.runner import evaluate, open_dataset, ratio_table


def upsampled_copy(src: Path, dst: Path, factor: float) -> Path:
    """``src`` (a simulated dataset) with every image resized by ``factor`` (bicubic up, area down); made once
    and kept in ``dst``."""
    if (dst / "dataset.json").is_file():
        return dst
    tmp = dst.with_name(dst.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    shutil.copy(src / "dataset.json", tmp / "dataset.json")
    for sample in sorted(p for p in src.iterdir() if p.is_dir()):
        out = tmp / sample.name
        out.mkdir()
        meta = json.loads((sample / "stack.json").read_text())
        meta["camera"]["pixel_pitch_um"] /= factor
        if "warps" in meta:
            meta["warps"] = [[[row[0], row[1], row[2] * factor] for row in warp] for warp in meta["warps"]]
        (out / "stack.json").write_text(json.dumps(meta))
        for image in sample.glob("*.png"):
            pixels = cv2.imread(str(image), cv2.IMREAD_UNCHANGED)
            big = cv2.resize(pixels, None, fx=factor, fy=factor,
                             interpolation=cv2.INTER_CUBIC if factor > 1 else cv2.INTER_AREA)
            cv2.imwrite(str(out / image.name), big)
        for array in sample.glob("*.npy"):
            values = np.load(array)
            big = cv2.resize(values.astype(np.float32), None, fx=factor, fy=factor,
                             interpolation=cv2.INTER_LINEAR if factor > 1 else cv2.INTER_AREA)
            np.save(out / array.name, big.astype(values.dtype))
    tmp.rename(dst)
    return dst


def figure(stack_dir: Path, path: Path) -> None:
    """Depth of one real stack by ``sml``, by ``aifdepthnet_light`` at full size and with ``--net-scale auto``,
    side by side on one colour scale (the network's), with each run's seconds; saved as a palette PNG."""
    from matplotlib.figure import Figure
    from PIL import Image

    from focalstack import read_stack

    stack = read_stack(stack_dir)
    runs = [("sml", resolve_method("sml")), ("aifdepthnet_light, full size", resolve_method("aifdepthnet_light",
                                                                                           net_scale=1)),
            ("aifdepthnet_light (--net-scale auto)", resolve_method("aifdepthnet_light"))]
    results = [(title, estimate_depth(stack, method=method)) for title, method in runs]
    lo, hi = np.percentile(results[-1][1].depth, [1, 99])
    height, width = stack.shape
    fig = Figure(figsize=(15, 15 * height / width / 3 + 0.6), dpi=80, layout="constrained")
    for k, (title, result) in enumerate(results):
        ax = fig.add_subplot(1, 3, k + 1)
        ax.imshow(result.depth, cmap="turbo", vmin=lo, vmax=hi, interpolation="antialiased")
        factor = result.parameters.get("net_scale", {}).get("factor", 1)
        note = f", network at {factor:.2f}x" if factor < 1 else ""
        ax.set_title(f"{title}\n{result.timings['total']:.1f} s{note}", fontsize=10)
        ax.set_axis_off()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    Image.open(buffer).convert("RGB").quantize(colors=128).save(path, optimize=True)
    for title, result in results:
        print(f"{title}: {result.timings['total']:.1f} s, {result.parameters.get('net_scale')}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--suite-dir", type=Path, default=Path(".focalstack-suite/real-v1"))
    parser.add_argument("--datasets", nargs="+", default=["real-phone", "real-dslr_macro", "real-microscope"])
    parser.add_argument("--factors", nargs="+", type=float, default=[0.5, 1, 2, 4])
    parser.add_argument("-m", "--method", action="append", default=None, help="networks (sml is the reference)")
    parser.add_argument("--limit", type=int, default=None, help="first N stacks of each dataset")
    parser.add_argument("--work", type=Path, default=Path("/tmp/focalstack-resolution"))
    parser.add_argument("--figure", type=Path, nargs=2, metavar=("STACK_DIR", "PNG"),
                        help="instead: the depth of one real stack by sml, the network at full size and auto")
    args = parser.parse_args()
    if args.figure:
        figure(*args.figure)
        return
    networks = args.method or ["aifdepthnet_light"]

    for factor in args.factors:
        datasets = {}
        for name in args.datasets:
            src = args.suite_dir / name
            path = src if factor == 1 else upsampled_copy(src, args.work / f"{name}-x{factor:g}", factor)
            datasets[f"{name} x{factor:g}"] = open_dataset(f"sim:{path}")
        methods = {"sml": partial(estimate_depth, method=resolve_method("sml"), align="none")}
        for name in networks:
            methods[f"{name} (auto)"] = partial(estimate_depth, method=resolve_method(name), align="none")
            methods[f"{name} full size"] = partial(estimate_depth, method=resolve_method(name, net_scale=1),
                                                   align="none")
            if factor != 1:
                methods[f"{name} at 1/{factor:g}"] = partial(estimate_depth, method=resolve_method(
                    name, net_scale=1 / factor), align="none")
        rows = evaluate(methods, datasets, limit=args.limit)
        print(f"\n## {factor:g} x the benchmark's resolution\n")
        print(ratio_table(rows, reference="sml", groups={"all": lambda _: True}))
        print("| dataset | method | MSE | seconds per stack | size |\n|---|---|---:|---:|---|")
        for row in rows:
            print(f"| {row.dataset} | {row.method} | {row.metrics['mse']:.4g} | {row.seconds_per_stack:.2f} | "
                  f"{row.size} |")


if __name__ == "__main__":
    main()
