import math

import numpy as np
import pytest
import torch

from focalstack.optics import thin_lens as tl


def test_coc_matches_hand_computation():
    # f = 50 mm, N = 2, F = 1 m, d = 2 m: |2 - 1| / 2 * 0.05^2 / (2 * 0.95) = 6.5789e-4 m
    assert tl.coc_diameter_m(2.0, focus_distance_m=1.0, focal_length_mm=50, f_number=2) == pytest.approx(6.5789e-4,
                                                                                                           rel=1e-4)
    radius = tl.coc_radius_px(2.0, focus_distance_m=1.0, focal_length_mm=50, f_number=2, pixel_pitch_um=5)
    assert radius == pytest.approx(6.5789e-4 / (2 * 5e-6), rel=1e-4)


def test_coc_zero_at_focus_and_grows_away_from_it():
    depth = np.array([0.5, 0.8, 1.0, 1.5, 4.0])
    coc = tl.coc_diameter_m(depth, focus_distance_m=1.0, focal_length_mm=4.4, f_number=1.8)
    assert coc[2] == 0 and coc[0] > coc[1] > 0 and 0 < coc[3] < coc[4]
    # far limit: the CoC tends to f^2 / (N (F - f)) as the depth goes to infinity
    limit = 0.0044**2 / (1.8 * (1.0 - 0.0044))
    assert tl.coc_diameter_m(1e9, focus_distance_m=1.0, focal_length_mm=4.4, f_number=1.8) == pytest.approx(limit)


def test_coc_is_linear_in_inverse_depth():
    diopters = np.linspace(0.2, 3.0, 8)
    coc = tl.coc_diameter_m(1 / diopters, focus_distance_m=1 / 1.2, focal_length_mm=6, f_number=2)
    slope = coc / np.abs(diopters - 1.2)
    np.testing.assert_allclose(slope, slope[0], rtol=1e-9)


def test_numpy_and_torch_agree():
    depth = np.linspace(0.3, 3, 7)
    kw = dict(focus_distance_m=0.7, focal_length_mm=4.4, f_number=1.8, pixel_pitch_um=1.4)
    np.testing.assert_allclose(tl.coc_radius_px(torch.tensor(depth), **kw).numpy(), tl.coc_radius_px(depth, **kw))


def test_depth_of_field_limits_are_where_coc_equals_the_limit():
    kw = dict(focal_length_mm=50, f_number=4)
    near, far = tl.depth_of_field_m(3.0, coc_limit_um=30, **kw)
    assert near < 3.0 < far
    for d in (near, far):
        assert tl.coc_diameter_m(d, focus_distance_m=3.0, **kw) == pytest.approx(30e-6, rel=1e-9)
    h = tl.hyperfocal_distance_m(coc_limit_um=30, **kw)
    assert tl.depth_of_field_m(h + 1, coc_limit_um=30, **kw)[1] == math.inf


def test_sensor_distance_and_diopters():
    assert tl.sensor_distance_m(1.0, focal_length_mm=50) == pytest.approx(0.05 / 0.95)
    assert tl.sensor_distance_m(1e12, focal_length_mm=50) == pytest.approx(0.05)
    assert tl.diopters_from_metres(0.25) == 4 and tl.metres_from_diopters(4.0) == 0.25


def test_thin_lens_dataclass():
    lens = tl.ThinLens(focal_length_mm=4.4, f_number=1.8, pixel_pitch_um=1.4)
    assert lens.coc_radius_px(1.0, focus_distance_m=1.0) == 0
    with pytest.raises(ValueError):
        tl.ThinLens(focal_length_mm=0, f_number=1.8, pixel_pitch_um=1.4)
