"""Focus-breathing warps from metadata: the thin-lens magnification, known answers and bad input."""

import numpy as np
import pytest

from focalstack.align import breathing_scales, breathing_warps
from focalstack.errors import InputError


def test_scales_follow_the_thin_lens():
    f = 0.0044
    focus = np.array([0.1, 0.25, 1.0])
    s = focus * f / (focus - f)
    np.testing.assert_allclose(breathing_scales(focus, focal_length_mm=4.4), s / s[0])
    assert breathing_scales(np.array([0.5, np.inf]), focal_length_mm=50)[1] == pytest.approx(0.05 / (0.5 * 0.05 / 0.45))


def test_warps_magnify_about_the_centre():
    warps = breathing_warps(np.array([0.1, 1.0]), focal_length_mm=4.4, shape=(31, 41))
    centre = np.array([20.0, 15.0, 1.0])
    np.testing.assert_allclose(warps @ centre, [[20, 15, 1], [20, 15, 1]])
    np.testing.assert_allclose(warps[0], np.eye(3))
    corner = warps[1] @ np.array([0.0, 0.0, 1.0])
    assert np.all(corner > 0)  # the far focus sees more: the reference corner lies inside it


@pytest.mark.parametrize("focus, focal", [([0.1, 0.003], 4.4), ([0.1, 1.0], 0.0), ([0.1, 1.0], -4)])
def test_bad_metadata_is_refused(focus, focal):
    with pytest.raises(InputError):
        breathing_scales(np.array(focus), focal_length_mm=focal)
