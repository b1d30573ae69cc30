"""Benchmark loaders on tiny fixtures written in each benchmark's exact on-disk format.

DDFF-12 (HDF5), 4D Light Field (PNG views + PFM, with a known-answer refocusing test), FoD500
(TIFF + EXR), Smartphone (JPEG + PNG + EXR), Mobile Depth (JPEG + focus_distance.txt), PFM.
"""

from __future__ import annotations

import pickle

import cv2
import h5py
import numpy as np
import OpenEXR
import pytest

from focalstack.errors import InputError
from focalstack.eval.datasets.base import LOADERS
from focalstack.eval.datasets.ddff12 import DDFF12, DISPARITIES
from focalstack.eval.datasets.fod500 import FOCUS_DISTANCES_M, FoD500
from focalstack.eval.datasets.hci4d import (
    ADDITIONAL_SCENES,
    FOCUS_DISPARITIES,
    HCI4D,
    STRATIFIED_SCENES,
    TEST_SCENES,
    refocus,
)
from focalstack.eval.datasets.mobile_depth import MobileDepth
from focalstack.eval.datasets.smartphone import FOCUS_DISTANCES_MM, Smartphone, slice_indices
from focalstack.io.pfm import read_pfm, write_pfm


def _write_exr(path, channels, dtype=np.float16):
    header = {"type": OpenEXR.scanlineimage, "compression": OpenEXR.ZIP_COMPRESSION}
    OpenEXR.File(header, {k: np.asarray(v, dtype) for k, v in channels.items()}).write(str(path))


def test_all_loaders_are_registered():
    for name, cls in [("ddff12", DDFF12), ("hci4d", HCI4D), ("fod500", FoD500), ("smartphone", Smartphone),
                      ("mobile_depth", MobileDepth)]:
        assert LOADERS[name] is cls and cls.dataset_name == name


# --- PFM ------------------------------------------------------------------------------------------

def test_pfm_round_trip_grey_and_colour(tmp_path):
    grey = np.arange(12, dtype=np.float32).reshape(3, 4) - 5.5
    colour = np.random.default_rng(0).random((3, 4, 3), dtype=np.float32)
    write_pfm(tmp_path / "g.pfm", grey)
    write_pfm(tmp_path / "c.pfm", colour)
    assert (tmp_path / "g.pfm").read_bytes().startswith(b"Pf\n4 3\n-1\n")
    np.testing.assert_array_equal(read_pfm(tmp_path / "g.pfm"), grey)
    np.testing.assert_array_equal(read_pfm(tmp_path / "c.pfm"), colour)


def test_pfm_rows_bottom_to_top_big_endian_and_scale(tmp_path):
    path = tmp_path / "be.pfm"
    rows = np.array([[1, 2], [3, 4]], ">f4")  # stored first = bottom row of the image
    path.write_bytes(b"Pf\n# comment\n2 2\n2.0\n" + rows.tobytes())
    np.testing.assert_array_equal(read_pfm(path), [[6, 8], [2, 4]])  # flipped, times |scale|


@pytest.mark.parametrize("content", [b"P6\n2 2\n-1\n", b"Pf\n2 x\n-1\n", b"Pf\n2 2\n-1\n" + b"\0" * 8])
def test_pfm_rejects_bad_files(tmp_path, content):
    path = tmp_path / "bad.pfm"
    path.write_bytes(content)
    with pytest.raises(InputError):
        read_pfm(path)


# --- DDFF-12 --------------------------------------------------------------------------------------

H, W = 12, 16


def _ddff_arrays(n, seed):
    rng = np.random.default_rng(seed)
    stacks = rng.integers(0, 256, (n, 10, H, W, 3), dtype=np.uint8)
    disp = rng.uniform(0.0, 0.3, (n, H, W)).astype(np.float32)
    disp[:, :2] = 0.0  # missing ground truth
    return stacks, disp


