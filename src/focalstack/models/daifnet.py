"""DAIF-Net (Si et al., "Fully Self-Supervised Depth Estimation from Defocus Clue", CVPR 2023,
``003_c13972046b5f2f80.txt``).

DAIF-Net inverts the defocus model: from a focal stack J_1..J_N it predicts the all-in-focus image I
and the depth D together, {I, D} = Phi(J_1, ..., J_N) (poster, "DAIF-Net"); training re-renders the
stack from (I, D) with the thin-lens CoC and a Gaussian PSF, so the two outputs must be consistent.
The poster describes a modified U-Net: every slice passes through the same encoder and bottleneck,
features are fused across slices for decoding and for the skip connections, and layer-wise global
pooling carries sharpness between the slices. In this file's numbering (the poster numbers none),
with p_j the focus position of slice j in [0, 1] and l = 1..L the encoder levels::

    h_j^0 = E^0(J_j, p_j)                                       shared stem, full resolution      (1)
    h_j^l = E^l([P(h_j^{l-1}), max_k P(h_k^{l-1})])             layer-wise global pooling          (2)
    s^l   = max_j h_j^l,   b = max_j B(...)                     fused skips and bottleneck          (3)
    g     = decoder(b; s^{L-1}, ..., s^0)                       one fused U-Net decoder             (4)
    m_j   = head(h_j^0, g)                                      per-slice focus logit               (5)
    D     = sum_j softplus(m_j) / sum_k softplus(m_k) p_j       expected focus position             (6)
    I     = clip(sum_j softmax(m)_j J_j + R(g), 0, 1)           fused slices + residual             (7)

(P: 2x2 max pooling; [.,.]: channel concatenation.) Fusion is a maximum over slices, so the output
does not depend on the order of the slices, and nothing depends on N: a model trained on 5 slices
runs on 2 or 15.

Choices where the poster is silent (the authors' public code, read for shape, not copied, has a
base width of 16 and 4 levels, 1.96M parameters; the defaults here match it):

- Input per slice: its image and its normalised focus position p_j (the authors feed RGB plus a constant
  focus-distance plane, 4 channels). p_j enters as a learned per-channel offset p_j v after the first
  convolution, which is what a constant input plane gives away from the zero-padded border, without
  building a 4-channel copy of the stack. Grey stacks are repeated to three channels.
- Levels: each encoder level is two 3x3 convolutions + ReLU and doubles the channels; 2x2 max pooling
  between levels; the bottleneck is one convolution; no normalisation layers (as the authors), so
  training and evaluation compute the same function and slices of a batch never mix.
- Fusion across slices is the maximum, both for the global pooling (2) and for skips and bottleneck
  (3), as in the authors' code.
- conv([x_j, max_k x_k]) in (2) is computed as W_own * x_j + W_pool * max_k x_k, the second term once
  per stack (:class:`StackConv`): the same function and parameters as the concatenation, about a
  quarter fewer operations in the encoder.
- Decoder steps convolve at the coarse resolution and then upsample bilinearly (the authors upsample
  first): the same parameters at a quarter of the cost; the skip is concatenated after upsampling.
- Depth (6): the authors regress depth directly (a fourth output channel). Here the fused decoder
  features meet each slice's own full-resolution features in a small head (5) that scores how in focus
  the slice is, and depth is the softplus-normalised expectation of the positions, as in the library's
  other networks: depth stays inside the range of the focus positions, any unit works (the base class
  normalises positions to [0, 1]) and N may differ between training and test.
- All-in-focus (7): the authors regress it directly (three output channels, clipped to [0, 1]). Here it
  is the softmax-weighted sum of the slices (weights from the same logits, as AiFDepthNet) plus a
  residual correction R (one 3x3 convolution of g, initialised to zero), clipped to [0, 1]; for grey
  stacks the residual's channels are averaged.
- One output scale: per-slice features exist at full resolution only, so ``depth_scales == [depth]``.
- Tensors run channels-last inside the network (about twice as fast on CPU with oneDNN); weights and
  outputs are ordinary.

Example::

    >>> import torch
    >>> from focalstack.models import create_model
    >>> model = create_model("daifnet_light").eval()
    >>> out = model(torch.rand(1, 5, 3, 64, 64), torch.linspace(0.3, 2.0, 5)[None])
    >>> out.depth.shape, out.all_in_focus.shape
    (torch.Size([1, 1, 64, 64]), torch.Size([1, 3, 64, 64]))
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .base import DepthOutput, FocalStackNet
from .registry import register_model


def _conv(cin: int, cout: int, kernel: int = 3, bias: bool = True) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, kernel, 1, kernel // 2, bias=bias)


def _conv_relu(cin: int, cout: int) -> list[nn.Module]:
    return [_conv(cin, cout), nn.ReLU(inplace=True)]


def max_over_slices(x: Tensor, n: int) -> Tensor:
    """(B*N) x C x h x w -> B x C x h x w: the maximum over each stack's N slices."""
    # reduce in the channels-last view, where each slice is one contiguous block
    return x.permute(0, 2, 3, 1).unflatten(0, (-1, n)).amax(dim=1).permute(0, 3, 1, 2)


