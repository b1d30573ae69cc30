"""Depth network of "Learning Depth from Focus in the Wild" (Won & Jeon, ECCV 2022), without the alignment network.

Papers: the main paper (Sec. 3.2-3.3, Fig. 5, Fig. 11, Table 5, implementation details) and its supplement
(Sec. 1-2). The focal stack is a volume channels x N x H x W (colour,
slices, rows, columns) and the network runs in three stages:

1. Feature extraction (Sec. 3.2): a dilated convolution, then three levels of SRD (sharp region detection: a 2D
   ResNet block per slice plus an attention score from 3D convolutions over neighbouring slices and a ReLU) joined
   by EFD (effective focal downsampling), giving the pyramid H/2^L x W/2^L x N x C*2^L, L = 0, 1, 2 (C = 8).
2. Multi-scale aggregation (Sec. 3.3): average pools of 2x2, 4x4 and 8x8 of the last pyramid level, a ResBlock on
   each, embedded by the encoder and aggregated by the decoder of one hourglass.
3. Refinement (Sec. 3.3): three hourglasses, coarse to fine; before each, a transposed convolution brings the volume
   to the next pyramid level, where it is concatenated with that level's features.

Every stage ends in focus logits K_i (B x N x h x w, upsampled to full size), i = 1..4 coarse to fine (the depth
loss weights 0.3, 0.5, 0.7, 1.0 of the paper's Eq. 3 apply to them in that order):

    D_i   = sum_j P_ij F_j,        P_ij     = softplus(K_ij) / sum_j softplus(K_ij)     (suppl. Eq. 1)
    AiF_i = sum_j P^AiF_ij I_j,    P^AiF_ij = exp(K_ij) / sum_j exp(K_ij)               (suppl. Eq. 2-3)

Any N >= 2 works, also N at test time different from training: slices interact only through convolutions along the
slice axis with zero padding (kernel size 3) and pooling that never strides over slices; no layer's size depends on
N. Sizes are padded to a multiple of 32 (the coarsest volume is at 1/32).

Choices where the paper is silent (resolved by reading the authors' public code, wcy199705/DfFintheWild, and the
parameter counts of the paper; nothing is copied from it):

- Initial convolution: 9x9 per slice, dilation 2 (17x17 footprint), C = 8 channels, then batch norm and ReLU.
- SRD: the per-slice ResNet block is two 3x3 convolutions with batch norm and an identity shortcut; the attention
  is a 3-tap convolution over slices, ReLU, a 1x1x1 convolution, ReLU (no batch norm), added to the block's output.
- EFD: the paper's text describes 2D max-pooling followed by a 3D convolution, but Table 5 lists "max-pooling + 3D
  conv" as a *replacement* of EFD, the introduction says EFD combines "a stride convolution and a 3D convolution with
  max-pooling", and the paper's 0.067M feature-extraction parameters are only reached with both branches. So the
  default ``efd="efd"`` sums a strided 3x3x3 convolution and max-pool(2x2) -> 3x3x3 convolution (each with batch
  norm), then ReLU. The Table 5 / Fig. 11 replacements: ``"maxpool3d"`` (2D max-pool -> 3D conv), ``"avgpool3d"``
  (2D average pool -> 3D conv), ``"strided"`` (strided 3D conv), ``"pool3d"`` (3D max-pool over 3 slices x 2 x 2,
  stride 1 over slices, -> 3D conv; the 3D conv changes the channels, as in the other replacements).
- SRD replacements (Table 5, Fig. 11 a-b): ``srd="resnet2d"`` (the per-slice block alone) and ``"resnet3d"`` (a
  ResNet block of two 3x3x3 convolutions).
- Aggregation ResBlock: two conv-BN-ReLU that set the width (4C at the 2x2 pool, 8C at 4x4 and 8x8), then a
  residual pair. Hourglass encoder: strided conv, concatenation with the next coarser pooled scale, two convs;
  decoder: transposed convs with 1x1x1 skip projections.
- Refinement hourglasses (widths 4C, 2C, C at H/4, H/2, H): fuse the concatenation with a conv, two stride-2
  levels, transposed convs back; as in PSMNet-style stacked hourglasses, each one adds the previous hourglass's
  output and its fused input (both live at this hourglass's inner resolution) to its own inner volumes. A
  two-conv lift to 8C precedes the first transposed convolution; hourglass outputs are added to their input volume.
- Heads: the aggregation output goes through conv-BN-ReLU + 3x3x3 conv to one logit per slice (counted with the
  refinement, which then matches the paper's 1.067M); the refinement levels use a 1x1x1 conv. Logits are upsampled
  bilinearly to full size before the normalisations (Eq. 1-3); the softplus sum is clamped at 1e-8.
- The focus positions F_j are the stack's positions normalised to [0, 1] (see :mod:`.base`).
- Grey stacks are repeated to 3 channels; the all-in-focus image is a blend of the input slices themselves.

Parameters (``python -m focalstack.models.dffwild``, :func:`parameter_breakdown`), paper in brackets: feature
extraction 66,504 (0.067M), multi-scale aggregation 2,883,328 (2.883M), refinement 1,067,144 (1.067M), total
4,016,976 (4.0M without the 0.195M alignment network). ``dffwild_light`` (C = 3): 9,909 + 406,128 + 150,699 = 0.57M.

CPU execution (the same mathematics up to float rounding; on other devices every layer is PyTorch's ordinary one):

- Volumes are kept in ``channels_last_3d`` memory, where oneDNN's 3D convolutions run 2-3x faster than in the default
  layout; per-slice pooling runs as 2D pooling on a free (B N) x C x H x W view of it.
- Convolutions call oneDNN directly (:class:`Conv3d`): PyTorch's dispatcher sends batch-1 volumes with few channels
  to a reference kernel ~10x slower. Transposed convolutions on such small volumes run as one oneDNN convolution over
  the four sub-pixel phases (:func:`upsampling_transposed_conv`).
- In eval mode batch norm is folded into the convolution weights; ReLUs and residual sums run in place where autograd
  allows; a convolution of a concatenation is computed as a sum of convolutions of its parts (no concatenated copy).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .base import DepthOutput, FocalStackNet
from .registry import register_model

_CL3 = torch.channels_last_3d
SRD_KINDS = ("srd", "resnet2d", "resnet3d")
EFD_KINDS = ("efd", "maxpool3d", "avgpool3d", "strided", "pool3d")
_PER_SLICE = ((1, 3, 3), (0, 1, 1))  # kernel, padding of a 2D convolution applied to every slice


class Conv3d(nn.Conv3d):
    """``nn.Conv3d`` that on CPU runs oneDNN directly.

    PyTorch's CPU heuristic sends batch-1 volumes whose B * C * N * H is small (e.g. 8 channels, 5 slices of 256 rows)
    to a reference kernel about 10x slower than oneDNN; the result is the same up to rounding.
    """

    def _conv_forward(self, x: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
        if _onednn(x):
            return torch.mkldnn_convolution(x, weight, bias, self.padding, self.stride, self.dilation, self.groups)
        return super()._conv_forward(x, weight, bias)


class ConvBn(nn.Module):
    """3D (or transposed 3D) convolution, batch norm, optional ReLU; BN is folded into the weights in eval mode.

    Input and output are B x C x N x H x W; a transposed convolution (kernel 3, stride (1, 2, 2), padding 1) doubles
    H and W.
    """

    def __init__(self, cin: int, cout: int, kernel=3, stride=1, padding=1, dilation=1, *, relu: bool = True,
                 transposed: bool = False) -> None:
        super().__init__()
        if transposed:
            self.conv = nn.ConvTranspose3d(cin, cout, 3, (1, 2, 2), 1, output_padding=(0, 1, 1), bias=False)
        else:
            self.conv = Conv3d(cin, cout, kernel, stride, padding, dilation=dilation, bias=False)
        self.bn = nn.BatchNorm3d(cout)
        self.relu, self.transposed = relu, transposed

    def forward(self, x: Tensor | tuple[Tensor, ...]) -> Tensor:
        """x: B x Cin x N x H x W, or a tuple of volumes that make Cin channels together (their concatenation)."""
        if self.training:
            y = self.bn(self._convolve(x, self.conv.weight, None))
        else:
            bn = self.bn
            scale = bn.weight * torch.rsqrt(bn.running_var + bn.eps)
            shape = (1, -1, 1, 1, 1) if self.transposed else (-1, 1, 1, 1, 1)
            y = self._convolve(x, self.conv.weight * scale.view(shape), bn.bias - bn.running_mean * scale)
        return y.relu_() if self.relu else y

    def _convolve(self, x: Tensor | tuple[Tensor, ...], weight: Tensor, bias: Tensor | None) -> Tensor:
        if self.transposed:
            return upsampling_transposed_conv(x, weight, bias)
        if isinstance(x, Tensor):
            return self.conv._conv_forward(x, weight, bias)
        # conv(cat(x_1, x_2, ...), W) = conv(x_1, W_1) + conv(x_2, W_2) + ...: no concatenated copy
        parts = weight.split([part.shape[1] for part in x], dim=1)
        y = self.conv._conv_forward(x[0], parts[0].contiguous(), bias)
        for part, part_weight in zip(x[1:], parts[1:]):
            y = y.add_(self.conv._conv_forward(part, part_weight.contiguous(), None))
        return y


def upsampling_transposed_conv(x: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
    """``F.conv_transpose3d(x, weight, bias, stride=(1, 2, 2), padding=1, output_padding=(0, 1, 1))``.

    x: B x Cin x N x H x W; weight: Cin x Cout x 3 x 3 x 3; returns B x Cout x N x 2H x 2W.
    PyTorch's CPU dispatcher gives a transposed convolution to oneDNN only when B > 1 or B * Cin * N * H > 20480
    (ATen's ``use_mkldnn``); below that a reference kernel ~7x slower runs, so small volumes take the sub-pixel form
    instead: one oneDNN convolution computing the four output phases, interleaved into the 2H x 2W grid.
    """
    if _onednn(x) and x.shape[0] == 1 and x.shape[:4].numel() <= 20480:
        return _subpixel_transposed_conv(x, weight, bias)
    y = F.conv_transpose3d(x, weight, bias, (1, 2, 2), 1, (0, 1, 1))
    return y.contiguous(memory_format=_CL3 if x.is_contiguous(memory_format=_CL3) else torch.contiguous_format)


def _subpixel_transposed_conv(x: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
    """The transposed convolution as a 3 x 2 x 2 convolution with 4 Cout outputs (the phases), then interleaved."""
    b, _, n, h, w = x.shape
    cout = weight.shape[1]
    phases = torch.mkldnn_convolution(x, _subpixel_kernel(weight), None if bias is None else bias.repeat(4),
                                      (1, 1, 1), (1, 1, 1), (1, 1, 1), 1)[..., 1:, 1:]  # B x 4Cout x N x H x W
    out = torch.empty(b, cout, n, 2 * h, 2 * w, dtype=x.dtype, device=x.device, memory_format=_CL3)
    interleaved = out.permute(0, 2, 3, 4, 1).view(b, n, h, 2, w, 2, cout)
    interleaved.copy_(phases.permute(0, 2, 3, 4, 1).reshape(b, n, h, w, 2, 2, cout).permute(0, 1, 2, 4, 3, 5, 6))
    return out


# [phase, tap] -> index of the 3-tap transposed kernel along one axis (3: a zero tap). Output 2m takes x[m] * w[1];
# output 2m + 1 takes x[m] * w[2] + x[m + 1] * w[0].
_SUBPIXEL_TAPS = ((1, 3), (2, 0))


def _subpixel_kernel(weight: Tensor) -> Tensor:
    """Cin x Cout x 3 x 3 x 3 transposed-conv weight -> 4 Cout x Cin x 3 x 2 x 2 correlation kernel of its phases."""
    cin, cout = weight.shape[:2]
    taps = torch.tensor(_SUBPIXEL_TAPS, device=weight.device)
    padded = F.pad(weight.transpose(0, 1).flip(2), (0, 1, 0, 1))  # Cout x Cin x 3 x 4 x 4; index 3 is zero
    kernel = padded[:, :, :, taps][..., taps]  # Cout x Cin x 3 x (phase_h, tap_h) x (phase_w, tap_w)
    return kernel.permute(3, 5, 0, 1, 2, 4, 6).reshape(4 * cout, cin, 3, 2, 2)


def _sum(a: Tensor, b: Tensor) -> Tensor:
    """a + b; in place into ``a`` when autograd is off (``a`` may be saved for a backward pass otherwise)."""
    return a + b if torch.is_grad_enabled() else a.add_(b)


def _onednn(x: Tensor) -> bool:
    return (x.device.type == "cpu" and x.dtype == torch.float32 and torch.backends.mkldnn.is_available()
            and torch.backends.mkldnn.enabled)


class ResBlock(nn.Module):
    """Two convolutions with batch norm and an identity shortcut; per slice (2D) or across slices (3D)."""

    def __init__(self, channels: int, *, per_slice: bool) -> None:
        super().__init__()
        kernel, padding = _PER_SLICE if per_slice else (3, 1)
        self.body = nn.Sequential(ConvBn(channels, channels, kernel, 1, padding),
                                  ConvBn(channels, channels, kernel, 1, padding, relu=False))

    def forward(self, x: Tensor) -> Tensor:
        return self.body(x).add_(x).relu_()


class SharpRegionDetector(nn.Module):
    """SRD (paper Sec. 3.2, Fig. 5 left): per-slice 2D ResNet block + attention from 3D convs over neighbour slices."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.block = ResBlock(channels, per_slice=True)
        self.attention = nn.Sequential(Conv3d(channels, channels, (3, 1, 1), padding=(1, 0, 0), bias=False),
                                       nn.ReLU(inplace=True), Conv3d(channels, channels, 1, bias=False),
                                       nn.ReLU(inplace=True))

    def forward(self, x: Tensor) -> Tensor:
        features = self.block(x)
        return _sum(self.attention(features), features)


class EffectiveDownsampling(nn.Module):
    """EFD (paper Sec. 3.2, Fig. 5 right): strided 3D conv + (2D max-pool -> 3D conv), summed; halves H and W."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.strided = ConvBn(cin, cout, 3, (1, 2, 2), 1, relu=False)
        self.pooled = ConvBn(cin, cout, relu=False)

    def forward(self, x: Tensor) -> Tensor:
        return self.strided(x).add_(self.pooled(per_slice(F.max_pool2d, x, 2))).relu_()


def per_slice(op, x: Tensor, *args) -> Tensor:
    """A 2D operation applied to every slice of a B x C x N x H x W volume (a free view in channels_last_3d)."""
    b, c, n = x.shape[:3]
    y = op(x.transpose(1, 2).reshape(b * n, c, *x.shape[-2:]), *args)
    return y.reshape(b, n, *y.shape[1:]).transpose(1, 2)


def sharp_region_detector(kind: str, channels: int) -> nn.Module:
    """SRD or one of its Table 5 replacements (``"srd"``, ``"resnet2d"``, ``"resnet3d"``)."""
    if kind == "srd":
        return SharpRegionDetector(channels)
    return ResBlock(channels, per_slice=kind == "resnet2d")


def effective_downsampling(kind: str, cin: int, cout: int) -> nn.Module:
    """EFD or one of its Table 5 replacements (see :data:`EFD_KINDS`); halves H and W, never N."""
    pools = {"maxpool3d": nn.MaxPool3d((1, 2, 2)), "avgpool3d": nn.AvgPool3d((1, 2, 2)),
             "pool3d": nn.MaxPool3d((3, 2, 2), stride=(1, 2, 2), padding=(1, 0, 0))}
    if kind == "efd":
        return EffectiveDownsampling(cin, cout)
    if kind == "strided":
        return ConvBn(cin, cout, 3, (1, 2, 2), 1)
    return nn.Sequential(pools[kind], ConvBn(cin, cout))


class FeatureExtraction(nn.Module):
    """Dilated convolution, then SRD / EFD levels (Sec. 3.2): the pyramid C*2^L x N x H/2^L x W/2^L, L = 0, 1, 2."""

    def __init__(self, in_channels: int, channels: int, *, srd: str, efd: str, levels: int = 3) -> None:
        super().__init__()
        widths = [channels * 2**level for level in range(levels)]
        self.dilated = ConvBn(in_channels, channels, (1, 9, 9), 1, (0, 8, 8), (1, 2, 2))
        self.srd = nn.ModuleList(sharp_region_detector(srd, c) for c in widths)
        self.efd = nn.ModuleList(effective_downsampling(efd, c, 2 * c) for c in widths[:-1])

    def forward(self, stack: Tensor) -> list[Tensor]:
        pyramid = [self.srd[0](self.dilated(stack))]
        for efd, srd in zip(self.efd, self.srd[1:]):
            pyramid.append(srd(efd(pyramid[-1])))
        return pyramid


class PooledResBlock(nn.Module):
    """Average pool over k x k (never over slices), two conv-BN-ReLU to ``cout``, then a 3D ResNet block."""

    def __init__(self, cin: int, cout: int, pool: int) -> None:
        super().__init__()
        self.pool = pool
        self.widen = nn.Sequential(ConvBn(cin, cout), ConvBn(cout, cout))
        self.res = ResBlock(cout, per_slice=False)

    def forward(self, x: Tensor) -> Tensor:
        return self.res(self.widen(per_slice(F.avg_pool2d, x, self.pool)))


class MultiScaleAggregation(nn.Module):
    """Average pools 2x2, 4x4, 8x8 + ResBlocks, fused by one hourglass (paper Sec. 3.3); C x N x h x w -> at h/2."""

    def __init__(self, c: int) -> None:
        super().__init__()
        self.scales = nn.ModuleList([PooledResBlock(c, c, 2), PooledResBlock(c, 2 * c, 4),
                                     PooledResBlock(c, 2 * c, 8)])
        self.down1, self.down2 = ConvBn(c, 2 * c, 3, (1, 2, 2)), ConvBn(2 * c, 4 * c, 3, (1, 2, 2))
        self.encode1 = nn.Sequential(ConvBn(4 * c, 2 * c), ConvBn(2 * c, 2 * c))
        self.encode2 = nn.Sequential(ConvBn(6 * c, 4 * c), ConvBn(4 * c, 4 * c))
        self.up2 = ConvBn(4 * c, 2 * c, relu=False, transposed=True)
        self.up1 = ConvBn(2 * c, c, relu=False, transposed=True)
        self.skip1, self.skip0 = ConvBn(2 * c, 2 * c, 1, 1, 0, relu=False), ConvBn(c, c, 1, 1, 0, relu=False)

    def forward(self, x: Tensor) -> Tensor:
        s2, s4, s8 = (scale(x) for scale in self.scales)
        e1 = self.encode1((self.down1(s2), s4))  # the encoder embeds the 4x4 scale (concatenated) ...
        e2 = self.encode2((self.down2(e1), s8))  # ... and the 8x8 scale
        d1 = self.up2(e2).add_(self.skip1(e1)).relu_()  # the decoder aggregates
        return self.up1(d1).add_(self.skip0(s2)).relu_()


class Hourglass(nn.Module):
    """Refinement hourglass of width c (paper Sec. 3.3): fuse, two stride-2 levels, back; PSMNet-style skips.

    Input: the upsampled volume and the pyramid features (c x N x h x w each, concatenated); returns the
    c x N x h x w output and the fused input.
    ``previous`` is the (output, fused input) of the hourglass one level coarser, both 2c x N x h/2 x w/2.
    """

    def __init__(self, c: int) -> None:
        super().__init__()
        self.fuse = ConvBn(2 * c, c)
        self.down1 = nn.Sequential(ConvBn(c, 2 * c, 3, (1, 2, 2)), ConvBn(2 * c, 2 * c, relu=False))
        self.down2 = nn.Sequential(ConvBn(2 * c, 2 * c, 3, (1, 2, 2)), ConvBn(2 * c, 2 * c))
        self.up2 = ConvBn(2 * c, 2 * c, relu=False, transposed=True)
        self.up1 = ConvBn(2 * c, c, relu=False, transposed=True)

    def forward(self, x: tuple[Tensor, Tensor], previous: tuple[Tensor, Tensor] | None = None) -> tuple[Tensor, Tensor]:
        fused = self.fuse(x)
        inner = self.down1(fused)
        inner = (inner if previous is None else inner.add_(previous[0])).relu_()
        deep = self.up2(self.down2(inner)).add_(inner if previous is None else previous[1]).relu_()
        return self.up1(deep), fused


class Refinement(nn.Module):
    """Three hourglasses coarse to fine with the pyramid (paper Sec. 3.3); focus logits at 4 scales.

    ``forward(aggregated 4C x N x H/8 x W/8, pyramid)`` -> logits B x 1 x N x h x w at H/8, H/4, H/2, H.
    """

    def __init__(self, channels: int, levels: int = 3) -> None:
        super().__init__()
        widths = [channels * 2**level for level in reversed(range(levels))]  # 4C, 2C, C
        top = widths[0]
        self.coarse_head = nn.Sequential(ConvBn(top, top), Conv3d(top, 1, 3, 1, 1, bias=False))
        self.lift = nn.Sequential(ConvBn(top, 2 * top), ConvBn(2 * top, 2 * top))
        self.ups = nn.ModuleList(ConvBn(2 * c, c, relu=False, transposed=True) for c in widths)
        self.hourglasses = nn.ModuleList(Hourglass(c) for c in widths)
        self.heads = nn.ModuleList(Conv3d(c, 1, 1, bias=False) for c in widths)

    def forward(self, aggregated: Tensor, pyramid: list[Tensor]) -> list[Tensor]:
        logits = [self.coarse_head(aggregated)]
        volume, previous = self.lift(aggregated), None
        for up, hourglass, head, features in zip(self.ups, self.hourglasses, self.heads, reversed(pyramid)):
            volume = up(volume)  # transposed conv to the size of this pyramid level
            out, fused = hourglass((volume, features), previous)  # concatenated
            previous, volume = (out, fused), _sum(volume, out)
            logits.append(head(volume))
        return logits


class DfFWild(FocalStackNet):
    """Depth-from-focus network of Won & Jeon (ECCV 2022), depth + all-in-focus, no alignment network.

    Args:
        channels: C, the width of the full-resolution pyramid level (the paper's 8); every width scales with it.
        srd: ``"srd"`` (the paper's), or the Table 5 replacements ``"resnet2d"``, ``"resnet3d"``.
        efd: ``"efd"`` (the paper's), or the Table 5 replacements ``"maxpool3d"``, ``"avgpool3d"``, ``"strided"``,
            ``"pool3d"``.
        in_channels: 3 for RGB stacks (grey stacks are repeated to 3 channels).

    Example:
        >>> model = DfFWild(channels=2).eval()
        >>> out = model(torch.rand(1, 4, 3, 64, 64), torch.linspace(0.1, 1.0, 4)[None])
        >>> out.depth.shape, len(out.depth_scales), out.all_in_focus.shape
        (torch.Size([1, 1, 64, 64]), 4, torch.Size([1, 3, 64, 64]))
    """

    size_multiple = 32

    def __init__(self, *, channels: int = 8, srd: str = "srd", efd: str = "efd", in_channels: int = 3) -> None:
        super().__init__()
        if srd not in SRD_KINDS or efd not in EFD_KINDS:
            raise ValueError(f"srd must be one of {SRD_KINDS} and efd one of {EFD_KINDS}, got {srd!r}, {efd!r}")
        self.in_channels = in_channels
        self.features = FeatureExtraction(in_channels, channels, srd=srd, efd=efd)
        self.aggregation = MultiScaleAggregation(4 * channels)
        self.refinement = Refinement(channels)

    def _forward(self, slices: Tensor, positions01: Tensor) -> DepthOutput:
        b, n, c, h, w = slices.shape
        rgb = slices if c == self.in_channels else slices.expand(b, n, self.in_channels, h, w)
        stack = rgb.transpose(1, 2).contiguous(memory_format=_CL3)  # B x 3 x N x H x W
        pyramid = self.features(stack)  # Sec. 3.2
        aggregated = self.aggregation(pyramid[-1])  # Sec. 3.3, multi-scale aggregation
        logits = self.refinement(aggregated, pyramid)  # Sec. 3.3, refinement: K_1..K_4, coarse to fine
        depths, aifs, probabilities = [], [], None
        for k in logits:
            depth, aif, probabilities = regress(k[:, 0], positions01, slices)
            depths.append(depth)
            aifs.append(aif)
        return DepthOutput(depth=depths[-1], all_in_focus=aifs[-1], depth_scales=depths, aif_scales=aifs,
                           probabilities=probabilities)


def regress(logits: Tensor, positions01: Tensor, slices: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Depth (Eq. 1), all-in-focus image and its weights (suppl. Eq. 2-3) from focus logits B x N x h x w.

    The logits are upsampled bilinearly to the slices' H x W. Returns depth B x 1 x H x W in the positions' unit,
    all-in-focus B x C x H x W and the softmax probabilities B x N x H x W.
    """
    size = slices.shape[-2:]
    if logits.shape[-2:] != size:
        logits = F.interpolate(logits, size=size, mode="bilinear", align_corners=False)
    softplus = F.softplus(logits)
    depth = torch.einsum("bnhw,bn->bhw", softplus, positions01)[:, None] \
        / softplus.sum(dim=1, keepdim=True).clamp_min(1e-8)  # Eq. 1: sum_j P_j F_j, P_j = softplus_j / sum softplus
    probabilities = torch.softmax(logits, dim=1)  # Eq. 3
    aif = torch.einsum("bnhw,bnchw->bchw", probabilities, slices)  # Eq. 2
    return depth, aif, probabilities


def parameter_breakdown(model: DfFWild) -> dict[str, int]:
    """Learnable parameters per part, named as in the paper's implementation details."""
    parts = {"feature_extraction": model.features, "aggregation": model.aggregation, "refinement": model.refinement}
    return {name: sum(p.numel() for p in part.parameters()) for name, part in parts.items()}


@register_model("dffwild", architecture="dffwild", memory=(240, 460),
                channels=8, srd="srd", efd="efd",
                description="Depth from Focus in the Wild depth network at the paper's size (4.0M parameters)")
def dffwild(**config) -> DfFWild:
    return DfFWild(**config)


@register_model("dffwild_light", architecture="dffwild", memory=(130, 150),
                channels=3, srd="srd", efd="efd",
                description="CPU-light Depth from Focus in the Wild depth network (C = 3 instead of 8; 0.57M)")
def dffwild_light(**config) -> DfFWild:
    return DfFWild(**config)


if __name__ == "__main__":  # the registered variants: paper-sized (C = 8) and light (C = 3)
    for name, channels in (("dffwild", 8), ("dffwild_light", 3)):
        counts = parameter_breakdown(DfFWild(channels=channels))
        print(name, ", ".join(f"{part} {count:,}" for part, count in counts.items()), f"total {sum(counts.values()):,}")
