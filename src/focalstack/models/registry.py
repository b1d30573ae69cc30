"""Models by name (timm-style): ``create_model(name, pretrained=...)``, ``list_models()``.

An architecture module registers one builder per variant when it is imported (the package
``focalstack.models`` imports every architecture module; this module imports none of them); a
variant only sets hyperparameters::

    @register_model("aifdepthnet_light", architecture="aifdepthnet", channels=8)
    def _(**cfg): return AiFDepthNet(**cfg)

Weights are safetensors files whose metadata block records the architecture, variant, the
hyperparameters, the training regime and data, metrics and licence (:mod:`.weights`).
Released weights live in ``focalstack/models/weights/<name>.safetensors`` (the default for
``pretrained=True``) and ``<name>.<tag>.safetensors`` for other trainings of the same variant
(``pretrained="aif"``: e.g. the all-in-focus-supervised AiFDepthNet). On the command line a
method ``NAME:TAG`` selects a tag.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from torch import nn

from ..errors import InputError
from .weights import load_weights

WEIGHTS_DIR = Path(__file__).with_name("weights")


# Peak inference memory in bytes per pixel: (per slice, per pixel whatever the slice count), measured
# with benchmarks/bench_memory.py; a variant registered without a measurement gets this cautious cost.
DEFAULT_MEMORY = (300.0, 1500.0)


@dataclass(frozen=True)
class ModelEntry:
    """A registered model variant."""

    name: str
    architecture: str
    builder: Callable[..., nn.Module]
    defaults: dict
    description: str
    memory: tuple[float, float] = DEFAULT_MEMORY


_REGISTRY: dict[str, ModelEntry] = {}


def register_model(name: str, *, architecture: str, description: str = "",
                   memory: tuple[float, float] = DEFAULT_MEMORY, **defaults):
    """Decorator registering ``builder(**hyperparameters) -> nn.Module`` under ``name``; ``memory`` is
    the variant's peak inference memory in bytes per pixel, (per slice, fixed), which sizes tiles."""

    def wrap(builder: Callable[..., nn.Module]):
        if name in _REGISTRY:
            raise ValueError(f"model {name!r} registered twice")
        _REGISTRY[name] = ModelEntry(name, architecture, builder, dict(defaults), description or builder.__doc__ or "",
                                     tuple(memory))
        return builder

    return wrap


def list_models(architecture: str | None = None) -> list[str]:
    """Names of every registered model (optionally of one architecture), sorted."""
    return sorted(n for n, e in _REGISTRY.items() if architecture in (None, e.architecture))


def model_entry(name: str) -> ModelEntry:
    if name not in _REGISTRY:
        raise InputError(f"unknown model {name!r}; available: {', '.join(list_models())}")
    return _REGISTRY[name]


def create_model(name: str, pretrained: bool | str | Path = False, **overrides) -> nn.Module:
    """Build a registered model.

    Args:
        name: a name from :func:`list_models`.
        pretrained: ``False`` (random weights), ``True`` (the released weights of ``name``), a
            tag of released weights (see :func:`released_weights`), or a path to a safetensors
            file written by :func:`~.weights.save_weights`.
        overrides: hyperparameters replacing the variant's defaults (e.g. ``channels=16``). Weights
            record the hyperparameters they were trained with; those replace the defaults too
            (``overrides`` win).

    Raises:
        InputError: unknown name, or ``pretrained=True`` where no weights have been released.
    """
    entry = model_entry(name)
    if pretrained is True or (isinstance(pretrained, str) and _is_tag(pretrained) and not Path(pretrained).is_file()):
        tag = None if pretrained is True else pretrained
        path = weights_path(name, tag)
        if not path.is_file():
            if tag is None and not released_weights(name):
                raise InputError(f"no trained weights for {name!r} have been released yet; "
                                 "pass a weights file (--weights PATH)")
            available = ", ".join(join_method(name, t) for t in released_weights(name)) or "none"
            raise InputError(f"no released weights {join_method(name, tag)}; released: {available}")
        pretrained = path
    state, info = load_weights(pretrained) if pretrained else (None, {})
    # weights carry the hyperparameters they were trained with (e.g. a training run's model_overrides)
    recorded = info.get("config") or {}
    config = {**entry.defaults, **recorded, **overrides}
    model = entry.builder(**config)
    model.model_name, model.model_config, model.memory_per_pixel = name, config, entry.memory
    if state is not None:
        model.load_state_dict(state)
    return model


