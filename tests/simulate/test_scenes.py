import cv2
import numpy as np
import pytest

from focalstack import InputError
from focalstack.simulate.scenes import (
    Layer,
    Scene,
    composite_layers,
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
