"""Tiled network inference: plans within a memory budget, exact reassembly for a pixel-wise network,
agreement with the whole-frame result away from seams, and seams that do not show."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from focalstack import FocalStack, InputError, estimate_depth
from focalstack.cli import app
from focalstack.models import create_model
from focalstack.models.base import DepthOutput, FocalStackNet
from focalstack.models.tiling import MIN_TILE, TilePlan, _feather, plan_tiles, predict_tiled
from focalstack.simulate import CameraEffects, SimulationConfig
from focalstack.simulate.dataset import generate


class PixelwiseNet(FocalStackNet):
    """Each output pixel depends only on the same input pixel: tiling must not change anything."""

    size_multiple = 16

    def _forward(self, slices, positions01):
        grey = slices.mean(dim=2)  # B x N x H x W
        probabilities = torch.softmax(8 * grey, dim=1)
        depth = (probabilities * positions01[:, :, None, None]).sum(dim=1, keepdim=True)
        aif = (probabilities[:, :, None] * slices).sum(dim=1)
        return DepthOutput(depth=depth, all_in_focus=aif, depth_scales=[depth], probabilities=probabilities)


@pytest.fixture(scope="module")
def stack():
    config = SimulationConfig(profile="phone", num=1, size=224, slices=5, seed=4, effects=CameraEffects.none())
    return generate(config, 0).to_focal_stack()


def test_windows_cover_the_frame_and_overlap():
    plan = TilePlan(tile=64, overlap=16)
    windows = plan.windows(150, 100)
    cover = np.zeros((150, 100), int)
    for rows, cols in windows:
        assert rows.stop - rows.start == 64 and cols.stop - cols.start == 64
        cover[rows, cols] += 1
    assert cover.min() >= 1 and cover.max() == 4  # corners of four tiles meet
    assert TilePlan(tile=256, overlap=16).windows(150, 100) == [(slice(0, 150), slice(0, 100))]


def test_feathering_ramps_inside_only():
    weight = _feather(slice(0, 64), slice(36, 100), 16, 150, 100)  # top-left-ish tile touching top and right
    assert weight[0, -1] == 1  # image borders get no ramp
    assert weight[-1, 20] < 0.05 and weight[20, 0] < 0.05  # edges inside the image fade out
    assert weight[30, 40] == 1


def test_plan_fits_tiles_or_refuses(stack):
    model = create_model("aifdepthnet_light")
    assert plan_tiles(model, stack, 64 * 2**30) is None
    plan = plan_tiles(model, stack, 530 * 2**20)
    assert plan is not None and plan.tile % model.size_multiple == 0 and MIN_TILE <= plan.tile < 224
    with pytest.raises(InputError, match="cannot hold one 128x128 tile"):
        plan_tiles(model, stack, 515 * 2**20)
    assert plan_tiles(model, stack, 64 * 2**30, tile=100).tile == 96  # forced, rounded to the size multiple


def test_a_pixelwise_network_is_reassembled_exactly(stack):
    model = PixelwiseNet().eval()
    whole = model.predict(stack)
    for plan in (TilePlan(96, 32), TilePlan(80, 16, cache_on_disk=True)):
        tiled = predict_tiled(model, stack, plan)
        # the only difference: the slices pass through a 16-bit cache
        np.testing.assert_allclose(tiled.depth, whole.depth, atol=1e-4)
        np.testing.assert_allclose(tiled.all_in_focus, whole.all_in_focus, atol=1e-4)
        np.testing.assert_allclose(tiled.confidence, whole.confidence, atol=1e-4)


def test_tiled_network_matches_the_whole_frame_away_from_seams_and_seams_do_not_show(stack):
    """Stated tolerance: with 128-pixel tiles overlapping by 32 on a 224x224 stack, the released
    aifdepthnet_light's depth differs from the whole-frame depth by less than 2 % of the depth range on
    average and 5 % at the 95th percentile; the depth's step across a seam is no larger than the
    whole-frame depth's step at the same place (x 1.5)."""
    whole = estimate_depth(stack, method="aifdepthnet_light", align="none")
    tiled = estimate_depth(stack, method="aifdepthnet_light", align="none", tile=128)
    assert tiled.parameters["tiles"]["count"] == 4
    span = float(whole.depth.max() - whole.depth.min())
    error = np.abs(tiled.depth - whole.depth) / span
    assert error.mean() < 0.02 and np.percentile(error, 95) < 0.05
    seam = 224 - 128 + 16  # the middle of the overlap band, where the blend is half-half
    for depth_tiled, depth_whole in ((tiled.depth, whole.depth), (tiled.depth.T, whole.depth.T)):
        step_tiled = np.abs(np.diff(depth_tiled[:, seam - 20:seam + 20], axis=1)).mean()
        step_whole = np.abs(np.diff(depth_whole[:, seam - 20:seam + 20], axis=1)).mean()
        assert step_tiled < 1.5 * step_whole


def test_memory_and_device_options_are_checked(stack):
    with pytest.raises(InputError, match="memory budget"):
        estimate_depth(stack, method="sml", align="none", max_memory="1M")
    with pytest.raises(InputError, match="must be a size"):
        estimate_depth(stack, method="sml", align="none", max_memory="lots")
    with pytest.raises(InputError, match="--tile does not apply"):
        estimate_depth(stack, method="sml", align="none", tile=64)
    with pytest.raises(InputError, match="--device does not apply"):
        estimate_depth(stack, method="sml", align="none", device="cpu")
    with pytest.raises(InputError, match="must be one of"):
        estimate_depth(stack, method="aifdepthnet_light", align="none", device="tpu")
    if not torch.cuda.is_available():
        with pytest.raises(InputError, match="no CUDA device"):
            estimate_depth(stack, method="aifdepthnet_light", align="none", device="cuda")
    result = estimate_depth(stack, method="aifdepthnet_light", align="none", device="cpu")
    assert result.parameters["device"] == "cpu"


def test_cli_refuses_a_budget_that_cannot_hold_one_tile(tmp_path):
    from focalstack.io.stackdir import write_stack

    rng = np.random.default_rng(0)
    folder = write_stack(FocalStack(rng.random((4, 200, 200, 3), dtype=np.float32), [0.3, 0.4, 0.6, 0.9], unit="m"),
                         tmp_path / "stack")
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["depth", str(folder), "-o", str(out), "-m", "daifnet", "--max-memory", "520M"])
    assert result.exit_code == 2 and "cannot hold one 128x128 tile" in result.stderr and not out.exists()
