"""DAIF-Net: shapes, ranges, invariance to slice order, any N, gradients, size of the paper variant."""

import pytest
import torch

from focalstack.models import create_model
from focalstack.models.daifnet import DAIFNet, conv_act, expected_position, fuse_runs, max_over_slices

REFERENCE_PARAMETERS = 1_963_332  # the authors' implementation (base width 16, 4 levels)


def _inputs(n, *, b=1, c=3, h=32, w=48, seed=0):
    g = torch.Generator().manual_seed(seed)
    slices = torch.rand(b, n, c, h, w, generator=g)
    positions = torch.sort(torch.rand(b, n, generator=g) * 2.0 + 0.2, dim=1).values
    return slices, positions


@pytest.fixture(scope="module")
def light():
    torch.manual_seed(0)
    model = create_model("daifnet_light").eval()
    with torch.no_grad():  # a non-zero all-in-focus residual, so that clipping and mixing are exercised
        model.residual.weight.normal_(0.0, 0.5)
    return model


@pytest.mark.parametrize("name", ["daifnet", "daifnet_light"])
def test_shapes(name):
    model = create_model(name).eval()
    slices, positions = _inputs(4, b=2)
    with torch.no_grad():
        out = model(slices, positions)
    assert out.depth.shape == (2, 1, 32, 48)
    assert out.depth_scales == [out.depth]
    assert out.all_in_focus.shape == (2, 3, 32, 48)
    assert out.probabilities.shape == (2, 4, 32, 48)
    assert torch.allclose(out.probabilities.sum(dim=1), torch.ones(2, 32, 48), atol=1e-5)


def test_all_in_focus_in_unit_range_and_depth_within_positions(light):
    slices, positions = _inputs(5, b=2)
    with torch.no_grad():
        out = light(slices, positions)
    assert out.all_in_focus.min() >= 0.0 and out.all_in_focus.max() <= 1.0
    lo, hi = positions.amin(dim=1), positions.amax(dim=1)
    assert (out.depth >= lo[:, None, None, None] - 1e-5).all() and (out.depth <= hi[:, None, None, None] + 1e-5).all()


@pytest.mark.parametrize("name", ["daifnet", "daifnet_light"])
def test_slice_order_does_not_matter(name):
    torch.manual_seed(1)
    model = create_model(name).eval()
    slices, positions = _inputs(6, b=2)
    order = torch.tensor([3, 0, 5, 1, 4, 2])
    with torch.no_grad():
        out = model(slices, positions)
        shuffled = model(slices[:, order], positions[:, order])
    assert torch.allclose(shuffled.depth, out.depth, atol=1e-5)
    assert torch.allclose(shuffled.all_in_focus, out.all_in_focus, atol=1e-5)
    assert torch.allclose(shuffled.probabilities, out.probabilities[:, order], atol=1e-5)


@pytest.mark.parametrize("n", [2, 9])
def test_any_number_of_slices(light, n):
    slices, positions = _inputs(n, h=48, w=40)
    with torch.no_grad():
        out = light(slices, positions)
    assert out.depth.shape == (1, 1, 48, 40) and out.probabilities.shape == (1, n, 48, 40)
    assert torch.isfinite(out.depth).all() and torch.isfinite(out.all_in_focus).all()


def test_stacks_of_a_batch_do_not_mix(light):
    slices, positions = _inputs(3, b=2)
    with torch.no_grad():
        together = light(slices, positions)
        alone = [light(slices[i : i + 1], positions[i : i + 1]) for i in range(2)]
    assert torch.allclose(together.depth, torch.cat([o.depth for o in alone]), atol=1e-5)
    assert torch.allclose(together.all_in_focus, torch.cat([o.all_in_focus for o in alone]), atol=1e-5)


def test_training_and_evaluation_compute_the_same_function(light):
    slices, positions = _inputs(3)
    with torch.no_grad():
        evaluated = light(slices, positions).depth
        trained = light.train()(slices, positions).depth
    light.eval()
    assert torch.equal(evaluated, trained)


def test_grey_stacks_give_a_grey_all_in_focus(light):
    slices, positions = _inputs(3, c=1)
    with torch.no_grad():
        out = light(slices, positions)
    assert out.all_in_focus.shape == (1, 1, 32, 48)
    with pytest.raises(ValueError, match="channels"):
        light(torch.rand(1, 3, 2, 32, 48), positions)


def test_uniform_focus_scores_give_the_mean_position_and_the_mean_slice():
    """Known answer for Eq. 6-7: equal logits weight every slice alike."""
    model = create_model("daifnet_light").eval()
    with torch.no_grad():
        model.head.logit.weight.zero_()
        model.head.logit.bias.zero_()
        slices, positions = _inputs(4)
        out = model(slices, positions)
    assert torch.allclose(out.depth, positions.mean(dim=1).view(1, 1, 1, 1).expand(1, 1, 32, 48), atol=1e-5)
    assert torch.allclose(out.all_in_focus, slices.mean(dim=1), atol=1e-6)  # the residual starts at zero


def test_expected_position_follows_a_confident_slice():
    logits = torch.full((1, 3, 2, 2), -30.0)
    logits[:, 1] = 30.0
    depth = expected_position(logits, torch.tensor([[0.0, 0.25, 1.0]]))
    assert torch.allclose(depth, torch.full((1, 1, 2, 2), 0.25), atol=1e-6)


