"""Reading and writing single images: 8/16-bit and float, grey or RGB, headers without decoding.

Inside the library every image is float32 in [0, 1], H x W (grey) or H x W x 3 (RGB).
Decoding goes through OpenCV (fast), float TIFFs through tifffile, camera RAW through rawpy
(:mod:`.raw`, optional), headers through Pillow so that sizes can be checked before anything is
decoded. The EXIF orientation (JPEG, PNG, WebP and TIFF) is read once, by :func:`image_orientation`,
and applied here to every format alike, so that a header's size and the decoded picture agree.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import cv2
import numpy as np
from PIL import Image

from ..errors import InputError
from ..pixels import to_float_image
from .raw import RAW_SUFFIXES, is_raw, raw_size, read_raw

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp", *RAW_SUFFIXES)
_TIFF_SUFFIXES = (".tif", ".tiff")
_GREY_MODES = ("1", "L", "I", "F", "I;16", "I;16L", "I;16B", "I;16N")
_EXIF_ORIENTATION = 0x0112
_TURNED = (5, 6, 7, 8)  # EXIF orientations that turn the picture by 90 degrees


class ImageHeader(NamedTuple):
    """Size and pixel type of an image file, read without decoding it."""

    height: int
    width: int
    channels: int  # 1 (grey) or 3 (colour)
    bit_depth: int  # 8, 16, or 32 for float


def image_header(path: str | Path) -> ImageHeader:
    """Read an image file's header (size, channels, bit depth) without decoding its pixels.

    The size is that of the decoded picture: the EXIF orientation applied (:func:`image_orientation`),
    camera RAW as LibRaw turns it.

    Raises:
        InputError: the file is missing or not an image we can identify.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"cannot read image {path}: no such file")
    if is_raw(path):
        return ImageHeader(*raw_size(path), 3, 16)  # demosaiced to 16-bit RGB
    found = _tiff_header(path) if path.suffix.lower() in _TIFF_SUFFIXES else None
    if found is None:
        with _open_pillow(path) as im:
            channels = 1 if im.mode in _GREY_MODES else 3  # palette and grey+alpha decode as colour
            bit_depth = _png_bit_depth(path) if im.format == "PNG" else 16 if im.mode.startswith("I;16") else 8
            found = ImageHeader(im.size[1], im.size[0], channels, bit_depth), _pillow_orientation(im)
    header, orientation = found
    return header._replace(height=header.width, width=header.height) if orientation in _TURNED else header


def image_orientation(path: str | Path) -> int:
    """The EXIF orientation of an image file: 1 (upright; also when absent), 2-4 (flipped or turned by
    180 degrees) or 5-8 (turned by 90 degrees: width and height swap); :func:`orient` applies it.

    Read from the header only (JPEG APP1, PNG eXIf, WebP EXIF, TIFF IFD0). Camera RAW files give 1:
    LibRaw turns them itself.
    """
    path = Path(path)
    if is_raw(path):
        return 1
    found = _tiff_header(path) if path.suffix.lower() in _TIFF_SUFFIXES else None
    if found is not None:
        return found[1]
    try:
        with _open_pillow(path) as im:
            return _pillow_orientation(im)
    except InputError:
        return 1


def _pillow_orientation(im: Image.Image) -> int:
    if im.format != "TIFF" and "exif" not in im.info:  # (PNG's getexif() would decode the pixels to look)
        return 1
    value = im.getexif().get(_EXIF_ORIENTATION, 1)
    return value if value in range(1, 9) else 1


def _open_pillow(path: Path) -> Image.Image:
    limit, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None  # our own size limit decides, not Pillow's
    try:
        return Image.open(path)
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read image {path}: {_reason(exc)}") from None
    finally:
        Image.MAX_IMAGE_PIXELS = limit


def _png_bit_depth(path: Path) -> int:
    with open(path, "rb") as fh:
        head = fh.read(25)
    return 16 if len(head) == 25 and head[24] == 16 else 8


def _tiff_header(path: Path) -> tuple[ImageHeader, int] | None:
    """The header and EXIF orientation of a TIFF through tifffile; None to let Pillow try."""
    import tifffile

    try:
        with tifffile.TiffFile(path) as tif:
            page = tif.pages[0]
            shape, dtype = page.shape, page.dtype
            tag = page.tags.get(_EXIF_ORIENTATION)
            orientation = int(tag.value) if tag is not None else 1
    except Exception:  # noqa: BLE001 - not a TIFF tifffile understands; let Pillow try
        return None
    if len(shape) == 3 and shape[0] in (3, 4) and shape[2] not in (1, 3, 4):
        shape = (shape[1], shape[2], shape[0])  # planar storage
    channels = 1 if len(shape) == 2 or shape[2] in (1, 2) else 3
    bit_depth = 32 if np.dtype(dtype).kind == "f" else 8 * np.dtype(dtype).itemsize
    return ImageHeader(shape[0], shape[1], channels, bit_depth), orientation if orientation in range(1, 9) else 1


