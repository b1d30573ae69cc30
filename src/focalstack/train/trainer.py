"""The trainer: one loop for the three supervision regimes, single-process or DistributedDataParallel.

``Trainer(config).fit()`` trains ``config.model`` for ``config.run.steps`` optimiser steps. A run folder
(``config.run.out``) holds::

    config.yaml        the run's TrainConfig (also inside every checkpoint)
    last.pt            the latest checkpoint (every ``run.checkpoint_every`` steps, at the end, on Ctrl-C/SIGTERM)
                       with the raw weights and, with ``optim.ema``, their moving average
    best.pt            the checkpoint with the lowest validation ``run.best_metric``
    metrics.jsonl      one JSON line per log step and per validation (learning curves)
    tb/                TensorBoard events (when the ``tensorboard`` package is installed)

Checkpoints are written to a temporary file and renamed, so a run killed at any moment leaves
the previous complete checkpoint. ``resume=True`` restores model, optimiser, scheduler, RNG states
and the step; since each step's batch is a pure function of (seed, step) (:mod:`.data`), a run
killed and resumed reaches the same weights as an uninterrupted one.

Weight averaging (``optim.ema``): an exponential moving average of the weights
(:class:`torch.optim.swa_utils.AveragedModel`) follows the raw ones after every step; it is what
validation scores, what ``best.pt`` is chosen by and what :func:`export_weights` releases.

Distributed: launched by ``torchrun --nproc_per_node=K``, each process trains on its share of
every global batch under DistributedDataParallel (NCCL on CUDA, gloo on CPU); only rank 0 logs,
validates and writes checkpoints. Mixed precision (bfloat16 autocast) is used on CUDA when
``run.amp`` is set.

The loss of each step is :class:`~focalstack.train.objective.TrainingLoss` (the regime's loss objects,
in the normalised inverse-depth coordinate).
"""

from __future__ import annotations

import dataclasses
import gc
import json
import math
import os
import random
import signal
import time
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch import Tensor, nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from torch.utils.data import DataLoader

from ..errors import InputError
from ..eval.metrics import average_metrics, depth_metrics
from ..io.atomic import atomic_file
from ..models.base import device_of
from ..models.registry import create_model
from ..models.weights import load_weights, save_weights
from .config import BEST_METRICS, TrainConfig
from .data import StepBatches, ValidationSet, lacking, load_teacher, open_sources, unit_float
from .losses import depth_in_metres
from .objective import TrainingLoss, normalise_depth, rerender_error, training_loss

__all__ = ["CHECKPOINT_FORMAT", "Trainer", "export_weights", "normalise_depth", "rerender_error", "training_loss"]

CHECKPOINT_FORMAT = "focalstack-train-v1"
_ECHOED_METRICS = ("mse_norm", "mse", "mae", "abs_rel", "bump", "aif_l1", "rerender")  # on validation lines
# config keys that may differ between a run and its resumption
_RESUMABLE_CHANGES = {"run.steps", "run.checkpoint_every", "run.val_every", "run.log_every", "run.threads",
                      "data.workers", "data.val_folders", "data.val_max", "data.val_align"}


# --------------------------------------------------------------------------- distributed helpers
def _dist_info() -> tuple[int, int, int]:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    return int(os.environ.get("RANK", "0")), world, int(os.environ.get("LOCAL_RANK", "0"))


def _lr_lambda(config: TrainConfig) -> Callable[[int], float]:
    optim, total = config.optim, config.run.steps

    def factor(step: int) -> float:
        if optim.warmup_steps and step < optim.warmup_steps:
            return (step + 1) / optim.warmup_steps
        if optim.schedule == "constant":
            return 1.0
        if optim.schedule == "step":
            return 0.5 ** ((step >= 0.6 * total) + (step >= 0.8 * total))
        span = max(total - optim.warmup_steps, 1)
        progress = min(max(step - optim.warmup_steps, 0) / span, 1.0)
        return optim.min_lr_ratio + (1 - optim.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress))

    return factor


