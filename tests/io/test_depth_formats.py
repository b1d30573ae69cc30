"""Output formats: depth in PFM / TIFF / EXR / 16-bit PNG, PLY point clouds, the slice-index map, write_result."""

from __future__ import annotations

import builtins
import json

import cv2
import numpy as np
import pytest
from PIL import Image

from focalstack import Camera, DepthResult, FocalStack, estimate_depth
from focalstack.errors import InputError
from focalstack.io.depth_formats import (
    read_depth_exr,
    read_depth_pfm,
    read_depth_png16,
    read_depth_tiff,
    slice_index_map,
    write_depth_exr,
    write_depth_pfm,
    write_depth_png16,
    write_depth_tiff,
)
from focalstack.io.point_cloud import PointCloud, depth_to_point_cloud, focal_length_px, read_ply, write_ply
from focalstack.io.results import DEPTH_FORMATS, FORMAT_FILES, write_result

H, W = 6, 8


def _depth(seed=0):
    """Depths in metres with a NaN, an infinity and values that are not float16- or 16-bit-exact."""
    depth = np.random.default_rng(seed).uniform(0.3, 4.0, (H, W)).astype(np.float32)
    depth[1, 2], depth[4, 5] = np.nan, np.inf
    return depth


def _result(depth=None, *, unit="m", confidence=None, aif=None, slice_index=None, camera=None):
    depth = _depth() if depth is None else depth
    positions = {"m": [0.5, 1.0, 2.0], "diopter": [2.0, 1.0, 0.5], "disparity": [3.0, 2.0, 1.0],
                 "index": [0.0, 1.0, 2.0]}[unit]
    aif = np.random.default_rng(1).random((*depth.shape, 3), dtype=np.float32) if aif is None else aif
    confidence = np.ones(depth.shape, np.float32) if confidence is None else confidence
    return DepthResult(depth=depth, all_in_focus=aif, confidence=confidence, unit=unit,
                       focus_positions=np.array(positions), slice_index=slice_index, method="test",
                       metadata={"camera": camera})


# --- float formats: exact ---------------------------------------------------------------------------------


@pytest.mark.parametrize("write, read", [(write_depth_pfm, read_depth_pfm), (write_depth_tiff, read_depth_tiff)])
def test_float_formats_round_trip_exactly(tmp_path, write, read):
    depth = _depth()
    write(tmp_path / "d", depth)
    back = read(tmp_path / "d")
    assert back.dtype == np.float32 and back.shape == (H, W)
    np.testing.assert_array_equal(back, depth)  # NaN and inf in the same places, every bit kept


def test_exr_round_trips_exactly_with_its_unit(tmp_path):
    depth = _depth()
    write_depth_exr(tmp_path / "d.exr", depth, unit="diopter")
    back, unit = read_depth_exr(tmp_path / "d.exr")
    assert back.dtype == np.float32 and unit == "diopter"
    np.testing.assert_array_equal(back, depth)


def test_tiff_is_float32_single_channel(tmp_path):
    import tifffile

    write_depth_tiff(tmp_path / "d.tif", np.full((H, W), 1.25, np.float64))
    with tifffile.TiffFile(tmp_path / "d.tif") as tif:
        assert tif.pages[0].dtype == np.float32 and tif.pages[0].shape == (H, W)


def test_depth_writers_refuse_images(tmp_path):
    with pytest.raises(InputError, match="H x W"):
        write_depth_tiff(tmp_path / "d.tif", np.zeros((H, W, 3), np.float32))


# --- 16-bit PNG ----------------------------------------------------------------------------------------------


def test_png16_round_trip_within_half_a_step(tmp_path):
    depth = _depth()
    write_depth_png16(tmp_path / "d.png", depth, unit="m")
    back, unit = read_depth_png16(tmp_path / "d.png")
    finite = np.isfinite(depth)
    step = (depth[finite].max() - depth[finite].min()) / 65534
    assert unit == "m" and back.dtype == np.float32
    assert np.isnan(back[~finite]).all()  # NaN and infinity both come back as "no depth"
    assert np.abs(back[finite] - depth[finite]).max() <= step / 2 + 1e-6
    assert np.abs(back[finite] - depth[finite]).max() > 0  # really quantised: the tolerance is not vacuous


def test_png16_uses_the_full_range_and_the_documented_formula(tmp_path):
    depth = np.array([[1.0, 2.0, np.nan], [1.5, 3.0, 1.0]], np.float32)
    write_depth_png16(tmp_path / "d.png", depth, unit="disparity")
    with Image.open(tmp_path / "d.png") as image:
        values, text = np.asarray(image).astype(np.int64), image.text
    assert values.tolist() == [[1, 32768, 0], [16384, 65535, 1]]  # 0 = invalid, 1 = nearest value, 65535 = largest
    offset, scale = float(text["depth_offset"]), float(text["depth_scale"])
    assert scale == pytest.approx(2.0 / 65534) and text["unit"] == "disparity"
    assert offset + scale * 65535 == pytest.approx(3.0) and offset + scale * 1 == pytest.approx(1.0)


