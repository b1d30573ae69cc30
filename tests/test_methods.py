"""The method layer: one grammar for method strings, one run for `focalstack depth`, `focalstack eval` and Python."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

import focalstack
from focalstack import Camera, FocalStack, InputError
from focalstack.cli import app
from focalstack.methods import MethodSpec, estimate_depth, parse_method, resolve_method
from focalstack.simulate import CameraEffects, SimulationConfig, write_dataset

TINY = SimulationConfig(profile="phone", num=2, size=48, slices=4, seed=11, effects=CameraEffects.none())


@pytest.fixture(scope="module")
def sim_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("methods") / "tiny"
    write_dataset(TINY, root)
    return root


def _invoke(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


# --- the grammar --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("text, expected", [
    ("sml", MethodSpec("sml")),
    ("aifdepthnet_light", MethodSpec("aifdepthnet_light")),
    ("aifdepthnet_light:aif", MethodSpec("aifdepthnet_light", "aif")),
    ("aifdepthnet_light:aif+dihedral", MethodSpec("aifdepthnet_light", "aif", dihedral=True)),
    ("daifnet+tto", MethodSpec("daifnet", tto_steps=30)),
    ("daifnet+tto=5+dihedral", MethodSpec("daifnet", dihedral=True, tto_steps=5)),
])
def test_method_strings_parse_and_print_back(text, expected):
    spec = parse_method(text)
    assert spec == expected
    assert parse_method(str(spec)) == spec  # the canonical string reads back to the same method


@pytest.mark.parametrize("text, fragment", [
    ("", "a method is needed"),
    ("magic", "unknown method 'magic'"),
    ("sml+dihedral", "classical focus measure"),
    ("sml:aif", "classical focus measure"),
    ("tenengrad+tto=3", "classical focus measure"),
    ("aifdepthnet_light+dihedral+dihedral", "unknown or repeated modifier"),
    ("aifdepthnet_light+flip", "unknown or repeated modifier"),
    ("aifdepthnet_light+tto=x", "whole number"),
    ("aifdepthnet_light+tto=0", "at least 1 step"),
    ("aifdepthnet_light+dihedral=2", "unknown or repeated modifier"),
])
def test_bad_method_strings_are_refused(text, fragment):
    with pytest.raises(InputError, match=fragment):
        parse_method(text)


@pytest.mark.parametrize("method, options, flags", [
    ("aifdepthnet_light", {"window": 5}, "--window"),
    ("aifdepthnet_light", {"fusion": "pyramid", "refine": "none"}, "--fusion, --refine"),
    ("aifdepthnet_light", {"tto_lr": 1e-3}, "--tto-lr"),
    ("sml", {"weights": "x.safetensors"}, "--weights"),
    ("sml", {"tto_renderer": "layered"}, "--tto-renderer"),
])
def test_options_that_do_not_apply_are_refused(method, options, flags):
    with pytest.raises(InputError, match=f"^{flags} (does|do) not apply to method"):
        resolve_method(method, **options)


def test_test_time_options_need_tto_and_valid_values():
    resolve_method("aifdepthnet_light+tto=2", tto_lr=1e-3, tto_renderer="layered", tto_aif="coarse")
    with pytest.raises(InputError, match="--tto-lr must be > 0"):
        resolve_method("aifdepthnet_light+tto=2", tto_lr=0.0)
    with pytest.raises(InputError, match="--tto-renderer must be one of"):
        resolve_method("aifdepthnet_light+tto=2", tto_renderer="raytraced")


# --- one run everywhere -------------------------------------------------------------------------------------


def test_depth_and_eval_give_identical_depth_for_the_same_method_string(sim_root, tmp_path):
    methods = ("sml", "aifdepthnet_light:aif+dihedral")
    args = ["eval", "-d", f"sim:{sim_root}", "-o", tmp_path / "report", "-q", "--save-predictions"]
    for method in methods:
        args += ["-m", method]
    result = _invoke(*args)
    assert result.exit_code == 0, result.output
    for method in methods:
        for sample in sorted(p for p in sim_root.iterdir() if p.is_dir()):
            out = tmp_path / "depth" / method.replace(":", "_").replace("+", "_") / sample.name
            done = _invoke("depth", sample, "-o", out, "-m", method, "--align", "none", "-q")
            assert done.exit_code == 0, done.output
            saved = tmp_path / "report" / "predictions" / "sim_tiny" / method / f"tiny_{sample.name}_depth.npy"
            np.testing.assert_array_equal(np.load(out / "depth.npy"), np.load(saved))
            assert json.loads((out / "result.json").read_text())["method"] == method


def test_python_api_equals_the_command_line(sim_root, tmp_path):
    sample = sorted(p for p in sim_root.iterdir() if p.is_dir())[0]
    out = tmp_path / "out"
    done = _invoke("depth", sample, "-o", out, "-m", "tenengrad", "--window", 5, "--refine", "none", "-q")
    assert done.exit_code == 0, done.output
    result = focalstack.estimate_depth(focalstack.read_stack(sample), method="tenengrad", window=5, refine="none")
    np.testing.assert_array_equal(result.depth, np.load(out / "depth.npy"))
    summary = json.loads((out / "result.json").read_text())
    assert summary["alignment"]["method"] == result.metadata["alignment"]["method"]
    assert summary["parameters"]["window"] == 5 and summary["parameters"]["refine"] == "none"
    assert set(result.timings) >= {"align", "total"} and result.timings["total"] >= result.timings["align"]


def test_a_resolved_network_is_reused_and_keeps_its_options(sim_root):
    stack = focalstack.read_stack(sorted(p for p in sim_root.iterdir() if p.is_dir())[0])
    method = resolve_method("aifdepthnet_light+dihedral")
    first, second = (estimate_depth(stack, method=method, align="none") for _ in range(2))
    np.testing.assert_array_equal(first.depth, second.depth)
    assert first.method == "aifdepthnet_light+dihedral" and first.parameters["dihedral"] is True
    plain = estimate_depth(stack, method="aifdepthnet_light", align="none")
    assert not np.array_equal(plain.depth, first.depth)
    np.testing.assert_array_equal(estimate_depth(stack, method="aifdepthnet_light", dihedral=True, align="none").depth,
                                  first.depth)
    with pytest.raises(InputError, match="already holds its options"):
        estimate_depth(stack, method=method, window=5)
    with pytest.raises(InputError, match="contradicts"):
        estimate_depth(stack, method="aifdepthnet_light+tto=3", tto=4)
    with pytest.raises(TypeError, match="unexpected keyword"):
        estimate_depth(stack, method="sml", windw=5)


# --- units under --scale ------------------------------------------------------------------------------------


def test_scale_resizes_lazily_and_the_pixel_pitch_follows():
    rng = np.random.default_rng(2)
    stack = FocalStack(rng.random((3, 40, 60), dtype=np.float32), [0.3, 0.5, 1.0], unit="m",
                       camera=Camera(focal_length_mm=4.4, f_number=1.8, pixel_pitch_um=1.5))
    half = stack.resized(0.5)
    assert half.shape == (20, 30) and half.scale == 0.5
    assert half.camera.pixel_pitch_um == pytest.approx(3.0) and half.camera.focal_length_mm == 4.4
    np.testing.assert_allclose(half[1], stack[1].reshape(20, 2, 30, 2).mean(axis=(1, 3)), atol=1e-6)
    result = estimate_depth(stack, method="sml", scale=0.5, align="none")
    assert result.depth.shape == (20, 30)
    assert result.metadata["scale"] == 0.5 and result.metadata["camera"]["pixel_pitch_um"] == pytest.approx(3.0)
    np.testing.assert_array_equal(result.depth, estimate_depth(half, method="sml", align="none").depth)
    with pytest.raises(InputError, match="scale must be in"):
        stack.resized(1.5)


def test_read_stack_at_a_scale_records_the_pixel_pitch_of_its_pixels(tmp_path):
    import cv2

    rng = np.random.default_rng(3)
    for k in range(3):
        cv2.imwrite(str(tmp_path / f"s{k}.png"), rng.integers(0, 256, (40, 60), dtype=np.uint8))
    (tmp_path / "stack.json").write_text(json.dumps({"focus_positions": [0.3, 0.5, 1.0], "unit": "m", "camera": {
        "focal_length_mm": 4.4, "f_number": 1.8, "pixel_pitch_um": 1.5}}))
    full, quarter = focalstack.read_stack(tmp_path), focalstack.read_stack(tmp_path, scale=0.25)
    assert full.camera.pixel_pitch_um == 1.5 and full.scale == 1
    assert quarter.shape == (10, 15) and quarter.camera.pixel_pitch_um == pytest.approx(6.0) and quarter.scale == 0.25


# --- the command line refuses what does not apply -----------------------------------------------------------


@pytest.mark.parametrize("args, fragment", [
    (["-m", "aifdepthnet_light", "--window", 5], "--window does not apply"),
    (["-m", "aifdepthnet_light", "--peak-fit", "parabolic"], "--peak-fit does not apply"),
    (["-m", "aifdepthnet_light", "--tto-lr", "0.001"], "need --tto"),
    (["-m", "sml", "--weights", "w.safetensors"], "--weights does not apply"),
    (["-m", "sml", "--dihedral"], "classical focus measure"),
    (["-m", "aifdepthnet_light+tto=3", "--tto", 4], "contradicts"),
    (["-m", "sml+tto"], "classical focus measure"),
])
def test_cli_refuses_options_that_do_not_apply(sim_root, tmp_path, args, fragment):
    sample = sorted(p for p in sim_root.iterdir() if p.is_dir())[0]
    out = tmp_path / "out"
    result = _invoke("depth", sample, "-o", out, *args)
    assert result.exit_code == 2, result.output
    assert fragment in result.stderr and "Traceback" not in result.output
    assert not out.exists()
