"""Losses on known inputs: zero for a perfect prediction, gradients in the right direction."""

import pytest
import torch

from focalstack.optics.render import render_focal_stack
from focalstack.train.losses import (
    AllInFocusLoss,
    DepthLoss,
    Rendering,
    SelfSupervisedLoss,
    TeacherLoss,
    aif_loss,
    coarse_all_in_focus,
    depth_loss,
    edge_aware_smoothness,
    gradient_matching,
    ssim,
)

LENS = dict(focal_length_mm=4.4, f_number=1.8, pixel_pitch_um=5.6)
LAYERED = Rendering(renderer="layered", psf="disc", layers=8)
RECONSTRUCTION_ONLY = SelfSupervisedLoss(coarse_aif=0.0, smoothness=0.0)


def test_depth_loss_weights_and_zero():
    target = torch.rand(2, 1, 8, 8)
    assert depth_loss([target] * 4, target) == 0
    off = [target + 1.0] * 4
    assert depth_loss(off, target) == pytest.approx(0.3 + 0.5 + 0.7 + 1.0)
    assert depth_loss([target + 2.0], target, norm="l1") == pytest.approx(2.0)  # one scale: weight 1
    valid = torch.zeros_like(target, dtype=torch.bool)
    valid[..., :4] = True
    partly = target.clone()
    partly[..., 4:] += 100  # invalid pixels do not count
    assert depth_loss([partly], target, valid) == 0


def test_depth_loss_gradient_points_to_the_target():
    target = torch.zeros(1, 1, 4, 4)
    pred = torch.full((1, 1, 4, 4), 0.5, requires_grad=True)
    depth_loss([pred], target).backward()
    assert (pred.grad > 0).all()


def test_depth_loss_object_holds_its_settings():
    target = torch.zeros(1, 1, 16, 16)
    noisy = target + torch.randn(1, 1, 16, 16, generator=torch.Generator().manual_seed(2)) * 0.1
    assert float(DepthLoss()([noisy], target)) == pytest.approx(float(depth_loss([noisy], target)))
    assert float(DepthLoss(norm="l1", gradient=0.5)([noisy], target)) == \
        pytest.approx(float(depth_loss([noisy], target, norm="l1", gradient=0.5)))
    assert float(DepthLoss(norm="l1")([noisy], target)) != pytest.approx(float(DepthLoss()([noisy], target)))
    with pytest.raises(ValueError, match="norm"):
        DepthLoss(norm="l3")
    with pytest.raises(ValueError, match="gradient must be >= 0"):
        DepthLoss(gradient=-1.0)


def test_gradient_matching_ignores_offsets_and_counts_noise():
    target = torch.rand(1, 1, 16, 16)
    valid = torch.ones_like(target, dtype=torch.bool)
    assert gradient_matching(target + 0.3, target, valid) == pytest.approx(0.0, abs=1e-6)
    checker = (torch.arange(16)[:, None] + torch.arange(16)[None, :]) % 2 * 0.1  # +-0.1 pixel-scale noise
    assert gradient_matching(target + checker, target, valid) == pytest.approx(0.1, rel=1e-5)
    # invalid pixels: pairs touching them do not count
    valid[..., 8:] = False
    noisy_right = target.clone()
    noisy_right[..., 8:] += checker[..., 8:] * 50
    assert gradient_matching(noisy_right, target, valid) == pytest.approx(0.0, abs=1e-6)


def test_depth_loss_gradient_term_is_added_and_smooths():
    target = torch.zeros(1, 1, 16, 16)
    noise = torch.randn(1, 1, 16, 16, generator=torch.Generator().manual_seed(1)) * 0.1
    plain = depth_loss([target + noise], target)
    with_grad = depth_loss([target + noise], target, gradient=0.5)
    expected = float(plain + 0.5 * gradient_matching(noise, target, target == 0))
    assert float(with_grad) == pytest.approx(expected, rel=1e-5)
    pred = (target + noise).requires_grad_()
    depth_loss([pred], target, gradient=0.5).backward()
    stepped = (pred - 0.05 * pred.grad).detach()  # one descent step makes the error smoother
    assert gradient_matching(stepped, target, target == 0) < gradient_matching(noise, target, target == 0)


