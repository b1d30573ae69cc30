"""The simulated camera: sweeps, imperfections with exact warps, and the classical method on its stacks."""

import cv2
import numpy as np
import pytest

from focalstack import depth_from_focus
from focalstack.optics import thin_lens as tl
from focalstack.simulate.camera import (
    PROFILES,
    CameraEffects,
    _lens_position_error,
    _warps,
    focus_sweep,
    simulate_stack,
    unwarp,
)
from focalstack.simulate.scenes import Scene


def _plane_scene(synth, depth_m, size=64, seed=0):
    image = synth.textured((size, size), seed=seed, color=True)
    return Scene(image=image, depth_m=np.full((size, size), depth_m, np.float32), name="plane")


def test_focus_sweep_uniform_in_diopters_near_to_far():
    sweep = focus_sweep(PROFILES["phone"], 5)
    assert sweep[0] == pytest.approx(0.1) and sweep[-1] == pytest.approx(1.0)
    np.testing.assert_allclose(np.diff(1 / sweep), np.diff(1 / sweep)[0])
    assert np.all(np.diff(sweep) > 0)
    np.testing.assert_allclose(np.diff(focus_sweep(PROFILES["phone"], 4, spacing="linear")), 0.3)
    with pytest.raises(ValueError):
        focus_sweep(PROFILES["phone"], 1)


@pytest.mark.parametrize("name", sorted(PROFILES))
def test_profiles_give_visible_but_bounded_blur(name):
    p = PROFILES[name]
    depths = np.linspace(*p.depth_range_m, 50)
    radii = [tl.coc_radius_px(depths, focus_distance_m=f, focal_length_mm=p.focal_length_mm, f_number=p.f_number,
                              pixel_pitch_um=p.simulated_pixel_pitch_um).max() for f in focus_sweep(p, 5)]
    assert 4.0 < max(radii) < (24 if p.disparity else 20)  # a light field: 4 x 5.5 px of disparity
    # neighbouring slices of a 5-slice sweep differ by a visible amount of blur at one depth
    sweep = focus_sweep(p, 5)
    step = tl.coc_radius_px(sweep[0], focus_distance_m=sweep[1], focal_length_mm=p.focal_length_mm,
                            f_number=p.f_number, pixel_pitch_um=p.simulated_pixel_pitch_um)
    assert step > 0.75


def test_ideal_camera_slice_at_the_scene_depth_is_the_all_in_focus_image(synth):
    profile = PROFILES["phone"]
    focus = focus_sweep(profile, 5)
    stack = simulate_stack(_plane_scene(synth, focus[2]), profile, effects=CameraEffects.none(),
                           rng=np.random.default_rng(0))
    np.testing.assert_allclose(stack.slices[2], stack.all_in_focus, atol=1e-5)
    assert np.abs(stack.slices[0] - stack.all_in_focus).mean() > 0.01
    np.testing.assert_array_equal(stack.warps, np.tile([[1.0, 0, 0], [0, 1.0, 0]], (5, 1, 1)))
    np.testing.assert_allclose(stack.true_focus_distances_m, stack.focus_distances_m)


def test_breathing_warps_are_exact_and_undo_the_misalignment(synth):
    profile = PROFILES["phone"]
    scene = _plane_scene(synth, 0.3, size=96, seed=2)
    effects = CameraEffects(focal_breathing=True, focus_error=False, principal_point=True, noise=False,
                            vignetting=False, jpeg=False)
    real = simulate_stack(scene, profile, effects=effects, rng=np.random.default_rng(3))
    ideal = simulate_stack(scene, profile, effects=CameraEffects.none(), rng=np.random.default_rng(3))
    s = tl.sensor_distance_m(real.focus_distances_m, focal_length_mm=profile.focal_length_mm)
    np.testing.assert_allclose(real.warps[:, 0, 0], s / s.max())  # Eq. 1 of 002: relative FoV s_min / s_n
    assert real.warps[0, 0, 0] == pytest.approx(1.0) and real.warps[-1, 0, 0] < 0.99
    inner = (slice(12, -12), slice(12, -12))

    def smooth(image):  # compare at the scale of misalignment, not of bilinear resampling
        return cv2.GaussianBlur(image, (0, 0), 1.5)

    for k in range(1, 5):
        before = np.abs(smooth(real.slices[k]) - smooth(ideal.slices[k]))[inner].mean()
        after = np.abs(smooth(unwarp(real.slices[k], real.warps[k])) - smooth(ideal.slices[k]))[inner].mean()
        assert after < 0.2 * before


