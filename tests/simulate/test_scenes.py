import cv2
import numpy as np
import pytest

from focalstack import InputError
from focalstack.simulate.scenes import (
    Layer,
    Scene,
    _dead_leaves_layers,
    _dead_leaves_radii,
    composite_layers,
    dead_leaves_scene,
    load_middlebury2003,
    load_rgbd,
    load_tsukuba,
    procedural_layers,
    procedural_scene,
    scene_from_rgbd,
)


def test_procedural_scene_depth_in_range_and_deterministic():
    a = procedural_scene(np.random.default_rng(3), size=(64, 80), depth_range_m=(0.2, 1.5))
    b = procedural_scene(np.random.default_rng(3), size=(64, 80), depth_range_m=(0.2, 1.5))
    assert a.image.shape == (64, 80, 3) and a.depth_m.shape == (64, 80) and a.depth_m.dtype == np.float32
    assert a.depth_m.min() >= 0.2 - 1e-5 and a.depth_m.max() <= 1.5 + 1e-5
    np.testing.assert_array_equal(a.image, b.image)
    np.testing.assert_array_equal(a.depth_m, b.depth_m)


def test_procedural_scenes_vary_and_have_several_depth_layers():
    scenes = [procedural_scene(np.random.default_rng(s), size=(64, 64)) for s in range(10)]
    assert len({s.depth_m.tobytes() for s in scenes}) == 10
    distinct = [len(np.unique(np.round(1 / s.depth_m, 3))) for s in scenes]
    assert np.median(distinct) > 3
    # depth edges coincide with image edges somewhere: shapes are textured differently from what they cover
    assert all(np.abs(np.diff(s.depth_m, axis=1)).max() > 0 for s in scenes)


def test_nearer_layers_occlude_farther_ones():
    h, w = 20, 20
    background = Layer(np.ones((h, w), bool), np.zeros((h, w, 3), np.float32), np.full((h, w), 0.5, np.float32))
    far_mask = np.zeros((h, w), bool)
    far_mask[2:12, 2:12] = True
    near_mask = np.zeros((h, w), bool)
    near_mask[8:18, 8:18] = True
    far = Layer(far_mask, np.full((h, w, 3), 0.3, np.float32), np.full((h, w), 1.0, np.float32))
    near = Layer(near_mask, np.full((h, w, 3), 0.9, np.float32), np.full((h, w), 2.0, np.float32))
    image, inverse = composite_layers(background, [far, near])
    assert inverse[10, 10] == 2.0 and image[10, 10, 0] == pytest.approx(0.9)  # overlap: the near one
    assert inverse[4, 4] == 1.0 and inverse[0, 0] == 0.5


def test_scene_from_disparity_maps_linearly_in_inverse_depth():
    disparity = np.tile(np.linspace(1, 10, 16), (8, 1))
    disparity[0, 0] = 0  # unknown
    scene = scene_from_rgbd(np.zeros((8, 16, 3), np.uint8), disparity=disparity, depth_range_m=(0.5, 2.0))
    inverse = 1 / scene.depth_m
    assert inverse[1, -1] == pytest.approx(2.0) and inverse[1, 1] == pytest.approx(1 / 2.0 + 1.5 * (0.6 / 9), rel=1e-5)
    np.testing.assert_allclose(np.diff(inverse[1]), np.diff(inverse[1])[0], rtol=1e-4)
    assert not scene.valid[0, 0] and scene.valid.sum() == 8 * 16 - 1
    assert 0.5 <= scene.depth_m[0, 0] <= 2.0  # filled in


def test_scene_from_metric_depth_and_bad_inputs():
    depth = np.full((4, 5), 1.25)
    scene = scene_from_rgbd(np.ones((4, 5), np.float32), depth_m=depth)
    assert scene.image.shape == (4, 5, 3) and np.allclose(scene.depth_m, 1.25)
    with pytest.raises(InputError):
        scene_from_rgbd(np.ones((4, 5, 3)), depth_m=depth, disparity=depth)
    with pytest.raises(InputError):
        scene_from_rgbd(np.ones((4, 5, 3)), disparity=depth)  # no range
    with pytest.raises(InputError):
        scene_from_rgbd(np.ones((4, 6, 3)), depth_m=depth)
    with pytest.raises(InputError):
        scene_from_rgbd(np.ones((4, 5, 3)), depth_m=np.zeros((4, 5)))
    with pytest.raises(ValueError):
        Scene(image=np.ones((4, 5, 3), np.float32), depth_m=-np.ones((4, 5), np.float32))


