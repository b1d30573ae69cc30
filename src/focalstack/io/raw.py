"""Camera RAW files through rawpy (LibRaw), an optional extra: ``pip install focalstack[raw]``.

A RAW slice is demosaiced by LibRaw (AHD) to 16-bit RGB with the camera's as-shot white balance,
the sRGB primaries and the orientation the camera recorded. Every slice of a stack is processed
with the same fixed settings (no automatic brightening, no per-image rescaling of the white level),
so that a pixel's value changes between slices only because its focus does.

Two encodings (``encoding=``):

- ``"srgb"`` (the default): the sRGB tone curve, as the camera's own JPEGs, other slice formats and
  the networks' training images are; the all-in-focus image looks right when written.
- ``"linear"``: values proportional to the light (black level 0, the sensor's white level 1), in
  which defocus blur is a plain convolution; for physically exact re-rendering or your own analysis.
  The picture looks dark when displayed as it is.

Where a focus measure peaks hardly depends on the choice: a tone curve is the same at a pixel in
every slice, so it scales that pixel's focus curve but does not move its peak.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import InputError

RAW_SUFFIXES = (
    ".3fr", ".ari", ".arw", ".cr2", ".cr3", ".crw", ".dcr", ".dng", ".erf", ".fff", ".iiq", ".k25", ".kdc",
    ".mef", ".mos", ".mrw", ".nef", ".nrw", ".orf", ".pef", ".raf", ".rw2", ".rwl", ".sr2", ".srf",
    ".srw", ".x3f",
)
"""File name endings read as camera RAW (formats LibRaw reads; ``.raw`` is left out, as it names other
data too)."""

ENCODINGS = ("srgb", "linear")
"""How RAW pixels are encoded after demosaicing: the sRGB tone curve, or proportional to light."""

_GAMMA = {"srgb": (2.4, 12.92), "linear": (1.0, 1.0)}  # LibRaw's (power, toe slope): sRGB's curve, or none
_TURNED = (5, 6)  # LibRaw's flip codes that turn the picture by 90 degrees


def is_raw(path: str | Path) -> bool:
    """Whether a file name ends like a camera RAW file (``.dng``, ``.cr2``, ``.nef``, ...)."""
    return Path(path).suffix.lower() in RAW_SUFFIXES


def rawpy_available() -> bool:
    """Whether the optional ``raw`` extra (rawpy) is installed."""
    try:
        _rawpy()
    except InputError:
        return False
    return True


def raw_size(path: str | Path) -> tuple[int, int]:
    """Height and width of a RAW file's picture as :func:`read_raw` returns it (orientation applied),
    from LibRaw's header, without demosaicing.

    Raises:
        InputError: rawpy is not installed, or LibRaw cannot read the file.
    """
    with _open(Path(path)) as raw:
        sizes = raw.sizes
    height, width = int(sizes.height), int(sizes.width)
    return (width, height) if sizes.flip in _TURNED else (height, width)


def read_raw(path: str | Path, *, encoding: str = "srgb") -> np.ndarray:
    """Demosaic a camera RAW file to an H x W x 3 uint16 RGB array (sRGB primaries).

    Args:
        path: a RAW file LibRaw reads (:data:`RAW_SUFFIXES`).
        encoding: ``"srgb"`` (the sRGB tone curve) or ``"linear"`` (proportional to light:
            black level 0, white level 65535).

    Raises:
        InputError: rawpy is not installed, the encoding is unknown, or LibRaw cannot read the file.

    Example:
        >>> rgb = read_raw("IMG_0001.CR2", encoding="linear")  # doctest: +SKIP
        >>> rgb.dtype, rgb.shape[2]  # doctest: +SKIP
        (dtype('uint16'), 3)
    """
    if encoding not in ENCODINGS:
        raise InputError(f"RAW encoding must be one of {', '.join(ENCODINGS)}, got {encoding!r}")
    path = Path(path)
    with _open(path) as raw:
        try:
            return raw.postprocess(gamma=_GAMMA[encoding], output_bps=16, use_camera_wb=True,
                                   no_auto_bright=True, adjust_maximum_thr=0.0)
        except _rawpy(path).LibRawError as exc:
            raise InputError(f"cannot read RAW file {path}: {_reason(exc)}") from None


def _open(path: Path):
    rawpy = _rawpy(path)
    if not path.is_file():
        raise InputError(f"cannot read image {path}: no such file")
    try:
        return rawpy.imread(str(path))
    except (rawpy.LibRawError, OSError) as exc:
        raise InputError(f"cannot read RAW file {path}: {_reason(exc)}") from None


def _rawpy(path: Path | None = None):
    try:
        import rawpy
    except ImportError:
        what = f"{path.name} is a camera RAW file; reading it" if path is not None else "reading camera RAW files"
        raise InputError(f"{what} needs rawpy: pip install focalstack[raw]") from None
    return rawpy


def _reason(exc: BaseException) -> str:
    text = exc.args[0] if exc.args else str(exc)
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return str(text).strip() or type(exc).__name__
