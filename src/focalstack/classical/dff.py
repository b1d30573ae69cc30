"""Classical depth from focus: the whole pipeline, streamed slice by slice.

For each slice (decoded in a background thread while the previous one is processed):
focus measure -> running focus-curve statistics -> all-in-focus accumulation. Then the
sub-slice peak fit in the blur coordinate, the confidence, and an optional edge-aware
refinement guided by the all-in-focus image. Memory is a fixed number of H x W maps,
whatever the number of slices.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace

import numpy as np

from ..errors import InputError
from ..stack import DepthResult, FocalStack
from ..units import from_blur_coordinate
from .focus_curve import PEAK_FITS, FocusCurve
from .focus_measures import check_measure, focus_measure
from .fusion import FUSIONS, make_fusion
from .refine import REFINEMENTS, refine_depth

ProgressCallback = Callable[[int, int], None]


@dataclass(frozen=True)
class ClassicalConfig:
    """Parameters of :func:`depth_from_focus`.

    Attributes:
        focus_measure: ``sml``, ``tenengrad``, ``variance`` or ``rdf``.
        window: odd side in pixels of the focus-measure window.
        peak_fit: ``gaussian`` (log-parabola), ``parabolic`` or ``none``.
        fusion: all-in-focus fusion, ``soft`` or ``pyramid``.
        blend_power: selection sharpness of the soft blend (weights = focus^power).
        refine: ``guided``, ``wmedian`` or ``none``.
        refine_radius: refinement radius in pixels.
        refine_eps: guided-filter regularisation (squared intensity).
    """

    focus_measure: str = "sml"
    window: int = 9
    peak_fit: str = "gaussian"
    fusion: str = "soft"
    blend_power: float = 8.0
    refine: str = "guided"
    refine_radius: int = 8
    refine_eps: float = 1e-4

    def __post_init__(self) -> None:
        try:
            check_measure(self.focus_measure, self.window)
        except ValueError as exc:
            raise InputError(str(exc)) from None
        for name, value, allowed in (("peak_fit", self.peak_fit, PEAK_FITS), ("fusion", self.fusion, FUSIONS),
                                     ("refine", self.refine, REFINEMENTS)):
            if value not in allowed:
                raise InputError(f"unknown {name} {value!r}; use one of {', '.join(allowed)}")
        if self.blend_power < 0 or self.refine_radius < 1 or self.refine_eps <= 0:
            raise InputError("blend_power must be >= 0, refine_radius >= 1 and refine_eps > 0")


def depth_from_focus(
    stack: FocalStack,
    config: ClassicalConfig | None = None,
    *,
    progress: ProgressCallback | None = None,
    **overrides,
) -> DepthResult:
    """Depth, all-in-focus image and confidence from a focal stack, without learning.

    Args:
        stack: the focal stack (slices may be decoded lazily; each is read once).
        config: parameters; keyword ``overrides`` replace single fields
            (e.g. ``focus_measure="rdf"``).
        progress: called as ``progress(done, total)`` after each slice.

    Returns:
        :class:`DepthResult` with depth in ``stack.unit`` (metric stacks are interpolated
        in diopters), the fused all-in-focus image, confidence in [0, 1], the fractional
        slice index and per-stage timings in seconds.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> sharp = rng.random((48, 48), dtype=np.float32)
        >>> import cv2
        >>> slices = [cv2.GaussianBlur(sharp, (0, 0), s) if s else sharp for s in (2, 0, 2)]
        >>> stack = FocalStack(slices, [2 / 3, 1.0, 2.0], unit="m")  # 1.5, 1, 0.5 diopters
        >>> result = depth_from_focus(stack, refine="none")
        >>> round(float(np.median(result.depth)), 2)
        1.0
    """
    config = replace(config or ClassicalConfig(), **overrides)
    timings: dict[str, float] = dict.fromkeys(("decode", "decode_wait", "focus_measure", "focus_curve", "fusion"), 0.0)
    start = time.perf_counter()
    curve, fusion = FocusCurve(stack.shape), make_fusion(config.fusion, power=config.blend_power)
    for k, image in enumerate(_prefetched(stack, timings)):
        with _stage(timings, "focus_measure"):
            focus = focus_measure(image, measure=config.focus_measure, window=config.window)
        with _stage(timings, "focus_curve"):
            curve.update(focus)
        with _stage(timings, "fusion"):
            fusion.update(image, focus)
        if progress is not None:
            progress(k + 1, len(stack))
    with _stage(timings, "fusion"):
        aif = fusion.result()
    with _stage(timings, "peak_fit"):
        position, index = curve.peak(stack.blur_coordinates, fit=config.peak_fit)
        confidence = curve.confidence()
    with _stage(timings, "refine"):
        position = refine_depth(position, confidence, aif, method=config.refine,
                                radius=config.refine_radius, eps=config.refine_eps)
        coords = stack.blur_coordinates
        position = np.clip(position, coords.min(), coords.max())  # no filter overshoot past the sweep
    depth = from_blur_coordinate(position, stack.unit).astype(np.float32)
    timings["total"] = time.perf_counter() - start
    return DepthResult(depth=depth, all_in_focus=aif, confidence=confidence, unit=stack.unit,
                       focus_positions=stack.focus_positions.copy(), slice_index=index, timings=timings,
                       method=f"classical-{config.focus_measure}", parameters=asdict(config))


@contextmanager
def _stage(timings: dict[str, float], name: str):
    start = time.perf_counter()
    try:
        yield
    finally:
        timings[name] = timings.get(name, 0.0) + time.perf_counter() - start


def _prefetched(stack: FocalStack, timings: dict[str, float]) -> Iterator[np.ndarray]:
    """Slices in order, the next one decoded in a background thread meanwhile."""

    def load(k: int) -> tuple[np.ndarray, float]:
        start = time.perf_counter()
        return stack[k], time.perf_counter() - start

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="focalstack-decode") as pool:
        pending = pool.submit(load, 0)
        for k in range(len(stack)):
            with _stage(timings, "decode_wait"):
                image, seconds = pending.result()
            timings["decode"] += seconds
            if k + 1 < len(stack):
                pending = pool.submit(load, k + 1)
            yield image
