"""Training the learned alignment network (:mod:`focalstack.align.learned`) without ground truth.

Data: stack folders (the simulator's layout, or one's own stacks with a ``stack.json``). Every stack is read once,
each slice taken to the network's working size as a grey image and resampled through the metadata's field-of-view
warp when the stack has that metadata (the paper's first alignment step, which the network refines). A training
pair is two slices of the same stack (the nearer one as the reference: the direct and the chained use), both
flipped and rotated alike,
the target additionally moved by a random known basis warp (a wider range of residual motions than the cameras
give) and its gain jittered. The loss is Eq. 2's robust difference (:func:`~focalstack.align.learned.alignment_loss`),
which reads no depth, no all-in-focus image and no warps.

Validation: stacks that carry the simulator's exact warps are scored by the mean warp error in pixels
(:func:`~focalstack.align.warp_error_px`) of the metadata warp composed with the network's residual; the best
checkpoint by that error is exported (by the loss when no validation stack has warps).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from ..align import breathing_warps, has_breathing_metadata, relative_to, warp_error_px
from ..align.ecc import pixel_scale, to_small
from ..align.learned import (
    BasisAlignNet,
    alignment_loss,
    grey_input,
    learned_warps,
    normalise,
    save_alignment_net,
    warp_by_coefficients,
)
from ..align.stack_alignment import focus_distances_m
from ..align.warps import warp_to_reference
from ..errors import InputError
from ..io.stackdir import read_stack
from ..stack import FocalStack


@dataclass
class AlignTrainConfig:
    """Settings of :func:`train_alignment_net` (recorded in the weights' metadata)."""

    steps: int = 3000
    batch: int = 8
    side: int = 256
    crop: int = 160  # training crops of the side-pixel images (the basis flows are about the crop's centre)
    lr: float = 1e-3
    seed: int = 0
    max_scale: float = 0.025  # random extra magnification of the target, +-
    max_shift: float = 0.03  # random extra shift, +- (normalised: 0.03 = 1.5 % of the side)
    val_every: int = 250
    widths: tuple[int, int, int] = (16, 32, 64)
    head: str = "lsq"  # BasisAlignNet's head: lsq, or pool (the paper's text)


@dataclass
class _Stack:
    greys: np.ndarray  # N x side x side float32, resampled through the metadata warp
    focal: FocalStack | None  # the stack (for validation by learned_warps), when it has exact warps
    true: np.ndarray | None  # exact warps in the reference slice's frame (N x 3 x 3)
    initial: np.ndarray | None


def stack_folders(roots: Sequence[str | Path]) -> list[Path]:
    """Every folder holding a ``stack.json`` under ``roots`` (a stack folder itself, or a dataset, or a mix)."""
    out = []
    for root in map(Path, roots):
        found = [root] if (root / "stack.json").is_file() else sorted(p.parent for p in root.rglob("stack.json"))
        if not found:
            raise InputError(f"no stack folders (with a stack.json) under {root}")
        out.extend(found)
    return out


def split_folders(folders: list[Path], every: int = 10) -> tuple[list[Path], list[Path]]:
    """(training, validation): every ``every``-th folder of the sorted list is held out for validation."""
    return [f for i, f in enumerate(folders) if i % every], [f for i, f in enumerate(folders) if not i % every]


def _load(folder: Path, side: int, keep_stack: bool) -> _Stack:
    stack = read_stack(folder)
    exact = json.loads((folder / "stack.json").read_text()).get("warps")  # the simulator's, for validation only
    initial = None
    if has_breathing_metadata(stack):
        initial = breathing_warps(focus_distances_m(stack), focal_length_mm=stack.camera.focal_length_mm,
                                  shape=stack.shape)
    greys = []
    for k in range(len(stack)):
        small = grey_input(stack[k], side)
        if initial is not None:
            small = warp_to_reference(small, to_small(initial[k], pixel_scale(stack.shape[::-1], small.shape[::-1])))
        greys.append(small)
    true = relative_to(np.asarray(exact, np.float64), 0) if exact is not None else None
    return _Stack(np.stack(greys).astype(np.float32), stack if keep_stack and true is not None else None, true,
                  initial)


def _batch(stacks: list[_Stack], config: AlignTrainConfig, rng: np.random.Generator):
    refs, tgts, moves = [], [], []
    for _ in range(config.batch):
        s = stacks[rng.integers(len(stacks))]
        i, j = sorted(rng.choice(len(s.greys), 2, replace=False))  # the direct (0, j) and the chained (j-1, j) cases
        ref, tgt = s.greys[i], s.greys[j]
        k = int(rng.integers(4))
        flip = bool(rng.integers(2))
        ref, tgt = np.rot90(ref, k), np.rot90(tgt, k)
        if flip:
            ref, tgt = ref[:, ::-1], tgt[:, ::-1]
        h, w = ref.shape
        y, x = int(rng.integers(h - min(h, config.crop) + 1)), int(rng.integers(w - min(w, config.crop) + 1))
        ref, tgt = ref[y:y + config.crop, x:x + config.crop], tgt[y:y + config.crop, x:x + config.crop]
        refs.append(np.ascontiguousarray(ref))
        tgts.append(np.ascontiguousarray(tgt) * rng.uniform(0.8, 1.2))
        moves.append([rng.uniform(-config.max_scale, config.max_scale),
                      *rng.uniform(-config.max_shift, config.max_shift, 2)])
    ref = torch.from_numpy(np.stack(refs))[:, None]
    tgt = torch.from_numpy(np.stack(tgts).astype(np.float32))[:, None]
    # the target seen through a known extra basis warp: out(p) = tgt(p + D(p))
    tgt = warp_by_coefficients(tgt, torch.tensor(moves, dtype=torch.float32))
    return normalise(ref), normalise(tgt)


def validate(model: BasisAlignNet, stacks: list[_Stack]) -> dict:
    """Mean and maximum warp error (pixels, non-reference slices) of metadata + network on stacks with exact
    warps, and of the metadata warp alone."""
    model.eval()
    errors, before = [], []
    for s in stacks:
        if s.focal is None:
            continue
        warps = learned_warps(s.focal, s.initial, model=model)
        errors.extend(warp_error_px(warps, s.true, s.focal.shape)[1:])
        start = s.initial if s.initial is not None else np.tile(np.eye(3), (len(s.focal), 1, 1))
        before.extend(warp_error_px(start, s.true, s.focal.shape)[1:])
    model.train()
    if not errors:
        return {}
    return {"error_px": float(np.mean(errors)), "max_error_px": float(np.max(errors)),
            "initial_error_px": float(np.mean(before))}


def train_alignment_net(train: Sequence[str | Path], out: str | Path, *, val: Sequence[str | Path] = (),
                        config: AlignTrainConfig | None = None, resume: bool = False,
                        log=print) -> Path:
    """Train the alignment network on the stacks under ``train``; write ``out/last.pt`` (resumable),
    ``out/metrics.jsonl`` and ``out/alignnet.safetensors`` (the best weights by validation). Returns the
    weights' path."""
    config = config or AlignTrainConfig()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(config.seed)
    train_stacks = [_load(f, config.side, False) for f in stack_folders(train)]
    val_stacks = [_load(f, config.side, True) for f in stack_folders(val)] if val else []
    log(f"{len(train_stacks)} training stacks, {len(val_stacks)} validation stacks")
    model = BasisAlignNet(config.widths, head=config.head)
    optimiser = torch.optim.Adam(model.parameters(), lr=config.lr, betas=(0.9, 0.99))
    def factor(step: int) -> float:  # warm-up, then cosine
        return min(1.0, (step + 1) / 100) * 0.5 * (1 + math.cos(math.pi * min(step, config.steps) / config.steps))

    schedule = torch.optim.lr_scheduler.LambdaLR(optimiser, factor)
    start, best = 0, math.inf
    checkpoint = out / "last.pt"
    if resume and checkpoint.is_file():
        state = torch.load(checkpoint, weights_only=False)
        model.load_state_dict(state["model"])
        optimiser.load_state_dict(state["optimiser"])
        schedule.load_state_dict(state["schedule"])
        start, best = state["step"], state["best"]
        log(f"resumed at step {start}")
    metrics = (out / "metrics.jsonl").open("a")
    tick, running = time.perf_counter(), []
    for step in range(start, config.steps):
        rng = np.random.default_rng([config.seed, step])
        ref, tgt = _batch(train_stacks, config, rng)
        loss = alignment_loss(model(ref, tgt), ref, tgt)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        schedule.step()
        running.append(loss.item())
        done = step + 1
        if done % config.val_every == 0 or done == config.steps:
            scores = validate(model, val_stacks)
            row = {"step": done, "loss": float(np.mean(running)), **scores,
                   "seconds": round(time.perf_counter() - tick, 1)}
            running = []
            metrics.write(json.dumps(row) + "\n")
            metrics.flush()
            log(json.dumps(row))
            score = scores.get("error_px", row["loss"])
            if score < best:
                best = score
                save_alignment_net(model, out / "alignnet.safetensors",
                                   {"step": done, "config": asdict(config), "validation": scores,
                                    "train_stacks": len(train_stacks), "val_stacks": len(val_stacks)})
            torch.save({"model": model.state_dict(), "optimiser": optimiser.state_dict(),
                        "schedule": schedule.state_dict(), "step": done, "best": best}, out / "last.pt.tmp")
            (out / "last.pt.tmp").replace(checkpoint)
    metrics.close()
    return out / "alignnet.safetensors"
