"""Writing a :class:`~focalstack.stack.DepthResult` to a folder.

Files: ``depth.npy`` (float32 H x W, in the unit of the focus positions),
``confidence.npy`` (float32 H x W in [0, 1]), ``aif.png`` (8-bit, or 16-bit for 16-bit or
float input), ``depth_preview.png`` (colour map with scale bar) and ``result.json``
(method, parameters, unit, focus positions, timings, version, the formats written); and, on
request (:data:`DEPTH_FORMATS`), the depth in other formats (:mod:`focalstack.io.depth_formats`),
a coloured point cloud (:mod:`focalstack.io.point_cloud`) and the sharpest-slice index map.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..stack import Camera, DepthResult
from .atomic import atomic_directory
from .depth_formats import (
    require_openexr,
    slice_index_map,
    write_depth_exr,
    write_depth_pfm,
    write_depth_png16,
    write_depth_tiff,
)
from .images import write_image
from .point_cloud import depth_to_point_cloud, write_ply
from .preview import save_depth_preview

RESULT_FILES = ("depth.npy", "confidence.npy", "aif.png", "depth_preview.png", "result.json")

FORMAT_FILES = {
    "npy": "depth.npy",  # always written
    "pfm": "depth.pfm",
    "tiff": "depth.tif",
    "png16": "depth16.png",
    "exr": "depth.exr",
    "ply": "points.ply",
    "index": "index.npy",
}
"""The file each output format writes."""

DEPTH_FORMATS = tuple(FORMAT_FILES)
"""The names ``write_result(formats=...)`` accepts (``--format`` choices)."""


def write_result(
    result: DepthResult,
    out_dir: str | Path,
    *,
    overwrite: bool = False,
    bit_depth: int = 8,
    metadata: dict | None = None,
    formats: tuple[str, ...] | list[str] = ("npy",),
    min_confidence: float = 0.0,
    camera: Camera | dict | None = None,
    html: bool = False,
) -> Path:
    """Write all result files into ``out_dir`` atomically (all of them or none).

    Args:
        result: what a method returned.
        out_dir: folder to create; an existing one is replaced only with ``overwrite``.
        bit_depth: 8 or 16, bit depth of ``aif.png`` (16 for 16-bit or float input).
        metadata: extra entries for ``result.json`` (input folder, version, ...), besides the
            result's own ``metadata``.
        formats: names from :data:`DEPTH_FORMATS` (files in :data:`FORMAT_FILES`); ``depth.npy`` is
            always written, so ``npy`` may be omitted.
        min_confidence: in [0, 1]; ``points.ply`` drops pixels whose confidence is below it.
        camera: intrinsics for ``points.ply``; default ``result.metadata["camera"]`` (recorded by
            :func:`focalstack.estimate_depth`). Orthographic when the focal length is unknown.
        html: also write ``report.html``, the viewer's self-contained page of the folder
            (:func:`focalstack.viewer.build_page`), inside the same atomic folder.

    Raises:
        InputError: an unknown format or a ``min_confidence`` outside [0, 1] (before anything is
            written), or the OpenEXR package missing for ``exr``.

    Example:
        >>> write_result(result, "out", formats=("png16", "ply"), min_confidence=0.2)  # doctest: +SKIP
    """
    formats = check_formats(formats)
    if not (isinstance(min_confidence, (int, float)) and 0 <= min_confidence <= 1):
        raise InputError(f"min_confidence must be a number in [0, 1], got {min_confidence!r}")
    camera = camera if camera is not None else result.metadata.get("camera")
    with atomic_directory(out_dir, overwrite=overwrite) as tmp:
        np.save(tmp / "depth.npy", result.depth.astype(np.float32))
        np.save(tmp / "confidence.npy", result.confidence.astype(np.float32))
        write_image(tmp / "aif.png", result.all_in_focus, bit_depth=bit_depth)
        save_depth_preview(tmp / "depth_preview.png", result.depth, result.unit, title=result.method)
        extra = {"formats": list(formats)}
        for name in formats:
            extra.update(_write_format(name, tmp / FORMAT_FILES[name], result, min_confidence, camera) or {})
        if html:
            extra["report"] = "report.html"
        summary = result_summary(result, {**extra, **(metadata or {})})
        (tmp / "result.json").write_text(json.dumps(summary, indent=2) + "\n")
        if html:
            from ..viewer import open_result, write_report  # the viewer reads the folder this function writes

            write_report(open_result(tmp, name=Path(out_dir).resolve().name))
    return Path(out_dir)


def check_formats(formats) -> tuple[str, ...]:
    """``formats`` with ``npy`` first and duplicates removed; InputError for an unknown name."""
    formats = [formats] if isinstance(formats, str) else list(formats)
    unknown = [f for f in formats if f not in FORMAT_FILES]
    if unknown:
        raise InputError(f"unknown output format {unknown[0]!r}; use one of {', '.join(DEPTH_FORMATS)}")
    if "exr" in formats:
        require_openexr()  # say so before any work, not halfway through the folder
    return tuple(dict.fromkeys(["npy", *formats]))


def _write_format(name: str, path: Path, result: DepthResult, min_confidence: float, camera) -> dict | None:
    """Write one optional format; return entries for ``result.json`` (or None)."""
    if name == "pfm":
        write_depth_pfm(path, result.depth)
    elif name == "tiff":
        write_depth_tiff(path, result.depth)
    elif name == "png16":
        write_depth_png16(path, result.depth, unit=result.unit)
    elif name == "exr":
        write_depth_exr(path, result.depth, unit=result.unit)
    elif name == "index":
        np.save(path, slice_index_map(result))
    elif name == "ply":
        cloud = depth_to_point_cloud(result.depth, result.all_in_focus, unit=result.unit, camera=camera,
                                     confidence=result.confidence, min_confidence=min_confidence)
        write_ply(path, cloud)
        return {"point_cloud": {"points": len(cloud), "min_confidence": min_confidence,
                                "projection": cloud.projection}}
    return None


def result_summary(result: DepthResult, metadata: dict | None = None) -> dict:
    """The JSON-able description of a result written to ``result.json``."""
    depth = result.depth[np.isfinite(result.depth)]
    summary = {
        "method": result.method,
        "parameters": result.parameters,
        "unit": result.unit,
        "focus_positions": [float(p) for p in result.focus_positions],
        "size": {"height": int(result.depth.shape[0]), "width": int(result.depth.shape[1])},
        "depth_range": [float(depth.min()), float(depth.max())] if depth.size else None,
        "mean_confidence": float(result.confidence.mean()),
        "timings_s": {k: round(v, 4) for k, v in result.timings.items()},
    }
    summary.update(result.metadata)
    summary.update(metadata or {})
    return summary
