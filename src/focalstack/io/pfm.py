"""Portable Float Map (PFM): the float image format of the 4D Light Field Benchmark and Middlebury.

Layout (http://netpbm.sourceforge.net/doc/pfm.html): a text header of three lines -- ``Pf``
(one channel) or ``PF`` (three channels); ``width height``; a non-zero scale whose sign gives the
byte order (negative = little endian) -- then float32 pixels, rows stored **bottom to top**.

The magnitude of the scale is applied to the pixels on reading, as the 4D Light Field
Benchmark's own ``file_io.read_pfm`` does (its files, like most, carry ``-1``, so this changes
nothing there).

Example:
    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "d.pfm")
    >>> write_pfm(path, np.arange(6, dtype=np.float32).reshape(2, 3))
    >>> read_pfm(path)[0].tolist()
    [0.0, 1.0, 2.0]
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import InputError

_CHANNELS = {b"Pf": 1, b"PF": 3}


def read_pfm(path: str | Path) -> np.ndarray:
    """Read a PFM file.

    Returns:
        H x W (``Pf``) or H x W x 3 (``PF``) float32, top row first, in the file's units
        (e.g. disparity in pixels for the 4D Light Field Benchmark).

    Raises:
        InputError: missing file, unknown identifier, bad header or truncated pixel data.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"cannot read {path}: no such file")
    with open(path, "rb") as fh:
        channels, width, height, scale = _read_header(fh, path)
        count = width * height * channels
        data = np.fromfile(fh, dtype="<f4" if scale < 0 else ">f4", count=count)
    if data.size != count:
        raise InputError(f"{path} is truncated: {data.size} of {count} values")
    shape = (height, width) if channels == 1 else (height, width, 3)
    image = np.flipud(data.reshape(shape)).astype(np.float32)
    return image * np.float32(abs(scale)) if abs(scale) != 1 else image


def write_pfm(path: str | Path, image: np.ndarray) -> None:
    """Write an H x W or H x W x 3 array as a little-endian PFM (scale -1), bottom row first."""
    image = np.asarray(image, dtype=np.float32)
    if not (image.ndim == 2 or (image.ndim == 3 and image.shape[2] == 3)):
        raise InputError(f"PFM holds H x W or H x W x 3 images, got shape {image.shape}")
    header = b"Pf" if image.ndim == 2 else b"PF"
    height, width = image.shape[:2]
    with open(path, "wb") as fh:
        fh.write(header + b"\n" + f"{width} {height}\n-1\n".encode("ascii"))
        fh.write(np.ascontiguousarray(np.flipud(image), dtype="<f4").tobytes())


def _read_header(fh, path: Path) -> tuple[int, int, int, float]:
    identifier = _next_line(fh)
    if identifier not in _CHANNELS:
        raise InputError(f"{path} is not a PFM file (identifier {identifier[:8]!r}, expected 'Pf' or 'PF')")
    try:
        width, height = (int(v) for v in _next_line(fh).split())
        scale = float(_next_line(fh))
    except ValueError:
        raise InputError(f"{path}: cannot parse the PFM header") from None
    if width <= 0 or height <= 0 or scale == 0:
        raise InputError(f"{path}: bad PFM header (size {width}x{height}, scale {scale})")
    return _CHANNELS[identifier], width, height, scale


def _next_line(fh) -> bytes:
    """The next header line, skipping comment lines (``#``) as the benchmark's reader does."""
    line = fh.readline().strip()
    while line.startswith(b"#"):
        line = fh.readline().strip()
    return line
