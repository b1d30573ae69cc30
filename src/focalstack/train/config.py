"""Typed training configuration: nested dataclasses that round-trip through YAML.

A run is fully described by one :class:`TrainConfig`; ``focalstack train CONFIG.yaml`` reads it,
and the trainer writes it back beside every checkpoint (``RUN/config.yaml``), so a run folder
always says how its weights were made. Unknown keys and wrong types are refused with an
:class:`~focalstack.errors.InputError` naming the key. The sections::

    model: {name: aifdepthnet_light, overrides: {}, init: ''}
    regime: depth            # depth | aif | self
    loss:                    # the settings of each regime's loss (focalstack.train.losses)
      depth: {norm: l2, gradient: 0.0}
      aif: {smoothness: 0.002, edge_a: 150.0, rerender: 0.0}
      self_supervised: {reconstruction: 1.0, coarse_aif: 0.1, smoothness: 0.002, attention: 0.0,
                        render_aif: predicted}
      render: {renderer: per_pixel, psf: gaussian, layers: 12, layer_range: depth}
      teacher: {weight: 0.0, measure: sml, weights: '', dihedral: false, gradient: 0.0}
    run: {steps: 20000, batch_size: 8, seed: 0, out: runs/my-run}
    data:
      folders: [data/phone-real, data/microscope-real]
      crop: 128
    optim: {name: adam, lr: 1.0e-3, betas: [0.9, 0.99], schedule: cosine, clip_grad: 1.0}

Every key is optional except ``model.name`` and the data. Configs of the earlier flat layout (``model:
NAME``, ``steps``, ``depth_gradient``, ``self_pseudo_teacher``, ...) still load: :func:`upgrade_flat_config`
moves each flat key to its section (:data:`FLAT_KEYS`).
"""

from __future__ import annotations

import copy
import dataclasses
import typing
from dataclasses import asdict, dataclass, field
from pathlib import Path

import yaml

from ..classical import FOCUS_MEASURES
from ..errors import InputError
from ..eval.metrics import DEPTH_METRICS
from ..io.atomic import atomic_file

REGIMES = ("depth", "aif", "self")
# validation metrics that may pick best.pt, with the ground truth each needs in the validation stacks
BEST_METRICS = {"mse_norm": "depth", **dict.fromkeys(DEPTH_METRICS, "depth"), "aif_l1": "all_in_focus",
                "rerender": ""}


@dataclass
class AugmentConfig:
    """Random augmentation of each training stack (the same for every slice of a stack).

    Attributes:
        flips: random horizontal and vertical flips.
        rot90: random 90-degree rotations (square crops only).
        brightness: gain drawn from [1 - b, 1 + b].
        contrast: contrast about the mean drawn from [1 - c, 1 + c].
        gamma: exponent drawn log-uniformly from [1 / (1 + g), 1 + g].
    """

    flips: bool = True
    rot90: bool = True
    brightness: float = 0.2
    contrast: float = 0.2
    gamma: float = 0.2


