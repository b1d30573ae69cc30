"""Benchmark loaders, one file per benchmark; importing this package registers them all."""

from .base import LOADERS, Sample, register_loader
from .simulated import SimulatedStacks

__all__ = ["LOADERS", "Sample", "SimulatedStacks", "register_loader"]