def expected_position(logits: Tensor, positions01: Tensor) -> Tensor:
    """Eq. 6: depth B x 1 x H x W as the softplus-normalised mean of the positions (B x N) over slices.

    ``logits``: B x N x H x W focus logits. The weights are positive and sum to one, so depth lies
    between the smallest and the largest focus position.
    """
    weights = F.softplus(logits)
    weights = weights / weights.sum(dim=1, keepdim=True).clamp_min(1e-8)
    return (weights * positions01[:, :, None, None]).sum(dim=1, keepdim=True)


class StackConv(nn.Module):
    """conv([x_j, s]) for every slice x_j of a stack and one map s shared by the stack.

    Computed as W_own * x_j + W_shared * s, the second term once per stack. ``x``: (B*N) x C x h x w,
    ``shared``: B x C_s x h x w; returns (B*N) x C_out x h x w (before any activation).
    """

    def __init__(self, cin: int, cshared: int, cout: int, kernel: int = 3) -> None:
        super().__init__()
        self.own = _conv(cin, cout, kernel)
        self.shared = _conv(cshared, cout, kernel, bias=False)

    def forward(self, x: Tensor, shared: Tensor) -> Tensor:
        n = x.shape[0] // shared.shape[0]
        out = self.own(x).unflatten(0, (-1, n)).add_(self.shared(shared).unsqueeze(1))
        return out.flatten(0, 1)


class Stem(nn.Module):
    """E^0 (Eq. 1): two 3x3 convolutions + ReLU on each slice at full resolution.

    The focus position p_j enters as a learned per-channel offset p_j v after the first convolution:
    the same as convolving a constant input plane p_j, away from the zero-padded border.
    ``x``: (B*N) x C x H x W, ``positions01``: B x N -> (B*N) x width x H x W.
    """

    def __init__(self, cin: int, width: int) -> None:
        super().__init__()
        self.image = _conv(cin, width)
        # initial spread: about that of the sum of a first-layer kernel's 9 taps
        self.position = nn.Parameter(torch.empty(width).uniform_(-0.5, 0.5))
        self.second = _conv(width, width)

    def forward(self, x: Tensor, positions01: Tensor) -> Tensor:
        offset = positions01.reshape(-1, 1, 1, 1) * self.position.view(1, -1, 1, 1)
        return self.second(self.image(x).add_(offset).relu_()).relu_()


class EncoderLevel(nn.Module):
    """One shared encoder level with layer-wise global pooling (Eq. 2): pool, see the stack, convolve."""

    def __init__(self, cin: int, cout: int, convs: int = 2) -> None:
        super().__init__()
        self.first = StackConv(cin, cin, cout)
        self.rest = nn.Sequential(*[m for _ in range(convs - 1) for m in _conv_relu(cout, cout)])

    def forward(self, x: Tensor, n: int) -> Tensor:
        x = F.max_pool2d(x, 2)
        return self.rest(self.first(x, max_over_slices(x, n)).relu_())  # Eq. 2


