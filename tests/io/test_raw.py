"""Camera RAW through rawpy: a tiny DNG made here (a Bayer image with the DNG tags LibRaw needs) decodes to
known linear and sRGB values, its header and orientation agree with the decoded picture, RAW slices read as a
stack, RAW+JPEG twins read once, and without rawpy one clear error names the extra."""

from __future__ import annotations

import json
import sys
import warnings

import numpy as np
import pytest
import tifffile
from PIL import Image

import focalstack.io.stackdir as stackdir
from focalstack.errors import InputError
from focalstack.io.images import ImageHeader, image_header, read_image
from focalstack.io.raw import read_raw
from focalstack.io.stackdir import FocusInfoWarning, read_stack

H, W = 32, 48
WHITE = 4095  # 12-bit sensor
DARK, BRIGHT = 1024, 3072  # raw values of the left and right halves: 0.25 and 0.75 of white


def _srgb(linear):
    return np.where(linear <= 0.0031308, 12.92 * linear, 1.055 * np.power(linear, 1 / 2.4) - 0.055)


def _rational_list(values):
    out = []
    for v in values:
        out += [int(round(v * 10000)), 10000]
    return out


def write_dng(path, *, orientation=1, dark=DARK, bright=BRIGHT, focal_length_mm=None):
    """A grey Bayer (RGGB) DNG, left half ``dark``, right half ``bright``; neutral white balance and an identity
    colour matrix, so that LibRaw's output is grey with the raw values / white level (linear)."""
    cfa = np.full((H, W), dark, np.uint16)
    cfa[:, W // 2:] = bright
    tags = [
        (33421, "H", 2, (2, 2), True),  # CFARepeatPatternDim
        (33422, "B", 4, (0, 1, 1, 2), True),  # CFAPattern: R G / G B
        (50706, "B", 4, (1, 4, 0, 0), True),  # DNGVersion
        (50708, "s", 0, "focalstack test camera", True),  # UniqueCameraModel
        (50714, "H", 1, (0,), True),  # BlackLevel
        (50717, "H", 1, (WHITE,), True),  # WhiteLevel
        (50721, "2i", 9, _rational_list([1, 0, 0, 0, 1, 0, 0, 0, 1]), True),  # ColorMatrix1
        (50728, "2I", 3, (1, 1, 1, 1, 1, 1), True),  # AsShotNeutral
        (50778, "H", 1, (21,), True),  # CalibrationIlluminant1: D65
        (274, "H", 1, (orientation,), True),  # Orientation
    ]
    if focal_length_mm is not None:
        tags.append((37386, "2I", 1, (int(focal_length_mm * 10), 10), True))  # FocalLength (TIFF/EP, IFD0)
    tifffile.imwrite(path, cfa, photometric=32803, compression=None, extratags=tags, subfiletype=0, metadata=None)
    return path


@pytest.fixture
def rawpy():
    """rawpy, or the test is skipped (the raw extra is optional)."""
    return pytest.importorskip("rawpy", reason="the raw extra (rawpy) is not installed")


@pytest.fixture
def dng(tmp_path, rawpy):
    """A DNG made here, or the test is skipped with the reason when this LibRaw refuses it."""
    path = write_dng(tmp_path / "probe.dng")
    try:
        rawpy.imread(str(path)).close()
    except rawpy.LibRawError as exc:
        pytest.skip(f"this LibRaw ({rawpy.libraw_version}) does not accept the minimal DNG made by the test: {exc}")
    return path


def test_linear_decode_gives_raw_values_over_white_level(dng):
    image = read_image(dng, raw="linear")
    assert image.shape == (H, W, 3) and image.dtype == np.float32
    np.testing.assert_allclose(image[:, :W // 2 - 2], DARK / WHITE, atol=2e-3)  # demosaicing touches the seam only
    np.testing.assert_allclose(image[:, W // 2 + 2:], BRIGHT / WHITE, atol=2e-3)


def test_srgb_decode_applies_the_srgb_curve(dng):
    image = read_image(dng)  # the default
    np.testing.assert_allclose(image[:, :W // 2 - 2], _srgb(DARK / WHITE), atol=2e-3)
    np.testing.assert_allclose(image[:, W // 2 + 2:], _srgb(BRIGHT / WHITE), atol=2e-3)


def test_decode_is_16_bit(dng):
    pixels = read_raw(dng, encoding="linear")
    assert pixels.dtype == np.uint16 and pixels.shape == (H, W, 3)
    assert len(np.unique(pixels[:, :W // 2 - 2])) < 8  # not 8-bit steps scaled up: one grey value (+-1)


def test_unknown_encoding_refused(dng):
    with pytest.raises(InputError, match="srgb, linear"):
        read_raw(dng, encoding="log")


def test_header_without_demosaicing(dng):
    assert image_header(dng) == ImageHeader(H, W, 3, 16)


def test_orientation_turns_header_and_pixels_alike(tmp_path, dng):
    path = write_dng(tmp_path / "turned.dng", orientation=6)  # stored turned left: shown turned right by 90 deg
    assert image_header(path) == ImageHeader(W, H, 3, 16)
    image = read_image(path, raw="linear")
    assert image.shape == (W, H, 3)
    assert image[: W // 2 - 2].mean() == pytest.approx(DARK / WHITE, abs=2e-3)  # the left half is now on top
    assert image[W // 2 + 2:].mean() == pytest.approx(BRIGHT / WHITE, abs=2e-3)


def test_damaged_raw_file_is_one_input_error(tmp_path, rawpy):
    (tmp_path / "bad.nef").write_bytes(b"not a raw file at all" * 10)
    with pytest.raises(InputError, match="bad.nef"):
        image_header(tmp_path / "bad.nef")


def _raw_folder(tmp_path, brights, *, sidecar=None):
    folder = tmp_path / "s"
    folder.mkdir()
    for k, bright in enumerate(brights):
        write_dng(folder / f"IMG_{k}.dng", bright=bright, focal_length_mm=50)
    if sidecar is not None:
        (folder / "stack.json").write_text(json.dumps(sidecar))
    return folder


def test_raw_folder_reads_as_a_stack(tmp_path, dng):
    folder = _raw_folder(tmp_path, [2048, 3072], sidecar={"focus_positions": [0.8, 0.4], "unit": "m"})
    stack = read_stack(folder, raw="linear")
    assert stack.names == ["IMG_1.dng", "IMG_0.dng"] and stack.bit_depth == 16
    assert stack.encoding == "linear" and stack.sources["focus_positions"] == "stack.json"
    assert stack[0][:, W // 2 + 2:].mean() == pytest.approx(3072 / WHITE, abs=2e-3)
    assert stack.camera.focal_length_mm == pytest.approx(50)  # the DNG's IFD0 FocalLength, through exifread
    assert stack.sources["focal_length_mm"] == "EXIF FocalLength"
    assert read_stack(folder).encoding == "srgb"


def test_raw_and_jpeg_twins_read_from_the_raw_files(tmp_path, dng):
    folder = _raw_folder(tmp_path, [2048, 3072])
    for k in range(2):
        Image.fromarray(np.zeros((H, W, 3), np.uint8)).save(folder / f"IMG_{k}.jpg")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FocusInfoWarning)
        stack = read_stack(folder)
    assert stack.names == ["IMG_0.dng", "IMG_1.dng"]


def test_raw_and_jpeg_twins_without_rawpy_read_the_jpegs_with_a_warning(tmp_path, monkeypatch):
    folder = tmp_path / "s"
    folder.mkdir()
    for k in range(2):
        (folder / f"IMG_{k}.cr2").write_bytes(b"a raw file rawpy would read")
        Image.fromarray(np.full((H, W, 3), 60 * k, np.uint8)).save(folder / f"IMG_{k}.jpg")
    monkeypatch.setitem(sys.modules, "rawpy", None)  # `import rawpy` now fails as when it is not installed
    with pytest.warns(UserWarning, match=r"pip install focalstack\[raw\]"):
        stack = read_stack(folder, unit="index")
    assert stack.names == ["IMG_0.jpg", "IMG_1.jpg"]


def test_missing_rawpy_is_one_clear_error(tmp_path, monkeypatch):
    folder = tmp_path / "s"
    folder.mkdir()
    for k in range(2):
        write_dng(folder / f"IMG_{k}.dng")
    monkeypatch.setitem(sys.modules, "rawpy", None)
    for read in (image_header, read_image):
        with pytest.raises(InputError, match=r"IMG_0.dng is a camera RAW file; reading it needs rawpy: "
                                             r"pip install focalstack\[raw\]"):
            read(folder / "IMG_0.dng")
    with pytest.raises(InputError, match=r"pip install focalstack\[raw\]"):
        read_stack(folder, unit="index")


def test_raw_encoding_option_checked(tmp_path):
    folder = tmp_path / "s"
    folder.mkdir()
    with pytest.raises(InputError, match="raw must be one of srgb, linear"):
        read_stack(folder, raw="gamma")


def test_rawpy_check_does_not_import_at_module_load(monkeypatch):
    """focalstack.io works without rawpy: only reading a RAW file needs it."""
    monkeypatch.setitem(sys.modules, "rawpy", None)
    assert not stackdir.rawpy_available()


def test_result_metadata_states_linear_pixels(tmp_path, dng):
    from focalstack import estimate_depth

    folder = _raw_folder(tmp_path, [2048, 3072], sidecar={"focus_positions": [0.8, 0.4], "unit": "m"})
    stack = read_stack(folder, raw="linear")
    assert stack.resized(0.5).encoding == "linear"
    result = estimate_depth(stack, method="sml", align="none", scale=0.5)
    assert result.metadata["encoding"] == "linear"
    assert result.metadata["sources"]["focus_positions"] == "stack.json"


def test_depth_command_demosaics_raw_as_asked(tmp_path, dng):
    from typer.testing import CliRunner

    from focalstack.cli import app

    folder = _raw_folder(tmp_path, [2048, 3072], sidecar={"focus_positions": [0.8, 0.4], "unit": "m"})
    for encoding in ("linear", "srgb"):
        out = tmp_path / encoding
        result = CliRunner().invoke(app, ["depth", str(folder), "-o", str(out), "--raw", encoding, "-q"])
        assert result.exit_code == 0, result.output
        assert json.loads((out / "result.json").read_text())["encoding"] == encoding
