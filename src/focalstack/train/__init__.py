"""Training: losses of the three supervision regimes (trainer and configs arrive with issue 6)."""

from .losses import aif_loss, depth_loss, edge_aware_smoothness, self_supervised_loss

__all__ = ["aif_loss", "depth_loss", "edge_aware_smoothness", "self_supervised_loss"]
