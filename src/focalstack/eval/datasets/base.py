"""What every benchmark loader yields: :class:`Sample`, and the loader registry.

A loader is a sequence of samples (``len`` and indexing), built from a folder in the
benchmark's published on-disk format. Ground truth is in the **same unit as the stack's focus
positions** (disparity for DDFF-12 and the 4D Light Field, metres for FoD500, ...), because that
is the unit a method's depth comes back in, so metrics compare like with like.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ...stack import FocalStack


@dataclass
class Sample:
    """One evaluation item.

    Attributes:
        name: unique within its dataset (e.g. ``"ddff12/val/0003"``).
        stack: the focal stack (focus positions and unit as the benchmark defines them).
        depth: H x W float32 ground truth in ``stack.unit``, or ``None`` (qualitative data).
        valid: H x W bool, pixels with ground truth (the benchmark's own rule, e.g. DDFF-12's
            zero-means-invalid and test crop); ``None`` means every pixel.
        all_in_focus: H x W x 3 float32 in [0, 1], or ``None``.
        confidence: H x W float32 weights in [0, 1] for confidence-weighted metrics, or ``None``.
    """

    name: str
    stack: FocalStack
    depth: np.ndarray | None = None
    valid: np.ndarray | None = None
    all_in_focus: np.ndarray | None = None
    confidence: np.ndarray | None = None


LOADERS: dict[str, Callable] = {}


def register_loader(name: str):
    """Class decorator: make a loader available to ``focalstack eval`` as ``name:PATH``."""

    def wrap(cls):
        LOADERS[name] = cls
        cls.dataset_name = name
        return cls

    return wrap
