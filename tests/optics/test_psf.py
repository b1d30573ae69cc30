import numpy as np
import pytest

from focalstack.optics.psf import custom_psf, disc_psf, gaussian_psf, psf_kernel


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
