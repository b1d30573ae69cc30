"""The ``focalstack`` command line: thin commands over the library.

Exit status: 0 on success, 2 on bad input (one line on stderr, no traceback), 130 when
interrupted. Results are written atomically: all files or none.
"""

from __future__ import annotations

import sys
import time
import warnings
from enum import Enum
from pathlib import Path

import typer

from . import __version__
from .align import METHODS as ALIGN_METHODS
from .align import align as align_stack
from .classical import FUSIONS, PEAK_FITS, REFINEMENTS
from .errors import InputError
from .io.atomic import check_output_dir
from .io.results import write_result
from .io.stackdir import DEFAULT_MAX_MEGAPIXELS, read_stack
from .units import UNITS


def _choices(name: str, values) -> type[Enum]:
    return Enum(name, {v: v for v in values}, type=str)


Unit = _choices("Unit", UNITS)
PeakFit = _choices("PeakFit", PEAK_FITS)
TTORenderer = _choices("TTORenderer", ("per_pixel", "layered"))
TTOAif = _choices("TTOAif", ("model", "coarse"))
Fusion = _choices("Fusion", FUSIONS)
Refinement = _choices("Refinement", REFINEMENTS)
AlignMethod = _choices("AlignMethod", ALIGN_METHODS)
_ALIGN_HELP = ("Align the slices first: auto (undo focus breathing from focus distances + focal length, refined by "
               "ECC; ECC alone without that metadata), metadata, ecc, metadata+ecc or none.")

