"""The viewer's page and its data, without a browser: known answers for the sampling, the quantisation, the 3D
projection and the embedded assets; clear refusals of folders that are not results; the files ship with the package."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import (
    CAMERA,
    NO_DEPTH,
    H,
    W,
    data_url_bytes,
    decode_depth,
    known_maps,
    make_result,
    page_data,
    write_slices,
)

from focalstack.errors import InputError
from focalstack.io.point_cloud import depth_to_point_cloud
from focalstack.viewer import build_page, open_result, write_report
from focalstack.viewer.assets import (
    ResultAssets,
    colorbar,
    decimals,
    page_size,
    projection,
    quantise_depth,
    sample_rows_cols,
)
from focalstack.viewer.page import STATIC_FILES, THREE_VERSION, static_text

ROOT = Path(__file__).resolve().parents[2]


# --- what is a result ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("case, fragment", [
    ("missing", "does not exist"),
    ("file", "is not a folder"),
    ("empty", "no result.json"),
    ("stack", "no result.json"),
    ("bad_json", "not a focalstack result description"),
    ("no_unit", "needs 'method' and a 'unit'"),
    ("no_depth", "depth.npy is missing"),
])
def test_open_result_says_why_a_folder_is_not_a_result(tmp_path, metric_result, case, fragment):
    path = tmp_path / f"case_{case}"
    if case == "file":
        path.write_text("x")
    elif case in ("empty",):
        path.mkdir()
    elif case == "stack":
        write_slices(path)
    elif case in ("bad_json", "no_unit", "no_depth"):
        shutil.copytree(metric_result, path)
        if case == "bad_json":
            (path / "result.json").write_text("{not json")
        elif case == "no_unit":
            (path / "result.json").write_text(json.dumps({"method": "sml"}))
        else:
            (path / "depth.npy").unlink()
    with pytest.raises(InputError, match=re.escape(fragment)):
        open_result(path)


def test_mismatched_maps_are_refused(tmp_path, metric_result):
    np.save(metric_result / "confidence.npy", np.zeros((3, 3), np.float32))
    with pytest.raises(InputError, match="confidence must be an H x W array"):
        ResultAssets(open_result(metric_result)).confidence_bytes()


# --- sampling and quantisation ---------------------------------------------------------------------------------------


def test_page_size_shrinks_the_longest_side_to_1024_and_never_enlarges():
    assert page_size(1536, 2048) == (768, 1024)
    assert page_size(100, 5000) == (20, 1024)
    assert page_size(48, 64) == (48, 64)


def test_page_pixels_sample_pixel_centres():
    rows, cols = sample_rows_cols(1536, 2048, 768, 1024)
    assert rows.tolist() == list(range(1, 1536, 2)) and cols.tolist() == list(range(1, 2048, 2))
    rows, cols = sample_rows_cols(48, 64, 48, 64)
    assert rows.tolist() == list(range(48)) and cols.tolist() == list(range(64))
    rows, _ = sample_rows_cols(10, 10, 3, 3)
    assert rows.tolist() == [1, 5, 8]  # floor((i + 0.5) * 10 / 3)


def test_depth_quantisation_is_within_half_a_step_and_keeps_no_depth():
    depth = np.random.default_rng(1).uniform(0.3, 7.0, (40, 30)).astype(np.float32)
    depth[3, 4] = np.nan
    depth[5, 6] = np.inf
    raw, offset, scale = quantise_depth(depth)
    q = np.frombuffer(raw, "<u2").reshape(depth.shape)
    assert q[3, 4] == 0 and q[5, 6] == 0 and q[np.isfinite(depth)].min() == 1 and q.max() == 65535
    back = offset + (q.astype(np.float64) - 1) * scale
    finite = np.isfinite(depth)
    assert offset == pytest.approx(float(depth[finite].min()))
    assert np.abs(back[finite] - depth[finite]).max() <= scale / 2 * (1 + 1e-6)
    raw, offset, scale = quantise_depth(np.full((2, 2), 3.5, np.float32))
    assert (offset, scale) == (3.5, 1.0) and set(np.frombuffer(raw, "<u2")) == {1}


def test_decimals_give_about_four_significant_digits_of_the_range():
    assert decimals(np.array([0.4, 1.4])) == 3
    assert decimals(np.array([0.0, 9.0])) == 3
    assert decimals(np.array([10.0, 250.0])) == 1
    assert decimals(np.array([1e-6, 2e-5])) == 8


def test_colorbar_is_the_preview_s_turbo_in_the_blur_coordinate():
    depth = np.linspace(0.5, 2.0, 200, dtype=np.float32).reshape(10, 20)
    bar = colorbar(depth, "m")
    assert bar["inverse"] and len(bar["lut"]) == 768
    assert bar["lo"] == pytest.approx(np.percentile(1 / depth.astype(np.float64), 1))
    for t, label in bar["ticks"]:  # a tick labelled v metres sits at 1/v on the bar
        assert t == pytest.approx((1 / float(label) - bar["lo"]) / (bar["hi"] - bar["lo"]))
        assert 0 <= t <= 1
    assert len(bar["ticks"]) >= 3
    index_bar = colorbar(depth, "index")
    assert index_bar["lut"][:3] != bar["lut"][:3]  # turbo_r: near (small index) is warm, as in the preview


# --- the 3D projection is depth_to_point_cloud's -----------------------------------------------------------------


def _project(p: dict, depth: np.ndarray) -> np.ndarray:
    """The page's formula (viewer.js buildCloud) in NumPy."""
    rows, cols = np.nonzero(np.isfinite(depth))
    d = depth[rows, cols].astype(np.float64)
    if p["kind"] == "orthographic":
        return np.stack([cols, rows, d], axis=1)
    z = 1 / d if p["inverse"] else d
    return np.stack([(cols - p["cx"]) * z / p["f"], (rows - p["cy"]) * z / p["f"], z], axis=1)


