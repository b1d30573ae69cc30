"""Focus distance, focal length, f-number and pixel pitch from EXIF and maker notes.

Uses exifread, which parses EXIF without decoding pixels and reads the TIFF-based RAW formats
(CR2, NEF, ARW, DNG) as well as JPEG, TIFF, PNG and WebP, and decodes the maker notes of the main
camera makers. Every value found carries where it came from (``ExifInfo.sources``).

Focus distance, first found wins:

1. ``EXIF SubjectDistance`` (metres; 0 means unknown, 0xFFFFFFFF infinity);
2. maker notes, as exifread decodes them (tag numbers and units as in ExifTool's tables): Canon
   ``FocusDistanceUpper`` / ``FocusDistanceLower`` (ShotInfo items 19 and 20, centimetres, 65535 is
   infinity; the middle of the two in diopters), Nikon ``ManualFocusDistance`` (0x0085, metres),
   Apple ``FocusDistanceRange`` (0x000C, two distances in metres; their middle in diopters), Casio
   ``ObjectDistance`` (0x0006, millimetres).

``SubjectDistanceRange`` (macro / close / distant) is not a distance and is not used. Sony's and
Nikon's lens-data focus distances are enciphered in the maker notes and not read, nor is Olympus'
FocusInfo block (exifread leaves it undecoded). XMP (:mod:`.xmp`) covers what capture and
raw-conversion software write.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

import exifread

# exifread logs at WARNING for every file without EXIF (any PNG); that is not a problem here.
logging.getLogger("exifread").setLevel(logging.ERROR)

FOCAL_PLANE_UNIT_UM = {2: 25400.0, 3: 10000.0, 4: 1000.0, 5: 1.0}
"""Micrometres per EXIF FocalPlaneResolutionUnit (2 inch, the default; 3 cm; 4 mm; 5 um)."""

_PLAUSIBLE_PITCH_UM = (0.2, 100.0)  # a focal-plane resolution outside this is a placeholder, not a sensor
_INFINITY = 4e9  # EXIF writes 0xFFFFFFFF (/1) for infinity
_CANON_INFINITY_CM = 65535


@dataclass(frozen=True)
class ExifInfo:
    """What a file's metadata says about one shot; ``None`` where absent or meaningless.

    Attributes:
        focus_distance_m: focus distance in metres (``inf`` when the camera wrote infinity).
        focal_length_mm: the lens's real focal length in millimetres.
        f_number: aperture (f-number N).
        focal_length_35mm: 35 mm-equivalent focal length in millimetres.
        pixel_pitch_um: pixel pitch in micrometres from the focal-plane resolution.
        sources: for each field found, where it came from (``"EXIF SubjectDistance"``,
            ``"MakerNote Canon FocusDistanceUpper/Lower"``, ``"XMP aux:ApproximateFocusDistance"``, ...).
    """

    focus_distance_m: float | None = None
    focal_length_mm: float | None = None
    f_number: float | None = None
    focal_length_35mm: float | None = None
    pixel_pitch_um: float | None = None
    sources: Mapping[str, str] = field(default_factory=dict)

    def merged(self, other: ExifInfo) -> ExifInfo:
        """These values, with the ones they lack (and their sources) taken from ``other``.

        Example:
            >>> a = ExifInfo(f_number=2.8, sources={"f_number": "EXIF FNumber"})
            >>> b = ExifInfo(f_number=4.0, focal_length_mm=50.0, sources={"f_number": "XMP exif:FNumber",
            ...                                                          "focal_length_mm": "XMP exif:FocalLength"})
            >>> a.merged(b).f_number, a.merged(b).sources["focal_length_mm"]
            (2.8, 'XMP exif:FocalLength')
        """
        taken = {f.name: getattr(other, f.name) for f in fields(self)
                 if f.name != "sources" and getattr(self, f.name) is None and getattr(other, f.name) is not None}
        sources = {**{k: other.sources[k] for k in taken if k in other.sources}, **self.sources}
        return replace(self, **taken, sources=sources)


def read_exif(path: str | Path) -> ExifInfo:
    """Read focus-related EXIF and maker-note tags from an image file; missing tags give ``None``.

    A file without EXIF, or one exifread cannot parse, gives an all-``None`` result:
    EXIF is optional metadata, never a reason to refuse an image.
    """
    try:
        with open(path, "rb") as fh:
            tags = exifread.process_file(fh, details=True, extract_thumbnail=False)
    except Exception:  # noqa: BLE001 - broken EXIF must not stop us reading the pixels
        return ExifInfo()
    return exif_info(tags)


def exif_info(tags: Mapping[str, object]) -> ExifInfo:
    """The values of exifread's tag dictionary (keys ``"EXIF FNumber"``, ``"MakerNote ..."``).

    Standard tags are looked up in the EXIF IFD, then in IFD0 (``"Image ..."``, where TIFF/EP files
    such as DNG may keep them); maker notes fill in the focus distance.
    """
    def value(name: str) -> float | None:
        number = _number(tags.get(f"EXIF {name}"))
        return number if number is not None else _number(tags.get(f"Image {name}"))

    values = {name: value(name) for name in STANDARD_TAGS}
    return standard_info(values, label="EXIF {}").merged(_maker_note_focus(tags))


STANDARD_TAGS = ("SubjectDistance", "FocalLength", "FNumber", "ApertureValue", "FocalLengthIn35mmFilm",
                 "FocalPlaneXResolution", "FocalPlaneResolutionUnit")
"""The standard EXIF tags read, by their EXIF names (the same names in XMP's ``exif:`` namespace)."""


def standard_info(values: Mapping[str, float | None], *, label: str) -> ExifInfo:
    """An :class:`ExifInfo` from the standard tags' numbers (``STANDARD_TAGS``; absent ones ``None``);
    ``label`` turns a tag name into its source (``"EXIF {}"``, ``"XMP exif:{}"``)."""
    found, sources = {}, {}

    def take(name: str, number: float | None, tag: str) -> None:
        if number is not None and name not in found:
            found[name], sources[name] = number, label.format(tag)

    take("focus_distance_m", _distance(values.get("SubjectDistance")), "SubjectDistance")
    take("focal_length_mm", _positive(values.get("FocalLength")), "FocalLength")
    take("f_number", _positive(values.get("FNumber")), "FNumber")
    take("f_number", _apex_f_number(values.get("ApertureValue")), "ApertureValue")
    take("focal_length_35mm", _positive(values.get("FocalLengthIn35mmFilm")), "FocalLengthIn35mmFilm")
    take("pixel_pitch_um", _focal_plane_pitch(values.get("FocalPlaneXResolution"),
                                              values.get("FocalPlaneResolutionUnit")),
         "FocalPlaneXResolution")
    return ExifInfo(**found, sources=sources)


def _maker_note_focus(tags: Mapping[str, object]) -> ExifInfo:
    for read in _MAKER_NOTE_READERS:
        found = read(tags)
        if found is not None:
            return ExifInfo(focus_distance_m=found[0], sources={"focus_distance_m": f"MakerNote {found[1]}"})
    return ExifInfo()


def _canon(tags) -> tuple[float, str] | None:
    # ShotInfo item 19, which exifread names SubjectDistance, is ExifTool's FocusDistanceUpper
    upper, lower = _canon_m(tags.get("MakerNote SubjectDistance")), _canon_m(tags.get("MakerNote FocusDistanceLower"))
    if upper is None:
        return None
    if lower is None or math.isinf(upper) or math.isinf(lower):
        return upper, "Canon FocusDistanceUpper"
    return _middle_m(upper, lower), "Canon FocusDistanceUpper/Lower"


def _canon_m(tag) -> float | None:
    centimetres = _number(tag)
    if not centimetres:
        return None  # 0: unknown
    centimetres %= 65536  # an int16s reading of the int16u value
    return math.inf if centimetres >= _CANON_INFINITY_CM else centimetres / 100


def _nikon(tags) -> tuple[float, str] | None:
    distance = _distance(_number(tags.get("MakerNote ManualFocusDistance")))
    return (distance, "Nikon ManualFocusDistance") if distance is not None else None


def _apple(tags) -> tuple[float, str] | None:
    if str(tags.get("Image Make", "")).strip() != "Apple":
        return None
    near_far = [_distance(v) for v in _numbers(tags.get("MakerNote Tag 0x000C"))[:2]]
    if len(near_far) < 2 or None in near_far:
        return None
    return _middle_m(*near_far), "Apple FocusDistanceRange"


def _casio(tags) -> tuple[float, str] | None:
    distance = _distance(_number(tags.get("MakerNote Object Distance")))
    return (distance / 1000, "Casio ObjectDistance") if distance is not None else None


_MAKER_NOTE_READERS: tuple[Callable[[Mapping], tuple[float, str] | None], ...] = (_canon, _nikon, _apple, _casio)


def _teach_exifread_canon_focus_distance() -> None:
    """exifread decodes Canon's ShotInfo maker-note block (tag 0x0004) item by item; it names item 19
    (FocusDistanceUpper in ExifTool's table) SubjectDistance, has no name for item 20, FocusDistanceLower,
    and drops unnamed items. Naming it makes it reach the tag dictionary as ``MakerNote FocusDistanceLower``."""
    try:
        from exifread.tags.makernote import canon

        canon.OFFSET_TAGS[0x0004].setdefault(20, ("FocusDistanceLower", None))
    except (ImportError, AttributeError, KeyError, TypeError):  # another exifread layout: go without it
        pass


_teach_exifread_canon_focus_distance()


def _middle_m(a_m: float, b_m: float) -> float:
    """The middle of two focus distances in diopters (where blur is linear), in metres."""
    return 2.0 / (1.0 / a_m + 1.0 / b_m)


def _distance(metres: float | None) -> float | None:
    if metres is None or metres <= 0:
        return None  # 0 means unknown
    return math.inf if metres > _INFINITY else metres


def _apex_f_number(aperture_value: float | None) -> float | None:
    if aperture_value is None or not -2 < aperture_value < 30:
        return None
    return round(2.0 ** (aperture_value / 2.0), 2)


def _focal_plane_pitch(resolution: float | None, unit: float | None) -> float | None:
    unit_um = FOCAL_PLANE_UNIT_UM.get(int(unit) if unit is not None else 2)
    if not resolution or resolution <= 0 or unit_um is None:
        return None
    pitch = unit_um / resolution
    return pitch if _PLAUSIBLE_PITCH_UM[0] <= pitch <= _PLAUSIBLE_PITCH_UM[1] else None


def _numbers(tag) -> list[float]:
    """All numbers of an exifread tag (its ``values``: a list, or one number for decoded maker notes)."""
    values = getattr(tag, "values", None)
    if values is None or isinstance(values, (str, bytes)):
        return []
    out = []
    for value in values if isinstance(values, (list, tuple)) else [values]:
        try:
            number = float(value.num) / float(value.den) if hasattr(value, "den") else float(value)
        except (ZeroDivisionError, TypeError, ValueError):
            return out
        out.append(number)
    return [n for n in out if not math.isnan(n)]


def _number(tag) -> float | None:
    numbers = _numbers(tag)
    return numbers[0] if numbers else None


def _positive(number: float | None) -> float | None:
    return number if number is not None and 0 < number < math.inf else None
