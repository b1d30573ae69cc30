"""The contract every depth-from-focus network follows, and the output they share.

A model is a :class:`FocalStackNet`: ``forward(slices, focus_positions)`` with

- ``slices``: B x N x C x H x W float in [0, 1], any N >= 2, any H x W (padded internally to
  the model's ``size_multiple`` with reflection and cropped back);
- ``focus_positions``: B x N in any unit, already mapped to the blur coordinate (diopters for
  metres; see :mod:`focalstack.units`).

Networks never see raw units: :meth:`FocalStackNet.forward` rescales the focus positions of each
stack to [0, 1] (``normalise_positions``), the architecture works in that range (its ``_forward``
returns depth in normalised units), and the depths are mapped back, so one model serves a
microscope, a phone and a light field, and scaling the positions scales the depth.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..stack import DepthResult, FocalStack
from ..units import from_blur_coordinate


@dataclass
class DepthOutput:
    """What every model returns.

    Attributes:
        depth: B x 1 x H x W, in the blur coordinate of the input focus positions.
        all_in_focus: B x C x H x W in [0, 1], or None for depth-only models.
        depth_scales: per-scale depths (coarse to fine, each B x 1 x H x W at full size, the last
            equal to ``depth``) for multi-scale losses; ``[depth]`` for single-scale models.
        aif_scales: per-scale all-in-focus images, same convention, or empty.
        probabilities: B x N x H x W focus probabilities over slices (sum to 1), or None.
    """

    depth: Tensor
    all_in_focus: Tensor | None = None
    depth_scales: list[Tensor] = field(default_factory=list)
    aif_scales: list[Tensor] = field(default_factory=list)
    probabilities: Tensor | None = None


def normalise_positions(positions: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Rescale each stack's positions to [0, 1]: returns (normalised B x N, offset B, scale B)."""
    lo = positions.amin(dim=1)
    scale = (positions.amax(dim=1) - lo).clamp_min(1e-12)
    return (positions - lo[:, None]) / scale[:, None], lo, scale


class FocalStackNet(nn.Module):
    """Base class: unit handling, padding, and :meth:`predict` for a :class:`FocalStack`.

    Subclasses implement ``_forward(slices, positions01) -> DepthOutput`` with ``positions01``
    in [0, 1] per stack and depth returned in that normalised coordinate, and set
    ``size_multiple`` (input sizes are padded to a multiple of it).
    """

    size_multiple: int = 1

    def forward(self, slices: Tensor, focus_positions: Tensor) -> DepthOutput:
        if slices.dim() != 5 or focus_positions.shape != slices.shape[:2] or slices.shape[1] < 2:
            raise ValueError(f"need slices B x N x C x H x W (N >= 2) and positions B x N, got "
                             f"{tuple(slices.shape)} and {tuple(focus_positions.shape)}")
        positions01, offset, scale = normalise_positions(focus_positions.to(slices.dtype))
        h, w = slices.shape[-2:]
        padded = _pad_to_multiple(slices, self.size_multiple)
        out = self._forward(padded, positions01)

        def restore(depth: Tensor) -> Tensor:
            return depth[..., :h, :w] * scale[:, None, None, None] + offset[:, None, None, None]

        scales = [restore(d) for d in (out.depth_scales or [out.depth])]
        return DepthOutput(
            depth=scales[-1], depth_scales=scales,
            all_in_focus=None if out.all_in_focus is None else out.all_in_focus[..., :h, :w],
            aif_scales=[a[..., :h, :w] for a in out.aif_scales],
            probabilities=None if out.probabilities is None else out.probabilities[..., :h, :w],
        )

    def _forward(self, slices: Tensor, positions01: Tensor) -> DepthOutput:  # pragma: no cover - abstract
        raise NotImplementedError

    @torch.no_grad()
    def predict(self, stack: FocalStack, *, dihedral: bool = False) -> DepthResult:
        """Depth, all-in-focus and confidence of one stack, in its own unit (eval mode), the whole frame
        at once (:func:`~focalstack.models.tiling.predict_tiled` bounds the memory for large images).

        ``dihedral``: test-time augmentation, the mean of the predictions for the stack's 8 flips and
        90-degree rotations, each turned back (depth averaged in the blur coordinate; 8x the time).
        """
        slices, positions = stack_to_tensors(stack, device=device_of(self))
        depth, aif, confidence = self.infer(slices, positions, dihedral=dihedral)
        return depth_result(stack, depth, aif, confidence, method=type(self).__name__)

    @torch.no_grad()
    def infer(self, slices: Tensor, positions: Tensor, *, dihedral: bool = False):
        """One stack's outputs as arrays: (depth H x W in the blur coordinate, all-in-focus H x W x C in
        [0, 1] or None, confidence H x W), from 1 x N x C x H x W slices and 1 x N blur coordinates."""
        was_training = self.training
        self.eval()
        try:
            out = dihedral_mean(self, slices, positions) if dihedral else self(slices, positions)
        finally:
            self.train(was_training)
        depth = out.depth[0, 0].float().cpu().numpy()
        aif = out.all_in_focus[0].permute(1, 2, 0).float().cpu().numpy() if out.all_in_focus is not None else None
        probabilities = out.probabilities
        confidence = (probabilities.amax(dim=1)[0].float().cpu().numpy() if probabilities is not None
                      else np.ones(depth.shape, np.float32))
        return depth, aif, confidence


