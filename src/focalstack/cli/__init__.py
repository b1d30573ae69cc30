"""The ``focalstack`` command line: thin commands over the library (argument parsing and output only).

Exit status: 0 on success, 2 on bad input (one line on stderr, no traceback), 130 when
interrupted. Results are written atomically: all files or none. One module per group of commands:
:mod:`.stacks` (depth, align, models), :mod:`.data` (simulate, simulate-mix), :mod:`.evaluate`
(eval), :mod:`.training` (train, train-align, export-weights), :mod:`.inspect` (inspect), :mod:`.view` (view);
:mod:`._common` holds what they share.
"""

from __future__ import annotations

import sys

import typer

from .. import __version__
from . import data, evaluate, inspect, stacks, training, view

app = typer.Typer(
    name="focalstack",
    help="Depth from focus: a depth map, an all-in-focus image and a confidence map from a focal stack.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
for command, name in ((stacks.depth, None), (stacks.align_command, "align"), (stacks.models, None),
                      (data.simulate, None), (data.simulate_mix, "simulate-mix"), (evaluate.evaluate_command, "eval"),
                      (training.train, None), (training.train_align, "train-align"),
                      (training.export_weights_command, "export-weights"),
                      (inspect.inspect_command, "inspect"), (view.view_command, "view")):
    app.command(name)(command)

__all__ = ["app", "main"]


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


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``focalstack`` console script; returns the exit status."""
    try:
        app(args=argv, prog_name="focalstack", standalone_mode=True)
    except SystemExit as exc:  # typer exits 130 on Ctrl-C
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
