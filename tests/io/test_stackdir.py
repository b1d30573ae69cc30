"""Stack folders: slice listing, stack.json, focus information, ordering, scaling, lazy decoding."""

from __future__ import annotations

import json
import logging
import warnings

import cv2
import numpy as np
import pytest
import tifffile
from PIL import Image, TiffImagePlugin

import focalstack.io.stackdir as stackdir
from focalstack.errors import InputError
from focalstack.io.stackdir import FocusInfoWarning, read_stack

H, W = 12, 16


def _slice(value, shape=(H, W), dtype=np.uint8):
    """A flat slice whose grey level identifies it."""
    top = 255 if dtype == np.uint8 else 65535
    return np.full(shape, round(value * top), dtype)


def _write(folder, name, pixels):
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    if name.endswith((".tif", ".tiff")):
        tifffile.imwrite(path, pixels)
    else:
        assert cv2.imwrite(str(path), pixels)
    return path


def _stack_folder(folder, names, values, *, sidecar=None, dtype=np.uint8, shape=(H, W)):
    for name, value in zip(names, values):
        _write(folder, name, _slice(value, shape, dtype))
    if sidecar is not None:
        (folder / "stack.json").write_text(json.dumps(sidecar))
    return folder


def _levels(stack):
    """The grey level of each slice, in the stack's (near to far) order."""
    return [round(float(img.mean()), 3) for img in stack]


# --- ordering and focus information -------------------------------------------------------------------------


def test_sidecar_metres_sorted_near_to_far(tmp_path):
    folder = _stack_folder(tmp_path / "s", ["a.png", "b.png", "c.png"], [0.2, 0.4, 0.6],
                           sidecar={"focus_positions": [2.0, 0.5, 1.0], "unit": "m"})
    stack = read_stack(folder)
    assert stack.unit == "m"
    np.testing.assert_array_equal(stack.focus_positions, [0.5, 1.0, 2.0])
    assert stack.names == ["b.png", "c.png", "a.png"]
    assert _levels(stack) == pytest.approx([0.4, 0.6, 0.2], abs=0.003)


def test_sidecar_diopters_sorted_near_to_far(tmp_path):
    folder = _stack_folder(tmp_path / "s", ["a.png", "b.png", "c.png"], [0.2, 0.4, 0.6],
                           sidecar={"focus_positions": [0.5, 2.0, 1.0], "unit": "diopter"})
    stack = read_stack(folder)
    assert stack.unit == "diopter"
    np.testing.assert_array_equal(stack.focus_positions, [2.0, 1.0, 0.5])
    assert stack.names == ["b.png", "c.png", "a.png"]
    assert _levels(stack) == pytest.approx([0.4, 0.6, 0.2], abs=0.003)


def test_sidecar_files_order_honoured_and_other_images_ignored(tmp_path):
    folder = _stack_folder(tmp_path / "s", ["a.png", "b.png", "c.png", "extra.png"], [0.2, 0.4, 0.6, 0.8],
                           sidecar={"files": ["c.png", "a.png", "b.png"], "focus_positions": [1, 2, 3],
                                    "unit": "index"})
    stack = read_stack(folder)
    assert len(stack) == 3
    assert stack.names == ["c.png", "a.png", "b.png"]
    assert "extra.png" not in stack.names
    assert _levels(stack) == pytest.approx([0.6, 0.2, 0.4], abs=0.003)


def test_sidecar_files_with_positions_pair_in_files_order(tmp_path):
    folder = _stack_folder(tmp_path / "s", ["a.png", "b.png"], [0.2, 0.8],
                           sidecar={"files": ["b.png", "a.png"], "focus_positions": [0.3, 3.0], "unit": "m"})
    stack = read_stack(folder)
    assert stack.names == ["b.png", "a.png"]  # b at 0.3 m is nearest
    assert _levels(stack) == pytest.approx([0.8, 0.2], abs=0.003)


def test_without_sidecar_files_sorted_by_name_and_non_images_ignored(tmp_path):
    folder = _stack_folder(tmp_path / "s", ["img_2.png", "img_0.png", "img_1.tif"], [0.6, 0.2, 0.4])
    (folder / "notes.txt").write_text("not an image")
    (folder / "sub.png").mkdir()  # a folder with an image suffix
    with pytest.warns(FocusInfoWarning):
        stack = read_stack(folder)
    assert stack.names == ["img_0.png", "img_1.tif", "img_2.png"]
    assert _levels(stack) == pytest.approx([0.2, 0.4, 0.6], abs=0.003)


