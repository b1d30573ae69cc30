"""Training losses of the three supervision regimes, built on :mod:`focalstack.optics`.

- :func:`depth_loss`: depth supervision over the model's scales, weights 0.3, 0.5, 0.7, 1.0
  (``002_ac68fe622fd51a49.txt`` Eq. 3: L2; L1 as in ``000``), on valid pixels.
- :func:`aif_loss`: all-in-focus supervision (``001_5dfa494f03249656.txt`` Eq. 4-6): per scale,
  L1 to the true all-in-focus image + 0.002 x edge-aware smoothness of the depth with a = 150.
- :func:`self_supervised_loss`: fully self-supervised (``003_c13972046b5f2f80.txt``): every
  input slice is re-rendered from the predicted depth and all-in-focus image through the
  thin-lens renderer with the stack's camera, and compared with the input (SSIM + L1); plus the
  terms that make it converge: the all-in-focus image is pulled towards a coarse all-in-focus
  image fused from the sharpest slices, and depth is smooth where the image is.

All take B x ... tensors and return a scalar tensor; none re-implements optics.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from ..optics.render import render_focal_stack

SCALE_WEIGHTS = (0.3, 0.5, 0.7, 1.0)


def _scale_weights(count: int) -> tuple[float, ...]:
    """The paper's weights for four scales; for fewer scales the last ``count`` of them."""
    return SCALE_WEIGHTS[-count:] if count <= len(SCALE_WEIGHTS) else (1.0,) * count


def depth_loss(depth_scales: list[Tensor], target: Tensor, valid: Tensor | None = None, *, norm: str = "l2",
               gradient: float = 0.0) -> Tensor:
    """Weighted sum over scales of the mean L2 (or L1) depth error on valid pixels (002 Eq. 3).

    Args:
        depth_scales: per-scale predictions, coarse to fine, each B x 1 x H x W.
        target: B x 1 x H x W ground truth in the same unit.
        valid: B x 1 x H x W bool; default every pixel.
        norm: ``"l2"`` (squared error) or ``"l1"``.
        gradient: weight of :func:`gradient_matching` added at each scale (0: the paper's loss).
    """
    valid = torch.ones_like(target, dtype=torch.bool) if valid is None else valid
    total = target.new_zeros(())
    for weight, depth in zip(_scale_weights(len(depth_scales)), depth_scales):
        error = (depth - target)[valid]
        total = total + weight * (error.square().mean() if norm == "l2" else error.abs().mean())
        if gradient:
            total = total + weight * gradient * gradient_matching(depth, target, valid)
    return total


def gradient_matching(depth: Tensor, target: Tensor, valid: Tensor | None = None) -> Tensor:
    """Mean L1 norm of the horizontal and vertical differences of the error ``depth - target``
    over pixel pairs that are both valid (every pair without ``valid``): zero when the prediction
    is the target up to an offset, large for pixel-scale noise."""
    error = depth - target
    if valid is None:
        dx = (error[..., :, 1:] - error[..., :, :-1]).abs()
        dy = (error[..., 1:, :] - error[..., :-1, :]).abs()
        return (dx.sum() + dy.sum()) / (dx.numel() + dy.numel())
    pair_x = valid[..., :, 1:] & valid[..., :, :-1]
    pair_y = valid[..., 1:, :] & valid[..., :-1, :]
    dx = (error[..., :, 1:] - error[..., :, :-1]).abs()[pair_x]
    dy = (error[..., 1:, :] - error[..., :-1, :]).abs()[pair_y]
    return (dx.sum() + dy.sum()) / max(int(pair_x.sum() + pair_y.sum()), 1)


def edge_aware_smoothness(depth: Tensor, image: Tensor, *, a: float = 150.0) -> Tensor:
    """mean exp(-a sum_c |dI/dx|) |dD/dx| + exp(-a sum_c |dI/dy|) |dD/dy| (001 Eq. 6)."""
    dx_d = (depth[..., :, 1:] - depth[..., :, :-1]).abs()
    dy_d = (depth[..., 1:, :] - depth[..., :-1, :]).abs()
    dx_i = (image[..., :, 1:] - image[..., :, :-1]).abs().sum(dim=1, keepdim=True)
    dy_i = (image[..., 1:, :] - image[..., :-1, :]).abs().sum(dim=1, keepdim=True)
    return (torch.exp(-a * dx_i) * dx_d).mean() + (torch.exp(-a * dy_i) * dy_d).mean()


def aif_loss(aif_scales: list[Tensor], depth_scales: list[Tensor], target_aif: Tensor, *,
             smoothness: float = 0.002, a: float = 150.0) -> Tensor:
    """sum_i w_i (||AiF_i - AiF_gt||_1 + 0.002 L_smooth(D_i, AiF_i)) (001 Eq. 4-6)."""
    total = target_aif.new_zeros(())
    for weight, aif, depth in zip(_scale_weights(len(aif_scales)), aif_scales, depth_scales):
        total = total + weight * ((aif - target_aif).abs().mean() + smoothness * edge_aware_smoothness(depth, aif, a=a))
    return total


