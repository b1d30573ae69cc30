"""``focalstack depth``, ``align`` and ``models``: argument parsing and output over :mod:`focalstack.methods`."""

from __future__ import annotations

from pathlib import Path

import typer

from ..align import align as align_stack
from ..batch import check_not_input
from ..errors import InputError
from ..io.atomic import check_output_dir
from ..io.stackdir import DEFAULT_MAX_MEGAPIXELS, parse_focus_positions
from ..methods import DEFAULT_METHOD
from ._common import (
    ALIGN_HELP,
    AlignMethod,
    DepthFormat,
    Device,
    Fusion,
    LazyProgress,
    PeakFit,
    RawEncoding,
    Refinement,
    TTOAif,
    TTORenderer,
    Unit,
    fail,
    open_stack,
)


def depth(
    stack_dirs: list[Path] = typer.Argument(..., metavar="STACK_DIR", help="Folder(s) of slices (PNG/JPEG/TIFF, "
                                            "8/16-bit, RAW), optionally with stack.json; several folders are a "
                                            "batch written to OUT/<folder name>."),
    out: Path = typer.Option(..., "-o", "--out", help="Output folder to create (depth.npy, aif.png, confidence.npy, "
                             "depth_preview.png, result.json); for several stacks, the folder that holds one per "
                             "stack."),
    method: str = typer.Option(DEFAULT_METHOD, "--method", "-m",
                               help="A trained network NAME[:TAG] (see `focalstack models`), optionally followed by "
                               "+dihedral and/or +tto[=STEPS], or a classical focus measure (sml = "
                               "sum-modified-Laplacian, tenengrad, variance, rdf = ring difference filter)."),
    focus_positions: str = typer.Option(None, "--focus-positions", "-f", metavar="P1,P2,...|@FILE",
                                        help="One focus position per slice, in file order (overrides stack.json "
                                        "and EXIF), or @FILE to read them from a text file. Needs --unit."),
    unit: Unit = typer.Option(None, "--unit", "-u",
                             help="Unit of --focus-positions; depth comes back in it. 'index' alone ignores all "
                             "focus information."),
    formats: list[DepthFormat] = typer.Option([], "--format", help="Also write depth as: pfm, tiff (float32), png16 "
                                              "(16-bit with offset/scale text chunks), exr, ply (coloured point "
                                              "cloud), index (sharpest slice per pixel); repeat for several."),
    min_confidence: float = typer.Option(0.0, help="Points of --format ply below this confidence are dropped."),
    html: bool = typer.Option(False, "--html", help="Also write report.html: the interactive viewer of the result "
                              "(focalstack view) as one self-contained file that opens without a server."),
    raw: RawEncoding = typer.Option("srgb", help="Camera RAW slices are demosaiced to srgb (16-bit, the sRGB tone "
                                    "curve) or linear (16-bit, proportional to the light)."),
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
    device: Device = typer.Option(None, "--device", help="Networks only: where the network runs; auto takes the "
                                  "first of CUDA, MPS and the CPU that is present [default: auto]."),
    max_memory: str = typer.Option(None, "--max-memory", metavar="SIZE", help="Memory budget, e.g. 8G: a network "
                                   "larger than it runs tile by tile [default: 75 % of the available memory]."),
    tile: int = typer.Option(None, "--tile", metavar="PIXELS", help="Networks only: tiles of this side instead of "
                             "the budget's."),
    net_scale: str = typer.Option(None, "--net-scale", metavar="auto|FACTOR", help="Networks only: the resolution "
                                  "the network works at. auto resizes a stack whose defocus blur (known from its "
                                  "camera and focus distances) is larger or smaller than the network was trained "
                                  "on, or else a stack over 1024 px, and brings the results back to full size; a "
                                  "factor in (0, 4] fixes it, 1 = full resolution [default: auto]."),
    jobs: int = typer.Option(1, "--jobs", "-j", help="Stacks processed at once (several stacks; each gets an equal "
                             "share of the memory budget)."),
    scale: float = typer.Option(1.0, help="Resize slices by this factor (0 < scale <= 1) before processing."),
    max_megapixels: float = typer.Option(DEFAULT_MAX_MEGAPIXELS, help="Refuse slices larger than this."),
    align: AlignMethod = typer.Option("auto", "--align", help=ALIGN_HELP),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace OUT (or OUT/<stack>) if it exists."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar or summary."),
) -> None:
    """Estimate depth, an all-in-focus image and confidence from the focal stack(s) in STACK_DIR..."""
    from ..batch import FolderOptions, depth_from_folder, depth_from_folders
    from ..methods import merge_modifiers, parse_method, resolve_method

    options = {"weights": weights, "window": window, "peak_fit": peak_fit, "fusion": fusion, "refine": refine,
               "refine_radius": refine_radius, "tto_lr": tto_lr, "tto_renderer": tto_renderer, "tto_aif": tto_aif,
               "device": device, "tile": tile, "net_scale": net_scale}
    options = {k: getattr(v, "value", v) for k, v in options.items() if v is not None}
    try:
        spec = merge_modifiers(parse_method(method), dihedral=dihedral, tto=tto)
        positions = parse_focus_positions(focus_positions) if focus_positions is not None else None
        folder = FolderOptions(focus_positions=tuple(positions) if positions else None,
                               unit=unit.value if unit else None, scale=scale, max_megapixels=max_megapixels,
                               align=align.value, formats=("npy", *(f.value for f in formats)),
                               min_confidence=min_confidence, overwrite=overwrite, raw=raw.value, html=html)
        if not spec.is_classical and weights is None:
            _note_standing(spec.network)
        if len(stack_dirs) == 1:
            check_not_input(out, stack_dirs[0])
            label = "slices" if spec.is_classical else "TTO steps, then tiles" if spec.tto_steps else "tiles"
            with LazyProgress(disabled=quiet, label=label) as progress:
                run = depth_from_folder(stack_dirs[0], out, method=resolve_method(spec, max_memory=max_memory,
                                                                                 **options),
                                        options=folder, progress=progress)
        else:
            with LazyProgress(disabled=quiet, label="stacks", delay_s=0) as progress:
                runs = depth_from_folders(stack_dirs, out, method=str(spec), options=folder, jobs=jobs,
                                          max_memory=max_memory, progress=progress, **options)
    except (InputError, OSError) as exc:
        fail(exc)
    if len(stack_dirs) == 1:
        _echo_warnings(run, name=False)
        if not spec.is_classical and run.unit == "disparity":
            _note_light_field(spec.network)
        if not quiet:
            _depth_summary(run)
        return
    for run in runs:
        _echo_warnings(run, name=True)
    if not quiet:
        typer.echo(batch_table(runs), err=True)
    if not all(run.ok for run in runs):
        raise typer.Exit(1)


