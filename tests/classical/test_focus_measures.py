import cv2
import numpy as np
import pytest

from focalstack.classical import FOCUS_MEASURES, focus_measure
from focalstack.classical.focus_measures import _rdf_kernel


@pytest.mark.parametrize("measure", sorted(FOCUS_MEASURES))
def test_sharper_is_larger_everywhere_on_texture(synth, measure):
    sharp = synth.textured((64, 80), seed=2)
    values = [focus_measure(cv2.GaussianBlur(sharp, (0, 0), s) if s else sharp, measure=measure, window=9)
              for s in (0, 1, 2, 4)]
    for a, b in zip(values, values[1:]):
        assert np.mean(a > b) > 0.95  # per pixel, not just on average
    assert all(v.shape == sharp.shape and v.dtype == np.float32 and v.min() >= 0 for v in values)


@pytest.mark.parametrize("measure", sorted(FOCUS_MEASURES))
def test_constant_image_has_zero_focus(measure):
    assert np.abs(focus_measure(np.full((20, 20), 0.3, np.float32), measure=measure)).max() < 1e-5


@pytest.mark.parametrize("measure", sorted(FOCUS_MEASURES))
def test_colour_uses_luma(synth, measure):
    rgb = synth.textured((32, 32), seed=1, color=True)
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    np.testing.assert_allclose(focus_measure(rgb, measure=measure), focus_measure(gray, measure=measure), atol=1e-6)


def test_window_averages_the_response():
    impulse = np.zeros((21, 21), np.float32)
    impulse[10, 10] = 1
    small = focus_measure(impulse, measure="sml", window=1)
    large = focus_measure(impulse, measure="sml", window=7)
    assert np.count_nonzero(large > 1e-7) > np.count_nonzero(small > 1e-7)
    np.testing.assert_allclose(large.sum(), small.sum(), rtol=1e-4)  # mean filter preserves the total


def test_rdf_kernel_is_zero_sum_with_a_gap():
    kernel = _rdf_kernel(1, (3, 4))
    assert abs(kernel.sum()) < 1e-6
    center = kernel.shape[0] // 2
    assert kernel[center, center] > 0 and kernel[center, center + 2] == 0 and kernel[center, center + 3] < 0


@pytest.mark.parametrize("kwargs", [{"measure": "laplace"}, {"window": 2}, {"window": -1}, {"window": 3.0}])
def test_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        focus_measure(np.zeros((8, 8), np.float32), **kwargs)
