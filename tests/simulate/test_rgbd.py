"""RGB-D scenes in every layout, the fixed splits, random views, random sweeps and the light-field camera."""

import json

import cv2
import numpy as np
import pytest

from focalstack import InputError
from focalstack.simulate.camera import PROFILES, CameraEffects, random_sweep, simulate_stack
from focalstack.simulate.dataset import SimulationConfig, generate, read_simulated, write_dataset
from focalstack.simulate.rgbd import (
    RGBD_DEV,
    RGBD_TEST,
    find_rgbd_scenes,
    load_rgbd_scene,
    random_view,
    remap_depth,
    rgbd_split,
)
from focalstack.simulate.scenes import Scene


def make_rgbd_folder(folder, *, shape=(90, 120), seed=0, holes=True):
    """An rgbd_more-layout scene: image.png and disparity.npy (a ramp plus a near square, NaN holes)."""
    rng = np.random.default_rng(seed)
    h, w = shape
    folder.mkdir(parents=True)
    image = (rng.random((h, w, 3)) * 255).astype(np.uint8)
    cv2.imwrite(str(folder / "image.png"), image)
    disparity = np.tile(np.linspace(10, 30, w, dtype=np.float32), (h, 1))
    disparity[h // 4: h // 2, w // 4: w // 2] = 50
    if holes:
        disparity[:5, :5] = np.nan
    np.save(folder / "disparity.npy", disparity)
    return disparity


def test_load_rgbd_npy_layout_maps_disparity_linearly_to_inverse_depth(tmp_path):
    disparity = make_rgbd_folder(tmp_path / "s")
    scene = load_rgbd_scene(tmp_path / "s", depth_range_m=(0.5, 2.0))
    assert scene.image.shape == (90, 120, 3) and scene.name == "s"
    assert not scene.valid[:5, :5].any() and scene.valid[5:, 5:].all()
    inverse = 1.0 / scene.depth_m[scene.valid]
    expected = 0.5 + (disparity[scene.valid] - 10) / 40 * (2.0 - 0.5)  # 10 px -> 2 m, 50 px -> 0.5 m
    np.testing.assert_allclose(inverse, expected, rtol=1e-5)
    assert np.isfinite(scene.depth_m).all()


def test_remap_depth_is_linear_in_inverse_depth():
    depth = np.array([[0.5, 1.0], [2.0, 0.8]], np.float32)
    scene = Scene(image=np.zeros((2, 2, 3), np.float32), depth_m=depth)
    out = remap_depth(scene, (0.2, 0.4))
    assert out.depth_m.min() == pytest.approx(0.2) and out.depth_m.max() == pytest.approx(0.4)
    t_in = (1 / depth - 0.5) / (2.0 - 0.5)
    t_out = (1 / out.depth_m - 2.5) / (5.0 - 2.5)
    np.testing.assert_allclose(t_in, t_out, atol=1e-5)
    with pytest.raises(InputError):
        remap_depth(scene, (0.4, 0.2))


def test_random_view_size_range_and_determinism(tmp_path):
    make_rgbd_folder(tmp_path / "s", shape=(100, 140))
    scene = load_rgbd_scene(tmp_path / "s")
    views = [random_view(scene, np.random.default_rng(k), size=64, depth_range_m=(0.1, 1.0)) for k in range(6)]
    for view in views:
        assert view.image.shape == (64, 64, 3) and view.depth_m.shape == (64, 64)
        assert view.depth_m.min() >= 0.1 - 1e-6 and view.depth_m.max() <= 1.0 + 1e-6
        assert view.valid.shape == (64, 64)
    again = random_view(scene, np.random.default_rng(3), size=64, depth_range_m=(0.1, 1.0))
    np.testing.assert_array_equal(again.image, views[3].image)
    assert len({float(v.depth_m.min()) for v in views}) > 1  # depth ranges differ between views
    with pytest.raises(InputError, match="smaller"):
        random_view(scene, np.random.default_rng(0), size=128, depth_range_m=(0.1, 1.0))


def test_splits_are_disjoint_and_the_held_out_ones_complete(tmp_path):
    root = tmp_path / "data"
    for name in (*RGBD_TEST, *RGBD_DEV, "train_a", "train_b"):
        make_rgbd_folder(root / "rgbd_more" / name, shape=(8, 8), holes=False)
    (root / "rgbd_more" / "not_a_scene").mkdir()
    assert len(find_rgbd_scenes(root)) == len(RGBD_TEST) + len(RGBD_DEV) + 2
    test, dev, train = (rgbd_split(root, s) for s in ("test", "dev", "train"))
    assert [p.name for p in test] == list(RGBD_TEST) and [p.name for p in dev] == list(RGBD_DEV)
    assert [p.name for p in train] == ["train_a", "train_b"]
    assert not set(test) & set(train) and not set(dev) & set(train) and not set(test) & set(dev)
    import shutil
    shutil.rmtree(root / "rgbd_more" / RGBD_TEST[4])
    with pytest.raises(InputError, match=RGBD_TEST[4]):
        rgbd_split(root, "test")
    with pytest.raises(InputError):
        rgbd_split(root, "val")


def test_random_sweep_stays_in_range_and_varies():
    profile = PROFILES["phone"]
    depth = np.full((4, 4), 0.5)
    depth[0, 0] = 0.25  # the scene spans 2-4 diopters
    sweeps = [random_sweep(profile, 6, np.random.default_rng(k), depth_m=depth) for k in range(40)]
    for sweep in sweeps:
        assert len(sweep) == 6 and np.all(np.diff(sweep) > 0)
        assert sweep.min() >= profile.depth_range_m[0] - 1e-9 and sweep.max() <= profile.depth_range_m[1] + 1e-9
    covers = [s.min() <= 0.25 and s.max() >= 0.5 for s in sweeps]
    assert any(covers) and not all(covers)  # some sweeps cover the scene, some do not
    with pytest.raises(ValueError):
        random_sweep(profile, 1, np.random.default_rng(0), depth_m=depth)


def test_lightfield_profile_blur_radius_is_four_disparity_steps():
    from focalstack.optics.thin_lens import coc_radius_px
    profile = PROFILES["lightfield"]
    scale, offset = profile.disparity
    for d, d_focus in ((2.0, -1.0), (-2.5, 0.5), (0.3, 0.3)):
        radius = coc_radius_px(scale / (d + offset), focus_distance_m=scale / (d_focus + offset),
                               focal_length_mm=profile.focal_length_mm, f_number=profile.f_number,
                               pixel_pitch_um=profile.simulated_pixel_pitch_um)
        assert radius == pytest.approx(4 * abs(d - d_focus), rel=2e-3)


def test_lightfield_stack_is_in_disparity_with_the_benchmark_protocol(tmp_path):
    config = SimulationConfig(profile="lightfield", num=1, size=32, slices=10, seed=1, psf="lightfield")
    write_dataset(config, tmp_path / "lf")
    sim = read_simulated(tmp_path / "lf" / "000000")
    stack = sim.to_focal_stack()
    assert stack.unit == "disparity"
    np.testing.assert_allclose(np.sort(stack.focus_positions), np.linspace(-2.5, 2.5, 10), atol=1e-6)
    np.testing.assert_allclose(sim.warps[:, :, :2], np.tile(np.eye(2), (10, 1, 1)))  # no breathing
    disparity = sim.disparity(sim.depth_m)
    assert disparity.min() >= -3 - 1e-4 and disparity.max() <= 3 + 1e-4
    from focalstack.eval.datasets.simulated import SimulatedStacks
    sample = SimulatedStacks(tmp_path / "lf")[0]
    np.testing.assert_allclose(sample.depth, disparity)


def test_rgbd_views_with_random_sweeps_make_a_dataset(tmp_path):
    make_rgbd_folder(tmp_path / "scene", shape=(80, 100))
    config = SimulationConfig(profile="microscope", num=2, size=48, slices=4, seed=3,
                              scenes=(str(tmp_path / "scene"),), sweep="random", rgbd_views=True)
    a, b = generate(config, 0), generate(config, 1)
    assert a.slices.shape == (4, 48, 48, 3) and not np.array_equal(a.focus_distances_m, b.focus_distances_m)
    np.testing.assert_array_equal(generate(config, 0).slices, a.slices)
    near, far = PROFILES["microscope"].depth_range_m
    assert a.depth_m.min() >= near - 1e-7 and a.depth_m.max() <= far + 1e-7
    # datasets written before `sweep` and `rgbd_views` existed still resume (their defaults fill in)
    write_dataset(SimulationConfig(profile="phone", num=1, size=16, slices=2, seed=0), tmp_path / "old")
    meta = json.loads((tmp_path / "old" / "dataset.json").read_text())
    for key in ("sweep", "rgbd_views"):
        del meta[key]
    (tmp_path / "old" / "dataset.json").write_text(json.dumps(meta))
    assert write_dataset(SimulationConfig(profile="phone", num=2, size=16, slices=2, seed=0), tmp_path / "old") == 1


def test_effects_none_lightfield_keeps_slices_noise_free():
    scene = Scene(image=np.full((24, 24, 3), 0.5, np.float32), depth_m=np.full((24, 24), 2.0, np.float32))
    stack = simulate_stack(scene, "lightfield", num_slices=3, effects=CameraEffects.none(),
                           rng=np.random.default_rng(0))
    np.testing.assert_allclose(stack.slices, 0.5, atol=1e-4)
    assert stack.info["psf"] == "lightfield" and stack.info["disparity"] == [10.0, 5.0]