@pytest.fixture()
def ddff_files(tmp_path):
    arrays = {"train": _ddff_arrays(3, 0), "val": _ddff_arrays(2, 1)}
    with h5py.File(tmp_path / "ddff-dataset-trainval.h5", "w") as fh:
        for split, (stacks, disp) in arrays.items():
            fh.create_dataset(f"stack_{split}", data=stacks, chunks=(1, 1, H, W, 3))
            fh.create_dataset(f"disp_{split}", data=disp)
    test_stacks, _ = _ddff_arrays(1, 2)
    with h5py.File(tmp_path / "ddff-dataset-test.h5", "w") as fh:
        fh.create_dataset("stack_test", data=test_stacks)
    arrays["test"] = (test_stacks, None)
    return tmp_path, arrays


def test_ddff12_splits_shapes_and_focus_positions(ddff_files):
    root, arrays = ddff_files
    assert [len(DDFF12(root, split=s)) for s in ("train", "val", "test")] == [3, 2, 1]
    sample = DDFF12(root / "ddff-dataset-trainval.h5", split="val")[1]
    assert sample.name == "ddff12/val/0001"
    stack = sample.stack
    assert (len(stack), stack.shape, stack.channels, stack.unit) == (10, (H, W), 3, "disparity")
    np.testing.assert_allclose(stack.focus_positions, DISPARITIES)  # already near (large) to far
    np.testing.assert_allclose(DISPARITIES[[0, -1]], [0.28247, 0.020177], atol=1e-5)
    assert np.all(np.diff(stack.focus_positions) < 0)
    stacks, disp = arrays["val"]
    for k in (0, 9):  # slice k of the file is focused at DISPARITIES[k]
        np.testing.assert_allclose(stack[k], stacks[1, k] / 255.0, atol=1e-6)
    np.testing.assert_array_equal(sample.depth, disp[1])
    assert sample.depth.dtype == np.float32 and sample.all_in_focus is None
    np.testing.assert_array_equal(sample.valid, disp[1] > 0)
    assert not sample.valid[:2].any()


def test_ddff12_focus_range_crop_test_split_and_string_options(ddff_files):
    root, arrays = ddff_files
    stacks, disp = arrays["train"]
    sample = DDFF12(root, split="train", crop="8x10", within_focus_range="true")[2]
    assert sample.stack.shape == (8, 10) and sample.depth.shape == (8, 10) == sample.valid.shape
    np.testing.assert_allclose(sample.stack[3], stacks[2, 3, :8, :10] / 255.0, atol=1e-6)
    expected = (disp[2, :8, :10] >= DISPARITIES[-1]) & (disp[2, :8, :10] <= DISPARITIES[0])
    np.testing.assert_array_equal(sample.valid, expected)
    test = DDFF12(root, split="test")[0]
    assert test.depth is None and test.valid is None and len(test.stack) == 10
    swapped = DDFF12(root, split="test", swap_rb=True)[0]
    np.testing.assert_allclose(swapped.stack[0], test.stack[0][..., ::-1])


def test_ddff12_is_lazy_and_picklable(ddff_files):
    root, arrays = ddff_files
    dataset = DDFF12(root, split="val")
    sample = dataset[0]
    clone = pickle.loads(pickle.dumps(sample.stack))  # the h5 handle is reopened, not pickled
    np.testing.assert_array_equal(clone[4], sample.stack[4])
    assert len(pickle.loads(pickle.dumps(dataset))) == 2


def test_ddff12_errors(ddff_files, tmp_path):
    root, _ = ddff_files
    with pytest.raises(InputError, match="splits"):
        DDFF12(root, split="validation")
    with pytest.raises(InputError, match="crop"):
        DDFF12(root, split="val", crop=(H + 1, W))
    with pytest.raises(InputError):
        DDFF12(root / "ddff-dataset-test.h5", split="val")
    with pytest.raises(IndexError):
        DDFF12(root, split="val")[2]
    empty = tmp_path / "none"
    empty.mkdir()
    with pytest.raises(InputError, match="no .h5"):
        DDFF12(empty, split="val")