def test_png16_constant_depth_has_zero_scale(tmp_path):
    depth = np.full((H, W), 0.731, np.float32)
    depth[0, 0] = np.nan
    write_depth_png16(tmp_path / "d.png", depth, unit="m")
    back, _ = read_depth_png16(tmp_path / "d.png")
    with Image.open(tmp_path / "d.png") as image:
        assert float(image.text["depth_scale"]) == 0.0
    assert np.isnan(back[0, 0])
    np.testing.assert_array_equal(back[1:], depth[1:])


def test_png16_all_invalid(tmp_path):
    write_depth_png16(tmp_path / "d.png", np.full((2, 3), np.nan, np.float32), unit="index")
    back, unit = read_depth_png16(tmp_path / "d.png")
    assert np.isnan(back).all() and unit == "index"


def test_png16_reader_refuses_plain_pngs(tmp_path):
    assert cv2.imwrite(str(tmp_path / "plain16.png"), np.zeros((2, 2), np.uint16))
    assert cv2.imwrite(str(tmp_path / "plain8.png"), np.zeros((2, 2), np.uint8))
    with pytest.raises(InputError, match="depth_offset"):
        read_depth_png16(tmp_path / "plain16.png")
    with pytest.raises(InputError, match="16-bit"):
        read_depth_png16(tmp_path / "plain8.png")
    with pytest.raises(InputError, match="no such file"):
        read_depth_png16(tmp_path / "missing.png")


# --- point clouds --------------------------------------------------------------------------------------------


def test_metric_back_projection_of_a_plane(tmp_path):
    """A fronto-parallel plane at 2 m seen with f = 4 mm / 2 um = 2000 px spans (W - 1) * 2 / 2000 m."""
    height, width, z = 30, 40, 2.0
    cloud = depth_to_point_cloud(np.full((height, width), z, np.float32), None, unit="m",
                                 camera=Camera(focal_length_mm=4.0, pixel_pitch_um=2.0))
    x, y = cloud.points[:, 0], cloud.points[:, 1]
    assert len(cloud) == height * width
    np.testing.assert_allclose(cloud.points[:, 2], z)
    assert x.min() == pytest.approx(-19.5 * z / 2000) and x.max() == pytest.approx(19.5 * z / 2000)
    assert y.min() == pytest.approx(-14.5 * z / 2000) and y.max() == pytest.approx(14.5 * z / 2000)
    # the field of view follows: the edge pixels' rays span 2 atan(W / 2f)
    fov = 2 * np.arctan((x.max() + z / 2000 / 2) / z)
    assert fov == pytest.approx(2 * np.arctan(width / 2 / 2000), rel=1e-4)
    assert cloud.projection.startswith("pinhole fx=2000")


def test_back_projection_from_diopters_and_35mm_focal_length():
    # as in result.metadata["camera"]; the 40 x 30 image's diagonal (50 px) spans 43.27 mm: f = 27 / 43.27 x 50 px
    camera = {"focal_length_35mm": 27.0}
    f = 27.0 / np.hypot(36.0, 24.0) * 50.0
    assert focal_length_px(camera, 40, 30) == (pytest.approx(f), "35 mm equivalent, image diagonal = 43.27 mm")
    cloud = depth_to_point_cloud(np.full((30, 40), 0.5, np.float32), None, unit="diopter", camera=camera)
    np.testing.assert_allclose(cloud.points[:, 2], 2.0)  # 0.5 diopter = 2 m
    assert cloud.points[:, 0].max() == pytest.approx(19.5 * 2.0 / f)


def test_pixel_pitch_from_the_sensor_width():
    # 6.4 mm over 3200 px = 2 um; f = 4 mm -> 2000 px
    assert focal_length_px(Camera(focal_length_mm=4.0, sensor_width_mm=6.4), 3200, 2400)[0] == pytest.approx(2000)
    assert focal_length_px(Camera(f_number=2.0), 100, 80) is None


@pytest.mark.parametrize("unit, camera, reason", [
    ("disparity", Camera(focal_length_mm=4.0, pixel_pitch_um=2.0), "unit is not metric"),
    ("index", Camera(focal_length_mm=4.0, pixel_pitch_um=2.0), "unit is not metric"),
    ("m", None, "focal length unknown"),
    ("m", Camera(f_number=1.8), "focal length unknown"),
])
def test_orthographic_fallback(unit, camera, reason):
    depth = np.arange(H * W, dtype=np.float32).reshape(H, W) + 1
    cloud = depth_to_point_cloud(depth, None, unit=unit, camera=camera)
    rows, cols = np.indices((H, W))
    np.testing.assert_array_equal(cloud.points, np.stack([cols.ravel(), rows.ravel(), depth.ravel()], axis=1))
    assert cloud.projection.startswith("orthographic") and reason in cloud.projection