def weights_path(name: str, tag: str | None = None) -> Path:
    """Where the released weights of ``name`` (with ``tag``) live."""
    return WEIGHTS_DIR / (f"{name}.{tag}.safetensors" if tag else f"{name}.safetensors")


def released_weights(name: str) -> list[str | None]:
    """Tags of the released weights of ``name`` (``None`` for the default), default first."""
    tags: list[str | None] = [None] if weights_path(name).is_file() else []
    prefix = f"{name}."
    for path in sorted(WEIGHTS_DIR.glob(f"{name}.*.safetensors")):
        tag = path.name[len(prefix):-len(".safetensors")]
        if _is_tag(tag):
            tags.append(tag)
    return tags


STANDING_FILE = WEIGHTS_DIR / "standing.json"


def real_image_standing(method: str) -> dict | None:
    """How the released weights ``NAME[:TAG]`` fare against the focus measure ``sml`` on the real-image
    benchmark (``weights/standing.json``, written by ``benchmarks/real_standing.py`` from a ``focalstack
    eval --real`` report): ``{"ratio", "low", "high", "per_dataset", "beats_reference", "reference",
    "benchmark"}`` and, for weights trained for one camera, ``"made_for"`` (its split, e.g.
    ``"real-lightfield"``); None when they were not measured."""
    table = _standing_table()
    entry = table.get("methods", {}).get(method)
    if entry is None:
        return None
    return {**entry, "reference": table.get("reference"), "benchmark": table.get("benchmark")}


def describe_standing(method: str) -> str:
    """One line on how released weights ``NAME[:TAG]`` fare against the focus measure ``sml`` on the real-image
    benchmark (:func:`real_image_standing`), or ``""`` when they were not measured."""
    from ..models import real_image_standing

    standing = real_image_standing(method)
    if standing is None:
        return ""
    worse = [name for name, ratio in standing["per_dataset"].items() if ratio >= 1]
    verdict = f"WORSE than it on {', '.join(worse)}" if worse else "better on every split"
    tail = f"({standing['low']:.2f}-{standing['high']:.2f}), {verdict} (docs/benchmarks.md)"
    measure = f"the MSE of the focus measure {standing['reference']}"
    made_for = standing.get("made_for")
    if made_for in standing["per_dataset"]:  # weights trained for one camera: that split first
        return (f"{method}: made for {made_for}, {standing['per_dataset'][made_for]:.2f}x {measure} there; "
                f"{standing['ratio']:.2f}x on the whole real-image benchmark {tail}")
    return f"{method}: {standing['ratio']:.2f}x {measure} on the real-image benchmark {tail}"


def weights_made_for(split: str) -> list[str]:
    """Released weights ``NAME:TAG`` whose standing says they were trained for the camera of ``split`` (e.g.
    ``"real-lightfield"``), best first on that split."""
    methods = _standing_table().get("methods", {})
    made = [m for m, e in methods.items() if e.get("made_for") == split and split in e.get("per_dataset", {})]
    return sorted(made, key=lambda m: methods[m]["per_dataset"][split])


@lru_cache(maxsize=1)
def _standing_table() -> dict:
    try:
        return json.loads(STANDING_FILE.read_text())
    except (OSError, ValueError):
        return {}


def split_method(spec: str) -> tuple[str, str | None]:
    """``"aifdepthnet_light:aif"`` -> ``("aifdepthnet_light", "aif")``; no colon -> tag None."""
    name, _, tag = spec.partition(":")
    return name, (tag or None)


def join_method(name: str, tag: str | None) -> str:
    """The inverse of :func:`split_method`: ``("aifdepthnet_light", "aif")`` -> ``"aifdepthnet_light:aif"``."""
    return f"{name}:{tag}" if tag else name


def _is_tag(text: str) -> bool:
    return bool(text) and all(c.isalnum() or c in "-_" for c in text)


