"""Warp convention helpers: composition, inversion, resampling and error on known warps."""

import numpy as np
import pytest

from focalstack.align import (
    compose,
    identity_warps,
    invert,
    point_shifts_px,
    relative_to,
    warp_error_px,
    warp_to_reference,
)


def _shift(dx, dy, scale=1.0):
    return np.array([[scale, 0.0, dx], [0.0, scale, dy]])


def test_compose_and_invert_round_trip():
    a = np.array([[0.97, 0.01, 3.0], [-0.02, 1.01, -1.5]])
    np.testing.assert_allclose(compose(a, invert(a)), np.eye(2, 3), atol=1e-12)
    np.testing.assert_allclose(compose(_shift(1, 2), _shift(3, 4)), _shift(4, 6))


def test_relative_to_makes_the_reference_identity():
    warps = np.stack([_shift(2, -1), _shift(5, 3, 0.98), _shift(-1, 0, 0.96)])
    rel = relative_to(warps, 1)
    np.testing.assert_allclose(rel[1], np.eye(2, 3), atol=1e-12)
    np.testing.assert_allclose(compose(rel[2], warps[1]), warps[2], atol=1e-12)


def test_error_of_a_known_shift_is_the_shift():
    assert warp_error_px(_shift(3, 4)[None], np.eye(2, 3)[None], (10, 10))[0] == pytest.approx(5.0)
    # a 1 % magnification about the origin moves the far corner (99, 49) by |(0.99, 0.49)|
    shifts = point_shifts_px(_shift(0, 0, 1.01), np.eye(2, 3), (50, 100))
    assert shifts[3] == pytest.approx(np.hypot(0.99, 0.49))
    assert identity_warps(3).shape == (3, 2, 3)


def test_warp_to_reference_undoes_a_translation(synth):
    ref = synth.textured((48, 64), seed=3)
    moved = np.roll(ref, (2, 5), axis=(0, 1))  # the slice sees reference pixel (x, y) at (x + 5, y + 2)
    back = warp_to_reference(moved, _shift(5, 2))
    np.testing.assert_allclose(back[4:-4, 8:-8], ref[4:-4, 8:-8], atol=1e-5)
    np.testing.assert_allclose(warp_to_reference(ref, np.eye(2, 3)), ref)
