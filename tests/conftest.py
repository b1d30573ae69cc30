"""Shared test fixtures: synthetic focal stacks of known depth, rendered with Gaussian blur."""

from __future__ import annotations

import cv2
import numpy as np
import pytest


def textured_image(shape, *, seed=0, color=False):
    """Multi-scale noise texture in [0, 1] with detail at every scale from 1 to 32 px."""
    rng = np.random.default_rng(seed)
    h, w = shape
    channels = 3 if color else 1
    image = np.zeros((h, w, channels), np.float32)
    for scale, weight in ((1, 0.5), (2, 0.5), (4, 0.6), (8, 0.6), (16, 0.5), (32, 0.4)):
        small = rng.random((h // scale + 2, w // scale + 2, channels), dtype=np.float32)
        big = cv2.resize(small, (w + 2 * scale, h + 2 * scale), interpolation=cv2.INTER_CUBIC)
        image += weight * big.reshape(big.shape[0], big.shape[1], channels)[scale : scale + h, scale : scale + w]
    image = (image - image.min()) / (image.max() - image.min())
    return image if color else image[..., 0]


def render_slice(sharp, depth_diopter, focus_diopter, *, blur_per_diopter):
    """Spatially varying Gaussian blur, sigma = blur_per_diopter * |depth - focus| (pixels).

    Blurred copies are made at sigmas 0.25 px apart and linearly interpolated per pixel.
    """
    sigma = blur_per_diopter * np.abs(depth_diopter - focus_diopter)
    levels = np.arange(0.0, sigma.max() + 0.5, 0.25)
    blurred = [sharp if s == 0 else cv2.GaussianBlur(sharp, (0, 0), s, borderType=cv2.BORDER_REFLECT) for s in levels]
    pos = sigma / 0.25
    lo = np.floor(pos).astype(int)
    hi = np.minimum(lo + 1, len(levels) - 1)
    t = (pos - lo).astype(np.float32)
    stackd = np.stack(blurred)
    rows, cols = np.indices(sigma.shape)
    a, b = stackd[lo, rows, cols], stackd[hi, rows, cols]
    if sharp.ndim == 3:
        t = t[..., None]
    return (a * (1 - t) + b * t).astype(np.float32)


def render_stack(depth_diopter, focus_diopters, *, blur_per_diopter=3.0, seed=0, color=False, noise=0.0):
    """Slices (N x H x W [x 3] float32) of a random texture at the given inverse depths."""
    sharp = textured_image(depth_diopter.shape, seed=seed, color=color)
    rng = np.random.default_rng(seed + 1)
    slices = []
    for f in focus_diopters:
        img = render_slice(sharp, depth_diopter, f, blur_per_diopter=blur_per_diopter)
        if noise:
            img = np.clip(img + rng.normal(0, noise, img.shape).astype(np.float32), 0, 1)
        slices.append(img)
    return np.stack(slices), sharp


@pytest.fixture(scope="session")
def synth():
    """The synthetic-stack helpers, for tests in any folder."""

    class Synth:
        textured = staticmethod(textured_image)
        render = staticmethod(render_stack)
        render_slice = staticmethod(render_slice)

    return Synth
