"""Training: losses of the three supervision regimes, configs, the trainer and test-time optimisation."""

from .config import AugmentConfig, DataConfig, OptimConfig, TrainConfig
from .losses import aif_loss, depth_loss, edge_aware_smoothness, self_supervised_loss
from .trainer import Trainer, export_weights

__all__ = ["AugmentConfig", "DataConfig", "OptimConfig", "TrainConfig", "Trainer", "aif_loss", "depth_loss",
           "edge_aware_smoothness", "export_weights", "self_supervised_loss"]
