"""DAIF-Net (Si et al., "Fully Self-Supervised Depth Estimation from Defocus Clue", CVPR 2023).

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
    m_j   = head(h_j^0, h_j^1, h_j^2, g)                        per-slice focus logit               (5)
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
- Levels: the full-resolution stem and each encoder level are two 3x3 convolutions + ReLU (the light
  variant's stem one), each level doubling the channels; 2x2 max pooling between levels; the bottleneck
  is one convolution; no normalisation layers (as the authors), so
  training and evaluation compute the same function and slices of a batch never mix.
- Fusion across slices is the maximum, both for the global pooling (2) and for skips and bottleneck
  (3), as in the authors' code. The pooled term of (2) is computed as P(max_k h_k) = max_k P(h_k):
  one pooling of the fused map per stack.
- conv([x_j, max_k x_k]) in (2) is computed as W_own * x_j + W_pool * max_k x_k, the second term once
  per stack (:class:`StackConv`): the same function and parameters as the concatenation, about a
  quarter fewer operations in the encoder.
- Decoder steps convolve at the coarse resolution and then upsample bilinearly (the authors upsample
  first): the same parameters at a quarter of the cost; the skip joins after upsampling, as
  conv([u, s]) = W_u * u + W_s * s (the same function, without a concatenated copy).
- Depth (6): the authors regress depth directly (a fourth output channel). Here the fused decoder
  features meet each slice's own full-resolution features in a small head (5) that scores how in focus
  the slice is (A: 1x1 on the slice's features, which already see 5x5 pixels; B: 3x3 on g, once per
  stack; a 3x3 A cost about 12% of the forward pass), plus (``head_context`` levels, 2 by default) the
  slice's own encoder features of levels 1 and 2, projected 1x1 and upsampled bilinearly: the stem sees
  only 3x3 (light) or 5x5 pixels of its slice, too little to judge focus where blur spans several pixels,
  and without them ``daifnet_light`` did not learn depth even depth-supervised (``docs/training.md``).
  Depth is the softplus-normalised expectation
  of the positions, as in the library's other networks: depth stays inside the range of the focus
  positions, any unit works (the base class normalises positions to [0, 1]) and N may differ between
  training and test.
- All-in-focus (7): the authors regress it directly (three output channels, clipped to [0, 1]). Here it
  is the softmax-weighted sum of the slices (weights from the same logits, as AiFDepthNet) plus a
  residual correction R (one 3x3 convolution of g, initialised to zero), clipped to [0, 1]; for grey
  stacks the residual's channels are averaged.
- One output scale: per-slice features exist at full resolution only, so ``depth_scales == [depth]``.
- CPU execution (the function is unchanged; ``test_daifnet.py`` checks it): tensors run channels-last
  (about twice as fast with oneDNN); without gradients each convolution and its offset, addition and
  ReLU is one fused oneDNN call (:func:`conv_act`, as ``torch.compile`` emits; the autograd path uses
  plain ops); the per-slice layers run on runs of slices whose full-resolution features stay under
  24 MiB (:meth:`DAIFNet._groups`: glibc maps larger blocks fresh from the OS at every call, and
  those page faults were a third of a 10 x 512 x 512 pass). Weights and outputs are ordinary.

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


_POINTWISE = getattr(torch.ops.mkldnn, "_convolution_pointwise", None) if torch.backends.mkldnn.is_available() else None


def _needs_grad(*tensors: Tensor) -> bool:
    return torch.is_grad_enabled() and any(t.requires_grad for t in tensors)


def conv_act(conv: nn.Conv2d, x: Tensor, *, offset: Tensor | None = None, relu: bool = True) -> Tensor:
    """relu(conv(x) + offset), with ``offset`` a per-sample, per-channel (B*N) x C x 1 x 1 or None.

    Without gradients on the CPU this is one oneDNN convolution with the add and the ReLU as
    post-ops (what ``torch.compile`` emits), so the output is written once instead of three times;
    otherwise the plain PyTorch ops. Both compute the same numbers.
    """
    extra = () if offset is None else (offset,)
    if _POINTWISE is None or x.device.type != "cpu" or x.dtype != torch.float32 or _needs_grad(x, conv.weight, *extra):
        y = conv(x) if offset is None else conv(x) + offset
        return y.relu_() if relu else y
    args = (conv.weight, conv.bias, conv.padding, conv.stride, conv.dilation, conv.groups)
    if offset is None:
        return _POINTWISE(x, *args, "relu" if relu else "none", [], "")
    return _POINTWISE.binary(x, offset, *args, "add", 1.0, "relu" if relu else None, [], "")


def conv_pair_act(conv: nn.Conv2d, a: Tensor, b: Tensor) -> Tensor:
    """relu(conv([a, b])) for a channel concatenation [a, b], without building it: W_a * a + W_b * b.

    Saves writing and reading the concatenated copy (33 MiB for 32 channels at 512 x 512).
    """
    if _POINTWISE is None or a.device.type != "cpu" or a.dtype != torch.float32 or _needs_grad(a, b, conv.weight):
        return conv_act(conv, torch.cat([a, b], dim=1))
    args = (conv.padding, conv.stride, conv.dilation, conv.groups)
    weight_a, weight_b = conv.weight[:, : a.shape[1]].contiguous(), conv.weight[:, a.shape[1] :].contiguous()
    y = _POINTWISE(b, weight_b, conv.bias, *args, "none", [], "")
    return _POINTWISE.binary(a, y, weight_a, None, *args, "add", 1.0, "relu", [], "")


def add_per_stack_relu(x: Tensor, shared: Tensor) -> Tensor:
    """relu(x_j + s) in place: ``x`` (B*N) x C x h x w, ``shared`` B x C x h x w broadcast over each stack's slices."""
    stacked, shared = x.unflatten(0, (shared.shape[0], -1)), shared.unsqueeze(1)
    if _needs_grad(x, shared) or x.device.type != "cpu":
        stacked.add_(shared).relu_()
    else:  # one pass instead of two (a CPU-only kernel)
        torch.ops.aten._add_relu_(stacked, shared)
    return x