@dataclass
class DataConfig:
    """Where training stacks come from and how each batch is cut from them.

    Attributes:
        folders: stacks on disk, used together: simulated datasets (``focalstack simulate`` output; their
            stack folders may lack depth, all-in-focus image and warps) or folders of one's own stack
            folders as ``focalstack depth`` reads them (no ground truth; each ``stack.json`` needs focus
            positions in metres and the camera's focal length, f-number and pixel pitch), see
            :class:`~focalstack.simulate.dataset.FocalStackFolderDataset`. Data without ground-truth
            depth (or all-in-focus images) trains only the ``self`` regime.
        simulate: on-the-fly simulation instead, one entry per camera profile, each a mapping of
            :class:`~focalstack.simulate.dataset.SimulationConfig` fields (``profile``, ``size``,
            ``slices``, ...); ``num`` sets how many distinct stacks each yields.
        val_folders: datasets for validation (full images, all slices), of either kind as ``folders``;
            without ground truth they give only the ``rerender`` metric.
        val_max: validate on at most this many stacks per folder.
        crop: side of the square random crop, pixels (0: whole images; they must then agree).
        min_slices, max_slices: each batch uses a random number of slices in this range (the
            "Random" scheme of Won & Jeon, ECCV 2022, Fig. 12), a random sorted subset of the
            stack's slices;
            ``max_slices`` 0 means all of them.
        workers: data-loading worker processes (0: in the training process).
        align: warp every slice into the ground truth's frame with the dataset's exact warps
            (undoing focus breathing and principal-point shifts), for regimes that compare pixels of
            the slices with an aligned target, such as all-in-focus supervision.
        val_align: the same for the validation stacks, so that a depth-free validation metric
            (``aif_l1``) is measured under the training conditions.
        align_targets: with ``align`` off, give the losses that compare pixels (the self-supervised
            re-rendering, coarse all-in-focus and attention terms, the all-in-focus re-rendering)
            the slices warped into the ground truth's frame, while the network still sees them as
            recorded: it learns to cope with focus breathing, and the thin-lens renderer, which has
            none, is compared with slices in its own frame. The warps are the camera's (metadata),
            not depth. Ignored when ``align`` is on or a dataset has no warps.
        align_teacher: with ``align`` off, the teacher (``loss.teacher``) sees each whole
            stack aligned, as it was trained, so that its depth is in the ground truth's frame; the
            student still sees the recorded slices.
        max_side: downscale the slices of one's own stack folders (training and validation) on loading
            so that their longer side is at most this many pixels, the pixel pitch growing by the same
            factor (0: never; simulated datasets keep their size). Must be at least ``crop``.
        cache: keep every decoded training stack in memory (8-bit, ~0.6 MB per 8 x 256x256 stack)
            instead of decoding its PNG files at every use.
        augment: see :class:`AugmentConfig`.
    """

    folders: list[str] = field(default_factory=list)
    simulate: list[dict] = field(default_factory=list)
    val_folders: list[str] = field(default_factory=list)
    val_max: int = 8
    crop: int = 128
    min_slices: int = 2
    max_slices: int = 0
    workers: int = 0
    cache: bool = False
    align: bool = False
    val_align: bool = False
    align_targets: bool = False
    align_teacher: bool = False
    max_side: int = 0
    augment: AugmentConfig = field(default_factory=AugmentConfig)


@dataclass
class OptimConfig:
    """Optimiser and schedule.

    Attributes:
        name: ``adam`` or ``adamw``.
        lr: peak learning rate.
        betas: Adam betas (0.9, 0.99 as in Won & Jeon, ECCV 2022).
        weight_decay: decoupled for AdamW, L2 for Adam.
        schedule: ``constant``, ``cosine`` (to ``min_lr_ratio`` x lr) or ``step`` (x0.5 at 60 %, 80 %).
        warmup_steps: linear warm-up from 0.
        min_lr_ratio: final learning rate of the cosine schedule, relative.
        clip_grad: clip the global gradient norm to this (0: off).
        ema: decay of an exponential moving average of the weights (and normalisation statistics),
            updated after every optimiser step (0: off; 0.99-0.999 typical, a horizon of about
            1 / (1 - ema) steps). With it, validation, ``best.pt``'s choice, ``export-weights`` and a
            later stage's ``init`` use the averaged weights; the optimiser keeps training the raw ones.
    """

    name: str = "adam"
    lr: float = 1e-3
    betas: tuple[float, float] = (0.9, 0.99)
    weight_decay: float = 0.0
    schedule: str = "cosine"
    warmup_steps: int = 100
    min_lr_ratio: float = 0.05
    clip_grad: float = 1.0
    ema: float = 0.0


@dataclass
class ModelConfig:
    """The network.

    Attributes:
        name: a registered model name (``focalstack models``); required.
        overrides: hyperparameters replacing the variant's defaults.
        init: weights (.safetensors) or a training checkpoint (.pt, its moving average when it kept one) to
            start from; empty: random initialisation.
    """

    name: str = ""
    overrides: dict = field(default_factory=dict)
    init: str = ""

    def problems(self) -> list[str]:
        return [] if self.name else ["model.name is required (see `focalstack models`)"]


