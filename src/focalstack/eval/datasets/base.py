"""What every benchmark loader yields: :class:`Sample`, and the loader registry.

A loader is a sequence of samples (``len`` and indexing), built from a folder in the
benchmark's published on-disk format and constructed as ``Loader(root, *, split=..., **options)``;
options may arrive as text from ``focalstack eval``'s ``NAME:PATH?key=value`` (hence
:func:`as_bool` and :func:`as_size`). Ground truth is in the **same unit as the stack's focus
positions** (disparity for DDFF-12 and the 4D Light Field, metres for FoD500, ...), because that
is the unit a method's depth comes back in, so metrics compare like with like. The helpers at
the end of this module are shared by the loaders.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ...errors import InputError
from ...io.images import image_header, read_image
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


# --- helpers shared by the loaders ------------------------------------------------------------

Window = tuple[int, int, int, int]  # top, left, height, width in pixels


def check_split(split: str, allowed: Sequence[str], dataset: str) -> str:
    """Return ``split`` if it is one of ``allowed``, else raise :class:`InputError`."""
    if split not in allowed:
        raise InputError(f"{dataset} has splits {', '.join(map(repr, allowed))}; got split={split!r}")
    return split


def as_bool(value, *, name: str) -> bool:
    """A flag given as a bool, 0/1 or text (``true``/``false``/``yes``/``no``, e.g. from a CLI query)."""
    if isinstance(value, (bool, np.bool_)) or value in (0, 1):
        return bool(value)
    text = str(value).strip().lower()
    if text in ("true", "yes", "on", "1"):
        return True
    if text in ("false", "no", "off", "0"):
        return False
    raise InputError(f"{name} must be true or false, got {value!r}")


def as_size(value, *, name: str) -> tuple[int, int] | None:
    """A (height, width) in pixels from a pair or text ``"HxW"``; ``None`` or ``"none"`` stays ``None``."""
    if value is None or (isinstance(value, str) and value.strip().lower() in ("", "none")):
        return None
    parts = re.split(r"[x,]", value.lower()) if isinstance(value, str) else list(value)
    try:
        height, width = (int(v) for v in parts)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a size HxW in pixels, got {value!r}") from None
    if height <= 0 or width <= 0:
        raise InputError(f"{name} must be positive, got {value!r}")
    return height, width


def center_window(shape: tuple[int, ...], size: tuple[int, int] | None, *, what: str) -> Window | None:
    """The centred ``size`` = (height, width) window of an image of ``shape``; ``None`` for no crop."""
    if size is None:
        return None
    (h, w), (ch, cw) = shape[:2], size
    if ch > h or cw > w:
        raise InputError(f"{what} is {w}x{h}, smaller than the crop {cw}x{ch}")
    return (h - ch) // 2, (w - cw) // 2, ch, cw


def apply_window(array: np.ndarray, window: Window | None) -> np.ndarray:
    """``array[top:top+height, left:left+width]`` (a view); the whole array for ``None``."""
    if window is None:
        return array
    top, left, height, width = window
    return array[top : top + height, left : left + width]


def window_shape(shape: tuple[int, ...], window: Window | None) -> tuple[int, ...]:
    """The shape of an image of ``shape`` after :func:`apply_window`."""
    return tuple(shape) if window is None else (window[2], window[3], *shape[2:])


class ImageFileSlices:
    """Slice loader for :meth:`FocalStack.from_loader`: decodes file ``i`` to float32 [0, 1] and
    crops it to ``window``. Plain attributes only, so stacks stay picklable for worker processes."""

    def __init__(self, paths: Sequence[Path], window: Window | None = None) -> None:
        self.paths, self.window = list(paths), window

    def __call__(self, i: int) -> np.ndarray:
        return np.ascontiguousarray(apply_window(read_image(self.paths[i]), self.window))


def image_file_stack(
    paths: Sequence[Path], focus_positions, *, unit: str, window: Window | None = None,
    names: Sequence[str] | None = None,
) -> FocalStack:
    """A lazily decoded :class:`FocalStack` of image files (sizes checked from headers first).

    ``focus_positions`` are in ``unit``, one per file in file order; ``names`` default to the
    file names; ``window`` crops every slice.
    """
    headers = [image_header(p) for p in paths]
    shapes = [window_shape((h.height, h.width) if h.channels == 1 else (h.height, h.width, 3), window)
              for h in headers]
    return FocalStack.from_loader(ImageFileSlices(paths, window), shapes, focus_positions, unit=unit,
                                  names=list(names) if names else [p.name for p in paths],
                                  bit_depth=max(h.bit_depth for h in headers))


def read_exr_channels(path: Path) -> dict[str, np.ndarray]:
    """All channels of an OpenEXR file as H x W float32 arrays, keyed by channel name (``R``, ``Y``...)."""
    import OpenEXR

    if not Path(path).is_file():
        raise InputError(f"cannot read {path}: no such file")
    try:
        channels = OpenEXR.File(str(path), separate_channels=True).channels()
    except Exception as exc:  # noqa: BLE001 - OpenEXR raises several types for damaged files
        raise InputError(f"cannot read {path}: {exc}") from None
    return {name: np.asarray(ch.pixels, dtype=np.float32) for name, ch in channels.items()}


def natural_key(name: str) -> list:
    """Sort key that orders ``a2`` before ``a10`` (digit runs compare as numbers)."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", name)]
