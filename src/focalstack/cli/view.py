"""``focalstack view``: serve the viewer of one or two result folders on 127.0.0.1, over :mod:`focalstack.viewer`."""

from __future__ import annotations

from pathlib import Path

import typer

from ..errors import InputError
from ._common import fail


def view_command(
    result_dir: Path = typer.Argument(..., metavar="OUT", help="A result folder written by focalstack depth -o."),
    other: Path = typer.Argument(None, metavar="[OTHER_OUT]", help="A second result folder of the same stack, "
                                 "to compare (a selector on the page switches between them)."),
    port: int = typer.Option(0, "--port", min=0, max=65535, help="Port on 127.0.0.1 [default: a free port]."),
    no_browser: bool = typer.Option(False, "--no-browser", help="Print the address without opening a browser."),
) -> None:
    """Look at a depth result in the browser: all-in-focus image, depth with its colour bar, confidence (with a
    threshold), the input slices and a 3D view. Served from 127.0.0.1 only; Ctrl-C stops it."""
    from ..viewer import serve
    from ..viewer.result import different_stacks

    folders = [result_dir, *([other] if other is not None else [])]

    def announce(server) -> None:
        note = different_stacks([assets.result for assets in server.assets])
        if note:
            typer.echo(f"warning: {note}", err=True)
        typer.echo(f"serving {', '.join(str(f) for f in folders)} at {server.url} (Ctrl-C stops)")

    try:
        serve(folders, port=port, open_browser=not no_browser, announce=announce)
    except (InputError, OSError) as exc:
        fail(exc)
    typer.echo("stopped", err=True)
