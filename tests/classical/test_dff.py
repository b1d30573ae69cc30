"""Known-answer tests: render stacks of known depth with Gaussian blur, recover the depth."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from focalstack import FocalStack, InputError, depth_from_focus
from focalstack.classical import FOCUS_MEASURES

H, W = 96, 128
FOCUS_DIOPTERS = np.linspace(2.0, 0.2, 10)  # near to far, 0.2 diopter spacing
SPACING = 0.2
MARGIN = 8  # pixels at the border where the window sees reflected texture

_yy, _xx = np.mgrid[0:H, 0:W]
SCENES = {
    "plane": np.full((H, W), 1.13),
    "slanted": 0.35 + 1.5 * _xx / W,
    "step": np.where(_xx < W // 2, 1.7, 0.63),
}


def _inner(a):
    return a[MARGIN:-MARGIN, MARGIN:-MARGIN]


@pytest.fixture(scope="module")
def stacks(synth):
    return {name: synth.render(depth, FOCUS_DIOPTERS, seed=3, color=True) for name, depth in SCENES.items()}


@pytest.mark.parametrize("measure", sorted(FOCUS_MEASURES))
@pytest.mark.parametrize("scene", sorted(SCENES))
def test_recovers_known_depth_within_a_quarter_slice(stacks, scene, measure):
    slices, _ = stacks[scene]
    result = depth_from_focus(FocalStack(slices, FOCUS_DIOPTERS, unit="diopter"), focus_measure=measure, refine="none")
    error = _inner(np.abs(result.depth - SCENES[scene]))
    if scene == "step":  # the window straddles the step within window/2 + blur of the edge
        error = error[:, np.abs(np.arange(MARGIN, W - MARGIN) - W // 2) > 12]
    assert np.median(error) < 0.25 * SPACING
    assert np.percentile(error, 90) < 0.5 * SPACING


def test_metric_units_interpolate_in_diopters(stacks):
    slices, _ = stacks["slanted"]
    metres = 1.0 / FOCUS_DIOPTERS
    result = depth_from_focus(FocalStack(slices, metres, unit="m"), refine="none")
    assert result.unit == "m"
    error_diopters = _inner(np.abs(1.0 / result.depth - SCENES["slanted"]))
    assert np.median(error_diopters) < 0.25 * SPACING
    # plain linear interpolation in metres would be biased: check we beat it clearly
    assert np.all(result.depth > 0) and result.depth.dtype == np.float32


def test_index_unit_gives_fractional_slice_index(stacks):
    slices, _ = stacks["plane"]
    result = depth_from_focus(FocalStack(slices, unit="index"), refine="none")
    expected_index = (FOCUS_DIOPTERS[0] - 1.13) / SPACING  # 4.35
    assert abs(np.median(result.depth) - expected_index) < 0.25
    np.testing.assert_allclose(result.depth, result.slice_index, atol=1e-5)


def test_slice_order_does_not_matter(stacks):
    slices, _ = stacks["slanted"]
    perm = np.random.default_rng(0).permutation(len(slices))
    a = depth_from_focus(FocalStack(slices, FOCUS_DIOPTERS, unit="diopter"), refine="none")
    b = depth_from_focus(FocalStack(slices[perm], FOCUS_DIOPTERS[perm], unit="diopter"), refine="none")
    np.testing.assert_allclose(a.depth, b.depth, atol=1e-6)


def test_peak_fit_beats_nearest_slice(stacks):
    slices, _ = stacks["slanted"]
    stack = FocalStack(slices, FOCUS_DIOPTERS, unit="diopter")
    fitted = depth_from_focus(stack, refine="none", peak_fit="gaussian")
    nearest = depth_from_focus(stack, refine="none", peak_fit="none")
    truth = SCENES["slanted"]
    assert np.mean(_inner(np.abs(fitted.depth - truth))) < 0.5 * np.mean(_inner(np.abs(nearest.depth - truth)))


def test_confidence_is_low_without_texture_and_high_with_it(synth):
    rng = np.random.default_rng(0)
    slices, _ = synth.render(SCENES["plane"], FOCUS_DIOPTERS, seed=4)
    slices[:, :, : W // 2] = 0.5 + rng.normal(0, 1e-3, slices[:, :, : W // 2].shape)  # flat grey + tiny noise
    result = depth_from_focus(FocalStack(np.clip(slices, 0, 1), FOCUS_DIOPTERS, unit="diopter"), refine="none")
    flat, textured = result.confidence[:, : W // 2 - 8], result.confidence[:, W // 2 + 8 :]
    assert 0 <= result.confidence.min() and result.confidence.max() <= 1
    assert np.median(textured) > 0.5 > 0.1 > np.median(flat)


def test_refinement_fills_untextured_hole_from_neighbours(synth):
    slices, sharp = synth.render(SCENES["plane"], FOCUS_DIOPTERS, seed=5)
    hole = (slice(40, 56), slice(56, 72))
    slices[:, hole[0], hole[1]] = sharp[hole].mean()  # textureless patch: no focus information
    stack = FocalStack(slices, FOCUS_DIOPTERS, unit="diopter")
    raw = depth_from_focus(stack, refine="none")
    refined = depth_from_focus(stack, refine="guided", refine_radius=12)
    raw_err = np.abs(raw.depth[hole] - 1.13).mean()
    refined_err = np.abs(refined.depth[hole] - 1.13).mean()
    assert refined_err < 0.5 * SPACING < raw_err


@pytest.mark.parametrize("fusion", ["soft", "pyramid"])
def test_all_in_focus_matches_the_sharp_image(stacks, fusion):
    slices, sharp = stacks["slanted"]
    result = depth_from_focus(FocalStack(slices, FOCUS_DIOPTERS, unit="diopter"), fusion=fusion, refine="none")
    blurriest_slice_error = max(np.abs(s - sharp).mean() for s in slices)
    error = _inner(np.abs(result.all_in_focus - sharp)).mean()
    assert result.all_in_focus.shape == sharp.shape
    assert error < 0.01 and error < 0.1 * blurriest_slice_error


@pytest.mark.parametrize("fusion", ["soft", "pyramid"])
def test_no_halo_beyond_the_window_at_a_depth_edge(stacks, fusion):
    """Across a depth step the fused image is as sharp as the truth once past the window."""
    slices, sharp = stacks["step"]
    window = 9
    result = depth_from_focus(FocalStack(slices, FOCUS_DIOPTERS, unit="diopter"), fusion=fusion, window=window,
                              refine="none")
    column_error = np.abs(result.all_in_focus - sharp).mean(axis=(0, 2))
    distance = np.abs(np.arange(W) - W // 2)
    blur_at_edge = 3.0 * abs(1.7 - 0.63)  # sigma (px) of the far side seen from the near focus
    away = (distance > window // 2 + 2 * blur_at_edge) & (np.arange(W) > MARGIN) & (np.arange(W) < W - MARGIN)
    assert column_error[away].max() < 0.02


def test_memory_does_not_grow_with_slices(synth):
    """Streaming: peak traced memory for 24 slices is within 1.5x that for 6."""

    def peak_bytes(n):
        focus = np.linspace(2.0, 0.2, n)
        sharp = synth.textured((128, 128), seed=1, color=True)
        depth = np.full((128, 128), 1.1)
        loader = lambda i: synth.render_slice(sharp, depth, focus[i], blur_per_diopter=3.0)  # noqa: E731
        stack = FocalStack.from_loader(loader, [(128, 128, 3)] * n, focus, unit="diopter")
        tracemalloc.start()
        depth_from_focus(stack)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return peak

    assert peak_bytes(24) < 1.5 * peak_bytes(6)


def test_timings_and_metadata_are_reported(stacks):
    slices, _ = stacks["plane"]
    result = depth_from_focus(FocalStack(slices, FOCUS_DIOPTERS, unit="diopter"), focus_measure="rdf")
    assert {"decode", "focus_measure", "fusion", "peak_fit", "refine", "total"} <= set(result.timings)
    assert result.method == "classical-rdf" and result.parameters["focus_measure"] == "rdf"
    np.testing.assert_array_equal(result.focus_positions, FOCUS_DIOPTERS)


def test_progress_is_called_per_slice(stacks):
    slices, _ = stacks["plane"]
    calls = []
    depth_from_focus(FocalStack(slices, FOCUS_DIOPTERS, unit="diopter"), progress=lambda d, t: calls.append((d, t)))
    assert calls == [(k, 10) for k in range(1, 11)]


@pytest.mark.parametrize(
    "overrides", [{"focus_measure": "nope"}, {"window": 4}, {"window": 0}, {"peak_fit": "cubic"},
                  {"fusion": "max"}, {"refine": "bilateral"}, {"blend_power": -1}, {"refine_radius": 0}],
)
def test_bad_parameters_raise_input_error(stacks, overrides):
    slices, _ = stacks["plane"]
    with pytest.raises(InputError):
        depth_from_focus(FocalStack(slices[:3], FOCUS_DIOPTERS[:3], unit="diopter"), **overrides)