def test_middlebury_and_tsukuba_loaders(tmp_path):
    rgb = (np.random.default_rng(0).random((12, 16, 3)) * 255).astype(np.uint8)
    mid = tmp_path / "cones"
    mid.mkdir()
    cv2.imwrite(str(mid / "im2.png"), rgb)
    disp = np.tile(np.arange(16, dtype=np.uint8) * 8 + 40, (12, 1))  # value / 4 = 10 .. 40 px
    disp[:, 0] = 0
    cv2.imwrite(str(mid / "disp2.pgm"), disp)
    scene = load_rgbd(mid, depth_range_m=(1.0, 4.0))
    assert scene.name == "middlebury2003/cones" and not scene.valid[:, 0].any()
    assert scene.depth_m[0, -1] == pytest.approx(1.0) and scene.depth_m[0, 1] == pytest.approx(4.0)
    np.testing.assert_allclose(scene.image, rgb[..., ::-1].astype(np.float32) / 255, atol=1e-6)

    tsu = tmp_path / "tsukuba"
    tsu.mkdir()
    cv2.imwrite(str(tsu / "left.png"), rgb)
    truth = np.full((12, 16), 80, np.uint8)  # disparity 5
    truth[:, 8:] = 224  # disparity 14
    truth[0] = 0
    cv2.imwrite(str(tsu / "groundtruth.png"), truth)
    scene = load_tsukuba(tsu, depth_range_m=(0.5, 2.0))
    assert scene.depth_m[5, 12] == pytest.approx(0.5) and scene.depth_m[5, 2] == pytest.approx(2.0)
    assert load_rgbd(tsu).name == "tsukuba/tsukuba"
    assert load_middlebury2003(mid).image.shape == (12, 16, 3)
    with pytest.raises(InputError):
        load_rgbd(tmp_path)


def test_composite_depth_test_keeps_the_nearer_surface_whatever_the_order():
    h, w = 10, 10
    background = Layer(np.ones((h, w), bool), np.zeros((h, w, 3), np.float32), np.full((h, w), 0.5, np.float32))
    near = Layer(np.ones((h, w), bool), np.full((h, w, 3), 0.9, np.float32), np.full((h, w), 2.0, np.float32))
    tilted = np.tile(np.linspace(0.0, 3.0, w, dtype=np.float32), (h, 1))  # crosses both: behind left, in front right
    slanted = Layer(np.ones((h, w), bool), np.full((h, w, 3), 0.3, np.float32), tilted)
    image, inverse = composite_layers(background, [near, slanted])  # wrong order on purpose
    np.testing.assert_array_equal(inverse, np.maximum(np.maximum(tilted, 2.0), 0.5))
    assert image[0, 0, 0] == pytest.approx(0.9) and image[0, -1, 0] == pytest.approx(0.3)


def test_procedural_scene_shows_the_nearest_covering_surface_everywhere(monkeypatch):
    import focalstack.simulate.scenes as scenes

    seen = []

    def recording(background, layers):
        seen.append((background, list(layers)))
        return composite_layers(background, layers)

    monkeypatch.setattr(scenes, "composite_layers", recording)
    for seed in range(5):
        scene = procedural_scene(np.random.default_rng(seed), size=(48, 48), num_shapes=(6, 6))
        background, layers = seen[-1]
        nearest = background.inverse_depth.copy()
        for layer in layers:
            nearest = np.where(layer.mask, np.maximum(nearest, layer.inverse_depth), nearest)
        np.testing.assert_allclose(1 / scene.depth_m, nearest, rtol=1e-5)


def test_tsukuba_palette_png_and_bad_depth_range(tmp_path):
    from PIL import Image

    tsu = tmp_path / "tsu"
    tsu.mkdir()
    cv2.imwrite(str(tsu / "left.png"), np.zeros((6, 8, 3), np.uint8))
    truth = np.full((6, 8), 80, np.uint8)
    truth[:, 4:] = 160
    truth[0] = 0
    palette = Image.fromarray(truth, mode="L").convert("P")  # identity grey palette, as the real file
    palette.putpalette([v for g in range(256) for v in (g, g, g)])
    palette.save(tsu / "groundtruth.png")
    assert Image.open(tsu / "groundtruth.png").mode == "P"
    scene = load_tsukuba(tsu, depth_range_m=(1.0, 2.0))
    assert scene.depth_m[3, 6] == pytest.approx(1.0) and scene.depth_m[3, 1] == pytest.approx(2.0)
    assert not scene.valid[0].any() and scene.valid[1:].all()
    with pytest.raises(InputError):
        load_tsukuba(tsu, depth_range_m=(2.0, 1.0))


