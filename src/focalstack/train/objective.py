"""The loss of one training step: the regime's loss objects, built from the config, applied to a model's
output and a batch in the normalised inverse-depth coordinate.

Units: the networks see focus positions in diopters (the blur coordinate of metres) rescaled to
[0, 1] per stack (:mod:`focalstack.models.base`). The depth and teacher losses compare prediction and
target in that normalised inverse-depth coordinate, which makes one loss fit a phone and a microscope;
ground truth outside the batch's focus range is clamped to its ends (the network's output cannot leave
the range). The re-rendering terms get the depth back in metres.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor

from ..errors import InputError
from ..models.base import DepthOutput
from .config import LossConfig, RenderConfig, TrainConfig
from .losses import (
    AllInFocusLoss,
    DepthLoss,
    Rendering,
    SelfSupervisedLoss,
    TeacherLoss,
    coarse_all_in_focus,
    depth_in_metres,
)

RERENDER_MAX_SIDE = 256  # the rerender metric scores a centre crop of at most this side (rendering cost)


@dataclass(frozen=True)
class Losses:
    """The loss objects of a ``loss`` config section (:func:`losses_from_config`); ``teacher`` is None
    without a teacher term."""

    depth: DepthLoss
    aif: AllInFocusLoss
    self_supervised: SelfSupervisedLoss
    teacher: TeacherLoss | None


def losses_from_config(loss: LossConfig) -> Losses:
    """Every regime's loss object with the settings of ``loss`` (one :class:`Rendering` shared by the
    re-rendering terms)."""
    rendering = rendering_of(loss.render)
    own = loss.self_supervised
    return Losses(
        depth=DepthLoss(norm=loss.depth.norm, gradient=loss.depth.gradient),
        aif=AllInFocusLoss(smoothness=loss.aif.smoothness, edge_a=loss.aif.edge_a, rerender=loss.aif.rerender,
                           rendering=rendering),
        self_supervised=SelfSupervisedLoss(reconstruction=own.reconstruction, coarse_aif=own.coarse_aif,
                                           smoothness=own.smoothness, attention=own.attention,
                                           render_aif=own.render_aif, rendering=rendering),
        teacher=TeacherLoss(weight=loss.teacher.weight, gradient=loss.teacher.gradient) if loss.teacher.weight
        else None)


def rendering_of(render: RenderConfig) -> Rendering:
    """The :class:`Rendering` of a ``loss.render`` config section."""
    return Rendering(renderer=render.renderer, psf=render.psf, layers=render.layers, layer_range=render.layer_range)


def normalise_depth(depth_diopters: Tensor, positions_diopters: Tensor) -> Tensor:
    """Depths (B x 1 x H x W, diopters) in each stack's [0, 1] focus coordinate."""
    lo = positions_diopters.amin(dim=1)[:, None, None, None]
    scale = (positions_diopters.amax(dim=1)[:, None, None, None] - lo).clamp_min(1e-12)
    return (depth_diopters - lo) / scale


def lens_of(camera: Tensor) -> dict[str, Tensor]:
    """The renderer's lens arguments from a batch's B x 3 camera rows (focal length mm, f-number, pitch um)."""
    return {"focal_length_mm": camera[:, 0], "f_number": camera[:, 1], "pixel_pitch_um": camera[:, 2]}


def pixel_targets(batch: dict[str, Tensor]) -> Tensor:
    """The slices the pixel losses compare with: in the ground truth's frame with ``data.align_targets``."""
    return batch.get("target_slices", batch["slices"])