def test_min_confidence_and_invalid_depth_drop_points():
    depth = _depth()  # one NaN, one inf
    confidence = np.tile(np.linspace(0, 1, W, dtype=np.float32), (H, 1))
    confidence[1, 2] = 1.0  # the NaN pixel is confident but still dropped
    cloud = depth_to_point_cloud(depth, None, unit="index", confidence=confidence, min_confidence=0.5)
    expected = (confidence >= 0.5) & np.isfinite(depth)
    assert len(cloud) == expected.sum() == 4 * H - 1  # columns 4..7 of 8, less the inf at (4, 5)
    assert len(depth_to_point_cloud(depth, None, unit="index", confidence=confidence)) == H * W - 2


def test_colours_come_from_the_image():
    image = np.random.default_rng(2).random((H, W, 3), dtype=np.float32)
    cloud = depth_to_point_cloud(np.ones((H, W), np.float32), image, unit="index")
    np.testing.assert_array_equal(cloud.colors, np.round(image * 255).astype(np.uint8).reshape(-1, 3))
    grey = depth_to_point_cloud(np.ones((H, W), np.float32), image[..., 0], unit="index")
    assert (grey.colors == grey.colors[:, :1]).all()


def test_ply_round_trip_and_layout(tmp_path):
    rng = np.random.default_rng(3)
    cloud = PointCloud(rng.normal(size=(5, 3)).astype(np.float32), rng.integers(0, 256, (5, 3), dtype=np.uint8),
                       "orthographic (test)", ["made by a test"])
    write_ply(tmp_path / "p.ply", cloud)
    raw = (tmp_path / "p.ply").read_bytes()
    header = raw[: raw.index(b"end_header\n") + len(b"end_header\n")].decode("ascii")
    assert header.splitlines() == [
        "ply", "format binary_little_endian 1.0", "comment orthographic (test)", "comment made by a test",
        "element vertex 5", "property float x", "property float y", "property float z",
        "property uchar red", "property uchar green", "property uchar blue", "end_header"]
    assert len(raw) == len(header) + 5 * 15  # 3 float32 + 3 uint8 per point
    np.testing.assert_array_equal(np.frombuffer(raw[len(header):len(header) + 12], "<f4"), cloud.points[0])
    back = read_ply(tmp_path / "p.ply")
    np.testing.assert_array_equal(back.points, cloud.points)
    np.testing.assert_array_equal(back.colors, cloud.colors)
    assert back.projection == "orthographic (test)" and back.comments == ["made by a test"]


def test_ply_reader_refuses_ascii(tmp_path):
    (tmp_path / "a.ply").write_text("ply\nformat ascii 1.0\nelement vertex 1\nproperty float x\nend_header\n1\n")
    with pytest.raises(InputError, match="binary_little_endian"):
        read_ply(tmp_path / "a.ply")


# --- slice index ----------------------------------------------------------------------------------------------


def test_slice_index_from_depth_interpolates_in_the_blur_coordinate():
    # focus at 0.5, 1, 2 m = 2, 1, 0.5 diopters; 1/1.5 m = 1.5 D lies halfway between slices 0 and 1
    depth = np.array([[1 / 1.5, 1.0, 1 / 0.75], [0.25, 10.0, np.nan]], np.float32)
    index = slice_index_map(_result(depth))
    np.testing.assert_allclose(index[0], [0.5, 1.0, 1.5], atol=1e-6)  # 1/0.75 m = 0.75 D: halfway 1 -> 2
    assert index[1, 0] == 0 and index[1, 1] == 2 and np.isnan(index[1, 2])  # clamped to the sweep; no depth


def test_slice_index_for_disparity_near_is_zero():
    index = slice_index_map(_result(np.array([[3.0, 2.5, 1.0]], np.float32), unit="disparity"))
    np.testing.assert_allclose(index, [[0.0, 0.5, 2.0]])


def test_slice_index_of_the_method_is_kept():
    own = np.full((H, W), 1.25, np.float32)
    np.testing.assert_array_equal(slice_index_map(_result(slice_index=own)), own)


# --- write_result -------------------------------------------------------------------------------------------