@dataclass
class DepthLossConfig:
    """The depth regime's loss (:class:`~focalstack.train.losses.DepthLoss`).

    Attributes:
        norm: ``l2`` (Won & Jeon, "Learning Depth from Focus in the Wild", ECCV 2022, Eq. 3) or ``l1``
            (AiFDepthNet, Wang et al., ICCV 2021).
        gradient: weight of a gradient-matching term (L1 of the error's spatial differences), which
            penalises pixel-scale noise in the prediction (the Bump metric) and not offsets (0: off).
    """

    norm: str = "l2"
    gradient: float = 0.0

    def problems(self) -> list[str]:
        return ([] if self.norm in ("l1", "l2") else ["loss.depth.norm must be l1 or l2"]) + \
            _non_negative("loss.depth.gradient", self.gradient)


@dataclass
class AifLossConfig:
    """The all-in-focus regime's loss (:class:`~focalstack.train.losses.AllInFocusLoss`).

    Attributes:
        smoothness: weight of the edge-aware smoothness of depth (0.002 in the papers).
        edge_a: edge sharpness ``a`` of that smoothness (150 in the papers).
        rerender: weight of a re-rendering term: every input slice is rendered from the *true*
            all-in-focus image and the predicted depth with the renderer of ``loss.render`` and compared with
            the input (SSIM + L1); it uses no depth (0: off, as in the papers).
    """

    smoothness: float = 0.002
    edge_a: float = 150.0
    rerender: float = 0.0

    def problems(self) -> list[str]:
        return _non_negative("loss.aif.smoothness", self.smoothness) + _non_negative("loss.aif.rerender", self.rerender)


@dataclass
class SelfLossConfig:
    """The self-supervised regime's loss (:class:`~focalstack.train.losses.SelfSupervisedLoss`).

    Attributes:
        reconstruction: weight of the re-rendering of the input stack (1 in Si et al., CVPR 2023; 0
            renders nothing, a cheap warm-up on the other terms).
        coarse_aif: weight of the L1 pull of the predicted all-in-focus image towards a coarse one fused
            from the sharpest slices.
        smoothness: weight of the edge-aware smoothness of inverse depth (in units of the stack's focus span).
        attention: weight of the pull of the attention-fused slices towards the coarse all-in-focus image
            (models whose depth is the attention's expectation; 0: off).
        render_aif: the image the stack is re-rendered from: ``predicted`` (the model's all-in-focus
            output, as in Si et al.) or ``coarse`` (the sharpness-weighted fusion of the input slices, fixed).
    """

    reconstruction: float = 1.0
    coarse_aif: float = 0.1
    smoothness: float = 0.002
    attention: float = 0.0
    render_aif: str = "predicted"

    def problems(self) -> list[str]:
        bad = [] if self.render_aif in ("predicted", "coarse") else \
            ["loss.self_supervised.render_aif must be predicted or coarse"]
        return bad + [p for key in ("reconstruction", "coarse_aif", "smoothness", "attention")
                      for p in _non_negative(f"loss.self_supervised.{key}", getattr(self, key))]


@dataclass
class RenderConfig:
    """The renderer of every re-rendering term (self-supervised regime, ``loss.aif.rerender``, the
    ``rerender`` validation metric), see :class:`~focalstack.train.losses.Rendering`.

    Attributes:
        renderer: ``per_pixel`` (fast; ignores occlusion) or the occlusion-aware ``layered``.
        psf: ``gaussian`` or ``disc`` (a circular aperture).
        layers: layers of the layered renderer.
        layer_range: planes of the layered renderer: ``depth`` (spanning the predicted depth) or
            ``focus`` (spanning the stack's focus range, fixed).
    """

    renderer: str = "per_pixel"
    psf: str = "gaussian"
    layers: int = 12
    layer_range: str = "depth"

    def problems(self) -> list[str]:
        bad = []
        if self.renderer not in ("per_pixel", "layered"):
            bad.append("loss.render.renderer must be per_pixel or layered")
        if self.psf not in ("gaussian", "disc"):
            bad.append("loss.render.psf must be gaussian or disc")
        if self.layers < 2:
            bad.append("loss.render.layers must be >= 2")
        if self.layer_range not in ("depth", "focus"):
            bad.append("loss.render.layer_range must be depth or focus")
        return bad


