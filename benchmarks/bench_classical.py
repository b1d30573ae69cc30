"""Speed and peak memory of classical depth from focus + all-in-focus fusion.

Renders a synthetic textured RGB stack (JPEG, quality 95) of the requested size, then for
each slice count reports, each in a fresh subprocess:

- decode: seconds to decode all N JPEG slices (one after the other, median of --repeat);
- compute: seconds for depth + all-in-focus + confidence on slices already in memory
  (decoding excluded; median of --repeat), and the ratio compute / decode;
- end-to-end: seconds for read_stack + depth_from_focus streamed from disk (decoding
  overlapped with compute in a background thread), and the peak resident memory of that
  run above the interpreter's baseline after imports.

Usage:
    python benchmarks/bench_classical.py                       # 10 and 30 x 1920x1080
    python benchmarks/bench_classical.py --slices 5 10 --size 640x480 --fusion pyramid
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
from _util import rss_mb


def render_jpeg_stack(folder: Path, n: int, width: int, height: int, seed: int = 0) -> None:
    """N slices of a random texture on a slanted plane, blurred by distance to each focus."""
    rng = np.random.default_rng(seed)
    small = (rng.random((height // 4, width // 4, 3)) * 255).astype(np.uint8)
    sharp = cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC)
    sharp = cv2.add(sharp, (rng.random((height, width, 3)) * 40).astype(np.uint8))
    band = np.linspace(0, n - 1, width)  # the in-focus slice index changes across the image
    for k in range(n):
        sigma = np.abs(band - k) * 1.5
        levels = [sharp] + [cv2.GaussianBlur(sharp, (0, 0), s) for s in (1.5, 3, 6)]
        choice = np.clip(np.searchsorted([0.75, 2.25, 4.5], sigma), 0, 3)
        image = np.choose(choice[None, :, None].repeat(height, 0), levels)
        cv2.imwrite(str(folder / f"slice_{k:03d}.jpg"), image, [cv2.IMWRITE_JPEG_QUALITY, 95])
    (folder / "stack.json").write_text(json.dumps({"focus_positions": list(np.linspace(0.3, 3.0, n)), "unit": "m"}))


def child(folder: str, mode: str, repeat: int, fusion: str, refine: str) -> dict:
    """Runs inside a fresh process; prints one JSON line."""
    from focalstack import FocalStack, depth_from_focus, read_stack
    from focalstack.io.images import read_image

    baseline = rss_mb()
    stack = read_stack(folder)
    if mode == "stream":
        start = time.perf_counter()
        result = depth_from_focus(read_stack(folder), fusion=fusion, refine=refine)
        wall = time.perf_counter() - start
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        return {"wall_s": wall, "peak_mb": peak - baseline, "timings": result.timings}
    paths = [Path(folder) / name for name in stack.names]
    decode = []
    for _ in range(repeat):
        start = time.perf_counter()
        slices = [read_image(p) for p in paths]
        decode.append(time.perf_counter() - start)
    memory_stack = FocalStack(slices, stack.focus_positions, unit=stack.unit)
    compute, timings = [], None
    for _ in range(repeat):
        result = depth_from_focus(memory_stack, fusion=fusion, refine=refine)
        compute.append(result.timings["total"])
        timings = result.timings
    return {"decode_s": statistics.median(decode), "compute_s": statistics.median(compute), "timings": timings}


def run_child(folder: Path, mode: str, args) -> dict:
    cmd = [sys.executable, __file__, "--child", str(folder), mode, "--repeat", str(args.repeat),
           "--fusion", args.fusion, "--refine", args.refine]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--slices", type=int, nargs="+", default=[10, 30])
    parser.add_argument("--size", default="1920x1080")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--fusion", default="soft", choices=["soft", "pyramid"])
    parser.add_argument("--refine", default="guided", choices=["none", "guided", "wmedian"])
    parser.add_argument("--child", nargs=2, metavar=("FOLDER", "MODE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child[0], args.child[1], args.repeat, args.fusion, args.refine)))
        return
    width, height = (int(v) for v in args.size.split("x"))
    print(f"# bench_classical: {args.size} RGB JPEG, fusion={args.fusion}, refine={args.refine}, "
          f"{os.cpu_count()} CPUs, {platform.processor() or platform.machine()}, OpenCV threads {cv2.getNumThreads()}")
    print("| slices | decode s | depth+AiF s (no decode) | per slice ms | ratio to decode | streamed end-to-end s "
          "| peak MB above baseline |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for n in args.slices:
        with tempfile.TemporaryDirectory() as tmp:
            render_jpeg_stack(Path(tmp), n, width, height)
            timing = run_child(Path(tmp), "memory", args)
            stream = run_child(Path(tmp), "stream", args)
        print(f"| {n} | {timing['decode_s']:.3f} | {timing['compute_s']:.3f} | {1000 * timing['compute_s'] / n:.1f} "
              f"| {timing['compute_s'] / timing['decode_s']:.2f} | {stream['wall_s']:.3f} | {stream['peak_mb']:.0f} |")
        stages = {k: round(v, 3) for k, v in timing["timings"].items() if not k.startswith("decode")}
        print(f"<!-- stages for {n} slices (s): {stages} -->")


if __name__ == "__main__":
    main()
