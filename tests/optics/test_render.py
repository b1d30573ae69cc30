"""Known-answer tests of the differentiable defocus renderers."""

import numpy as np
import pytest
import torch

from focalstack.optics import thin_lens as tl
from focalstack.optics.render import (
    DefocusRenderer,
    LayeredDefocusRenderer,
    render_defocus,
    render_defocus_layered,
    render_focal_stack,
)

LENS = dict(focal_length_mm=4.4, f_number=1.8, pixel_pitch_um=1.4)  # a phone main camera


def _texture(h, w, seed=0, channels=3):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(1, channels, h, w, generator=g, dtype=torch.float64)


def _lsf_variance(rendered_row):
    """Variance of the line-spread function (derivative of the edge-spread function)."""
    lsf = np.diff(rendered_row)
    x = np.arange(lsf.size)
    mean = (lsf * x).sum() / lsf.sum()
    return float((lsf * (x - mean) ** 2).sum() / lsf.sum())


@pytest.mark.parametrize("method", ["per_pixel", "layered"])
@pytest.mark.parametrize("psf", ["gaussian", "disc"])
@pytest.mark.parametrize("depth", [0.35, 0.5, 2.5, 5.0])
def test_edge_spread_matches_thin_lens_coc(method, psf, depth):
    """A vertical step edge on a plane at `depth`, focused at 1 m: the LSF variance is the PSF's."""
    h, w = 16, 96
    aif = torch.zeros(1, 1, h, w, dtype=torch.float64)
    aif[..., w // 2 :] = 1.0
    depth_map = torch.full((1, 1, h, w), depth, dtype=torch.float64)
    out = render_focal_stack(aif, depth_map, torch.tensor([1.0]), method=method, psf=psf, **LENS)
    radius = tl.coc_radius_px(depth, focus_distance_m=1.0, **LENS)
    expected = (0.5 * radius) ** 2 + 1 / 6 if psf == "gaussian" else radius**2 / 4 + 1 / 6  # + tent, see psf.py
    measured = _lsf_variance(out[0, 0, 0, h // 2].numpy())
    assert 2 < radius < 8  # the cases span small to large blur
    assert measured == pytest.approx(expected, rel=0.08)


@pytest.mark.parametrize("method", ["per_pixel", "layered"])
def test_region_at_the_focus_distance_equals_the_all_in_focus_image(method):
    aif = _texture(32, 48)
    depth = torch.full((1, 1, 32, 48), 0.7, dtype=torch.float64)
    depth[..., :, 24:] = 2.0  # right half far and blurred
    out = render_focal_stack(aif, depth, torch.tensor([0.7, 2.0]), method=method, **LENS)
    assert torch.allclose(out[0, 0, :, :, :16], aif[0, :, :, :16], atol=1e-9 if method == "layered" else 1e-6)
    assert torch.allclose(out[0, 1, :, :, 32:], aif[0, :, :, 32:], atol=1e-9 if method == "layered" else 1e-6)
    assert (out[0, 0, :, :, 32:] - aif[0, :, :, 32:]).abs().mean() > 0.05  # and the rest is blurred


def test_per_pixel_renderer_conserves_energy():
    """Scatter: every pixel's light is spread, none created or lost (no light near the borders)."""
    h, w = 64, 64
    aif = torch.zeros(1, 3, h, w, dtype=torch.float64)
    aif[..., 16:48, 16:48] = _texture(32, 32, seed=3)
    yy, xx = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    depth = (0.6 + 0.8 * xx / w + 0.1 * torch.sin(yy / 5.0)).to(torch.float64)[None, None]
    out = render_focal_stack(aif, depth, torch.tensor([0.5, 1.0, 1.5]), method="per_pixel", psf="disc", **LENS)
    radius = tl.coc_radius_px(depth, focus_distance_m=1.5, **LENS)
    assert 3 < radius.max() < 14  # real blur, and light stays inside the 16-pixel margin
    for n in range(3):
        assert out[0, n].sum().item() == pytest.approx(aif.sum().item(), rel=1e-9)


def test_layered_renderer_conserves_mean_on_smooth_depth():
    aif = _texture(48, 48, seed=5)
    yy, xx = torch.meshgrid(torch.arange(48), torch.arange(48), indexing="ij")
    depth = (0.5 + xx / 48.0).to(torch.float64)[None, None]
    out = render_focal_stack(aif, depth, torch.tensor([0.5, 1.5]), method="layered", **LENS)
    inner = (slice(None), slice(12, -12), slice(12, -12))
    for n in range(2):
        assert out[0, n][inner].mean().item() == pytest.approx(aif[0][inner].mean().item(), abs=0.01)


def _occlusion_scene():
    """Left: dark uniform foreground at 0.5 m. Right: bright textured background at 3 m."""
    h, w = 24, 64
    aif = torch.full((1, 3, h, w), 0.1, dtype=torch.float64)
    aif[..., 32:] = 0.5 + 0.5 * _texture(h, 32, seed=7)
    depth = torch.full((1, 1, h, w), 0.5, dtype=torch.float64)
    depth[..., 32:] = 3.0
    return aif, depth


def test_layered_blurred_background_does_not_bleed_over_a_sharp_foreground_edge():
    aif, depth = _occlusion_scene()
    focus = torch.tensor([0.5])  # foreground sharp, background radius ~6 px
    layered = render_focal_stack(aif, depth, focus, method="layered", **LENS)[0, 0]
    per_pixel = render_focal_stack(aif, depth, focus, method="per_pixel", **LENS)[0, 0]
    band = (slice(None), slice(None), slice(28, 32))  # C, H, W: the 4 foreground columns next to the edge
    assert (layered[band] - 0.1).abs().max() < 1e-6  # exactly the foreground
    assert (per_pixel[band] - 0.1).abs().max() > 0.1  # the naive scatter bleeds (what the layers prevent)


def test_layered_no_sharp_background_through_a_blurred_foreground():
    aif, depth = _occlusion_scene()
    focus = torch.tensor([3.0])  # background sharp, foreground blurred
    out = render_focal_stack(aif, depth, focus, method="layered", **LENS)[0, 0]
    fg_radius = tl.coc_radius_px(0.5, focus_distance_m=3.0, **LENS)
    assert fg_radius > 4
    # inside the foreground, light comes only from the (uniform) foreground: no background texture
    inside = out[:, 4:-4, 32 - int(fg_radius) : 30]
    assert (inside - 0.1).abs().max() < 1e-6
    # far into the background it is the sharp background
    assert torch.allclose(out[:, :, 32 + int(3 * 0.5 * fg_radius) + 2 :],
                          aif[0, :, :, 32 + int(3 * 0.5 * fg_radius) + 2 :], atol=1e-6)


def test_gradcheck_per_pixel_gaussian_and_disc():
    torch.manual_seed(0)
    aif = torch.rand(1, 2, 7, 7, dtype=torch.float64, requires_grad=True)
    radius = (0.3 + 1.5 * torch.rand(1, 2, 7, 7, dtype=torch.float64)).requires_grad_()
    for psf in ("gaussian", "disc"):
        assert torch.autograd.gradcheck(lambda a, r: render_defocus(a, r, psf=psf), (aif, radius), eps=1e-6,
                                        atol=1e-5)


def test_gradcheck_depth_through_the_thin_lens():
    torch.manual_seed(1)
    aif = torch.rand(1, 1, 6, 6, dtype=torch.float64, requires_grad=True)
    depth = (0.5 + torch.rand(1, 1, 6, 6, dtype=torch.float64)).requires_grad_()
    focus = torch.tensor([0.45, 1.7], dtype=torch.float64)  # no pixel exactly in focus (|d - F| kink)

    def per_pixel(a, d):
        return render_focal_stack(a, d, focus, method="per_pixel", **LENS)

    def layered(a, d):
        return render_defocus_layered(a, d, focus[None], num_layers=5, inverse_depth_range=(0.4, 2.2), **LENS)

    assert torch.autograd.gradcheck(per_pixel, (aif, depth), eps=1e-7, atol=1e-5)
    assert torch.autograd.gradcheck(layered, (aif, depth), eps=1e-7, atol=1e-5)


def test_layered_per_scene_plane_ranges_match_the_pair_form():
    """A B x 2 tensor of (far, near) diopters lays each scene's planes as the pair form does."""
    torch.manual_seed(2)
    aif = torch.rand(2, 3, 16, 16)
    depth = 0.5 + torch.rand(2, 1, 16, 16)
    focus = torch.tensor([[0.5, 1.0, 1.4], [0.6, 0.9, 2.0]])
    ranges = torch.tensor([[0.5, 2.2], [0.3, 2.0]])
    both = render_focal_stack(aif, depth, focus, method="layered", num_layers=6, inverse_depth_range=ranges, **LENS)
    for i in range(2):
        one = render_focal_stack(aif[i:i + 1], depth[i:i + 1], focus[i:i + 1], method="layered", num_layers=6,
                                 inverse_depth_range=tuple(ranges[i].tolist()), **LENS)
        torch.testing.assert_close(both[i:i + 1], one)
    # planes that follow the scene's own depth range differ (they span [1/1.5, 1/0.5] here)
    own = render_focal_stack(aif, depth, focus, method="layered", num_layers=6, **LENS)
    assert (own - both).abs().max() > 1e-3


def test_gradients_reach_depth_and_aif_in_float32():
    aif = torch.rand(2, 3, 16, 16, requires_grad=True)
    depth = (0.4 + torch.rand(2, 1, 16, 16)).requires_grad_()
    for module in (DefocusRenderer(), LayeredDefocusRenderer(psf="disc", num_layers=8)):
        out = module(aif, depth, torch.tensor([[0.5, 1.0], [0.7, 2.0]]), **LENS)
        out.square().mean().backward()
        assert aif.grad.abs().sum() > 0 and depth.grad.abs().sum() > 0
        aif.grad = depth.grad = None


def test_per_batch_cameras():
    aif = _texture(16, 16).float().repeat(2, 1, 1, 1)
    depth = torch.full((2, 1, 16, 16), 2.0)
    out = render_focal_stack(aif, depth, torch.tensor([1.0]), focal_length_mm=torch.tensor([4.4, 4.4]),
                             f_number=torch.tensor([1.8, 16.0]), pixel_pitch_um=1.4)
    blur = (out[:, 0] - aif).abs().mean(dim=(1, 2, 3))
    assert blur[0] > 3 * blur[1]  # f/1.8 blurs far more than f/16


def test_custom_psf_shape():
    hexagon = np.zeros((9, 9))
    yy, xx = np.indices((9, 9)) - 4
    hexagon[(np.abs(xx) <= 4) & (np.abs(yy) + np.abs(xx) / 2 <= 4)] = 1
    aif = _texture(24, 24).float()
    out = render_focal_stack(aif, torch.full((1, 1, 24, 24), 2.0), torch.tensor([1.0]), psf=hexagon, **LENS)
    assert out.shape == (1, 1, 3, 24, 24) and torch.isfinite(out).all()
    assert (out[0, 0] - aif[0]).abs().mean() > 0.02


def test_bad_inputs():
    aif = torch.rand(1, 3, 8, 8)
    with pytest.raises(ValueError):
        render_focal_stack(aif, torch.full((1, 1, 8, 9), 1.0), torch.tensor([1.0]), **LENS)
    with pytest.raises(ValueError):
        render_focal_stack(aif, torch.full((1, 1, 8, 8), -1.0), torch.tensor([1.0]), **LENS)
    with pytest.raises(ValueError):
        render_focal_stack(aif, torch.full((1, 1, 8, 8), 1.0), torch.tensor([1.0]), method="raytrace", **LENS)
    with pytest.raises(ValueError):
        render_focal_stack(aif, torch.full((1, 1, 8, 8), 1.0), torch.tensor([1.0]), focal_length_mm=-1,
                           f_number=2, pixel_pitch_um=1)


@pytest.mark.parametrize("method", ["per_pixel", "layered"])
@pytest.mark.parametrize("psf", ["gaussian", "disc"])
def test_direct_and_fft_convolutions_agree(method, psf):
    """float32 small kernels run as direct convolutions, float64 and large kernels through the FFT."""
    aif = _texture(40, 40, seed=9)
    yy, xx = torch.meshgrid(torch.arange(40), torch.arange(40), indexing="ij")
    depth = (0.8 + 0.2 * xx / 40.0).to(torch.float64)[None, None]
    focus = torch.tensor([0.85, 1.0])
    radius = tl.coc_radius_px(depth, focus_distance_m=focus[:, None, None, None].double(), **LENS)
    assert 0.5 < radius.max() < 2  # disc kernels of half-width 3: the direct path in float32
    fft = render_focal_stack(aif, depth, focus, method=method, psf=psf, **LENS)
    direct = render_focal_stack(aif.float(), depth.float(), focus, method=method, psf=psf, **LENS)
    assert torch.allclose(fft.float(), direct, atol=2e-5)


def _bilinear_shift(image, shift, axis):
    """image(x - shift) along ``axis`` with linear interpolation (wrapping at the borders)."""
    whole = int(np.floor(shift))
    frac = shift - whole
    return (1 - frac) * np.roll(image, whole, axis) + frac * np.roll(image, whole + 1, axis)


def _shift_and_add(image, radius, views=9):
    """C x H x W: the mean of the views x views copies shifted by radius * (i, j) / ((views - 1) / 2)."""
    half = (views - 1) / 2
    offsets = [radius * i / half for i in np.arange(-half, half + 1)]
    return np.mean([_bilinear_shift(_bilinear_shift(image, dy, -2), dx, -1) for dy in offsets for dx in offsets],
                   axis=0)


def _plane_at_radius(radius, focus=1.0):
    """Depth in metres (nearer than ``focus``) whose CoC radius in LENS is ``radius`` pixels."""
    far_limit = tl.coc_radius_px(1e12, focus_distance_m=focus, **LENS)  # R = (F - d) / d * far_limit
    return focus / (1 + radius / far_limit)


@pytest.mark.parametrize("method", ["per_pixel", "layered"])
def test_lightfield_plane_equals_shift_and_add_of_81_views(method):
    """A fronto-parallel plane with psf="lightfield" renders as 9 x 9 views refocused by shift-and-add.

    The layered renderer blurs the plane's layer with the kernel of its own radius (2.6 px here);
    the per-pixel renderer mixes pre-built kernel sizes, so it is exact where the radius is one of
    them (3.5 px) and elsewhere is the second-moment mixture of its two neighbours (2.5 and 3 px).
    """
    aif = _texture(40, 40, seed=11)
    radius = 3.5 if method == "per_pixel" else 2.6
    depth = torch.full((1, 1, 40, 40), _plane_at_radius(radius), dtype=torch.float64)
    out = render_focal_stack(aif, depth, torch.tensor([1.0]), method=method, psf="lightfield", **LENS)[0, 0]
    radius = float(tl.coc_radius_px(depth[0, 0, 0, 0], focus_distance_m=1.0, **LENS))
    assert radius == pytest.approx(3.5 if method == "per_pixel" else 2.6, abs=1e-9)
    inner = (slice(None), slice(6, -6), slice(6, -6))  # the border lost to padding: R + 2 px
    np.testing.assert_allclose(out.numpy()[inner], _shift_and_add(aif[0].numpy(), radius)[inner], atol=1e-4, rtol=0)


def test_per_pixel_lightfield_mixes_the_two_nearest_kernel_sizes_by_second_moment():
    aif = _texture(40, 40, seed=12)
    depth = torch.full((1, 1, 40, 40), _plane_at_radius(2.6), dtype=torch.float64)
    out = render_focal_stack(aif, depth, torch.tensor([1.0]), psf="lightfield", **LENS)[0, 0].numpy()
    radius = float(tl.coc_radius_px(depth[0, 0, 0, 0], focus_distance_m=1.0, **LENS))
    t = (radius**2 - 2.5**2) / (3.0**2 - 2.5**2)  # the weight on 3 px that gives the variance of 2.6 px
    image = aif[0].numpy()
    inner = (slice(None), slice(6, -6), slice(6, -6))
    mixed = (1 - t) * _shift_and_add(image, 2.5) + t * _shift_and_add(image, 3.0)
    np.testing.assert_allclose(out[inner], mixed[inner], atol=1e-4, rtol=0)
    error = np.abs(out - _shift_and_add(image, radius))[inner]
    assert 1e-4 < error.max() < 2e-2  # an approximation of the 2.6 px grid, near it


@pytest.mark.parametrize("method", ["per_pixel", "layered"])
@pytest.mark.parametrize("depth", [0.35, 2.5])
def test_lightfield_edge_spread_has_the_second_moment_of_the_view_grid(method, depth):
    h, w = 16, 96
    aif = torch.zeros(1, 1, h, w, dtype=torch.float64)
    aif[..., w // 2 :] = 1.0
    depth_map = torch.full((1, 1, h, w), depth, dtype=torch.float64)
    out = render_focal_stack(aif, depth_map, torch.tensor([1.0]), method=method, psf="lightfield", **LENS)
    radius = tl.coc_radius_px(depth, focus_distance_m=1.0, **LENS)
    expected = radius**2 * 10 / 24 + 1 / 6  # 9 views: R^2 (V + 1) / (3 (V - 1)); tents between 0 and 1/4
    assert _lsf_variance(out[0, 0, 0, h // 2].numpy()) == pytest.approx(expected, rel=0.05)


def test_gradcheck_lightfield():
    torch.manual_seed(3)
    aif = torch.rand(1, 1, 10, 10, dtype=torch.float64, requires_grad=True)
    depth = (0.5 + torch.rand(1, 1, 10, 10, dtype=torch.float64)).requires_grad_()
    focus = torch.tensor([[0.45, 1.7]], dtype=torch.float64)  # no pixel exactly in focus (|d - F| kink)

    def layered(a, d):
        return render_defocus_layered(a, d, focus, psf="lightfield", num_layers=5, inverse_depth_range=(0.4, 2.2),
                                      **LENS)

    assert torch.autograd.gradcheck(layered, (aif, depth), eps=1e-7, atol=1e-5)
    small = aif[..., :7, :7].detach().requires_grad_()
    radius = (0.3 + 1.5 * torch.rand(1, 2, 7, 7, dtype=torch.float64)).requires_grad_()  # levels 0 to 2 px
    assert torch.autograd.gradcheck(lambda a, r: render_defocus(a, r, psf="lightfield"), (small, radius), eps=1e-6,
                                    atol=1e-5)


@pytest.mark.parametrize("method", ["per_pixel", "layered"])
def test_lightfield_separable_direct_and_fft_convolutions_agree(method):
    """float32 light-field kernels up to half-width 8 run as two 1-D passes, float64 ones through the FFT."""
    aif = _texture(40, 40, seed=13)
    yy, xx = torch.meshgrid(torch.arange(40), torch.arange(40), indexing="ij")
    depth = (0.5 + 0.5 * xx / 40.0).to(torch.float64)[None, None]
    focus = torch.tensor([0.6, 1.0])
    radius = tl.coc_radius_px(depth, focus_distance_m=focus[:, None, None, None].double(), **LENS)
    assert 2 < radius.max() < 6  # half-widths 3 to 7: the separable direct path in float32
    fft = render_focal_stack(aif, depth, focus, method=method, psf="lightfield", **LENS)
    direct = render_focal_stack(aif.float(), depth.float(), focus, method=method, psf="lightfield", **LENS)
    assert torch.allclose(fft.float(), direct, atol=2e-5)
