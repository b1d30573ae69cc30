"""Peak memory and wall time of `focalstack depth` on full-resolution stacks (24 megapixels).

Writes synthetic focal stacks of 10 and 30 slices of 6000 x 4000 JPEGs (a textured scene whose depth
ramps across the frame, each slice sharp in its own band), then runs `focalstack depth` on each with
`sml` with its default options and with each released network architecture at the default memory budget, in a
child process whose peak resident memory (ru_maxrss) is read when it ends. The tags of one network
(`aifdepthnet_light:aif`, `:self`) have the same architecture and cost as the network itself.

    python benchmarks/bench_large.py --work /tmp/large [--slices 10 30] [--methods sml aifdepthnet_light] \
        [--net-scale 1]

Prints a Markdown table; asserts nothing. Needs about 3 GB of disk for the stacks.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np

METHODS = ("sml", "aifdepthnet_light", "aifdepthnet", "dffwild_light", "daifnet")
WIDTH, HEIGHT = 6000, 4000


def write_stack(folder: Path, slices: int, seed: int = 0) -> Path:
    """A 24-megapixel JPEG focal stack with focus distances in stack.json (skipped when present)."""
    if (folder / "stack.json").is_file():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    tile = cv2.resize(rng.random((250, 250, 3), dtype=np.float32), (1000, 1000), interpolation=cv2.INTER_CUBIC)
    tile = 0.5 * tile + 0.5 * rng.random((1000, 1000, 3), dtype=np.float32)
    sharp = np.tile(tile, (HEIGHT // 1000, WIDTH // 1000, 1))
    band = np.linspace(0, slices - 1, WIDTH, dtype=np.float32)[None, :, None]  # the in-focus slice per column
    blurred = cv2.GaussianBlur(sharp, (0, 0), 4.0)
    distances = np.geomspace(0.3, 3.0, slices)
    for k in range(slices):
        weight = np.clip(np.abs(band - k) / 2, 0, 1)
        image = (1 - weight) * sharp + weight * blurred
        cv2.imwrite(str(folder / f"slice_{k:02d}.jpg"), np.clip(image * 255, 0, 255).astype(np.uint8)[..., ::-1],
                    [cv2.IMWRITE_JPEG_QUALITY, 92])
    (folder / "stack.json").write_text(json.dumps({"focus_positions": distances.tolist(), "unit": "m",
                                                   "camera": {"focal_length_mm": 24.0, "f_number": 2.8,
                                                              "pixel_pitch_um": 6.0}}))
    return folder


def run(stack: Path, out: Path, method: str, net_scale: str | None = None) -> tuple[float, float, int, str]:
    """(seconds, peak GiB, exit status, last stderr line) of one `focalstack depth` in a child process."""
    command = [sys.executable, "-m", "focalstack.cli", "depth", str(stack), "-o", str(out), "-m", method,
               "--overwrite", "--align", "none"]
    if net_scale is not None and method not in ("sml", "tenengrad", "variance", "rdf"):
        command += ["--net-scale", net_scale]
    start = time.perf_counter()
    child = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - start
    lines = child.stderr.read().strip().splitlines()
    return seconds, usage.ru_maxrss / 2**20, os.waitstatus_to_exitcode(status), lines[-1] if lines else ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, required=True, help="folder for the stacks and results")
    parser.add_argument("--slices", type=int, nargs="+", default=[10, 30])
    parser.add_argument("--methods", nargs="+", default=list(METHODS))
    parser.add_argument("--net-scale", default=None, help="the networks' --net-scale (default: theirs, auto)")
    args = parser.parse_args()
    from focalstack.memory import available_memory, default_budget, format_bytes

    print(f"available memory {format_bytes(available_memory())}, default budget {format_bytes(default_budget())}, "
          f"{os.cpu_count()} CPU cores\n")
    print("| slices | method | wall time (s) | peak memory (GiB) | exit | note |")
    print("|---:|---|---:|---:|---:|---|")
    for n in args.slices:
        stack = write_stack(args.work / f"stack{n}", n)
        for method in args.methods:
            seconds, peak, status, note = run(stack, args.work / f"out{n}-{method}", method, args.net_scale)
            print(f"| {n} | {method} | {seconds:.0f} | {peak:.2f} | {status} | {note.replace('|', '/')} |",
                  flush=True)


if __name__ == "__main__":
    main()