@dataclass
class TeacherConfig:
    """A teacher term of the self-supervised and all-in-focus regimes
    (:class:`~focalstack.train.losses.TeacherLoss`): the confidence-weighted L1 distance, in normalised
    inverse depth, to a teacher's depth of the same whole stack.

    Attributes:
        weight: weight of the term (0: off, as in the papers).
        measure: focus measure of the classical teacher (the classical depth-from-focus pipeline, from
            the slices alone), used when ``weights`` is empty.
        weights: a weights file (.safetensors, ``focalstack export-weights``) of a trained model whose
            depth and confidence replace the classical pipeline's (self-training). The teacher may have
            had no more supervision than the student's regime: the self regime accepts only weights whose
            metadata says ``self-supervised``, the all-in-focus regime those and
            ``all-in-focus-supervised``; a depth-supervised teacher is always refused.
        dihedral: the model teacher predicts with test-time augmentation (the mean over the 8 flips and
            90-degree rotations of each stack; 8x its time, once per stack).
        gradient: weight of a gradient-matching term against the teacher (mean L1 of the spatial
            differences of student - teacher), which passes on the teacher's smoothness. Needs
            ``weight`` > 0 (0: off).
    """

    weight: float = 0.0
    measure: str = "sml"
    weights: str = ""
    dihedral: bool = False
    gradient: float = 0.0

    def problems(self) -> list[str]:
        bad = _non_negative("loss.teacher.weight", self.weight) + _non_negative("loss.teacher.gradient", self.gradient)
        if self.measure not in FOCUS_MEASURES:
            bad.append(f"loss.teacher.measure must be one of {', '.join(FOCUS_MEASURES)}")
        if self.weights and not self.weights.endswith(".safetensors"):
            bad.append("loss.teacher.weights must be a .safetensors weights file (focalstack export-weights)")
        if self.gradient and not self.weight:
            bad.append("loss.teacher.gradient needs loss.teacher.weight > 0")
        if self.dihedral and not self.weights:
            bad.append("loss.teacher.dihedral needs loss.teacher.weights (a model teacher)")
        return bad


@dataclass
class LossConfig:
    """The loss settings of every regime; only those of ``regime`` (and ``render`` / ``teacher`` where it
    uses them) take effect."""

    depth: DepthLossConfig = field(default_factory=DepthLossConfig)
    aif: AifLossConfig = field(default_factory=AifLossConfig)
    self_supervised: SelfLossConfig = field(default_factory=SelfLossConfig)
    render: RenderConfig = field(default_factory=RenderConfig)
    teacher: TeacherConfig = field(default_factory=TeacherConfig)

    def problems(self) -> list[str]:
        return [p for part in (self.depth, self.aif, self.self_supervised, self.render, self.teacher)
                for p in part.problems()]


@dataclass
class RunConfig:
    """Length, seed, output and bookkeeping of the run.

    Attributes:
        steps: optimiser steps.
        batch_size: global batch (split over processes in distributed runs).
        seed: fixes the weights' initialisation, the data order, crops and augmentations.
        out: run folder (checkpoints, config, logs).
        checkpoint_every: steps between checkpoints (also one at the end and on interrupt).
        val_every: steps between validations (0: only at the end).
        log_every: steps between log lines / TensorBoard points.
        best_metric: validation metric whose minimum picks ``best.pt``: ``mse_norm`` (or another depth
            metric of :data:`~focalstack.eval.metrics.DEPTH_METRICS`; these need ground-truth depth in
            the validation stacks), ``aif_l1`` (the all-in-focus L1 error, needs true all-in-focus
            images; for runs that must not see depth even in model selection) or ``rerender`` (the
            self-supervised re-rendering error of the validation stacks with ``loss.render``,
            :func:`~focalstack.train.trainer.rerender_error`; needs no ground truth, only a model with an
            all-in-focus output). A metric the validation stacks cannot give is refused at start.
        device: ``auto`` (CUDA if present), ``cpu`` or ``cuda``.
        amp: mixed precision on CUDA (bfloat16 autocast); ignored on CPU.
        threads: torch threads per process (0: torch's default).
    """

    steps: int = 1000
    batch_size: int = 4
    seed: int = 0
    out: str = "runs/run"
    checkpoint_every: int = 200
    val_every: int = 500
    log_every: int = 10
    best_metric: str = "mse_norm"
    device: str = "auto"
    amp: bool = True
    threads: int = 0

    def problems(self) -> list[str]:
        bad = []
        if min(self.steps, self.batch_size, self.checkpoint_every, self.log_every) < 1:
            bad.append("run.steps, run.batch_size, run.checkpoint_every and run.log_every must be >= 1")
        if self.best_metric not in BEST_METRICS:
            bad.append(f"run.best_metric must be one of {', '.join(BEST_METRICS)}, not {self.best_metric!r}")
        if self.device not in ("auto", "cpu", "cuda"):
            bad.append("run.device must be auto, cpu or cuda")
        return bad


