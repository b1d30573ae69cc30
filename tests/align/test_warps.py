"""Warp convention helpers: composition, inversion, resampling and error on known warps."""

import numpy as np
import pytest

from focalstack.align import (
    apply,
    compose,
    homogeneous,
    identity_warps,
    invert,
    is_affine,
    point_shifts_px,
    relative_to,
    warp_error_px,
    warp_to_reference,
)


def _shift(dx, dy, scale=1.0):
    return np.array([[scale, 0.0, dx], [0.0, scale, dy]])


def test_compose_and_invert_round_trip():
    a = np.array([[0.97, 0.01, 3.0], [-0.02, 1.01, -1.5]])
    np.testing.assert_allclose(compose(a, invert(a)), np.eye(3), atol=1e-12)
    np.testing.assert_allclose(compose(_shift(1, 2), _shift(3, 4)), homogeneous(_shift(4, 6)))
    h = np.array([[1.01, 0.02, 3.0], [-0.01, 0.99, -2.0], [2e-4, -1e-4, 1.0]])
    np.testing.assert_allclose(compose(invert(h), h), np.eye(3), atol=1e-12)


def test_relative_to_makes_the_reference_identity():
    warps = np.stack([_shift(2, -1), _shift(5, 3, 0.98), _shift(-1, 0, 0.96)])
    rel = relative_to(warps, 1)
    np.testing.assert_allclose(rel[1], np.eye(3), atol=1e-12)
    np.testing.assert_allclose(compose(rel[2], warps[1]), homogeneous(warps[2]), atol=1e-12)


def test_error_of_a_known_shift_is_the_shift():
    assert warp_error_px(_shift(3, 4)[None], np.eye(2, 3)[None], (10, 10))[0] == pytest.approx(5.0)
    # a 1 % magnification about the origin moves the far corner (99, 49) by |(0.99, 0.49)|
    shifts = point_shifts_px(_shift(0, 0, 1.01), np.eye(2, 3), (50, 100))
    assert shifts[3] == pytest.approx(np.hypot(0.99, 0.49))
    assert identity_warps(3).shape == (3, 3, 3) and is_affine(identity_warps(3))


def test_homographies_project_points():
    h = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.01, 0.0, 1.0]])  # x' = x / (1 + 0.01 x)
    np.testing.assert_allclose(apply(h, [[100.0, 50.0]]), [[50.0, 25.0]])
    assert not is_affine(h)
    assert point_shifts_px(h, np.eye(3), (1, 101))[1] == pytest.approx(50.0)
    with pytest.raises(ValueError, match="2 x 3 or 3 x 3"):
        homogeneous(np.eye(2))


def test_warp_to_reference_undoes_a_translation(synth):
    ref = synth.textured((48, 64), seed=3)
    moved = np.roll(ref, (2, 5), axis=(0, 1))  # the slice sees reference pixel (x, y) at (x + 5, y + 2)
    back = warp_to_reference(moved, _shift(5, 2))
    np.testing.assert_allclose(back[4:-4, 8:-8], ref[4:-4, 8:-8], atol=1e-5)
    np.testing.assert_allclose(warp_to_reference(ref, np.eye(2, 3)), ref)
    np.testing.assert_allclose(warp_to_reference(ref, np.eye(3)), ref)


def test_warp_to_reference_applies_a_homography(synth):
    import cv2

    ref = cv2.GaussianBlur(synth.textured((64, 64), seed=4), (0, 0), 2.0)  # smooth: resampling errors stay small
    h = np.array([[1.02, 0.01, -1.0], [0.0, 0.98, 1.5], [3e-4, -2e-4, 1.0]])  # reference pixel -> slice pixel
    slice_image = cv2.warpPerspective(ref, h, (64, 64), flags=cv2.INTER_CUBIC,
                                      borderMode=cv2.BORDER_REFLECT101)
    back = warp_to_reference(slice_image, h)
    assert np.abs(back - ref)[8:-8, 8:-8].mean() < 0.05 * ref.std()
    wrong = warp_to_reference(slice_image, np.linalg.inv(h))
    assert np.abs(wrong - ref)[8:-8, 8:-8].mean() > 0.2 * ref.std()
