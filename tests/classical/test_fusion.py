import numpy as np
import pytest

from focalstack.classical import PyramidFusion, SoftBlend
from focalstack.classical.fusion import make_fusion


def _halves(synth):
    """Two slices: the left half sharp in the first, the right half sharp in the second."""
    sharp = synth.textured((64, 96), seed=7, color=True)
    blurred = np.clip(sharp * 0 + sharp.mean(axis=(0, 1)), 0, 1).astype(np.float32)  # all detail gone
    a, b = blurred.copy(), blurred.copy()
    a[:, :48], b[:, 48:] = sharp[:, :48], sharp[:, 48:]
    focus_a = np.where(np.arange(96) < 48, 1.0, 0.01).astype(np.float32)[None].repeat(64, 0)
    return sharp, (a, b), (focus_a, focus_a[:, ::-1].copy())


@pytest.mark.parametrize("fusion", ["soft", "pyramid"])
def test_fusion_picks_the_sharp_slice_per_pixel(synth, fusion):
    sharp, slices, focus = _halves(synth)
    f = make_fusion(fusion)
    for image, fm in zip(slices, focus):
        f.update(image, fm)
    error = np.abs(f.result() - sharp).mean(axis=(0, 2))
    assert error[np.abs(np.arange(96) - 48) > 8].max() < 0.01


def test_soft_blend_with_power_zero_averages():
    f = SoftBlend(power=0)
    for value, focus in ((0.2, 5.0), (0.6, 0.1)):
        f.update(np.full((4, 4), value, np.float32), np.full((4, 4), focus, np.float32))
    np.testing.assert_allclose(f.result(), 0.4, atol=1e-6)


def test_soft_blend_survives_no_texture_and_huge_focus_ratios():
    f = SoftBlend(power=16)
    f.update(np.full((4, 4), 0.2, np.float32), np.zeros((4, 4), np.float32))
    f.update(np.full((4, 4), 0.8, np.float32), np.full((4, 4), 1e6, np.float32))
    f.update(np.full((4, 4), 0.5, np.float32), np.zeros((4, 4), np.float32))
    out = f.result()
    assert np.isfinite(out).all()
    np.testing.assert_allclose(out, 0.8, atol=1e-4)


def test_soft_blend_untextured_everywhere_is_the_mean():
    f = SoftBlend()
    for value in (0.1, 0.5):
        f.update(np.full((4, 4), value, np.float32), np.zeros((4, 4), np.float32))
    np.testing.assert_allclose(f.result(), 0.3, atol=1e-6)


def test_pyramid_of_one_slice_is_the_slice(synth):
    image = synth.textured((50, 70), seed=1)
    f = PyramidFusion()
    f.update(image, np.ones_like(image))
    np.testing.assert_allclose(f.result(), image, atol=1e-5)


def test_unknown_fusion():
    with pytest.raises(ValueError):
        make_fusion("average")
    with pytest.raises(ValueError):
        SoftBlend().result()
