"""``focalstack simulate`` and ``simulate-mix``: simulated datasets and training mixes."""

from __future__ import annotations

import time
from pathlib import Path

import typer

from ..errors import InputError
from ._common import LazyProgress, fail


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
    from ..simulate.camera import PROFILES, CameraEffects
    from ..simulate.dataset import SCENE_SOURCES, SimulationConfig, write_dataset
    from ..simulate.rgbd import is_rgbd_folder

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
        with LazyProgress(disabled=quiet, label="stacks") as progress:
            made = write_dataset(config, out, workers=workers, progress=progress)
    except (InputError, OSError) as exc:
        fail(exc)
    if not quiet:
        typer.echo(f"wrote {made} stacks to {out} ({num - made} already there), {time.perf_counter() - start:.1f} s",
                   err=True)


def simulate_mix(
    mix: Path = typer.Argument(..., help="Mix file (YAML: sources, weights, total; see docs/simulator.md)."),
    out: Path = typer.Option(..., "-o", "--out", help="Root folder: one dataset per source (an unfinished one is "
                             "resumed)."),
    workers: int = typer.Option(1, help="Parallel worker processes."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar or summary."),
) -> None:
    """Write a training mix: several simulated sources in set proportions, each a dataset under OUT."""
    from ..simulate.mix import MixConfig, write_mix

    try:
        config = MixConfig.from_yaml(mix)
        start = time.perf_counter()
        with LazyProgress(disabled=quiet, label="stacks") as progress:
            folders = write_mix(config, out, workers=workers, progress=progress)
    except (InputError, OSError) as exc:
        fail(exc)
    if not quiet:
        counts = config.counts()
        for folder in folders:
            typer.echo(f"{folder}: {counts[folder.name]} stacks", err=True)
        typer.echo(f"done in {time.perf_counter() - start:.1f} s", err=True)
