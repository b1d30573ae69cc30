"""Learning curves of training runs: training loss and validation MSE against steps.

Reads each run folder's ``metrics.jsonl`` (written by ``focalstack train``) and draws one figure
with two panels, one line per run; also prints the final validation metrics as a table. A run
written ``FOLDER@STEPS`` is drawn shifted by STEPS (a later stage that started from an earlier
run's weights).

    python benchmarks/plot_learning_curves.py runs/aifdepthnet_light-depth runs/dffwild_light-depth \
        --out docs/images/learning_curves.png
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def read_run(folder: Path) -> tuple[list[dict], list[dict]]:
    train, val = [], []
    for line in (folder / "metrics.jsonl").read_text().splitlines():
        record = json.loads(line)
        (val if "val" in record else train).append(record)
    return train, val


def smooth(values: np.ndarray, window: int) -> np.ndarray:
    if len(values) < window or window < 2:
        return values
    kernel = np.ones(window) / window
    return np.convolve(np.pad(values, (window // 2, window - 1 - window // 2), mode="edge"), kernel, mode="valid")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", help="run folders, each optionally FOLDER@STEP_OFFSET")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--metric", default="mse_norm", help="validation metric to plot (default mse_norm)")
    args = parser.parse_args()

    fig, (ax_loss, ax_val) = plt.subplots(1, 2, figsize=(13, 4.5))
    colours = plt.get_cmap("tab20").colors
    for ax in (ax_loss, ax_val):
        ax.set_prop_cycle(color=colours)  # 20 distinct colours: stages of several runs stay apart
    print(f"| run | steps | final loss | val {args.metric} | val mse (m^2) | val abs_rel |")
    print("|---|---|---|---|---|---|")
    for spec in args.runs:
        path, _, offset_text = spec.partition("@")
        folder, offset = Path(path), int(offset_text or 0)
        train, val = read_run(folder)
        label = folder.name
        steps = np.array([r["step"] for r in train]) + offset
        loss = np.array([r["loss"] for r in train])
        ax_loss.plot(steps, smooth(loss, 5), label=label)
        if val:
            ax_val.plot([r["step"] + offset for r in val], [r["val"][args.metric] for r in val], marker="o",
                        label=label)
        last = val[-1]["val"] if val else {}
        print(f"| {label} | {steps[-1] if len(steps) else 0} | {loss[-1] if len(loss) else float('nan'):.4g} | "
              f"{last.get(args.metric, float('nan')):.4g} | {last.get('mse', float('nan')):.4g} | "
              f"{last.get('abs_rel', float('nan')):.4g} |")
    ax_loss.set(xlabel="step", ylabel="training loss (own regime, smoothed)", yscale="log", title="training loss")
    ax_val.set(xlabel="step", ylabel=f"validation {args.metric}", yscale="log",
               title=f"validation {args.metric} (normalised inverse depth)")
    for ax in (ax_loss, ax_val):
        ax.grid(alpha=0.3)
    ax_val.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
    fig.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=110)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