def test_focus_error_shrinks_with_focus_distance():
    profile = PROFILES["phone"]
    rng = np.random.default_rng(0)
    errors = np.array([_lens_position_error(np.array([0.1, 0.2]), profile, CameraEffects(), rng)
                       for _ in range(4000)])
    ratio = errors[:, 0].std() / errors[:, 1].std()
    assert ratio == pytest.approx(2.0, rel=0.1)
    assert np.all(_lens_position_error(np.array([0.1, 0.2]), profile, CameraEffects.none(), rng) == 0)


def test_focus_error_changes_the_true_focus_not_the_metadata(synth):
    stack = simulate_stack(_plane_scene(synth, 0.3), "phone", effects=CameraEffects(noise=False, jpeg=False),
                           rng=np.random.default_rng(5))
    np.testing.assert_allclose(stack.focus_distances_m, focus_sweep(PROFILES["phone"], 5))
    assert not np.allclose(stack.true_focus_distances_m, stack.focus_distances_m)
    # the true focus and the magnification come from the same lens position: s_true / s_target
    s = tl.sensor_distance_m(stack.true_focus_distances_m, focal_length_mm=4.4)
    np.testing.assert_allclose(stack.warps[:, 0, 0], s / s.max(), rtol=1e-9)


def test_principal_point_jitter_statistics():
    profile = PROFILES["phone"]
    effects = CameraEffects(focal_breathing=False, focus_error=False, principal_point=True)
    rng = np.random.default_rng(0)
    s = np.full(4, 4.6e-3)
    shifts = np.concatenate([_warps(s, profile, effects, rng, (32, 32))[:, :, 2] for _ in range(500)])
    expected = profile.principal_point_std_px / profile.working_scale
    assert shifts.std() == pytest.approx(expected, rel=0.05)
    assert np.all(_warps(s, profile, CameraEffects.none(), rng, (32, 32))[:, :, 2] == 0)


def test_noise_vignetting_and_jpeg(synth):
    size = 64
    scene = Scene(image=np.full((size, size, 3), 0.5, np.float32), depth_m=np.full((size, size), 0.3, np.float32))
    profile = PROFILES["phone"]
    only = dict(focal_breathing=False, focus_error=False, principal_point=False, noise=False, vignetting=False,
                jpeg=False)
    noisy = simulate_stack(scene, profile, effects=CameraEffects(**{**only, "noise": True}),
                           rng=np.random.default_rng(0))
    expected_std = np.sqrt(0.5 * profile.shot_noise + profile.read_noise**2)
    assert (noisy.slices - 0.5).std() == pytest.approx(expected_std, rel=0.05)
    vignetted = simulate_stack(scene, profile, effects=CameraEffects(**{**only, "vignetting": True}))
    assert vignetted.slices[0, 0, 0, 0] == pytest.approx(0.5 * (1 - profile.vignetting), rel=1e-3)
    assert vignetted.slices[0, size // 2, size // 2, 0] == pytest.approx(0.5, rel=1e-2)
    jpeg = simulate_stack(scene, profile, effects=CameraEffects(**{**only, "jpeg": True}))
    np.testing.assert_allclose(jpeg.slices * 255, np.round(jpeg.slices * 255), atol=1e-4)


def test_same_seed_same_stack(synth):
    scene = _plane_scene(synth, 0.2)
    a = simulate_stack(scene, "phone", rng=np.random.default_rng(9))
    b = simulate_stack(scene, "phone", rng=np.random.default_rng(9))
    c = simulate_stack(scene, "phone", rng=np.random.default_rng(10))
    np.testing.assert_array_equal(a.slices, b.slices)
    assert not np.array_equal(a.slices, c.slices)


@pytest.mark.parametrize("profile", ["phone", "microscope"])
def test_classical_method_recovers_simulated_depth(synth, profile):
    """A slanted textured plane through an ideal camera: classical DfF within a quarter slice."""
    p = PROFILES[profile]
    size = 128
    near, far = p.focus_range_m
    xx = np.tile(np.linspace(0, 1, size, dtype=np.float32), (size, 1))
    inverse = 1 / near + (1 / far - 1 / near) * (0.1 + 0.8 * xx)  # inside the sweep
    scene = Scene(image=synth.textured((size, size), seed=4, color=True), depth_m=(1 / inverse).astype(np.float32))
    stack = simulate_stack(scene, p, num_slices=8, effects=CameraEffects.none())
    result = depth_from_focus(stack.to_focal_stack(), refine="none")
    spacing = abs(1 / near - 1 / far) / 7
    error = np.abs(1 / result.depth - inverse)[10:-10, 10:-10]
    assert np.median(error) < 0.25 * spacing
