"""Depth methods by name: one grammar and one run for the command line, the evaluator and Python.

A method string names a classical focus measure or a trained network, optionally followed by
test-time modifiers::

    METHOD   = MEASURE | NETWORK ("+" MODIFIER)*
    MEASURE  = sml | tenengrad | variance | rdf          (focalstack.classical)
    NETWORK  = NAME [":" TAG]                            (focalstack models; TAG picks other released weights)
    MODIFIER = dihedral                                  (test-time augmentation: mean over 8 flips/rotations)
             | tto ["=" STEPS]                           (test-time optimisation, default 30 steps)

``aifdepthnet_light:aif+dihedral`` and ``daifnet+tto=50`` are methods; ``sml+dihedral`` is refused.
:func:`parse_method` reads a string into a :class:`MethodSpec`, :func:`resolve_method` turns it into
a reusable :class:`DepthMethod` (a network is loaded once) and :func:`estimate_depth` runs one on a
stack: resizing, alignment, the method, timings and the result's metadata. ``focalstack depth``,
``focalstack eval`` and Python users all go through :func:`estimate_depth`, so a method string gives
the same depth everywhere.

Options that only some methods take (``window`` only for focus measures, ``weights`` only for
networks, ``tto_lr`` only with test-time optimisation, ...) are refused with a clear
:class:`~focalstack.errors.InputError` when the method cannot use them, never silently ignored.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from .align import align as align_stack
from .align import identity_warps, point_shifts_px
from .classical import FOCUS_MEASURES, ClassicalConfig, depth_from_focus
from .errors import InputError
from .memory import check_classical, default_budget, parse_memory
from .stack import DepthResult, FocalStack

ProgressCallback = Callable[[int, int], None]

#: What ``focalstack depth`` and :func:`estimate_depth` run when no method is named: the released network that
#: beats the classical ``sml`` on every camera of the real-image benchmark and runs 10 x 512x512 in under 2 s on
#: two CPU cores (docs/benchmarks.md). Focus measures are one ``method="sml"`` away.
DEFAULT_METHOD = "aifdepthnet_light"
DIHEDRAL = "dihedral"
TTO = "tto"
DEFAULT_TTO_STEPS = 30
CLASSICAL_OPTIONS = ("window", "peak_fit", "fusion", "refine", "refine_radius")
NETWORK_OPTIONS = ("weights", "device", "tile", "net_scale")
TTO_OPTIONS = ("tto_lr", "tto_renderer", "tto_aif")
SHARED_OPTIONS = ("max_memory",)
MAX_NET_SCALE = 4.0
DEVICES = ("auto", "cpu", "cuda", "mps")
TTO_RENDERERS = ("per_pixel", "layered")
TTO_AIFS = ("model", "coarse")


@dataclass(frozen=True)
class MethodSpec:
    """A parsed method string.

    Attributes:
        name: a focus measure or a registered network name.
        tag: released weights other than the network's default (``NAME:TAG``), or None.
        dihedral: test-time augmentation (networks only).
        tto_steps: test-time optimisation steps (networks only; 0 = none).
    """

    name: str
    tag: str | None = None
    dihedral: bool = False
    tto_steps: int = 0

    @property
    def is_classical(self) -> bool:
        return self.name in FOCUS_MEASURES

    @property
    def network(self) -> str:
        """``NAME[:TAG]`` without modifiers (the released weights' name)."""
        return f"{self.name}:{self.tag}" if self.tag else self.name

    def __str__(self) -> str:
        modifiers = ([DIHEDRAL] if self.dihedral else []) + ([f"{TTO}={self.tto_steps}"] if self.tto_steps else [])
        return "+".join([self.network, *modifiers])


def parse_method(text: str) -> MethodSpec:
    """Read a method string (module docstring's grammar) and check that its names exist.

    Example:
        >>> parse_method("aifdepthnet_light:aif+dihedral")
        MethodSpec(name='aifdepthnet_light', tag='aif', dihedral=True, tto_steps=0)
        >>> parse_method("sml").is_classical
        True
    """
    if not isinstance(text, str) or not text.strip():
        raise InputError("a method is needed: a focus measure or a network name (see `focalstack models`)")
    base, *modifiers = text.strip().split("+")
    name, _, tag = base.partition(":")
    spec = MethodSpec(name, tag or None)
    for modifier in modifiers:
        spec = _with_modifier(spec, modifier, text)
    if spec.is_classical:
        if tag or spec.dihedral or spec.tto_steps:
            raise InputError(f"{text!r}: {name} is a classical focus measure; tags, +{DIHEDRAL} and +{TTO} apply "
                             "to trained networks only (see `focalstack models`)")
        return spec
    from .models import list_models  # torch is imported for networks only

    if name not in list_models():
        raise InputError(f"unknown method {base!r}: use a focus measure ({', '.join(FOCUS_MEASURES)}) or a network "
                         f"({', '.join(list_models())}), optionally NAME:TAG for other released weights, "
                         f"+{DIHEDRAL} or +{TTO}[=STEPS]")
    return spec


def _with_modifier(spec: MethodSpec, modifier: str, text: str) -> MethodSpec:
    key, has_value, value = modifier.partition("=")
    if key == DIHEDRAL and not has_value and not spec.dihedral:
        return replace(spec, dihedral=True)
    if key == TTO and not spec.tto_steps:
        steps = _int(value, f"{text!r}: +{TTO}=STEPS") if has_value else DEFAULT_TTO_STEPS
        if steps < 1:
            raise InputError(f"{text!r}: +{TTO}=STEPS needs at least 1 step")
        return replace(spec, tto_steps=steps)
    raise InputError(f"{text!r}: unknown or repeated modifier {'+' + modifier!r}; use +{DIHEDRAL} or "
                     f"+{TTO}[=STEPS]")


def _int(text: str, what: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise InputError(f"{what} must be a whole number, got {text!r}") from None


class DepthMethod:
    """A resolved method: ``method(stack, progress=None) -> DepthResult`` on stacks already resized
    and aligned (use :func:`estimate_depth` for the whole run). Reusable across stacks."""

    def __init__(self, spec: MethodSpec, run: Callable[[FocalStack, ProgressCallback | None], DepthResult]):
        self.spec, self._run = spec, run

    def __call__(self, stack: FocalStack, *, progress: ProgressCallback | None = None) -> DepthResult:
        start = time.perf_counter()
        result = self._run(stack, progress)
        result.timings["total"] = time.perf_counter() - start
        return result

    def __repr__(self) -> str:
        return f"DepthMethod({str(self.spec)!r})"


def resolve_method(
    method: str | MethodSpec,
    *,
    weights: str | Path | None = None,
    window: int | None = None,
    peak_fit: str | None = None,
    fusion: str | None = None,
    refine: str | None = None,
    refine_radius: int | None = None,
    tto_lr: float | None = None,
    tto_renderer: str | None = None,
    tto_aif: str | None = None,
    max_memory: int | str | None = None,
    device: str | None = None,
    tile: int | None = None,
    net_scale: str | float | None = None,
) -> DepthMethod:
    """A :class:`DepthMethod` from a method string and the options that apply to it.

    Args:
        method: a method string (module docstring) or a :class:`MethodSpec`.
        max_memory: the run's memory budget in bytes or as ``"8G"`` (default: 75 % of the memory
            available when a stack starts, :mod:`focalstack.memory`); a network larger than it runs
            tile by tile (:mod:`focalstack.models.tiling`), a classical run that cannot fit is refused.
        device: where a network runs: ``auto`` (the first of CUDA, MPS, CPU that is present; the
            default), ``cpu``, ``cuda`` or ``mps`` (networks only).
        tile: force tiles of this side in pixels (networks only; default: sized from the budget).
        net_scale: the resolution a network works at: ``"auto"`` (the default) resizes a stack whose largest
            defocus blur, known from its camera and focus distances, exceeds what the network was trained on
            (:mod:`focalstack.models.working_scale`), then brings depth and confidence back to the full size
            and fuses the all-in-focus image from the full-resolution slices; a number in (0, 4] fixes the
            factor (1: always the full resolution; above 1 enlarges). Networks only.
        weights: a safetensors file replacing a network's released weights (networks only).
        window, peak_fit, fusion, refine, refine_radius: the classical pipeline's settings
            (:class:`~focalstack.classical.ClassicalConfig`; focus measures only; None = its default).
        tto_lr, tto_renderer, tto_aif: test-time optimisation's learning rate (default 1e-4),
            re-rendering (``per_pixel`` or ``layered``) and all-in-focus source (``model`` or
            ``coarse``); only with ``+tto``.

    Raises:
        InputError: an unknown method, untrained network or unreadable weights, or an option the
            method does not take (named as on the command line).
    """
    spec = method if isinstance(method, MethodSpec) else parse_method(method)
    options = {"weights": weights, "window": window, "peak_fit": peak_fit, "fusion": fusion, "refine": refine,
               "refine_radius": refine_radius, "tto_lr": tto_lr, "tto_renderer": tto_renderer, "tto_aif": tto_aif,
               "max_memory": max_memory, "device": device, "tile": tile, "net_scale": net_scale}
    given = {k: v for k, v in options.items() if v is not None}
    _refuse_inapplicable(spec, given)
    budget = parse_memory(max_memory) if max_memory is not None else None
    if spec.is_classical:
        config = ClassicalConfig(focus_measure=spec.name, **{k: given[k] for k in CLASSICAL_OPTIONS if k in given})
        return DepthMethod(spec, lambda stack, progress: _classical(stack, config, str(spec), budget, progress))
    from .models import create_model

    if tile is not None and (not isinstance(tile, int) or tile < 16):
        raise InputError(f"--tile must be a whole number of pixels >= 16, got {tile!r}")
    net_scale = _net_scale(net_scale)
    torch_device = _torch_device(device or "auto")
    model = create_model(spec.name, pretrained=weights or spec.tag or True)  # clear message if untrained
    model.to(torch_device)
    tto = _tto_settings(given) if spec.tto_steps else None
    return DepthMethod(spec, lambda stack, progress: _network(model, spec, tto, stack, progress, budget=budget,
                                                              tile=tile, net_scale=net_scale))


def _refuse_inapplicable(spec: MethodSpec, given: dict) -> None:
    if spec.is_classical:
        wrong = [k for k in given if k not in (*CLASSICAL_OPTIONS, *SHARED_OPTIONS) and not (k == "device" and
                                                                                             given[k] == "auto")]
        why = f"{spec.name} is a classical focus measure; these options belong to trained networks"
    else:
        wrong = [k for k in given if k in CLASSICAL_OPTIONS or (k in TTO_OPTIONS and not spec.tto_steps)]
        reasons = []
        if any(k in CLASSICAL_OPTIONS for k in wrong):
            others = ", ".join(m for m in FOCUS_MEASURES if m != "sml")
            reasons.append("the focus-measure options apply to classical methods only: add --method sml (or "
                           f"{others}) to use a focus measure")
        if any(k in TTO_OPTIONS for k in wrong):
            reasons.append(f"the test-time optimisation options need --tto (+{TTO})")
        why = f"{spec.network} is a trained network: " + "; ".join(reasons)
    if wrong:
        flags = ", ".join("--" + k.replace("_", "-") for k in wrong)
        verb = "does" if len(wrong) == 1 else "do"
        raise InputError(f"{flags} {verb} not apply to method {str(spec)!r}: {why}")


def _net_scale(value) -> str | float:
    """``"auto"`` or a factor in (0, ``MAX_NET_SCALE``] (numbers may come as text from the command line)."""
    if value is None or value == "auto":
        return "auto"
    try:
        factor = float(value)
    except (TypeError, ValueError):
        factor = None
    if factor is None or not 0 < factor <= MAX_NET_SCALE:
        raise InputError(f"--net-scale must be auto or a factor in (0, {MAX_NET_SCALE:g}], got {value!r}")
    return factor


def _tto_settings(given: dict) -> dict:
    settings = {"lr": given.get("tto_lr", 1e-4), "renderer": given.get("tto_renderer", "per_pixel"),
                "aif": given.get("tto_aif", "model")}
    if not settings["lr"] > 0:
        raise InputError(f"--tto-lr must be > 0, got {settings['lr']}")
    if settings["renderer"] not in TTO_RENDERERS or settings["aif"] not in TTO_AIFS:
        raise InputError(f"--tto-renderer must be one of {', '.join(TTO_RENDERERS)} and --tto-aif one of "
                         f"{', '.join(TTO_AIFS)}")
    return settings


def _torch_device(name: str):
    """A torch device by name; ``auto`` picks CUDA, then MPS, then the CPU; an absent device is refused."""
    import torch

    if name not in DEVICES:
        raise InputError(f"--device must be one of {', '.join(DEVICES)}, got {name!r}")
    cuda = torch.cuda.is_available()
    mps = getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
    if name == "auto":
        name = "cuda" if cuda else "mps" if mps else "cpu"
    if (name == "cuda" and not cuda) or (name == "mps" and not mps):
        raise InputError(f"--device {name}: no {name.upper()} device is available here (use auto or cpu)")
    return torch.device(name)


def _classical(stack: FocalStack, config: ClassicalConfig, name: str, budget: int | None, progress) -> DepthResult:
    check_classical(*stack.shape, budget or default_budget())
    result = depth_from_focus(stack, config, progress=progress)
    result.method = name
    return result


def _network(model, spec: MethodSpec, tto: dict | None, stack: FocalStack, progress, *, budget: int | None,
             tile: int | None, net_scale: str | float = "auto") -> DepthResult:
    from .models.base import device_of
    from .models.tiling import plan_tiles, predict_tiled
    from .models.working_scale import full_size_result, largest_blur_px, rescaled, scale_for_blur

    full = stack
    blur = largest_blur_px(stack) if net_scale == "auto" else None
    scale = scale_for_blur(blur, stack.shape) if net_scale == "auto" else float(net_scale)
    if scale != 1:
        stack = rescaled(stack, scale)
    report = None
    if tto is not None:
        from .train.tto import test_time_optimize

        psf = "disc" if tto["renderer"] == "layered" else "gaussian"
        model, report = test_time_optimize(model, stack, spec.tto_steps, lr=tto["lr"], renderer=tto["renderer"],
                                           psf=psf, aif=tto["aif"], progress=progress)
    plan = plan_tiles(model, stack, budget or default_budget(), tile=tile)
    result = (model.predict(stack, dihedral=spec.dihedral) if plan is None
              else predict_tiled(model, stack, plan, dihedral=spec.dihedral, progress=progress))
    if stack is not full:
        result = full_size_result(result, full)
    result.method, result.parameters = str(spec), {**model.model_config, "dihedral": spec.dihedral}
    result.parameters["device"] = str(device_of(model))
    result.parameters["net_scale"] = {"mode": "auto" if net_scale == "auto" else "fixed", "factor": round(scale, 4)}
    if net_scale == "auto":  # what the factor was chosen from: the blur in pixels, or the size when that is unknown
        result.parameters["net_scale"]["largest_blur_px"] = None if blur is None else round(blur, 2)
    if plan is not None:
        result.parameters["tiles"] = {"side": plan.tile, "overlap": plan.overlap, "count": len(
            plan.windows(*stack.shape)), "cache_on_disk": plan.cache_on_disk}
    if report is not None:
        result.timings["tto"] = report.seconds
        result.parameters["tto"] = {**report.to_dict(), **tto}
    return result


def estimate_depth(
    stack: FocalStack,
    *,
    method: str | MethodSpec | DepthMethod = DEFAULT_METHOD,
    align: str = "auto",
    scale: float = 1.0,
    dihedral: bool = False,
    tto: int = 0,
    progress: ProgressCallback | None = None,
    **options,
) -> DepthResult:
    """Depth, all-in-focus image and confidence of a focal stack with any method: what ``focalstack
    depth`` does, without the files.

    Args:
        stack: the focal stack (:func:`focalstack.read_stack` or :class:`~focalstack.FocalStack`).
        method: a method string (``"sml"``, ``"aifdepthnet_light"``, ``"daifnet+tto=30"``; see
            :mod:`focalstack.methods`), a :class:`MethodSpec` or a :class:`DepthMethod` from
            :func:`resolve_method` (to reuse a loaded network over many stacks).
        align: slice alignment first (:func:`focalstack.align.align`): ``auto``, ``metadata``,
            ``ecc``, ``metadata+ecc`` or ``none``.
        scale: resize the slices by this factor first (0 < scale <= 1); the camera's pixel pitch
            follows, so test-time optimisation renders blur at the right size.
        dihedral, tto: the same as the method's ``+dihedral`` and ``+tto=STEPS``.
        progress: ``progress(done, total)`` per slice (classical) or per optimisation step (``tto``).
        options: the method's options (:func:`resolve_method`); refused when they do not apply.

    Returns:
        A :class:`~focalstack.DepthResult` in the stack's unit; ``timings`` has ``align`` and
        ``total`` (alignment included); ``metadata`` records the scale, camera, alignment, the
        pixels' ``encoding`` (``"srgb"`` or ``"linear"``) and the ``sources`` of the focus positions and
        camera values.

    Example:
        >>> import numpy as np, cv2
        >>> sharp = np.random.default_rng(0).random((48, 48), dtype=np.float32)
        >>> slices = [cv2.GaussianBlur(sharp, (0, 0), s) if s else sharp for s in (2, 0, 2)]
        >>> stack = FocalStack(slices, [2 / 3, 1.0, 2.0], unit="m")
        >>> result = estimate_depth(stack, method="sml", align="none", refine="none")
        >>> round(float(np.median(result.depth)), 2), result.method
        (1.0, 'sml')
    """
    runner = _runner(method, dihedral, tto, options)
    if scale != 1:
        stack = stack.resized(scale)
    start = time.perf_counter()
    alignment = align_stack(stack, method=align)
    seconds = time.perf_counter() - start
    result = runner(alignment.stack, progress=progress)
    result.timings["align"] = seconds
    result.timings["total"] += seconds
    result.metadata = {"scale": stack.scale, "camera": stack.camera.to_dict() if stack.camera else None,
                       "alignment": alignment_record(alignment), "encoding": stack.encoding,
                       "sources": dict(stack.sources)}
    return result


def _runner(method, dihedral: bool, tto: int, options: dict) -> DepthMethod:
    if isinstance(method, DepthMethod):
        if dihedral or tto or options:
            raise InputError("a resolved DepthMethod already holds its options; pass a method string instead")
        return method
    spec = merge_modifiers(method if isinstance(method, MethodSpec) else parse_method(method), dihedral=dihedral,
                           tto=tto)
    unknown = sorted(set(options) - {*NETWORK_OPTIONS, *CLASSICAL_OPTIONS, *TTO_OPTIONS, *SHARED_OPTIONS})
    if unknown:
        raise TypeError(f"estimate_depth() got unexpected keyword arguments: {', '.join(unknown)}")
    return resolve_method(spec, **options)


def merge_modifiers(spec: MethodSpec, *, dihedral: bool = False, tto: int = 0) -> MethodSpec:
    """``spec`` with test-time augmentation and optimisation given apart from the method string
    (``--dihedral``, ``--tto STEPS``); a contradiction or a modifier for a focus measure is refused."""
    if not isinstance(tto, int) or tto < 0:
        raise InputError(f"--tto must be a whole number of steps >= 0, got {tto!r}")
    if (dihedral or tto) and spec.is_classical:
        flag = "--dihedral averages a network's predictions" if dihedral else "--tto fine-tunes a network"
        raise InputError(f"{flag}; {spec.name!r} is a classical focus measure (see `focalstack models`)")
    if tto and spec.tto_steps and tto != spec.tto_steps:
        raise InputError(f"--tto {tto} contradicts the method's +{TTO}={spec.tto_steps}")
    return replace(spec, dihedral=spec.dihedral or dihedral, tto_steps=spec.tto_steps or tto)


def alignment_record(alignment) -> dict:
    """``result.json`` / ``stack.json``'s record of the alignment: method, reference slice, warps (reference -> slice)
    and the largest correction in pixels."""
    record = {"method": alignment.method, "reference": alignment.reference,
              "warps": [[[round(float(v), 6) for v in row] for row in w] for w in alignment.warps]}
    if alignment.method != "none":
        shifts = point_shifts_px(alignment.warps, identity_warps(len(alignment.warps)), alignment.stack.shape)
        record["largest_correction_px"] = round(float(shifts.max()), 3)
    return record
