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
"""

from __future__ import annotations

import argparse
import json
import shutil
from functools import partial
from pathlib import Path

import cv2
import numpy as np

from focalstack import estimate_depth, resolve_method
from focalstack.eval.runner import evaluate, open_dataset, ratio_table


def upsampled_copy(src: Path, dst: Path, factor: int) -> Path:
    """``src`` (a simulated dataset) with every image ``factor`` x larger; made once and kept in ``dst``."""
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
            big = cv2.resize(pixels, None, fx=factor, fy=factor, interpolation=cv2.INTER_CUBIC)
            cv2.imwrite(str(out / image.name), big)
        for array in sample.glob("*.npy"):
            values = np.load(array)
            big = cv2.resize(values.astype(np.float32), None, fx=factor, fy=factor, interpolation=cv2.INTER_LINEAR)
            np.save(out / array.name, big.astype(values.dtype))
    tmp.rename(dst)
    return dst


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--suite-dir", type=Path, default=Path(".focalstack-suite/real-v1"))
    parser.add_argument("--datasets", nargs="+", default=["real-phone", "real-dslr_macro", "real-microscope"])
    parser.add_argument("--factors", nargs="+", type=int, default=[1, 2, 4])
    parser.add_argument("-m", "--method", action="append", default=None, help="networks (sml is the reference)")
    parser.add_argument("--limit", type=int, default=None, help="first N stacks of each dataset")
    parser.add_argument("--work", type=Path, default=Path("/tmp/focalstack-resolution"))
    args = parser.parse_args()
    networks = args.method or ["aifdepthnet_light"]

    for factor in args.factors:
        datasets = {}
        for name in args.datasets:
            src = args.suite_dir / name
            path = src if factor == 1 else upsampled_copy(src, args.work / f"{name}-x{factor}", factor)
            datasets[f"{name} x{factor}"] = open_dataset(f"sim:{path}")
        methods = {"sml": partial(estimate_depth, method=resolve_method("sml"), align="none")}
        for name in networks:
            methods[f"{name} (auto)"] = partial(estimate_depth, method=resolve_method(name), align="none")
            methods[f"{name} full size"] = partial(estimate_depth, method=resolve_method(name, net_scale=1),
                                                   align="none")
            if factor > 1:
                methods[f"{name} at 1/{factor}"] = partial(estimate_depth, method=resolve_method(
                    name, net_scale=1 / factor), align="none")
        rows = evaluate(methods, datasets, limit=args.limit)
        print(f"\n## {factor} x the benchmark's resolution\n")
        print(ratio_table(rows, reference="sml", groups={"all": lambda _: True}))
        print("| dataset | method | MSE | seconds per stack | size |\n|---|---|---:|---:|---|")
        for row in rows:
            print(f"| {row.dataset} | {row.method} | {row.metrics['mse']:.4g} | {row.seconds_per_stack:.2f} | "
                  f"{row.size} |")


if __name__ == "__main__":
    main()
