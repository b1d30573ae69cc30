"""Record how every released network fares against `sml` on the real-image benchmark.

Reads the ``results.json`` of a ``focalstack eval --real DATA`` run (the test split) that includes the classical
default (``sml``) and writes ``src/focalstack/models/weights/standing.json``, which ``focalstack models`` prints and
``focalstack depth`` warns with when a network loses::

    focalstack eval --real ../shared/data -m sml -m daifnet -m aifdepthnet ... -o report
    python benchmarks/real_standing.py report/results.json --date 2026-12-04

Several reports may be given (a later one's rows replace an earlier one's), ``--rename NAME:TAG=NAME`` scores a
candidate that was evaluated under a temporary tag as the weights it became, and ``--update`` keeps the entries of
the networks that the reports do not score (for adding one network: ``-m sml -m NEW``; the benchmark's stacks and
the default's scores are deterministic).

Each network's entry: the geometric mean over the real-image splits of its MSE / the default's MSE, with a 95 %
stratified paired bootstrap interval (focalstack.eval.metrics.ratio_interval), the ratio on every split, and
whether it beats the default (ratio < 1 on every split). ``--made-for METHOD=SPLIT`` marks weights trained for one
camera (``dffwild:lightfield=real-lightfield``): ``focalstack models`` then gives that split's ratio first.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from focalstack.classical import FOCUS_MEASURES
from focalstack.eval.metrics import ratio_interval
from focalstack.models.registry import STANDING_FILE


def standing(rows: list[dict], reference: str) -> dict[str, dict]:
    """``{method: {ratio, low, high, per_dataset, beats_reference}}`` over the ``real-*`` datasets."""
    by = {(r["dataset"], r["method"]): r for r in rows}
    datasets = sorted({d for d, _ in by if d.startswith("real-")})
    out = {}
    for method in dict.fromkeys(r["method"] for r in rows):
        if method in FOCUS_MEASURES or not all((d, method) in by and (d, reference) in by for d in datasets):
            continue
        pairs = [([p["mse"] for p in by[d, method]["per_image"]], [p["mse"] for p in by[d, reference]["per_image"]])
                 for d in datasets]
        ratio, low, high = ratio_interval(pairs)
        per = {d: round(sum(a) / sum(b), 4) for d, (a, b) in zip(datasets, pairs)}
        out[method] = {"ratio": round(ratio, 4), "low": round(low, 4), "high": round(high, 4), "per_dataset": per,
                       "beats_reference": all(v < 1 for v in per.values())}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", nargs="+", help="results.json of focalstack eval runs on the real-image benchmark")
    parser.add_argument("--reference", default="sml")
    parser.add_argument("--date", required=True, help="date of the measurement (YYYY-MM-DD)")
    parser.add_argument("--out", default=str(STANDING_FILE))
    parser.add_argument("--update", action="store_true",
                        help="keep the existing entries of --out for networks the reports do not score")
    parser.add_argument("--rename", action="append", default=[], metavar="NAME=METHOD",
                        help="rows of NAME (a candidate evaluated as NAME:TAG) are those of the released METHOD")
    parser.add_argument("--made-for", action="append", default=[], metavar="METHOD=SPLIT",
                        help="METHOD's weights were trained for the camera of SPLIT (e.g. real-lightfield)")
    args = parser.parse_args()
    rename = dict(item.split("=", 1) for item in args.rename)
    merged = {}  # a later report's row replaces an earlier one's for the same dataset and method
    for path in args.results:
        for row in json.loads(Path(path).read_text())["results"]:
            method = rename.get(row["method"], row["method"])
            row = {**row, "dataset": row["dataset"].removeprefix("sim:"), "method": method}
            merged[row["dataset"], row["method"]] = row
    rows = list(merged.values())
    methods = standing(rows, args.reference)
    for item in args.made_for:
        method, split = item.split("=", 1)
        if method not in methods or split not in methods[method]["per_dataset"]:
            parser.error(f"--made-for {item}: the reports do not score {method} on {split}")
        methods[method]["made_for"] = split
    if args.update and Path(args.out).is_file():
        methods = {**json.loads(Path(args.out).read_text())["methods"], **methods}
    table = {"benchmark": "real-image benchmark v1, test split (focalstack eval --real)", "reference": args.reference,
             "date": args.date, "methods": methods}
    Path(args.out).write_text(json.dumps(table, indent=1) + "\n")
    print("| method | MSE / default (geometric mean) | 95 % interval | beats the default on every split |")
    print("|---|---:|---|---|")
    for method, entry in table["methods"].items():
        print(f"| {method} | {entry['ratio']:.2f} | {entry['low']:.2f}-{entry['high']:.2f} | "
              f"{'yes' if entry['beats_reference'] else 'no'} |")


if __name__ == "__main__":
    main()