def aif_rerender_loss(depth_m: Tensor, target_aif: Tensor, slices: Tensor, focus_distances_m: Tensor, *,
                      focal_length_mm, f_number, pixel_pitch_um, method: str = "layered", psf: str = "disc",
                      num_layers: int = 12, layer_range: str = "depth") -> Tensor:
    """Re-render every slice from the true all-in-focus image and the predicted depth (metres) and
    compare with the input (:func:`reconstruction_error`).

    An addition to the all-in-focus regime (001 has only the L1 to the true all-in-focus image): the
    all-in-focus loss is blind to depth wherever two slices fuse to the same image (textureless areas)
    and prefers the single sharpest slice, so its depth snaps to the slice positions; the defocus of
    every slice, rendered from the truth, also measures depth between slices. No depth is used.
    ``layer_range`` as in :func:`self_supervised_loss`, whose re-rendering term is this function
    applied to the predicted or the coarse all-in-focus image.
    """
    rendered = render_focal_stack(target_aif, depth_m, focus_distances_m, focal_length_mm=focal_length_mm,
                                  f_number=f_number, pixel_pitch_um=pixel_pitch_um, method=method, psf=psf,
                                  num_layers=num_layers,
                                  inverse_depth_range=_layer_range(layer_range, focus_distances_m, method))
    return reconstruction_error(rendered, slices)


def _layer_range(layer_range: str, focus_distances_m: Tensor, method: str) -> Tensor | None:
    """The layered renderer's planes: None (the predicted depth's own range) or each stack's focus
    range in diopters (B x 2), which the depth of a model that averages focus positions never leaves."""
    if layer_range not in ("depth", "focus"):
        raise ValueError(f"layer_range must be 'depth' or 'focus', not {layer_range!r}")
    if layer_range == "depth" or method != "layered":
        return None
    diopters = 1.0 / focus_distances_m.reshape(-1, focus_distances_m.shape[-1])
    return torch.stack([diopters.amin(dim=1), diopters.amax(dim=1)], dim=1)


def ssim(x: Tensor, y: Tensor, *, window: int = 7) -> Tensor:
    """Mean structural similarity of images in [0, 1] (uniform window), differentiable."""
    c1, c2 = 0.01**2, 0.03**2
    pad = window // 2

    def blur(t: Tensor) -> Tensor:
        return F.avg_pool2d(F.pad(t, (pad,) * 4, mode="reflect"), window, 1)

    mx, my = blur(x), blur(y)
    vx, vy, cxy = blur(x * x) - mx * mx, blur(y * y) - my * my, blur(x * y) - mx * my
    return (((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))).mean()


def reconstruction_error(rendered: Tensor, observed: Tensor, *, ssim_weight: float = 0.85) -> Tensor:
    """The usual photometric error: w (1 - SSIM) / 2 + (1 - w) L1, over B x N x C x H x W stacks."""
    flat_r, flat_o = rendered.flatten(0, 1), observed.flatten(0, 1)
    return ssim_weight * (1 - ssim(flat_r, flat_o)) / 2 + (1 - ssim_weight) * (flat_r - flat_o).abs().mean()


def coarse_all_in_focus(slices: Tensor, *, power: float = 8.0) -> Tensor:
    """A rough all-in-focus image from a stack (B x N x C x H x W): per-pixel blend of the slices
    weighted by local sharpness^power (Laplacian energy), without gradients."""
    with torch.no_grad():
        gray = slices.mean(dim=2, keepdim=True).flatten(0, 1)
        kernel = torch.tensor([[0.0, 1, 0], [1, -4, 1], [0, 1, 0]], dtype=slices.dtype, device=slices.device)
        lap = F.conv2d(F.pad(gray, (1, 1, 1, 1), mode="reflect"), kernel[None, None]).abs()
        energy = F.avg_pool2d(F.pad(lap, (3, 3, 3, 3), mode="reflect"), 7, 1).reshape(*slices.shape[:2], 1,
                                                                                       *slices.shape[-2:])
        weights = torch.softmax(power * torch.log(energy + 1e-6), dim=1)
        return (weights * slices).sum(dim=1)


def depth_in_metres(depth_diopters: Tensor, focal_length_mm, *, min_diopters: float = 1e-6) -> Tensor:
    """A predicted depth (B x 1 x H x W, diopters) in metres for the renderer: the diopters are
    clamped to [min_diopters, 0.99 / f] so that no point lies at infinity or inside the focal length.
    ``focal_length_mm`` is a float or a B tensor."""
    f_m = torch.as_tensor(focal_length_mm, dtype=depth_diopters.dtype, device=depth_diopters.device) * 1e-3
    max_diopters = (0.99 / f_m).reshape(-1, 1, 1, 1) if f_m.dim() else 0.99 / f_m
    return 1.0 / depth_diopters.clamp_min(min_diopters).minimum(max_diopters)


