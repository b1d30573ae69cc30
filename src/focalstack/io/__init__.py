"""Reading and writing: images (8/16-bit, float), EXIF, stack folders, depth outputs."""

from .exif import ExifInfo, read_exif
from .images import ImageHeader, image_header, read_image, to_float_image, write_image
from .stackdir import SIDECAR, FocusInfoWarning, read_stack

__all__ = [
    "ExifInfo", "FocusInfoWarning", "ImageHeader", "SIDECAR", "image_header", "read_exif",
    "read_image", "read_stack", "to_float_image", "write_image",
]