def test_no_focus_information_falls_back_to_index_with_warning(tmp_path):
    folder = _stack_folder(tmp_path / "s", ["a.png", "b.png", "c.png"], [0.2, 0.4, 0.6])
    with pytest.warns(FocusInfoWarning, match="slice index") as record:
        stack = read_stack(folder)
    assert len([w for w in record if issubclass(w.category, FocusInfoWarning)]) == 1
    assert stack.unit == "index"
    np.testing.assert_array_equal(stack.focus_positions, [0, 1, 2])


def test_unit_index_alone_ignores_focus_information_silently(tmp_path):
    folder = _stack_folder(tmp_path / "s", ["a.png", "b.png"], [0.2, 0.4],
                           sidecar={"focus_positions": [2.0, 1.0], "unit": "m"})
    with warnings.catch_warnings():
        warnings.simplefilter("error", FocusInfoWarning)
        stack = read_stack(folder, unit="index")
    assert stack.unit == "index"
    assert stack.names == ["a.png", "b.png"]


def test_given_positions_override_sidecar(tmp_path):
    folder = _stack_folder(tmp_path / "s", ["a.png", "b.png", "c.png"], [0.2, 0.4, 0.6],
                           sidecar={"focus_positions": [0.5, 1.0, 2.0], "unit": "m"})
    stack = read_stack(folder, focus_positions=[1.0, 3.0, 2.0], unit="diopter")
    assert stack.unit == "diopter"
    np.testing.assert_array_equal(stack.focus_positions, [3.0, 2.0, 1.0])
    assert stack.names == ["b.png", "c.png", "a.png"]


def test_given_positions_need_a_unit(tmp_path):
    folder = _stack_folder(tmp_path / "s", ["a.png", "b.png"], [0.2, 0.4])
    with pytest.raises(InputError, match="without a unit"):
        read_stack(folder, focus_positions=[1.0, 2.0])


def test_metric_unit_without_positions_refused(tmp_path):
    folder = _stack_folder(tmp_path / "s", ["a.png", "b.png"], [0.2, 0.4])
    with pytest.raises(InputError, match="needs --focus-positions"):
        read_stack(folder, unit="m")


@pytest.mark.parametrize("positions,match", [
    ([1.0], "1 focus positions for 2 slices"),
    ([1.0, 1.0], "duplicate"),
    ([1.0, float("nan")], "finite"),
    ([-1.0, 2.0], "positive"),
])
def test_given_positions_validated(tmp_path, positions, match):
    folder = _stack_folder(tmp_path / "s", ["a.png", "b.png"], [0.2, 0.4])
    with pytest.raises(InputError, match=match):
        read_stack(folder, focus_positions=positions, unit="m")


def _exif_jpeg(path, value, distance_m):
    image = Image.fromarray(_slice(value, (H, W)), mode="L")
    exif = image.getexif()
    exif[0x010F] = "test camera"  # Make: gives the IFD0 a tag so that the EXIF IFD is written
    ifd = exif.get_ifd(0x8769)
    ifd[0x9206] = TiffImagePlugin.IFDRational(round(distance_m * 100), 100)  # SubjectDistance
    ifd[0x829D] = TiffImagePlugin.IFDRational(28, 10)  # FNumber
    image.save(path, exif=exif, quality=95)


def test_exif_focus_distance_used(tmp_path):
    folder = tmp_path / "s"
    folder.mkdir()
    for name, value, distance in (("a.jpg", 0.2, 1.5), ("b.jpg", 0.5, 0.25), ("c.jpg", 0.8, 0.75)):
        _exif_jpeg(folder / name, value, distance)
    with warnings.catch_warnings():
        warnings.simplefilter("error", FocusInfoWarning)
        stack = read_stack(folder)
    assert stack.unit == "m"
    np.testing.assert_allclose(stack.focus_positions, [0.25, 0.75, 1.5])
    assert stack.names == ["b.jpg", "c.jpg", "a.jpg"]
    assert stack.camera is not None and stack.camera.f_number == pytest.approx(2.8)


def test_exif_focus_distances_repeating_fall_back_with_warning(tmp_path):
    folder = tmp_path / "s"
    folder.mkdir()
    for name, value in (("a.jpg", 0.2), ("b.jpg", 0.5)):
        _exif_jpeg(folder / name, value, 1.0)
    with pytest.warns(FocusInfoWarning, match="repeat"):
        stack = read_stack(folder)
    assert stack.unit == "index"


