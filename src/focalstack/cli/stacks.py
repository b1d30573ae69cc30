"""``focalstack depth``, ``align`` and ``models``: argument parsing and output over :mod:`focalstack.methods`."""

from __future__ import annotations

from pathlib import Path

import typer

from .. import __version__
from ..align import align as align_stack
from ..errors import InputError
from ..io.atomic import check_output_dir
from ..io.results import write_result
from ..io.stackdir import DEFAULT_MAX_MEGAPIXELS
from ._common import (
    ALIGN_HELP,
    AlignMethod,
    Fusion,
    LazyProgress,
    PeakFit,
    Refinement,
    TTOAif,
    TTORenderer,
    Unit,
    check_not_input,
    fail,
    open_stack,
)


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
    align: AlignMethod = typer.Option("auto", "--align", help=ALIGN_HELP),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace OUT if it exists."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar or summary."),
) -> None:
    """Estimate depth, an all-in-focus image and confidence from the focal stack in STACK_DIR."""
    from ..methods import estimate_depth, merge_modifiers, parse_method, resolve_method

    options = {"weights": weights, "window": window, "peak_fit": peak_fit, "fusion": fusion, "refine": refine,
               "refine_radius": refine_radius, "tto_lr": tto_lr, "tto_renderer": tto_renderer, "tto_aif": tto_aif}
    options = {k: getattr(v, "value", v) for k, v in options.items()}
    try:
        check_not_input(out, stack_dir)
        check_output_dir(out, overwrite=overwrite)
        spec = parse_method(method)
        if not spec.is_classical and weights is None:
            _note_standing(spec.network)
        run = resolve_method(merge_modifiers(spec, dihedral=dihedral, tto=tto), **options)
        stack = open_stack(stack_dir, focus_positions, unit.value if unit else None, scale, max_megapixels)
        with LazyProgress(disabled=quiet, label="TTO steps" if run.spec.tto_steps else "slices") as progress:
            result = estimate_depth(stack, method=run, align=align.value, progress=progress)
        metadata = {"version": __version__, "input": str(stack_dir), "files": stack.names}
        write_result(result, out, overwrite=overwrite, bit_depth=8 if stack.bit_depth == 8 else 16, metadata=metadata)
    except (InputError, OSError) as exc:
        fail(exc)
    if not quiet:
        _depth_summary(out, stack, result)


def _note_standing(network: str) -> None:
    from ..models import describe_standing

    line = describe_standing(network)
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


def align_command(
    stack_dir: Path = typer.Argument(..., help="Folder of slices (optional stack.json sidecar)."),
    out: Path = typer.Option(..., "-o", "--out", help="Output folder to create: aligned slices (PNG, the input's "
                             "bit depth) and a stack.json with the focus positions, camera and warps."),
    method: AlignMethod = typer.Option("auto", "--method", "-m", help=ALIGN_HELP),
    focus_positions: str = typer.Option(None, "--focus-positions", "-f", metavar="P1,P2,...|@FILE",
                                        help="Focus positions, near to far or in file order (else stack.json/EXIF)."),
    unit: Unit = typer.Option(None, "--unit", "-u", help="Unit of the focus positions."),
    max_megapixels: float = typer.Option(DEFAULT_MAX_MEGAPIXELS, help="Refuse slices larger than this."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace OUT if it exists."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No summary."),
) -> None:
    """Align the slices of the focal stack in STACK_DIR into the nearest-focus slice's frame."""
    from ..io.stackdir import write_stack
    from ..methods import alignment_record

    try:
        check_not_input(out, stack_dir)
        check_output_dir(out, overwrite=overwrite)
        stack = open_stack(stack_dir, focus_positions, unit.value if unit else None, 1.0, max_megapixels)
        alignment = align_stack(stack, method=method.value)
        record = alignment_record(alignment)
        write_stack(alignment.stack, out, overwrite=overwrite, extra={"alignment": record})
    except (InputError, OSError) as exc:
        fail(exc)
    if not quiet:
        typer.echo(f"wrote {out}: {len(stack)} slices, {_alignment_line(record)}", err=True)


def models() -> None:
    """List the registered networks and whether trained weights are available."""
    from ..models import describe_standing, join_method, list_models, model_entry, released_weights

    for name in list_models():
        entry = model_entry(name)
        tags = released_weights(name)
        trained = ("weights: " + ", ".join(join_method(name, t) for t in tags)) if tags else "no weights yet"
        typer.echo(f"{name:20s} {entry.description}\n{'':20s} {trained}")
        for tag in tags:
            line = describe_standing(join_method(name, tag))
            if line:
                typer.echo(f"{'':20s}   {line}")
