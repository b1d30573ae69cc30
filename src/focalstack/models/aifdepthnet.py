"""AiFDepthNet-style network (Wang et al., "Bridging Unsupervised and Supervised Depth from Focus via
All-in-Focus Supervision", ICCV 2021).

A 3D ConvNet over the focal stack produces one attention map M (B x N x H x W) shared by two
heads (the normalisation equations as written in the supplement of Won & Jeon, ECCV 2022, Eq. 1-3):

    depth = sum_j sigma(M)_j F_j,   sigma = softplus(M) / sum_j softplus(M)      (Eq. 1)
    AiF   = sum_j zeta(M)_j I_j,    zeta  = softmax over j                       (Eq. 2-3)

Layout (choices where the project page leaves details open, following the authors' released
code in spirit): a per-slice 2D feature extractor that downsamples by 4 (strided convolution +
residual blocks), the slices stacked as a 3D volume (channels x N x H/4 x W/4), a chain of 3D
hourglasses (slice-major volumes, :mod:`.layers`) that downsample only in space (N may be as
small as 2), each emitting attention logits that are upsampled to full resolution; every
hourglass output is one "scale" for multi-scale losses, the last is the prediction.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .base import DepthOutput, FocalStackNet
from .layers import SliceBatchNorm, SliceConv3d
from .registry import register_model


def _conv2d(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


def _conv3d(cin: int, cout: int, stride: int = 1, relu: bool = True) -> nn.Sequential:
    """3 x 3 x 3 convolution (stride only in space) + batch norm (+ ReLU)."""
    layers = [SliceConv3d(cin, cout, 3, stride, bias=False), SliceBatchNorm(cout)]
    return nn.Sequential(*layers, nn.ReLU(inplace=True)) if relu else nn.Sequential(*layers)


def _upsample_space(x: Tensor, like: Tensor) -> Tensor:
    """Bilinear upsampling of a slice-major B x N x C x h x w volume to ``like``'s spatial size."""
    up = F.interpolate(x.flatten(0, 1), size=like.shape[-2:], mode="bilinear", align_corners=False)
    return up.reshape(*x.shape[:3], *like.shape[-2:])


class ResBlock2d(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(_conv2d(channels, channels), nn.Conv2d(channels, channels, 3, 1, 1, bias=False),
                                  nn.BatchNorm2d(channels))

    def forward(self, x: Tensor) -> Tensor:
        return F.relu(x + self.body(x))


class Hourglass3d(nn.Module):
    """Encoder-decoder in 3D that halves H and W twice (never N), with skip connections.

    Upsampling is bilinear in space followed by a 3 x 3 x 3 convolution (instead of a
    transposed 3D convolution, which has no fast CPU kernel).
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        c = channels
        self.down1 = nn.Sequential(_conv3d(c, 2 * c, 2), _conv3d(2 * c, 2 * c))
        self.down2 = nn.Sequential(_conv3d(2 * c, 2 * c, 2), _conv3d(2 * c, 2 * c))
        self.up2 = _conv3d(2 * c, 2 * c, relu=False)
        self.up1 = _conv3d(2 * c, c, relu=False)

    def forward(self, x: Tensor) -> Tensor:
        d1 = self.down1(x)
        d2 = self.down2(d1)
        u2 = F.relu(self.up2(_upsample_space(d2, d1)) + d1)
        return F.relu(self.up1(_upsample_space(u2, x)) + x)


class AiFDepthNet(FocalStackNet):
    """Shared-attention depth + all-in-focus network.

    Args:
        features: channels of the per-slice 2D features (at 1/4 resolution).
        volume: channels of the 3D volume.
        blocks: residual blocks in the 2D feature extractor.
        hourglasses: stacked 3D hourglasses (each gives one output scale).
        in_channels: 3 for RGB stacks (grey stacks are repeated to 3 channels).
    """

    size_multiple = 16

    def __init__(self, *, features: int = 32, volume: int = 32, blocks: int = 4, hourglasses: int = 3,
                 in_channels: int = 3) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.extract = nn.Sequential(_conv2d(in_channels, features, 2), _conv2d(features, features),
                                     _conv2d(features, features, 2), *[ResBlock2d(features) for _ in range(blocks)])
        self.to_volume = nn.Sequential(_conv3d(features, volume), _conv3d(volume, volume))
        self.hourglasses = nn.ModuleList(Hourglass3d(volume) for _ in range(hourglasses))
        self.heads = nn.ModuleList(nn.Sequential(_conv3d(volume, volume), SliceConv3d(volume, 1, 3))
                                   for _ in range(hourglasses))

    def _forward(self, slices: Tensor, positions01: Tensor) -> DepthOutput:
        b, n, c, h, w = slices.shape
        x = slices if c == self.in_channels else slices.expand(b, n, self.in_channels, h, w)
        feats = self.extract(x.reshape(b * n, self.in_channels, h, w))
        volume = self.to_volume(feats.reshape(b, n, *feats.shape[1:]))  # slice-major B, N, C, h, w
        depths, aifs, attention = [], [], None
        for hourglass, head in zip(self.hourglasses, self.heads):
            volume = hourglass(volume)
            logits = head(volume)[:, :, 0]  # B, N, h/4, w/4
            attention = F.interpolate(logits, size=(h, w), mode="bilinear", align_corners=False)
            depth_weights = F.softplus(attention)
            depth_weights = depth_weights / depth_weights.sum(dim=1, keepdim=True).clamp_min(1e-8)  # Eq. 1
            depths.append((depth_weights * positions01[:, :, None, None]).sum(dim=1, keepdim=True))
            aif_weights = torch.softmax(attention, dim=1)  # Eq. 3
            aifs.append((aif_weights.unsqueeze(2) * slices).sum(dim=1))  # Eq. 2
        return DepthOutput(depth=depths[-1], all_in_focus=aifs[-1], depth_scales=depths, aif_scales=aifs,
                           probabilities=torch.softmax(attention, dim=1))


@register_model("aifdepthnet", architecture="aifdepthnet", memory=(150, 30),
                features=32, volume=32, blocks=4, hourglasses=3,
                description="AiFDepthNet-style network at the paper's scale (3 stacked 3D hourglasses)")
def aifdepthnet(**config) -> AiFDepthNet:
    return AiFDepthNet(**config)


@register_model("aifdepthnet_light", architecture="aifdepthnet", memory=(55, 60),
                features=16, volume=8, blocks=1, hourglasses=1,
                description="CPU-light AiFDepthNet-style network (one narrow 3D hourglass)")
def aifdepthnet_light(**config) -> AiFDepthNet:
    return AiFDepthNet(**config)