# --- sidecar errors -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("text,match", [
    ("{not json", "cannot read"),
    ("[1, 2]", "JSON object"),
    ('{"files": "a.png"}', "list of file names"),
    ('{"files": ["a.png", "gone.png"]}', "gone.png"),
    ('{"focus_positions": [1, 2]}', "without a 'unit'"),
    ('{"focus_positions": [1, 2], "unit": "feet"}', "unknown focus unit"),
    ('{"focus_positions": [1, 2, 3], "unit": "m"}', "3 focus positions for 2 slices"),
    ('{"focus_positions": [1, 1], "unit": "m"}', "duplicate"),
    ('{"focus_positions": ["near", "far"], "unit": "m"}', "numbers"),
    ('{"focus_positions": 1.5, "unit": "m"}', "list of numbers"),
    ('{"focus_positions": [1, NaN], "unit": "diopter"}', "finite"),
    ('{"focus_positions": [1, 2], "unit": "m", "camera": [4.4]}', "camera"),
    ('{"focus_positions": [1, 2], "unit": "m", "camera": {"f_number": -2}}', "f_number"),
])
def test_sidecar_errors(tmp_path, text, match):
    folder = _stack_folder(tmp_path / "s", ["a.png", "b.png"], [0.2, 0.4])
    (folder / "stack.json").write_text(text)
    with pytest.raises(InputError, match=match):
        read_stack(folder)


def test_sidecar_not_utf8(tmp_path):
    folder = _stack_folder(tmp_path / "s", ["a.png", "b.png"], [0.2, 0.4])
    (folder / "stack.json").write_bytes(b'{"unit": "\xff\xfe"}')
    with pytest.raises(InputError, match="stack.json"):
        read_stack(folder)


def test_sidecar_camera_read(tmp_path):
    folder = _stack_folder(tmp_path / "s", ["a.png", "b.png"], [0.2, 0.4],
                           sidecar={"focus_positions": [1, 2], "unit": "m",
                                    "camera": {"focal_length_mm": 4.4, "f_number": 1.8, "unknown": 3}})
    stack = read_stack(folder)
    assert stack.camera.to_dict() == {"focal_length_mm": 4.4, "f_number": 1.8}


# --- folder and image errors --------------------------------------------------------------------------------


