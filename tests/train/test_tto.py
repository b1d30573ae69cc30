"""Test-time optimisation: lowers its self-supervised loss on a simulated stack, leaves the caller's model
alone, is deterministic, and refuses stacks it cannot re-render (library and CLI)."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from focalstack.cli import app
from focalstack.errors import InputError
from focalstack.models import DepthOutput, FocalStackNet, create_model, save_weights
from focalstack.simulate.camera import CameraEffects, simulate_stack
from focalstack.simulate.scenes import procedural_scene
from focalstack.stack import Camera, FocalStack
from focalstack.train import tto

SIZE = 32


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tensors here are tiny: one thread is several times faster than two on a busy CPU."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def simulated():
    """A small phone-camera stack of a procedural scene (ideal camera, metres, with camera metadata)."""
    scene = procedural_scene(np.random.default_rng(0), size=(SIZE, SIZE), depth_range_m=(0.15, 1.0))
    return simulate_stack(scene, "phone", num_slices=3, effects=CameraEffects.none(), rng=np.random.default_rng(1),
                          renderer="per_pixel")


@pytest.fixture(scope="module")
def stack(simulated):
    return simulated.to_focal_stack()


def _model(name: str, seed: int = 0):
    torch.manual_seed(seed)
    return create_model(name)


def _state(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


class DepthOnly(FocalStackNet):
    """A network without an all-in-focus output (like a depth-only DfF network): TTO re-renders the coarse
    all-in-focus image instead."""

    def __init__(self, inner: FocalStackNet) -> None:
        super().__init__()
        self.inner, self.size_multiple = inner, inner.size_multiple

    def _forward(self, slices, positions01):
        out = self.inner._forward(slices, positions01)
        return DepthOutput(depth=out.depth, depth_scales=[out.depth])


@pytest.fixture(scope="module")
def run(stack):
    """One optimisation of a random-weight model, shared by the tests that inspect it."""
    model = _model("aifdepthnet_light")
    before = _state(model)
    tuned, report = tto.test_time_optimize(model, stack, 4, lr=3e-3)
    return model, before, tuned, report


def test_tto_lowers_the_loss(stack, run):
    _, _, tuned, report = run
    assert report.loss_after < report.loss_before
    assert len(report.losses) == report.steps == 4 and report.losses[0] == pytest.approx(report.loss_before)
    assert report.seconds > 0 and report.crop == (SIZE, SIZE)
    result = tuned.predict(stack)
    assert result.depth.shape == stack.shape and np.isfinite(result.depth).all()


def test_the_callers_model_is_unchanged(run):
    model, before, tuned, _ = run
    assert tuned is not model and not tuned.training
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items()), "the caller's model changed"
    assert any(not torch.equal(before[k], v) for k, v in tuned.state_dict().items()), "nothing was tuned"


def test_batch_norm_statistics_stay_fixed(run):
    model, _, tuned, _ = run
    buffers = [name for name in model.state_dict() if "running_" in name or "num_batches_tracked" in name]
    assert buffers and all(torch.equal(model.state_dict()[n], tuned.state_dict()[n]) for n in buffers)


def test_random_crops_deterministic_given_a_seed(stack):
    runs = [tto.test_time_optimize(_model("aifdepthnet_light"), stack, 2, lr=3e-3, crop_size=16, eval_crops=1, seed=5)
            for _ in range(2)]
    (first, a), (second, b) = runs
    assert a.crop == (16, 16) and a.losses == b.losses and a.loss_after == b.loss_after
    assert all(torch.equal(v, second.state_dict()[k]) for k, v in first.state_dict().items())
    assert first.predict(stack).depth.shape == stack.shape  # trained on crops, predicts the whole stack


def test_depth_only_model_uses_the_coarse_all_in_focus_image(stack):
    model = DepthOnly(_model("aifdepthnet_light"))
    assert model(*_tensors(stack)).all_in_focus is None
    _, report = tto.test_time_optimize(model, stack, 4, lr=3e-3)
    assert report.loss_after < report.loss_before


def _tensors(stack):
    from focalstack.models import stack_to_tensors

    return stack_to_tensors(stack)


@pytest.mark.parametrize("camera, unit, fragment", [
    (None, "m", "no camera"),
    (Camera(focal_length_mm=4.4, f_number=1.8), "m", "pixel_pitch_um"),
    (Camera(f_number=1.8, pixel_pitch_um=5.6), "m", "focal_length_mm"),
    (Camera(focal_length_mm=4.4, f_number=1.8, pixel_pitch_um=5.6), "disparity", "metres or diopters"),
    (Camera(focal_length_mm=4.4, f_number=1.8, pixel_pitch_um=5.6), "index", "metres or diopters"),
])
def test_refuses_stacks_it_cannot_re_render(simulated, camera, unit, fragment):
    positions = None if unit == "index" else simulated.focus_distances_m
    stack = FocalStack(simulated.slices, positions, unit=unit, camera=camera)
    with pytest.raises(InputError, match=fragment):
        tto.test_time_optimize(_model("aifdepthnet_light"), stack, 1)


def test_diopter_stacks_and_sensor_width_are_accepted(simulated):
    camera = Camera(focal_length_mm=4.4, f_number=1.8, sensor_width_mm=5.6e-3 * SIZE)
    stack = FocalStack(simulated.slices, 1.0 / simulated.focus_distances_m, unit="diopter", camera=camera)
    assert tto.tto_lens(stack) == pytest.approx({"focal_length_mm": 4.4, "f_number": 1.8, "pixel_pitch_um": 5.6})


def test_bad_parameters_are_refused(stack):
    with pytest.raises(InputError, match="steps >= 0"):
        tto.test_time_optimize(_model("aifdepthnet_light"), stack, -1)
    with pytest.raises(InputError, match="aif must be"):
        tto.test_time_optimize(_model("aifdepthnet_light"), stack, 1, aif="sharpest")
    with pytest.raises(InputError, match="TTO needs renderer"):
        tto.test_time_optimize(_model("aifdepthnet_light"), stack, 1, renderer="raytraced")


def test_tto_with_the_layered_renderer_lowers_its_loss(stack):
    _, report = tto.test_time_optimize(_model("aifdepthnet_light"), stack, 4, lr=3e-3, renderer="layered", psf="disc",
                                       num_layers=6)
    assert report.loss_after < report.loss_before


# --- command line -------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    path = tmp_path_factory.mktemp("weights") / "light.safetensors"
    save_weights(_model("aifdepthnet_light"), path)
    return path


def _write_stack(folder, simulated, *, camera: bool):
    folder.mkdir(parents=True)
    names = []
    for k, image in enumerate(simulated.slices):
        names.append(f"s{k}.png")
        assert cv2.imwrite(str(folder / names[-1]), np.round(image[..., ::-1] * 255).astype(np.uint8))
    sidecar = {"files": names, "focus_positions": simulated.focus_distances_m.tolist(), "unit": "m"}
    if camera:
        sidecar["camera"] = simulated.camera.to_dict()
    (folder / "stack.json").write_text(json.dumps(sidecar))
    return folder


def _invoke(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def _assert_exit_2(result, out, fragment):
    assert result.exit_code == 2, (result.exit_code, result.output)
    assert "Traceback" not in result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and fragment in errors[0], result.stderr
    assert not out.exists()


def test_cli_tto_prints_losses_and_records_them(tmp_path, simulated, weights):
    folder = _write_stack(tmp_path / "stack", simulated, camera=True)
    out = tmp_path / "out"
    result = _invoke("depth", folder, "-o", out, "-m", "aifdepthnet_light", "--weights", weights, "--tto", 2,
                     "--tto-lr", 1e-3)
    assert result.exit_code == 0, result.output
    assert "test-time optimisation: 2 steps" in result.stderr and " -> " in result.stderr
    summary = json.loads((out / "result.json").read_text())
    assert len(summary["parameters"]["tto"]["losses"]) == 2 and summary["parameters"]["tto"]["lr"] == 1e-3
    assert summary["parameters"]["tto"]["renderer"] == "per_pixel"
    assert np.load(out / "depth.npy").shape == (SIZE, SIZE)
    layered = tmp_path / "layered"
    result = _invoke("depth", folder, "-o", layered, "-m", "aifdepthnet_light", "--weights", weights, "--tto", 1,
                     "--tto-renderer", "layered")
    assert result.exit_code == 0, result.output
    assert json.loads((layered / "result.json").read_text())["parameters"]["tto"]["renderer"] == "layered"
    coarse = tmp_path / "coarse"
    result = _invoke("depth", folder, "-o", coarse, "-m", "aifdepthnet_light", "--weights", weights, "--tto", 1,
                     "--tto-aif", "coarse")
    assert result.exit_code == 0, result.output
    assert json.loads((coarse / "result.json").read_text())["parameters"]["tto"]["aif"] == "coarse"
    assert summary["parameters"]["tto"]["aif"] == "model"


def test_cli_tto_with_a_classical_method_is_bad_input(tmp_path, simulated):
    folder = _write_stack(tmp_path / "stack", simulated, camera=True)
    out = tmp_path / "out"
    _assert_exit_2(_invoke("depth", folder, "-o", out, "-m", "sml", "--tto", 5), out, "classical focus measure")


def test_cli_tto_without_a_camera_is_bad_input(tmp_path, simulated, weights):
    folder = _write_stack(tmp_path / "stack", simulated, camera=False)
    out = tmp_path / "out"
    _assert_exit_2(_invoke("depth", folder, "-o", out, "-m", "aifdepthnet_light", "--weights", weights, "--tto", 2),
                   out, "no camera")


def test_cli_dihedral_averages_the_model_over_flips_and_rotations(tmp_path, simulated, weights):
    folder = _write_stack(tmp_path / "stack", simulated, camera=False)
    plain, augmented = tmp_path / "plain", tmp_path / "dihedral"
    for out, extra in ((plain, ()), (augmented, ("--dihedral",))):
        result = _invoke("depth", folder, "-o", out, "-m", "aifdepthnet_light", "--weights", weights, "--align",
                         "none", *extra)
        assert result.exit_code == 0, result.output
    assert json.loads((augmented / "result.json").read_text())["parameters"]["dihedral"] is True
    assert json.loads((plain / "result.json").read_text())["parameters"]["dihedral"] is False
    # the same model and stack as predict(dihedral=True) computes it (the slices as the CLI read them: 8-bit PNG)
    slices = [cv2.imread(str(folder / f"s{k}.png"))[..., ::-1] for k in range(len(simulated.slices))]
    stack = FocalStack(np.stack(slices).astype(np.float32) / 255, simulated.focus_distances_m, unit="m")
    expected = create_model("aifdepthnet_light", pretrained=weights).predict(stack, dihedral=True).depth
    # (an untrained model's depth is nearly flat: its orientations differ by about 3e-5, relatively)
    np.testing.assert_allclose(np.load(augmented / "depth.npy"), expected, rtol=1e-6, atol=0)
    assert not np.allclose(np.load(plain / "depth.npy"), expected, rtol=1e-6, atol=0)


def test_cli_dihedral_with_a_classical_method_is_bad_input(tmp_path, simulated):
    folder = _write_stack(tmp_path / "stack", simulated, camera=False)
    out = tmp_path / "out"
    _assert_exit_2(_invoke("depth", folder, "-o", out, "-m", "sml", "--dihedral"), out, "classical focus measure")
