"""Metrics against hand-computed values, masks, averaging, and the timing protocol."""

import math

import numpy as np
import pytest
import torch

from focalstack.eval.metrics import (
    aif_metrics,
    average_metrics,
    bumpiness,
    depth_metrics,
    evaluation_mask,
    ratio_interval,
)
from focalstack.eval.timing import time_call


def test_depth_metrics_by_hand():
    gt = np.array([[1.0, 2.0], [4.0, 8.0]])
    pred = np.array([[1.5, 2.0], [3.0, 8.0]])
    m = depth_metrics(pred, gt)
    assert m["mae"] == pytest.approx((0.5 + 0 + 1 + 0) / 4)
    assert m["mse"] == pytest.approx((0.25 + 1) / 4)
    assert m["rmse"] == pytest.approx(math.sqrt(1.25 / 4))
    assert m["abs_rel"] == pytest.approx((0.5 / 1 + 1 / 4) / 4)
    assert m["sq_rel"] == pytest.approx((0.25 / 1 + 1 / 4) / 4)
    assert m["rmse_log"] == pytest.approx(math.sqrt((math.log(1.5) ** 2 + math.log(0.75) ** 2) / 4))
    # ratios 1.5, 1, 1.333, 1: below 1.25 -> 2 of 4; below 1.5625 -> 4 of 4
    assert (m["delta1"], m["delta2"], m["delta3"]) == (0.5, 1.0, 1.0)
    assert m["badpix_0.07"] == pytest.approx(50.0)


def test_torch_inputs_and_masks():
    gt = torch.tensor([[1.0, 2.0], [4.0, 8.0]])
    pred = torch.tensor([[1.5, 2.0], [3.0, 100.0]])
    mask = torch.tensor([[True, True], [True, False]])
    m = depth_metrics(pred, gt, mask)
    assert m["mae"] == pytest.approx(1.5 / 3)
    nan_gt = np.array([[1.0, np.nan], [4.0, 8.0]])
    assert depth_metrics(np.ones((2, 2)), nan_gt)["mae"] == pytest.approx((0 + 3 + 7) / 3)


def test_focus_range_and_validity_mask():
    gt = np.array([[0.1, 0.5], [1.0, 3.0]])
    mask = evaluation_mask(gt, valid=np.array([[True, True], [False, True]]), focus_range=(0.2, 2.0))
    np.testing.assert_array_equal(mask, [[False, True], [False, False]])


def test_confidence_weighted_metrics():
    gt = np.zeros((1, 2)) + 1
    pred = np.array([[1.0, 3.0]])
    assert depth_metrics(pred, gt, weights=np.array([[1.0, 0.0]]))["mae"] == 0
    assert depth_metrics(pred, gt, weights=np.array([[1.0, 1.0]]))["mae"] == pytest.approx(1.0)
    assert depth_metrics(pred, gt, weights=np.array([[3.0, 1.0]]))["mse"] == pytest.approx(1.0)


def test_signed_disparity_gives_nan_ratio_metrics_not_garbage():
    gt = np.array([[-1.0, 0.5]])
    m = depth_metrics(gt + 0.1, gt)
    assert m["mae"] == pytest.approx(0.1) and math.isnan(m["abs_rel"]) and math.isnan(m["delta1"])


@pytest.mark.parametrize("a,expected", [(0.005, 4.0), (0.002, 1.6), (0.01, 5.0)])
def test_bump_on_an_analytic_surface(a, expected):
    """Error a x^2: Scharr (f(x+1) - f(x-1), smoothed) twice gives 8a; clipped at 0.05, x 100."""
    x = np.arange(40, dtype=np.float64)
    diff = np.tile(a * x**2, (30, 1))
    interior = np.zeros(diff.shape, bool)
    interior[3:-3, 3:-3] = True
    assert bumpiness(diff, np.zeros_like(diff), interior) == pytest.approx(expected, rel=1e-9)
    assert bumpiness(diff + 0.3 * x, np.zeros_like(diff), interior) == pytest.approx(expected)  # planes are free


def test_averaging_is_per_image_mean_not_sum():
    rows = [depth_metrics(np.full((2, 2), 1.1), np.ones((2, 2))),
            depth_metrics(np.full((2, 2), 2.6), np.full((2, 2), 2))]
    avg = average_metrics(rows)
    assert avg["abs_rel"] == pytest.approx((0.1 + 0.3) / 2)
    assert avg["sq_rel"] == pytest.approx((0.01 + 0.36 / 2) / 2)
    assert average_metrics([{"a": 1.0}, {"a": math.nan}, {"a": 3.0}])["a"] == 2.0


def test_aif_metrics():
    rng = np.random.default_rng(0)
    truth = rng.random((32, 32, 3)).astype(np.float32)
    same = aif_metrics(truth, truth)
    assert same["psnr"] == math.inf and same["ssim"] == pytest.approx(1.0)
    noisy = np.clip(truth + 0.1, 0, 1)
    m = aif_metrics(noisy, truth)
    assert m["psnr"] == pytest.approx(10 * math.log10(1 / np.mean((noisy - truth) ** 2)))
    assert m["ssim"] < 1


def test_bad_shapes():
    with pytest.raises(ValueError):
        depth_metrics(np.ones((2, 2)), np.ones((2, 3)))
    assert math.isnan(depth_metrics(np.ones((2, 2)), np.ones((2, 2)), np.zeros((2, 2), bool))["mae"])


def test_time_call_warms_up_then_takes_the_median():
    calls = []
    timing = time_call(lambda: calls.append(1), warmup=2, repeat=5)
    assert len(calls) == 7 and len(timing.runs_s) == 5 and timing.median_s == sorted(timing.runs_s)[2]
    with pytest.raises(ValueError):
        time_call(lambda: None, repeat=0)


def test_ratio_interval_known_answers():
    rng = np.random.default_rng(0)
    reference = [rng.uniform(0.5, 2.0, 8), rng.uniform(0.5, 2.0, 8)]
    # a model exactly 2x and 8x worse on every image: geometric mean 4, and no resample can change it
    ratio, low, high = ratio_interval([(2 * reference[0], reference[0]), (8 * reference[1], reference[1])])
    assert ratio == pytest.approx(4.0) and low == pytest.approx(4.0) and high == pytest.approx(4.0)
    # noisy per-image ratios: the interval holds the point estimate and narrows with 16x the images
    def split(n):
        ref = rng.uniform(0.5, 2.0, n)
        return ref * rng.lognormal(0.5, 0.5, n), ref
    few = ratio_interval([split(8) for _ in range(3)], seed=1)
    many = ratio_interval([split(128) for _ in range(3)], seed=1)
    assert few[1] < few[0] < few[2] and many[1] < many[0] < many[2]
    assert (many[2] - many[1]) < 0.5 * (few[2] - few[1])
    assert many[1] < math.exp(0.5 + 0.5**2 / 2) < many[2]  # the true ratio of means, E[lognormal(0.5, 0.5)]


def test_ratio_interval_refuses_unpaired_input():
    with pytest.raises(ValueError, match="equally long"):
        ratio_interval([([1.0, 2.0], [1.0])])
    with pytest.raises(ValueError, match="at least one"):
        ratio_interval([])