app = typer.Typer(
    name="focalstack",
    help="Depth from focus: a depth map, an all-in-focus image and a confidence map from a focal stack.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"focalstack {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Print the version and exit."),
) -> None:
    """Depth from focus: a depth map, an all-in-focus image and a confidence map from a focal stack."""


@app.command()
def depth(
    stack_dir: Path = typer.Argument(..., help="Folder of slices (PNG/JPEG/TIFF, 8/16-bit), optionally with "
                                     "stack.json."),
    out: Path = typer.Option(..., "-o", "--out", help="Output folder to create (depth.npy, aif.png, confidence.npy, "
                             "depth_preview.png, result.json)."),
    method: str = typer.Option("sml", "--method", "-m",
                               help="A classical focus measure (sml = sum-modified-Laplacian, tenengrad, variance, "
                               "rdf = ring difference filter) or a trained network NAME[:TAG] (see `focalstack "
                               "models`), optionally followed by +dihedral and/or +tto[=STEPS]."),
    focus_positions: str = typer.Option(None, "--focus-positions", "-f", metavar="P1,P2,...|@FILE",
                                        help="One focus position per slice, in file order (overrides stack.json "
                                        "and EXIF), or @FILE to read them from a text file. Needs --unit."),
    unit: Unit = typer.Option(None, "--unit", "-u",
                             help="Unit of --focus-positions; depth comes back in it. 'index' alone ignores all "
                             "focus information."),
    window: int = typer.Option(None, "--window", "-w", help="Focus measures only: odd side in pixels of the "
                               "focus-measure window [default: 9]."),
    peak_fit: PeakFit = typer.Option(None, help="Focus measures only: sub-slice peak fit of the focus curve (in "
                                     "inverse depth) [default: gaussian]."),
    fusion: Fusion = typer.Option(None, help="Focus measures only: all-in-focus fusion, soft per-pixel blending or "
                                  "Laplacian pyramid [default: soft]."),
    refine: Refinement = typer.Option(None, help="Focus measures only: edge-aware depth refinement guided by the "
                                      "all-in-focus image [default: guided]."),
    refine_radius: int = typer.Option(None, help="Focus measures only: refinement radius in pixels [default: 8]."),
    weights: Path = typer.Option(None, "--weights", help="Networks only: a weights file (safetensors) instead of the "
                                 "released weights."),
    dihedral: bool = typer.Option(False, "--dihedral", help="Networks only: average the prediction over the 8 flips "
                                  "and 90-degree rotations of the stack (test-time augmentation, the same as "
                                  "+dihedral; 8x the time, lower error, docs/benchmarks.md)."),
    tto: int = typer.Option(0, "--tto", metavar="STEPS", help="Networks only: test-time optimisation, fine-tune a "
                            "copy of the network on this stack for STEPS steps with the self-supervised "
                            "re-rendering loss before predicting (the same as +tto=STEPS; needs the camera block "
                            "of stack.json)."),
    tto_lr: float = typer.Option(None, "--tto-lr", help="With --tto: learning rate (Adam) [default: 0.0001]."),
    tto_renderer: TTORenderer = typer.Option(None, "--tto-renderer",
                                             help="With --tto: per_pixel (Gaussian PSF, fast) or layered "
                                             "(occlusion-aware, disc PSF of a round aperture, slower) "
                                             "[default: per_pixel]."),
    tto_aif: TTOAif = typer.Option(None, "--tto-aif",
                                   help="With --tto: the all-in-focus image it re-renders from, the network's own "
                                   "or the coarse one fused from the slices (tunes depth alone; safer for "
                                   "DAIF-Net) [default: model]."),
    scale: float = typer.Option(1.0, help="Resize slices by this factor (0 < scale <= 1) before processing."),
    max_megapixels: float = typer.Option(DEFAULT_MAX_MEGAPIXELS, help="Refuse slices larger than this."),
    align: AlignMethod = typer.Option("auto", "--align", help=_ALIGN_HELP),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace OUT if it exists."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar or summary."),
) -> None:
    """Estimate depth, an all-in-focus image and confidence from the focal stack in STACK_DIR."""
    from .methods import estimate_depth, merge_modifiers, parse_method, resolve_method

    options = {"weights": weights, "window": window, "peak_fit": peak_fit, "fusion": fusion, "refine": refine,
               "refine_radius": refine_radius, "tto_lr": tto_lr, "tto_renderer": tto_renderer, "tto_aif": tto_aif}
    options = {k: getattr(v, "value", v) for k, v in options.items()}
    try:
        _check_not_input(out, stack_dir)
        check_output_dir(out, overwrite=overwrite)
        spec = parse_method(method)
        if not spec.is_classical and weights is None:
            _note_standing(spec.network)
        run = resolve_method(merge_modifiers(spec, dihedral=dihedral, tto=tto), **options)
        stack = _open_stack(stack_dir, focus_positions, unit.value if unit else None, scale, max_megapixels)
        with _LazyProgress(disabled=quiet, label="TTO steps" if run.spec.tto_steps else "slices") as progress:
            result = estimate_depth(stack, method=run, align=align.value, progress=progress)
        metadata = {"version": __version__, "input": str(stack_dir), "files": stack.names}
        write_result(result, out, overwrite=overwrite, bit_depth=8 if stack.bit_depth == 8 else 16, metadata=metadata)
    except (InputError, OSError) as exc:
        _fail(exc)
    if not quiet:
        _depth_summary(out, stack, result)


def _note_standing(network: str) -> None:
    line = _standing_line(network)
    if "WORSE" in line:
        typer.echo(f"note: {line}", err=True)


def _depth_summary(out: Path, stack, result) -> None:
    lo, hi = float(result.depth.min()), float(result.depth.max())
    h, w = stack.shape
    typer.echo(f"wrote {out}: {len(stack)} slices {w}x{h}, depth {lo:.4g}..{hi:.4g} {result.unit}, "
               f"{result.timings['total']:.2f} s; {_alignment_line(result.metadata['alignment'])}", err=True)
    if "tto" in result.parameters:
        report = result.parameters["tto"]
        typer.echo(f"test-time optimisation: {report['steps']} steps, self-supervised loss "
                   f"{report['loss_before']:.4g} -> {report['loss_after']:.4g}, {report['seconds']:.2f} s", err=True)


def _alignment_line(record: dict) -> str:
    if record["method"] == "none":
        return "not aligned"
    return f"aligned ({record['method']}, largest correction {record['largest_correction_px']:.1f} px)"


