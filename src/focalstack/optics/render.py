"""Differentiable defocus renderers (torch): an all-in-focus image + depth -> a focal stack.

Two renderers, each a function and an ``nn.Module`` twin, batched, device-agnostic, with
gradients to both the all-in-focus image and the depth map:

- **per-pixel** (:func:`render_defocus`, :class:`DefocusRenderer`): every source pixel spreads
  its light with its own PSF (a *scatter*, so total light is conserved). The PSF of any radius
  is the mixture of the two nearest pre-built kernel sizes ("levels") whose mixing weight matches
  the PSF's second moment exactly; one grouped convolution per level then renders all pixels.
  Fast and light; what the self-supervised loss uses. It ignores occlusion: at a depth edge
  a blurred background spreads over a sharp foreground. Every PSF here has a second moment
  proportional to its size squared (per axis: Gaussian sigma^2, disc R^2/4, the 9 x 9
  light-field grid 5 R^2/12), so the mixture's variance is right; its shape only approximates
  the PSF between levels. On white noise a plane's max error is ~1e-2 for R = 2.6 px for all
  three; the light field is the worst at large R (two grids of slightly different pitch: ~5e-2
  at 12 px, where the levels are 12.5 % apart, against ~5e-3 for the disc).
- **layered** (:func:`render_defocus_layered`, :class:`LayeredDefocusRenderer`): depth is split
  into soft layers (evenly spaced in inverse depth), each layer is blurred with its own PSF and
  layers are composited near to far with blurred-alpha transmittance, normalised by the
  accumulated alpha (occlusion-aware, after Hasinoff & Kutulakos 2007 and Ikoma et al. 2021).
  A blurred background cannot cover a sharp foreground edge, and no sharp background shows
  through a blurred foreground. Each layer gets the exact kernel of its own radius.

PSFs (:mod:`focalstack.optics.psf`): ``"gaussian"``, ``"disc"``, ``"lightfield"`` (9 x 9 views
refocused by bilinear shift-and-add: the layered renderer makes a plane exactly the mean of the
81 shifted views) or a 2-D array. Gaussian and light-field kernels are separable (two 1-D passes
when small).

Shapes: ``aif`` B x C x H x W (values in [0, 1]), ``depth_m`` B x 1 x H x W or B x H x W (metres),
``focus_distances_m`` B x N or N (metres); the result is B x N x C x H x W.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .psf import DEFAULT_SIGMA_PER_RADIUS, kernel_extent_px, psf_kernel
from .thin_lens import coc_radius_px

RENDERERS = ("per_pixel", "layered")
_EPS = 1e-6


def render_focal_stack(
    aif: Tensor,
    depth_m: Tensor,
    focus_distances_m: Tensor,
    *,
    focal_length_mm,
    f_number,
    pixel_pitch_um,
    method: str = "per_pixel",
    psf="gaussian",
    sigma_per_radius: float = DEFAULT_SIGMA_PER_RADIUS,
    num_layers: int = 24,
    inverse_depth_range=None,
) -> Tensor:
    """Render the focal stack a thin-lens camera would see of a scene.

    Args:
        aif: B x C x H x W all-in-focus image.
        depth_m: B x 1 x H x W (or B x H x W) depth in metres, > focal length.
        focus_distances_m: B x N or N focus distances in metres.
        focal_length_mm, f_number, pixel_pitch_um: floats, or tensors of shape B (one camera per
            scene).
        method: ``"per_pixel"`` or ``"layered"``.
        psf: ``"gaussian"``, ``"disc"``, ``"lightfield"`` (9 x 9 views refocused by shift-and-add) or a
            2-D array (custom PSF shape); see :mod:`focalstack.optics.psf`.
        sigma_per_radius: Gaussian sigma per CoC radius (0.5 matches the disc's second moment).
        num_layers: depth layers of the layered renderer.
        inverse_depth_range: the layered renderer's (far, near) planes in diopters, a pair or a
            B x 2 tensor (see :func:`render_defocus_layered`); default each scene's own range.

    Returns:
        B x N x C x H x W rendered slices.

    Example:
        >>> aif = torch.rand(1, 3, 32, 32)
        >>> depth = torch.full((1, 1, 32, 32), 1.0)
        >>> stack = render_focal_stack(aif, depth, torch.tensor([0.5, 1.0, 2.0]),
        ...                            focal_length_mm=4.4, f_number=1.8, pixel_pitch_um=1.4)
        >>> stack.shape, bool(torch.allclose(stack[0, 1], aif[0], atol=1e-4))
        (torch.Size([1, 3, 3, 32, 32]), True)
    """
    aif, depth_m, focus = _check_inputs(aif, depth_m, focus_distances_m)
    lens = {k: _per_batch(v, aif) for k, v in
            (("focal_length_mm", focal_length_mm), ("f_number", f_number), ("pixel_pitch_um", pixel_pitch_um))}
    if method == "per_pixel":
        radius = coc_radius_px(depth_m, focus_distance_m=focus[:, :, None, None], **lens)  # B x N x H x W
        return render_defocus(aif, radius, psf=psf, sigma_per_radius=sigma_per_radius)
    if method == "layered":
        return render_defocus_layered(aif, depth_m, focus, psf=psf, sigma_per_radius=sigma_per_radius,
                                      num_layers=num_layers, inverse_depth_range=inverse_depth_range, **lens)
    raise ValueError(f"unknown renderer {method!r}; use one of {', '.join(RENDERERS)}")


def render_defocus(aif: Tensor, radius_px: Tensor, *, psf="gaussian",
                   sigma_per_radius: float = DEFAULT_SIGMA_PER_RADIUS, level_step_px: float = 0.5) -> Tensor:
    """Per-pixel (scatter) defocus blur: each pixel spreads with the PSF of its own CoC radius.

    Args:
        aif: B x C x H x W image.
        radius_px: B x N x H x W circle-of-confusion radius in pixels per source pixel and
            slice (N = 1 for a single image), >= 0.
        psf, sigma_per_radius: as in :func:`render_focal_stack`.
        level_step_px: spacing of the kernel sizes that are mixed (finer = closer to a true
            per-pixel PSF; spacing grows by 12.5 % per level beyond 8 steps).

    Returns:
        B x N x C x H x W. Away from the borders the sum over pixels equals that of ``aif``.
    """
    if aif.dim() != 4 or radius_px.dim() != 4 or radius_px.shape[0] != aif.shape[0] \
            or radius_px.shape[-2:] != aif.shape[-2:]:
        raise ValueError(f"need aif B x C x H x W and radius B x N x H x W, got {tuple(aif.shape)} and "
                         f"{tuple(radius_px.shape)}")
    b, c, h, w = aif.shape
    n = radius_px.shape[1]
    size = radius_px.clamp_min(0) * (sigma_per_radius if isinstance(psf, str) and psf == "gaussian" else 1.0)
    levels = _levels(float(size.detach().max()), level_step_px)
    weights = _level_weights(size, torch.tensor(levels, dtype=aif.dtype, device=aif.device))  # B,N,L,H,W
    used = (weights.detach().amax(dim=(0, 3, 4)) > 0).nonzero().tolist()  # (slice, level) pairs with light
    extent = max(kernel_extent_px(psf, levels[lvl]) for _, lvl in used)
    out = aif.new_zeros(b, n, c, h, w)
    for chunk in _chunks(used, per_item=b * c * h * w):
        slice_index = torch.tensor([k for k, _ in chunk], device=aif.device)
        level_index = torch.tensor([lvl for _, lvl in chunk], device=aif.device)
        sources = weights[:, slice_index, level_index].unsqueeze(2) * aif[:, None]  # B, P, C, H, W
        kernels = [psf_kernel(psf, levels[lvl], kernel_radius_px=extent) for _, lvl in chunk]
        blurred = _grouped_blur(sources.reshape(b, -1, h, w), kernels, repeats=(1, c), psf=psf)
        out = out.index_add(1, slice_index, blurred.reshape(b, len(chunk), c, h, w))
    return out


def render_defocus_layered(aif: Tensor, depth_m: Tensor, focus_distances_m: Tensor, *, focal_length_mm,
                           f_number, pixel_pitch_um, psf="gaussian",
                           sigma_per_radius: float = DEFAULT_SIGMA_PER_RADIUS, num_layers: int = 24,
                           inverse_depth_range: tuple[float, float] | None = None) -> Tensor:
    """Occlusion-aware layered defocus rendering (see the module docstring).

    Args:
        aif: B x C x H x W; depth_m: B x 1 x H x W metres; focus_distances_m: B x N metres.
        focal_length_mm, f_number, pixel_pitch_um: floats or tensors of shape B.
        num_layers: soft depth layers, evenly spaced in inverse depth between each scene's
            nearest and farthest point; a pixel between two layers is split between them.
        inverse_depth_range: (far, near) diopters spanned by the layers instead of each scene's
            own range (the same layering for every scene; depth outside it is clamped), or a B x 2
            tensor with one pair per scene. Fixed planes matter for gradients: planes spanning the
            predicted depth's own range cannot move its nearest and farthest pixels outwards.

    Returns:
        B x N x C x H x W.
    """
    aif, depth_m, focus = _check_inputs(aif, depth_m, focus_distances_m)
    if num_layers < 2:
        raise ValueError(f"num_layers must be >= 2, got {num_layers}")
    b, c, h, w = aif.shape
    n = focus.shape[1]
    inverse = 1.0 / depth_m  # B,1,H,W diopters
    if inverse_depth_range is not None:  # a (far, near) pair, or one per scene (B x 2)
        bounds = torch.as_tensor(inverse_depth_range, dtype=aif.dtype, device=aif.device).detach()
        bounds = bounds.reshape(-1, 2).expand(b, 2)
        lo, hi = bounds.amin(dim=1), bounds.amax(dim=1)
        inverse = inverse.clamp(lo[:, None, None, None], hi[:, None, None, None])
        planes = _planes_between(lo, hi, num_layers)
    else:
        planes = _layer_planes(inverse.detach(), num_layers)  # B, D (near to far)
    alpha = _layer_weights(inverse[:, 0], planes)  # B, D, H, W
    lens = {k: _per_batch(v, aif) for k, v in
            (("focal_length_mm", focal_length_mm), ("f_number", f_number), ("pixel_pitch_um", pixel_pitch_um))}
    radius = coc_radius_px(1.0 / planes[:, None, :], focus_distance_m=focus[:, :, None],
                           **{k: v if isinstance(v, float) else v[..., 0] for k, v in lens.items()})  # B, N, D
    sizes = (radius * (sigma_per_radius if isinstance(psf, str) and psf == "gaussian" else 1.0)).detach()
    layers = torch.cat([alpha.unsqueeze(2) * aif[:, None], alpha.unsqueeze(2)], dim=2)  # B, D, C+1, H, W
    size_list = sizes.cpu().double().numpy()  # B, N, D
    extent = max(kernel_extent_px(psf, float(v)) for v in size_list.reshape(-1))
    state = [_Composite() for _ in range(n)]
    pairs = [(k, d) for k in range(n) for d in range(num_layers)]  # each slice's layers near to far
    for chunk in _chunks(pairs, per_item=b * (c + 1) * h * w):
        layer_index = torch.tensor([d for _, d in chunk], device=aif.device)
        x = layers[:, layer_index].transpose(0, 1).reshape(1, -1, h, w)  # (P, B, C+1) channels
        kernels = [psf_kernel(psf, float(size_list[i, k, d]), kernel_radius_px=extent) for k, d in chunk
                   for i in range(b)]
        # zero padding is exact here: colour and alpha lose the same light at the border and the
        # normalisation by the accumulated alpha cancels it (and it avoids copying a padded tensor)
        blurred = _grouped_blur(x, kernels, repeats=(1, c + 1), psf=psf, zero_pad=True)
        blurred = blurred.reshape(len(chunk), b, c + 1, h, w)
        for (k, _), layer in zip(chunk, blurred):
            state[k].add(layer[:, :c], layer[:, c:])
    return torch.stack([s.result() for s in state], dim=1)


class _Composite:
    """Near-to-far compositing of blurred layers: sum T colour / sum T alpha, T = prod (1 - alpha nearer)."""

    def __init__(self) -> None:
        self.numerator = self.denominator = 0.0
        self.transmittance = 1.0

    def add(self, colour: Tensor, alpha: Tensor) -> None:
        self.numerator = self.numerator + self.transmittance * colour
        self.denominator = self.denominator + self.transmittance * alpha
        self.transmittance = self.transmittance * (1.0 - alpha).clamp_min(0.0)

    def result(self) -> Tensor:
        return self.numerator / self.denominator.clamp_min(_EPS)


_MAX_ELEMENTS = 1 << 25  # elements of one blurred chunk (128 MiB in float32)


def _chunks(items: list, *, per_item: int) -> list[list]:
    """Split work so that one chunk's tensor stays within :data:`_MAX_ELEMENTS`."""
    size = max(1, _MAX_ELEMENTS // max(per_item, 1))
    return [items[i : i + size] for i in range(0, len(items), size)]


def _layer_planes(inverse: Tensor, num_layers: int) -> Tensor:
    """B x D inverse depths of the layer planes, near (large) to far (small), per scene."""
    lo = inverse.flatten(1).amin(dim=1)
    hi = inverse.flatten(1).amax(dim=1)
    hi = torch.maximum(hi, lo * 1.001 + 1e-6)  # a flat scene still gets distinct planes in float32
    return _planes_between(lo, hi, num_layers)


def _planes_between(lo: Tensor, hi: Tensor, num_layers: int) -> Tensor:
    """B x D planes evenly spaced from ``hi`` (near) to ``lo`` (far), each a B tensor of diopters."""
    steps = torch.linspace(0.0, 1.0, num_layers, dtype=lo.dtype, device=lo.device)
    return hi[:, None] - (hi - lo)[:, None] * steps[None, :]


def _layer_weights(inverse: Tensor, planes: Tensor) -> Tensor:
    """Triangular (linear-interpolation) weights of each pixel on the layer planes: B x D x H x W."""
    spacing = (planes[:, 0] - planes[:, 1])[:, None, None, None]
    distance = (inverse[:, None] - planes[:, :, None, None]).abs() / spacing
    return (1.0 - distance).clamp_min(0.0)


def _levels(max_size: float, step: float) -> list[float]:
    """Kernel sizes 0, step, ..., 8 step, then growing by 12.5 % per level, up to >= max_size."""
    levels = [i * step for i in range(9)]
    while levels[-1] < max_size:
        levels.append(levels[-1] * 1.125)
    cut = next((i for i, v in enumerate(levels) if v >= max_size), len(levels) - 1)
    return levels[: max(cut, 1) + 1]


def _level_weights(size: Tensor, levels: Tensor) -> Tensor:
    """Mixing weights on the levels such that the mixed PSF's second moment equals size^2.

    For size between levels a < b: weight t = (size^2 - a^2) / (b^2 - a^2) on b, 1 - t on a.
    """
    size = size.clamp(max=float(levels[-1]))
    index = torch.bucketize(size.detach(), levels[1:-1])  # which interval: levels[i] <= size < levels[i+1]
    lo, hi = levels[index], levels[index + 1]
    t = (size * size - lo * lo) / (hi * hi - lo * lo)
    weights = torch.zeros(*size.shape[:2], len(levels), *size.shape[2:], dtype=size.dtype, device=size.device)
    weights = weights.scatter(2, index.unsqueeze(2), (1.0 - t).unsqueeze(2))
    return weights.scatter_add(2, (index + 1).unsqueeze(2), t.unsqueeze(2))


def _grouped_blur(x: Tensor, kernels: list[np.ndarray], *, repeats: tuple[int, int], psf,
                  zero_pad: bool = False) -> Tensor:
    """Blur channel groups of x (B x G*K*R x H x W, ordered (G, K, R)) with the K kernels.

    ``repeats = (G, R)``: each kernel applies to R consecutive channels, and the (K, R) block
    repeats G times. Small Gaussian and light-field kernels (outer products of a 1-D row) run as
    two 1-D passes, small other kernels as a grouped 2-D convolution, large ones through the FFT
    (cost independent of the kernel size).
    """
    outer, inner = repeats
    k = torch.from_numpy(np.stack(kernels)).to(dtype=x.dtype, device=x.device)  # K, S, S
    radius = k.shape[-1] // 2
    separable = isinstance(psf, str) and psf in _SEPARABLE
    x = x if zero_pad else _pad(x, radius)
    pad = radius if zero_pad else 0
    # float64 convolutions have no fast CPU kernels; the FFT path is fast in any precision
    if radius > (_FFT_FROM_RADIUS_SEPARABLE if separable else _FFT_FROM_RADIUS) or x.dtype == torch.float64:
        return _fft_blur(x, k, outer=outer, inner=inner, pad=pad, radius=radius)
    groups = x.shape[1]
    if separable:
        rows = k.sum(dim=2)  # separable: the 1-D factor is the row sum of the outer product
        bank = rows[None, :, None].expand(outer, -1, inner, -1).reshape(groups, 1, 1, -1)
        x = F.conv2d(x, bank, groups=groups, padding=(0, pad))
        return F.conv2d(x, bank.transpose(2, 3), groups=groups, padding=(pad, 0))
    bank = k[None, :, None].expand(outer, -1, inner, -1, -1).reshape(groups, 1, *k.shape[-2:])
    return F.conv2d(x, bank.flip(-1, -2), groups=groups, padding=pad)  # flip: conv2d correlates, a PSF scatters


_SEPARABLE = ("gaussian", "lightfield")  # kernels that are the outer product of a symmetric 1-D row
_FFT_FROM_RADIUS = 3  # 2-D kernels wider than 7 x 7 go through the FFT
_FFT_FROM_RADIUS_SEPARABLE = 8


def _fft_blur(x: Tensor, k: Tensor, *, outer: int, inner: int, pad: int, radius: int) -> Tensor:
    """Convolution (PSF scatter) by FFT; ``x`` already padded by ``radius`` unless ``pad``."""
    if pad:
        x = F.pad(x, (pad,) * 4)
    b, groups, hp, wp = x.shape
    # a 5-smooth transform size (zeros beyond the padded image) is several times faster than an awkward
    # one such as 2 x 151, and changes nothing in the kept region: the kernel spans at most the padding
    size = (_fft_size(hp), _fft_size(wp))
    spectrum = torch.fft.rfft2(x, s=size)
    kernel = torch.zeros(k.shape[0], *size, dtype=x.dtype, device=x.device)
    kernel[:, : 2 * radius + 1, : 2 * radius + 1] = k
    kernel = torch.roll(kernel, shifts=(-radius, -radius), dims=(1, 2))  # centre the kernel at (0, 0)
    kernel_spectrum = torch.fft.rfft2(kernel)  # K, hp, wp/2+1
    bank = kernel_spectrum[None, :, None].expand(outer, -1, inner, -1, -1).reshape(groups, *kernel_spectrum.shape[-2:])
    out = torch.fft.irfft2(spectrum * bank, s=size)
    return out[..., radius : hp - radius, radius : wp - radius]


def _fft_size(n: int) -> int:
    """The smallest 5-smooth integer (2^a 3^b 5^c) >= n: sizes the FFT computes fastest."""
    best = 1 << max(n - 1, 0).bit_length()
    p5 = 1
    while p5 < best:
        p35 = p5
        while p35 < best:
            candidate = p35
            while candidate < n:
                candidate *= 2
            best = min(best, candidate)
            p35 *= 3
        p5 *= 5
    return best


def _pad(x: Tensor, radius: int) -> Tensor:
    if radius == 0:
        return x
    mode = "reflect" if radius < min(x.shape[-2:]) else "replicate"
    return F.pad(x, (radius,) * 4, mode=mode)


def _check_inputs(aif: Tensor, depth_m: Tensor, focus: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    if aif.dim() != 4:
        raise ValueError(f"aif must be B x C x H x W, got shape {tuple(aif.shape)}")
    if depth_m.dim() == 3:
        depth_m = depth_m.unsqueeze(1)
    if depth_m.shape != (aif.shape[0], 1, *aif.shape[-2:]):
        raise ValueError(f"depth must be B x 1 x H x W matching aif {tuple(aif.shape)}, got {tuple(depth_m.shape)}")
    focus = torch.as_tensor(focus, dtype=aif.dtype, device=aif.device)
    if focus.dim() == 1:
        focus = focus[None].expand(aif.shape[0], -1)
    if focus.dim() != 2 or focus.shape[0] != aif.shape[0]:
        raise ValueError(f"focus distances must be N or B x N, got shape {tuple(focus.shape)}")
    if not (torch.isfinite(depth_m).all() and (depth_m > 0).all()):
        raise ValueError("depth must be finite and positive (metres)")
    return aif, depth_m.to(aif.dtype), focus


def _per_batch(value, like: Tensor) -> Tensor | float:
    """A float stays a float; a tensor of shape B becomes B x 1 x 1 x 1 to broadcast."""
    if isinstance(value, Tensor):
        if value.dim() == 0:
            return float(value)
        return value.to(dtype=like.dtype, device=like.device).reshape(-1, 1, 1, 1)
    if not (isinstance(value, (int, float)) and value > 0 and math.isfinite(value)):
        raise ValueError(f"camera parameters must be positive numbers, got {value!r}")
    return float(value)


class DefocusRenderer(nn.Module):
    """``nn.Module`` twin of :func:`render_focal_stack` (per-pixel or layered).

    Example:
        >>> renderer = DefocusRenderer(method="layered", psf="disc")
        >>> out = renderer(torch.rand(2, 3, 24, 24), torch.full((2, 1, 24, 24), 0.8), torch.tensor([0.5, 1.5]),
        ...                focal_length_mm=4.4, f_number=1.8, pixel_pitch_um=1.4)
        >>> tuple(out.shape)
        (2, 2, 3, 24, 24)
    """

    def __init__(self, *, method: str = "per_pixel", psf="gaussian",
                 sigma_per_radius: float = DEFAULT_SIGMA_PER_RADIUS, num_layers: int = 24) -> None:
        super().__init__()
        if method not in RENDERERS:
            raise ValueError(f"unknown renderer {method!r}; use one of {', '.join(RENDERERS)}")
        self.method, self.psf, self.sigma_per_radius, self.num_layers = method, psf, sigma_per_radius, num_layers

    def forward(self, aif: Tensor, depth_m: Tensor, focus_distances_m: Tensor, *, focal_length_mm, f_number,
                pixel_pitch_um) -> Tensor:
        return render_focal_stack(aif, depth_m, focus_distances_m, focal_length_mm=focal_length_mm,
                                  f_number=f_number, pixel_pitch_um=pixel_pitch_um, method=self.method,
                                  psf=self.psf, sigma_per_radius=self.sigma_per_radius,
                                  num_layers=self.num_layers)


class LayeredDefocusRenderer(DefocusRenderer):
    """``nn.Module`` twin of :func:`render_defocus_layered`."""

    def __init__(self, *, psf="gaussian", sigma_per_radius: float = DEFAULT_SIGMA_PER_RADIUS,
                 num_layers: int = 24) -> None:
        super().__init__(method="layered", psf=psf, sigma_per_radius=sigma_per_radius, num_layers=num_layers)
