"""The resolution a network works at: the blur estimate from the camera, the factor it gives, full-size
outputs after a reduced-size run, and depth that stays right when the same stack comes with more pixels."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from focalstack import Camera, DepthResult, FocalStack, InputError, estimate_depth, resolve_method
from focalstack.models.working_scale import (
    ENLARGED_BLUR_PX,
    MAX_UPSCALE,
    MAX_UPSCALED_SIDE,
    SMALLEST_BLUR_PX,
    TRAINED_BLUR_PX,
    UNKNOWN_BLUR_LONG_SIDE,
    full_size_result,
    fuse_at_index,
    largest_blur_px,
    network_scale,
    rescaled,
)
from focalstack.simulate import CameraEffects, SimulationConfig
from focalstack.simulate.dataset import generate

PHONE = Camera(focal_length_mm=4.4, f_number=1.8, pixel_pitch_um=1.4)


def _stack(positions=(0.1, 0.15, 0.3), unit="m", camera=PHONE, size=(32, 40)):
    return FocalStack(np.zeros((len(positions), *size), np.float32), list(positions), unit=unit, camera=camera)


def test_largest_blur_is_the_thin_lens_circle_of_confusion_in_pixels():
    f, n, near, far = 4.4e-3, 1.8, 0.1, 0.3
    # the far end seen focused at the near end: |d - F| / d * f^2 / (N (F - f)), over the pixel pitch
    expected = max((far - near) / far * f * f / (n * (near - f)), (far - near) / near * f * f / (n * (far - f)))
    assert largest_blur_px(_stack()) == pytest.approx(expected / 1.4e-6, rel=1e-9)
    diopters = _stack(positions=(10.0, 1 / 0.15, 1 / 0.3), unit="diopter")
    assert largest_blur_px(diopters) == pytest.approx(largest_blur_px(_stack()), rel=1e-9)


def test_pixel_pitch_from_the_35mm_equivalent_focal_length():
    # a 4.4 mm lens equivalent to 26 mm on a 4000 x 3000 frame: the sensor diagonal is 43.27 * 4.4 / 26 mm
    exif = Camera(focal_length_mm=4.4, f_number=1.8, focal_length_35mm=26)
    pitch_um = 1000 * 43.27 * 4.4 / 26 / 5000
    with_pitch = Camera(focal_length_mm=4.4, f_number=1.8, pixel_pitch_um=pitch_um)
    assert largest_blur_px(_stack(camera=exif, size=(3000, 4000))) == pytest.approx(
        largest_blur_px(_stack(camera=with_pitch, size=(3000, 4000))), rel=1e-9)


@pytest.mark.parametrize("stack", [
    _stack(camera=None),
    _stack(unit="index", positions=(0, 1, 2)),
    _stack(camera=Camera(focal_length_mm=4.4)),  # no f-number
    _stack(camera=Camera(focal_length_mm=4.4, f_number=1.8)),  # no pixel pitch or sensor width
])
def test_unknown_blur_caps_the_longer_side(stack):
    assert largest_blur_px(stack) is None
    assert network_scale(stack) == 1.0  # 40 pixels across
    big = FocalStack.from_loader(lambda k: np.zeros((1536, 2048), np.float32), [(1536, 2048)] * 3,
                                 stack.focus_positions, unit=stack.unit, camera=stack.camera)
    assert network_scale(big) == pytest.approx(UNKNOWN_BLUR_LONG_SIDE / 2048)


def test_too_little_blur_is_enlarged_within_limits():
    small = _stack(camera=Camera(focal_length_mm=4.4, f_number=1.8, pixel_pitch_um=11.2))  # about 6.7 px
    assert largest_blur_px(small) < SMALLEST_BLUR_PX
    assert network_scale(small) == pytest.approx(ENLARGED_BLUR_PX / largest_blur_px(small))
    tiny = _stack(camera=Camera(focal_length_mm=4.4, f_number=1.8, pixel_pitch_um=200))
    assert network_scale(tiny) == MAX_UPSCALE
    wide = FocalStack.from_loader(lambda k: np.zeros((800, 1200), np.float32), [(800, 1200)] * 3,
                                  [0.1, 0.15, 0.3], unit="m", camera=Camera(focal_length_mm=4.4, f_number=1.8,
                                                                            pixel_pitch_um=11.2))
    assert network_scale(wide) == pytest.approx(MAX_UPSCALED_SIDE / 1200)
    larger = rescaled(small, 2.0)
    assert larger.shape == (64, 80) and larger.camera.pixel_pitch_um == pytest.approx(5.6)
    assert larger[0].shape == (64, 80) and larger.scale == 2.0


def test_scale_brings_the_blur_to_the_trained_size_and_leaves_small_blur_alone():
    big = _stack()
    assert network_scale(big) == pytest.approx(TRAINED_BLUR_PX / largest_blur_px(big))
    assert network_scale(big) < 0.6
    coarse = _stack(camera=Camera(focal_length_mm=4.4, f_number=1.8, pixel_pitch_um=5.6))  # a quarter of the blur
    assert largest_blur_px(coarse) < TRAINED_BLUR_PX and network_scale(coarse) == 1.0
    nearly = _stack(camera=Camera(focal_length_mm=4.4, f_number=1.8, pixel_pitch_um=1.4 * 54 / 29.5))
    assert TRAINED_BLUR_PX < largest_blur_px(nearly) and network_scale(nearly) == 1.0  # not worth resampling


def test_fusion_blends_the_two_slices_around_the_index():
    slices = np.stack([np.full((6, 5, 3), k / 10, np.float32) for k in range(4)])
    stack = FocalStack(slices, [1.0, 2.0, 3.0, 4.0], unit="m")
    index = np.full((6, 5), 1.25, np.float32)
    index[0, 0] = 3.0
    aif = fuse_at_index(stack, index)
    assert aif.shape == (6, 5, 3)
    np.testing.assert_allclose(aif[1:, 1:], 0.125, atol=1e-6)  # 0.75 * slice 1 + 0.25 * slice 2
    np.testing.assert_allclose(aif[0, 0], 0.3, atol=1e-6)


def test_upsampled_result_has_full_size_and_interpolates_in_inverse_depth():
    full = FocalStack(np.random.default_rng(0).random((3, 20, 30)).astype(np.float32), [0.5, 1.0, 2.0], unit="m")
    small_depth = np.full((10, 15), 1.0, np.float32)
    small_depth[:, 8:] = 2.0
    result = DepthResult(depth=small_depth, all_in_focus=np.zeros((10, 15), np.float32),
                         confidence=np.full((10, 15), 0.5, np.float32), unit="m",
                         focus_positions=full.focus_positions.copy())
    up = full_size_result(result, full)
    assert up.depth.shape == up.confidence.shape == up.all_in_focus.shape == up.slice_index.shape == (20, 30)
    assert up.depth.min() == pytest.approx(1.0) and up.depth.max() == pytest.approx(2.0)
    edge = up.depth[5, 14:18]  # across the step, blending 1 and 0.5 diopters: never a depth outside [1, 2]
    assert np.all(np.diff(1 / edge) <= 1e-6)
    np.testing.assert_allclose(up.slice_index[:, :10], 1.0, atol=1e-6)  # 1 m is slice 1
    np.testing.assert_allclose(up.all_in_focus[:, :10], full[1][:, :10], atol=1e-6)
    np.testing.assert_allclose(up.confidence, 0.5, atol=1e-6)
    big = DepthResult(depth=np.full((40, 60), 2.0, np.float32), all_in_focus=np.zeros((40, 60), np.float32),
                      confidence=np.ones((40, 60), np.float32), unit="m", focus_positions=full.focus_positions.copy())
    down = full_size_result(big, full)  # from an enlarged run back down
    assert down.depth.shape == (20, 30) and np.allclose(down.depth, 2.0) and np.allclose(down.slice_index, 2.0)


@pytest.mark.parametrize("bad", [0, 4.5, -1, "half"])
def test_bad_net_scale_is_refused(bad):
    with pytest.raises(InputError, match="--net-scale must be auto or a factor"):
        resolve_method("aifdepthnet_light", net_scale=bad)
    with pytest.raises(InputError, match="--net-scale does not apply"):
        resolve_method("sml", net_scale=0.5)


def test_more_pixels_of_the_same_scene_keep_the_depth_right():
    """A simulated phone stack, and the same stack 3x larger with a 3x finer pixel pitch (3x the blur in
    pixels): the network runs the large one at about a third of its size and its depth error stays within 1.5x
    of the original's; outputs come back at the large size."""
    config = SimulationConfig(profile="phone", num=1, size=160, slices=6, seed=11, effects=CameraEffects.none())
    sample = generate(config, 0)
    small = sample.to_focal_stack()
    factor = 3
    slices = np.stack([cv2.resize(s, None, fx=factor, fy=factor, interpolation=cv2.INTER_CUBIC) for s in small])
    camera = Camera(focal_length_mm=small.camera.focal_length_mm, f_number=small.camera.f_number,
                    pixel_pitch_um=small.camera.pixel_pitch_um / factor)
    large = FocalStack(np.clip(slices, 0, 1), list(small.focus_positions), unit="m", camera=camera)
    assert largest_blur_px(large) == pytest.approx(factor * largest_blur_px(small), rel=1e-6)

    truth = 1 / np.asarray(sample.depth_m, np.float64)  # diopters
    method = resolve_method("aifdepthnet_light")
    base = estimate_depth(small, method=method, align="none")
    auto = estimate_depth(large, method=method, align="none")
    assert auto.depth.shape == auto.confidence.shape == large.shape and auto.all_in_focus.shape[:2] == large.shape
    assert auto.parameters["net_scale"]["mode"] == "auto"
    assert auto.parameters["net_scale"]["factor"] == pytest.approx(network_scale(large), abs=1e-4)
    assert network_scale(large) < 0.9

    err_base = np.mean((1 / base.depth - truth) ** 2)
    back = cv2.resize(auto.depth, small.shape[::-1], interpolation=cv2.INTER_AREA)
    err_auto = np.mean((1 / back - truth) ** 2)
    assert err_auto <= 1.5 * err_base + 1e-3, (err_auto, err_base)


