"""``focalstack eval``: methods (the strings of :mod:`focalstack.methods`) over benchmark datasets and the suites."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from ..errors import InputError
from ..io.atomic import check_output_dir
from ..methods import DEFAULT_METHOD
from ._common import ALIGN_HELP, AlignMethod, LazyProgress, fail


def evaluate_command(
    out: Path = typer.Option(..., "-o", "--out", help="Report folder (report.md, results.csv, results.json)."),
    method: list[str] = typer.Option([DEFAULT_METHOD, "sml"], "--method", "-m",
                                     help="Method to evaluate; repeat for several (sml, tenengrad, variance, rdf, or "
                                     "a model NAME[:TAG], optionally followed by +dihedral for test-time "
                                     "augmentation). Without it: focalstack depth's default and sml."),
    dataset: list[str] = typer.Option([], "--dataset", "-d", help="NAME:PATH[?key=value&...], e.g. "
                                      "ddff12:DDFF12.h5?split=val, hci4d:full_data?split=test, fod500:FoD500, "
                                      "sim:DIR (a focalstack simulate dataset); repeat for several."),
    suite: bool = typer.Option(False, "--suite", help="Add the benchmark suite (generated on first use)."),
    suite_dir: Path = typer.Option(Path(".focalstack-suite"), help="Where the suite's stacks are generated."),
    rgbd: list[Path] = typer.Option([], "--rgbd", help="RGB-D folders (Middlebury 2003 / Tsukuba) added to the "
                                    "suite as simulated stacks."),
    real: Path = typer.Option(None, "--real", help="Add the real-image benchmark: the held-out RGB-D scenes under "
                              "this folder (the layout of shared/data: rgbd/, rgbd_more/) rendered through the three "
                              "cameras and the light field (generated on first use, in --suite-dir)."),
    real_split: str = typer.Option("test", help="Scenes of the real-image benchmark: test (the benchmark) or dev "
                                   "(the development split that chooses checkpoints)."),
    reference: str = typer.Option("sml", help="Method every other method's MSE is divided by in ratios.md "
                                  "(when it is evaluated)."),
    workers: int = typer.Option(1, help="Processes generating the suite."),
    limit: int = typer.Option(None, help="Use only the first N samples of each dataset."),
    all_pixels: bool = typer.Option(False, "--all-pixels", help="Also score ground truth outside the focus range."),
    align: AlignMethod = typer.Option("none", "--align", help="Align every stack before every method (the time counts "
                                      "in seconds per stack); none by default, the benchmarks' protocol. "
                                      + ALIGN_HELP.split(": ", 1)[1]),
    save_predictions: bool = typer.Option(False, "--save-predictions", help="Keep depth.npy and aif.png of "
                                          "every sample under OUT/predictions."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace OUT if it exists."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar or summary."),
) -> None:
    """Evaluate methods on benchmark datasets and the suite; write a Markdown/CSV/JSON report."""
    import shlex

    from ..eval.datasets import LOADERS  # noqa: F401  (registers every loader)
    from ..eval.runner import dataset_label, evaluate, method_runner, open_dataset, ratio_table, write_report
    from ..eval.suite import RATIO_GROUPS, build_real_suite, build_suite
    from ..io.atomic import atomic_directory

    command = "focalstack " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    try:
        check_output_dir(out, overwrite=overwrite)
        methods = {name: method_runner(name, align=align.value) for name in dict.fromkeys(method)}
        datasets = {dataset_label(spec): open_dataset(spec) for spec in dataset}
        if suite or rgbd:
            with LazyProgress(disabled=quiet, label="suite stacks") as progress:
                datasets.update(build_suite(suite_dir, rgbd_dirs=rgbd, workers=workers, progress=progress))
        if real is not None:
            with LazyProgress(disabled=quiet, label="real-image stacks") as progress:
                datasets.update(build_real_suite(suite_dir, real, split=real_split, workers=workers,
                                                 progress=progress))
        if not datasets:
            raise InputError("nothing to evaluate: give --dataset NAME:PATH, --suite or --real DATA")
        with atomic_directory(out, overwrite=overwrite) as tmp:
            with LazyProgress(disabled=quiet, label="stacks") as progress:
                rows = evaluate(methods, datasets, focus_range_mask=not all_pixels, limit=limit,
                                save_dir=tmp / "predictions" if save_predictions else None, progress=progress)
            write_report(rows, tmp, command=command)
            if reference in methods and len(methods) > 1:
                (tmp / "ratios.md").write_text(ratio_table(rows, reference=reference, groups=RATIO_GROUPS))
    except (InputError, OSError) as exc:
        fail(exc)
    if not quiet:
        typer.echo((out / "report.md").read_text())
        if (out / "ratios.md").is_file():
            typer.echo((out / "ratios.md").read_text())
