"""Weights on disk: safetensors with a metadata block (architecture, config, regime, data, metrics)."""

from __future__ import annotations

import json
from pathlib import Path

from safetensors.torch import load_file, safe_open, save_file
from torch import Tensor, nn

from ..errors import InputError


def save_weights(model: nn.Module, path: str | Path, **metadata) -> None:
    """Write ``model``'s state dict to ``path`` with metadata (JSON-encoded values).

    The model's registry name and hyperparameters (``model_name``, ``model_config``, set by
    :func:`~.registry.create_model`) are recorded as ``architecture`` and ``config``; pass
    e.g. ``regime="depth-supervised"``, ``data=...``, ``metrics={...}``, ``licence="MIT"``.
    """
    info = {"name": getattr(model, "model_name", type(model).__name__),
            "config": getattr(model, "model_config", {}), **metadata}
    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    path = Path(path)
    tmp = path.with_suffix(path.suffix + ".tmp")
    save_file(state, str(tmp), metadata={k: json.dumps(v) for k, v in info.items()})
    tmp.replace(path)


def load_weights(path: str | Path) -> tuple[dict[str, Tensor], dict]:
    """(state dict, metadata) of a weights file written by :func:`save_weights`."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"weights file {path} does not exist")
    try:
        with safe_open(str(path), framework="pt") as fh:
            raw = fh.metadata() or {}
        state = load_file(str(path))
    except Exception as exc:  # noqa: BLE001 - any parse failure is a bad file
        raise InputError(f"cannot read weights {path}: {exc}") from None
    return state, {k: json.loads(v) for k, v in raw.items()}