def test_max_over_slices():
    x = torch.randn(6, 4, 5, 7)
    expected = x.view(2, 3, 4, 5, 7).amax(dim=1)
    assert torch.equal(max_over_slices(x, 3), expected)
    assert torch.equal(max_over_slices(x.contiguous(memory_format=torch.channels_last), 3), expected)


@pytest.mark.parametrize("name", ["daifnet", "daifnet_light"])
def test_gradient_reaches_every_parameter(name):
    torch.manual_seed(0)
    model = create_model(name).train()
    slices, positions = _inputs(3, h=32, w=32)
    out = model(slices, positions)
    (out.depth.mean() + out.all_in_focus.mean()).backward()
    dead = [k for k, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert not dead, dead


def test_parameter_counts():
    count = lambda model: sum(p.numel() for p in model.parameters())  # noqa: E731
    paper = count(create_model("daifnet"))
    assert abs(paper - REFERENCE_PARAMETERS) / REFERENCE_PARAMETERS < 0.02
    assert count(create_model("daifnet_light")) < paper / 3


def test_size_multiple_follows_the_number_of_levels():
    assert DAIFNet(width=4, levels=3).size_multiple == 8
    assert create_model("daifnet").size_multiple == 16


def test_fused_inference_path_matches_the_autograd_path(light):
    """Without gradients the convolutions run as fused oneDNN calls; with them, as plain ops."""
    slices, positions = _inputs(4, b=2)
    with torch.no_grad():
        fast = light(slices, positions)
    plain = light(slices, positions)  # parameters require grad: the autograd path
    assert torch.allclose(fast.depth, plain.depth, atol=1e-5)
    assert torch.allclose(fast.all_in_focus, plain.all_in_focus, atol=1e-5)
    assert torch.allclose(fast.probabilities, plain.probabilities, atol=1e-5)


def test_runs_of_slices_give_the_same_result(light):
    slices, positions = _inputs(5, b=2)
    with torch.no_grad():
        whole = light(slices, positions)
        light.group_bytes = 1  # one slice per run
        try:
            single = light(slices, positions)
        finally:
            light.group_bytes = DAIFNet().group_bytes
    assert torch.allclose(single.depth, whole.depth, atol=1e-5)
    assert torch.allclose(single.all_in_focus, whole.all_in_focus, atol=1e-5)


@pytest.mark.parametrize("with_offset", [False, True])
@pytest.mark.parametrize("relu", [False, True])
def test_conv_act(with_offset, relu):
    torch.manual_seed(0)
    conv = torch.nn.Conv2d(5, 7, 3, padding=1)
    x = torch.randn(4, 5, 9, 11).contiguous(memory_format=torch.channels_last)
    offset = torch.randn(4, 7, 1, 1) if with_offset else None
    expected = conv(x) + (offset if with_offset else 0)
    expected = expected.relu() if relu else expected
    with torch.no_grad():
        fast = conv_act(conv, x, offset=offset, relu=relu)
    assert torch.allclose(fast, expected, atol=1e-5)
    assert torch.allclose(conv_act(conv, x, offset=offset, relu=relu), expected, atol=1e-5)


def test_fuse_runs_is_the_maximum_over_each_stack():
    x = torch.randn(2, 5, 3, 4, 6)
    groups = [(0, slice(0, 3)), (0, slice(3, 5)), (1, slice(0, 3)), (1, slice(3, 5))]
    runs = [x[i, js] for i, js in groups]
    assert torch.equal(fuse_runs(runs, groups), x.amax(dim=1))


def test_head_context_keeps_the_contract():
    """head_context feeds the focus head the slices' own level-1 and level-2 features: the output is
    still independent of slice order and of how slices are grouped, the fused inference path still
    computes the autograd path's function, and every new parameter gets a gradient."""
    torch.manual_seed(3)
    model = create_model("daifnet_light", head_context=2)
    assert [c.in_channels for c in model.head.context] == [16, 32]  # the light variant's default
    slices, positions = _inputs(5, b=2)
    plain = model(slices, positions)
    (plain.depth.mean() + plain.all_in_focus.mean()).backward()
    dead = [k for k, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert not dead, dead
    model.eval()
    with torch.no_grad():
        fast = model(slices, positions)
        order = torch.tensor([3, 0, 4, 1, 2])
        shuffled = model(slices[:, order], positions[:, order])
        model.group_bytes = 1  # one slice per run
        single = model(slices, positions)
    assert torch.allclose(fast.depth, plain.depth, atol=1e-5)
    assert torch.allclose(shuffled.depth, fast.depth, atol=1e-5)
    assert torch.allclose(single.depth, fast.depth, atol=1e-5)
    # the context changes the function (its projections start random, not zero)
    baseline = create_model("daifnet_light", head_context=0).eval()
    baseline.load_state_dict({k: v for k, v in model.state_dict().items() if not k.startswith("head.context")})
    with torch.no_grad():
        assert (baseline(slices, positions).depth - fast.depth).abs().max() > 1e-4
    with pytest.raises(ValueError, match="head_context"):
        create_model("daifnet_light", head_context=4)