def test_procedural_layers_include_polygons_and_ellipses():
    kinds = set()
    for seed in range(10):
        background, layers = procedural_layers(np.random.default_rng(seed), size=(48, 48), depth_range_m=(0.3, 3.0),
                                               num_shapes=(3, 10), natural_probability=0.0)
        assert background.kind == "background" and 3 <= len(layers) <= 10
        kinds |= {layer.kind for layer in layers}
    assert kinds == {"polygon", "ellipse"}
    with pytest.raises(ValueError):
        procedural_scene(np.random.default_rng(0), size=(4, 4))


DEAD_LEAVES = dict(size=(96, 96), depth_range_m=(0.3, 3.0), natural_probability=0.7, flat_probability=0.3,
                   num_leaves=(20, 150), num_thin=(0, 6))


def _nearest_inverse_depth(background, layers):
    """At every pixel, the largest inverse depth of the background and of the layers that cover it."""
    nearest = background.inverse_depth.copy()
    for layer in layers:
        rows, cols = layer.window()
        nearest[rows, cols] = np.where(layer.mask, np.maximum(nearest[rows, cols], layer.inverse_depth),
                                       nearest[rows, cols])
    return nearest


def _owners(background, layers):
    """Index of the layer seen at every pixel (-1: the background), painted far to near with the depth test."""
    owner = np.full(background.mask.shape, -1)
    inverse = background.inverse_depth.copy()
    for i, layer in enumerate(layers):
        rows, cols = layer.window()
        wins = layer.mask & (layer.inverse_depth >= inverse[rows, cols])
        owner[rows, cols][wins], inverse[rows, cols][wins] = i, layer.inverse_depth[wins]
    return owner


def _low_variance_fraction(image, *, window=7, threshold=0.01):
    """Fraction of pixels whose luminance standard deviation over a window x window box is below threshold."""
    luminance = image.mean(axis=-1)
    mean = cv2.blur(luminance, (window, window))
    variance = np.maximum(cv2.blur(luminance * luminance, (window, window)) - mean * mean, 0)
    return float((np.sqrt(variance) < threshold).mean())


def test_composite_paints_windowed_layers_at_their_origin():
    h, w = 12, 16
    background = Layer(np.ones((h, w), bool), np.zeros((h, w, 3), np.float32), np.full((h, w), 0.5, np.float32))
    small = Layer(np.ones((3, 4), bool), np.full((3, 4, 3), 0.7, np.float32), np.full((3, 4), 1.0, np.float32),
                  origin=(5, 9))
    image, inverse = composite_layers(background, [small])
    assert small.window() == (slice(5, 8), slice(9, 13))
    assert (inverse[5:8, 9:13] == 1.0).all() and inverse.sum() == 0.5 * (h * w - 12) + 12
    assert (image[5:8, 9:13] == np.float32(0.7)).all() and image.sum() == pytest.approx(0.7 * 36)


def test_dead_leaves_scene_is_deterministic_and_seeds_differ():
    a = dead_leaves_scene(np.random.default_rng(5), size=(64, 80))
    b = dead_leaves_scene(np.random.default_rng(5), size=(64, 80))
    c = dead_leaves_scene(np.random.default_rng(6), size=(64, 80))
    assert a.name == "dead_leaves" and a.image.shape == (64, 80, 3) and a.depth_m.shape == (64, 80)
    assert a.image.dtype == np.float32 and a.depth_m.dtype == np.float32
    np.testing.assert_array_equal(a.image, b.image)
    np.testing.assert_array_equal(a.depth_m, b.depth_m)
    assert not np.array_equal(a.image, c.image) and not np.array_equal(a.depth_m, c.depth_m)


def test_dead_leaves_depth_and_image_stay_in_range():
    for seed in range(5):
        scene = dead_leaves_scene(np.random.default_rng(seed), size=(64, 64), depth_range_m=(0.5, 2.0))
        assert scene.depth_m.min() >= 0.5 - 1e-5 and scene.depth_m.max() <= 2.0 + 1e-5
        assert scene.image.min() >= 0.0 and scene.image.max() <= 1.0
        inverse = 1 / scene.depth_m  # diopters in [0.5, 2]: most of the range is used
        assert inverse.max() - inverse.min() > 0.6 * (2.0 - 0.5)


