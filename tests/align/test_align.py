"""Stack alignment on simulated stacks whose exact warps are known: recover them within a tolerance."""

import numpy as np
import pytest

from focalstack.align import align, refine_warps, relative_to, warp_error_px
from focalstack.errors import InputError
from focalstack.simulate import CameraEffects, procedural_scene, simulate_stack
from focalstack.stack import Camera, FocalStack

# Tolerances: bench_align.py measures 0.06-0.13 px mean with ``auto`` on the suite's 256 px stacks
# (periodic textures aside); 0.5 px leaves room for the small test scenes.
_TOL_PX = 0.5


def _simulated(seed, effects=None):
    scene = procedural_scene(np.random.default_rng(seed), size=(128, 128), depth_range_m=(0.1, 1.0))
    sim = simulate_stack(scene, "phone", num_slices=5, effects=effects or CameraEffects(noise=False, jpeg=False),
                         rng=np.random.default_rng(seed + 1), renderer="per_pixel", psf="gaussian")
    return sim, sim.to_focal_stack()


def _errors(result, sim):
    true = relative_to(np.asarray(sim.warps, np.float64), result.reference)
    return warp_error_px(result.warps, true, sim.depth_m.shape)


@pytest.fixture(scope="module")
def breathing():
    return _simulated(7)


def test_auto_recovers_breathing_and_principal_point(breathing):
    sim, stack = breathing
    assert _errors(align(stack, method="none"), sim).max() > 2.0  # the stack really is misaligned
    result = align(stack, method="auto")
    assert result.method == "auto" and result.reference == 0
    assert _errors(result, sim).max() < _TOL_PX
    assert _errors(align(stack, method="metadata+ecc"), sim).max() < _TOL_PX
    assert _errors(align(stack, method="metadata"), sim).max() < 4.0  # breathing only, no principal point


def test_ecc_without_metadata_recovers_the_chain(breathing):
    sim, stack = breathing
    bare = FocalStack(stack.to_array(), unit="index")
    result = align(bare, method="auto")
    assert result.method == "ecc"
    assert _errors(result, sim).max() < 2 * _TOL_PX


def test_auto_leaves_a_lens_without_breathing_unwarped():
    sim, stack = _simulated(11, CameraEffects.none())
    assert stack.camera.focal_length_mm  # the metadata is there and predicts breathing
    assert _errors(align(stack, method="metadata"), sim).max() > 2.0
    assert _errors(align(stack, method="auto"), sim).max() < _TOL_PX


def test_aligned_stack_keeps_metadata_and_resamples(breathing):
    sim, stack = breathing
    result = align(stack, method="auto")
    out = result.stack
    assert out.shape == stack.shape and out.unit == stack.unit and out.camera == stack.camera
    np.testing.assert_array_equal(out.focus_positions, stack.focus_positions)
    before = np.abs(stack[4] - stack[3])[16:-16, 16:-16].mean()
    after = np.abs(out[4] - out[3])[16:-16, 16:-16].mean()
    assert after < 0.8 * before
    assert align(stack, method="none").stack is stack


def test_bad_requests_are_refused(breathing):
    _, stack = breathing
    with pytest.raises(InputError, match="unknown alignment method"):
        align(stack, method="phase")
    bare = FocalStack(stack.to_array(), unit="index")
    with pytest.raises(InputError, match="focal length"):
        align(bare, method="metadata")
    no_focal = FocalStack(stack.to_array(), stack.focus_positions, unit="m", camera=Camera(f_number=1.8))
    with pytest.raises(InputError, match="focal length"):
        align(no_focal, method="metadata+ecc")
    with pytest.raises(ValueError, match="motion"):
        refine_warps(stack.to_array(), None, motion="perspective")


@pytest.mark.parametrize("motion", ["translation", "affine", "homography"])
def test_textureless_slices_keep_their_initial_warps(motion):
    flat = np.full((4, 32, 32), 0.5, np.float32)
    init = np.tile(np.array([[0.99, 0, 0.2], [0, 0.99, 0.2], [0, 0, 1]]), (4, 1, 1))
    np.testing.assert_allclose(refine_warps(flat, init, motion=motion), init)


def test_homography_recovers_breathing_and_principal_point(breathing):
    sim, stack = breathing
    result = align(stack, method="homography")
    assert result.method == "homography" and result.warps.shape == (5, 3, 3)
    # 8 free parameters per slice on 128 px blurred slices drift along the chain (0.2 px per step here)
    assert _errors(result, sim).max() < 2 * _TOL_PX
    bare = FocalStack(stack.to_array(), unit="index")  # no metadata: along the chain from the neighbours
    assert _errors(align(bare, method="homography"), sim).max() < 2 * _TOL_PX


def test_homography_recovers_a_perspective_warp(synth):
    """Slices seen through known homographies (a tilted sensor): recovered within 0.5 px."""
    import cv2

    ref = synth.textured((160, 160), seed=8)
    true = [np.eye(3), np.array([[1.01, 0.005, -1.5], [-0.004, 0.995, 2.0], [1.5e-4, -1e-4, 1.0]]),
            np.array([[1.005, 0.0, -0.5], [-0.006, 0.998, 1.5], [2e-4, -2e-5, 1.0]])]
    slices = np.stack([cv2.warpPerspective(ref, h, (160, 160), flags=cv2.INTER_CUBIC,
                                           borderMode=cv2.BORDER_REFLECT101) for h in true])
    stack = FocalStack(np.clip(slices, 0, 1), unit="index")
    homography = align(stack, method="homography")
    assert warp_error_px(homography.warps, np.stack(true), (160, 160)).max() < _TOL_PX
    affine = align(stack, method="ecc")
    assert warp_error_px(affine.warps, np.stack(true), (160, 160)).max() > _TOL_PX  # affine cannot fit it


def test_a_diverging_homography_falls_back_to_the_start():
    """Unrelated noise images: any registration found is rejected by the quality gate (moves > 5 % of the
    side, or fails), so every slice keeps its starting warp."""
    rng = np.random.default_rng(0)
    noise = rng.random((4, 48, 48)).astype(np.float32)
    init = np.tile(np.eye(3), (4, 1, 1))
    out = refine_warps(noise, init, motion="homography", max_change=0.01)
    assert np.all(warp_error_px(out, init, (48, 48)) < 0.48)


def test_eval_runs_methods_on_the_aligned_stack(breathing):
    from focalstack.eval.runner import method_runner
    from focalstack.methods import resolve_method

    sim, stack = breathing
    aligned = align(stack, method="auto").stack
    assert not np.allclose(aligned[4], stack[4])
    result = method_runner("sml", align="auto")(stack)
    np.testing.assert_array_equal(result.depth, resolve_method("sml")(aligned).depth)
    assert not np.array_equal(result.depth, resolve_method("sml")(stack).depth)
    assert result.metadata["alignment"]["method"] == "auto" and result.timings["align"] > 0
