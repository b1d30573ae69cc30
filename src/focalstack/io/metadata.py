"""What a slice's file says about the shot, all sources together, and the camera it implies.

:func:`read_metadata` takes EXIF first, then maker notes (:mod:`.exif`), then XMP inside the file,
then an XMP sidecar (:mod:`.xmp`); the first source that has a value gives it, and says so in
``sources``. :func:`camera_from_metadata` turns the values into a :class:`~focalstack.Camera`:

- pixel pitch from ``FocalPlaneXResolution`` (with ``FocalPlaneResolutionUnit``) when present;
- otherwise the sensor width from the 35 mm-equivalent focal length. The equivalent is defined on
  the diagonal (CIPA DC-008, as cameras and phones compute it): the sensor's diagonal is
  43.27 mm x f / f35, and its width follows from the image's aspect ratio,
  width = diagonal x W / sqrt(W^2 + H^2) (square pixels, the image covering the sensor). The pixel
  pitch is then width / W.
"""

from __future__ import annotations

import math
from pathlib import Path

from ..stack import Camera
from .exif import ExifInfo, read_exif
from .xmp import read_xmp

FRAME_DIAGONAL_35MM = math.hypot(36.0, 24.0)
"""Diagonal of the 36 x 24 mm frame, in millimetres (43.27), on which 35 mm equivalents are defined."""


def read_metadata(path: str | Path) -> ExifInfo:
    """Focus distance, focal length, f-number, 35 mm equivalent and pixel pitch of one image file,
    each from the first source that has it: EXIF, maker notes, XMP in the file, XMP sidecar.

    Never raises for missing or broken metadata (all ``None`` then).
    """
    return read_exif(path).merged(read_xmp(path))


def camera_from_metadata(info: ExifInfo, *, width_px: int, height_px: int) -> tuple[Camera | None, dict[str, str]]:
    """The camera a shot's metadata implies, and where each of its fields came from.

    Args:
        info: :func:`read_metadata` of one slice.
        width_px, height_px: the slice's size as decoded (orientation applied), for the sensor width
            from the 35 mm equivalent.

    Returns:
        ``(camera, sources)``; ``camera`` is ``None`` when the metadata gives no camera value at all.

    Example:
        >>> info = ExifInfo(focal_length_mm=4.0, focal_length_35mm=26.0)
        >>> camera, sources = camera_from_metadata(info, width_px=4000, height_px=3000)
        >>> round(camera.sensor_width_mm, 2), sources["sensor_width_mm"]
        (5.33, '35 mm equivalent (diagonal) and focal length')
    """
    values = {name: getattr(info, name) for name in ("focal_length_mm", "f_number", "focal_length_35mm",
                                                     "pixel_pitch_um")}
    sources = {name: info.sources.get(name, "metadata") for name, value in values.items() if value is not None}
    if info.pixel_pitch_um is None and info.focal_length_mm and info.focal_length_35mm:
        diagonal_mm = FRAME_DIAGONAL_35MM * info.focal_length_mm / info.focal_length_35mm
        values["sensor_width_mm"] = diagonal_mm * width_px / math.hypot(width_px, height_px)
        sources["sensor_width_mm"] = "35 mm equivalent (diagonal) and focal length"
    values = {k: v for k, v in values.items() if v is not None}
    return (Camera(**values) if values else None), sources
