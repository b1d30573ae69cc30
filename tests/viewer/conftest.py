"""Small result folders of known content for the viewer's tests (64 x 48, written by write_result)."""

from __future__ import annotations

import base64
import json
import re

import cv2
import numpy as np
import pytest

from focalstack import DepthResult
from focalstack.io.results import write_result

H, W = 48, 64
CAMERA = {"focal_length_mm": 4.0, "pixel_pitch_um": 50.0}  # f = 80 px
NO_DEPTH = (5, 7)  # (row, column) of the one pixel without depth


def known_maps(*, unit="m", seed=0, depth_factor=1.0):
    """(depth, confidence, all-in-focus) of a 64 x 48 result: depth a ramp along columns with a bump, one NaN;
    confidence rising with the row (0 at the top, 1 at the bottom); a random colour image."""
    rows, cols = np.mgrid[0:H, 0:W].astype(np.float32)
    if unit == "index":
        depth = 4.0 * cols / (W - 1) + 0.5 * np.sin(rows / 7.0)
    else:
        depth = 0.4 + 1.0 * cols / (W - 1) + 0.05 * np.sin(rows / 7.0)  # metres, 0.35..1.45
    depth = (depth * depth_factor).astype(np.float32)
    depth[NO_DEPTH] = np.nan
    confidence = (rows / (H - 1)).astype(np.float32)
    aif = np.random.default_rng(seed).random((H, W, 3), dtype=np.float32)
    return depth, confidence, aif


def make_result(out, *, unit="m", camera=CAMERA, method="sml", stack_dir=None, depth_factor=1.0, html=False):
    """Write a result folder of :func:`known_maps` to ``out``; ``stack_dir`` (with its slices) becomes its input."""
    depth, confidence, aif = known_maps(unit=unit, depth_factor=depth_factor)
    result = DepthResult(depth, aif, confidence, unit, np.array([0.4, 0.8, 1.5]) if unit == "m" else np.arange(3.0),
                         method=method, metadata={"camera": camera})
    metadata = {}
    if stack_dir is not None:
        names = sorted(p.name for p in stack_dir.glob("*.png"))
        metadata = {"input": str(stack_dir), "files": names}
    write_result(result, out, metadata=metadata, html=html)
    return out


def write_slices(folder, count=3):
    """``count`` grey 64 x 48 PNG slices, slice k uniformly 40 + 60 k."""
    folder.mkdir(parents=True)
    for k in range(count):
        assert cv2.imwrite(str(folder / f"slice_{k}.png"), np.full((H, W), 40 + 60 * k, np.uint8))
    return folder


def page_data(html: str) -> dict:
    match = re.search(r'<script type="application/json" id="focalstack-data">(.*?)</script>', html, re.DOTALL)
    return json.loads(match[1])


def data_url_bytes(url: str) -> bytes:
    assert url.startswith("data:")
    return base64.b64decode(url.split(",", 1)[1])


def decode_depth(raw: bytes, desc: dict) -> np.ndarray:
    q = np.frombuffer(raw, "<u2").reshape(desc["grid"]["height"], desc["grid"]["width"]).astype(np.float64)
    return np.where(q == 0, np.nan, desc["depth"]["offset"] + (q - 1) * desc["depth"]["scale"])


@pytest.fixture
def metric_result(tmp_path):
    return make_result(tmp_path / "metric", stack_dir=write_slices(tmp_path / "stack"))
