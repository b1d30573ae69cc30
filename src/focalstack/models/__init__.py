"""Learned depth-from-focus networks behind one registry (``create_model``, ``list_models``).

Architectures: AiFDepthNet-style (shared attention, ``aifdepthnet*``), Depth from Focus in the
Wild (``dffwild*``) and DAIF-Net (``daifnet*``). Every model follows :class:`FocalStackNet`'s
contract and returns a :class:`DepthOutput`.
"""

# the architecture modules register their variants on import (timm-style); the registry imports none of them
from . import aifdepthnet, daifnet, dffwild  # noqa: F401  (isort: keep before the registry's users)
from .base import DepthOutput, FocalStackNet, stack_to_tensors
from .registry import (
    create_model,
    describe_standing,
    join_method,
    list_models,
    model_entry,
    real_image_standing,
    register_model,
    released_weights,
    split_method,
    weights_made_for,
)
from .weights import load_weights, save_weights

__all__ = [
    "released_weights",
    "real_image_standing",
    "describe_standing",
    "weights_made_for",
    "join_method",
    "split_method",
    "DepthOutput", "FocalStackNet", "create_model", "list_models", "load_weights", "model_entry", "register_model",
    "save_weights", "stack_to_tensors",
]
