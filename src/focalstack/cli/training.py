"""``focalstack train`` and ``export-weights``."""

from __future__ import annotations

from pathlib import Path

import typer

from ..errors import InputError
from ._common import fail


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

    from ..train.config import TrainConfig
    from ..train.trainer import Trainer

    try:
        cfg = TrainConfig.from_yaml(config)
        if steps is not None:
            cfg = dataclasses.replace(cfg, run=dataclasses.replace(cfg.run, steps=steps))
        trainer = Trainer(cfg, resume=resume, progress=not quiet, echo=lambda line: typer.echo(line, err=True))
        summary = trainer.fit(until_step=until)
        trainer.close()  # after a run that ended on every rank; an error exits and torchrun stops the others
    except (InputError, OSError) as exc:
        fail(exc)
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


def export_weights_command(
    checkpoint: Path = typer.Argument(..., help="A training checkpoint (RUN/best.pt or RUN/last.pt)."),
    out: Path = typer.Option(..., "-o", "--out", help="The safetensors file to write."),
    licence: str = typer.Option("MIT", help="Licence recorded in the metadata."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace OUT if it exists."),
) -> None:
    """Write a checkpoint's network as a safetensors weights file with its training metadata."""
    from ..train.trainer import export_weights

    try:
        if out.exists() and not overwrite:
            raise InputError(f"{out} already exists; pass --overwrite to replace it")
        export_weights(checkpoint, out, licence=licence)
    except (InputError, OSError) as exc:
        fail(exc)
    typer.echo(f"wrote {out}", err=True)
