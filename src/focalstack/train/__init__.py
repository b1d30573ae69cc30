"""Training: typed configs, the losses of the three supervision regimes, the trainer and test-time optimisation."""

from .config import AugmentConfig, DataConfig, LossConfig, ModelConfig, OptimConfig, RunConfig, TrainConfig
from .losses import (
    AllInFocusLoss,
    DepthLoss,
    Rendering,
    SelfSupervisedLoss,
    TeacherLoss,
    aif_loss,
    depth_loss,
    edge_aware_smoothness,
)
from .trainer import Trainer, export_weights

__all__ = ["AllInFocusLoss", "AugmentConfig", "DataConfig", "DepthLoss", "LossConfig", "ModelConfig", "OptimConfig",
           "Rendering", "RunConfig", "SelfSupervisedLoss", "TeacherLoss", "TrainConfig", "Trainer", "aif_loss",
           "depth_loss", "edge_aware_smoothness", "export_weights"]
