"""Depth from Focus in the Wild depth network: size, ablation switches, outputs, gradients, fast CPU paths."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from focalstack.models import create_model, model_entry
from focalstack.models.dffwild import (
    EFD_KINDS,
    SRD_KINDS,
    Conv3d,
    ConvBn,
    DfFWild,
    _subpixel_transposed_conv,
    parameter_breakdown,
    regress,
    upsampling_transposed_conv,
)

# 002, implementation details: feature extraction, multi-scale aggregation, refinement (alignment excluded)
PAPER_PARAMETERS = {"feature_extraction": 0.067e6, "aggregation": 2.883e6, "refinement": 1.067e6}


def _inputs(n=3, h=32, w=32, b=1, c=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(b, n, c, h, w, generator=g), torch.linspace(0.2, 1.5, n).expand(b, n).clone()


def test_parameter_breakdown_matches_the_paper():
    counts = parameter_breakdown(create_model("dffwild"))
    assert counts.keys() == PAPER_PARAMETERS.keys()
    for part, paper in PAPER_PARAMETERS.items():
        assert abs(counts[part] - paper) / paper < 0.05, (part, counts[part])
    assert abs(sum(counts.values()) - 4.017e6) / 4.017e6 < 0.05


def test_variants_share_the_architecture_and_light_is_smaller():
    assert model_entry("dffwild").architecture == model_entry("dffwild_light").architecture == "dffwild"
    full = sum(parameter_breakdown(create_model("dffwild")).values())
    light = sum(parameter_breakdown(create_model("dffwild_light")).values())
    assert light * 3 < full


@pytest.mark.parametrize(("srd", "efd"), [(srd, "efd") for srd in SRD_KINDS] + [("srd", efd) for efd in EFD_KINDS[1:]])
def test_every_ablation_switch_builds_runs_and_trains(srd, efd):
    """Table 5 of 002 swaps one module at a time."""
    model = DfFWild(channels=2, srd=srd, efd=efd).train()
    slices, positions = _inputs(n=3)
    out = model(slices, positions)
    assert len(out.depth_scales) == 4 and torch.isfinite(out.depth).all()
    sum(d.mean() for d in out.depth_scales).backward()
    assert all(p.grad is not None for p in model.parameters())


def test_unknown_ablation_switch_is_rejected():
    with pytest.raises(ValueError, match="srd"):
        DfFWild(srd="resnet4d")
    with pytest.raises(ValueError, match="efd"):
        DfFWild(efd="median")


def test_four_scales_at_full_resolution_coarse_to_fine():
    model = create_model("dffwild").eval()
    slices, positions = _inputs(n=4, h=64, w=96)
    with torch.no_grad():
        out = model(slices, positions)
    assert len(out.depth_scales) == len(out.aif_scales) == 4
    assert all(d.shape == (1, 1, 64, 96) for d in out.depth_scales) and out.depth_scales[-1] is out.depth
    assert all(a.shape == (1, 3, 64, 96) for a in out.aif_scales) and torch.equal(out.aif_scales[-1], out.all_in_focus)
    assert out.probabilities.shape == (1, 4, 64, 96)
    assert torch.allclose(out.probabilities.sum(dim=1), torch.ones(1, 64, 96), atol=1e-5)
    for tensor in [*out.depth_scales, *out.aif_scales, out.probabilities]:
        assert torch.isfinite(tensor).all()
    assert 0.2 - 1e-5 <= out.depth.min() and out.depth.max() <= 1.5 + 1e-5
    assert 0.0 <= out.all_in_focus.min() and out.all_in_focus.max() <= 1.0 + 1e-6


@pytest.mark.parametrize("name", ["dffwild", "dffwild_light"])
def test_one_model_serves_two_and_seven_slices(name):
    model = create_model(name).eval()
    for n in (2, 7):
        slices, positions = _inputs(n=n, h=32, w=64)
        with torch.no_grad():
            out = model(slices, positions)
        assert out.depth.shape == (1, 1, 32, 64) and out.probabilities.shape == (1, n, 32, 64)
        assert torch.isfinite(out.depth).all()


def test_grey_stack_gives_grey_all_in_focus():
    model = create_model("dffwild_light").eval()
    slices, positions = _inputs(n=3, c=1)
    with torch.no_grad():
        out = model(slices, positions)
    assert out.all_in_focus.shape == (1, 1, 32, 32) and torch.isfinite(out.depth).all()


def test_gradient_reaches_every_parameter():
    model = create_model("dffwild").train()
    slices, positions = _inputs(n=3, h=32, w=32)
    out = model(slices, positions)
    loss = sum(w * d.mean() for w, d in zip((0.3, 0.5, 0.7, 1.0), out.depth_scales)) + out.all_in_focus.mean()
    loss.backward()
    missing = [k for k, p in model.named_parameters() if p.grad is None or not torch.isfinite(p.grad).all()]
    assert not missing
    assert all(float(p.grad.abs().sum()) > 0 for p in model.parameters())


def test_regression_follows_the_equations():
    """Peaked logits pick one slice: depth is its position (Eq. 1) and the all-in-focus image is that slice (Eq. 2)."""
    slices, positions = _inputs(n=4, h=8, w=8)
    logits = torch.full((1, 4, 4, 4), -30.0)
    logits[:, 2] = 30.0
    depth, aif, probabilities = regress(logits, positions, slices)
    assert depth.shape == (1, 1, 8, 8) and torch.allclose(depth, positions[0, 2].expand(1, 1, 8, 8), atol=1e-5)
    assert torch.allclose(aif, slices[:, 2], atol=1e-5) and torch.allclose(probabilities[:, 2], torch.ones(1, 8, 8))
    flat = regress(torch.zeros(1, 4, 8, 8), positions, slices)
    assert torch.allclose(flat[0], positions.mean().expand(1, 1, 8, 8), atol=1e-6)  # equal softplus weights


@pytest.mark.parametrize("shape", [(2, 3, 2, 4, 6), (1, 16, 3, 7, 5)])
@pytest.mark.parametrize("function", [upsampling_transposed_conv, _subpixel_transposed_conv])
def test_subpixel_transposed_convolution_equals_pytorchs(shape, function):
    x = torch.randn(*shape).contiguous(memory_format=torch.channels_last_3d).requires_grad_()
    weight = torch.randn(shape[1], 5, 3, 3, 3, requires_grad=True)
    bias = torch.randn(5, requires_grad=True)
    expected = F.conv_transpose3d(x, weight, bias, (1, 2, 2), 1, (0, 1, 1))
    got = function(x, weight, bias)
    assert got.is_contiguous(memory_format=torch.channels_last_3d)
    assert got.shape == expected.shape and torch.allclose(got, expected, atol=1e-4)
    grad = torch.randn_like(expected)
    inputs = (x, weight, bias)
    for a, b in zip(torch.autograd.grad(expected, inputs, grad), torch.autograd.grad(got, inputs, grad)):
        assert torch.allclose(a, b, atol=1e-3)


def test_direct_onednn_convolution_equals_pytorchs():
    conv = Conv3d(8, 4, (3, 1, 1), padding=(1, 0, 0), bias=True)
    reference = nn.Conv3d(8, 4, (3, 1, 1), padding=(1, 0, 0), bias=True)
    reference.load_state_dict(conv.state_dict())
    x = torch.randn(1, 8, 5, 6, 7).contiguous(memory_format=torch.channels_last_3d)
    assert torch.allclose(conv(x), reference(x), atol=1e-5)


@pytest.mark.parametrize("transposed", [False, True])
def test_batch_norm_folded_in_eval_equals_batch_norm(transposed):
    layer = ConvBn(4, 6, relu=False, transposed=transposed)
    with torch.no_grad():
        layer.bn.running_mean.uniform_(-1, 1)
        layer.bn.running_var.uniform_(0.5, 2)
        layer.bn.weight.uniform_(0.5, 2)
        layer.bn.bias.uniform_(-1, 1)
    layer.eval()
    x = torch.randn(1, 4, 3, 8, 8).contiguous(memory_format=torch.channels_last_3d)
    with torch.no_grad():
        assert torch.allclose(layer(x), layer.bn(layer.conv(x)), atol=1e-4)


def test_eval_is_deterministic():
    model = create_model("dffwild_light").eval()
    slices, positions = _inputs(n=5, h=64, w=64)
    with torch.no_grad():
        assert torch.equal(model(slices, positions).depth, model(slices, positions).depth)


@pytest.mark.parametrize("training", [True, False])
def test_convolving_a_tuple_equals_convolving_the_concatenation(training):
    layer = ConvBn(5, 4).train(training)
    a, b = torch.randn(2, 2, 3, 8, 8), torch.randn(2, 3, 3, 8, 8)
    assert torch.allclose(layer((a, b)), layer(torch.cat([a, b], dim=1)), atol=1e-5)


def test_eval_mode_is_differentiable_for_test_time_optimisation():
    model = create_model("dffwild_light").eval()
    slices, positions = _inputs(n=3)
    slices.requires_grad_(True)
    out = model(slices, positions)
    (sum(d.mean() for d in out.depth_scales) + out.all_in_focus.mean()).backward()
    assert torch.isfinite(slices.grad).all() and slices.grad.abs().sum() > 0
    assert all(p.grad is not None for p in model.parameters())
