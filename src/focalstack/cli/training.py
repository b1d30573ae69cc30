"""``focalstack train``, ``train-align`` and ``export-weights``."""

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


def train_align(
    data: list[Path] = typer.Argument(..., metavar="DATA_DIR...", help="Folders of stacks (each with a stack.json; "
                                      "simulated datasets, a mix or one's own stacks); no ground truth is read."),
    out: Path = typer.Option(..., "-o", "--out", help="Run folder: last.pt, metrics.jsonl, alignnet.safetensors."),
    val: list[Path] = typer.Option([], "--val", help="Validation stacks (scored by the warp error when they carry the "
                                   "simulator's exact warps, else by the loss). Default: every 10th training stack."),
    steps: int = typer.Option(3000, help="Training steps."),
    batch: int = typer.Option(8, help="Pairs of slices per step."),
    seed: int = typer.Option(0, help="Seed of the batches and the initial weights."),
    head: str = typer.Option("lsq", help="How each decoder level pools its features into the three coefficients: "
                             "lsq (a weighted least-squares fit of the basis flows) or pool (average pooling and a "
                             "linear layer)."),
    resume: bool = typer.Option(False, "--resume", help="Continue from OUT/last.pt."),
) -> None:
    """Train the learned 3-basis alignment network (--align learned) without ground truth (docs/alignment.md)."""
    from ..train.align import AlignTrainConfig, split_folders, stack_folders, train_alignment_net

    try:
        folders = stack_folders(data)
        train_set, val_set = (folders, stack_folders(val)) if val else split_folders(folders)
        path = train_alignment_net(train_set, out, val=val_set,
                                   config=AlignTrainConfig(steps=steps, batch=batch, seed=seed, head=head),
                                   resume=resume, log=lambda line: typer.echo(line, err=True))
    except (InputError, OSError) as exc:
        fail(exc)
    typer.echo(f"weights: {path}", err=True)