class TrainingLoss:
    """``loss(out, batch) -> (loss, parts)``: the loss of ``config.regime`` for one batch, with the loss
    objects of ``config.loss`` (plus the teacher term in the ``aif`` and ``self`` regimes).

    Args:
        config: the run's config (its ``regime``, ``loss`` and model name).
    """

    def __init__(self, config: TrainConfig) -> None:
        self.regime, self.model_name = config.regime, config.model.name
        self.losses = losses_from_config(config.loss)

    def __call__(self, out: DepthOutput, batch: dict[str, Tensor]) -> tuple[Tensor, dict[str, float]]:
        positions = 1.0 / batch["focus_positions"]  # diopters, as the model saw them
        if self.regime == "depth":
            target = normalise_depth(1.0 / batch["depth"], positions).clamp(0, 1)
            scales = [normalise_depth(d, positions) for d in out.depth_scales]
            loss = self.losses.depth(scales, target, batch["valid"])
            return loss, {"depth": float(loss.detach())}
        if out.all_in_focus is None:
            raise InputError(f"model {self.model_name} has no all-in-focus output; it cannot train with regime "
                             f"'{self.regime}'")
        if self.regime == "aif":
            loss, parts = self._all_in_focus(out, batch, positions)
        else:
            loss, parts = self.losses.self_supervised(
                depth_in_metres(out.depth, batch["camera"][:, 0]), out.all_in_focus.clamp(0, 1), pixel_targets(batch),
                batch["focus_positions"], **lens_of(batch["camera"]), probabilities=out.probabilities)
        return self._with_teacher(loss, parts, out, batch, positions)

    def _all_in_focus(self, out: DepthOutput, batch: dict[str, Tensor],
                      positions: Tensor) -> tuple[Tensor, dict[str, float]]:
        """The all-in-focus loss over the model's scales (its re-rendering term needs the camera)."""
        aifs = out.aif_scales or [out.all_in_focus]
        depths = [normalise_depth(d, positions) for d in out.depth_scales][-len(aifs):]
        if not self.losses.aif.rerender:
            return self.losses.aif(aifs, depths, batch["all_in_focus"])
        depth_m = depth_in_metres(out.depth, batch["camera"][:, 0])
        return self.losses.aif(aifs, depths, batch["all_in_focus"], depth_m=depth_m, slices=pixel_targets(batch),
                               focus_distances_m=batch["focus_positions"], **lens_of(batch["camera"]))

    def _with_teacher(self, loss: Tensor, parts: dict[str, float], out: DepthOutput, batch: dict[str, Tensor],
                      positions: Tensor) -> tuple[Tensor, dict[str, float]]:
        """``loss`` plus the teacher term on the batch's pseudo-labels (normalised inverse depth)."""
        if self.losses.teacher is None:
            return loss, parts
        teacher = normalise_depth(1.0 / batch["pseudo_depth"].clamp_min(1e-9), positions).clamp(0, 1)
        extra, extra_parts = self.losses.teacher(normalise_depth(out.depth, positions), teacher,
                                                 batch["pseudo_confidence"])
        return loss + extra, {**parts, **extra_parts}


def training_loss(out: DepthOutput, batch: dict[str, Tensor], config: TrainConfig) -> tuple[Tensor, dict[str, float]]:
    """The loss of ``config.regime`` for one batch: ``TrainingLoss(config)(out, batch)``."""
    return TrainingLoss(config)(out, batch)


def rerender_error(depth_m: Tensor, aif: Tensor, slices: Tensor, focus_distances_m: Tensor, *, camera: Tensor,
                   config: TrainConfig, max_side: int = RERENDER_MAX_SIDE) -> float:
    """The ``rerender`` validation metric: the self-supervised regime's re-rendering term
    (:class:`~focalstack.train.losses.SelfSupervisedLoss`'s ``reconstruction``, (1 - SSIM) / 2 and L1
    weighted 0.85 / 0.15) with the renderer ``config`` trains with (``loss.render`` and
    ``loss.self_supervised.render_aif``). It needs no ground truth: lower means the predicted depth and
    all-in-focus image explain the recorded slices better.

    Args:
        depth_m: B x 1 x H x W predicted depth, metres.
        aif: B x C x H x W predicted all-in-focus image in [0, 1].
        slices: B x N x C x H x W the recorded slices in [0, 1].
        focus_distances_m: B x N focus distances, metres.
        camera: B x 3 rows (focal length mm, f-number, pixel pitch um).
        max_side: the centre crop (at most ``max_side`` x ``max_side``) that is rendered and scored.

    Example (the true depth and image of a rendered stack score about 0):
        >>> import torch
        >>> from focalstack.optics import render_focal_stack
        >>> aif, depth = torch.rand(1, 3, 32, 32), torch.full((1, 1, 32, 32), 0.8)
        >>> camera, focus = torch.tensor([[4.4, 1.8, 1.4]]), torch.tensor([[0.5, 0.8, 2.0]])
        >>> stack = render_focal_stack(aif, depth, focus, **lens_of(camera))
        >>> config = TrainConfig.from_dict({"model": {"name": "aifdepthnet_light"}, "data": {"folders": ["unused"]}})
        >>> rerender_error(depth, aif, stack, focus, camera=camera, config=config) < 1e-4
        True
    """
    if depth_m.shape[-2:] != aif.shape[-2:] or slices.shape[-2:] != aif.shape[-2:]:
        raise ValueError(f"depth {tuple(depth_m.shape)}, all-in-focus {tuple(aif.shape)} and slices "
                         f"{tuple(slices.shape)} must share H x W")
    depth_m, aif, slices = (_centre_crop(t, max_side) for t in (depth_m, aif, slices))
    coarse = config.loss.self_supervised.render_aif == "coarse"
    image = coarse_all_in_focus(slices) if coarse else aif.clamp(0, 1)
    return float(rendering_of(config.loss.render).error(depth_m, image, slices, focus_distances_m, **lens_of(camera)))


def _centre_crop(image: Tensor, side: int) -> Tensor:
    """The central (at most) side x side window of an ... x H x W tensor."""
    h, w = image.shape[-2:]
    top, left = max(h - side, 0) // 2, max(w - side, 0) // 2
    return image[..., top:top + side, left:left + side]