@pytest.mark.parametrize("unit, camera, kind", [
    ("m", CAMERA, "pinhole"), ("diopter", {"focal_length_35mm": 28.0}, "pinhole"), ("m", None, "orthographic"),
    ("disparity", CAMERA, "orthographic"), ("index", CAMERA, "orthographic"),
])
def test_projection_follows_depth_to_point_cloud(unit, camera, kind):
    depth, _, _ = known_maps(unit="index" if unit in ("index", "disparity") else "m")
    p = projection(unit, camera, H, W)
    expected = depth_to_point_cloud(depth, None, unit=unit, camera=camera)
    assert p["kind"] == kind and expected.projection.startswith(kind)
    np.testing.assert_allclose(_project(p, depth), expected.points, rtol=1e-5, atol=1e-6)
    if kind == "orthographic":
        assert p["far"] == (1 if unit in ("m", "index") else -1)


# --- the page -----------------------------------------------------------------------------------------------------


def test_self_contained_page_embeds_everything(metric_result):
    html = build_page(metric_result)
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)  # nothing from the network
    assert "<script src=" not in html and '<link rel="stylesheet"' not in html
    assert static_text("three/three.min.js")[:200] in html
    data = page_data(html)
    desc = data["results"][0]
    assert desc["unit"] == "m" and desc["method"] == "sml" and desc["name"] == "metric"
    assert desc["size"] == {"height": H, "width": W} and desc["grid"] == desc["size"]
    depth = np.load(metric_result / "depth.npy")
    shown = decode_depth(data_url_bytes(desc["urls"]["depth"]), desc)
    assert np.isnan(shown[NO_DEPTH]) and np.isnan(shown).sum() == 1
    finite = np.isfinite(depth)
    assert np.abs(shown[finite] - depth[finite]).max() <= desc["depth"]["scale"] / 2 * (1 + 1e-6)
    confidence = np.frombuffer(data_url_bytes(desc["urls"]["confidence"]), np.uint8).reshape(H, W) / 255
    assert np.abs(confidence - np.load(metric_result / "confidence.npy")).max() <= 0.5 / 255 + 1e-7
    aif = cv2.imdecode(np.frombuffer(data_url_bytes(desc["urls"]["aif"]), np.uint8), cv2.IMREAD_COLOR)
    assert aif.shape == (H, W, 3)
    assert [s["name"] for s in desc["slices"]["items"]] == ["slice_0.png", "slice_1.png", "slice_2.png"]
    for k, url in enumerate(desc["urls"]["slices"]):
        grey = cv2.imdecode(np.frombuffer(data_url_bytes(url), np.uint8), cv2.IMREAD_GRAYSCALE)
        assert abs(float(grey.mean()) - (40 + 60 * k)) < 2
    assert desc["projection"]["kind"] == "pinhole" and desc["projection"]["f"] == pytest.approx(80.0)
    assert desc["summary"]["camera"] == CAMERA