def max_over_slices(x: Tensor, n: int) -> Tensor:
    """(B*N) x C x h x w -> B x C x h x w: the maximum over each stack's N slices."""
    # reduce in the channels-last view, where each slice is one contiguous block
    return x.permute(0, 2, 3, 1).unflatten(0, (-1, n)).amax(dim=1).permute(0, 3, 1, 2)


def fuse_runs(features: list[Tensor], groups: list[tuple[int, slice]]) -> Tensor:
    """The maximum over each stack's slices (Eq. 3) of features computed run by run.

    ``features[k]``: (run length) x C x h x w for the run ``groups[k] = (stack, slices)``; returns
    B x C x h x w.
    """
    fused: dict[int, Tensor] = {}
    for f, (i, _) in zip(features, groups):
        m = max_over_slices(f, f.shape[0]) if f.shape[0] > 1 else f
        fused[i] = torch.maximum(fused[i], m) if i in fused else m
    return fused[0] if len(fused) == 1 else torch.cat([fused[i] for i in sorted(fused)])


def expected_position(logits: Tensor, positions01: Tensor) -> Tensor:
    """Eq. 6: depth B x 1 x H x W as the softplus-normalised mean of the positions (B x N) over slices.

    ``logits``: B x N x H x W focus logits. The weights are positive and sum to one, so depth lies
    between the smallest and the largest focus position.
    """
    weights = F.softplus(logits)
    weights = weights / weights.sum(dim=1, keepdim=True).clamp_min(1e-8)
    return (weights * positions01[:, :, None, None]).sum(dim=1, keepdim=True)


def weighted_slices(weights: Tensor, slices: Tensor) -> Tensor:
    """sum_j weights_j J_j: ``weights`` B x N x H x W, ``slices`` B x N x C x H x W -> B x C x H x W.

    Accumulated slice by slice, so no B x N x C x H x W product is ever built.
    """
    out = slices[:, 0] * weights[:, :1]
    for j in range(1, slices.shape[1]):
        out = out.addcmul_(slices[:, j], weights[:, j : j + 1])
    return out