# --- 4D Light Field -------------------------------------------------------------------------------

def _write_scene(folder, views, disp=None):
    """Views (9 x 9 x H x W x 3 float in [0, 1]) as input_CamNNN.png, row-major; GT as PFM."""
    folder.mkdir(parents=True)
    for u in range(9):
        for v in range(9):
            pixels = np.clip(np.rint(views[u, v] * 255), 0, 255).astype(np.uint8)
            assert cv2.imwrite(str(folder / f"input_Cam{9 * u + v:03d}.png"), pixels[..., ::-1])
    if disp is not None:
        write_pfm(folder / "gt_disp_lowres.pfm", disp)


def _texture(shape, seed):
    rng = np.random.default_rng(seed)
    return cv2.GaussianBlur(rng.random(shape, dtype=np.float32), (0, 0), 1.0)


def _render_views(texture, disp):
    """View (u, v) sees I_uv(y, x) = T(y + (u - 4) d, x + (v - 4) d) (the convention of hci4d.py)."""
    h, w = disp.shape
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    texture = (texture - texture.min()) / (texture.max() - texture.min())
    views = np.empty((9, 9, h, w, 3), np.float32)
    for u in range(9):
        for v in range(9):
            view = cv2.remap(texture, xs + (v - 4) * disp, ys + (u - 4) * disp, cv2.INTER_LINEAR,
                             borderMode=cv2.BORDER_REFLECT)
            views[u, v] = view[..., None]
    return views


@pytest.fixture(scope="module")
def two_planes():
    """A 64 x 64 scene: left half at disparity +1.2 px, right half at -1.6 px."""
    disp = np.full((64, 64), 1.2, np.float32)
    disp[:, 32:] = -1.6
    return _render_views(_texture((64, 64), 3), disp), disp


def _local_variance(grey):
    mean = cv2.blur(grey, (7, 7))
    return cv2.blur(grey * grey, (7, 7)) - mean**2


def _sharpest_slice(stack):
    return np.stack([_local_variance(s.mean(axis=-1)) for s in stack]).argmax(axis=0)


def _agreement(disparity_of_sharpest, disp, centre):
    """Fraction of textured pixels whose sharpest slice is within half a slice spacing of the truth."""
    texture = _local_variance(centre.mean(axis=-1))
    use = texture > 0.2 * np.percentile(texture, 90)
    use[:12], use[-12:], use[:, :12], use[:, -12:] = False, False, False, False  # largest shift is 10 px
    use[:, 24:40] = False  # away from the depth edge
    spacing = FOCUS_DISPARITIES[1] - FOCUS_DISPARITIES[0]
    return np.mean(np.abs(disparity_of_sharpest - disp)[use] <= spacing / 2 + 1e-6)


def test_refocus_known_answer(two_planes):
    views, disp = two_planes
    stack = refocus(views, FOCUS_DISPARITIES)
    assert stack.shape == (10, 64, 64, 3) and stack.dtype == np.float32
    assert _agreement(FOCUS_DISPARITIES[_sharpest_slice(stack)], disp, views[4, 4]) > 0.9
    flipped = refocus(views, -FOCUS_DISPARITIES)  # shifts of the opposite sign, labelled as ours
    assert _agreement(FOCUS_DISPARITIES[_sharpest_slice(flipped)], disp, views[4, 4]) < 0.5


@pytest.mark.parametrize("axis", [0, 1])
def test_refocus_sign_along_each_axis(two_planes, axis):
    """Texture varying along one image axis only: the other axis's shifts cannot hide a sign error."""
    _, disp = two_planes
    line = _texture((64, 1), 3) if axis == 0 else _texture((1, 64), 3)
    views = _render_views(np.ascontiguousarray(np.broadcast_to(line, (64, 64))), disp)
    sharpest = _sharpest_slice(refocus(views, FOCUS_DISPARITIES))
    assert _agreement(FOCUS_DISPARITIES[sharpest], disp, views[4, 4]) > 0.9
    flipped = _sharpest_slice(refocus(views, -FOCUS_DISPARITIES))
    assert _agreement(FOCUS_DISPARITIES[flipped], disp, views[4, 4]) < 0.5