def test_served_page_refers_to_the_server(tmp_path, metric_result):
    other = make_result(tmp_path / "other", unit="index", method="rdf")
    html = build_page(metric_result, other, embed=False)
    data = page_data(html)
    assert [r["method"] for r in data["results"]] == ["sml", "rdf"]
    assert data["results"][1]["urls"]["depth"] == "r/1/depth.u16"
    assert data["results"][0]["urls"]["slices"] == [f"r/0/slices/{k}.jpg" for k in range(3)]
    assert '<script src="static/three/three.min.js"></script>' in html and "data:image" not in html
    assert data["results"][1]["slices"] == {"items": [], "reason": "result.json does not name the input slices"}


def test_slices_not_available_once_the_input_is_gone(metric_result, tmp_path):
    shutil.rmtree(tmp_path / "stack")
    desc = page_data(build_page(metric_result))["results"][0]
    assert desc["slices"]["items"] == [] and "no longer exists" in desc["slices"]["reason"]


def test_large_results_are_downscaled_for_the_page(tmp_path):
    """A bare 2100 x 1500 folder: maps sampled to 1024 x 731, the all-in-focus image resized to it."""
    folder = tmp_path / "large"
    folder.mkdir()
    rows, cols = np.mgrid[0:1500, 0:2100]
    depth = (cols * 10 + rows).astype(np.float32)  # every pixel's value says where it is
    np.save(folder / "depth.npy", depth)
    np.save(folder / "confidence.npy", np.ones_like(depth))
    cv2.imwrite(str(folder / "aif.png"), np.zeros((1500, 2100, 3), np.uint16))  # 16-bit
    (folder / "result.json").write_text(json.dumps({"method": "x", "unit": "disparity"}))
    desc = page_data(build_page(folder))["results"][0]
    assert desc["grid"] == {"height": 731, "width": 1024}
    shown = decode_depth(data_url_bytes(desc["urls"]["depth"]), desc)
    r, c = sample_rows_cols(1500, 2100, 731, 1024)
    np.testing.assert_allclose(shown, depth[np.ix_(r, c)], atol=desc["depth"]["scale"])
    aif = cv2.imdecode(np.frombuffer(data_url_bytes(desc["urls"]["aif"]), np.uint8), cv2.IMREAD_COLOR)
    assert aif.shape == (731, 1024, 3)
    assert desc["projection"]["kind"] == "orthographic" and desc["projection"]["far"] == -1


def test_write_report_is_readable_by_others(metric_result):
    path = write_report(metric_result)
    assert path == metric_result / "report.html" and (path.stat().st_mode & 0o777) == 0o644
    assert page_data(path.read_text())["results"][0]["name"] == "metric"


# --- what ships -----------------------------------------------------------------------------------------------------


def test_vendored_three_matches_its_readme():
    readme = static_text("three/README.md")
    version = re.search(r"`three@(\d+)\.(\d+)\.(\d+)`", readme)
    assert THREE_VERSION == f"r{version[2]}"
    bundle = static_text("three/three.min.js")
    assert f'"{version[2]}"' in bundle and "OrbitControls" in bundle and "</script" not in bundle.lower()
    assert "MIT License" in static_text("three/LICENSE")
    import hashlib

    digest = hashlib.sha256(bundle.encode("utf-8")).hexdigest()
    assert digest in readme


@pytest.mark.slow
def test_static_files_are_installed_with_the_package(tmp_path):
    """Build a wheel from a copy of the sources (weights left out) and find every file the page needs in it."""
    copy = tmp_path / "src_copy"
    shutil.copytree(ROOT / "src", copy / "src", ignore=shutil.ignore_patterns("*.safetensors", "__pycache__",
                                                                              "*.egg-info"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, copy / name)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", str(copy),
                    "-w", str(tmp_path / "dist")], check=True, cwd=tmp_path, capture_output=True)
    wheel = next((tmp_path / "dist").glob("focalstack-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    for name in [*STATIC_FILES, "page.html", "three/LICENSE", "three/README.md"]:
        assert f"focalstack/viewer/static/{name}" in names, name