def test_smoothness_is_edge_aware():
    depth = torch.zeros(1, 1, 8, 8)
    depth[..., 4:] = 1.0  # a depth step
    flat = torch.zeros(1, 3, 8, 8)
    edge = flat.clone()
    edge[..., 4:] = 1.0  # an image edge at the same place
    assert edge_aware_smoothness(depth, flat) > 100 * edge_aware_smoothness(depth, edge)
    assert edge_aware_smoothness(torch.ones(1, 1, 8, 8), flat) == 0


def test_aif_loss_zero_for_perfect_prediction_and_smooth_depth():
    aif = torch.rand(1, 3, 8, 8)
    depth = torch.ones(1, 1, 8, 8)
    assert aif_loss([aif] * 4, [depth] * 4, aif) == 0
    assert aif_loss([aif + 0.1] * 4, [depth] * 4, aif) == pytest.approx(0.1 * 2.5, rel=1e-5)


def test_ssim_identity_and_range():
    x = torch.rand(2, 3, 16, 16)
    assert ssim(x, x) == pytest.approx(1.0, abs=1e-5)
    assert ssim(x, torch.rand(2, 3, 16, 16)) < 0.5


def _scene():
    g = torch.Generator().manual_seed(0)
    aif = torch.rand(1, 3, 32, 32, generator=g)
    depth = torch.full((1, 1, 32, 32), 0.3)
    depth[..., 16:] = 0.6
    focus = torch.tensor([[0.2, 0.3, 0.45, 0.6, 1.0]])
    slices = render_focal_stack(aif, depth, focus, **LENS)
    return aif, depth, focus, slices


def test_self_supervised_reconstruction_is_zero_for_the_truth():
    aif, depth, focus, slices = _scene()
    loss, parts = RECONSTRUCTION_ONLY(depth, aif, slices, focus, **LENS)
    assert parts["reconstruction"] < 1e-6 and float(loss) < 1e-6


def test_self_supervised_gradient_moves_depth_towards_the_truth():
    aif, depth, focus, slices = _scene()
    guess = torch.full_like(depth, 0.45).requires_grad_()
    loss, _ = RECONSTRUCTION_ONLY(guess, aif, slices, focus, **LENS)
    loss.backward()
    grad = guess.grad[0, 0]
    # descending the gradient moves the near half (truth 0.3) nearer and the far half (0.6) farther
    assert grad[4:-4, 4:12].mean() > 0 and grad[4:-4, 20:28].mean() < 0


def test_layered_disc_loss_is_zero_for_the_truth_and_prefers_it_at_occlusions():
    """With the occlusion-aware renderer and the disc PSF the simulator uses, the true depth
    re-renders the stack exactly; the per-pixel renderer cannot (its blurred background spreads
    over the sharp foreground), so the layered loss ranks the truth first."""
    aif, depth, focus, slices = _scene()
    slices = render_focal_stack(aif, depth, focus, method="layered", psf="disc", num_layers=8, **LENS)
    loss = SelfSupervisedLoss(coarse_aif=0.0, smoothness=0.0, rendering=LAYERED)
    truth = loss(depth, aif, slices, focus, **LENS)[1]["reconstruction"]
    assert truth < 1e-5
    for wrong in (depth * 1.1, torch.full_like(depth, 0.45)):
        assert loss(wrong, aif, slices, focus, **LENS)[1]["reconstruction"] > truth + 1e-3
    guess = torch.full_like(depth, 0.45).requires_grad_()
    loss(guess, aif, slices, focus, **LENS)[0].backward()
    assert torch.isfinite(guess.grad).all() and guess.grad.abs().sum() > 0


def test_aif_rerender_loss_is_zero_for_the_true_depth_and_descends_towards_it():
    """The all-in-focus regime's re-rendering term: the true all-in-focus image with the true depth
    re-renders the stack; depths halfway to the middle score worse, and its gradient moves
    each half towards its plane (the all-in-focus L1 alone has no such gradient)."""
    aif, depth, focus, slices = _scene()
    slices = LAYERED.render(aif, depth, focus, **LENS)
    truth = LAYERED.error(depth, aif, slices, focus, **LENS)
    assert float(truth) < 1e-5
    guess = (0.5 * depth + 0.5 * 0.45).requires_grad_()  # halfway from each true plane to 0.45 m
    loss = LAYERED.error(guess, aif, slices, focus, **LENS)
    assert loss.item() > float(truth) + 1e-3
    loss.backward()
    grad = guess.grad[0, 0]
    assert grad[4:-4, 4:12].mean() > 0 and grad[4:-4, 20:28].mean() < 0