@app.command("align")
def align_command(
    stack_dir: Path = typer.Argument(..., help="Folder of slices (optional stack.json sidecar)."),
    out: Path = typer.Option(..., "-o", "--out", help="Output folder to create: aligned slices (PNG, the input's "
                             "bit depth) and a stack.json with the focus positions, camera and warps."),
    method: AlignMethod = typer.Option("auto", "--method", "-m", help=_ALIGN_HELP),
    focus_positions: str = typer.Option(None, "--focus-positions", "-f", metavar="P1,P2,...|@FILE",
                                        help="Focus positions, near to far or in file order (else stack.json/EXIF)."),
    unit: Unit = typer.Option(None, "--unit", "-u", help="Unit of the focus positions."),
    max_megapixels: float = typer.Option(DEFAULT_MAX_MEGAPIXELS, help="Refuse slices larger than this."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace OUT if it exists."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No summary."),
) -> None:
    """Align the slices of the focal stack in STACK_DIR into the nearest-focus slice's frame."""
    from .io.stackdir import write_stack
    from .methods import alignment_record

    try:
        _check_not_input(out, stack_dir)
        check_output_dir(out, overwrite=overwrite)
        stack = _open_stack(stack_dir, focus_positions, unit.value if unit else None, 1.0, max_megapixels)
        alignment = align_stack(stack, method=method.value)
        record = alignment_record(alignment)
        write_stack(alignment.stack, out, overwrite=overwrite, extra={"alignment": record})
    except (InputError, OSError) as exc:
        _fail(exc)
    if not quiet:
        typer.echo(f"wrote {out}: {len(stack)} slices, {_alignment_line(record)}", err=True)


@app.command()
def models() -> None:
    """List the registered networks and whether trained weights are available."""
    from .models import join_method, list_models, model_entry, released_weights

    for name in list_models():
        entry = model_entry(name)
        tags = released_weights(name)
        trained = ("weights: " + ", ".join(join_method(name, t) for t in tags)) if tags else "no weights yet"
        typer.echo(f"{name:20s} {entry.description}\n{'':20s} {trained}")
        for tag in tags:
            line = _standing_line(join_method(name, tag))
            if line:
                typer.echo(f"{'':20s}   {line}")


def _standing_line(method: str) -> str:
    """One line on how released weights fare against the classical default on the real-image benchmark."""
    from .models import real_image_standing

    standing = real_image_standing(method)
    if standing is None:
        return ""
    worse = [name for name, ratio in standing["per_dataset"].items() if ratio >= 1]
    verdict = f"WORSE than it on {', '.join(worse)}" if worse else "better on every split"
    return (f"{method}: {standing['ratio']:.2f}x the MSE of the classical default ({standing['reference']}) on the "
            f"real-image benchmark ({standing['low']:.2f}-{standing['high']:.2f}), {verdict} (docs/benchmarks.md)")