def _echo_warnings(run, *, name: bool) -> None:
    for line in run.warnings:
        typer.echo(f"warning: {run.stack_dir}: {line}" if name else f"warning: {line}", err=True)


def batch_table(runs) -> str:
    """The summary of a batch: one line per stack."""
    lines = ["| stack | result | slices | size | depth | seconds |", "|---|---|---:|---|---|---:|"]
    for run in runs:
        depth = f"{run.depth_range[0]:.4g}..{run.depth_range[1]:.4g} {run.unit}" if run.depth_range else ""
        status = f"written to {run.out_dir}" if run.ok else f"FAILED: {run.error}"
        lines.append(f"| {run.stack_dir} | {status} | {run.slices or ''} | {run.size} | {depth} | {run.seconds:.1f} |")
    failed = sum(not run.ok for run in runs)
    lines.append(f"{len(runs) - failed} of {len(runs)} stacks done" + (f", {failed} failed" if failed else ""))
    return "\n".join(lines)


def _note_standing(network: str) -> None:
    from ..models import describe_standing

    line = describe_standing(network)
    if "WORSE" in line:
        typer.echo(f"note: {line}", err=True)


def _note_light_field(network: str) -> None:
    """Depth in disparity units usually comes from a light-field camera: name the weights made for those."""
    from ..models import real_image_standing, weights_made_for

    made = weights_made_for("real-lightfield")
    if made and network not in made:
        standing = real_image_standing(made[0])
        typer.echo(f"note: for light-field refocus stacks (depth in disparity units) -m {made[0]} is more accurate "
                   f"({standing['per_dataset']['real-lightfield']:.2f}x the MSE of {standing['reference']} on the "
                   "real-image benchmark's light field; docs/models.md)", err=True)


def _depth_summary(run) -> None:
    lo, hi = run.depth_range
    typer.echo(f"wrote {run.out_dir}: {run.slices} slices {run.size}, depth {lo:.4g}..{hi:.4g} {run.unit}, "
               f"{run.summary['timings']['total']:.2f} s; {_alignment_line(run.summary['alignment'])}", err=True)
    net_scale = run.summary.get("net_scale")
    if net_scale and net_scale["factor"] != 1:
        if net_scale["mode"] != "auto":
            how = "--net-scale"
        elif net_scale.get("largest_blur_px") is None:
            how = "chosen from the image size: the camera or focus distances do not give the blur"
        else:
            how = f"chosen from the largest blur, {net_scale['largest_blur_px']:.0f} px"
        typer.echo(f"network at {net_scale['factor']:.2f}x the input's size ({how}); outputs at full size", err=True)
    if run.summary.get("tiles"):
        tiles = run.summary["tiles"]
        typer.echo(f"tiled: {tiles['count']} tiles of {tiles['side']} px (overlap {tiles['overlap']} px) within the "
                   "memory budget", err=True)
    if run.summary.get("tto"):
        report = run.summary["tto"]
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
            method = join_method(name, tag)
            line = describe_standing(method)
            if method == DEFAULT_METHOD:
                line = (line + "; " if line else "") + "the default of focalstack depth"
            if line:
                typer.echo(f"{'':20s}   {line}")