class StackConv(nn.Module):
    """relu(conv([x_j, s])) for every slice x_j of a stack and one map s shared by the stack.

    Computed as W_own * x_j + W_shared * s: the second term once per stack (:meth:`stack_term`, s:
    B x C_s x h x w -> B x C_out x h x w), then ``forward(x, term)`` for the slices of one stack
    (``x``: N x C x h x w, ``term``: 1 x C_out x h x w) or of all (``x``: (B*N) x C x h x w, ``term``:
    B x C_out x h x w); returns x's batch x C_out x h x w.
    """

    def __init__(self, cin: int, cshared: int, cout: int, kernel: int = 3) -> None:
        super().__init__()
        self.own = _conv(cin, cout, kernel)
        self.shared = _conv(cshared, cout, kernel, bias=False)

    def stack_term(self, shared: Tensor) -> Tensor:
        return self.shared(shared)

    def forward(self, x: Tensor, term: Tensor) -> Tensor:
        # oneDNN could add ``term`` inside the convolution, but broadcasting it over the slices
        # falls back to its slow reference kernel: added afterwards, in one pass
        return add_per_stack_relu(conv_act(self.own, x, relu=False), term)


class Stem(nn.Module):
    """E^0 (Eq. 1): ``convs`` 3x3 convolutions + ReLU on each slice at full resolution.

    The focus position p_j enters as a learned per-channel offset p_j v after the first convolution:
    the same as convolving a constant input plane p_j, away from the zero-padded border.
    ``x``: (B*N) x C x H x W, ``positions01``: B x N -> (B*N) x width x H x W.
    """

    def __init__(self, cin: int, width: int, convs: int = 2) -> None:
        super().__init__()
        self.image = _conv(cin, width)
        # initial spread: about that of the sum of a first-layer kernel's 9 taps
        self.position = nn.Parameter(torch.empty(width).uniform_(-0.5, 0.5))
        self.rest = nn.ModuleList(_conv(width, width) for _ in range(convs - 1))

    def forward(self, x: Tensor, positions01: Tensor) -> Tensor:
        offset = positions01.reshape(-1, 1, 1, 1) * self.position.view(1, -1, 1, 1)
        x = conv_act(self.image, x, offset=offset)
        for conv in self.rest:
            x = conv_act(conv, x)
        return x


class EncoderLevel(nn.Module):
    """One shared encoder level with layer-wise global pooling (Eq. 2): pool, see the stack, convolve."""

    def __init__(self, cin: int, cout: int, convs: int = 2) -> None:
        super().__init__()
        self.first = StackConv(cin, cin, cout)
        self.rest = nn.ModuleList(_conv(cout, cout) for _ in range(convs - 1))

    def stack_term(self, fused: Tensor) -> Tensor:
        """The global-pooling term of Eq. 2 from the level above's fused map (B x C x h x w), once per stack."""
        return self.first.stack_term(F.max_pool2d(fused, 2))  # max_k P(h_k) = P(max_k h_k)

    def forward(self, x: Tensor, term: Tensor) -> Tensor:
        """``x``: slices' features from the level above, ``term``: :meth:`stack_term` (as :class:`StackConv`)."""
        x = self.first(F.max_pool2d(x, 2), term)
        for conv in self.rest:
            x = conv_act(conv, x)
        return x


