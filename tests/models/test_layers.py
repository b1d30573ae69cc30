import torch
import torch.nn.functional as F

from focalstack.models.layers import SliceBatchNorm, SliceConv3d


def test_slice_conv3d_equals_conv3d():
    torch.manual_seed(0)
    layer = SliceConv3d(4, 6, 3, stride=2, bias=True)
    for x in (torch.randn(2, 4, 5, 9, 12), torch.randn(1, 4, 2, 8, 8)):  # B, C, N, H, W; N = 2: padding matters
        reference = F.conv3d(x, layer.weight, layer.bias, stride=(1, 2, 2), padding=(1, 1, 1))
        out = layer(x.transpose(1, 2))  # slice-major in, slice-major out
        assert torch.allclose(out.transpose(1, 2), reference, atol=1e-5)


def test_slice_batch_norm_equals_batch_norm_3d():
    x = torch.randn(2, 5, 4, 6, 7)  # B, N, C, H, W
    ours, reference = SliceBatchNorm(4).train(), torch.nn.BatchNorm3d(4).train()
    assert torch.allclose(ours(x).transpose(1, 2), reference(x.transpose(1, 2)), atol=1e-5)
