"""FocalStack and Camera: construction from arrays, validation, near-to-far ordering."""

from __future__ import annotations

import math

import numpy as np
import pytest

from focalstack import Camera, FocalStack, InputError


def _distinct_slices(n, shape=(6, 8), dtype=np.float32):
    """n slices whose value identifies them: slice i is filled with (i + 1) / (n + 1)."""
    values = [(i + 1) / (n + 1) for i in range(n)]
    if dtype == np.uint8:
        return [np.full(shape, round(v * 255), np.uint8) for v in values]
    if dtype == np.uint16:
        return [np.full(shape, round(v * 65535), np.uint16) for v in values]
    return [np.full(shape, v, dtype) for v in values]


# --- construction -----------------------------------------------------------------------------------------


def test_from_n_h_w_array():
    images = np.random.default_rng(0).random((3, 6, 8), dtype=np.float32)
    stack = FocalStack(images, [1.0, 2.0, 3.0], unit="m")
    assert len(stack) == 3
    assert stack.shape == (6, 8)
    assert stack.channels == 1
    assert stack[0].dtype == np.float32 and stack[0].shape == (6, 8)
    np.testing.assert_array_equal(stack.to_array(), images)
    assert stack.bit_depth == 32


def test_from_n_h_w_3_array():
    images = np.random.default_rng(1).random((2, 6, 8, 3)).astype(np.float32)
    stack = FocalStack(images, [0.5, 1.0], unit="m")
    assert stack.shape == (6, 8)
    assert stack.channels == 3
    assert stack.to_array().shape == (2, 6, 8, 3)
    np.testing.assert_allclose(stack[1], images[1])


def test_from_list_of_arrays():
    images = _distinct_slices(4)
    stack = FocalStack(images)  # index unit, no positions
    assert len(stack) == 4
    assert stack.unit == "index"
    np.testing.assert_array_equal(stack.focus_positions, [0, 1, 2, 3])
    for k in range(4):
        np.testing.assert_allclose(stack[k], images[k])
    assert [img.mean() for img in stack] == pytest.approx([img.mean() for img in images])


def test_uint8_is_scaled_to_unit_range():
    images = [np.array([[0, 255], [51, 102]], np.uint8), np.array([[255, 0], [0, 0]], np.uint8)]
    stack = FocalStack(images)
    assert stack[0].dtype == np.float32
    np.testing.assert_allclose(stack[0], [[0.0, 1.0], [0.2, 0.4]], atol=1e-6)
    assert stack.bit_depth == 8


def test_uint16_is_scaled_to_unit_range():
    images = [np.array([[0, 65535]], np.uint16), np.array([[13107, 0]], np.uint16)]
    stack = FocalStack(images)
    np.testing.assert_allclose(stack[0], [[0.0, 1.0]], atol=1e-6)
    np.testing.assert_allclose(stack[1], [[0.2, 0.0]], atol=1e-6)
    assert stack.bit_depth == 16


def test_float64_is_converted_to_float32():
    stack = FocalStack([np.full((3, 3), 0.25), np.full((3, 3), 0.75)])
    assert stack[0].dtype == np.float32
    assert float(stack[1][0, 0]) == pytest.approx(0.75)


def test_rgba_slices_drop_alpha():
    images = np.random.default_rng(2).random((2, 5, 7, 4)).astype(np.float32)
    stack = FocalStack(images)
    assert stack.channels == 3
    np.testing.assert_allclose(stack[0], images[0, ..., :3])


def test_negative_index_and_out_of_range():
    stack = FocalStack(_distinct_slices(3))
    np.testing.assert_allclose(stack[-1], stack[2])
    with pytest.raises(IndexError):
        stack[3]
    with pytest.raises(IndexError):
        stack[-4]


def test_repr_mentions_size_and_unit():
    stack = FocalStack(np.zeros((2, 6, 8), np.float32), [1.0, 2.0], unit="m")
    text = repr(stack)
    assert "n=2" in text and "8x6" in text and "'m'" in text