class DecoderLevel(nn.Module):
    """One fused decoder level: convolve at the coarse scale, upsample x2, join the fused skip (Eq. 4)."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.reduce = _conv(cin, cout)
        self.join = nn.ModuleList([_conv(2 * cout, cout), _conv(cout, cout)])

    def forward(self, x: Tensor, skip: Tensor) -> Tensor:
        x = F.interpolate(conv_act(self.reduce, x), size=skip.shape[-2:], mode="bilinear", align_corners=False)
        x = conv_pair_act(self.join[0], x, skip)  # the skip joins without a concatenated copy
        return conv_act(self.join[1], x)


class FocusHead(nn.Module):
    """Per-slice focus logit from the slice's own features f_j and the fused decoder features g (Eq. 5).

    m_j = w . relu(A * f_j + B * g), B * g once per stack (:meth:`stack_term`); ``own`` and ``term``
    as :class:`StackConv` (N x C x H x W and 1 x hidden x H x W, or B*N and B) -> 1 x N x H x W (or B x N).
    """

    def __init__(self, channels: int, hidden: int, kernel: int = 3, context: tuple[int, ...] = ()) -> None:
        super().__init__()
        self.hidden = StackConv(channels, channels, hidden, kernel)
        self.context = nn.ModuleList(_conv(c, hidden, 1, bias=False) for c in context)
        self.logit = _conv(hidden, 1, 1)

    def stack_term(self, fused: Tensor) -> Tensor:
        return self.hidden.stack_term(fused)

    def forward(self, own: Tensor, term: Tensor, context: list[Tensor] = ()) -> Tensor:
        """``context``: the slices' own features of the encoder levels below the stem (one tensor per
        entry of the constructor's ``context``), projected 1x1 and upsampled into the hidden layer."""
        if self.context:
            pre = conv_act(self.hidden.own, own, relu=False)
            for conv, feats in zip(self.context, context):
                pre = pre + F.interpolate(conv(feats), size=own.shape[-2:], mode="bilinear", align_corners=False)
            hidden = add_per_stack_relu(pre, term)
        else:
            hidden = self.hidden(own, term)
        hidden = hidden.permute(0, 2, 3, 1)  # channels last: a free view
        logits = F.linear(hidden, self.logit.weight.flatten(1), self.logit.bias)  # the 1x1 convolution
        return logits.reshape(term.shape[0], -1, *logits.shape[1:3])