def test_hci4d_sample_from_disk(tmp_path, two_planes):
    views, disp = two_planes
    _write_scene(tmp_path / "training" / "dino", views, disp)
    sample = HCI4D(tmp_path, split="test", scenes="dino")[0]
    stack = sample.stack
    assert sample.name == "hci4d/test/dino"
    assert (len(stack), stack.shape, stack.unit) == (10, (64, 64), "disparity")
    np.testing.assert_allclose(stack.focus_positions, FOCUS_DISPARITIES[::-1])  # near (+2.5) first
    np.testing.assert_array_equal(sample.depth, disp)
    assert sample.valid.all()
    np.testing.assert_allclose(sample.all_in_focus, np.rint(views[4, 4] * 255) / 255, atol=1e-6)
    sharpest = _sharpest_slice(stack.to_array())
    assert _agreement(stack.focus_positions[sharpest], disp, sample.all_in_focus) > 0.9


def test_hci4d_splits_and_validity(tmp_path):
    tiny = np.full((9, 9, 4, 4, 3), 0.5, np.float32)
    disp = np.array([[-3.0, -2.5, 0.0, 2.5]] * 4, np.float32)
    layout = {"additional": ADDITIONAL_SCENES, "stratified": STRATIFIED_SCENES, "training": TEST_SCENES}
    for category, scenes in layout.items():
        for scene in scenes:
            _write_scene(tmp_path / category / scene, tiny, disp)
    train, test = HCI4D(tmp_path, split="train"), HCI4D(tmp_path, split="test")
    assert (len(train), len(test)) == (20, 4)
    assert test.scenes == ["boxes", "cotton", "dino", "sideboard"]
    assert set(train.scenes) == set(ADDITIONAL_SCENES) | set(STRATIFIED_SCENES)
    np.testing.assert_array_equal(test[0].valid[0], [False, True, True, True])
    assert HCI4D(tmp_path, split="test", within_focus_range=False)[0].valid.all()
    with pytest.raises(InputError, match="not found"):
        HCI4D(tmp_path, split="test", scenes=["boxes", "bedroom"])
    (tmp_path / "training" / "boxes" / "input_Cam080.png").unlink()
    with pytest.raises(InputError, match="lacks 1 of the 81 views"):
        HCI4D(tmp_path, split="test")


# --- FoD500 ---------------------------------------------------------------------------------------

def _write_fod_scene(folder, scene, depth):
    folder.mkdir(parents=True, exist_ok=True)
    for k in range(5):
        pixels = np.full((8, 8, 3), (10 * k, 100, 200), np.uint8)  # red level identifies the slice
        assert cv2.imwrite(str(folder / f"{scene:06d}_{k:02d}All.tif"), pixels[..., ::-1])
    _write_exr(folder / f"{scene:06d}Dpt.exr", {"R": depth, "G": depth, "B": depth})


FOD_DEPTH = np.tile(np.array([0.0, 0.05, 0.12, 0.7, 1.5, 2.0, 2.9, 1.0], np.float32), (8, 1))


def test_fod500_flat_layout_split_by_scene_id(tmp_path):
    for scene in (0, 1, 399, 400, 401):
        _write_fod_scene(tmp_path, scene, FOD_DEPTH)
    train, test = FoD500(tmp_path, split="train"), FoD500(tmp_path, split="test")
    assert (len(train), len(test)) == (3, 2) and test.ids == [400, 401]
    sample = test[1]
    assert sample.name == "fod500/test/000401"
    stack = sample.stack
    assert (len(stack), stack.shape, stack.channels, stack.unit) == (5, (8, 8), 3, "m")
    np.testing.assert_allclose(stack.focus_positions, FOCUS_DISTANCES_M)
    np.testing.assert_allclose(FOCUS_DISTANCES_M, [0.1, 0.15, 0.3, 0.7, 1.5])
    assert stack.names == [f"000401_{k:02d}All.tif" for k in range(5)]
    np.testing.assert_allclose([stack[k][0, 0, 0] for k in range(5)], np.arange(5) * 10 / 255, atol=1e-6)
    np.testing.assert_allclose(sample.depth, FOD_DEPTH.astype(np.float16), rtol=1e-6)
    assert sample.depth.dtype == np.float32 and sample.all_in_focus is None
    np.testing.assert_array_equal(sample.valid[0], [False, False, True, True, True, False, False, True])
    loose = FoD500(tmp_path, split="test", within_focus_range=False)[0]
    np.testing.assert_array_equal(loose.valid[0], FOD_DEPTH[0] > 0)