# --- validation -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("images", [np.zeros((1, 4, 4), np.float32), [np.zeros((4, 4), np.float32)], []])
def test_fewer_than_two_slices(images):
    with pytest.raises(InputError, match="at least 2"):
        FocalStack(images)


def test_shape_mismatch():
    with pytest.raises(InputError, match="must match"):
        FocalStack([np.zeros((4, 4), np.float32), np.zeros((4, 5), np.float32)])


def test_channel_mismatch():
    with pytest.raises(InputError, match="must match"):
        FocalStack([np.zeros((4, 4), np.float32), np.zeros((4, 4, 3), np.float32)])


def test_single_2d_array_is_refused():
    with pytest.raises(InputError, match="N x H x W"):
        FocalStack(np.zeros((4, 4), np.float32))


def test_nan_pixels_refused():
    bad = np.zeros((4, 4), np.float32)
    bad[1, 2] = np.nan
    with pytest.raises(InputError, match="NaN"):
        FocalStack([np.zeros((4, 4), np.float32), bad])


def test_out_of_range_float_pixels_refused():
    with pytest.raises(InputError, match=r"\[0, 1\]"):
        FocalStack([np.zeros((4, 4), np.float32), np.full((4, 4), 2.0, np.float32)])


def test_unsupported_dtype_refused():
    with pytest.raises(InputError, match="pixel type"):
        FocalStack([np.zeros((4, 4), np.int32), np.zeros((4, 4), np.int32)])


@pytest.mark.parametrize("bad", [[1.0, np.nan, 3.0], [1.0, np.inf, 3.0], [1.0, 2.0, -np.inf]])
def test_non_finite_positions(bad):
    with pytest.raises(InputError, match="finite"):
        FocalStack(_distinct_slices(3), bad, unit="diopter")


def test_duplicate_positions():
    with pytest.raises(InputError, match="duplicate"):
        FocalStack(_distinct_slices(3), [1.0, 2.0, 1.0], unit="m")


@pytest.mark.parametrize("positions", [[1.0, 2.0], [1.0, 2.0, 3.0, 4.0], []])
def test_wrong_count(positions):
    with pytest.raises(InputError, match="focus positions for 3 slices"):
        FocalStack(_distinct_slices(3), positions, unit="diopter")


@pytest.mark.parametrize("positions", [[0.0, 1.0, 2.0], [-1.0, 1.0, 2.0]])
def test_metres_must_be_positive(positions):
    with pytest.raises(InputError, match="positive"):
        FocalStack(_distinct_slices(3), positions, unit="m")


def test_zero_and_negative_allowed_for_disparity():
    stack = FocalStack(_distinct_slices(3), [-1.0, 0.0, 2.0], unit="disparity")
    np.testing.assert_array_equal(stack.focus_positions, [2.0, 0.0, -1.0])


@pytest.mark.parametrize("unit", ["m", "diopter", "disparity"])
def test_metric_unit_needs_positions(unit):
    with pytest.raises(InputError, match="missing"):
        FocalStack(_distinct_slices(3), None, unit=unit)


def test_non_numeric_positions():
    with pytest.raises(InputError, match="numbers"):
        FocalStack(_distinct_slices(2), ["near", "far"], unit="m")


def test_unknown_unit():
    with pytest.raises(ValueError, match="unknown focus unit"):
        FocalStack(_distinct_slices(2), [1.0, 2.0], unit="feet")


def test_names_count_must_match_longer():
    with pytest.raises(InputError, match="names"):
        FocalStack(_distinct_slices(3), names=["a", "b", "c", "d"])


def test_names_count_must_match_shorter():
    with pytest.raises(InputError):
        FocalStack(_distinct_slices(3), names=["a", "b"])


def test_error_message_names_the_slice():
    with pytest.raises(InputError, match="right.png"):
        FocalStack([np.zeros((4, 4), np.float32), np.zeros((5, 4), np.float32)], names=["left.png", "right.png"])


# --- ordering ---------------------------------------------------------------------------------------------