class DAIFNet(FocalStackNet):
    """DAIF-Net: shared-encoder U-Net with layer-wise global pooling, predicting depth and all-in-focus.

    Args:
        width: channels of the full-resolution level (doubled at every level below it).
        levels: 2x2 poolings between the input and the bottleneck; input sizes are padded to a
            multiple of ``2 ** levels``.
        head_channels: hidden channels of the per-slice focus head.
        head_kernel: kernel size of the head's hidden convolution (3 or 1).
        stem_convs: 3x3 convolutions of the full-resolution stem (2 as the other levels, or 1).
        head_context: encoder levels below the stem whose per-slice features also feed the focus
            head (0: the stem's only, as Eq. 5). The stem sees 3x3 or 5x5 pixels of its slice, too
            little to tell how sharp the slice is where blur spans several pixels; levels 1 and 2
            see about 10 and 22.
        aif_residual: add a learned residual correction to the fused all-in-focus image.
        in_channels: 3 for RGB stacks (grey stacks are repeated to 3 channels).
    """

    def __init__(self, *, width: int = 16, levels: int = 4, head_channels: int = 16, head_kernel: int = 3,
                 stem_convs: int = 2, head_context: int = 0, aif_residual: bool = True,
                 in_channels: int = 3) -> None:
        super().__init__()
        self.in_channels, self.size_multiple = in_channels, 2 ** levels
        self.group_bytes = 24 * 2**20  # see _groups
        chans = [width * 2 ** i for i in range(levels + 1)]
        self.stem = Stem(in_channels, width, stem_convs)
        self.down = nn.ModuleList(EncoderLevel(chans[i], chans[i + 1]) for i in range(levels - 1))
        self.bottleneck = EncoderLevel(chans[-2], chans[-1], convs=1)
        self.up = nn.ModuleList(DecoderLevel(chans[i + 1], chans[i]) for i in reversed(range(levels)))
        if not 0 <= head_context <= levels - 1:
            raise ValueError(f"head_context must be in [0, {levels - 1}], got {head_context}")
        self.head = FocusHead(width, head_channels, head_kernel, context=tuple(chans[1 : 1 + head_context]))
        self.residual = _conv(width, in_channels) if aif_residual else None
        if self.residual is not None:
            nn.init.zeros_(self.residual.weight)
            nn.init.zeros_(self.residual.bias)

    def _forward(self, slices: Tensor, positions01: Tensor) -> DepthOutput:
        b, n, c, h, w = slices.shape
        if c not in (1, self.in_channels):
            raise ValueError(f"{type(self).__name__} takes 1 or {self.in_channels} channels, got {c}")
        groups = self._groups(slices)
        own, skips, context = self._encode(slices, positions01, groups)
        fused = self._decode(skips)
        term = self.head.stack_term(fused)
        logits = [self.head(f, term[i : i + 1], [c[k] for c in context])
                  for k, (f, (i, _)) in enumerate(zip(own, groups))]  # Eq. 5
        logits = torch.cat(logits, dim=1).view(b, n, h, w)
        depth = expected_position(logits, positions01)  # Eq. 6
        probabilities = torch.softmax(logits, dim=1)
        return DepthOutput(depth=depth, depth_scales=[depth], probabilities=probabilities,
                           all_in_focus=self._all_in_focus(probabilities, slices, fused))  # Eq. 7

    def _groups(self, slices: Tensor) -> list[tuple[int, slice]]:
        """Runs of slices of one stack that go through the per-slice layers together: (stack, slices).

        On the CPU a run's full-resolution features stay under ``group_bytes``: glibc serves
        allocations above 32 MiB with fresh pages from the OS at every call, and their page faults
        cost about a third of a 10 x 512 x 512 pass, while smaller blocks are reused. Elsewhere a run
        is the whole stack.
        """
        b, n, _, h, w = slices.shape
        per_slice = self.stem.image.out_channels * h * w * slices.element_size()
        size = n if slices.device.type != "cpu" else max(1, min(n, self.group_bytes // per_slice))
        size = -(-n // -(-n // size))  # balanced: 5 slices in runs of 3 + 2, not 4 + 1
        return [(i, slice(j, min(j + size, n))) for i in range(b) for j in range(0, n, size)]

    def _encode(self, slices: Tensor, positions01: Tensor,
                groups) -> tuple[list[Tensor], list[Tensor], list[list[Tensor]]]:
        """Shared stem, levels and bottleneck (Eq. 1-3), run by run of slices.

        Returns the runs' full-resolution features ((run length) x width x H x W each), the fused
        skips (B x C x h x w, the bottleneck last) and, for each of the head's ``head_context``
        levels, the runs' features of that level.
        """
        rgb = [slices[i, js].expand(-1, self.in_channels, -1, -1).contiguous(memory_format=torch.channels_last)
               for i, js in groups]
        own = [self.stem(x, positions01[i, js]) for x, (i, js) in zip(rgb, groups)]  # Eq. 1
        features, skips, context = own, [fuse_runs(own, groups)], []  # Eq. 3
        for depth, level in enumerate([*self.down, self.bottleneck], start=1):
            term = level.stack_term(skips[-1])
            features = [level(f, term[i : i + 1]) for f, (i, _) in zip(features, groups)]  # Eq. 2
            skips.append(fuse_runs(features, groups))  # Eq. 3
            if depth <= len(self.head.context):
                context.append(features)
        return own, skips, context

    def _decode(self, skips: list[Tensor]) -> Tensor:
        """Fused U-Net decoder (Eq. 4): from the bottleneck up through the fused skips to full resolution."""
        x, *finer = reversed(skips)
        for level, skip in zip(self.up, finer):
            x = level(x, skip)
        return x

    def _all_in_focus(self, weights: Tensor, slices: Tensor, fused: Tensor) -> Tensor:
        """Eq. 7: softmax-weighted slices plus the residual correction, clipped to [0, 1]."""
        aif = weighted_slices(weights, slices)
        if self.residual is not None:
            residual = conv_act(self.residual, fused, relu=False).contiguous()
            aif = aif + (residual if slices.shape[2] == residual.shape[1] else residual.mean(dim=1, keepdim=True))
        return aif.clamp(0.0, 1.0)


@register_model("daifnet", architecture="daifnet", memory=(120, 1300),
                width=16, levels=4, head_channels=16, head_kernel=1, head_context=2,
                description="DAIF-Net at the paper's size (width 16, 4 levels, ~1.96M parameters)")
def daifnet(**config) -> DAIFNet:
    return DAIFNet(**config)


@register_model("daifnet_light", architecture="daifnet", memory=(95, 620),
                width=8, levels=4, head_channels=8, head_kernel=1,
                stem_convs=1, head_context=2,
                description="CPU-light DAIF-Net (width 8, one full-resolution stem convolution, ~0.49M)")
def daifnet_light(**config) -> DAIFNet:
    return DAIFNet(**config)