def read_image(path: str | Path, *, raw: str = "srgb") -> np.ndarray:
    """Decode an image file to float32 in [0, 1] (H x W grey or H x W x 3 RGB).

    8-bit and 16-bit PNG/JPEG/TIFF/BMP/WebP, float TIFF and (with the ``raw`` extra) camera RAW
    are supported; the EXIF orientation is applied; an alpha channel is dropped.

    Args:
        raw: how camera RAW files are encoded, ``"srgb"`` or ``"linear"`` (:mod:`.raw`); other
            formats are returned as stored.

    Raises:
        InputError: the file is missing, unreadable, or has unsupported pixels.
    """
    return to_float_image(read_image_native(path, raw=raw), name=f"image {path}")


def read_image_native(path: str | Path, *, raw: str = "srgb") -> np.ndarray:
    """Decode an image file in its own pixel type (uint8, uint16 or float), RGB channel order, EXIF
    orientation applied; camera RAW files as 16-bit RGB in the ``raw`` encoding."""
    path = Path(path)
    if is_raw(path):
        return read_raw(path, encoding=raw)
    image = _decode(path)
    if image.ndim == 3 and image.shape[2] in (3, 4):
        code = cv2.COLOR_BGRA2RGB if image.shape[2] == 4 else cv2.COLOR_BGR2RGB
        image = cv2.cvtColor(image, code)
    elif image.ndim != 2 and not (image.ndim == 3 and image.shape[2] == 1):
        raise InputError(f"cannot read image {path}: unsupported layout {image.shape}")
    return np.ascontiguousarray(orient(image, image_orientation(path)))


def orient(image: np.ndarray, orientation: int) -> np.ndarray:
    """Turn or flip an H x W [x C] image as its EXIF ``orientation`` (1-8) says, to display upright.

    Example:
        >>> orient(np.array([[1, 2], [3, 4]]), 6)  # stored turned left: turn right by 90 degrees
        array([[3, 1],
               [4, 2]])
    """
    if orientation in (2, 4):
        return image[:, ::-1] if orientation == 2 else image[::-1]
    if orientation in (5, 7):  # transpose (about the main diagonal) or transverse (about the other one)
        image = image.swapaxes(0, 1)
        return image if orientation == 5 else image[::-1, ::-1]
    turns = {3: 2, 6: -1, 8: 1}.get(orientation, 0)  # counter-clockwise quarter turns
    return np.rot90(image, turns) if turns else image


def _decode(path: Path) -> np.ndarray:
    if not path.is_file():
        raise InputError(f"cannot read image {path}: no such file")
    if path.suffix.lower() in _TIFF_SUFFIXES:
        image = _decode_tiff(path)
        if image is not None:
            return image
    data = np.fromfile(path, dtype=np.uint8)
    flags = cv2.IMREAD_ANYDEPTH | cv2.IMREAD_ANYCOLOR | cv2.IMREAD_IGNORE_ORIENTATION  # orient() applies it
    image = cv2.imdecode(data, flags) if data.size else None
    if image is None:
        raise InputError(f"cannot read image {path}: not a supported image or the file is damaged")
    return image


def _decode_tiff(path: Path) -> np.ndarray | None:
    """Float or unusual TIFFs through tifffile, returned in OpenCV's BGR order; None to fall back."""
    import tifffile

    try:
        image = tifffile.imread(path)
    except Exception:  # noqa: BLE001 - let OpenCV try and report
        return None
    if image.ndim == 3 and image.shape[0] in (3, 4) and image.shape[2] not in (1, 3, 4):
        image = np.moveaxis(image, 0, -1)  # planar storage
    if image.ndim == 3 and image.shape[2] >= 3:
        image = np.ascontiguousarray(image[..., [2, 1, 0] + list(range(3, image.shape[2]))])
    return image


def write_image(path: str | Path, image: np.ndarray, *, bit_depth: int = 8) -> None:
    """Write a float image in [0, 1] (H x W or H x W x 3, RGB) as an 8- or 16-bit file."""
    if bit_depth not in (8, 16):
        raise ValueError(f"bit_depth must be 8 or 16, got {bit_depth}")
    scale, dtype = (255.0, np.uint8) if bit_depth == 8 else (65535.0, np.uint16)
    pixels = np.clip(np.asarray(image, dtype=np.float32), 0, 1) * scale + 0.5
    pixels = pixels.astype(dtype)
    if pixels.ndim == 3:
        pixels = cv2.cvtColor(pixels, cv2.COLOR_RGB2BGR)
    ok, encoded = cv2.imencode(Path(path).suffix or ".png", pixels)
    if not ok:
        raise OSError(f"could not encode {path}")
    encoded.tofile(path)


def _reason(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.split("\n")[0]
