"""Atomic output folders: everything appears at once, or nothing does.

Results are written into a temporary sibling folder and renamed into place, so an error,
Ctrl-C or crash halfway never leaves a partial result, and an existing folder is only
replaced when the caller asks for it.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..errors import InputError


def check_output_dir(path: str | Path, *, overwrite: bool = False) -> Path:
    """Raise :class:`InputError` if ``path`` may not be written; return it as a Path."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise InputError(f"{path} exists and is not a folder")
    if path.exists() and not overwrite:
        raise InputError(f"{path} already exists; pass --overwrite to replace it")
    blocking = next((p for p in path.parents if p.exists()), None)
    if blocking is not None and not blocking.is_dir():
        raise InputError(f"cannot create {path}: {blocking} is a file")
    return path


@contextmanager
def atomic_directory(path: str | Path, *, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary folder that replaces ``path`` when the block succeeds.

    Missing parent folders are created (like ``mkdir -p``).

    Example:
        >>> with atomic_directory(tmp_path / "out") as tmp:    # doctest: +SKIP
        ...     (tmp / "depth.npy").write_bytes(b"...")
    """
    path = check_output_dir(path, overwrite=overwrite)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.tmp-", dir=path.parent))
    try:
        yield tmp
        if path.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{path.name}.old-", dir=path.parent))
            path.rename(old / path.name)
            tmp.rename(path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            tmp.rename(path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


@contextmanager
def atomic_file(path: str | Path) -> Iterator[Path]:
    """Yield a temporary file path beside ``path`` that replaces ``path`` when the block succeeds.

    The rename is atomic on one file system, so readers (and a run killed mid-write) see either
    the old file or the complete new one, never a truncated file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.tmp-", dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
