"""Typed training configuration: nested dataclasses that round-trip through YAML.

A run is fully described by one :class:`TrainConfig`; ``focalstack train CONFIG.yaml`` reads it,
and the trainer writes it back beside every checkpoint (``RUN/config.yaml``), so a run folder
always says how its weights were made. Unknown keys and wrong types are refused with an
:class:`~focalstack.errors.InputError` naming the key.

Example (every key optional except ``model``, ``regime`` and the data)::

    model: aifdepthnet_light
    regime: depth            # depth | aif | self
    steps: 20000
    batch_size: 8
    data:
      folders: [data/phone-real, data/microscope-real]
      crop: 128
      min_slices: 2
      max_slices: 8
    optim: {name: adam, lr: 1.0e-3, betas: [0.9, 0.99], schedule: cosine, clip_grad: 1.0}
"""

from __future__ import annotations

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
            "Random" scheme of 002 Fig. 12), a random sorted subset of the stack's slices;
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
        align_teacher: with ``align`` off, the pseudo-label teacher (``self_pseudo``) sees each whole
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
        betas: Adam betas (0.9, 0.99 as in 002).
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
class TrainConfig:
    """One training run.

    Attributes:
        model: a registered model name (``focalstack models``).
        model_overrides: hyperparameters replacing the variant's defaults.
        init: optional weights (safetensors) or checkpoint to start from.
        regime: ``depth`` (002 Eq. 3), ``aif`` (001 Eq. 4-6) or ``self`` (003).
        depth_norm: ``l2`` or ``l1`` for the depth regime.
        depth_gradient: weight of the depth regime's gradient-matching term (L1 of the error's
            spatial gradient), which penalises pixel-scale noise in the prediction (the Bump metric).
        aif_smoothness, aif_a: the all-in-focus regime's smoothness weight and edge sharpness.
        aif_rerender: weight of a re-rendering term in the all-in-focus regime: every input slice is
            rendered from the *true* all-in-focus image and the predicted depth with the renderer of
            ``self_renderer`` / ``self_psf`` / ``self_layers`` and compared with the input (SSIM + L1,
            :func:`~focalstack.train.losses.aif_rerender_loss`); it uses no depth (0: off, as in 001).
        self_reconstruction: weight of the self-supervised regime's re-rendering term (1 in 003; 0
            renders nothing, a cheap warm-up on the other terms).
        self_coarse_aif, self_smoothness: the self-supervised regime's auxiliary weights.
        self_attention: weight of the self-supervised regime's pull of the attention-fused slices
            towards the coarse all-in-focus image (see :func:`~focalstack.train.losses.self_supervised_loss`).
        self_pseudo: weight of a teacher term in the self-supervised and all-in-focus regimes: the
            confidence-weighted L1 distance (normalised inverse depth) to the classical depth-from-focus
            pipeline's depth of the same stack, computed from the slices alone with focus measure
            ``self_pseudo_measure`` (0: off, as in 003 and 001).
        self_pseudo_teacher: a weights file (.safetensors) of a trained model whose depth and
            confidence replace the classical pipeline's as the teacher (self-training: a student
            trained on augmented slice subsets learns from a teacher that saw the whole stack). The
            teacher may have had no more supervision than the student's regime: the self regime
            accepts only weights whose metadata says ``self-supervised``, the all-in-focus regime
            those and ``all-in-focus-supervised``; a depth-supervised teacher is always refused.
            Empty: the classical teacher.
        self_pseudo_gradient: weight of a gradient-matching term against the teacher (the mean L1 of
            the spatial differences of student - teacher, normalised inverse depth; zero when the two
            differ by an offset): it passes on the teacher's smoothness, which the L1 term alone hardly
            constrains (pixel-scale noise costs Bump, little L1). Needs ``self_pseudo`` > 0 (0: off).
        self_pseudo_dihedral: the teacher model predicts with test-time augmentation: the mean over
            the 8 flips and 90-degree rotations of each stack (a less noisy teacher; 8x its time, once
            per stack).
        self_renderer, self_psf, self_layers: the renderer of the self-supervised regime
            (``per_pixel`` or the occlusion-aware ``layered`` with ``self_layers`` layers; PSF
            ``gaussian`` or ``disc``), see :func:`focalstack.optics.render_focal_stack`.
        self_layer_range: planes of the layered renderer (self regime and ``aif_rerender``): ``depth``
            (spanning the predicted depth) or ``focus`` (spanning the stack's focus range, fixed;
            see :func:`~focalstack.train.losses.self_supervised_loss`).
        self_render_aif: the image the self-supervised regime re-renders the stack from: ``predicted``
            (the model's all-in-focus output, 003) or ``coarse`` (a sharpness-weighted fusion of the
            input slices, fixed), see :func:`~focalstack.train.losses.self_supervised_loss`.
        steps: optimiser steps.
        batch_size: global batch (split over processes in distributed runs).
        seed: fixes weights' initialisation, the data order, crops and augmentations.
        out: run folder (checkpoints, config, logs).
        checkpoint_every: steps between checkpoints (also one at the end and on interrupt).
        val_every: steps between validations (0: only at the end).
        log_every: steps between log lines / TensorBoard points.
        best_metric: validation metric whose minimum picks ``best.pt``: ``mse_norm`` (or another depth
            metric of :data:`~focalstack.eval.metrics.DEPTH_METRICS`; these need ground-truth depth in
            the validation stacks), ``aif_l1`` (the all-in-focus L1 error, needs true all-in-focus
            images; for runs that must not see depth even in model selection) or ``rerender`` (the
            self-supervised re-rendering error of the validation stacks with the ``self_*`` renderer,
            :func:`~focalstack.train.trainer.rerender_error`; needs no ground truth, only a model with an
            all-in-focus output). A metric the validation stacks cannot give is refused at start.
        device: ``auto`` (CUDA if present), ``cpu`` or ``cuda``.
        amp: mixed precision on CUDA (bfloat16 autocast); ignored on CPU.
        threads: torch threads per process (0: torch's default).
    """

    model: str = ""
    model_overrides: dict = field(default_factory=dict)
    init: str = ""
    regime: str = "depth"
    depth_norm: str = "l2"
    depth_gradient: float = 0.0
    aif_smoothness: float = 0.002
    aif_a: float = 150.0
    aif_rerender: float = 0.0
    self_reconstruction: float = 1.0
    self_coarse_aif: float = 0.1
    self_smoothness: float = 0.002
    self_attention: float = 0.0
    self_pseudo: float = 0.0
    self_pseudo_measure: str = "sml"
    self_pseudo_teacher: str = ""
    self_pseudo_dihedral: bool = False
    self_pseudo_gradient: float = 0.0
    self_renderer: str = "per_pixel"
    self_psf: str = "gaussian"
    self_layers: int = 12
    self_render_aif: str = "predicted"
    self_layer_range: str = "depth"
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
    data: DataConfig = field(default_factory=DataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)

    def __post_init__(self) -> None:
        problems = []
        if not self.model:
            problems.append("'model' is required (see `focalstack models`)")
        if self.regime not in REGIMES:
            problems.append(f"regime must be one of {', '.join(REGIMES)}, not {self.regime!r}")
        if self.depth_norm not in ("l1", "l2"):
            problems.append("depth_norm must be l1 or l2")
        if min(self.depth_gradient, self.self_attention, self.self_pseudo, self.aif_rerender,
               self.self_reconstruction) < 0:
            problems.append("depth_gradient, self_attention, self_pseudo, self_reconstruction and aif_rerender "
                            "must be >= 0")
        if self.self_pseudo_teacher and not self.self_pseudo_teacher.endswith(".safetensors"):
            problems.append("self_pseudo_teacher must be a .safetensors weights file (focalstack export-weights)")
        if self.self_pseudo_gradient and not self.self_pseudo:
            problems.append("self_pseudo_gradient needs self_pseudo > 0 (a teacher)")
        if self.self_pseudo_gradient < 0:
            problems.append("self_pseudo_gradient must be >= 0")
        if self.self_pseudo_dihedral and not self.self_pseudo_teacher:
            problems.append("self_pseudo_dihedral needs a self_pseudo_teacher (a model)")
        if self.self_pseudo_measure not in FOCUS_MEASURES:
            problems.append(f"self_pseudo_measure must be one of {', '.join(FOCUS_MEASURES)}")
        if self.self_renderer not in ("per_pixel", "layered") or self.self_psf not in ("gaussian", "disc"):
            problems.append("self_renderer must be per_pixel or layered, self_psf gaussian or disc")
        if self.self_layer_range not in ("depth", "focus"):
            problems.append("self_layer_range must be depth or focus")
        if self.self_render_aif not in ("predicted", "coarse"):
            problems.append("self_render_aif must be predicted or coarse")
        if self.self_layers < 2:
            problems.append("self_layers must be >= 2")
        if self.steps < 1 or self.batch_size < 1 or self.checkpoint_every < 1 or self.log_every < 1:
            problems.append("steps, batch_size, checkpoint_every and log_every must be >= 1")
        if not (self.data.folders or self.data.simulate):
            problems.append("data needs 'folders' or 'simulate'")
        if self.data.min_slices < 2 or (self.data.max_slices and self.data.max_slices < self.data.min_slices):
            problems.append("data needs 2 <= min_slices <= max_slices (0 = all)")
        if self.best_metric not in BEST_METRICS:
            problems.append(f"best_metric must be one of {', '.join(BEST_METRICS)}, not {self.best_metric!r}")
        if self.data.max_side < 0 or (self.data.max_side and self.data.max_side < self.data.crop):
            problems.append("data.max_side must be 0 (off) or at least data.crop")
        if self.optim.name not in ("adam", "adamw"):
            problems.append("optim.name must be adam or adamw")
        if self.optim.schedule not in ("constant", "cosine", "step"):
            problems.append("optim.schedule must be constant, cosine or step")
        if not 0 <= self.optim.ema < 1:
            problems.append("optim.ema must be in [0, 1) (0: no weight averaging)")
        if self.device not in ("auto", "cpu", "cuda"):
            problems.append("device must be auto, cpu or cuda")
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
        return _build(cls, data, "")

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
