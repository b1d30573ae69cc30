"""Parameters, CPU inference time and peak memory of every registered model.

Each (model, input size) runs in a fresh subprocess: random weights, float32, batch 1,
``torch.no_grad()``, eval mode, ``torch.set_num_threads(--threads)``, median of ``--repeat``
timed runs after 2 warm-ups (``focalstack.eval.timing.time_call``); peak memory is the
process's peak resident memory above its resident memory after building the model.
The reference figures are those quoted in issue 5, measured on the same kind of machine with
the papers' public implementations.

Usage:
    python benchmarks/bench_models.py [--models aifdepthnet_light ...] [--threads 2] [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys

from _util import rss_mb

REFERENCE = {  # seconds for 5 x 256x256 / 10 x 512x512, parameters (millions)
    "aifdepthnet": ("AiFDepthNet", 16.5, 0.73, 3.70),
    "dffwild": ("DfF in the Wild depth network", 4.04, 0.90, 3.15),
    "daifnet": ("DAIF-Net", 1.96, 0.12, 1.11),
}
SIZES = ((5, 256), (10, 512))


def child(name: str, n: int, size: int, threads: int, repeat: int) -> dict:
    import torch

    from focalstack.eval.timing import time_call
    from focalstack.models import create_model

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = create_model(name).eval()
    slices = torch.rand(1, n, 3, size, size)
    positions = torch.linspace(0.1, 1.0, n)[None]
    baseline = rss_mb()
    with torch.no_grad():
        timing = time_call(lambda: model(slices, positions), warmup=2, repeat=repeat)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"params": sum(p.numel() for p in model.parameters()), "seconds": timing.median_s,
            "peak_mb": peak - baseline}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="*", default=None)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        name, n, size = args.child[0], int(args.child[1]), int(args.child[2])
        print(json.dumps(child(name, n, size, args.threads, args.repeat)))
        return
    from focalstack.models import list_models, model_entry

    names = args.models or list_models()
    print(f"# bench_models: {args.threads} threads, batch 1, float32, no_grad, "
          f"median of {args.repeat} after 2 warm-ups")
    print("| model | params (M) | 5 x 256x256 s | 10 x 512x512 s | peak MB (10 x 512x512) | reference | ref params (M) "
          "| ref 5 x 256 s | ref 10 x 512 s |")
    print("|---|---:|---:|---:|---:|---|---:|---:|---:|")
    for name in names:
        runs = []
        for n, size in SIZES:
            cmd = [sys.executable, __file__, "--child", name, str(n), str(size), "--threads", str(args.threads),
                   "--repeat", str(args.repeat)]
            runs.append(json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout))
        ref = REFERENCE.get(model_entry(name).architecture, ("-", float("nan"), float("nan"), float("nan")))
        print(f"| {name} | {runs[0]['params'] / 1e6:.3f} | {runs[0]['seconds']:.3f} | {runs[1]['seconds']:.3f} "
              f"| {runs[1]['peak_mb']:.0f} | {ref[0]} | {ref[1]} | {ref[2]} | {ref[3]} |")


if __name__ == "__main__":
    main()
