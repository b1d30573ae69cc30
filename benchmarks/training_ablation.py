"""Equal-budget training ablations of Depth from Focus in the Wild (Won & Jeon, ECCV 2022), as the paper's
Table 5 (the SRD and EFD modules against their replacements) and Fig. 12 (training on a fixed number of slices or
on a random number, tested on 2 to 15 slices).

Every variant is the same network (``--model``, default ``dffwild_light``, narrower than the paper's ``dffwild``:
two CPU cores) trained depth-supervised with the same data, steps, batch, crop, seed and optimiser, only its
module switches or its slice counts differing; the stacks are aligned with the simulator's exact warps (the
modules, not the alignment, are compared). The test stacks are scored by ``focalstack eval``'s metrics
(metres) with 95 % bootstrap intervals of the mean over stacks.

    python benchmarks/training_ablation.py table5 --train data/align-mix --test .focalstack-suite/v1 --steps 600
    python benchmarks/training_ablation.py fig12 --train data/fig12/train --test data/fig12/test --steps 600

Trained runs are kept under ``--out`` and reused (delete a run folder to train it again). Prints Markdown tables;
asserts nothing.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from focalstack.align import invert, relative_to, warp_to_reference
from focalstack.eval.datasets.base import Sample
from focalstack.eval.runner import score_sample
from focalstack.methods import resolve_method
from focalstack.simulate.dataset import read_simulated
from focalstack.stack import FocalStack
from focalstack.train.align import stack_folders

TABLE5 = {  # name -> model overrides (Fig. 11 of the paper)
    "SRD + EFD (ours)": {"srd": "srd", "efd": "efd"},
    "SRD -> 2D ResNet block": {"srd": "resnet2d", "efd": "efd"},
    "SRD -> 3D ResNet block": {"srd": "resnet3d", "efd": "efd"},
    "EFD -> max-pooling + 3D conv": {"srd": "srd", "efd": "maxpool3d"},
    "EFD -> average pooling + 3D conv": {"srd": "srd", "efd": "avgpool3d"},
    "EFD -> strided conv": {"srd": "srd", "efd": "strided"},
    "EFD -> 3D pooling layer": {"srd": "srd", "efd": "pool3d"},
}
METRICS = ("mae", "mse", "rmse_log", "abs_rel", "sq_rel", "delta1", "delta2", "delta3")


def train(name: str, overrides: dict, args, *, min_slices: int, max_slices: int) -> Path:
    """Train one variant (or reuse its finished run); returns its exported weights."""
    from focalstack.train.config import DataConfig, ModelConfig, OptimConfig, RunConfig, TrainConfig
    from focalstack.train.trainer import Trainer, export_weights

    out = args.out / "-".join("".join(c if c.isalnum() else " " for c in name).lower().split())
    weights = out / "weights.safetensors"
    if weights.is_file():
        return weights
    folders = [str(f) for f in _datasets(args.train)]
    config = TrainConfig(
        model=ModelConfig(name=args.model, overrides=dict(overrides)), regime="depth",
        run=RunConfig(steps=args.steps, batch_size=args.batch, seed=args.seed, out=str(out),
                      checkpoint_every=100, val_every=args.steps, log_every=50, threads=args.threads),
        data=DataConfig(folders=folders, val_folders=folders[:1], val_max=2, crop=args.crop, min_slices=min_slices,
                        max_slices=max_slices, cache=True, align=True, val_align=True),
        optim=OptimConfig(lr=1e-3, betas=(0.9, 0.99), warmup_steps=50))
    trainer = Trainer(config, resume=(out / "last.pt").is_file(), progress=False, echo=print)
    summary = trainer.fit()
    trainer.close()
    if summary["interrupted"]:  # only a finished run is exported (and so reused by the next call)
        raise SystemExit(f"{name}: training interrupted at step {summary['step']}; run again to resume")
    return export_weights(out / "last.pt", weights)


def score(weights: Path, model: str, stacks: list[Path], slices: int | None = None) -> list[dict]:
    """Per-stack metrics of the weights on the test stacks (``slices``: that many, evenly spread)."""
    method = resolve_method(model, weights=weights)
    rows = []
    for folder in stacks:
        sim = read_simulated(folder)
        stack = sim.to_focal_stack()
        exact = relative_to(np.asarray(sim.warps, np.float64), 0) if sim.warps is not None else None
        images = [warp_to_reference(s, w) for s, w in zip(stack, exact)] if exact is not None else list(stack)
        keep = np.round(np.linspace(0, len(stack) - 1, slices)).astype(int) if slices else np.arange(len(stack))
        aligned = FocalStack([images[k] for k in keep], stack.focus_positions[keep], unit=stack.unit,
                             camera=stack.camera)
        truth, valid = sim.depth_m, sim.valid
        if exact is not None:  # the ground truth into the nearest slice's frame, as the slices
            back = invert(sim.warps[0])
            truth = warp_to_reference(truth, back, nearest=True)
            valid = warp_to_reference(valid.astype(np.float32), back, nearest=True) > 0.5
        rows.append(score_sample(Sample(folder.name, aligned, depth=truth, valid=valid), method(aligned)))
    return rows


def interval(values: list[float], reps: int = 2000, seed: int = 0) -> tuple[float, float, float]:
    """Mean and 95 % percentile bootstrap interval over stacks."""
    values = np.asarray(values, np.float64)
    draws = np.random.default_rng(seed).choice(values, size=(reps, values.size)).mean(axis=1)
    return float(values.mean()), *np.percentile(draws, [2.5, 97.5])


def _datasets(roots: list[Path]) -> list[Path]:
    """The dataset folders (those holding stack folders) under ``roots``."""
    return sorted({f.parent for f in stack_folders(roots)})


def table5(args) -> None:
    """Per test dataset (each folder of ``--test`` holding stacks): every variant's MSE relative to the paper's
    modules, as a geometric mean over the datasets with a stratified paired bootstrap interval
    (``focalstack.eval.metrics.ratio_interval``); and the metrics on the first dataset."""
    from focalstack.eval.metrics import ratio_interval

    datasets = _datasets(args.test)
    stacks = {d: stack_folders([d]) for d in datasets}
    print(f"{args.model}, {args.steps} steps x batch {args.batch}, crops of {args.crop} px, 3-{args.max_slices} "
          f"slices; test: {', '.join(f'{d.name} ({len(v)})' for d, v in stacks.items())}\n")
    scores = {}
    for name, overrides in TABLE5.items():
        weights = train(name, overrides, args, min_slices=3, max_slices=args.max_slices)
        scores[name] = {d: score(weights, args.model, v) for d, v in stacks.items()}
    reference = scores["SRD + EFD (ours)"]
    first = datasets[0]
    print("| module | MSE / ours (95 % interval) | " + " | ".join(f"{m} ({first.name})" for m in METRICS) + " |")
    print("|---|---:|" + "---:|" * len(METRICS))
    for name, per in scores.items():
        ratio, low, high = ratio_interval([([r["mse"] for r in per[d]], [r["mse"] for r in reference[d]])
                                           for d in datasets])
        means = [np.mean([r[k] for r in per[first]]) for k in METRICS]
        print(f"| {name} | {ratio:.3f} ({low:.3f}-{high:.3f}) | " + " | ".join(f"{v:.4g}" for v in means) + " |")


def fig12(args) -> None:
    stacks = stack_folders(args.test)
    variants = {"5": (5, 5), "10": (10, 10), "Random": (2, args.max_slices)}
    counts = list(range(2, args.max_slices + 1))
    print(f"{args.model}, {args.steps} steps x batch {args.batch}, crops of {args.crop} px; {len(stacks)} test stacks "
          f"of {args.max_slices} slices, N of them evenly spread; MSE (metres^2)\n")
    print("| training | " + " | ".join(f"N={n}" for n in counts) + " |")
    print("|---|" + "---:|" * len(counts))
    for name, (lo, hi) in variants.items():
        weights = train(f"fig12-{name}", {}, args, min_slices=lo, max_slices=hi)
        mse = [np.mean([r["mse"] for r in score(weights, args.model, stacks, n)]) for n in counts]
        print(f"| {name} | " + " | ".join(f"{v:.4g}" for v in mse) + " |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("experiment", choices=("table5", "fig12"))
    parser.add_argument("--train", type=Path, nargs="+", required=True, help="training stacks (folders)")
    parser.add_argument("--test", type=Path, nargs="+", required=True, help="test stacks (folders)")
    parser.add_argument("--out", type=Path, default=Path("runs/ablation"))
    parser.add_argument("--model", default="dffwild_light")
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--crop", type=int, default=96)
    parser.add_argument("--max-slices", type=int, default=6)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    args = parser.parse_args()
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    table5(args) if args.experiment == "table5" else fig12(args)


if __name__ == "__main__":
    main()
