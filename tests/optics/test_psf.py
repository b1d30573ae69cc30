import numpy as np
import pytest

from focalstack.optics.psf import (
    LIGHTFIELD_VIEWS,
    PSFS,
    custom_psf,
    disc_psf,
    gaussian_psf,
    kernel_extent_px,
    lightfield_psf,
    psf_kernel,
    psf_size,
)


def _axis_variance(kernel):
    x = np.arange(kernel.shape[0]) - kernel.shape[0] // 2
    return float((kernel.sum(axis=0) * x**2).sum())


@pytest.mark.parametrize("sigma", [1.0, 2.5, 4.0])
def test_gaussian_is_normalised_with_the_right_variance(sigma):
    k = gaussian_psf(sigma)
    assert k.sum() == pytest.approx(1) and k.min() >= 0
    assert _axis_variance(k) == pytest.approx(sigma**2 + 1 / 6, rel=0.03)  # + the tent's 1/6


@pytest.mark.parametrize("radius", [2.0, 3.5, 6.0])
def test_disc_has_the_area_and_variance_of_a_disc(radius):
    k = disc_psf(radius)
    assert k.sum() == pytest.approx(1)
    # continuous disc: variance R^2 / 4 per axis, plus 1/6 for the tent of linear interpolation
    assert _axis_variance(k) == pytest.approx(radius**2 / 4 + 1 / 6, rel=0.03)
    # support: nothing beyond the radius + one pixel (the tent) in either axis
    yy, xx = np.indices(k.shape) - k.shape[0] // 2
    assert k[np.hypot(np.maximum(np.abs(yy) - 1, 0), np.maximum(np.abs(xx) - 1, 0)) > radius].sum() == 0


def test_sub_pixel_blur_grows_smoothly_from_a_single_pixel():
    centre = [disc_psf(r)[disc_psf(r).shape[0] // 2, disc_psf(r).shape[0] // 2] for r in (0.0, 0.2, 0.4, 0.6, 0.8)]
    assert centre[0] == 1 and all(a > b for a, b in zip(centre, centre[1:]))


def test_zero_size_kernels_are_a_single_pixel():
    for k in (gaussian_psf(0.0, radius_px=2), disc_psf(0.0, size_px=5), custom_psf(np.ones((5, 5)), 0.0)):
        assert k[k.shape[0] // 2, k.shape[1] // 2] == pytest.approx(1)


def test_custom_kernel_resampled_to_a_radius():
    shape = disc_psf(8.0, size_px=17)  # a disc described at half-width 8
    k = custom_psf(shape, 3.0)
    assert k.sum() == pytest.approx(1)
    assert _axis_variance(k) == pytest.approx(_axis_variance(disc_psf(3.0)), rel=0.15)


def test_bad_psfs():
    with pytest.raises(ValueError):
        psf_kernel("airy", 1.0)
    with pytest.raises(ValueError):
        custom_psf(np.ones((4, 4)), 2.0)
    with pytest.raises(ValueError):
        custom_psf(-np.ones((3, 3)), 2.0)
    with pytest.raises(ValueError):
        gaussian_psf(-1.0)


@pytest.mark.parametrize("radius", [0.0, 0.3, 1.0, 2.6, 5.3])
def test_lightfield_kernel_is_a_normalised_symmetric_odd_square(radius):
    k = lightfield_psf(radius)
    half = int(np.ceil(radius)) + 1
    assert k.shape == (2 * half + 1, 2 * half + 1)
    assert k.sum() == pytest.approx(1, abs=1e-12) and k.min() >= 0
    for flipped in (k[::-1], k[:, ::-1], k.T):
        np.testing.assert_array_equal(k, flipped)  # symmetric: scatter and gather kernels coincide
    if radius == 0:
        assert k[half, half] == 1  # exactly one pixel
    # nothing beyond the outermost views + one pixel (the tent)
    assert k[0].sum() == k[:, 0].sum() == 0


def test_lightfield_kernel_is_the_grid_of_views_splatted():
    """Known answers: views on whole pixels at R = 4, halves at R = 2, the 9 x 9 variance at any R."""
    k = lightfield_psf(4.0)  # u R / 4 = u: 81 points on 81 pixels
    np.testing.assert_allclose(k[1:-1, 1:-1], np.full((9, 9), 1 / 81), rtol=1e-12)
    row = lightfield_psf(2.0).sum(axis=0)  # points at 0, +-0.5, +-1, +-1.5, +-2 px
    np.testing.assert_allclose(row, np.array([0, 1.5, 2, 2, 2, 1.5, 0]) / 9, rtol=1e-12)
    for radius in (2.6, 5.3):  # per-axis variance R^2 (V+1) / (3 (V-1)) plus each view's tent f (1 - f)
        frac = np.mod(radius * np.linspace(-1, 1, 9), 1.0)
        expected = radius**2 * 10 / 24 + np.mean(frac * (1 - frac))
        assert _axis_variance(lightfield_psf(radius)) == pytest.approx(expected, rel=1e-12)


def test_lightfield_with_two_views_and_a_given_size():
    k = lightfield_psf(1.5, views=2, size_px=5)  # two points at +-1.5 px: half on +-1, half on +-2
    np.testing.assert_allclose(k.sum(axis=0), [0.25, 0.25, 0, 0.25, 0.25], rtol=1e-12)
    assert lightfield_psf(0.0, size_px=5)[2, 2] == 1


def test_lightfield_is_a_named_psf_sized_by_its_radius():
    assert "lightfield" in PSFS and LIGHTFIELD_VIEWS == 9
    np.testing.assert_array_equal(psf_kernel("lightfield", 2.6), lightfield_psf(2.6))
    assert psf_kernel("lightfield", 2.6, kernel_radius_px=6).shape == (13, 13)
    np.testing.assert_allclose(psf_kernel("lightfield", 2.6, kernel_radius_px=6)[2:-2, 2:-2], lightfield_psf(2.6))
    assert kernel_extent_px("lightfield", 2.6) == 4 and psf_size("lightfield", 2.6) == 2.6


@pytest.mark.parametrize("kwargs", [dict(radius_px=-1.0), dict(radius_px=float("nan")), dict(radius_px=1.0, views=1),
                                    dict(radius_px=1.0, views=2.5)])
def test_lightfield_checks_its_arguments(kwargs):
    with pytest.raises(ValueError):
        lightfield_psf(**kwargs)
