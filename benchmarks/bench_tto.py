"""Test-time optimisation on the synthesised Middlebury 2003 / Tsukuba stacks: depth metrics before and after.

For a model and its weights file, every RGB-D split of the benchmark suite (``focalstack.eval.suite``,
one stack per RGB-D folder through the phone camera with all imperfections, generated on first use
into ``--suite-dir`` exactly as ``focalstack eval --rgbd`` does) is predicted by the model as it is
and by a copy fine-tuned on that stack for ``--steps`` steps of test-time optimisation
(``focalstack.train.tto``). Depth is scored with the evaluation protocol of ``focalstack eval``
(``focalstack.eval.runner.score_sample``: valid pixels inside the stack's focus range, metres); the
self-supervised loss of the stack before and after and the seconds of optimisation and prediction
are printed beside the metrics, one Markdown table, rows per stack and their mean. Prints numbers,
asserts nothing.

Usage:
    python benchmarks/bench_tto.py --model aifdepthnet_light --weights W.safetensors [--steps 50] [--lr 1e-4]
        [--crop 256] [--seed 0] [--threads 2] [--suite-dir .focalstack-suite] [--rgbd DIR ...]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch

from focalstack.eval.datasets.simulated import SimulatedStacks
from focalstack.eval.runner import score_sample
from focalstack.eval.suite import SUITE_VERSION, suite_splits
from focalstack.models import create_model
from focalstack.simulate.dataset import write_dataset
from focalstack.train.tto import test_time_optimize

RGBD = [Path("/work/shared/data/rgbd") / name for name in ("middlebury2003_cones", "middlebury2003_teddy", "tsukuba")]
METRICS = ("mae", "mse", "rmse", "abs_rel", "delta1", "bump")


def rgbd_stacks(suite_dir: Path, rgbd_dirs: list[Path]) -> dict[str, SimulatedStacks]:
    """The suite's RGB-D splits only (the procedural splits are not needed here), generated if missing."""
    base = suite_dir / f"v{SUITE_VERSION}"
    splits = [s for s in suite_splits(rgbd_dirs) if s.name.startswith("rgbd-")]
    for split in splits:
        write_dataset(split.config, base / split.name)
    return {split.name: SimulatedStacks(base / split.name) for split in splits}


def measure(model, sample, args) -> list[dict]:
    """Two rows for one sample: the model as it is, and after test-time optimisation."""
    start = time.perf_counter()
    before = score_sample(sample, model.predict(sample.stack))
    predict_s = time.perf_counter() - start
    tuned, report = test_time_optimize(model, sample.stack, args.steps, lr=args.lr, crop_size=args.crop,
                                       seed=args.seed, renderer=args.renderer, psf=args.psf,
                                       num_layers=args.layers, aif=args.aif)
    start = time.perf_counter()
    after = score_sample(sample, tuned.predict(sample.stack))
    tuned_predict_s = time.perf_counter() - start
    return [{"stage": "before", **before, "loss": report.loss_before, "tto_s": 0.0, "predict_s": predict_s},
            {"stage": f"after {args.steps} steps", **after, "loss": report.loss_after, "tto_s": report.seconds,
             "predict_s": tuned_predict_s}]


def table(rows: list[tuple[str, dict]]) -> str:
    columns = (*METRICS, "loss", "tto_s", "predict_s")
    lines = ["| stack | stage | " + " | ".join(columns) + " |", "|" + " --- |" * (len(columns) + 2)]
    for name, row in rows:
        lines.append(f"| {name} | {row['stage']} | " + " | ".join(f"{row[c]:.4g}" for c in columns) + " |")
    return "\n".join(lines)


def mean_rows(rows: list[tuple[str, dict]]) -> list[tuple[str, dict]]:
    stages = list(dict.fromkeys(row["stage"] for _, row in rows))
    means = []
    for stage in stages:
        group = [row for _, row in rows if row["stage"] == stage]
        means.append(("mean", {"stage": stage, **{k: statistics.fmean(r[k] for r in group)
                                                  for k in (*METRICS, "loss", "tto_s", "predict_s")}}))
    return means


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="registered model name")
    parser.add_argument("--weights", required=True, type=Path, help="safetensors weights file")
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--crop", type=int, default=256)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--suite-dir", type=Path, default=Path(".focalstack-suite"))
    parser.add_argument("--rgbd", type=Path, nargs="*", default=RGBD)
    parser.add_argument("--renderer", choices=("per_pixel", "layered"), default="per_pixel")
    parser.add_argument("--psf", choices=("gaussian", "disc"), default="gaussian")
    parser.add_argument("--layers", type=int, default=8)
    parser.add_argument("--aif", choices=("model", "coarse"), default="model",
                        help="all-in-focus image the stack is re-rendered from")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model = create_model(args.model, pretrained=args.weights)
    rows = []
    for name, dataset in rgbd_stacks(args.suite_dir, args.rgbd).items():
        for index in range(len(dataset)):
            sample = dataset[index]
            rows += [(sample.name, row) for row in measure(model, sample, args)]
            print(f"{sample.name}: done", flush=True)
    print(f"\n{args.model} ({args.weights.name}), test-time optimisation: {args.steps} steps, lr {args.lr:g}, "
          f"{args.crop} px crops, seed {args.seed}, renderer {args.renderer}/{args.psf}"
          f"{f' ({args.layers} layers)' if args.renderer == 'layered' else ''}, all-in-focus {args.aif}; "
          "depth metrics in metres on valid pixels inside the focus range\n")
    print(table(rows + mean_rows(rows)))


if __name__ == "__main__":
    main()
