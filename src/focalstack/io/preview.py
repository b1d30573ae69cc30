"""A colour-mapped depth preview with a scale bar in the depth unit (matplotlib, no pyplot state)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from ..units import UNIT_LABELS, check_unit, to_blur_coordinate

_MAX_PREVIEW_WIDTH_PX = 1600


def save_depth_preview(path: str | Path, depth: np.ndarray, unit: str, *, title: str | None = None) -> None:
    """Write a PNG of ``depth`` (H x W, in ``unit``) with a colour bar labelled in ``unit``.

    Colours are linear in the blur coordinate (inverse depth for metres), so near and far
    structure both stay visible, and the bar's ticks read in the depth unit. Near is warm
    (red), far is cool (blue). The range spans the 1st to 99th percentile.
    """
    check_unit(unit)
    shown = to_blur_coordinate(np.asarray(depth, dtype=np.float32), unit)
    finite = shown[np.isfinite(shown)]
    lo, hi = np.percentile(finite, [1, 99]) if finite.size else (0.0, 1.0)
    if hi <= lo:
        lo, hi = lo - 0.5, hi + 0.5
    h, w = shown.shape
    dpi = 100
    width_in = min(max(w, 480), _MAX_PREVIEW_WIDTH_PX) / dpi
    fig = Figure(figsize=(width_in * 1.15, width_in * h / w + 0.4), dpi=dpi)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    near_is_small = unit == "index"  # for the other units the blur coordinate grows toward the camera
    im = ax.imshow(shown, cmap="turbo_r" if near_is_small else "turbo", vmin=lo, vmax=hi, interpolation="antialiased")
    ax.set_axis_off()
    if title:
        ax.set_title(title, fontsize=10)
    bar = fig.colorbar(im, ax=ax, fraction=0.05, pad=0.02)
    bar.set_label(UNIT_LABELS[unit])
    if unit == "m":
        bar.ax.yaxis.set_major_formatter(FuncFormatter(_metres_from_diopters))
    fig.savefig(path, dpi=dpi, bbox_inches="tight", pad_inches=0.08, format="png")


def _metres_from_diopters(diopters: float, _pos=None) -> str:
    return "inf" if diopters <= 0 else f"{1.0 / diopters:.3g}"