def test_write_result_every_format_round_trips(tmp_path):
    camera = {"focal_length_mm": 4.0, "pixel_pitch_um": 2.0}
    result = _result(camera=camera)
    out = write_result(result, tmp_path / "out", formats=DEPTH_FORMATS)
    assert sorted(p.name for p in out.iterdir()) == sorted(
        {*FORMAT_FILES.values(), "confidence.npy", "aif.png", "depth_preview.png", "result.json"})
    depth = result.depth
    np.testing.assert_array_equal(np.load(out / "depth.npy"), depth)
    np.testing.assert_array_equal(read_depth_pfm(out / "depth.pfm"), depth)
    np.testing.assert_array_equal(read_depth_tiff(out / "depth.tif"), depth)
    np.testing.assert_array_equal(read_depth_exr(out / "depth.exr")[0], depth)
    png, unit = read_depth_png16(out / "depth16.png")
    finite = np.isfinite(depth)
    assert unit == "m" and np.abs(png[finite] - depth[finite]).max() <= np.ptp(depth[finite]) / 65534 / 2 + 1e-6
    np.testing.assert_array_equal(np.load(out / "index.npy"), slice_index_map(result))
    cloud = read_ply(out / "points.ply")
    assert len(cloud) == H * W - 2 and cloud.projection.startswith("pinhole fx=2000")  # camera from metadata
    summary = json.loads((out / "result.json").read_text())
    assert summary["formats"] == list(DEPTH_FORMATS)
    assert summary["point_cloud"]["points"] == H * W - 2 and summary["camera"] == camera


def test_write_result_camera_argument_and_min_confidence(tmp_path):
    confidence = np.zeros((H, W), np.float32)
    confidence[:2] = 0.9
    out = write_result(_result(confidence=confidence), tmp_path / "out", formats=["ply"], min_confidence=0.5,
                       camera=Camera(focal_length_35mm=36.0))
    cloud = read_ply(out / "points.ply")
    # rows 0-1 less the NaN at (1, 2); f = 36 / 43.27 x 10 px (the diagonal)
    assert len(cloud) == 2 * W - 1 and "fx=8.3205 " in cloud.projection
    assert not (out / "depth.pfm").exists()


def test_write_result_default_writes_no_extra_format(tmp_path):
    out = write_result(_result(), tmp_path / "out")
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["depth.npy", "confidence.npy", "aif.png", "depth_preview.png", "result.json"])


@pytest.mark.parametrize("kwargs, match", [
    ({"formats": ["npy", "jpeg"]}, "unknown output format 'jpeg'"),
    ({"formats": "obj"}, "unknown output format 'obj'"),
    ({"min_confidence": 1.5}, "min_confidence"),
])
def test_write_result_refuses_bad_options_before_writing(tmp_path, kwargs, match):
    with pytest.raises(InputError, match=match):
        write_result(_result(), tmp_path / "out", **kwargs)
    assert not (tmp_path / "out").exists()


def test_missing_openexr_is_a_clear_input_error(tmp_path, monkeypatch):
    real_import = builtins.__import__

    def no_openexr(name, *args, **kwargs):
        if name == "OpenEXR":
            raise ImportError("No module named 'OpenEXR'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_openexr)
    with pytest.raises(InputError, match=r"pip install 'OpenEXR"):
        write_result(_result(), tmp_path / "out", formats=["png16", "exr"])
    assert not (tmp_path / "out").exists()
    with pytest.raises(InputError, match="OpenEXR"):
        read_depth_exr(tmp_path / "any.exr")


def test_16bit_all_in_focus(tmp_path):
    aif = np.linspace(0, 1, H * W, dtype=np.float32).reshape(H, W)
    out = write_result(_result(aif=aif), tmp_path / "out", bit_depth=16)
    pixels = cv2.imread(str(out / "aif.png"), cv2.IMREAD_UNCHANGED)
    assert pixels.dtype == np.uint16
    np.testing.assert_array_equal(pixels, np.round(aif * 65535).astype(np.uint16))


def test_classical_result_through_write_result(tmp_path, synth):
    """End to end: the camera recorded by estimate_depth gives a metric cloud with the stack's depth."""
    depth_d = np.full((32, 40), 1.0, np.float32)  # a plane at 1 diopter = 1 m
    slices, _ = synth.render(depth_d, [1.6, 1.0, 0.4], color=True)
    stack = FocalStack(slices, [1 / 1.6, 1.0, 1 / 0.4], unit="m", camera=Camera(focal_length_mm=4.0,
                                                                                 pixel_pitch_um=2.0))
    result = estimate_depth(stack, method="sml", align="none", refine="none")
    out = write_result(result, tmp_path / "out", formats=["ply", "index", "png16"], min_confidence=0.1)
    cloud = read_ply(out / "points.ply")
    assert cloud.projection.startswith("pinhole fx=2000") and 0 < len(cloud) <= 32 * 40
    assert np.median(cloud.points[:, 2]) == pytest.approx(1.0, abs=0.05)
    assert np.median(np.load(out / "index.npy")) == pytest.approx(1.0, abs=0.1)