def depth_result(stack: FocalStack, depth_blur: np.ndarray, aif: np.ndarray | None, confidence: np.ndarray, *,
                 method: str) -> DepthResult:
    """A :class:`DepthResult` in the stack's unit from a network's arrays (depth in the blur coordinate)."""
    depth = from_blur_coordinate(depth_blur, stack.unit).astype(np.float32)
    if aif is not None and stack.channels == 1:
        aif = aif[..., 0]
    return DepthResult(depth=depth, all_in_focus=np.clip(aif, 0, 1) if aif is not None else None,
                       confidence=confidence.astype(np.float32), unit=stack.unit,
                       focus_positions=stack.focus_positions.copy(), method=method)


def _dihedral(x: Tensor, k: int, flip: bool) -> Tensor:
    x = torch.rot90(x, k, dims=(-2, -1))
    return x.flip(-1) if flip else x


def _undo_dihedral(x: Tensor, k: int, flip: bool) -> Tensor:
    return torch.rot90(x.flip(-1) if flip else x, -k, dims=(-2, -1))


def dihedral_mean(model: nn.Module, slices: Tensor, positions: Tensor) -> DepthOutput:
    """The mean of ``model``'s outputs (depth, all-in-focus, probabilities) over the 8 flips and
    90-degree rotations of the slices, each output turned back first (no multi-scale outputs)."""
    total: dict[str, Tensor] = {}
    for k in range(4):
        for flip in (False, True):
            out = model(_dihedral(slices, k, flip), positions)
            for name in ("depth", "all_in_focus", "probabilities"):
                value = getattr(out, name)
                if value is not None:
                    value = _undo_dihedral(value, k, flip)
                    total[name] = total[name] + value if name in total else value
    mean = {name: value / 8 for name, value in total.items()}
    return DepthOutput(depth=mean["depth"], depth_scales=[mean["depth"]], all_in_focus=mean.get("all_in_focus"),
                       probabilities=mean.get("probabilities"))


def stack_to_tensors(stack: FocalStack, *, device=None) -> tuple[Tensor, Tensor]:
    """A FocalStack as (1 x N x C x H x W slices, 1 x N focus positions in the blur coordinate)."""
    array = stack.to_array()
    if array.ndim == 3:
        array = array[..., None]
    slices = torch.from_numpy(np.ascontiguousarray(array.transpose(0, 3, 1, 2)))[None]
    positions = torch.from_numpy(np.asarray(stack.blur_coordinates, dtype=np.float32))[None]
    return slices.to(device), positions.to(device)


def _pad_to_multiple(x: Tensor, multiple: int) -> Tensor:
    h, w = x.shape[-2:]
    ph, pw = (-h) % multiple, (-w) % multiple
    if not (ph or pw):
        return x
    b, n, c = x.shape[:3]
    mode = "reflect" if ph < h and pw < w else "replicate"
    return F.pad(x.reshape(b * n, c, h, w), (0, pw, 0, ph), mode=mode).reshape(b, n, c, h + ph, w + pw)


def device_of(module: nn.Module):
    """The device of a module's parameters (None for a module without any)."""
    parameter = next(module.parameters(), None)
    return parameter.device if parameter is not None else None
