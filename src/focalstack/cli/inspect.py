"""``focalstack inspect``: what a stack folder holds and how it would be read, over :mod:`focalstack.io.inspection`."""

from __future__ import annotations

from pathlib import Path

import typer

from ..errors import InputError
from ..io.inspection import inspect_stack
from ._common import RawEncoding, fail


def inspect_command(
    stack_dir: Path = typer.Argument(..., metavar="STACK_DIR", help="Folder of slices, optionally with stack.json."),
    raw: RawEncoding = typer.Option("srgb", help="How camera RAW slices would be demosaiced: srgb (the sRGB tone "
                                    "curve) or linear (proportional to light)."),
) -> None:
    """Per slice: file, size, bit depth, and the focus distance, focal length, f-number and pixel pitch found in
    EXIF, maker notes or XMP (and where); then how the folder would be read (unit, order near to far, camera)
    and what is missing for metric depth. Decodes nothing."""
    try:
        report = inspect_stack(stack_dir, raw=raw.value)
    except InputError as exc:
        fail(exc)
    typer.echo(report.to_text(), nl=False)