def test_dead_leaves_show_the_nearest_surface_at_every_pixel():
    kinds = set()
    for seed in range(4):
        background, layers = _dead_leaves_layers(np.random.default_rng(seed), **DEAD_LEAVES)
        scene = dead_leaves_scene(np.random.default_rng(seed), **DEAD_LEAVES)
        np.testing.assert_allclose(1 / scene.depth_m, _nearest_inverse_depth(background, layers), rtol=1e-5)
        leaves = [layer for layer in layers if layer.kind != "thin"]
        assert background.kind == "background" and 20 <= len(leaves) <= 150
        assert len(np.unique(_owners(background, layers))) > 15  # many distinct surfaces are seen
        kinds |= {layer.kind for layer in layers}
    assert {"disc", "ellipse", "polygon", "thin"} <= kinds


def test_dead_leaves_radii_follow_the_power_law():
    side = 200
    radii = _dead_leaves_radii(np.random.default_rng(0), 20000, side)
    r_min, r_max = 0.02 * side, 0.4 * side
    assert radii.min() >= r_min and radii.max() <= r_max
    for r in (5.0, 8.0, 16.0, 40.0):  # CDF of a density ~ r^-3 on [r_min, r_max]
        expected = (r_min**-2 - r**-2) / (r_min**-2 - r_max**-2)
        assert (radii <= r).mean() == pytest.approx(expected, abs=0.01)


def test_dead_leaves_thin_structures_are_thin_and_in_front_of_what_they_cross():
    distances = []
    for seed in range(6):
        background, layers = _dead_leaves_layers(np.random.default_rng(seed), **{**DEAD_LEAVES, "num_thin": (4, 4)})
        thin = [i for i, layer in enumerate(layers) if layer.kind == "thin"]
        assert len(thin) == 4 and thin == list(range(len(layers) - 4, len(layers)))  # drawn last
        for i in thin:
            layer = layers[i]
            behind = _nearest_inverse_depth(background, layers[:i])[layer.window()][layer.mask]
            assert (layer.inverse_depth[layer.mask] >= behind).all()
            padded = np.pad(layer.mask, 1).astype(np.uint8)  # distance to the nearest pixel off the stroke
            distances.append(cv2.distanceTransform(padded, cv2.DIST_L2, 5)[1:-1, 1:-1][layer.mask])
    distances = np.concatenate(distances)
    assert np.median(distances) <= 2.0 and (distances > 2.5).mean() < 0.05  # 1-4 px wide but at junctions
    counts = [sum(layer.kind == "thin" for layer in _dead_leaves_layers(np.random.default_rng(s), **DEAD_LEAVES)[1])
              for s in range(10)]
    assert max(counts) <= 6 and sum(c > 0 for c in counts) >= 5


def test_dead_leaves_flat_probability_gives_texture_poor_regions():
    def flat_fraction(probability, seed):
        scene = dead_leaves_scene(np.random.default_rng(seed), size=(96, 96), flat_probability=probability)
        return _low_variance_fraction(scene.image)

    forced = [flat_fraction(1.0, seed) for seed in range(8)]
    never = [flat_fraction(0.0, seed) for seed in range(8)]
    assert np.mean(forced) > 0.15 and np.mean(forced) > 4 * np.mean(never)
    assert max(forced) > 0.3  # a large untextured wall or sky in some scenes


@pytest.mark.parametrize("bad", [
    {"size": (8, 8)}, {"size": (64,)}, {"size": (64.0, 64)}, {"depth_range_m": (2.0, 1.0)},
    {"depth_range_m": (0.0, 1.0)}, {"depth_range_m": (0.5, float("inf"))}, {"natural_probability": 1.5},
    {"flat_probability": -0.1}, {"num_leaves": (5, 2)}, {"num_thin": (-1, 3)},
])
def test_dead_leaves_bad_arguments_raise(bad):
    with pytest.raises(ValueError):
        dead_leaves_scene(np.random.default_rng(0), **bad)


def test_dead_leaves_needs_a_numpy_generator():
    with pytest.raises(ValueError):
        dead_leaves_scene(np.random.RandomState(0))  # legacy generator, not a numpy.random.Generator