class DecoderLevel(nn.Module):
    """One fused decoder level: convolve at the coarse scale, upsample x2, join the fused skip (Eq. 4)."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.reduce = _conv(cin, cout)
        self.join = nn.Sequential(*_conv_relu(2 * cout, cout), *_conv_relu(cout, cout))

    def forward(self, x: Tensor, skip: Tensor) -> Tensor:
        x = F.interpolate(self.reduce(x).relu_(), size=skip.shape[-2:], mode="bilinear", align_corners=False)
        return self.join(torch.cat([x, skip], dim=1))


class FocusHead(nn.Module):
    """Per-slice focus logit from the slice's own features f_j and the fused decoder features g (Eq. 5).

    m_j = w . relu(A * f_j + B * g): ``own`` (B*N) x C x H x W, ``fused`` B x C x H x W -> B x N x H x W.
    """

    def __init__(self, channels: int, hidden: int, kernel: int = 3) -> None:
        super().__init__()
        self.hidden = StackConv(channels, channels, hidden, kernel)
        self.logit = _conv(hidden, 1, 1)

    def forward(self, own: Tensor, fused: Tensor) -> Tensor:
        logits = self.logit(self.hidden(own, fused).relu_())
        return logits.reshape(fused.shape[0], -1, *logits.shape[-2:])


class DAIFNet(FocalStackNet):
    """DAIF-Net: shared-encoder U-Net with layer-wise global pooling, predicting depth and all-in-focus.

    Args:
        width: channels of the full-resolution level (doubled at every level below it).
        levels: 2x2 poolings between the input and the bottleneck; input sizes are padded to a
            multiple of ``2 ** levels``.
        head_channels: hidden channels of the per-slice focus head.
        head_kernel: kernel size of the head's hidden convolution (3 or 1).
        aif_residual: add a learned residual correction to the fused all-in-focus image.
        in_channels: 3 for RGB stacks (grey stacks are repeated to 3 channels).
    """

    def __init__(self, *, width: int = 16, levels: int = 4, head_channels: int = 16, head_kernel: int = 3,
                 aif_residual: bool = True, in_channels: int = 3) -> None:
        super().__init__()
        self.in_channels, self.size_multiple = in_channels, 2 ** levels
        chans = [width * 2 ** i for i in range(levels + 1)]
        self.stem = Stem(in_channels, width)
        self.down = nn.ModuleList(EncoderLevel(chans[i], chans[i + 1]) for i in range(levels - 1))
        self.bottleneck = EncoderLevel(chans[-2], chans[-1], convs=1)
        self.up = nn.ModuleList(DecoderLevel(chans[i + 1], chans[i]) for i in reversed(range(levels)))
        self.head = FocusHead(width, head_channels, head_kernel)
        self.residual = _conv(width, in_channels) if aif_residual else None
        if self.residual is not None:
            nn.init.zeros_(self.residual.weight)
            nn.init.zeros_(self.residual.bias)

    def _forward(self, slices: Tensor, positions01: Tensor) -> DepthOutput:
        b, n, c, h, w = slices.shape
        x = self._rgb(slices).reshape(b * n, self.in_channels, h, w).contiguous(memory_format=torch.channels_last)
        own, skips = self._encode(x, positions01)
        fused = self._decode(skips)
        logits = self.head(own, fused).contiguous()  # Eq. 5
        depth = expected_position(logits, positions01)  # Eq. 6
        probabilities = torch.softmax(logits, dim=1)
        return DepthOutput(depth=depth, depth_scales=[depth], probabilities=probabilities,
                           all_in_focus=self._all_in_focus(probabilities, slices, fused))  # Eq. 7

    def _rgb(self, slices: Tensor) -> Tensor:
        c = slices.shape[2]
        if c not in (1, self.in_channels):
            raise ValueError(f"{type(self).__name__} takes 1 or {self.in_channels} channels, got {c}")
        return slices.expand(-1, -1, self.in_channels, -1, -1)

    def _encode(self, x: Tensor, positions01: Tensor) -> tuple[Tensor, list[Tensor]]:
        """Shared stem, levels and bottleneck (Eq. 1-3): per-slice full-resolution features, fused skips."""
        n = positions01.shape[1]
        own = self.stem(x, positions01)  # Eq. 1
        skips = [max_over_slices(own, n)]  # Eq. 3
        x = own
        for level in self.down:
            x = level(x, n)  # Eq. 2
            skips.append(max_over_slices(x, n))  # Eq. 3
        skips.append(max_over_slices(self.bottleneck(x, n), n))  # Eq. 3, the fused bottleneck last
        return own, skips

    def _decode(self, skips: list[Tensor]) -> Tensor:
        """Fused U-Net decoder (Eq. 4): from the bottleneck up through the fused skips to full resolution."""
        x, *finer = reversed(skips)
        for level, skip in zip(self.up, finer):
            x = level(x, skip)
        return x

    def _all_in_focus(self, weights: Tensor, slices: Tensor, fused: Tensor) -> Tensor:
        """Eq. 7: softmax-weighted slices plus the residual correction, clipped to [0, 1]."""
        aif = (weights.unsqueeze(2) * slices).sum(dim=1)
        if self.residual is not None:
            residual = self.residual(fused).contiguous()
            aif = aif + (residual if slices.shape[2] == residual.shape[1] else residual.mean(dim=1, keepdim=True))
        return aif.clamp(0.0, 1.0)


@register_model("daifnet", architecture="daifnet", width=16, levels=4, head_channels=16, head_kernel=3,
                description="DAIF-Net at the paper's size (width 16, 4 levels, ~1.97M parameters)")
def daifnet(**config) -> DAIFNet:
    return DAIFNet(**config)


@register_model("daifnet_light", architecture="daifnet", width=8, levels=4, head_channels=8, head_kernel=3,
                description="CPU-light DAIF-Net (width 8, ~0.49M parameters)")
def daifnet_light(**config) -> DAIFNet:
    return DAIFNet(**config)