def test_metres_sorted_ascending_with_slices_and_names():
    images = _distinct_slices(3)
    stack = FocalStack(images, [2.0, 0.5, 1.0], unit="m", names=["a", "b", "c"])
    np.testing.assert_array_equal(stack.focus_positions, [0.5, 1.0, 2.0])
    assert stack.names == ["b", "c", "a"]
    np.testing.assert_allclose(stack[0], images[1])
    np.testing.assert_allclose(stack[1], images[2])
    np.testing.assert_allclose(stack[2], images[0])


@pytest.mark.parametrize("unit", ["diopter", "disparity"])
def test_inverse_units_sorted_descending(unit):
    images = _distinct_slices(4)
    stack = FocalStack(images, [0.5, 3.0, 1.0, 2.0], unit=unit, names=["a", "b", "c", "d"])
    np.testing.assert_array_equal(stack.focus_positions, [3.0, 2.0, 1.0, 0.5])
    assert stack.names == ["b", "d", "c", "a"]
    np.testing.assert_allclose(stack[0], images[1])
    np.testing.assert_allclose(stack[3], images[0])


def test_index_unit_sorted_ascending():
    stack = FocalStack(_distinct_slices(3), [2, 0, 1], unit="index", names=["a", "b", "c"])
    np.testing.assert_array_equal(stack.focus_positions, [0, 1, 2])
    assert stack.names == ["b", "c", "a"]


def test_blur_coordinates_metres_are_diopters():
    stack = FocalStack(_distinct_slices(3), [2.0, 0.5, 0.25], unit="m")
    np.testing.assert_allclose(stack.blur_coordinates, [4.0, 2.0, 0.5])
    # near to far: blur coordinate decreasing
    assert np.all(np.diff(stack.blur_coordinates) < 0)


@pytest.mark.parametrize("unit", ["diopter", "disparity"])
def test_blur_coordinates_inverse_units_unchanged(unit):
    stack = FocalStack(_distinct_slices(3), [1.0, 4.0, 2.5], unit=unit)
    np.testing.assert_allclose(stack.blur_coordinates, [4.0, 2.5, 1.0])


def test_blur_coordinates_index():
    stack = FocalStack(_distinct_slices(3))
    np.testing.assert_array_equal(stack.blur_coordinates, [0, 1, 2])


def test_from_loader_is_lazy_and_checks_decoded_shape():
    calls = []

    def loader(i):
        calls.append(i)
        return np.zeros((4, 5) if i == 1 else (4, 4), np.float32)

    stack = FocalStack.from_loader(loader, [(4, 4), (4, 4)], [1.0, 2.0], unit="diopter", names=["x", "y"])
    assert calls == []
    np.testing.assert_array_equal(stack[1], np.zeros((4, 4)))  # diopter: 2.0 first, so k=1 is file 0
    assert calls == [0]
    with pytest.raises(InputError, match="decoded to size"):
        stack[0]


# --- Camera -----------------------------------------------------------------------------------------------


def test_camera_valid_and_to_dict():
    cam = Camera(focal_length_mm=4.4, f_number=1.8, pixel_pitch_um=1.4)
    assert cam.to_dict() == {"focal_length_mm": 4.4, "f_number": 1.8, "pixel_pitch_um": 1.4}
    assert Camera().to_dict() == {}


@pytest.mark.parametrize("field", ["focal_length_mm", "f_number", "pixel_pitch_um", "sensor_width_mm",
                                   "focal_length_35mm"])
@pytest.mark.parametrize("value", [0.0, -1.0, math.nan, math.inf])
def test_camera_rejects_non_positive_or_non_finite(field, value):
    with pytest.raises(InputError, match=field):
        Camera(**{field: value})


def test_camera_pixel_pitch():
    assert Camera(pixel_pitch_um=2.0).pixel_pitch_for(1000) == 2.0
    assert Camera(sensor_width_mm=6.0).pixel_pitch_for(4000) == pytest.approx(1.5)
    assert Camera(focal_length_mm=4.0).pixel_pitch_for(4000) is None


def test_stack_carries_camera():
    cam = Camera(f_number=2.0)
    stack = FocalStack(_distinct_slices(2), [1.0, 2.0], unit="m", camera=cam)
    assert stack.camera is cam