@dataclass
class TrainConfig:
    """One training run (see the module docstring for the YAML layout).

    Attributes:
        model: the network, see :class:`ModelConfig`.
        regime: the supervision: ``depth`` (ground-truth depth), ``aif`` (true all-in-focus images, no
            depth) or ``self`` (the focal stacks alone), see :mod:`focalstack.train.losses`.
        loss: the settings of each regime's loss, see :class:`LossConfig`.
        run: steps, batch, seed, run folder, intervals, device, see :class:`RunConfig`.
        data: see :class:`DataConfig`.
        optim: see :class:`OptimConfig`.
    """

    model: ModelConfig = field(default_factory=ModelConfig)
    regime: str = "depth"
    loss: LossConfig = field(default_factory=LossConfig)
    run: RunConfig = field(default_factory=RunConfig)
    data: DataConfig = field(default_factory=DataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)

    def __post_init__(self) -> None:
        problems = self.model.problems()
        if self.regime not in REGIMES:
            problems.append(f"regime must be one of {', '.join(REGIMES)}, not {self.regime!r}")
        problems += self.loss.problems() + self.run.problems() + _data_problems(self.data) + _optim_problems(self.optim)
        if problems:
            raise InputError("bad training config: " + "; ".join(problems))

    # ------------------------------------------------------------------ YAML
    def to_dict(self) -> dict:
        data = asdict(self)
        data["optim"]["betas"] = list(self.optim.betas)
        return data

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    @classmethod
    def from_dict(cls, data: dict) -> TrainConfig:
        """Build from a mapping of the nested layout, or of the earlier flat one (:func:`upgrade_flat_config`)."""
        if not isinstance(data, dict):
            raise InputError("a training config must be a mapping of config keys")
        return _build(cls, upgrade_flat_config(data), "")

    @classmethod
    def from_yaml(cls, path: str | Path) -> TrainConfig:
        path = Path(path)
        try:
            data = yaml.safe_load(path.read_text())
        except OSError as exc:
            raise InputError(f"cannot read training config {path}: {exc.strerror or exc}") from None
        except yaml.YAMLError as exc:
            raise InputError(f"{path} is not valid YAML: {exc}") from None
        if not isinstance(data, dict):
            raise InputError(f"{path} must hold a mapping of config keys")
        return cls.from_dict(data)

    def save(self, path: str | Path) -> None:
        with atomic_file(path) as tmp:
            tmp.write_text(self.to_yaml())


def _non_negative(name: str, value: float) -> list[str]:
    return [f"{name} must be >= 0"] if value < 0 else []


def _data_problems(data: DataConfig) -> list[str]:
    bad = []
    if not (data.folders or data.simulate):
        bad.append("data needs 'folders' or 'simulate'")
    if data.min_slices < 2 or (data.max_slices and data.max_slices < data.min_slices):
        bad.append("data needs 2 <= min_slices <= max_slices (0 = all)")
    if data.max_side < 0 or (data.max_side and data.max_side < data.crop):
        bad.append("data.max_side must be 0 (off) or at least data.crop")
    return bad


def _optim_problems(optim: OptimConfig) -> list[str]:
    bad = []
    if optim.name not in ("adam", "adamw"):
        bad.append("optim.name must be adam or adamw")
    if optim.schedule not in ("constant", "cosine", "step"):
        bad.append("optim.schedule must be constant, cosine or step")
    if not 0 <= optim.ema < 1:
        bad.append("optim.ema must be in [0, 1) (0: no weight averaging)")
    return bad


