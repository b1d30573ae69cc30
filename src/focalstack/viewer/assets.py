"""What the page receives for one result: downscaled images, quantised maps, the colour bar and the 3D projection.

**Grid.** The page works on a copy of at most :data:`PAGE_SIDE` pixels on its longest side. Depth and confidence
are *sampled* (nearest pixel centre: page pixel (i, j) reads the result's pixel
``(floor((i + 0.5) H / h), floor((j + 0.5) W / w))``), so every value the page shows is a value of ``depth.npy``;
the all-in-focus image is area-averaged; slices are at most :data:`SLICE_SIDE` pixels, JPEG.

**Depth** travels as little-endian uint16: 0 = no depth (NaN or infinite), ``q`` in 1..65535 means
``offset + (q - 1) * scale`` in the result's unit (the error is at most ``scale / 2``). **Confidence** travels as
uint8, ``q / 255``.

**3D.** Vertices are the result's pixels under :func:`focalstack.io.point_cloud.depth_to_point_cloud`'s rule:
a pinhole back-projection (metres) when the unit is metric and the camera gives the focal length, orthographic
(pixels and the depth unit) otherwise; :func:`projection` passes the parameters and the page applies them.
"""

from __future__ import annotations

import math
from functools import cached_property

import cv2
import numpy as np
from matplotlib import colormaps
from matplotlib.ticker import MaxNLocator

from ..io.images import read_image
from ..io.point_cloud import focal_length_px
from ..units import UNIT_LABELS, to_blur_coordinate
from .result import ResultFolder

PAGE_SIDE = 1024
"""Longest side in pixels of the page's images and maps."""
SLICE_SIDE = 768
"""Longest side in pixels of the slices shown on the page."""
MAX_3D_POINTS = 300_000
"""At most this many vertices in the 3D view (the page subsamples its grid further)."""
JPEG_QUALITY = 90


def page_size(height: int, width: int, side: int = PAGE_SIDE) -> tuple[int, int]:
    """(h, w) of an H x W image shrunk to at most ``side`` pixels on its longest side (never enlarged)."""
    scale = min(1.0, side / max(height, width))
    return max(1, round(height * scale)), max(1, round(width * scale))


