"""Evaluation: metrics, the timing protocol, benchmark loaders, the benchmark suite."""

from .metrics import AIF_METRICS, DEPTH_METRICS, aif_metrics, average_metrics, depth_metrics, evaluation_mask
from .timing import Timing, time_call

__all__ = [
    "AIF_METRICS", "DEPTH_METRICS", "Timing", "aif_metrics", "average_metrics", "depth_metrics", "evaluation_mask",
    "time_call",
]