def test_missing_folder(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        read_stack(tmp_path / "nope")


def test_file_instead_of_folder(tmp_path):
    (tmp_path / "f.png").write_bytes(b"x")
    with pytest.raises(InputError, match="is not a folder"):
        read_stack(tmp_path / "f.png")


@pytest.mark.parametrize("count", [0, 1])
def test_too_few_images(tmp_path, count):
    folder = _stack_folder(tmp_path / "s", ["a.png", "b.png"][:count], [0.2, 0.4][:count])
    folder.mkdir(exist_ok=True)
    with pytest.raises(InputError, match=f"holds {count} image"):
        read_stack(folder)


def test_mismatched_sizes(tmp_path):
    folder = _stack_folder(tmp_path / "s", ["a.png"], [0.2])
    _write(folder, "b.png", _slice(0.4, (H, W + 1)))
    with pytest.raises(InputError, match="must match"):
        read_stack(folder, unit="index")


def test_mismatched_channels(tmp_path):
    folder = _stack_folder(tmp_path / "s", ["a.png"], [0.2])
    _write(folder, "b.png", np.zeros((H, W, 3), np.uint8))
    with pytest.raises(InputError, match="must match"):
        read_stack(folder, unit="index")


def test_corrupt_image(tmp_path):
    folder = _stack_folder(tmp_path / "s", ["a.png"], [0.2])
    (folder / "b.png").write_bytes(b"not an image, despite the name")
    with pytest.raises(InputError, match="b.png"):
        read_stack(folder, unit="index")


def test_too_many_megapixels(tmp_path):
    folder = _stack_folder(tmp_path / "s", ["a.png", "b.png"], [0.2, 0.4])
    with pytest.raises(InputError, match="above the limit") as info:
        read_stack(folder, unit="index", max_megapixels=0.0001)
    assert "a.png" in str(info.value) and f"{W}x{H}" in str(info.value)
    read_stack(folder, unit="index", max_megapixels=0.001)  # 192 pixels fit in 1000


def test_megapixel_limit_applies_after_scale(tmp_path):
    folder = _stack_folder(tmp_path / "s", ["a.png", "b.png"], [0.2, 0.4])
    with pytest.raises(InputError, match="above the limit"):
        read_stack(folder, unit="index", max_megapixels=0.0001)
    stack = read_stack(folder, unit="index", scale=0.5, max_megapixels=0.0001)  # 48 pixels
    assert stack.shape == (H // 2, W // 2)


@pytest.mark.parametrize("scale", [0, -0.5, 1.5, float("nan")])
def test_bad_scale(tmp_path, scale):
    folder = _stack_folder(tmp_path / "s", ["a.png", "b.png"], [0.2, 0.4])
    with pytest.raises(InputError, match="scale"):
        read_stack(folder, unit="index", scale=scale)


def test_nan_float_tiff_fails_when_decoded(tmp_path):
    folder = tmp_path / "s"
    folder.mkdir()
    tifffile.imwrite(folder / "a.tif", np.full((H, W), 0.25, np.float32))
    bad = np.full((H, W), 0.5, np.float32)
    bad[2, 3] = np.nan
    tifffile.imwrite(folder / "b.tif", bad)
    stack = read_stack(folder, unit="index")  # headers only: fine
    assert stack.bit_depth == 32
    stack[0]
    with pytest.raises(InputError, match="NaN") as info:
        stack[1]
    assert "b.tif" in str(info.value)


# --- scaling, bit depth, laziness ---------------------------------------------------------------------------


def test_scale_half_halves_size(tmp_path):
    folder = tmp_path / "s"
    rng = np.random.default_rng(0)
    for name in ("a.png", "b.png"):
        _write(folder, name, rng.integers(0, 256, (H, W, 3), dtype=np.uint8))
    stack = read_stack(folder, unit="index", scale=0.5)
    assert stack.shape == (H // 2, W // 2)
    assert stack[0].shape == (H // 2, W // 2, 3)
    full = read_stack(folder, unit="index")
    assert full[0].shape == (H, W, 3)
    # area averaging: the half-size slice is the mean of 2 x 2 blocks
    expected = full[0].reshape(H // 2, 2, W // 2, 2, 3).mean(axis=(1, 3))
    np.testing.assert_allclose(stack[0], expected, atol=1e-5)


def test_scale_odd_size_header_and_decoded_shapes_agree(tmp_path):
    folder = _stack_folder(tmp_path / "s", ["a.png", "b.png"], [0.2, 0.4], shape=(13, 17))
    stack = read_stack(folder, unit="index", scale=0.3)
    assert stack[0].shape == stack.shape == (4, 5)


@pytest.mark.parametrize("dtype,bits", [(np.uint8, 8), (np.uint16, 16)])
def test_bit_depth_reported(tmp_path, dtype, bits):
    folder = _stack_folder(tmp_path / "s", ["a.png", "b.png"], [0.2, 0.4], dtype=dtype)
    stack = read_stack(folder, unit="index")
    assert stack.bit_depth == bits
    assert stack[1].dtype == np.float32
    assert float(stack[1].mean()) == pytest.approx(0.4, abs=1e-3)


def test_mixed_bit_depths_report_the_highest(tmp_path):
    folder = _stack_folder(tmp_path / "s", ["a.png"], [0.2])
    _write(folder, "b.png", _slice(0.4, dtype=np.uint16))
    assert read_stack(folder, unit="index").bit_depth == 16


def test_slices_are_decoded_lazily(tmp_path, monkeypatch):
    folder = _stack_folder(tmp_path / "s", ["a.png", "b.png", "c.png"], [0.2, 0.4, 0.6],
                           sidecar={"focus_positions": [3.0, 1.0, 2.0], "unit": "m"})
    decoded = []
    real = stackdir.read_image_native

    def counting(path, **options):
        decoded.append(path.name)
        return real(path, **options)

    monkeypatch.setattr(stackdir, "read_image_native", counting)
    stack = read_stack(folder)
    assert decoded == []
    assert stack.shape == (H, W)  # from the headers
    first = stack[0]
    assert decoded == ["b.png"]
    assert float(first.mean()) == pytest.approx(0.4, abs=0.003)
    stack[2]
    assert decoded == ["b.png", "a.png"]


# --- known problems -----------------------------------------------------------------------------------------


def _palette_png(path, value):
    Image.fromarray(_slice(value), mode="L").convert("P").save(path)


def _grey_alpha_png(path, value):
    Image.fromarray(_slice(value), mode="L").convert("LA").save(path)


def _rotated_jpeg(path, value):
    image = Image.fromarray(_slice(value), mode="L")
    exif = image.getexif()
    exif[0x0112] = 6  # Orientation: rotate 90 degrees clockwise to display
    image.save(path, exif=exif, quality=95)


@pytest.mark.parametrize("writer,name", [(_palette_png, "p.png"), (_grey_alpha_png, "la.png"),
                                         (_rotated_jpeg, "r.jpg")])
def test_header_and_decoded_shape_agree(tmp_path, writer, name):
    folder = tmp_path / "s"
    folder.mkdir()
    writer(folder / f"0{name}", 0.2)
    writer(folder / f"1{name}", 0.4)
    stack = read_stack(folder, unit="index")
    for image in stack:  # every slice decodes to the size announced by the headers
        assert image.shape[:2] == stack.shape


def test_reading_png_stack_logs_nothing(tmp_path, caplog):
    folder = _stack_folder(tmp_path / "s", ["a.png", "b.png"], [0.2, 0.4],
                           sidecar={"focus_positions": [1, 2], "unit": "m"})
    with caplog.at_level(logging.WARNING):
        read_stack(folder)
    assert [r.getMessage() for r in caplog.records] == []
