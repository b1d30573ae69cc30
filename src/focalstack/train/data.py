"""Training batches as a pure function of (seed, step): exact resume and identical DDP shards.

:class:`StepBatches` is a map-style dataset indexed by the **optimiser step**: item ``s`` is the
(collated) batch that step ``s`` trains on, or this process's share of it in a distributed run.
Which stacks, how many slices, which subset, which crop and which augmentation are all drawn
from ``numpy.random.default_rng([seed, tag, step, ...])``, so

- resuming at step ``s`` needs no sampler state: the loader simply starts at ``s``;
- worker processes can build batches in any order;
- the K processes of a distributed run take disjoint, fixed slices of the same global batch.

The stacks themselves come from simulated datasets or one's own stack folders on disk, or from the
simulator on the fly (:mod:`focalstack.simulate.dataset`); all yield the same dicts of tensors, except
that stacks without ground truth have no ``depth``, ``valid`` or ``all_in_focus``: a batch carries
those only when every stack of the source has them (:attr:`StepBatches.ground_truth`); without them
only the self-supervised regime trains (the trainer refuses the others at start).

With ``pseudo`` (a focus measure), every batch also carries a **pseudo-label**: the classical
depth-from-focus pipeline's depth and confidence for the whole stack (all slices, aligned when
``align`` is on), computed from the slices alone, once per stack and cached. The self-supervised
regime can use it as a teacher; it involves no ground truth.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch.utils.data import ConcatDataset, Dataset

from ..errors import InputError
from ..simulate.camera import unwarp
from ..simulate.dataset import FocalStackFolderDataset, SimulatedDataset, SimulationConfig
from .config import AugmentConfig, DataConfig

# Tags separating the random streams drawn from the same seed.
_ORDER, _STEP, _ITEM = 1, 2, 3


def open_sources(config: DataConfig) -> Dataset:
    """All training stacks of ``config`` as one dataset (folders, then on-the-fly simulations)."""
    parts: list[Dataset] = [FocalStackFolderDataset(folder, max_side=config.max_side) for folder in config.folders]
    for entry in config.simulate:
        try:
            parts.append(SimulatedDataset(SimulationConfig.from_json(dict(entry))))
        except TypeError as exc:
            raise InputError(f"bad data.simulate entry {entry!r}: {exc}") from None
    parts = [p for p in parts if len(p)]
    if not parts:
        raise InputError("the training data is empty")
    source = parts[0] if len(parts) == 1 else ConcatDataset(parts)
    return CachedSource(source) if config.cache else source


class CachedSource(Dataset):
    """Decode each stack once and keep it in memory, images as 8-bit (exact for 8-bit files)."""

    _EIGHT_BIT = ("slices", "all_in_focus")

    def __init__(self, source: Dataset) -> None:
        self.source = source
        self.items: dict[int, dict[str, torch.Tensor]] = {}

    def __len__(self) -> int:
        return len(self.source)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        if index not in self.items:
            item = dict(self.source[index])
            for key in self._EIGHT_BIT:
                if key in item and item[key].is_floating_point():
                    item[key] = (item[key] * 255).round().clamp(0, 255).to(torch.uint8)
            self.items[index] = item
        return self.items[index]


def slices_per_stack(source: Dataset) -> int:
    """The smallest slice count of any stack in ``source`` (from the datasets' metadata)."""
    counts = []
    for part in _parts(source):
        if isinstance(part, SimulatedDataset):
            counts.append(part.config.slices)
        elif isinstance(part, FocalStackFolderDataset):
            counts.append(part.min_slices)
        else:
            counts.append(int(part[0]["slices"].shape[0]))
    return min(counts)


def _parts(source: Dataset) -> list[Dataset]:
    source = source.source if isinstance(source, CachedSource) else source
    return list(source.datasets) if isinstance(source, ConcatDataset) else [source]


def lacking(source: Dataset, key: str) -> list[str]:
    """The parts of ``source`` (folders by name) whose stacks do not all carry ``key`` (``depth``,
    ``all_in_focus`` or ``warps``); on-the-fly simulations carry all of them."""
    names = []
    for part in _parts(source):
        if isinstance(part, FocalStackFolderDataset):
            has = key in part.ground_truth
        else:
            has = isinstance(part, SimulatedDataset) or key in part[0]
        if not has:
            names.append(str(part.root) if isinstance(part, FocalStackFolderDataset) else type(part).__name__)
    return names


def ground_truth_of(source: Dataset) -> frozenset[str]:
    """Which of ``depth`` (with ``valid``), ``all_in_focus`` and ``warps`` every stack of ``source`` has."""
    return frozenset(key for key in ("depth", "all_in_focus", "warps") if not lacking(source, key))


class StepBatches(Dataset):
    """The batch of every step (see the module docstring).

    Args:
        source: dataset of stack dicts (``slices`` N x C x H x W, ``focus_positions`` N, ...).
        config: crop, slice counts and augmentation.
        batch_size: the global batch.
        seed: master seed.
        rank, world_size: this process's share of each global batch.

    Attributes:
        ground_truth: which of ``depth`` (batch keys ``depth``, ``valid``), ``all_in_focus`` and ``warps``
            every stack of ``source`` has (:func:`ground_truth_of`); batches carry the first two only when
            listed, and the warps serve ``align`` / ``align_targets`` only when listed.
    """

    def __init__(self, source: Dataset, config: DataConfig, *, batch_size: int, seed: int,
                 rank: int = 0, world_size: int = 1, pseudo: str | None = None,
                 teacher_regime: str = "self", teacher_dihedral: bool = False) -> None:
        if batch_size % world_size:
            raise InputError(f"batch_size {batch_size} is not divisible by the {world_size} processes")
        self.source, self.config = source, config
        self.batch_size, self.seed = batch_size, seed
        self.rank, self.world_size = rank, world_size
        self._perm: tuple[int, np.ndarray] | None = None
        self.pseudo, self.teacher_regime, self.teacher_dihedral = pseudo, teacher_regime, teacher_dihedral
        self._pseudo_cache: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}
        self._teacher_fn = None
        # the same for every process, so that all agree on a step's slice count
        self.slices_available = slices_per_stack(source)
        # what every stack has, so that all batches carry the same keys (none of them for one's own stacks)
        self.ground_truth = ground_truth_of(source)

    def __len__(self) -> int:  # indexable by any step; DataLoader uses an explicit sampler
        return 2**62

    def stack_indices(self, step: int) -> list[int]:
        """Source indices of the global batch of ``step``: epochs of shuffled permutations."""
        size = len(self.source)
        indices = []
        for g in range(step * self.batch_size, (step + 1) * self.batch_size):
            epoch, position = divmod(g, size)
            if self._perm is None or self._perm[0] != epoch:
                self._perm = (epoch, np.random.default_rng([self.seed, _ORDER, epoch]).permutation(size))
            indices.append(int(self._perm[1][position]))
        return indices

    def __getitem__(self, step: int) -> dict[str, torch.Tensor]:
        indices = self.stack_indices(step)
        share = self.batch_size // self.world_size
        mine = range(self.rank * share, (self.rank + 1) * share)
        items = [self.source[indices[j]] for j in mine]
        available = self.slices_available
        rng = np.random.default_rng([self.seed, _STEP, step])
        high = min(self.config.max_slices or available, available)
        if high < self.config.min_slices:
            raise InputError(f"stacks have {available} slices, fewer than data.min_slices = {self.config.min_slices}")
        count = int(rng.integers(self.config.min_slices, high + 1))
        out = [self._prepare(item, count, np.random.default_rng([self.seed, _ITEM, step, j]),
                             self._pseudo_label(indices[j], item) if self.pseudo else None)
               for item, j in zip(items, mine)]
        return {key: torch.stack([o[key] for o in out]) for key in out[0]}

    def _pseudo_label(self, index: int, item: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """(depth in metres, confidence), each 1 x H x W, of the teacher on the whole stack: the classical
        pipeline with focus measure ``pseudo``, or the model in the weights file ``pseudo`` (.safetensors)."""
        if index not in self._pseudo_cache:
            from ..stack import FocalStack

            slices = unit_float(item["slices"])
            if (self.config.align or self.config.align_teacher) and "warps" in item:
                slices = _align(slices, item["warps"])
            stack = FocalStack(slices.permute(0, 2, 3, 1).numpy(), item["focus_positions"].double().numpy(), unit="m")
            result = self._teacher()(stack)
            self._pseudo_cache[index] = (torch.from_numpy(np.ascontiguousarray(result.depth, np.float32))[None],
                                         torch.from_numpy(np.ascontiguousarray(result.confidence, np.float32))[None])
        return self._pseudo_cache[index]

    def _teacher(self):
        """``stack -> DepthResult`` of the teacher, built once per process."""
        if self._teacher_fn is None and str(self.pseudo).endswith(".safetensors"):
            self._teacher_fn = load_teacher(self.pseudo, self.teacher_regime, dihedral=self.teacher_dihedral)
        elif self._teacher_fn is None:
            self._teacher_fn = _classical_teacher(self.pseudo)
        return self._teacher_fn

    def _prepare(self, item: dict[str, torch.Tensor], count: int, rng: np.random.Generator,
                 pseudo: tuple[torch.Tensor, torch.Tensor] | None = None) -> dict[str, torch.Tensor]:
        """One stack's share of the batch: ``slices``, ``focus_positions``, ``camera`` and, where every stack
        of the source has them (:attr:`ground_truth`), ``depth`` / ``valid`` and ``all_in_focus``."""
        n = item["slices"].shape[0]
        subset = torch.from_numpy(np.sort(rng.choice(n, size=count, replace=False)))
        slices = item["slices"][subset]
        targets = None  # the slices in the ground truth's frame, for the pixel losses only
        warps = item["warps"][subset] if "warps" in self.ground_truth else None
        if warps is not None and self.config.align:
            slices = _align(slices, warps)
        elif warps is not None and self.config.align_targets:
            targets = unit_float(_align(slices, warps))
        slices = unit_float(slices)
        if targets is not None:  # crops, flips and colour changes identical to the slices'
            slices = torch.cat([slices, targets])
        truth = {}
        if "all_in_focus" in self.ground_truth:
            truth["all_in_focus"] = unit_float(item["all_in_focus"])
        if "depth" in self.ground_truth:
            truth["depth"], truth["valid"] = item["depth"].float(), item["valid"].bool()
        spatial = [slices, *truth.values(), *(pseudo or ())]
        crop = self.config.crop
        h, w = slices.shape[-2:]
        if crop:
            if crop > min(h, w):
                raise InputError(f"data.crop = {crop} is larger than a {h} x {w} training stack")
            top, left = int(rng.integers(0, h - crop + 1)), int(rng.integers(0, w - crop + 1))
            spatial = [t[..., top:top + crop, left:left + crop] for t in spatial]
        spatial = _geometric(spatial, self.config.augment, rng)
        slices, truth = spatial[0], dict(zip(truth, spatial[1:]))
        slices, aif = _photometric(slices, truth.get("all_in_focus"), self.config.augment, rng)
        if aif is not None:
            truth["all_in_focus"] = aif
        extra = {"pseudo_depth": spatial[-2].contiguous(), "pseudo_confidence": spatial[-1].contiguous()} \
            if pseudo else {}
        if targets is not None:
            slices, extra["target_slices"] = slices[:count], slices[count:].contiguous()
        if "depth" in truth:
            valid = truth["valid"] & torch.isfinite(truth["depth"]) & (truth["depth"] > 0)
            truth["depth"] = torch.where(valid, truth["depth"], torch.ones_like(truth["depth"]))
            truth["valid"] = valid
        return {
            **extra,
            "slices": slices.contiguous(),
            "focus_positions": item["focus_positions"][subset].float(),
            **{key: truth[key].contiguous() for key in ("depth", "valid", "all_in_focus") if key in truth},
            "camera": item["camera"].float(),
        }


def _align(slices: torch.Tensor, warps: torch.Tensor) -> torch.Tensor:
    """Warp every slice (N x C x H x W) into the target frame with its exact 2 x 3 warp (target -> slice)."""
    aligned = []
    for image, warp in zip(slices, warps):
        array = np.ascontiguousarray(image.permute(1, 2, 0).numpy())
        out = unwarp(array, warp.double().numpy())
        aligned.append(torch.from_numpy(out.reshape(array.shape)).permute(2, 0, 1))
    return torch.stack(aligned)


# the supervision a teacher may have had, per regime of the student: nothing the student's regime lacks
TEACHER_REGIMES = {"self": ("self-supervised",), "aif": ("self-supervised", "all-in-focus-supervised")}


def load_teacher(path: str, regime: str = "self", *, dihedral: bool = False):
    """``stack -> DepthResult`` of a model's weights file, refused unless the model was trained with no
    more supervision than ``regime`` allows (:data:`TEACHER_REGIMES`): a teacher trained with depth would
    carry depth supervision into the self or all-in-focus regime, one trained with all-in-focus images
    would carry those into the self regime. ``dihedral``: the teacher predicts with test-time
    augmentation (:meth:`~focalstack.models.base.FocalStackNet.predict`)."""
    from ..models import create_model
    from ..models.weights import load_weights

    _, info = load_weights(path)
    allowed = TEACHER_REGIMES[regime]
    if info.get("regime") not in allowed:
        raise InputError(f"teacher {path} was trained {info.get('regime', 'with unknown supervision')}; the "
                         f"{'self-supervised' if regime == 'self' else 'all-in-focus'} regime accepts only a "
                         f"{' or '.join(allowed)} teacher")
    model = create_model(info["name"], pretrained=path).eval()
    return lambda stack: model.predict(stack, dihedral=dihedral)


def _classical_teacher(measure: str):
    from ..classical import ClassicalConfig, depth_from_focus

    return lambda stack: depth_from_focus(stack, ClassicalConfig(focus_measure=measure))


def unit_float(image: torch.Tensor) -> torch.Tensor:
    """Images as float in [0, 1]: integer tensors are 8-bit."""
    return image.float() if image.is_floating_point() else image.float() / 255.0


def _geometric(tensors: list[torch.Tensor], augment: AugmentConfig, rng: np.random.Generator) -> list[torch.Tensor]:
    if augment.flips:
        if rng.random() < 0.5:
            tensors = [t.flip(-1) for t in tensors]
        if rng.random() < 0.5:
            tensors = [t.flip(-2) for t in tensors]
    if augment.rot90 and tensors[0].shape[-1] == tensors[0].shape[-2]:
        k = int(rng.integers(0, 4))
        if k:
            tensors = [t.rot90(k, dims=(-2, -1)) for t in tensors]
    return tensors


def _photometric(slices: torch.Tensor, aif: torch.Tensor | None, augment: AugmentConfig,
                 rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Gain, contrast (about the mean of the all-in-focus image, else of the slices) and gamma."""
    gain = 1 + augment.brightness * (2 * rng.random() - 1)
    contrast = 1 + augment.contrast * (2 * rng.random() - 1)
    gamma = float(np.exp(np.log1p(augment.gamma) * (2 * rng.random() - 1)))
    if gain == contrast == gamma == 1:
        return slices, aif
    mean = float((aif if aif is not None else slices).mean())

    def apply(x: torch.Tensor) -> torch.Tensor:
        x = x.clamp(0, 1) ** gamma
        return ((x * gain - mean * gain) * contrast + mean * gain).clamp(0, 1)

    return apply(slices), apply(aif) if aif is not None else None


class ValidationSet:
    """Whole stacks (all slices, full size) from validation folders, at most ``max_per_folder`` each;
    with ``align`` their slices are warped into the ground truth's frame (see ``DataConfig.align``).

    The folders are read as training folders are (:class:`~focalstack.simulate.dataset.FocalStackFolderDataset`,
    ``max_side`` included), so they may be one's own stacks without ground truth.

    Attributes:
        ground_truth: which of ``depth``, ``all_in_focus`` and ``warps`` every validation stack has;
            a metric that needs one is computed only then.
        lacking: per key, the folders without it (for messages).
    """

    def __init__(self, folders: Sequence[str], max_per_folder: int, *, align: bool = False,
                 max_side: int = 0) -> None:
        self.items = []
        datasets = [FocalStackFolderDataset(folder, max_side=max_side) for folder in folders]
        self.lacking = {key: [str(d.root) for d in datasets if key not in d.ground_truth]
                        for key in ("depth", "all_in_focus", "warps")}
        self.ground_truth = frozenset(key for key, names in self.lacking.items() if not names)
        for dataset in datasets:
            for i in range(min(len(dataset), max_per_folder)):
                item = dataset[i]
                if align and "warps" in item:
                    item = {**item, "slices": _align(unit_float(item["slices"]), item["warps"])}
                self.items.append(item)

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self):
        return iter(self.items)
