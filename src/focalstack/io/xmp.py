"""Focus distance and camera values from XMP: the packet inside the file and a sidecar beside it.

Capture and raw-conversion software (Adobe Lightroom and Camera Raw, their DNG converter, darktable,
capture apps) write XMP; it is where a focus distance that the camera kept in an enciphered maker
note ends up (``aux:ApproximateFocusDistance``). Read:

- ``exif:SubjectDistance``, then ``aux:ApproximateFocusDistance`` (metres; 4294967295 is infinity);
- ``exif:FocalLength``, ``exif:FNumber`` (or ``exif:ApertureValue``), ``exif:FocalLengthIn35mmFilm``,
  ``exif:FocalPlaneXResolution`` with ``exif:FocalPlaneResolutionUnit``.

The packet is found without decoding pixels: Pillow's header reading for JPEG (APP1), PNG (iTXt) and
WebP, tifffile's tag 700 for TIFF and the TIFF-based RAW formats (DNG, CR2, NEF, ARW, ...). A sidecar
is ``NAME.xmp`` or ``NAME.EXT.xmp`` beside the image (any case of ``.xmp``).
"""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from collections.abc import Mapping
from pathlib import Path

from PIL import Image

from .exif import STANDARD_TAGS, ExifInfo, standard_info

EXIF_NS = "http://ns.adobe.com/exif/1.0/"
AUX_NS = "http://ns.adobe.com/exif/1.0/aux/"
_MAX_SIDECAR_BYTES = 4 << 20


def read_xmp(path: str | Path) -> ExifInfo:
    """Focus distance and camera values from the XMP inside an image file, then its sidecar.

    Missing or unreadable XMP gives an all-``None`` result (XMP is optional metadata).
    """
    path = Path(path)
    info = xmp_info(parse_xmp(embedded_xmp(path)), label="XMP")
    sidecar = sidecar_path(path)
    if sidecar is not None:
        try:
            packet = sidecar.read_bytes()[:_MAX_SIDECAR_BYTES]
        except OSError:
            packet = None
        info = info.merged(xmp_info(parse_xmp(packet), label="XMP sidecar"))
    return info


def xmp_info(properties: Mapping[tuple[str, str], str], *, label: str = "XMP") -> ExifInfo:
    """An :class:`~.exif.ExifInfo` from parsed XMP properties (``{(namespace, name): text}``).

    Example:
        >>> xmp_info({(AUX_NS, "ApproximateFocusDistance"): "37/100"}).focus_distance_m
        0.37
    """
    values = {name: _rational(properties.get((EXIF_NS, name))) for name in STANDARD_TAGS}
    info = standard_info(values, label=f"{label} exif:{{}}")
    approximate = standard_info({"SubjectDistance": _rational(properties.get((AUX_NS, "ApproximateFocusDistance")))},
                                label=f"{label} aux:ApproximateFocusDistance")
    return info.merged(approximate)


def parse_xmp(packet: bytes | str | None) -> dict[tuple[str, str], str]:
    """The simple properties of an XMP packet, ``{(namespace URI, local name): text}``: attributes of
    ``rdf:Description`` and its childless child elements. Unparsable packets give ``{}``.

    Example:
        >>> packet = ('<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/'
        ...           '22-rdf-syntax-ns#"><rdf:Description xmlns:exif="http://ns.adobe.com/exif/1.0/" '
        ...           'exif:FNumber="28/10"/></rdf:RDF></x:xmpmeta>')
        >>> parse_xmp(packet)
        {('http://ns.adobe.com/exif/1.0/', 'FNumber'): '28/10'}
    """
    if not packet:
        return {}
    if isinstance(packet, str):
        packet = packet.encode("utf-8")
    try:
        root = ElementTree.fromstring(packet.strip(b"\x00 \t\r\n"))
    except ElementTree.ParseError:
        return {}
    found: dict[tuple[str, str], str] = {}
    for description in root.iter("{http://www.w3.org/1999/02/22-rdf-syntax-ns#}Description"):
        for name, text in description.attrib.items():
            found.setdefault(_split(name), text)
        for child in description:
            if len(child) == 0 and child.text and child.text.strip():
                found.setdefault(_split(child.tag), child.text.strip())
    return found


def embedded_xmp(path: Path) -> bytes | None:
    """The XMP packet inside an image file, read from its header; ``None`` when there is none."""
    packet = _tiff_xmp(path)
    if packet is not None:
        return packet
    try:
        with Image.open(path) as im:
            packet = im.info.get("xmp") or im.info.get("XML:com.adobe.xmp")
    except Exception:  # noqa: BLE001 - not an image Pillow identifies (most RAW formats)
        return None
    return packet.encode("utf-8") if isinstance(packet, str) else packet


def sidecar_path(path: Path) -> Path | None:
    """``NAME.xmp`` or ``NAME.EXT.xmp`` beside ``path`` (any case of the ending), if there is one."""
    for stem in (path.stem, path.name):
        for ending in (".xmp", ".XMP", ".Xmp"):
            candidate = path.with_name(stem + ending)
            if candidate.is_file():
                return candidate
    return None


def _tiff_xmp(path: Path) -> bytes | None:
    import tifffile

    try:
        with open(path, "rb") as fh:
            if fh.read(4) not in (b"II*\x00", b"MM\x00*"):
                return None
        with tifffile.TiffFile(path) as tif:
            tag = tif.pages[0].tags.get(700)
            value = tag.value if tag is not None else None
    except Exception:  # noqa: BLE001 - a TIFF-like RAW tifffile cannot follow: no embedded XMP then
        return None
    return value.encode("utf-8") if isinstance(value, str) else bytes(value) if value is not None else None


def _split(name: str) -> tuple[str, str]:
    if name.startswith("{"):
        namespace, _, local = name[1:].partition("}")
        return namespace, local
    return "", name


def _rational(text: str | None) -> float | None:
    """``"37/100"`` or ``"0.37"`` as a number; ``None`` for anything else."""
    if text is None:
        return None
    numerator, _, denominator = text.strip().partition("/")
    try:
        value = float(numerator) / float(denominator) if denominator else float(numerator)
    except (ValueError, ZeroDivisionError):
        return None
    return value if value == value else None
