"""Benchmark loaders, one file per benchmark; importing this package registers them all."""

from . import ddff12, fod500, hci4d, mobile_depth, smartphone  # noqa: F401  (register their loaders)
from .base import LOADERS, Sample, register_loader
from .simulated import SimulatedStacks

__all__ = ["LOADERS", "Sample", "SimulatedStacks", "register_loader"]