def test_all_in_focus_loss_adds_the_weighted_rerendering_of_the_true_image():
    aif, depth, focus, _ = _scene()
    slices = LAYERED.render(aif, depth, focus, **LENS)
    guess = 0.5 * depth + 0.5 * 0.45
    scales, depths = [aif + 0.05], [torch.rand_like(depth)]
    plain, parts = AllInFocusLoss()(scales, depths, aif)
    assert float(plain) == pytest.approx(float(aif_loss(scales, depths, aif)), rel=1e-6) and set(parts) == {"aif"}
    sharper = AllInFocusLoss(edge_a=10.0)(scales, depths, aif)[0]
    assert float(sharper) != pytest.approx(float(plain))  # edge_a reaches the smoothness
    with_rerender, parts = AllInFocusLoss(rerender=2.0, rendering=LAYERED)(
        scales, depths, aif, depth_m=guess, slices=slices, focus_distances_m=focus, **LENS)
    expected = float(plain) + 2.0 * float(LAYERED.error(guess, aif, slices, focus, **LENS))
    assert float(with_rerender) == pytest.approx(expected, rel=1e-5) and parts["rerender"] > 1e-3
    with pytest.raises(ValueError, match="needs depth_m"):
        AllInFocusLoss(rerender=1.0)(scales, depths, aif)


def test_self_supervised_coarse_render_ignores_the_predicted_aif_and_finds_the_depth():
    """render_aif="coarse": the stack is re-rendered from the sharpness-weighted fusion of its own
    slices, so a blurred predicted all-in-focus image changes nothing, the true depth scores best
    and the gradient of a halfway depth points to it."""
    aif, depth, focus, slices = _scene()  # both planes are in focus in some slice (0.3 and 0.6 m)
    slices = LAYERED.render(aif, depth, focus, **LENS)
    blurred = torch.nn.functional.avg_pool2d(aif, 5, 1, 2)
    coarse = SelfSupervisedLoss(coarse_aif=0.0, smoothness=0.0, render_aif="coarse", rendering=LAYERED)
    own = SelfSupervisedLoss(coarse_aif=0.0, smoothness=0.0, rendering=LAYERED)
    truth = coarse(depth, blurred, slices, focus, **LENS)[1]["reconstruction"]
    predicted = own(depth, blurred, slices, focus, **LENS)[1]["reconstruction"]
    assert truth < 0.5 * predicted  # the blurred prediction re-renders worse than the fusion of the slices
    guess = (0.5 * depth + 0.5 * 0.45).requires_grad_()
    loss, parts = coarse(guess, blurred, slices, focus, **LENS)
    assert parts["reconstruction"] > truth + 1e-3
    loss.backward()
    grad = guess.grad[0, 0]
    assert grad[4:-4, 4:12].mean() > 0 and grad[4:-4, 20:28].mean() < 0


def test_focus_layer_range_gives_the_nearest_pixels_a_gradient():
    """With planes spanning the predicted depth, the nearest pixels sit on the first plane and the loss
    barely tells them to move nearer; planes fixed over the focus range do (the squeezed-depth trap)."""
    aif, depth, focus, _ = _scene()
    slices = LAYERED.render(aif, depth, focus, **LENS)
    pulls = {}
    for layer_range in ("depth", "focus"):
        guess = (0.5 * depth + 0.5 * 0.45).requires_grad_()  # squeezed: 0.375 and 0.525 m
        rendering = Rendering(renderer="layered", psf="disc", layers=8, layer_range=layer_range)
        rendering.error(guess, aif, slices, focus, **LENS).backward()
        pulls[layer_range] = float(guess.grad[0, 0, 4:-4, 4:12].mean())  # > 0: descending moves nearer
    assert pulls["focus"] > 0 and pulls["focus"] > 20 * abs(pulls["depth"])
    with pytest.raises(ValueError, match="layer_range"):
        Rendering(layer_range="scene")
    with pytest.raises(ValueError, match="renderer"):
        Rendering(renderer="raytrace")


