import numpy as np
import pytest

from focalstack.classical import FocusCurve


def _curve(values):
    values = np.asarray(values, np.float32)
    curve = FocusCurve(values.shape[1:])
    for v in values:
        curve.update(v)
    return curve


def test_streamed_statistics_match_the_full_curve():
    rng = np.random.default_rng(0)
    values = rng.random((7, 5, 6)).astype(np.float32)
    curve = _curve(values)
    best = values.argmax(axis=0)
    rows, cols = np.indices(best.shape)
    np.testing.assert_array_equal(curve.best_index, best)
    np.testing.assert_array_equal(curve.best, values.max(axis=0))
    interior = (best > 0) & (best < 6)
    np.testing.assert_array_equal(curve.left[interior], values[best - 1, rows, cols][interior])
    np.testing.assert_array_equal(curve.right[interior], values[np.minimum(best + 1, 6), rows, cols][interior])
    np.testing.assert_allclose(curve.total, values.sum(axis=0), rtol=1e-6)


@pytest.mark.parametrize("peak", [1.37, 0.91, 2.02, 1.5])
def test_gaussian_fit_is_exact_for_a_gaussian_curve_on_uneven_spacing(peak):
    coords = np.array([3.0, 2.4, 2.0, 1.7, 1.2, 0.5])  # diopters, uneven
    values = np.exp(-((coords - peak) ** 2) / (2 * 0.4**2))[:, None, None]
    position, index = _curve(values).peak(coords, fit="gaussian")
    assert position[0, 0] == pytest.approx(peak, abs=1e-4)
    k = int(np.floor(np.interp(-peak, -coords, np.arange(6))))
    assert index[0, 0] == pytest.approx(k + (coords[k] - peak) / (coords[k] - coords[k + 1]), abs=1e-3)


def test_parabolic_fit_is_exact_for_a_parabola():
    coords = np.array([0.0, 1.0, 2.5, 3.0])
    values = (10 - (coords - 1.3) ** 2)[:, None, None]
    position, _ = _curve(values).peak(coords, fit="parabolic")
    assert position[0, 0] == pytest.approx(1.3, abs=1e-4)


def test_peak_at_the_end_of_the_sweep_is_not_moved():
    coords = np.array([0.0, 1.0, 2.0])
    position, index = _curve(np.array([3.0, 2.0, 1.0])[:, None, None]).peak(coords)
    assert position[0, 0] == 0 and index[0, 0] == 0


def test_fit_none_returns_best_slice():
    coords = np.array([5.0, 4.0, 3.0])
    position, index = _curve(np.array([1.0, 3.0, 2.9])[:, None, None]).peak(coords, fit="none")
    assert position[0, 0] == 4.0 and index[0, 0] == 1


def test_confidence_flat_curve_zero_single_peak_one():
    flat = _curve(np.full((5, 1, 1), 2.0))
    spike = _curve(np.array([0, 0, 4.0, 0, 0])[:, None, None])
    assert flat.confidence(texture_floor=1e-9)[0, 0] == pytest.approx(0, abs=1e-6)
    assert spike.confidence(texture_floor=1e-9)[0, 0] == pytest.approx(1, abs=1e-6)


def test_bad_arguments():
    curve = _curve(np.ones((3, 2, 2)))
    with pytest.raises(ValueError):
        curve.peak(np.arange(4.0))
    with pytest.raises(ValueError):
        curve.peak(np.arange(3.0), fit="spline")
    with pytest.raises(ValueError):
        curve.update(np.ones((3, 3), np.float32))