def _leaves(config, prefix: str = "") -> dict:
    """Every setting of a (nested) config dataclass by its dotted name, e.g. ``run.steps``."""
    leaves = {}
    for spec in dataclasses.fields(config):
        value = getattr(config, spec.name)
        if dataclasses.is_dataclass(value):
            leaves.update(_leaves(value, prefix + spec.name + "."))
        else:
            leaves[prefix + spec.name] = value
    return leaves


def _depth_scores(depth_d: Tensor, item: dict[str, Tensor], focus_m: Tensor) -> dict[str, float]:
    """Depth metrics (metres) and ``mse_norm`` (normalised inverse depth) of a 1 x 1 x H x W prediction in
    diopters against a validation stack's ground truth."""
    device = depth_d.device
    gt_m = item["depth"][None].float().to(device)
    valid = item["valid"][None].to(device) & (gt_m > 0)
    target = normalise_depth(1.0 / gt_m.clamp_min(1e-9), 1.0 / focus_m)
    mse_norm = float(((normalise_depth(depth_d, 1.0 / focus_m) - target)[valid]).square().mean())
    pred_m = (1.0 / depth_d.clamp_min(1e-9))[0, 0].cpu().numpy()
    return {**depth_metrics(pred_m, gt_m[0, 0].cpu().numpy(), valid[0, 0].cpu().numpy()), "mse_norm": mse_norm}


@torch.no_grad()
def _predicts_all_in_focus(model: nn.Module) -> bool:
    """Whether ``model`` has an all-in-focus output (one forward pass on a small dummy stack, eval mode)."""
    was_training = model.training
    model.eval()
    try:
        device = device_of(model)
        slices = torch.full((1, 2, 3, 32, 32), 0.5, device=device)
        return model(slices, torch.tensor([[2.0, 1.0]], device=device)).all_in_focus is not None
    finally:
        model.train(was_training)