def test_self_supervised_smoothness_is_in_units_of_the_focus_span():
    """The same scene layout in normalised inverse depth gets the same smoothness value for a phone
    (1-10 diopters) and a microscope (80-100 diopters)."""
    aif = torch.zeros(1, 3, 16, 16)  # flat image: the smoothness is not masked by edges
    values = []
    for near, far in ((0.1, 1.0), (0.01, 0.0125)):
        lo, hi = 1 / far, 1 / near
        inverse = torch.full((1, 1, 16, 16), lo + 0.25 * (hi - lo))
        inverse[..., 8:] = lo + 0.75 * (hi - lo)
        focus = torch.tensor([[near, 2 * near * far / (near + far), far]])
        _, parts = SelfSupervisedLoss()(1 / inverse, aif, torch.zeros(1, 3, 3, 16, 16), focus, **LENS)
        values.append(parts["smoothness"])
    assert values[0] == pytest.approx(values[1], rel=1e-4) and values[0] > 0


def test_attention_term_pulls_the_attention_to_the_sharp_slice():
    aif, depth, focus, slices = _scene()
    attention = SelfSupervisedLoss(coarse_aif=0.0, smoothness=0.0, attention=1.0)
    logits = torch.zeros(1, 5, 32, 32, requires_grad=True)  # uniform attention over the 5 slices
    loss, parts = attention(depth, aif, slices, focus, probabilities=torch.softmax(logits, 1), **LENS)
    loss.backward()
    # the near half is sharp in slice 1 (0.3 m), the far half in slice 3 (0.6 m): descending raises those logits
    assert (logits.grad[0, 1, 4:-4, 4:12] < 0).float().mean() > 0.8
    assert (logits.grad[0, 3, 4:-4, 20:28] < 0).float().mean() > 0.8
    sharp = torch.zeros(1, 5, 32, 32)
    sharp[:, 1, :, :16], sharp[:, 3, :, 16:] = 1.0, 1.0
    _, best = attention(depth, aif, slices, focus, probabilities=sharp, **LENS)
    assert best["attention_aif"] < 0.5 * parts["attention_aif"]
    assert "attention_aif" not in SelfSupervisedLoss()(depth, aif, slices, focus, probabilities=sharp, **LENS)[1]


def test_self_supervised_weights_scale_their_terms():
    aif, depth, focus, slices = _scene()
    guess, image = 0.5 * depth + 0.5 * 0.45, aif * 0.9
    parts = SelfSupervisedLoss()(guess, image, slices, focus, **LENS)[1]
    weighted = SelfSupervisedLoss(reconstruction=2.0, coarse_aif=0.5, smoothness=0.01)
    expected = 2.0 * parts["reconstruction"] + 0.5 * parts["coarse_aif"] + 0.01 * parts["smoothness"]
    assert float(weighted(guess, image, slices, focus, **LENS)[0]) == pytest.approx(expected, rel=1e-5)
    assert SelfSupervisedLoss(reconstruction=0.0)(guess, image, slices, focus, **LENS)[1]["reconstruction"] == 0
    with pytest.raises(ValueError, match="render_aif"):
        SelfSupervisedLoss(render_aif="true")


def test_teacher_loss_is_confidence_weighted_and_matches_gradients():
    teacher = torch.rand(1, 1, 8, 8, generator=torch.Generator().manual_seed(3))
    confidence = torch.zeros_like(teacher)
    confidence[..., :4] = 1.0
    student = teacher.clone()
    student[..., 4:] += 5.0  # wrong only where the teacher has no confidence
    assert float(TeacherLoss()(student, teacher, confidence)[0]) == pytest.approx(0.0, abs=1e-7)
    loss, parts = TeacherLoss(weight=2.0)(teacher + 0.25, teacher, torch.ones_like(teacher))
    assert float(loss) == pytest.approx(0.5) and parts == {"pseudo": pytest.approx(0.25)}
    checker = (torch.arange(8)[:, None] + torch.arange(8)[None, :]) % 2 * 0.1
    loss, parts = TeacherLoss(weight=0.0, gradient=3.0)(teacher + checker, teacher, torch.ones_like(teacher))
    assert parts["pseudo_gradient"] == pytest.approx(0.1, rel=1e-5) and float(loss) == pytest.approx(0.3, rel=1e-5)


def test_coarse_all_in_focus_prefers_sharp_slices():
    aif, depth, focus, slices = _scene()
    coarse = coarse_all_in_focus(slices)
    assert (coarse - aif).abs().mean() < min((s - aif).abs().mean() for s in slices[0])