def test_fod500_subfolder_layout_and_errors(tmp_path):
    for scene in (5, 6):
        _write_fod_scene(tmp_path / "test", scene, FOD_DEPTH)
    _write_fod_scene(tmp_path / "train", 0, FOD_DEPTH)
    assert len(FoD500(tmp_path, split="test")) == 2 and len(FoD500(tmp_path, split="train")) == 1
    (tmp_path / "test" / "000006_03All.tif").unlink()
    with pytest.raises(InputError, match="000006"):
        FoD500(tmp_path, split="test")
    with pytest.raises(InputError, match="no test scenes"):
        FoD500(tmp_path / "train", split="test")


# --- Smartphone (Learning to Autofocus) -----------------------------------------------------------

SH, SW = 24, 18  # portrait, like 504 x 378


def _write_phone_scene(part, scene, depth_png, conf):
    for j in range(49):
        folder = part / "scaled_images" / scene / str(j)
        folder.mkdir(parents=True)
        pixels = np.full((SH, SW, 3), (4 * j, 128, 30), np.uint8)  # red level identifies the slice
        assert cv2.imwrite(str(folder / "result_scaled_image_center.jpg"), pixels[..., ::-1],
                           [cv2.IMWRITE_JPEG_QUALITY, 100])
    (part / "merged_depth" / scene).mkdir(parents=True)
    assert cv2.imwrite(str(part / "merged_depth" / scene / "result_merged_depth_center.png"), depth_png)
    (part / "merged_conf" / scene).mkdir(parents=True)
    _write_exr(part / "merged_conf" / scene / "result_merged_conf_center.exr", {"R": conf, "G": conf, "B": conf},
               np.float32)


@pytest.fixture(scope="module")
def phone_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("Real_data_DP")
    depth = np.tile(np.linspace(0, 255, SW).round().astype(np.uint8), (SH, 1))
    conf = np.tile(np.linspace(0, 1.5, SW, dtype=np.float32), (SH, 1))
    for part, scenes in {"test": ["s1", "s0"], "train1": ["t0"], "train2": ["t1", "t2"]}.items():
        for scene in scenes:
            _write_phone_scene(root / part, scene, depth, conf)
    return root, depth, conf


