"""Run methods over datasets and score them: the engine behind ``focalstack eval``.

For every (dataset, method) pair each sample's stack goes through the method; depth is scored
on the benchmark's valid pixels (and, by default, only where the ground truth lies inside the
stack's focus range, the papers' protocol), the all-in-focus image where the benchmark has one.
Per-image metrics are averaged over the dataset (:func:`~focalstack.eval.metrics.average_metrics`).
Seconds per stack are the median over the dataset's stacks, after one untimed warm-up call.
"""

from __future__ import annotations

import csv
import json
import math
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..io.images import write_image
from ..methods import estimate_depth, resolve_method
from ..stack import DepthResult, FocalStack
from .datasets.base import LOADERS, Sample
from .metrics import (
    AIF_METRICS,
    DEPTH_METRICS,
    aif_metrics,
    average_metrics,
    depth_metrics,
    evaluation_mask,
    ratio_interval,
)

Method = Callable[[FocalStack], DepthResult]


def method_runner(spec: str, *, align: str = "none") -> Method:
    """``stack -> DepthResult`` for a method string (:mod:`focalstack.methods`) through
    :func:`focalstack.estimate_depth`, the same run as ``focalstack depth`` (a network is loaded once);
    ``align`` aligns every stack first and its time counts in the method's seconds per stack."""
    method = resolve_method(spec)
    return partial(estimate_depth, method=method, align=align)


def open_dataset(spec: str):
    """Open a dataset from ``NAME:PATH`` or ``NAME:PATH?key=value&key=value`` (e.g. ``ddff12:x.h5?split=val``)."""
    if ":" not in spec:
        raise InputError(f"dataset {spec!r} must be NAME:PATH with NAME one of {', '.join(sorted(LOADERS))}")
    name, rest = spec.split(":", 1)
    path, _, query = rest.partition("?")
    if name not in LOADERS:
        raise InputError(f"unknown dataset kind {name!r}; use one of {', '.join(sorted(LOADERS))}")
    options = {}
    for item in filter(None, query.split("&")):
        key, _, value = item.partition("=")
        options[key] = int(value) if value.isdigit() else value
    try:
        return LOADERS[name](path, **options)
    except TypeError as exc:
        raise InputError(f"bad options for dataset {name}: {exc}") from None


def dataset_label(spec: str) -> str:
    """``ddff12:/data/DDFF12.h5?split=val`` -> ``ddff12:DDFF12.h5?split=val`` for reports."""
    kind, _, rest = spec.partition(":")
    path, sep, query = rest.partition("?")
    return f"{kind}:{Path(path).name}{sep}{query}"


@dataclass
class Row:
    """The scores of one method on one dataset: ``metrics`` averaged over the images, ``per_image`` each
    image's (in the dataset's order, so two methods' lists pair up for paired statistics)."""

    dataset: str
    method: str
    images: int
    size: str
    seconds_per_stack: float
    metrics: dict[str, float] = field(default_factory=dict)
    per_image: list[dict[str, float]] = field(default_factory=list)


def evaluate(
    methods: dict[str, Method],
    datasets: dict[str, Sequence[Sample]],
    *,
    focus_range_mask: bool = True,
    limit: int | None = None,
    save_dir: Path | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> list[Row]:
    """Score every method on every dataset; returns one :class:`Row` per pair."""
    rows, done = [], 0
    total = sum(min(len(d), limit or len(d)) for d in datasets.values()) * len(methods)
    for dataset_name, dataset in datasets.items():
        count = min(len(dataset), limit or len(dataset))
        for method_name, method in methods.items():
            per_image, seconds, size = [], [], ""
            for index in range(count):
                sample = dataset[index]
                if index == 0:
                    method(sample.stack)  # warm-up, untimed
                start = time.perf_counter()
                result = method(sample.stack)
                seconds.append(time.perf_counter() - start)
                size = f"{len(sample.stack)}x{sample.stack.shape[1]}x{sample.stack.shape[0]}"
                per_image.append(score_sample(sample, result, focus_range_mask=focus_range_mask))
                if save_dir is not None:
                    _save(save_dir / _safe(dataset_name) / method_name, sample, result)
                done += 1
                if progress:
                    progress(done, total)
            rows.append(Row(dataset_name, method_name, count, size, statistics.median(seconds),
                            average_metrics(per_image), per_image))
    return rows


def score_sample(sample: Sample, result: DepthResult, *, focus_range_mask: bool = True) -> dict[str, float]:
    """Depth (and all-in-focus) metrics of one result against one sample's ground truth."""
    scores: dict[str, float] = {}
    if sample.depth is not None:
        positions = sample.stack.focus_positions
        focus_range = (positions.min(), positions.max()) if focus_range_mask else None
        mask = evaluation_mask(sample.depth, valid=sample.valid, focus_range=focus_range)
        scores.update(depth_metrics(result.depth, sample.depth, mask, weights=sample.confidence))
    if sample.all_in_focus is not None and result.all_in_focus is not None:
        truth = sample.all_in_focus
        pred = result.all_in_focus if result.all_in_focus.ndim == truth.ndim else np.repeat(
            result.all_in_focus[..., None], 3, axis=2)
        scores.update(aif_metrics(pred, truth))
    return scores


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)


