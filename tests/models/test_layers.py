import torch
import torch.nn.functional as F

from focalstack.models.layers import SliceConv3d


def test_slice_conv3d_equals_conv3d():
    torch.manual_seed(0)
    layer = SliceConv3d(4, 6, 3, stride=2, bias=True)
    x = torch.randn(2, 4, 5, 9, 12)
    reference = F.conv3d(x, layer.weight, layer.bias, stride=(1, 2, 2), padding=(1, 1, 1))
    assert torch.allclose(layer(x), reference, atol=1e-5)
    single = torch.randn(1, 4, 2, 8, 8)  # two slices: the padding slices matter
    assert torch.allclose(layer(single), F.conv3d(single, layer.weight, layer.bias, stride=(1, 2, 2),
                                                  padding=(1, 1, 1)), atol=1e-5)
