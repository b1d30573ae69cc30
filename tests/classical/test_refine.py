import numpy as np
import pytest

from focalstack.classical import refine_depth


def _scene():
    """Depth step aligned with an intensity edge; a low-confidence hole on each side."""
    h, w = 40, 60
    guide = np.where(np.arange(w) < 30, 0.2, 0.8).astype(np.float32)[None].repeat(h, 0)
    depth = np.where(np.arange(w) < 30, 1.0, 3.0).astype(np.float32)[None].repeat(h, 0)
    confidence = np.ones((h, w), np.float32)
    noisy = depth.copy()
    for cols in (slice(10, 16), slice(44, 50)):
        noisy[15:25, cols] = 7.0
        confidence[15:25, cols] = 0.0
    return guide, depth, noisy, confidence


@pytest.mark.parametrize("method", ["guided", "wmedian"])
def test_fills_low_confidence_from_neighbours_without_crossing_edges(method):
    guide, depth, noisy, confidence = _scene()
    out = refine_depth(noisy, confidence, guide, method=method, radius=6)
    assert np.abs(out - depth)[5:-5].max() < 0.1


def test_none_is_identity():
    guide, _, noisy, confidence = _scene()
    assert refine_depth(noisy, confidence, guide, method="none") is noisy


def test_no_confidence_anywhere_keeps_values():
    guide, _, noisy, _ = _scene()
    out = refine_depth(noisy, np.zeros_like(noisy), guide, method="guided")
    np.testing.assert_array_equal(out, noisy)


@pytest.mark.parametrize("kwargs", [{"method": "bilateral"}, {"radius": 0}])
def test_bad_arguments(kwargs):
    guide, _, noisy, confidence = _scene()
    with pytest.raises(ValueError):
        refine_depth(noisy, confidence, guide, **kwargs)
