"""The learned alignment network of "Learning Depth from Focus in the Wild" (Won & Jeon, ECCV 2022, section 3.1).

A three-level encoder-decoder looks at a (reference, target) pair of slices that the metadata field-of-view warp
has already roughly aligned and returns the residual motion as three coefficients of three basis flows: a radial
flow out of the image centre (the field-of-view error of a focus distance that the metadata got wrong) and x and
y translations (the principal point's wander). Each decoder level warps the target's features with the flow so
far (F-warp), concatenates them with the reference's, and adds the coefficients that an adaptive average pooling
of its features gives, coarse to fine. The constrained flow is what survives defocus: a dense flow would chase
blur, three global coefficients cannot.

Training needs no ground truth: the robust loss rho(x) = (|x| + 0.01)^0.4 (Eq. 2) of the reference against the
warped target. The flow's three coefficients are a warp of the library's convention (:mod:`.warps`): a
magnification about the centre plus a shift, so the estimated warps compose with the metadata's and compare with
the simulator's exact ones.

This module imports torch; :mod:`focalstack.align` does not import it (the classical command stays light).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..errors import InputError
from .ecc import grey_copy, pixel_scale, to_small
from .warps import compose, homogeneous, point_shifts_px, warp_to_reference

WEIGHTS = Path(__file__).resolve().parents[1] / "models" / "weights" / "alignnet.safetensors"
INPUT_SIDE = 256  # the long side the network sees: its training resolution (measured: at 384 px the error triples)
PASSES = (2, 1)  # network passes per slice at inference, as input downsampling factors: half, then full resolution
# (chosen on the held-out stacks of configs/alignment: 0.34 px against 0.35 px for two full-resolution passes, and
# 0.6x their time)


def robust_loss(diff: torch.Tensor, eps: float = 0.01, q: float = 0.4) -> torch.Tensor:
    """rho(x) = (|x| + eps)^q, elementwise (Eq. 2 of Won & Jeon: q = 0.4, eps = 0.01)."""
    return (diff.abs() + eps) ** q


def _block(cin: int, cout: int, stride: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1), nn.LeakyReLU(0.1, inplace=True),
                         nn.Conv2d(cout, cout, 3, 1, 1), nn.LeakyReLU(0.1, inplace=True))


class BasisAlignNet(nn.Module):
    """Reference and target grey images (B x 1 x H x W, any size) -> the coefficients (B x 3) of the radial,
    x and y basis flows after each decoder level, coarse to fine (the last is the estimate).

    Coefficients are in normalised coordinates (``grid_sample`` with ``align_corners=False``: u, v in [-1, 1]
    across the image): the flow at (u, v) is alpha (u, v) + (beta, gamma), that is, in pixels, a
    magnification 1 + alpha about the centre and a shift of (beta W / 2, gamma H / 2).

    Each decoder level turns its features into coefficients by pooling over the image (the paper's adaptive
    average pooling), in one of two ways:

    - ``head="pool"``: a linear layer on the average-pooled features (the paper's text);
    - ``head="lsq"``: per-pixel flow evidence (dx, dy) and a weight, then the weighted least-squares fit of the
      three basis flows to it (pooled sums of the evidence times the basis). Pooled features alone cannot
      tell a magnification from no motion, since a magnification moves opposite corners in opposite
      directions and their features cancel in the average; the fit weights each pixel's evidence by its
      position.

    Args:
        widths: channels of the three encoder levels (each halves the resolution). The default has 0.2M
            parameters, the paper's size (0.195M).
        head: ``"lsq"`` or ``"pool"`` (above).
    """

    def __init__(self, widths: Sequence[int] = (16, 32, 64), head: str = "lsq"):
        super().__init__()
        if head not in ("lsq", "pool"):
            raise ValueError(f"head must be lsq or pool, got {head!r}")
        self.widths = tuple(int(w) for w in widths)
        self.head = head
        chans = (1, *self.widths)
        self.encoder = nn.ModuleList(_block(chans[i], chans[i + 1], 2) for i in range(3))
        self.decoder = nn.ModuleList(_block(2 * w, w, 1) for w in self.widths)
        if head == "pool":
            self.heads = nn.ModuleList(nn.Linear(w, 3) for w in self.widths)
        else:
            self.heads = nn.ModuleList(nn.Conv2d(w, 3, 3, 1, 1) for w in self.widths)
        for layer in self.heads:  # identity at the start: no flow until the data asks for one
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)

    def forward(self, reference: torch.Tensor | list[torch.Tensor], target: torch.Tensor) -> list[torch.Tensor]:
        """``reference`` B x 1 x H x W, or 1 x 1 x H x W for one reference shared by a batch of targets
        (encoded once), or its features from :meth:`encode` (for several calls against one reference)."""
        feats_tgt = self.encode(target)
        feats_ref = self.encode(reference) if isinstance(reference, torch.Tensor) else reference
        feats_ref = [f.expand(target.shape[0], -1, -1, -1) for f in feats_ref]
        coeffs = target.new_zeros(target.shape[0], 3)
        out = []
        for level in (2, 1, 0):
            warped = warp_by_coefficients(feats_tgt[level], coeffs)
            x = self.decoder[level](torch.cat([feats_ref[level], warped], 1))
            if self.head == "pool":
                delta = self.heads[level](F.adaptive_avg_pool2d(x, 1).flatten(1))
            else:
                delta = _basis_fit(self.heads[level](x))
            coeffs = coeffs + 0.05 * delta
            out.append(coeffs)
        return out

    def encode(self, image: torch.Tensor) -> list[torch.Tensor]:
        """The three encoder levels' features of a batch of images (B x 1 x H x W)."""
        feats, x = [], image
        for block in self.encoder:
            x = block(x)
            feats.append(x)
        return feats


def _coordinates(height: int, width: int, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(v, u): H x W normalised pixel-centre coordinates in [-1, 1] (``align_corners=False``)."""
    v = (torch.arange(height, device=like.device, dtype=like.dtype) * 2 + 1) / height - 1
    u = (torch.arange(width, device=like.device, dtype=like.dtype) * 2 + 1) / width - 1
    return torch.meshgrid(v, u, indexing="ij")


def _basis_fit(evidence: torch.Tensor, ridge: float = 1e-3) -> torch.Tensor:
    """Coefficients (B x 3) of the radial, x and y basis flows fitted by weighted least squares to per-pixel
    flow evidence (B x 3 x H x W: dx, dy and a weight logit; weights softmax-normalised over the pixels)."""
    b, _, h, w = evidence.shape
    vv, uu = _coordinates(h, w, evidence)
    weight = torch.softmax(evidence[:, 2].flatten(1), dim=1).view(b, h, w)
    dx, dy = evidence[:, 0], evidence[:, 1]
    # normal equations of min sum w |(alpha u + beta - dx, alpha v + gamma - dy)|^2
    suu = (weight * (uu**2 + vv**2)).sum((1, 2))
    su, sv = (weight * uu).sum((1, 2)), (weight * vv).sum((1, 2))
    one = weight.sum((1, 2))
    a = torch.stack([torch.stack([suu, su, sv], -1), torch.stack([su, one, torch.zeros_like(su)], -1),
                     torch.stack([sv, torch.zeros_like(su), one], -1)], -2)
    rhs = torch.stack([(weight * (dx * uu + dy * vv)).sum((1, 2)), (weight * dx).sum((1, 2)),
                       (weight * dy).sum((1, 2))], -1)
    a = a + ridge * torch.eye(3, dtype=a.dtype, device=a.device)
    return torch.linalg.solve(a, rhs[..., None])[..., 0]


def basis_grid(coeffs: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """The sampling grid (B x H x W x 2, ``grid_sample``'s normalised coordinates, ``align_corners=False``)
    of the flow alpha (u, v) + (beta, gamma) added to the identity."""
    vv, uu = _coordinates(height, width, coeffs)
    base = torch.stack([uu, vv], -1)[None]  # 1, H, W, 2
    alpha, shift = coeffs[:, 0, None, None, None], coeffs[:, None, None, 1:]
    return base * (1 + alpha) + shift


def warp_by_coefficients(image: torch.Tensor, coeffs: torch.Tensor) -> torch.Tensor:
    """``image`` (B x C x H x W) seen through the basis flow: out(p) = image(p + D(p)), bilinear, border kept."""
    grid = basis_grid(coeffs, image.shape[-2], image.shape[-1])
    return F.grid_sample(image, grid, mode="bilinear", padding_mode="border", align_corners=False)


def coefficients_to_warp(coeffs: np.ndarray | Sequence[float], shape: tuple[int, int]) -> np.ndarray:
    """The 3 x 3 pixel warp (reference pixel -> target pixel, :mod:`.warps`) of one coefficient triple for an
    image of ``shape`` = (H, W): x' = (1 + alpha)(x - cx) + cx + beta W / 2, and likewise for y."""
    alpha, beta, gamma = (float(c) for c in coeffs)
    h, w = shape
    cx, cy = (w - 1) / 2, (h - 1) / 2
    return np.array([[1 + alpha, 0, -alpha * cx + beta * w / 2],
                     [0, 1 + alpha, -alpha * cy + gamma * h / 2],
                     [0, 0, 1.0]])


def normalise(grey: torch.Tensor) -> torch.Tensor:
    """Zero mean, unit standard deviation per image (B x 1 x H x W): the network and its loss ignore gain and
    offset (vignetting and exposure differences between slices)."""
    mean = grey.mean(dim=(-2, -1), keepdim=True)
    std = grey.std(dim=(-2, -1), keepdim=True)
    return (grey - mean) / (std + 1e-3)


def alignment_loss(outputs: list[torch.Tensor], reference: torch.Tensor, target: torch.Tensor,
                   level_weights: Sequence[float] = (0.25, 0.5, 1.0), blur: float = 1.0) -> torch.Tensor:
    """Eq. 2: the robust difference of the reference and the target warped by each level's coefficients
    (normalised grey images, B x 1 x H x W), mean over the pixels that the warp keeps inside the target, weighted
    over the levels (coarse to fine). Both images are smoothed by a Gaussian of ``blur`` pixels first, which
    evens out a little of their different defocus."""
    if blur > 0:
        reference, target = _gaussian(reference, blur), _gaussian(target, blur)
    total = reference.new_zeros(())
    for weight, coeffs in zip(level_weights, outputs):
        grid = basis_grid(coeffs, reference.shape[-2], reference.shape[-1])
        warped = F.grid_sample(target, grid, mode="bilinear", padding_mode="border", align_corners=False)
        inside = (grid.abs() <= 1).all(-1, keepdim=True).permute(0, 3, 1, 2).to(reference.dtype)
        total = total + weight * (robust_loss(warped - reference) * inside).sum() / inside.sum().clamp_min(1)
    return total / sum(level_weights)


def _gaussian(image: torch.Tensor, sigma: float) -> torch.Tensor:
    radius = max(1, int(round(3 * sigma)))
    x = torch.arange(-radius, radius + 1, dtype=image.dtype, device=image.device)
    k = torch.exp(-0.5 * (x / sigma) ** 2)
    k = k / k.sum()
    image = F.conv2d(F.pad(image, (radius, radius, 0, 0), mode="replicate"), k.view(1, 1, 1, -1))
    return F.conv2d(F.pad(image, (0, 0, radius, radius), mode="replicate"), k.view(1, 1, -1, 1))


# ---------------------------------------------------------------------------------------------------- inference

def load_alignment_net(path: str | Path | None = None, *, device: str | torch.device = "cpu") -> BasisAlignNet:
    """The released alignment network (``focalstack/models/weights/alignnet.safetensors``), or weights at ``path``."""
    from safetensors import safe_open
    from safetensors.torch import load_file

    path = Path(path) if path is not None else WEIGHTS
    if not path.is_file():
        raise InputError(f"alignment network weights not found: {path}")
    with safe_open(str(path), "pt") as handle:
        meta = handle.metadata() or {}
    widths = json.loads(meta.get("widths", "[16, 32, 64]"))
    model = BasisAlignNet(widths, head=json.loads(meta.get("head", '"pool"')))
    model.load_state_dict(load_file(str(path)))
    return model.to(device).eval()


@functools.cache
def _released() -> BasisAlignNet:
    """The released network, loaded once per process."""
    return load_alignment_net()


def save_alignment_net(model: BasisAlignNet, path: str | Path, metadata: dict | None = None) -> Path:
    """Write the network's weights (safetensors) with its widths and ``metadata`` (JSON values) in the header."""
    from safetensors.torch import save_file

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = {"widths": json.dumps(list(model.widths)), "head": json.dumps(model.head),
            **{k: json.dumps(v) for k, v in (metadata or {}).items()}}
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(path), metadata=meta)
    return path


def grey_input(image: np.ndarray, side: int = INPUT_SIDE) -> np.ndarray:
    """A slice as the network's input: :func:`~.ecc.grey_copy` of at most ``side`` pixels (16 at least)."""
    return grey_copy(image, side, min_side=16)


@torch.no_grad()
def learned_warps(slices: Sequence[np.ndarray], initial: np.ndarray | Sequence[np.ndarray] | None = None, *,
                  reference: int = 0, model: BasisAlignNet | None = None, side: int = INPUT_SIDE,
                  passes: Sequence[int] = PASSES, max_change: float = 0.05) -> np.ndarray:
    """Warps (N x 3 x 3, reference frame -> slice) from the alignment network.

    With ``initial`` warps (the metadata's field-of-view warps), each slice is resampled through its own and
    the network estimates the residual against the reference slice directly, as in the paper: the result is
    ``initial[n] o residual[n]``. ``initial`` may also be a list of alternative warp sets (the metadata's and
    none, for a lens that may not breathe): each slice is refined from the alternative whose robust difference
    (Eq. 2) to the reference is smallest (one network run per slice, not one per alternative). Without
    ``initial`` (no metadata: a microscope, a focus rail), each slice is registered to its neighbour nearer the
    reference, already aligned, starting from the neighbour's warp, so that a magnification too large for one
    step accumulates along the chain.

    Args:
        slices: N images (H x W [x C], float32 in [0, 1]): an array or a lazily decoded stack (each slice
            is read once and kept only as a grey image of at most ``side`` pixels).
        initial: N x 3 x 3 (or N x 2 x 3) starting warps, a list of such alternatives, or ``None``.
        reference: the slice whose frame is the reference.
        model: the network (the released one when ``None``).
        side: the long side of the images the network sees.
        passes: one network pass per entry, each from the previous pass's warp, on the grey images
            average-pooled by the entry (1: at ``side`` pixels; 2: at half of it).
        max_change: the quality gate, as ECC's: a result that moves a corner or the centre by more than this
            fraction of the longest side from its start is discarded (a periodic texture can lock the
            network onto a wrong period), and the slice keeps its start.
    """
    model = model if model is not None else _released()
    n = len(slices)
    h, w = np.asarray(slices[0]).shape[:2]
    chained = initial is None
    starts = [np.tile(np.eye(3), (n, 1, 1))] if chained else [
        homogeneous(x) for x in (initial if isinstance(initial, (list, tuple)) else [initial])]
    out = starts[0].copy()
    device = next(model.parameters()).device
    small = [grey_input(slices[k], side) for k in range(n)]
    scale = pixel_scale((w, h), (small[0].shape[1], small[0].shape[0]))

    def seen_through(k: int, warp: np.ndarray) -> torch.Tensor:
        image = small[k] if np.allclose(warp, np.eye(3)) else warp_to_reference(small[k], to_small(warp, scale))
        return normalise(torch.from_numpy(np.ascontiguousarray(image, np.float32))[None, None].to(device))

    def refined(template: torch.Tensor, pairs: list[tuple[int, np.ndarray]], seen: torch.Tensor) -> list[np.ndarray]:
        """The warp of each (slice, start) pair, all registered to ``template`` in one batch; ``seen``: the
        slices seen through their starts."""
        warps = [start for _, start in pairs]
        features = {}  # the reference's, per pooling factor
        for i, factor in enumerate(passes):
            if i:  # each later pass sees the slices through the previous pass's warps
                seen = torch.cat([seen_through(k, warp) for (k, _), warp in zip(pairs, warps)])
            if factor not in features:
                features[factor] = model.encode(_pooled(template, factor))
            coeffs = model(features[factor], _pooled(seen, factor))[-1].cpu().numpy()
            warps = [compose(warp, coefficients_to_warp(c, (h, w))) for warp, c in zip(warps, coeffs)]
        return [start if point_shifts_px(warp, start, (h, w)).max() > max_change * max(h, w) else warp
                for (_, start), warp in zip(pairs, warps)]

    order = [*range(reference + 1, n), *range(reference - 1, -1, -1)]
    if chained:  # one slice after the other: each needs its neighbour's result
        for k in order:
            neighbour = k - 1 if k > reference else k + 1
            start = out[neighbour]
            out[k] = refined(seen_through(neighbour, start), [(k, start)], seen_through(k, start))[0]
        return out
    template = seen_through(reference, out[reference])
    pairs = [(k, start[k]) for k in order for start in starts]
    seen = torch.cat([seen_through(k, warp) for k, warp in pairs])
    if len(starts) > 1:  # each slice is refined only from the alternative nearer the reference (Eq. 2)
        before, m = _difference(template, seen), len(starts)
        chosen = [i * m + int(np.argmin(before[i * m:(i + 1) * m])) for i in range(len(order))]
        pairs, seen = [pairs[i] for i in chosen], seen[chosen]
    for (k, _), warp in zip(pairs, refined(template, pairs, seen)):
        out[k] = warp
    return out


def _pooled(images: torch.Tensor, factor: int) -> torch.Tensor:
    """A batch average-pooled by ``factor`` (1: unchanged)."""
    return F.avg_pool2d(images, factor) if factor > 1 else images


def _difference(a: torch.Tensor, b: torch.Tensor, border: float = 0.05) -> list[float]:
    """Mean robust difference (Eq. 2) of a normalised image (1 x 1 x H x W) and each of a batch (B x 1 x H x W),
    smoothed, inside a border of 5 %."""
    a, b = _gaussian(a, 1.0), _gaussian(b, 1.0)
    my, mx = int(border * a.shape[-2]) + 1, int(border * a.shape[-1]) + 1
    return robust_loss(normalise(b) - normalise(a))[..., my:-my, mx:-mx].mean(dim=(1, 2, 3)).tolist()
