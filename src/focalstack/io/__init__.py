"""Reading and writing: images (8/16-bit, float, camera RAW), metadata (EXIF, maker notes, XMP), stack folders
and their inspection, depth outputs."""

from .depth_formats import read_depth_exr, read_depth_png16, read_depth_tiff, slice_index_map, write_depth_png16
from .exif import ExifInfo, read_exif
from .images import ImageHeader, image_header, read_image, to_float_image, write_image
from .inspection import SliceReport, StackReport, inspect_stack
from .metadata import camera_from_metadata, read_metadata
from .point_cloud import PointCloud, depth_to_point_cloud, read_ply, write_ply
from .stackdir import SIDECAR, FocusInfoWarning, read_stack

__all__ = [
    "ExifInfo", "FocusInfoWarning", "ImageHeader", "PointCloud", "SIDECAR", "depth_to_point_cloud", "image_header",
    "read_depth_exr", "read_depth_png16", "read_depth_tiff", "read_exif", "read_image", "read_ply", "read_stack",
    "slice_index_map", "to_float_image", "write_depth_png16", "write_image", "write_ply",
    "SliceReport", "StackReport", "camera_from_metadata", "inspect_stack", "read_metadata",
]