class Trainer:
    """Train one model from a :class:`TrainConfig` (see the module docstring).

    Args:
        config: the run.
        resume: continue from ``config.run.out/last.pt``; without it an existing run folder is refused.
        progress: show a progress bar (rank 0).
        echo: where log lines go (rank 0); ``print`` by default.
    """

    def __init__(self, config: TrainConfig, *, resume: bool = False, progress: bool = True,
                 echo: Callable[[str], None] = print) -> None:
        self.config = config
        self.out = Path(config.run.out)
        self.rank, self.world, self.local_rank = _dist_info()
        self.progress, self.echo = progress and self.rank == 0, echo if self.rank == 0 else (lambda _: None)
        self._check_run_folder(resume)
        run = config.run
        if run.threads:
            torch.set_num_threads(run.threads)
        self._owns_group = self.world > 1 and not dist.is_initialized()
        if self._owns_group:
            use_cuda = run.device != "cpu" and torch.cuda.is_available()
            dist.init_process_group(backend="nccl" if use_cuda else "gloo")
        self.device = self._device()
        self.amp = run.amp and self.device.type == "cuda"

        torch.manual_seed(run.seed)
        self.model = create_model(config.model.name, **config.model.overrides).to(self.device)
        if config.model.init:
            self._load_init(config.model.init)
        self.ddp = (nn.parallel.DistributedDataParallel(self.model, device_ids=[self.device.index]
                                                        if self.device.type == "cuda" else None)
                    if self.world > 1 else None)
        optim = config.optim
        cls = torch.optim.AdamW if optim.name == "adamw" else torch.optim.Adam
        self.optimizer = cls(self.model.parameters(), lr=optim.lr, betas=tuple(optim.betas),
                             weight_decay=optim.weight_decay)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, _lr_lambda(config))
        self.ema = (AveragedModel(self.model, multi_avg_fn=get_ema_multi_avg_fn(optim.ema), use_buffers=True)
                    if optim.ema else None)
        self.step = 0
        self.best = {"metric": run.best_metric, "value": math.inf, "step": -1}
        self.train_seconds, self._fit_started = 0.0, None  # wall time of earlier sessions, start of this one
        self.loss = TrainingLoss(config)
        teacher, pseudo = config.loss.teacher, None  # the teacher: a weights file or a focus measure
        if config.regime in ("self", "aif") and teacher.weight:
            pseudo = teacher.weights or teacher.measure
            if teacher.weights:  # refuse a missing or too supervised teacher now, not in a worker
                load_teacher(teacher.weights, config.regime)
        self.batches = StepBatches(open_sources(config.data), config.data, batch_size=run.batch_size,
                                   seed=run.seed, rank=self.rank, world_size=self.world,
                                   pseudo=pseudo, teacher_regime=config.regime, teacher_dihedral=teacher.dihedral)
        self._check_ground_truth()
        self.validation = ValidationSet(config.data.val_folders, config.data.val_max, align=config.data.val_align,
                                        max_side=config.data.max_side) if self.rank == 0 else None
        if self.validation:
            self._check_best_metric()
        if resume:
            self._load_checkpoint(self.out / "last.pt")
        self._writer = None

    # ------------------------------------------------------------------ setup
    def _check_run_folder(self, resume: bool) -> None:
        last = self.out / "last.pt"
        if resume and not last.is_file():
            raise InputError(f"nothing to resume: {last} does not exist")
        if not resume and last.exists():
            raise InputError(f"{self.out} already holds a run; pass --resume to continue it or choose another run.out")

    def _check_ground_truth(self) -> None:
        """Refuse a regime whose supervision the training stacks lack (one's own stacks train only ``self``)."""
        needs = {"depth": ("depth", "ground-truth depth"), "aif": ("all_in_focus", "true all-in-focus images")}
        if self.config.regime not in needs:
            return
        key, what = needs[self.config.regime]
        missing = lacking(self.batches.source, key)
        if missing:
            raise InputError(f"regime '{self.config.regime}' needs {what}, which the training data "
                             f"{', '.join(missing)} lack(s); train stacks without ground truth with regime: self")

    def _check_best_metric(self) -> None:
        """Refuse a ``best_metric`` the validation stacks (or the model) cannot give."""
        metric = self.config.run.best_metric
        need = BEST_METRICS[metric]
        if need and need not in self.validation.ground_truth:
            what = "ground-truth depth" if need == "depth" else "true all-in-focus images"
            raise InputError(f"best_metric '{metric}' needs {what} in the validation stacks, which "
                             f"{', '.join(self.validation.lacking[need])} lack(s); use best_metric: rerender "
                             "(the self-supervised re-rendering error, no ground truth needed)")
        if metric == "rerender" and not _predicts_all_in_focus(self.model):
            raise InputError(f"best_metric 'rerender' needs a model with an all-in-focus output; "
                             f"{self.config.model.name} has none")

    def _device(self) -> torch.device:
        want = self.config.run.device
        if want == "cuda" and not torch.cuda.is_available():
            raise InputError("device: cuda was asked for but no CUDA device is available")
        if want == "cuda" or (want == "auto" and torch.cuda.is_available()):
            torch.cuda.set_device(self.local_rank)
            return torch.device("cuda", self.local_rank)
        return torch.device("cpu")

    def _load_init(self, path: str) -> None:
        if str(path).endswith(".pt"):
            state = _released_state(torch.load(path, map_location="cpu", weights_only=False))
        else:
            state, _ = load_weights(path)
        self.model.load_state_dict(state)

    # ------------------------------------------------------------------ checkpoints
    def state_dict(self) -> dict:
        return {
            "format": CHECKPOINT_FORMAT,
            "step": self.step,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            **({"ema": self.ema.module.state_dict()} if self.ema else {}),
            "best": dict(self.best),
            "train_seconds": self.train_seconds + (time.perf_counter() - self._fit_started if self._fit_started else 0),
            "config": self.config.to_dict(),
            "rng": {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate(),
                    "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []},
        }

    def save_checkpoint(self, name: str = "last.pt") -> Path:
        """Write a checkpoint atomically (rank 0 only; other ranks return the path)."""
        path = self.out / name
        if self.rank == 0:
            self.out.mkdir(parents=True, exist_ok=True)
            self.config.save(self.out / "config.yaml")
            with atomic_file(path) as tmp:
                torch.save(self.state_dict(), tmp)
        return path

    def _load_checkpoint(self, path: Path) -> None:
        try:
            state = torch.load(path, map_location="cpu", weights_only=False)
        except Exception as exc:  # noqa: BLE001 - any failure means an unusable checkpoint
            raise InputError(f"cannot read checkpoint {path}: {exc}") from None
        if state.get("format") != CHECKPOINT_FORMAT:
            raise InputError(f"{path} is not a focalstack training checkpoint")
        try:  # a checkpoint of the earlier flat config layout is read in the nested one
            saved = _leaves(TrainConfig.from_dict(state["config"]))
        except InputError as exc:
            raise InputError(f"cannot resume {path}: its saved config does not load ({exc})") from None
        mine = _leaves(self.config)
        changed = sorted(k for k in set(saved) | set(mine)
                         if saved.get(k) != mine.get(k) and k not in _RESUMABLE_CHANGES)
        if changed:
            raise InputError(f"cannot resume {path} with a different config: {', '.join(changed)} changed")
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.scheduler.lr_lambdas = [_lr_lambda(self.config)]  # steps may have been extended
        self.step, self.best = int(state["step"]), dict(state["best"])
        if self.ema is not None:  # updated once per step since step 0
            self.ema.module.load_state_dict(state["ema"])
            self.ema.n_averaged.fill_(self.step)
        self.train_seconds = float(state.get("train_seconds", 0.0))
        rng = state["rng"]
        torch.set_rng_state(rng["torch"])
        np.random.set_state(rng["numpy"])
        random.setstate(rng["python"])
        if rng["cuda"] and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(rng["cuda"])
        self._truncate_log(self.step)

    # ------------------------------------------------------------------ logging
    def _log(self, record: dict) -> None:
        if self.rank != 0:
            return
        self.out.mkdir(parents=True, exist_ok=True)
        with open(self.out / "metrics.jsonl", "a") as fh:
            fh.write(json.dumps(record) + "\n")
        writer = self._tensorboard()
        if writer is not None:
            prefix = "val/" if "val" in record else "train/"
            values = record.get("val", record)
            for key, value in values.items():
                if key != "step" and isinstance(value, (int, float)) and math.isfinite(value):
                    writer.add_scalar(prefix + key, value, record["step"])
            writer.flush()

    def _tensorboard(self):
        if self._writer is None:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:  # tensorboard is optional
                self._writer = False
                return None
            self._writer = SummaryWriter(str(self.out / "tb"), purge_step=self.step + 1 if self.step else None)
        return self._writer or None

    def _truncate_log(self, step: int) -> None:
        """Drop log lines written after the checkpoint being resumed (they will be redone)."""
        path = self.out / "metrics.jsonl"
        if self.rank != 0 or not path.is_file():
            return
        kept = [line for line in path.read_text().splitlines() if line and json.loads(line)["step"] <= step]
        with atomic_file(path) as tmp:
            tmp.write_text("".join(line + "\n" for line in kept))

    # ------------------------------------------------------------------ validation
    @torch.no_grad()
    def validate(self) -> dict[str, float]:
        """Metrics on the validation stacks (full size, all slices), each the mean over the stacks; empty
        without validation data. Depth metrics and ``mse_norm`` need ground-truth depth in every validation
        stack, ``aif_l1`` true all-in-focus images, ``rerender`` (:func:`rerender_error`) only a model with an
        all-in-focus output."""
        if not self.validation:
            return {}
        model = self.ema.module if self.ema is not None else self.model
        was_training = model.training
        model.eval()
        try:
            rows = [self._validation_scores(model, item) for item in self.validation]
        finally:
            model.train(was_training)
        return average_metrics(rows)

    def _validation_scores(self, model: nn.Module, item: dict[str, Tensor]) -> dict[str, float]:
        """The validation metrics of one whole stack."""
        slices = unit_float(item["slices"])[None].to(self.device)
        focus_m = item["focus_positions"].float()[None].to(self.device)
        with self._autocast():
            out = model(slices, 1.0 / focus_m)
        depth_d = out.depth.float()
        scores = {}
        if "depth" in self.validation.ground_truth:
            scores.update(_depth_scores(depth_d, item, focus_m))
        if out.all_in_focus is not None:
            aif = out.all_in_focus.float()
            if "all_in_focus" in self.validation.ground_truth:  # lets all-in-focus-supervised runs pick without depth
                scores["aif_l1"] = float((aif - unit_float(item["all_in_focus"])[None].to(self.device)).abs().mean())
            camera = item["camera"].float()[None].to(self.device)
            scores["rerender"] = rerender_error(depth_in_metres(depth_d, camera[:, 0]), aif, slices, focus_m,
                                                camera=camera, config=self.config)
        return scores

    def _autocast(self):
        return torch.autocast("cuda", dtype=torch.bfloat16) if self.amp else nullcontext()

    # ------------------------------------------------------------------ training
    def fit(self, until_step: int | None = None) -> dict:
        """Train to ``config.run.steps``, or stop after step ``until_step`` (``focalstack train --until``) with
        ``last.pt`` written, the schedule still that of all the steps; returns a summary."""
        config, run = self.config, self.config.run
        stop_at = min(until_step or run.steps, run.steps)
        loader = DataLoader(self.batches, batch_size=None, sampler=range(self.step, stop_at),
                            num_workers=config.data.workers, persistent_workers=False,
                            prefetch_factor=2 if config.data.workers else None)
        net = self.ddp or self.model
        net.train()
        previous = signal.getsignal(signal.SIGTERM)
        if self.rank == 0:
            signal.signal(signal.SIGTERM, _raise_interrupt)
        bar = _Progress(self.progress, start=self.step, total=run.steps)
        self._fit_started = time.perf_counter()
        data_time, last_loss = 0.0, math.nan
        window = {"loss": [], "parts": {}, "t": time.perf_counter(), "data": 0.0, "n": 0}
        interrupted = False
        try:
            tick = time.perf_counter()
            for batch in loader:
                data_time = time.perf_counter() - tick
                batch = {k: v.to(self.device, non_blocking=True) for k, v in batch.items()}
                with self._autocast():
                    out = net(batch["slices"], 1.0 / batch["focus_positions"])
                    loss, parts = self.loss(out, batch)
                if not torch.isfinite(loss):
                    raise FloatingPointError(f"the loss became {float(loss)} at step {self.step}; "
                                             "lower optim.lr or check the data")
                self.optimizer.zero_grad(set_to_none=True)
                loss.backward()
                if config.optim.clip_grad:
                    nn.utils.clip_grad_norm_(self.model.parameters(), config.optim.clip_grad)
                self.optimizer.step()
                self.scheduler.step()
                if self.ema is not None:
                    self.ema.update_parameters(self.model)
                self.step += 1
                last_loss = float(loss.detach())
                window["loss"].append(last_loss)
                window["data"] += data_time
                window["n"] += 1
                for key, value in parts.items():
                    window["parts"].setdefault(key, []).append(value)
                bar.update(self.step, last_loss)
                if self.step % run.log_every == 0 or self.step == stop_at:
                    self._log_window(window)
                if self.step % run.checkpoint_every == 0 and self.step < stop_at:
                    self.save_checkpoint()
                if run.val_every and self.step % run.val_every == 0 and self.step < run.steps:
                    self._validate_and_keep_best()
                tick = time.perf_counter()
        except KeyboardInterrupt:
            interrupted = True
        finally:
            bar.close()
            if self.rank == 0:
                signal.signal(signal.SIGTERM, previous)
        if self.step >= run.steps and self.rank == 0:
            self._validate_and_keep_best()
        self.save_checkpoint()
        if self.world > 1:
            dist.barrier()
        seconds = time.perf_counter() - self._fit_started
        self.train_seconds += seconds
        self._fit_started = None
        summary = {"step": self.step, "loss": last_loss, "seconds": seconds,
                   "interrupted": interrupted, "best": self.best}
        if self.world > 1:
            summary["rank_param_difference"] = self._rank_difference()
        if interrupted:
            self.echo(f"interrupted at step {self.step}; checkpoint saved, continue with --resume")
        return summary

    def _log_window(self, window: dict) -> None:
        now = time.perf_counter()
        n = max(window["n"], 1)
        record = {"step": self.step, "loss": float(np.mean(window["loss"])),
                  **{k: float(np.mean(v)) for k, v in window["parts"].items()},
                  "lr": self.scheduler.get_last_lr()[0], "sec_per_step": (now - window["t"]) / n,
                  "data_sec_per_step": window["data"] / n}
        self._log(record)
        window.update(loss=[], parts={}, t=now, data=0.0, n=0)

    def _validate_and_keep_best(self) -> None:
        if self.rank != 0:
            return
        metrics = self.validate()
        if not metrics:
            return
        self._log({"step": self.step, "val": metrics})
        value = metrics.get(self.config.run.best_metric, math.nan)
        self.echo(f"step {self.step}: validation " + ", ".join(f"{k} {v:.4g}" for k, v in metrics.items()
                                                              if k in _ECHOED_METRICS))
        if math.isfinite(value) and value < self.best["value"]:
            self.best = {"metric": self.config.run.best_metric, "value": value, "step": self.step}
            self.save_checkpoint("best.pt")

    def _rank_difference(self) -> float:
        """Largest parameter difference between any rank and rank 0 (0 when DDP kept them in sync)."""
        worst = torch.zeros((), device=self.device)
        for parameter in self.model.parameters():
            reference = parameter.detach().clone()
            dist.broadcast(reference, src=0)
            worst = torch.maximum(worst, (parameter.detach() - reference).abs().max())
        dist.all_reduce(worst, op=dist.ReduceOp.MAX)
        return float(worst)

    def close(self) -> None:
        """Leave the process group this trainer started (all ranks together); a no-op otherwise.

        Without it the group (kept alive by the DDP wrapper) outlives the interpreter: its gloo worker
        thread may still be releasing the last collective's tensors during shutdown, cannot take the GIL,
        and the rank aborts ('terminate called without an active exception'). Dropping the wrapper and
        destroying the group while Python is alive joins those threads first.
        """
        if self._owns_group and dist.is_initialized():
            dist.barrier()
            self.ddp = None  # the reducer holds a reference to the group
            dist.destroy_process_group()
            gc.collect()
        self._owns_group = False


def _raise_interrupt(signum, frame):  # noqa: ARG001 - signal handler signature
    raise KeyboardInterrupt


class _Progress:
    """A rich progress bar with the loss and ETA (or nothing)."""

    def __init__(self, enabled: bool, *, start: int, total: int) -> None:
        self.bar = None
        if not enabled:
            return
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self.bar = Progress(TextColumn("training"), BarColumn(), MofNCompleteColumn(),
                            TextColumn("loss {task.fields[loss]}"), TimeRemainingColumn(), transient=False)
        self.bar.start()
        self.task = self.bar.add_task("train", total=total, completed=start, loss="-")

    def update(self, step: int, loss: float) -> None:
        if self.bar is not None:
            self.bar.update(self.task, completed=step, loss=f"{loss:.4g}")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()


# --------------------------------------------------------------------------- export
def _released_state(checkpoint: dict) -> dict[str, Tensor]:
    """The weights a checkpoint stands for: the moving average when the run kept one, else the raw weights."""
    return checkpoint.get("ema") or checkpoint["model"]


def export_weights(checkpoint: str | Path, path: str | Path, **metadata) -> Path:
    """Write a checkpoint's model (its moving average with ``optim.ema``) as a safetensors weights file.

    The run's config (model, regime, loss, run, data, optim, in the nested layout also for checkpoints of
    the earlier flat one), its step and wall time are recorded as ``training`` and its best validation score
    as ``validation``; ``metadata`` adds e.g. ``metrics``, ``licence``.
    """
    try:
        state = torch.load(checkpoint, map_location="cpu", weights_only=False)
    except Exception as exc:  # noqa: BLE001
        raise InputError(f"cannot read checkpoint {checkpoint}: {exc}") from None
    config = TrainConfig.from_dict(state["config"])
    model = create_model(config.model.name, **config.model.overrides)
    model.load_state_dict(_released_state(state))
    regime = {"depth": "depth-supervised", "aif": "all-in-focus-supervised", "self": "self-supervised"}[config.regime]
    training = {"steps": state["step"], "train_seconds": state.get("train_seconds"), **config.to_dict()}
    save_weights(model, path, regime=regime, training=training, validation=state["best"], **metadata)
    return Path(path)
