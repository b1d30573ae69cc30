"""Test-time optimisation (TTO): fine-tune a copy of a network on the one stack it is asked about.

A trained network meets a new camera or scene type with a domain gap. The stack itself carries a
training signal that needs no ground truth (test-time optimisation as in AiFDepthNet, Wang et al.,
"Bridging Unsupervised and Supervised Depth from Focus via All-in-Focus Supervision", ICCV 2021; the
loss is the fully self-supervised one of Si et al., "Fully Self-Supervised Depth Estimation from
Defocus Clue", CVPR 2023): the predicted depth and all-in-focus image, pushed through the thin-lens
renderer with the stack's own camera, must reproduce every input slice. :func:`test_time_optimize`
minimises that loss (:class:`~focalstack.train.losses.SelfSupervisedLoss`) for a few steps on a deep
copy of the model and returns the copy, which then predicts the full stack as usual.

Choices, and why:

- **Camera required.** Re-rendering needs the focal length, f-number and pixel pitch (or the
  sensor width) and focus distances in metres (unit ``m`` or ``diopter``); without them the loss
  is undefined, so such stacks are refused (:class:`~focalstack.errors.InputError`).
- **Depth in metres.** Models return depth in the blur coordinate, i.e. diopters for metric
  stacks (:mod:`focalstack.models.base`); the loss takes ``depth_m = 1 / diopters``, the
  diopters clamped to (0.001, 0.99 / f) so that the renderer never sees a point at or inside the
  focal length.
- **All-in-focus image.** The model's own all-in-focus output where it has one (so the loss
  trains it too); for depth-only models (``all_in_focus is None``), or with ``aif="coarse"``,
  the coarse all-in-focus image fused from the sharpest slices
  (:func:`~focalstack.train.losses.coarse_all_in_focus`), which carries no gradient.
- **Final output only.** Only the full-resolution depth is supervised (the depth that will be
  predicted); the coarser scales of multi-scale models only matter for training from scratch.
- **Batch norm stays in eval mode.** The model runs in ``eval()`` throughout: batch-norm layers
  keep the running statistics learnt in training and only the weights (convolutions, and the
  batch-norm scale and shift) are tuned. Statistics of one crop of one stack (batch size 1)
  are noisy, would drift with every step, and would make the network that is optimised differ
  from the one that predicts (which uses the running statistics). Dropout is off for the same
  reason.
- **Random crops, full prediction.** Each step optimises one random ``crop_size`` x ``crop_size``
  window of all slices (the whole image when it is smaller), so memory and time per step do not
  grow with the photo; the tuned copy then predicts the full stack. Losses before and after are
  measured on the same fixed windows (the whole image, or ``eval_crops`` random windows), with
  no gradient.
- **Optimiser.** Adam (beta 0.9, 0.99 as in Won & Jeon, "Learning Depth from Focus in the Wild",
  ECCV 2022), a constant learning rate, the gradient norm
  clipped to ``max_grad_norm``; a step whose loss is not finite is skipped.
- **Deterministic.** Crop positions come from ``numpy.random.default_rng(seed)``; the network
  runs in eval mode, so the same model, stack and seed give the same weights (on one device).
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
from torch import Tensor

from ..errors import InputError
from ..models.base import FocalStackNet, device_of, stack_to_tensors
from ..optics.render import RENDERERS
from ..stack import FocalStack
from .losses import Rendering, SelfSupervisedLoss, coarse_all_in_focus, depth_in_metres

METRIC_UNITS = ("m", "diopter")
AIF_SOURCES = ("model", "coarse")

Box = tuple[int, int, int, int]  # top, left, height, width in pixels


@dataclass
class TTOReport:
    """What a test-time optimisation did.

    Attributes:
        loss_before, loss_after: self-supervised loss of the model before and after, on the same
            fixed evaluation windows (see :func:`test_time_optimize`).
        losses: the training loss of each step (on that step's random window, before its update).
        seconds: wall time of the whole optimisation, evaluations included.
        steps: optimisation steps taken; ``crop``: (height, width) of the training windows.
    """

    loss_before: float
    loss_after: float
    losses: list[float] = field(default_factory=list)
    seconds: float = 0.0
    steps: int = 0
    crop: tuple[int, int] = (0, 0)

    def to_dict(self) -> dict:
        """JSON-able summary (for ``result.json``)."""
        return asdict(self)


def test_time_optimize(
    model: FocalStackNet,
    stack: FocalStack,
    steps: int,
    *,
    lr: float = 1e-4,
    crop_size: int = 256,
    eval_crops: int = 2,
    seed: int = 0,
    aif: str = "model",
    max_grad_norm: float | None = 1.0,
    pixel_pitch_um: float | None = None,
    renderer: str = "per_pixel",
    psf: str = "gaussian",
    num_layers: int = 8,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[FocalStackNet, TTOReport]:
    """Fine-tune a copy of ``model`` on ``stack`` with the self-supervised re-rendering loss.

    Args:
        model: a :class:`~focalstack.models.base.FocalStackNet` (left untouched).
        stack: N >= 2 slices with focus positions in ``m`` or ``diopter`` and a camera that gives
            focal length, f-number and pixel pitch (``pixel_pitch_um`` or ``sensor_width_mm``).
        steps: optimisation steps (0 only measures the loss).
        lr: Adam learning rate.
        crop_size: side in pixels of the random training windows (and of the evaluation ones).
        eval_crops: evaluation windows when the image is larger than one window.
        seed: seed of the window positions.
        aif: ``"model"`` (the model's all-in-focus image, the coarse one for depth-only models)
            or ``"coarse"`` (always the coarse all-in-focus image fused from the sharpest slices).
        max_grad_norm: gradient-norm clip, or None.
        pixel_pitch_um: pixel pitch of the stack's images in micrometres, overriding the camera's
            (e.g. the native pitch divided by a downscaling factor).
        renderer, psf, num_layers: the re-rendering (see :class:`~focalstack.train.losses.Rendering`):
            ``per_pixel`` / ``gaussian`` is fast; ``layered`` / ``disc`` models occlusion and a
            circular aperture.
        progress: ``progress(done, total)`` after every step.

    Returns:
        (tuned copy in eval mode, :class:`TTOReport`).

    Raises:
        InputError: no camera, incomplete camera, non-metric unit, focus closer than the focal
            length, or bad parameters.

    Example:
        >>> from focalstack.models import create_model
        >>> from focalstack.stack import Camera
        >>> images = np.random.default_rng(0).random((3, 32, 32, 3), dtype=np.float32)
        >>> stack = FocalStack(images, [0.3, 0.5, 1.0], unit="m",
        ...                    camera=Camera(focal_length_mm=4.4, f_number=1.8, pixel_pitch_um=5.6))
        >>> tuned, report = test_time_optimize(create_model("aifdepthnet_light"), stack, 2)
        >>> len(report.losses), tuned.predict(stack).depth.shape
        (2, (32, 32))
    """
    lens = tto_lens(stack, pixel_pitch_um=pixel_pitch_um)
    _check_parameters(model, steps, lr, crop_size, eval_crops, aif)
    if renderer not in RENDERERS or psf not in ("gaussian", "disc") or num_layers < 2:
        raise InputError(f"TTO needs renderer per_pixel|layered, psf gaussian|disc and num_layers >= 2, got "
                         f"{renderer!r}, {psf!r}, {num_layers}")
    loss = SelfSupervisedLoss(rendering=Rendering(renderer=renderer, psf=psf, layers=num_layers))
    start = time.perf_counter()
    tuned = copy.deepcopy(model).eval()  # eval mode throughout: batch-norm statistics stay fixed
    slices, positions = stack_to_tensors(stack, device=device_of(tuned))
    rng = np.random.default_rng(seed)
    crop = (min(crop_size, stack.shape[0]), min(crop_size, stack.shape[1]))
    eval_boxes = _eval_boxes(rng, stack.shape, crop, eval_crops)
    loss_before = _mean_loss(tuned, slices, positions, eval_boxes, lens, aif, loss)
    losses = _optimise(tuned, slices, positions, rng, crop, steps, lens, aif, loss, lr=lr,
                       max_grad_norm=max_grad_norm, progress=progress)
    loss_after = _mean_loss(tuned, slices, positions, eval_boxes, lens, aif, loss)
    report = TTOReport(loss_before, loss_after, losses, time.perf_counter() - start, steps, crop)
    return tuned, report


test_time_optimize.__test__ = False  # a library function, not a pytest test, whatever its name


def tto_lens(stack: FocalStack, *, pixel_pitch_um: float | None = None) -> dict[str, float]:
    """The lens parameters re-rendering needs, or :class:`InputError` saying what is missing.

    Returns:
        ``{"focal_length_mm", "f_number", "pixel_pitch_um"}`` for
        :class:`~focalstack.train.losses.SelfSupervisedLoss`.
    """
    if stack.unit not in METRIC_UNITS:
        raise InputError(f"test-time optimisation re-renders the stack through the lens, so it needs focus positions "
                         f"in metres or diopters; this stack's unit is {stack.unit!r}")
    camera = stack.camera
    pitch = pixel_pitch_um or (camera.pixel_pitch_for(stack.shape[1]) if camera else None)
    missing = [name for name, value in (("focal_length_mm", camera and camera.focal_length_mm),
                                        ("f_number", camera and camera.f_number),
                                        ("pixel_pitch_um or sensor_width_mm", pitch)) if not value]
    if missing:
        raise InputError("test-time optimisation re-renders the stack through the lens and needs the camera's "
                         f"{', '.join(missing)} (the 'camera' block of stack.json); this stack has "
                         f"{'no camera' if camera is None else 'a camera without them'}")
    lens = {"focal_length_mm": float(camera.focal_length_mm), "f_number": float(camera.f_number),
            "pixel_pitch_um": float(pitch)}
    nearest_m = 1.0 / float(np.max(stack.blur_coordinates))
    if nearest_m <= lens["focal_length_mm"] * 1e-3:
        raise InputError(f"focus distance {nearest_m:.4g} m is not beyond the focal length "
                         f"({lens['focal_length_mm']:g} mm); check the focus positions and their unit")
    return lens


def self_supervised_stack_loss(model: FocalStackNet, slices: Tensor, positions: Tensor, lens: dict[str, float], *,
                               aif: str = "model", loss: SelfSupervisedLoss | None = None) -> Tensor:
    """The self-supervised ``loss`` (default: :class:`~focalstack.train.losses.SelfSupervisedLoss` with its
    defaults, per-pixel Gaussian rendering) of ``model`` on B x N x C x H x W slices whose focus positions
    (B x N) are in diopters, with ``lens`` from :func:`tto_lens`."""
    out = model(slices, positions)
    depth_m = depth_in_metres(out.depth, lens["focal_length_mm"], min_diopters=1e-3)
    image = out.all_in_focus if aif == "model" and out.all_in_focus is not None else coarse_all_in_focus(slices)
    value, _ = (loss or SelfSupervisedLoss())(depth_m, image, slices, 1.0 / positions, **lens)
    return value


def _optimise(model, slices, positions, rng, crop, steps, lens, aif, objective, *, lr, max_grad_norm,
              progress) -> list[float]:
    """``steps`` Adam steps, each on one random window; returns the loss of every step."""
    parameters = [p for p in model.parameters() if p.requires_grad]
    optimiser = torch.optim.Adam(parameters, lr=lr, betas=(0.9, 0.99))
    losses = []
    for step in range(steps):
        window = _crop(slices, _random_box(rng, slices.shape[-2:], crop))
        loss = self_supervised_stack_loss(model, window, positions, lens, aif=aif, loss=objective)
        value = float(loss.detach())
        optimiser.zero_grad(set_to_none=True)
        if math.isfinite(value):
            loss.backward()
            if max_grad_norm is not None:
                torch.nn.utils.clip_grad_norm_(parameters, max_grad_norm)
            optimiser.step()
        losses.append(value)
        if progress:
            progress(step + 1, steps)
    return losses


@torch.no_grad()
def _mean_loss(model, slices, positions, boxes: list[Box], lens, aif, objective) -> float:
    return float(np.mean([float(self_supervised_stack_loss(model, _crop(slices, box), positions, lens, aif=aif,
                                                           loss=objective)) for box in boxes]))


def _eval_boxes(rng: np.random.Generator, shape: tuple[int, int], crop: tuple[int, int], count: int) -> list[Box]:
    """The whole image when it fits one window, else ``count`` random windows."""
    if crop == tuple(shape):
        return [(0, 0, *crop)]
    return [_random_box(rng, shape, crop) for _ in range(count)]


def _random_box(rng: np.random.Generator, shape, crop: tuple[int, int]) -> Box:
    top = int(rng.integers(0, shape[0] - crop[0] + 1))
    left = int(rng.integers(0, shape[1] - crop[1] + 1))
    return top, left, *crop


def _crop(slices: Tensor, box: Box) -> Tensor:
    top, left, h, w = box
    return slices[..., top:top + h, left:left + w]


def _check_parameters(model, steps: int, lr: float, crop_size: int, eval_crops: int, aif: str) -> None:
    if not isinstance(model, FocalStackNet):
        raise InputError(f"test-time optimisation needs a focal-stack network, got {type(model).__name__}")
    if steps < 0 or not lr > 0 or crop_size < 8 or eval_crops < 1:
        raise InputError(f"need steps >= 0, lr > 0, crop_size >= 8 and eval_crops >= 1; got steps={steps}, "
                         f"lr={lr}, crop_size={crop_size}, eval_crops={eval_crops}")
    if aif not in AIF_SOURCES:
        raise InputError(f"aif must be one of {', '.join(AIF_SOURCES)}, got {aif!r}")