# ---------------------------------------------------------------------- the earlier flat layout
#: Where each key of the earlier flat layout lives now (``model`` only when it is a name, not a section).
FLAT_KEYS: dict[str, tuple[str, ...]] = {
    "model": ("model", "name"), "model_overrides": ("model", "overrides"), "init": ("model", "init"),
    "depth_norm": ("loss", "depth", "norm"), "depth_gradient": ("loss", "depth", "gradient"),
    "aif_smoothness": ("loss", "aif", "smoothness"), "aif_a": ("loss", "aif", "edge_a"),
    "aif_rerender": ("loss", "aif", "rerender"),
    **{f"self_{key}": ("loss", "self_supervised", key)
       for key in ("reconstruction", "coarse_aif", "smoothness", "attention", "render_aif")},
    "self_renderer": ("loss", "render", "renderer"), "self_psf": ("loss", "render", "psf"),
    "self_layers": ("loss", "render", "layers"), "self_layer_range": ("loss", "render", "layer_range"),
    "self_pseudo": ("loss", "teacher", "weight"), "self_pseudo_measure": ("loss", "teacher", "measure"),
    "self_pseudo_teacher": ("loss", "teacher", "weights"), "self_pseudo_dihedral": ("loss", "teacher", "dihedral"),
    "self_pseudo_gradient": ("loss", "teacher", "gradient"),
    **{key: ("run", key) for key in ("steps", "batch_size", "seed", "out", "checkpoint_every", "val_every",
                                     "log_every", "best_metric", "device", "amp", "threads")},
}


def upgrade_flat_config(data: dict) -> dict:
    """A config mapping in the nested layout: every key of the earlier flat layout (:data:`FLAT_KEYS`) moved
    to its section, the rest unchanged (``data`` itself is not modified). A key given both ways is refused.

    Example:
        >>> upgrade_flat_config({"model": "dffwild", "steps": 10, "depth_gradient": 1.0, "data": {"crop": 64}})
        {'data': {'crop': 64}, 'model': {'name': 'dffwild'}, 'run': {'steps': 10}, 'loss': {'depth': {'gradient': 1.0}}}
    """
    nested = {key: copy.deepcopy(value) for key, value in data.items()
              if key not in FLAT_KEYS or (key == "model" and isinstance(value, dict))}
    for key, value in data.items():
        if key not in nested:
            *sections, leaf = FLAT_KEYS[key]
            target = nested
            for section in sections:
                target = target.setdefault(section, {})
                if not isinstance(target, dict):
                    raise InputError(f"config key {'.'.join(sections)} must be a mapping")
            if leaf in target:
                raise InputError(f"config key {key} (the earlier flat layout) and {'.'.join(FLAT_KEYS[key])} "
                                 "both given; keep one")
            target[leaf] = copy.deepcopy(value)
    return nested


def _build(cls, data: dict, prefix: str):
    """Build dataclass ``cls`` from a mapping, checking keys and (simple) types."""
    if not isinstance(data, dict):
        raise InputError(f"config key {prefix.rstrip('.') or '<root>'} must be a mapping")
    hints = typing.get_type_hints(cls)
    fields = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - fields)
    if unknown:
        raise InputError(f"unknown config key(s) {', '.join(prefix + k for k in unknown)}; "
                         f"known: {', '.join(sorted(fields))}")
    kwargs = {}
    for key, value in data.items():
        hint = hints[key]
        name = prefix + key
        if dataclasses.is_dataclass(hint):
            kwargs[key] = _build(hint, value or {}, name + ".")
        else:
            kwargs[key] = _coerce(hint, value, name)
    return cls(**kwargs)


def _coerce(hint, value, name: str):
    origin = typing.get_origin(hint) or hint
    try:
        if origin is bool:
            if not isinstance(value, bool):
                raise TypeError
            return value
        if origin is int:
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError
            return value
        if origin is float:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise TypeError
            return float(value)
        if origin is str:
            if not isinstance(value, str):
                raise TypeError
            return value
        if origin is tuple:
            return tuple(_coerce(t, v, name) for t, v in zip(typing.get_args(hint), value, strict=True))
        if origin is list:
            (inner,) = typing.get_args(hint)
            if not isinstance(value, list):
                raise TypeError
            return [_coerce(inner, v, name) for v in value]
        if origin is dict:
            if not isinstance(value, dict):
                raise TypeError
            return dict(value)
    except (TypeError, ValueError):
        raise InputError(f"config key {name} should be {_describe(hint)}, got {value!r}") from None
    return value


def _describe(hint) -> str:
    return getattr(hint, "__name__", None) or str(hint).replace("typing.", "")