def sample_rows_cols(height: int, width: int, h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """The result's rows (length h) and columns (length w) that the page's pixels sample."""
    rows = np.minimum(((np.arange(h) + 0.5) * height / h).astype(np.int64), height - 1)
    cols = np.minimum(((np.arange(w) + 0.5) * width / w).astype(np.int64), width - 1)
    return rows, cols


def quantise_depth(depth: np.ndarray) -> tuple[bytes, float, float]:
    """``depth`` as little-endian uint16 bytes (0 = no depth), with its ``offset`` and ``scale``."""
    finite = np.isfinite(depth)
    lo, hi = (float(depth[finite].min()), float(depth[finite].max())) if finite.any() else (0.0, 0.0)
    scale = (hi - lo) / 65534 if hi > lo else 1.0
    q = np.zeros(depth.shape, np.uint16)
    q[finite] = 1 + np.clip(np.round((depth[finite].astype(np.float64) - lo) / scale), 0, 65534).astype(np.uint16)
    return q.astype("<u2").tobytes(), lo, scale


def quantise_confidence(confidence: np.ndarray) -> bytes:
    """``confidence`` in [0, 1] as uint8 bytes, ``round(255 c)``."""
    return np.round(np.clip(confidence, 0, 1) * 255).astype(np.uint8).tobytes()


def encode_jpeg(image: np.ndarray, side: int) -> bytes:
    """An H x W [x 3] float image in [0, 1] shrunk (area) to at most ``side`` pixels, as JPEG bytes."""
    h, w = page_size(*image.shape[:2], side)
    if (h, w) != image.shape[:2]:
        image = cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA)
    pixels = np.round(np.clip(image, 0, 1) * 255).astype(np.uint8)
    if pixels.ndim == 3:
        pixels = cv2.cvtColor(pixels, cv2.COLOR_RGB2BGR)
    ok, data = cv2.imencode(".jpg", pixels, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    return data.tobytes()


class ResultAssets:
    """The page's view of one :class:`ResultFolder`: :meth:`description` (JSON-able) and the binary assets."""

    def __init__(self, result: ResultFolder) -> None:
        self.result = result
        height, width = result.depth.shape
        self.size = (height, width)
        self.grid = page_size(height, width)
        self._rows, self._cols = sample_rows_cols(height, width, *self.grid)

    def depth_bytes(self) -> tuple[bytes, float, float]:
        """The page grid's depth, quantised (:func:`quantise_depth`): bytes, offset, scale."""
        return self._depth

    @cached_property
    def _depth(self) -> tuple[bytes, float, float]:
        return quantise_depth(self.result.depth[np.ix_(self._rows, self._cols)])

    def confidence_bytes(self) -> bytes:
        return quantise_confidence(self.result.confidence[np.ix_(self._rows, self._cols)])

    def aif_jpeg(self) -> bytes:
        return encode_jpeg(self.result.all_in_focus, max(self.grid))

    def slice_jpeg(self, index: int) -> bytes:
        """Slice ``index`` of the input (IndexError when there is none)."""
        paths = self.result.slice_paths
        if not 0 <= index < len(paths):
            raise IndexError(index)
        encoding = self.result.summary.get("encoding")
        return encode_jpeg(read_image(paths[index], raw=encoding if encoding in ("srgb", "linear") else "srgb"),
                           SLICE_SIDE)

    def description(self) -> dict:
        """Everything but the binary assets: names, unit, sizes, colour bar, projection, slices, metadata."""
        summary, (height, width) = self.result.summary, self.size
        _, offset, scale = self.depth_bytes()
        positions = summary.get("focus_positions") or []
        slices = [{"name": p.name, "position": positions[k] if k < len(positions) else None}
                  for k, p in enumerate(self.result.slice_paths)]
        return {
            "name": self.result.name, "method": self.result.method,
            "unit": self.result.unit, "unit_label": UNIT_LABELS[self.result.unit],
            "size": {"height": height, "width": width}, "grid": {"height": self.grid[0], "width": self.grid[1]},
            "depth": {"offset": offset, "scale": scale, "decimals": decimals(self.result.depth)},
            "colorbar": colorbar(self.result.depth, self.result.unit),
            "projection": projection(self.result.unit, summary.get("camera"), height, width),
            "max_3d_points": MAX_3D_POINTS,
            "slices": {"items": slices, "reason": self.result.slices_reason},
            "summary": json_safe(summary),
        }


def json_safe(value):
    """``value`` with NaN and infinities replaced by None (``result.json`` may hold them; JSON does not)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


def decimals(depth: np.ndarray) -> int:
    """Decimals for showing depth values: about four significant digits of the depth range."""
    finite = depth[np.isfinite(depth)]
    span = float(finite.max() - finite.min()) if finite.size else 0.0
    if span <= 0:
        span = abs(float(finite[0])) if finite.size and finite[0] != 0 else 1.0
    return int(min(8, max(0, 3 - math.floor(math.log10(span) + 1e-9))))


def colorbar(depth: np.ndarray, unit: str) -> dict:
    """The depth colours of ``depth_preview.png``: turbo (``turbo_r`` for ``index``), linear in the blur
    coordinate between its 1st and 99th percentiles (``lo``, ``hi``); near is warm. ``ticks``: (fraction of
    the bar from ``lo``, label in the unit); ``lut``: 256 RGB triples."""
    shown = to_blur_coordinate(np.asarray(depth, dtype=np.float64), unit)
    finite = shown[np.isfinite(shown)]
    lo, hi = (float(v) for v in np.percentile(finite, [1, 99])) if finite.size else (0.0, 1.0)
    if hi <= lo:
        lo, hi = lo - 0.5, hi + 0.5
    cmap = colormaps["turbo_r" if unit == "index" else "turbo"]
    lut = np.round(cmap(np.linspace(0, 1, 256))[:, :3] * 255).astype(int)
    return {"lo": lo, "hi": hi, "inverse": unit == "m", "lut": lut.reshape(-1).tolist(),
            "ticks": _ticks(lo, hi, unit), "label": UNIT_LABELS[unit]}


def _ticks(lo: float, hi: float, unit: str) -> list[tuple[float, str]]:
    if unit == "m":  # nice values in metres, placed at their inverse (the bar is linear in diopters)
        near, far = 1 / hi if hi > 0 else math.inf, 1 / lo if lo > 0 else math.inf
        far = far if math.isfinite(far) else 10 * near
        values = [v for v in MaxNLocator(nbins=6).tick_values(near, far) if near <= v <= far and v > 0]
        return [((1 / v - lo) / (hi - lo), f"{v:.4g}") for v in values]
    values = [v for v in MaxNLocator(nbins=6).tick_values(lo, hi) if lo <= v <= hi]
    return [((v - lo) / (hi - lo), f"{v:.4g}") for v in values]


def projection(unit: str, camera: dict | None, height: int, width: int) -> dict:
    """How the page back-projects a pixel (column u, row v of the result) with depth d, by
    :func:`~focalstack.io.point_cloud.depth_to_point_cloud`'s rule.

    ``pinhole``: ``z = d`` (``1 / d`` for diopters), ``x = (u - cx) z / f``, ``y = (v - cy) z / f``, metres.
    ``orthographic``: ``x = u``, ``y = v`` (pixels), ``z = d`` in the unit; ``far`` is +1 when larger values are
    farther (``m``, ``index``) and -1 when they are nearer (``diopter``, ``disparity``), for drawing.
    """
    focal = focal_length_px(camera, width, height) if unit in ("m", "diopter") else None
    if focal is None:
        why = "unit is not metric" if unit not in ("m", "diopter") else "focal length unknown"
        return {"kind": "orthographic", "far": 1 if unit in ("m", "index") else -1,
                "line": f"orthographic ({why}): x, y in pixels, z in {unit}"}
    return {"kind": "pinhole", "f": focal[0], "cx": (width - 1) / 2, "cy": (height - 1) / 2,
            "inverse": unit == "diopter",
            "line": f"pinhole, f = {focal[0]:.5g} px ({focal[1]}); metres"}
