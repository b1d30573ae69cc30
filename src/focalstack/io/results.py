"""Writing a :class:`~focalstack.stack.DepthResult` to a folder.

Files: ``depth.npy`` (float32 H x W, in the unit of the focus positions),
``confidence.npy`` (float32 H x W in [0, 1]), ``aif.png`` (8-bit, or 16-bit for 16-bit or
float input), ``depth_preview.png`` (colour map with scale bar) and ``result.json``
(method, parameters, unit, focus positions, timings, version).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..stack import DepthResult
from .atomic import atomic_directory
from .images import write_image
from .preview import save_depth_preview

RESULT_FILES = ("depth.npy", "confidence.npy", "aif.png", "depth_preview.png", "result.json")


def write_result(
    result: DepthResult,
    out_dir: str | Path,
    *,
    overwrite: bool = False,
    bit_depth: int = 8,
    metadata: dict | None = None,
) -> Path:
    """Write all result files into ``out_dir`` atomically (all of them or none).

    Args:
        result: what a method returned.
        out_dir: folder to create; an existing one is replaced only with ``overwrite``.
        bit_depth: 8 or 16, bit depth of ``aif.png``.
        metadata: extra entries for ``result.json`` (input folder, version, ...), besides the
            result's own ``metadata``.
    """
    with atomic_directory(out_dir, overwrite=overwrite) as tmp:
        np.save(tmp / "depth.npy", result.depth.astype(np.float32))
        np.save(tmp / "confidence.npy", result.confidence.astype(np.float32))
        write_image(tmp / "aif.png", result.all_in_focus, bit_depth=bit_depth)
        save_depth_preview(tmp / "depth_preview.png", result.depth, result.unit, title=result.method)
        (tmp / "result.json").write_text(json.dumps(result_summary(result, metadata), indent=2) + "\n")
    return Path(out_dir)


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