def test_smartphone_splits_slices_and_focus_positions(phone_root):
    root, depth_png, conf = phone_root
    test = Smartphone(root, split="test", crop=None)
    assert (len(test), len(Smartphone(root, split="train"))) == (2, 3)
    sample = test[0]
    assert sample.name == "smartphone/test/s0"
    stack = sample.stack
    indices = slice_indices(10)
    np.testing.assert_array_equal(indices, [0, 5, 11, 16, 21, 27, 32, 37, 43, 48])
    assert (len(stack), stack.shape, stack.unit) == (10, (SH, SW), "diopter")
    np.testing.assert_allclose(stack.focus_positions, 1000 / np.asarray(FOCUS_DISTANCES_MM)[indices[::-1]])
    assert stack.focus_positions[0] == pytest.approx(1 / 0.10201)  # nearest first
    red = [stack[k][SH // 2, SW // 2, 0] * 255 for k in range(10)]
    np.testing.assert_allclose(red, 4 * indices[::-1], atol=2)
    v = depth_png / 255.0
    np.testing.assert_allclose(sample.depth, 5 - 4.99 * v, rtol=1e-5, atol=1e-6)  # 1 / (20 / (100 - 99.8 v))
    in_range = (sample.depth >= 1 / 3.91092) & (sample.depth <= 1 / 0.10201)
    np.testing.assert_array_equal(sample.valid, in_range)
    assert not sample.valid.all() and sample.valid.any()
    np.testing.assert_allclose(sample.confidence, np.minimum(conf, 1.0))
    assert len(Smartphone(root, split="test", num_slices=49, crop=None)[0].stack) == 49


def test_smartphone_center_crop_and_options(phone_root):
    root, depth_png, conf = phone_root
    full = Smartphone(root, split="test", crop=None)[1]
    cropped = Smartphone(root, split="test", crop="16x12", within_focus_range="no")[1]
    window = (slice(4, 20), slice(3, 15))  # centred, like [84:-84, 63:-63] of 504 x 378
    assert cropped.stack.shape == (16, 12)
    np.testing.assert_array_equal(cropped.depth, full.depth[window])
    np.testing.assert_array_equal(cropped.confidence, full.confidence[window])
    np.testing.assert_allclose(cropped.stack[2], full.stack[2][window])
    assert cropped.valid.all()
    with pytest.raises(InputError, match="smaller than the crop"):
        Smartphone(root, split="test")[0]  # default 336 x 252 does not fit the tiny fixture
    with pytest.raises(InputError, match="num_slices"):
        Smartphone(root, split="test", num_slices=1)


# --- Mobile Depth ---------------------------------------------------------------------------------

def _write_mobile_scene(folder, names, distances, shape=(48, 36)):
    folder.mkdir(parents=True)
    for i, name in enumerate(names):
        assert cv2.imwrite(str(folder / name), np.full((*shape, 3), 20 * i, np.uint8))
    (folder / "focus_distance.txt").write_text("".join(f"{d}\n" for d in distances))
    (folder / "focal_length.txt").write_text("0.2\n")


def test_mobile_depth_scenes_order_units_and_crop(tmp_path):
    _write_mobile_scene(tmp_path / "balls", [f"{i:02d}.jpg" for i in range(4)], [7223525.79, 58.3, 15.3, 10.0])
    _write_mobile_scene(tmp_path / "plants", ["a0.jpg", "a1.jpg", "a2.jpg", "a10.jpg"], [10.0, 20.0, 30.0, 40.0])
    assert cv2.imwrite(str(tmp_path / "plants" / "IMG_0001.jpg"), np.zeros((48, 36, 3), np.uint8))  # unaligned
    dataset = MobileDepth(tmp_path)
    assert len(dataset) == 2
    balls = dataset[0]
    assert balls.name == "mobile_depth/balls" and balls.depth is None and balls.valid is None
    stack = balls.stack
    assert stack.unit == "m" and stack.names == ["03.jpg", "02.jpg", "01.jpg", "00.jpg"]  # 10 is nearest
    np.testing.assert_allclose(stack.focus_positions, [10.0, 15.3, 58.3, 7223525.79])
    assert stack.shape == (48 - 2 * 4, 36 - 2 * 3)  # H // 12 and W // 12 cut on every side
    plants = dataset[1].stack
    assert plants.names == ["a0.jpg", "a1.jpg", "a2.jpg", "a10.jpg"]  # natural order, aligned frames only
    assert MobileDepth(tmp_path / "plants", border_divisor=0)[0].stack.shape == (48, 36)


def test_mobile_depth_errors(tmp_path):
    _write_mobile_scene(tmp_path / "s", ["00.jpg", "01.jpg"], [1.0, 2.0, 3.0])
    with pytest.raises(InputError, match="3 focus distances for 2 slices"):
        MobileDepth(tmp_path)[0]
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no scene folder"):
        MobileDepth(tmp_path / "empty")
    with pytest.raises(InputError, match="splits"):
        MobileDepth(tmp_path, split="train")
