"""Layers shared by the architectures.

Volumes are kept **slice-major**, B x N x C x H x W. :class:`SliceConv3d` is a 3D convolution
over (slices, height, width) with a kernel of 3 along the slice axis, computed as one 2D
convolution over each slice and its two neighbours stacked as channels. It is numerically the
same as ``nn.Conv3d(cin, cout, (3, k, k), (1, s, s), (1, k // 2, k // 2))`` but runs through
the fast 2D convolution kernels: PyTorch's CPU build falls back to a slow reference
implementation for ``Conv3d`` in many shapes (measured here: 16 -> 16 channels on 5 x 64 x 64,
72 ms as Conv3d vs a few ms as 2D).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class SliceConv3d(nn.Module):
    """3 x k x k convolution over a **slice-major** volume B x N x C x H x W.

    Stride 1 over slices and ``stride`` in space; zero padding along the slice axis (as
    ``Conv3d`` with padding 1), ``k // 2`` in space. Keeping the slices ahead of the channels
    lets consecutive layers run without transposes: each of the three slice offsets is one
    ``conv2d`` over the B x N planes, and the results are added with a shift of one slice.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3, stride: int = 1,
                 bias: bool = True) -> None:
        super().__init__()
        self.stride, self.padding = stride, kernel_size // 2
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels, 3, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))  # Conv3d's default initialisation

    def forward(self, x: Tensor) -> Tensor:
        b, n, c, h, w = x.shape
        planes = x.reshape(b * n, c, h, w)
        # one 2D convolution per slice offset t (weights [:, :, t]); slice k receives offset t from slice k + t - 1
        taps = [F.conv2d(planes, self.weight[:, :, t], None, self.stride, self.padding) for t in range(3)]
        taps = [tap.reshape(b, n, *tap.shape[1:]) for tap in taps]
        out = taps[1].clone() if self.bias is None else taps[1] + self.bias[:, None, None]
        if n > 1:
            out[:, 1:] += taps[0][:, :-1]
            out[:, :-1] += taps[2][:, 1:]
        return out


class SliceBatchNorm(nn.BatchNorm2d):
    """Batch norm of a slice-major volume B x N x C x H x W (statistics over B, N, H, W)."""

    def forward(self, x: Tensor) -> Tensor:
        return super().forward(x.flatten(0, 1)).reshape(x.shape)