def _inverse_in_focus_range(depth_m: Tensor, focus_distances_m: Tensor) -> Tensor:
    """Inverse depth divided by each stack's focus span in diopters: a smoothness weight then means
    the same for a phone (a few diopters) and a microscope (tens of diopters)."""
    focus = focus_distances_m if focus_distances_m.dim() == 2 else focus_distances_m.expand(depth_m.shape[0], -1)
    diopters = 1.0 / focus
    span = (diopters.amax(dim=1) - diopters.amin(dim=1)).clamp_min(1e-6)
    return 1.0 / depth_m / span[:, None, None, None]


def self_supervised_loss(
    depth_m: Tensor,
    aif: Tensor,
    slices: Tensor,
    focus_distances_m: Tensor,
    *,
    focal_length_mm,
    f_number,
    pixel_pitch_um,
    coarse_aif_weight: float = 0.1,
    smoothness: float = 0.002,
    method: str = "per_pixel",
    psf: str = "gaussian",
    num_layers: int = 12,
    attention: Tensor | None = None,
    attention_weight: float = 0.0,
    render_aif: str = "predicted",
    layer_range: str = "depth",
    reconstruction_weight: float = 1.0,
) -> tuple[Tensor, dict[str, float]]:
    """Re-render the input stack from the prediction and compare (003).

    Args:
        depth_m: B x 1 x H x W predicted depth in metres.
        aif: B x C x H x W predicted all-in-focus image in [0, 1].
        slices: B x N x C x H x W the input stack.
        focus_distances_m: B x N focus distances in metres.
        focal_length_mm, f_number, pixel_pitch_um: the stack's camera (floats or B tensors).
        coarse_aif_weight: weight of the L1 pull of ``aif`` towards :func:`coarse_all_in_focus`.
        smoothness: weight of the edge-aware smoothness of inverse depth, measured in units of the
            stack's focus span (diopters / span), so that one weight serves every camera.
        method: renderer: ``per_pixel`` (fast; ignores occlusion, so it biases depth near edges)
            or ``layered`` (occlusion-aware, with ``num_layers`` layers; several times slower).
        psf: ``gaussian`` or ``disc`` (the PSF of a circular aperture).
        attention: B x N x H x W focus probabilities of a model whose depth is their expectation
            (AiFDepthNet, DAIF-Net), or None.
        attention_weight: weight of the L1 pull of the attention-fused slices sum_j a_j J_j towards
            the coarse all-in-focus image. A residual all-in-focus branch can satisfy the
            re-rendering with any attention; this term makes the attention itself select sharp
            slices (the depth-from-focus principle, from the stack alone), which the depth needs.
        render_aif: the sharp image the stack is re-rendered from: ``predicted`` (``aif``, as in 003)
            or ``coarse`` (:func:`coarse_all_in_focus` of the slices, without gradient). A predicted
            all-in-focus image and depth can settle together in a poor pair (a blurred image with
            depth pulled towards the middle re-renders the stack nearly as well); the fixed image
            leaves the depth alone to explain each slice's blur. ``aif`` is then trained by the
            ``coarse_aif_weight`` pull only.
        layer_range: planes of the layered renderer: ``depth`` (spanning the predicted depth, the
            renderer's default) or ``focus`` (spanning the stack's focus range). With ``depth`` the
            planes follow the prediction, so its nearest and farthest pixels get little gradient
            outwards; ``focus`` keeps the planes fixed, but with few layers their spacing biases the
            best-rendering depth (about 2 % of the span farther with 8 layers, docs/training.md).
        reconstruction_weight: weight of the re-rendering term (0: nothing is rendered).

    Returns:
        (loss, parts) with the value of each term for logging.
    """
    if render_aif not in ("predicted", "coarse"):
        raise ValueError(f"render_aif must be 'predicted' or 'coarse', not {render_aif!r}")
    target = coarse_all_in_focus(slices)
    if reconstruction_weight:
        reconstruction = aif_rerender_loss(depth_m, target if render_aif == "coarse" else aif, slices,
                                           focus_distances_m, focal_length_mm=focal_length_mm, f_number=f_number,
                                           pixel_pitch_um=pixel_pitch_um, method=method, psf=psf,
                                           num_layers=num_layers, layer_range=layer_range)
    else:  # no rendering at all (a warm-up on the other terms)
        reconstruction = slices.new_zeros(())
    coarse = (aif - target).abs().mean()
    smooth = edge_aware_smoothness(_inverse_in_focus_range(depth_m, focus_distances_m), aif)
    loss = reconstruction_weight * reconstruction + coarse_aif_weight * coarse + smoothness * smooth
    parts = {"reconstruction": reconstruction, "coarse_aif": coarse, "smoothness": smooth}
    if attention is not None and attention_weight:
        fused = (attention.unsqueeze(2) * slices).sum(dim=1)
        parts["attention_aif"] = (fused - target).abs().mean()
        loss = loss + attention_weight * parts["attention_aif"]
    return loss, {k: float(v.detach()) for k, v in parts.items()}