def test_command_line_net_scale_runs_smaller_and_writes_full_size(tmp_path):
    import json

    from typer.testing import CliRunner

    from focalstack.cli import app
    from focalstack.io.stackdir import write_stack

    rng = np.random.default_rng(3)
    write_stack(FocalStack(rng.random((3, 48, 64, 3)).astype(np.float32), [0.2, 0.4, 0.8], unit="m"),
                tmp_path / "stack")
    done = CliRunner().invoke(app, ["depth", str(tmp_path / "stack"), "-o", str(tmp_path / "out"), "--net-scale",
                                    "0.5", "-q"])
    assert done.exit_code == 0, done.output
    assert np.load(tmp_path / "out" / "depth.npy").shape == (48, 64)
    shown = CliRunner().invoke(app, ["depth", str(tmp_path / "stack"), "-o", str(tmp_path / "out"), "--net-scale",
                                     "0.5", "--overwrite"])
    assert "network at 0.50x the input's size (--net-scale)" in shown.output
    summary = json.loads((tmp_path / "out" / "result.json").read_text())
    assert summary["parameters"]["net_scale"] == {"mode": "fixed", "factor": 0.5}
    refused = CliRunner().invoke(app, ["depth", str(tmp_path / "stack"), "-o", str(tmp_path / "o2"), "-m", "sml",
                                       "--net-scale", "0.5"])
    assert refused.exit_code == 2 and "--net-scale does not apply" in refused.output
    assert not (tmp_path / "o2").exists()


