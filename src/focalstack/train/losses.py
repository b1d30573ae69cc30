"""Training losses of the three supervision regimes, built on :mod:`focalstack.optics`.

Each loss is an object that holds its settings (built from the ``loss`` section of a
:class:`~focalstack.train.config.TrainConfig`, see :func:`~focalstack.train.objective.losses_from_config`)
and is called with tensors only:

- :class:`DepthLoss`: depth supervision over the model's scales, weights 0.3, 0.5, 0.7, 1.0
  (Won & Jeon, "Learning Depth from Focus in the Wild", ECCV 2022, Eq. 3: L2; L1 as in AiFDepthNet,
  Wang et al., "Bridging Unsupervised and Supervised Depth from Focus via All-in-Focus Supervision",
  ICCV 2021), on valid pixels, optionally with a gradient-matching term.
- :class:`AllInFocusLoss`: all-in-focus supervision (the loss of AiFDepthNet as written in the
  supplement of Won & Jeon, ECCV 2022, Eq. 4-6): per scale, L1 to the true all-in-focus image +
  0.002 x edge-aware smoothness of the depth with a = 150; optionally a re-rendering term.
- :class:`SelfSupervisedLoss`: fully self-supervised (Si et al., "Fully Self-Supervised Depth
  Estimation from Defocus Clue", CVPR 2023): every input slice is re-rendered from the predicted
  depth and all-in-focus image through the thin-lens renderer with the stack's camera, and
  compared with the input (SSIM + L1); plus the terms that make it converge: the all-in-focus
  image is pulled towards a coarse all-in-focus image fused from the sharpest slices, and depth is
  smooth where the image is.
- :class:`TeacherLoss`: a teacher's depth as a confidence-weighted target (self-training).
- :class:`Rendering`: the renderer every re-rendering term uses (:func:`focalstack.optics.render_focal_stack`).

Every loss takes B x ... tensors and returns a scalar tensor (with a dict of its parts where it
has several); none re-implements optics. :func:`depth_loss` and :func:`aif_loss` are the functional
forms of the first two.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor

from ..optics.render import render_focal_stack

SCALE_WEIGHTS = (0.3, 0.5, 0.7, 1.0)


def _scale_weights(count: int) -> tuple[float, ...]:
    """The paper's weights for four scales; for fewer scales the last ``count`` of them."""
    return SCALE_WEIGHTS[-count:] if count <= len(SCALE_WEIGHTS) else (1.0,) * count


def _check_weights(owner: object, *names: str) -> None:
    for name in names:
        if getattr(owner, name) < 0:
            raise ValueError(f"{type(owner).__name__}.{name} must be >= 0, got {getattr(owner, name)}")