@app.command()
def simulate(
    out: Path = typer.Option(..., "-o", "--out", help="Dataset folder (created; an unfinished one is resumed)."),
    profile: str = typer.Option("phone", help="Camera profile: phone, dslr_macro, microscope or lightfield."),
    num: int = typer.Option(100, help="Number of stacks."),
    size: int = typer.Option(256, help="Side in pixels of the (square) procedural scenes."),
    slices: int = typer.Option(5, help="Slices per stack, uniform in diopters over the profile's focus range."),
    seed: int = typer.Option(0, help="Master seed: stack i is made from (seed, i), whatever the workers."),
    workers: int = typer.Option(1, help="Parallel worker processes."),
    scene: list[str] = typer.Option(["procedural"], help="'procedural', 'dead_leaves' or an RGB-D folder "
                                    "(image.png + disparity.npy, Middlebury 2003 or Tsukuba layout); repeat to cycle "
                                    "through several."),
    renderer: str = typer.Option("layered", help="layered (occlusion-aware) or per_pixel."),
    psf: str = typer.Option(None, help="disc, gaussian or lightfield; default the profile's (disc; lightfield for "
                            "the lightfield profile)."),
    sweep: str = typer.Option("profile", help="profile (uniform in diopters over the profile's focus range) or "
                              "random (relative to each scene's depth, not always covering it)."),
    rgbd_views: bool = typer.Option(False, "--rgbd-views", help="RGB-D scenes become random SIZE x SIZE views "
                                    "(scale, crop, flip, depth range)."),
    ideal: bool = typer.Option(False, "--ideal", help="No camera imperfections at all."),
    no_breathing: bool = typer.Option(False, "--no-breathing", help="No focal breathing."),
    no_focus_error: bool = typer.Option(False, "--no-focus-error", help="No focus-distance / FoV error."),
    no_principal_point: bool = typer.Option(False, "--no-principal-point", help="No principal-point jitter."),
    no_noise: bool = typer.Option(False, "--no-noise", help="No shot or read noise."),
    no_vignetting: bool = typer.Option(False, "--no-vignetting", help="No vignetting."),
    no_jpeg: bool = typer.Option(False, "--no-jpeg", help="No JPEG compression."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar or summary."),
) -> None:
    """Simulate a dataset of focal stacks with ground-truth depth, all-in-focus images and warps."""
    from .simulate.camera import PROFILES, CameraEffects
    from .simulate.dataset import SCENE_SOURCES, SimulationConfig, write_dataset
    from .simulate.rgbd import is_rgbd_folder

    try:
        effects = CameraEffects.none() if ideal else CameraEffects(
            focal_breathing=not no_breathing, focus_error=not no_focus_error, principal_point=not no_principal_point,
            noise=not no_noise, vignetting=not no_vignetting, jpeg=not no_jpeg)
        if profile not in PROFILES:
            raise InputError(f"unknown camera profile {profile!r}; use one of {', '.join(PROFILES)}")
        config = SimulationConfig(profile=profile, num=num, size=size, slices=slices, seed=seed, effects=effects,
                                  renderer=renderer, psf=psf or PROFILES[profile].psf, scenes=tuple(scene),
                                  sweep=sweep, rgbd_views=rgbd_views)
        for source in config.scenes:
            if source not in SCENE_SOURCES and not is_rgbd_folder(source):
                raise InputError(f"scene source {source} is neither one of {', '.join(SCENE_SOURCES)} nor an RGB-D "
                                 "folder")
        start = time.perf_counter()
        with _LazyProgress(disabled=quiet, label="stacks") as progress:
            made = write_dataset(config, out, workers=workers, progress=progress)
    except (InputError, OSError) as exc:
        _fail(exc)
    if not quiet:
        typer.echo(f"wrote {made} stacks to {out} ({num - made} already there), {time.perf_counter() - start:.1f} s",
                   err=True)


@app.command("simulate-mix")
def simulate_mix(
    mix: Path = typer.Argument(..., help="Mix file (YAML: sources, weights, total; see docs/simulator.md)."),
    out: Path = typer.Option(..., "-o", "--out", help="Root folder: one dataset per source (an unfinished one is "
                             "resumed)."),
    workers: int = typer.Option(1, help="Parallel worker processes."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar or summary."),
) -> None:
    """Write a training mix: several simulated sources in set proportions, each a dataset under OUT."""
    from .simulate.mix import MixConfig, write_mix

    try:
        config = MixConfig.from_yaml(mix)
        start = time.perf_counter()
        with _LazyProgress(disabled=quiet, label="stacks") as progress:
            folders = write_mix(config, out, workers=workers, progress=progress)
    except (InputError, OSError) as exc:
        _fail(exc)
    if not quiet:
        counts = config.counts()
        for folder in folders:
            typer.echo(f"{folder}: {counts[folder.name]} stacks", err=True)
        typer.echo(f"done in {time.perf_counter() - start:.1f} s", err=True)


_RATIO_GROUPS = {
    "real-image": lambda name: name.startswith(("real-", "realdev-")),
    "procedural suite": lambda name: name.split("-")[0] in ("phone", "dslr_macro", "microscope"),
}


@app.command("eval")
def evaluate_command(
    out: Path = typer.Option(..., "-o", "--out", help="Report folder (report.md, results.csv, results.json)."),
    method: list[str] = typer.Option(["sml"], "--method", "-m", help="Method to evaluate; repeat for several "
                                     "(sml, tenengrad, variance, rdf, or a model NAME[:TAG], optionally followed by "
                                     "+dihedral for test-time augmentation)."),
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
                                      + _ALIGN_HELP.split(": ", 1)[1]),
    save_predictions: bool = typer.Option(False, "--save-predictions", help="Keep depth.npy and aif.png of "
                                          "every sample under OUT/predictions."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace OUT if it exists."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar or summary."),
) -> None:
    """Evaluate methods on benchmark datasets and the suite; write a Markdown/CSV/JSON report."""
    import shlex

    from .eval.datasets import LOADERS  # noqa: F401  (registers every loader)
    from .eval.runner import evaluate, method_runner, open_dataset, ratio_table, write_report
    from .eval.suite import build_real_suite, build_suite
    from .io.atomic import atomic_directory

    command = "focalstack " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    try:
        check_output_dir(out, overwrite=overwrite)
        methods = {name: method_runner(name, align=align.value) for name in dict.fromkeys(method)}
        datasets = {_dataset_label(spec): open_dataset(spec) for spec in dataset}
        if suite or rgbd:
            with _LazyProgress(disabled=quiet, label="suite stacks") as progress:
                datasets.update(build_suite(suite_dir, rgbd_dirs=rgbd, workers=workers, progress=progress))
        if real is not None:
            with _LazyProgress(disabled=quiet, label="real-image stacks") as progress:
                datasets.update(build_real_suite(suite_dir, real, split=real_split, workers=workers,
                                                 progress=progress))
        if not datasets:
            raise InputError("nothing to evaluate: give --dataset NAME:PATH, --suite or --real DATA")
        with atomic_directory(out, overwrite=overwrite) as tmp:
            with _LazyProgress(disabled=quiet, label="stacks") as progress:
                rows = evaluate(methods, datasets, focus_range_mask=not all_pixels, limit=limit,
                                save_dir=tmp / "predictions" if save_predictions else None, progress=progress)
            write_report(rows, tmp, command=command)
            if reference in methods and len(methods) > 1:
                (tmp / "ratios.md").write_text(ratio_table(rows, reference=reference, groups=_RATIO_GROUPS))
    except (InputError, OSError) as exc:
        _fail(exc)
    if not quiet:
        typer.echo((out / "report.md").read_text())
        if (out / "ratios.md").is_file():
            typer.echo((out / "ratios.md").read_text())


@app.command()
def train(
    config: Path = typer.Argument(..., help="Training config (YAML; see docs/training.md)."),
    resume: bool = typer.Option(False, "--resume", help="Continue the run in the config's out folder exactly where "
                                "its last checkpoint left it."),
    steps: int = typer.Option(None, help="Override the config's number of steps (e.g. to extend a run)."),
    until: int = typer.Option(None, "--until", metavar="STEP", help="Stop after this step, with last.pt written, "
                              "as an interrupted run (the schedule stays that of all the steps; --resume continues)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """Train a network (depth, all-in-focus or self-supervised); run under torchrun for several processes."""
    import dataclasses

    from .train.config import TrainConfig
    from .train.trainer import Trainer

    try:
        cfg = TrainConfig.from_yaml(config)
        if steps is not None:
            cfg = dataclasses.replace(cfg, run=dataclasses.replace(cfg.run, steps=steps))
        trainer = Trainer(cfg, resume=resume, progress=not quiet, echo=lambda line: typer.echo(line, err=True))
        summary = trainer.fit(until_step=until)
        trainer.close()  # after a run that ended on every rank; an error exits and torchrun stops the others
    except (InputError, OSError) as exc:
        _fail(exc)
    if trainer.rank == 0:
        best = summary["best"]
        typer.echo(f"step {summary['step']}/{cfg.run.steps}, last loss {summary['loss']:.4g}, "
                   f"{summary['seconds']:.1f} s; best {best['metric']} {best['value']:.4g} at step {best['step']}; "
                   f"checkpoints in {cfg.run.out}", err=True)
    if "rank_param_difference" in summary:
        typer.echo(f"rank {trainer.rank}: ranks in sync, max parameter difference "
                   f"{summary['rank_param_difference']:.3g}", err=True)
    if summary["interrupted"]:
        raise typer.Exit(130)


@app.command("export-weights")
def export_weights_command(
    checkpoint: Path = typer.Argument(..., help="A training checkpoint (RUN/best.pt or RUN/last.pt)."),
    out: Path = typer.Option(..., "-o", "--out", help="The safetensors file to write."),
    licence: str = typer.Option("MIT", help="Licence recorded in the metadata."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace OUT if it exists."),
) -> None:
    """Write a checkpoint's network as a safetensors weights file with its training metadata."""
    from .train.trainer import export_weights

    try:
        if out.exists() and not overwrite:
            raise InputError(f"{out} already exists; pass --overwrite to replace it")
        export_weights(checkpoint, out, licence=licence)
    except (InputError, OSError) as exc:
        _fail(exc)
    typer.echo(f"wrote {out}", err=True)


def _dataset_label(spec: str) -> str:
    """``ddff12:/data/DDFF12.h5?split=val`` -> ``ddff12:DDFF12.h5?split=val`` for reports."""
    kind, _, rest = spec.partition(":")
    path, sep, query = rest.partition("?")
    return f"{kind}:{Path(path).name}{sep}{query}"


def _check_not_input(out: Path, stack_dir: Path) -> None:
    """Refuse an output folder that is the input folder or contains it (--overwrite would delete it)."""
    out_abs, input_abs = out.resolve(), stack_dir.resolve()
    if out_abs == input_abs or out_abs in input_abs.parents:
        raise InputError(f"the output folder {out} would replace the input folder {stack_dir}; choose another -o")


def _open_stack(stack_dir, focus_positions, unit, scale, max_megapixels):
    positions = _parse_positions(focus_positions) if focus_positions is not None else None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        stack = read_stack(stack_dir, focus_positions=positions, unit=unit, scale=scale,
                           max_megapixels=max_megapixels)
    for warning in caught:
        typer.echo(f"warning: {warning.message}", err=True)
    return stack


def _parse_positions(text: str) -> list[float]:
    """``P1,P2,...`` or ``@FILE`` (numbers separated by commas, spaces or new lines)."""
    if text.startswith("@"):
        try:
            text = Path(text[1:]).read_text()
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"cannot read focus positions from {text[1:]}: {exc.strerror or exc}") from None
        parts = text.replace(",", " ").split()
    else:
        parts = text.replace(" ", "").split(",")
    try:
        return [float(part) for part in parts]
    except ValueError:
        raise InputError(f"--focus-positions must be comma-separated numbers, got {text!r}") from None


def _fail(exc: BaseException) -> None:
    message = str(exc) if isinstance(exc, InputError) else f"{exc.strerror or exc}: {exc.filename or ''}".rstrip(": ")
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)


class _LazyProgress:
    """A rich progress bar that only appears once a run has taken more than a second."""

    def __init__(self, *, disabled: bool = False, delay_s: float = 1.0, label: str = "slices") -> None:
        self.disabled, self.delay_s, self.label = disabled, delay_s, label
        self._start = time.perf_counter()
        self._bar = self._task = None

    def __call__(self, done: int, total: int) -> None:
        if self.disabled:
            return
        if self._bar is None and time.perf_counter() - self._start > self.delay_s and done < total:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

            self._bar = Progress("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
                                 TimeRemainingColumn(), console=Console(stderr=True), transient=True)
            self._bar.start()
            self._task = self._bar.add_task(self.label, total=total)
        if self._bar is not None:
            self._bar.update(self._task, completed=done)

    def __enter__(self) -> _LazyProgress:
        return self

    def __exit__(self, *exc) -> None:
        if self._bar is not None:
            self._bar.stop()


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``focalstack`` console script; returns the exit status."""
    try:
        app(args=argv, prog_name="focalstack", standalone_mode=True)
    except SystemExit as exc:  # typer exits 130 on Ctrl-C
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
