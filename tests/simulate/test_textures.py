import cv2
import numpy as np
import pytest

from focalstack import InputError
from focalstack.simulate.textures import NATURAL_SOURCES, TEXTURES, load_natural_source, random_texture


def _gradient_energy(image, scale):
    gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    if scale > 1:
        gray = cv2.resize(gray, None, fx=1 / scale, fy=1 / scale, interpolation=cv2.INTER_AREA)
    gx, gy = np.gradient(gray)
    return float(np.mean(np.abs(gx) + np.abs(gy)))


@pytest.mark.parametrize("name", sorted(TEXTURES))
def test_every_texture_is_rgb_float_in_range_with_detail_at_several_scales(name):
    for seed in range(3):
        image = TEXTURES[name](np.random.default_rng(seed), (96, 128))
        assert image.shape == (96, 128, 3) and image.dtype == np.float32
        assert 0 <= image.min() and image.max() <= 1
        assert image.std() > 0.05
        assert _gradient_energy(image, 1) > 0.005 and _gradient_energy(image, 4) > 0.005


@pytest.mark.parametrize("name", sorted(TEXTURES))
def test_textures_are_deterministic_per_seed(name):
    a = TEXTURES[name](np.random.default_rng(11), (40, 40))
    b = TEXTURES[name](np.random.default_rng(11), (40, 40))
    c = TEXTURES[name](np.random.default_rng(12), (40, 40))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_natural_sources_load_offline():
    for name in NATURAL_SOURCES:
        image = load_natural_source(name)
        assert image.dtype == np.float32 and min(image.shape[:2]) >= 128 and 0 <= image.min() <= image.max() <= 1


def test_random_texture_mixes_kinds_and_checks_arguments():
    rng = np.random.default_rng(0)
    natural = [random_texture(rng, (32, 32), natural_probability=1.0) for _ in range(3)]
    assert all(t.shape == (32, 32, 3) for t in natural)
    with pytest.raises(InputError):
        random_texture(rng, (32, 32), natural_probability=1.5)
    with pytest.raises(InputError):
        load_natural_source("skimage:not_an_image")