# --------------------------------------------------------------------------- depth
def depth_loss(depth_scales: list[Tensor], target: Tensor, valid: Tensor | None = None, *, norm: str = "l2",
               gradient: float = 0.0) -> Tensor:
    """Weighted sum over scales of the mean L2 (or L1) depth error on valid pixels (Won & Jeon, ECCV 2022,
    Eq. 3).

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


@dataclass(frozen=True)
class DepthLoss:
    """The depth regime's loss, :func:`depth_loss` with its settings.

    Attributes:
        norm: ``l2`` or ``l1``.
        gradient: weight of the gradient-matching term (0: off).

    Example:
        >>> target = torch.zeros(1, 1, 8, 8)
        >>> float(DepthLoss(norm="l1")([target + 1.0], target))
        1.0
    """

    norm: str = "l2"
    gradient: float = 0.0

    def __post_init__(self) -> None:
        if self.norm not in ("l1", "l2"):
            raise ValueError(f"DepthLoss.norm must be 'l1' or 'l2', not {self.norm!r}")
        _check_weights(self, "gradient")

    def __call__(self, depth_scales: list[Tensor], target: Tensor, valid: Tensor | None = None) -> Tensor:
        """``depth_scales``: coarse to fine, each B x 1 x H x W; ``target`` B x 1 x H x W in the same unit;
        ``valid`` B x 1 x H x W bool (default every pixel)."""
        return depth_loss(depth_scales, target, valid, norm=self.norm, gradient=self.gradient)


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
    """mean exp(-a sum_c |dI/dx|) |dD/dx| + exp(-a sum_c |dI/dy|) |dD/dy| (Won & Jeon, ECCV 2022, supplement Eq. 6)."""
    dx_d = (depth[..., :, 1:] - depth[..., :, :-1]).abs()
    dy_d = (depth[..., 1:, :] - depth[..., :-1, :]).abs()
    dx_i = (image[..., :, 1:] - image[..., :, :-1]).abs().sum(dim=1, keepdim=True)
    dy_i = (image[..., 1:, :] - image[..., :-1, :]).abs().sum(dim=1, keepdim=True)
    return (torch.exp(-a * dx_i) * dx_d).mean() + (torch.exp(-a * dy_i) * dy_d).mean()



# --------------------------------------------------------------------------- rendering
@dataclass(frozen=True)
class Rendering:
    """The renderer of the re-rendering terms: a depth map (metres) and a sharp image through the thin
    lens into a focal stack (:func:`focalstack.optics.render_focal_stack`).

    Attributes:
        renderer: ``per_pixel`` (fast; ignores occlusion, so it biases depth near edges) or ``layered``
            (occlusion-aware, with ``layers`` layers; several times slower).
        psf: ``gaussian`` or ``disc`` (the PSF of a circular aperture).
        layers: layers of the layered renderer (>= 2).
        layer_range: planes of the layered renderer: ``depth`` (spanning the predicted depth, the
            renderer's default) or ``focus`` (spanning the stack's focus range). With ``depth`` the
            planes follow the prediction, so its nearest and farthest pixels get little gradient
            outwards; ``focus`` keeps the planes fixed, but with few layers their spacing biases the
            best-rendering depth (about 2 % of the span farther with 8 layers).
    """

    renderer: str = "per_pixel"
    psf: str = "gaussian"
    layers: int = 12
    layer_range: str = "depth"

    def __post_init__(self) -> None:
        if self.renderer not in ("per_pixel", "layered") or self.psf not in ("gaussian", "disc"):
            raise ValueError(f"Rendering needs renderer 'per_pixel' or 'layered' and psf 'gaussian' or 'disc', "
                             f"not {self.renderer!r}, {self.psf!r}")
        if self.layer_range not in ("depth", "focus"):
            raise ValueError(f"layer_range must be 'depth' or 'focus', not {self.layer_range!r}")
        if self.layers < 2:
            raise ValueError(f"Rendering.layers must be >= 2, got {self.layers}")

    def render(self, image: Tensor, depth_m: Tensor, focus_distances_m: Tensor, *, focal_length_mm, f_number,
               pixel_pitch_um) -> Tensor:
        """The B x N x C x H x W stack of ``image`` (B x C x H x W in [0, 1]) at ``depth_m`` (B x 1 x H x W,
        metres) focused at ``focus_distances_m`` (B x N); the lens values are floats or B tensors."""
        return render_focal_stack(image, depth_m, focus_distances_m, focal_length_mm=focal_length_mm,
                                  f_number=f_number, pixel_pitch_um=pixel_pitch_um, method=self.renderer,
                                  psf=self.psf, num_layers=self.layers,
                                  inverse_depth_range=self._planes(focus_distances_m))

    def error(self, depth_m: Tensor, image: Tensor, slices: Tensor, focus_distances_m: Tensor, *, focal_length_mm,
              f_number, pixel_pitch_um) -> Tensor:
        """:func:`reconstruction_error` between ``slices`` (B x N x C x H x W) and their re-rendering from
        ``image`` and ``depth_m`` (see :meth:`render`)."""
        rendered = self.render(image, depth_m, focus_distances_m, focal_length_mm=focal_length_mm,
                               f_number=f_number, pixel_pitch_um=pixel_pitch_um)
        return reconstruction_error(rendered, slices)

    def _planes(self, focus_distances_m: Tensor) -> Tensor | None:
        """The layered renderer's planes: None (the predicted depth's own range) or each stack's focus
        range in diopters (B x 2), which the depth of a model that averages focus positions never leaves."""
        if self.layer_range == "depth" or self.renderer != "layered":
            return None
        diopters = 1.0 / focus_distances_m.reshape(-1, focus_distances_m.shape[-1])
        return torch.stack([diopters.amin(dim=1), diopters.amax(dim=1)], dim=1)


# --------------------------------------------------------------------------- all-in-focus
def aif_loss(aif_scales: list[Tensor], depth_scales: list[Tensor], target_aif: Tensor, *,
             smoothness: float = 0.002, a: float = 150.0) -> Tensor:
    """sum_i w_i (||AiF_i - AiF_gt||_1 + 0.002 L_smooth(D_i, AiF_i)) (Won & Jeon, ECCV 2022, supplement
    Eq. 4-6, the loss of AiFDepthNet, Wang et al., ICCV 2021)."""
    total = target_aif.new_zeros(())
    for weight, aif, depth in zip(_scale_weights(len(aif_scales)), aif_scales, depth_scales):
        total = total + weight * ((aif - target_aif).abs().mean() + smoothness * edge_aware_smoothness(depth, aif, a=a))
    return total


@dataclass(frozen=True)
class AllInFocusLoss:
    """The all-in-focus regime's loss: :func:`aif_loss`, plus ``rerender`` x the re-rendering error of every
    input slice rendered from the *true* all-in-focus image and the predicted depth.

    The re-rendering is an addition to the papers' loss, which has only the L1 to the true all-in-focus
    image: that L1 is blind to depth wherever two slices fuse to the same image (textureless areas) and
    prefers the single sharpest slice, so its depth snaps to the slice positions; the defocus of every
    slice, rendered from the truth, also measures depth between slices. No depth is used.

    Attributes:
        smoothness: weight of the edge-aware smoothness of depth.
        edge_a: its edge sharpness ``a``.
        rerender: weight of the re-rendering term (0: off).
        rendering: the renderer of that term.
    """

    smoothness: float = 0.002
    edge_a: float = 150.0
    rerender: float = 0.0
    rendering: Rendering = field(default_factory=Rendering)

    def __post_init__(self) -> None:
        _check_weights(self, "smoothness", "rerender")

    def __call__(self, aif_scales: list[Tensor], depth_scales: list[Tensor], target_aif: Tensor, *,
                 depth_m: Tensor | None = None, slices: Tensor | None = None,
                 focus_distances_m: Tensor | None = None, focal_length_mm=None, f_number=None,
                 pixel_pitch_um=None) -> tuple[Tensor, dict[str, float]]:
        """The loss and its parts.

        Args:
            aif_scales: predicted all-in-focus images, coarse to fine, each B x C x H x W in [0, 1].
            depth_scales: the depths of the same scales (any unit; the papers' normalised one), B x 1 x H x W.
            target_aif: B x C x H x W true all-in-focus image.
            depth_m, slices, focus_distances_m, focal_length_mm, f_number, pixel_pitch_um: the final depth
                (B x 1 x H x W, metres), the input slices (B x N x C x H x W), focus distances (B x N, metres)
                and lens (floats or B tensors) of the re-rendering term; needed only with ``rerender``.
        """
        loss = aif_loss(aif_scales, depth_scales, target_aif, smoothness=self.smoothness, a=self.edge_a)
        parts = {"aif": float(loss.detach())}
        if self.rerender:
            if depth_m is None or slices is None or focus_distances_m is None:
                raise ValueError("AllInFocusLoss with rerender needs depth_m, slices and focus_distances_m")
            rerender = self.rendering.error(depth_m, target_aif, slices, focus_distances_m,
                                            focal_length_mm=focal_length_mm, f_number=f_number,
                                            pixel_pitch_um=pixel_pitch_um)
            loss = loss + self.rerender * rerender
            parts["rerender"] = float(rerender.detach())
        return loss, parts


# --------------------------------------------------------------------------- self-supervised
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


@dataclass(frozen=True)
class SelfSupervisedLoss:
    """Re-render the input stack from the prediction and compare (Si et al., CVPR 2023), plus the terms that
    make it converge.

    Attributes:
        reconstruction: weight of the re-rendering term (0: nothing is rendered).
        coarse_aif: weight of the L1 pull of the predicted all-in-focus image towards
            :func:`coarse_all_in_focus`.
        smoothness: weight of the edge-aware smoothness of inverse depth, measured in units of the
            stack's focus span (diopters / span), so that one weight serves every camera.
        attention: weight of the L1 pull of the attention-fused slices sum_j a_j J_j towards the coarse
            all-in-focus image. A residual all-in-focus branch can satisfy the re-rendering with any
            attention; this term makes the attention itself select sharp slices (the depth-from-focus
            principle, from the stack alone), which the depth needs.
        render_aif: the sharp image the stack is re-rendered from: ``predicted`` (the model's, as in Si
            et al.) or ``coarse`` (:func:`coarse_all_in_focus` of the slices, without gradient). A predicted
            all-in-focus image and depth can settle together in a poor pair (a blurred image with depth
            pulled towards the middle re-renders the stack nearly as well); the fixed image leaves the
            depth alone to explain each slice's blur. The all-in-focus output is then trained by the
            ``coarse_aif`` pull only.
        rendering: the renderer.

    Example (the true depth and image of a rendered stack re-render it exactly):
        >>> aif, depth = torch.rand(1, 3, 32, 32), torch.full((1, 1, 32, 32), 0.8)
        >>> focus, lens = torch.tensor([[0.5, 0.8, 2.0]]), dict(focal_length_mm=4.4, f_number=1.8, pixel_pitch_um=1.4)
        >>> loss = SelfSupervisedLoss(coarse_aif=0.0, smoothness=0.0)
        >>> value, parts = loss(depth, aif, Rendering().render(aif, depth, focus, **lens), focus, **lens)
        >>> parts["reconstruction"] < 1e-6
        True
    """

    reconstruction: float = 1.0
    coarse_aif: float = 0.1
    smoothness: float = 0.002
    attention: float = 0.0
    render_aif: str = "predicted"
    rendering: Rendering = field(default_factory=Rendering)

    def __post_init__(self) -> None:
        if self.render_aif not in ("predicted", "coarse"):
            raise ValueError(f"render_aif must be 'predicted' or 'coarse', not {self.render_aif!r}")
        _check_weights(self, "reconstruction", "coarse_aif", "smoothness", "attention")

    def __call__(self, depth_m: Tensor, aif: Tensor, slices: Tensor, focus_distances_m: Tensor, *, focal_length_mm,
                 f_number, pixel_pitch_um, probabilities: Tensor | None = None) -> tuple[Tensor, dict[str, float]]:
        """The loss and the value of each term (for logging).

        Args:
            depth_m: B x 1 x H x W predicted depth in metres.
            aif: B x C x H x W predicted all-in-focus image in [0, 1].
            slices: B x N x C x H x W the input stack.
            focus_distances_m: B x N focus distances in metres.
            focal_length_mm, f_number, pixel_pitch_um: the stack's camera (floats or B tensors).
            probabilities: B x N x H x W focus probabilities of a model whose depth is their expectation
                (AiFDepthNet, DAIF-Net), for the ``attention`` term; or None.
        """
        lens = {"focal_length_mm": focal_length_mm, "f_number": f_number, "pixel_pitch_um": pixel_pitch_um}
        target = coarse_all_in_focus(slices)
        if self.reconstruction:
            image = target if self.render_aif == "coarse" else aif
            reconstruction = self.rendering.error(depth_m, image, slices, focus_distances_m, **lens)
        else:  # no rendering at all (a warm-up on the other terms)
            reconstruction = slices.new_zeros(())
        coarse = (aif - target).abs().mean()
        smooth = edge_aware_smoothness(_inverse_in_focus_range(depth_m, focus_distances_m), aif)
        loss = self.reconstruction * reconstruction + self.coarse_aif * coarse + self.smoothness * smooth
        parts = {"reconstruction": reconstruction, "coarse_aif": coarse, "smoothness": smooth}
        if probabilities is not None and self.attention:
            fused = (probabilities.unsqueeze(2) * slices).sum(dim=1)
            parts["attention_aif"] = (fused - target).abs().mean()
            loss = loss + self.attention * parts["attention_aif"]
        return loss, {k: float(v.detach()) for k, v in parts.items()}


# --------------------------------------------------------------------------- teacher
@dataclass(frozen=True)
class TeacherLoss:
    """A teacher's depth as target: ``weight`` x the confidence-weighted L1 distance of student and teacher,
    plus ``gradient`` x their :func:`gradient_matching` (which passes on the teacher's smoothness: pixel-scale
    noise costs Bump, but little L1).

    Attributes:
        weight: weight of the L1 term.
        gradient: weight of the gradient-matching term (0: off).
    """

    weight: float = 1.0
    gradient: float = 0.0

    def __post_init__(self) -> None:
        _check_weights(self, "weight", "gradient")

    def __call__(self, student: Tensor, teacher: Tensor, confidence: Tensor) -> tuple[Tensor, dict[str, float]]:
        """``student``, ``teacher``: B x 1 x H x W depths in one unit (the trainer's normalised inverse
        depth); ``confidence``: B x 1 x H x W teacher confidence (the L1 term's per-pixel weight)."""
        pseudo = (confidence * (student - teacher).abs()).sum() / confidence.sum().clamp_min(1e-6)
        loss, parts = self.weight * pseudo, {"pseudo": float(pseudo.detach())}
        if self.gradient:
            matching = gradient_matching(student, teacher)
            loss = loss + self.gradient * matching
            parts["pseudo_gradient"] = float(matching.detach())
        return loss, parts