def test_command_line_says_what_the_automatic_size_was_chosen_from(tmp_path):
    import json

    from typer.testing import CliRunner

    from focalstack.cli import app
    from focalstack.io.stackdir import write_stack

    rng = np.random.default_rng(4)
    slices = rng.random((3, 40, 1300)).astype(np.float32)  # longer side over 1,024 px
    write_stack(FocalStack(slices, [0.2, 0.4, 0.8], unit="m"), tmp_path / "bare")
    shown = CliRunner().invoke(app, ["depth", str(tmp_path / "bare"), "-o", str(tmp_path / "out1")])
    assert shown.exit_code == 0, shown.output
    assert "(chosen from the image size: the camera or focus distances do not give the blur)" in shown.output
    recorded = json.loads((tmp_path / "out1" / "result.json").read_text())["parameters"]["net_scale"]
    assert recorded["mode"] == "auto" and recorded["largest_blur_px"] is None
    assert recorded["factor"] == pytest.approx(1024 / 1300, abs=1e-4)

    camera = Camera(focal_length_mm=4.4, f_number=1.8, pixel_pitch_um=1.4)
    stack = FocalStack(rng.random((3, 48, 64)).astype(np.float32), [0.1, 0.15, 0.3], unit="m", camera=camera)
    write_stack(stack, tmp_path / "camera")
    shown = CliRunner().invoke(app, ["depth", str(tmp_path / "camera"), "-o", str(tmp_path / "out2")])
    assert shown.exit_code == 0, shown.output
    blur = largest_blur_px(stack)
    assert f"(chosen from the largest blur, {blur:.0f} px)" in shown.output
    recorded = json.loads((tmp_path / "out2" / "result.json").read_text())["parameters"]["net_scale"]
    assert recorded["largest_blur_px"] == pytest.approx(blur, abs=0.01)
