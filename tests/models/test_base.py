"""FocalStackNet.predict with dihedral test-time augmentation."""

import numpy as np
import pytest
import torch

from focalstack.models import create_model
from focalstack.models.base import DepthOutput, FocalStackNet, dihedral_mean
from focalstack.stack import FocalStack


class Ramp(FocalStackNet):
    """Depth = a left-to-right ramp over the focus range, whatever the slices: not rotation-equivariant."""

    def _forward(self, slices, positions01):
        b, n, c, h, w = slices.shape
        ramp = torch.linspace(0, 1, w).expand(b, 1, h, w)
        probabilities = torch.full((b, n, h, w), 1.0 / n)
        return DepthOutput(depth=ramp, depth_scales=[ramp], all_in_focus=slices.mean(1), probabilities=probabilities)


class Pointwise(FocalStackNet):
    """Depth from each pixel alone (the position of the brightest slice): equivariant to flips and rotations."""

    def _forward(self, slices, positions01):
        weights = torch.softmax(8 * slices.mean(2), dim=1)
        depth = (weights * positions01[:, :, None, None]).sum(1, keepdim=True)
        return DepthOutput(depth=depth, depth_scales=[depth], all_in_focus=slices.mean(1), probabilities=weights)


def _stack(h=12, w=12, n=4, seed=0):
    rng = np.random.default_rng(seed)
    return FocalStack(rng.random((n, h, w, 3), dtype=np.float32), np.linspace(1.0, 4.0, n), unit="m")


def test_dihedral_mean_of_an_equivariant_model_is_its_plain_prediction():
    stack = _stack(h=12, w=16)  # not square: rotations by 90 degrees change the shape and must be turned back
    model = Pointwise()
    plain, augmented = model.predict(stack), model.predict(stack, dihedral=True)
    np.testing.assert_allclose(augmented.depth, plain.depth, rtol=1e-5)
    np.testing.assert_allclose(augmented.all_in_focus, plain.all_in_focus, atol=1e-6)
    np.testing.assert_allclose(augmented.confidence, plain.confidence, atol=1e-6)


def test_dihedral_mean_averages_a_ramp_to_its_middle():
    # known answer: a left-right ramp seen in all 8 orientations averages to the middle of the range everywhere
    slices = torch.rand(1, 3, 3, 10, 10)
    positions = torch.tensor([[0.0, 0.5, 1.0]])
    out = dihedral_mean(Ramp(), slices, positions)
    torch.testing.assert_close(out.depth, torch.full((1, 1, 10, 10), 0.5))
    assert out.depth.shape == (1, 1, 10, 10)


@pytest.mark.parametrize("name", ["aifdepthnet_light", "daifnet_light"])
def test_dihedral_prediction_of_a_network_keeps_shapes_and_range(name):
    torch.manual_seed(0)
    stack = _stack(h=20, w=36, n=5)
    model = create_model(name)
    result = model.predict(stack, dihedral=True)
    assert result.depth.shape == (20, 36) and result.all_in_focus.shape == (20, 36, 3)
    assert np.isfinite(result.depth).all()
    assert 1.0 - 1e-4 <= result.depth.min() and result.depth.max() <= 4.0 + 1e-4
