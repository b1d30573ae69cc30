"""Speed of the focal-stack simulator, per renderer.

Prints a Markdown table: stacks per second for 5 x 256x256 and 10 x 512x512 stacks (procedural
scene + rendering + camera effects, one process, torch threads as configured), the time of the
rendering alone, and the rendering time of one 10 x 1920x1080 stack.

Usage:
    python benchmarks/bench_simulate.py [--repeat 3] [--skip-1080p]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np
import torch

from focalstack.simulate.camera import PROFILES, simulate_stack
from focalstack.simulate.scenes import procedural_scene


def time_stacks(size: int, slices: int, renderer: str, psf: str, repeat: int) -> tuple[float, float, float]:
    """(median seconds per stack, median seconds of scene generation, max CoC radius px)."""
    totals, scenes = [], []
    for i in range(repeat + 1):
        rng = np.random.default_rng(i)
        start = time.perf_counter()
        scene = procedural_scene(rng, size=(size, size), depth_range_m=PROFILES["phone"].depth_range_m)
        made = time.perf_counter()
        simulate_stack(scene, "phone", num_slices=slices, rng=rng, renderer=renderer, psf=psf)
        if i:  # the first run warms up
            totals.append(time.perf_counter() - start)
            scenes.append(made - start)
    return statistics.median(totals), statistics.median(scenes)


def time_1080p(renderer: str, psf: str) -> float:
    from focalstack.optics.render import render_focal_stack

    aif = torch.rand(1, 3, 1080, 1920)
    yy, xx = torch.meshgrid(torch.linspace(0, 1, 1080), torch.linspace(0, 1, 1920), indexing="ij")
    depth = (1.0 / (1 / 0.1 + (1 / 2.0 - 1 / 0.1) * (0.5 * xx + 0.5 * yy)))[None, None]
    focus = torch.tensor(1.0 / np.linspace(1 / 0.1, 1 / 1.0, 10), dtype=torch.float32)
    p = PROFILES["phone"]
    start = time.perf_counter()
    with torch.no_grad():
        render_focal_stack(aif, depth, focus, method=renderer, psf=psf, focal_length_mm=p.focal_length_mm,
                           f_number=p.f_number, pixel_pitch_um=p.simulated_pixel_pitch_um)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--skip-1080p", action="store_true")
    args = parser.parse_args()
    print(f"# bench_simulate: phone profile, all camera effects, {os.cpu_count()} CPUs, "
          f"torch {torch.__version__} with {torch.get_num_threads()} threads")
    print("| renderer | psf | stack | s per stack | stacks per s | of which scene s |")
    print("|---|---|---|---:|---:|---:|")
    for renderer in ("per_pixel", "layered"):
        for psf in ("disc", "gaussian"):
            for size, slices in ((256, 5), (512, 10)):
                total, scene = time_stacks(size, slices, renderer, psf, args.repeat)
                print(f"| {renderer} | {psf} | {slices} x {size}x{size} | {total:.3f} | {1 / total:.2f} "
                      f"| {scene:.3f} |")
    if not args.skip_1080p:
        print()
        print("| renderer | psf | rendering one 10 x 1920x1080 stack, s |")
        print("|---|---|---:|")
        for renderer in ("per_pixel", "layered"):
            for psf in ("disc", "gaussian"):
                print(f"| {renderer} | {psf} | {time_1080p(renderer, psf):.2f} |")


if __name__ == "__main__":
    main()