def _save(folder: Path, sample: Sample, result: DepthResult) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    stem = sample.name.replace("/", "_")
    np.save(folder / f"{stem}_depth.npy", result.depth.astype(np.float32))
    write_image(folder / f"{stem}_aif.png", result.all_in_focus)


REPORT_METRICS = DEPTH_METRICS + AIF_METRICS


def write_report(rows: list[Row], out_dir: Path, *, command: str) -> None:
    """``report.md`` (a Markdown table), ``results.csv`` and ``results.json`` in ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    keys = [k for k in REPORT_METRICS if any(not math.isnan(r.metrics.get(k, math.nan)) for r in rows)]
    header = ["dataset", "method", "images", "stack (N x W x H)", *keys, "s/stack"]
    lines = [f"Command: `{command}`", "", "| " + " | ".join(header) + " |",
             "|" + "|".join(["---"] * 4 + ["---:"] * (len(keys) + 1)) + "|"]
    for r in rows:
        cells = [r.dataset, r.method, str(r.images), r.size, *(_fmt(r.metrics.get(k, math.nan)) for k in keys),
                 f"{r.seconds_per_stack:.3f}"]
        lines.append("| " + " | ".join(cells) + " |")
    (out_dir / "report.md").write_text("\n".join(lines) + "\n")
    with open(out_dir / "results.csv", "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["dataset", "method", "images", "size", "seconds_per_stack", *REPORT_METRICS])
        for r in rows:
            writer.writerow([r.dataset, r.method, r.images, r.size, r.seconds_per_stack,
                             *(r.metrics.get(k, math.nan) for k in REPORT_METRICS)])
    payload = {"command": command, "results": [r.__dict__ for r in rows]}
    (out_dir / "results.json").write_text(json.dumps(payload, indent=1, default=float) + "\n")


def _fmt(value: float) -> str:
    if math.isnan(value):
        return "-"
    return f"{value:.4g}" if abs(value) >= 1e-3 or value == 0 else f"{value:.3e}"


def ratio_table(rows: list[Row], *, reference: str, metric: str = "mse",
                groups: dict[str, Callable[[str], bool]] | None = None, reps: int = 2000) -> str:
    """Markdown: every method's ``metric`` divided by ``reference``'s, per dataset, with 95 % intervals.

    A cell is mean(method) / mean(reference) over the dataset's images (paired) and its stratified paired
    bootstrap interval (:func:`~focalstack.eval.metrics.ratio_interval`); ``groups`` adds columns with the
    geometric mean of the ratios over the datasets whose names a predicate accepts. Below 1: the method
    beats the reference.
    """
    by = {(r.dataset, r.method): r for r in rows}
    datasets = list(dict.fromkeys(r.dataset for r in rows))
    methods = [m for m in dict.fromkeys(r.method for r in rows) if m != reference]
    groups = {name: [d for d in datasets if accept(d)] for name, accept in (groups or {}).items()}
    groups = {name: members for name, members in groups.items() if members}
    header = ["method", *datasets, *(f"{name} (geometric mean)" for name in groups)]
    lines = [f"{metric.upper()} / {reference}'s {metric.upper()} (95 % bootstrap interval over the images):", "",
             "| " + " | ".join(header) + " |", "|---|" + "---:|" * (len(header) - 1)]
    for method in methods:
        cells = [_ratio_cell(by, [d], method, reference, metric, reps) for d in datasets]
        cells += [_ratio_cell(by, members, method, reference, metric, reps) for members in groups.values()]
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _ratio_cell(by: dict, datasets: list[str], method: str, reference: str, metric: str, reps: int) -> str:
    pairs = []
    for name in datasets:
        mine, theirs = by.get((name, method)), by.get((name, reference))
        if mine is None or theirs is None:
            return "-"
        a = [p.get(metric, math.nan) for p in mine.per_image]
        b = [p.get(metric, math.nan) for p in theirs.per_image]
        keep = [i for i in range(min(len(a), len(b))) if math.isfinite(a[i]) and math.isfinite(b[i])]
        if not keep or not sum(b[i] for i in keep) > 0:
            return "-"
        pairs.append(([a[i] for i in keep], [b[i] for i in keep]))
    ratio, low, high = ratio_interval(pairs, reps=reps)
    return f"{ratio:.2f} ({low:.2f}-{high:.2f})"
