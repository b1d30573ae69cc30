"""Focus distance, focal length and f-number from EXIF (JPEG, TIFF and TIFF-based RAW).

Uses exifread, which parses EXIF without decoding pixels and reads the TIFF-based RAW
formats (CR2, NEF, ARW, DNG) as well as JPEG and TIFF.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path

import exifread

# exifread logs at WARNING for every file without EXIF (any PNG); that is not a problem here.
logging.getLogger("exifread").setLevel(logging.ERROR)


@dataclass(frozen=True)
class ExifInfo:
    """What EXIF says about one shot; ``None`` where a tag is absent or meaningless.

    Attributes:
        focus_distance_m: EXIF SubjectDistance in metres (``inf`` when the camera wrote infinity).
        focal_length_mm: EXIF FocalLength in millimetres.
        f_number: EXIF FNumber.
        focal_length_35mm: EXIF FocalLengthIn35mmFilm in millimetres.
    """

    focus_distance_m: float | None = None
    focal_length_mm: float | None = None
    f_number: float | None = None
    focal_length_35mm: float | None = None


def read_exif(path: str | Path) -> ExifInfo:
    """Read focus-related EXIF tags from an image file; missing tags give ``None``.

    A file without EXIF, or one exifread cannot parse, gives an all-``None`` result:
    EXIF is optional metadata, never a reason to refuse an image.
    """
    try:
        with open(path, "rb") as fh:
            tags = exifread.process_file(fh, details=False, extract_thumbnail=False)
    except Exception:  # noqa: BLE001 - broken EXIF must not stop us reading the pixels
        return ExifInfo()
    distance = _number(tags.get("EXIF SubjectDistance"))
    if distance is not None and distance > 4e9:  # 0xFFFFFFFF means infinity
        distance = math.inf
    return ExifInfo(
        focus_distance_m=distance if distance and distance > 0 else None,
        focal_length_mm=_positive(tags.get("EXIF FocalLength")),
        f_number=_positive(tags.get("EXIF FNumber")),
        focal_length_35mm=_positive(tags.get("EXIF FocalLengthIn35mmFilm")),
    )


def _number(tag) -> float | None:
    if tag is None or not getattr(tag, "values", None):
        return None
    value = tag.values[0]
    try:
        number = float(value.num) / float(value.den) if hasattr(value, "den") else float(value)
    except (ZeroDivisionError, TypeError, ValueError):
        return None
    return number if not math.isnan(number) else None


def _positive(tag) -> float | None:
    number = _number(tag)
    return number if number is not None and 0 < number < math.inf else None
