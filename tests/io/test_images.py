"""Single images: decoding (8/16-bit, float, grey/RGB/RGBA, PNG/TIFF), headers, float conversion, writing."""

from __future__ import annotations

import struct
import warnings
import zlib

import cv2
import numpy as np
import pytest
import tifffile
from PIL import Image

from focalstack.errors import InputError
from focalstack.io.images import ImageHeader, image_header, read_image, to_float_image, write_image


def _rng(seed=0):
    return np.random.default_rng(seed)


def _png_with_header_only(path, width, height, *, bit_depth=8, colour_type=2):
    """A PNG whose IHDR claims width x height but holds almost no pixel data."""

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 16))
                     + chunk(b"IEND", b""))
    return path


# --- read_image ---------------------------------------------------------------------------------------------


def test_read_8bit_grey_png(tmp_path):
    pixels = _rng().integers(0, 256, (12, 17), dtype=np.uint8)
    Image.fromarray(pixels, mode="L").save(tmp_path / "g.png")
    image = read_image(tmp_path / "g.png")
    assert image.dtype == np.float32 and image.shape == (12, 17)
    np.testing.assert_allclose(image, pixels / 255.0, atol=1e-6)


def test_read_8bit_rgb_png(tmp_path):
    pixels = _rng(1).integers(0, 256, (12, 17, 3), dtype=np.uint8)
    Image.fromarray(pixels, mode="RGB").save(tmp_path / "c.png")
    image = read_image(tmp_path / "c.png")
    assert image.shape == (12, 17, 3)
    np.testing.assert_allclose(image, pixels / 255.0, atol=1e-6)


def test_read_16bit_grey_png(tmp_path):
    pixels = _rng(2).integers(0, 65536, (9, 11), dtype=np.uint16)
    assert cv2.imwrite(str(tmp_path / "g16.png"), pixels)
    image = read_image(tmp_path / "g16.png")
    assert image.dtype == np.float32 and image.shape == (9, 11)
    np.testing.assert_allclose(image, pixels / 65535.0, atol=1e-6)  # finer than one 8-bit step: 16 bits kept


def test_read_16bit_rgb_png_channel_order(tmp_path):
    pixels = _rng(3).integers(0, 65536, (9, 11, 3), dtype=np.uint16)
    assert cv2.imwrite(str(tmp_path / "c16.png"), pixels[..., ::-1])  # OpenCV writes BGR
    image = read_image(tmp_path / "c16.png")
    assert image.shape == (9, 11, 3)
    np.testing.assert_allclose(image, pixels / 65535.0, atol=1e-6)


@pytest.mark.parametrize("dtype,scale", [(np.uint8, 255.0), (np.uint16, 65535.0)])
def test_read_tiff_grey_and_rgb(tmp_path, dtype, scale):
    rng = _rng(4)
    grey = rng.integers(0, int(scale) + 1, (10, 13), dtype=dtype)
    rgb = rng.integers(0, int(scale) + 1, (10, 13, 3), dtype=dtype)
    tifffile.imwrite(tmp_path / "g.tif", grey)
    tifffile.imwrite(tmp_path / "c.tiff", rgb, photometric="rgb")
    np.testing.assert_allclose(read_image(tmp_path / "g.tif"), grey / scale, atol=1e-6)
    image = read_image(tmp_path / "c.tiff")
    assert image.shape == (10, 13, 3)
    np.testing.assert_allclose(image, rgb / scale, atol=1e-6)


def test_read_float32_tiff(tmp_path):
    pixels = _rng(5).random((8, 6), dtype=np.float32)
    tifffile.imwrite(tmp_path / "f.tif", pixels)
    image = read_image(tmp_path / "f.tif")
    assert image.dtype == np.float32
    np.testing.assert_array_equal(image, pixels)


def test_read_float_rgb_tiff(tmp_path):
    pixels = _rng(6).random((8, 6, 3), dtype=np.float32)
    tifffile.imwrite(tmp_path / "f.tif", pixels, photometric="rgb")
    np.testing.assert_array_equal(read_image(tmp_path / "f.tif"), pixels)


def test_float_tiff_with_nan_is_refused(tmp_path):
    pixels = np.full((8, 6), 0.5, np.float32)
    pixels[3, 3] = np.nan
    tifffile.imwrite(tmp_path / "nan.tif", pixels)
    with pytest.raises(InputError, match="NaN") as info:
        read_image(tmp_path / "nan.tif")
    assert "nan.tif" in str(info.value)


def test_float_tiff_out_of_range_is_refused(tmp_path):
    tifffile.imwrite(tmp_path / "hdr.tif", np.full((4, 4), 3.5, np.float32))
    with pytest.raises(InputError, match=r"\[0, 1\]"):
        read_image(tmp_path / "hdr.tif")


def test_rgba_png_drops_alpha(tmp_path):
    pixels = _rng(7).integers(0, 256, (7, 9, 4), dtype=np.uint8)
    pixels[..., 3] = 128  # half transparent: alpha must not be blended in
    Image.fromarray(pixels, mode="RGBA").save(tmp_path / "a.png")
    image = read_image(tmp_path / "a.png")
    assert image.shape == (7, 9, 3)
    np.testing.assert_allclose(image, pixels[..., :3] / 255.0, atol=1e-6)


def test_rgba_tiff_drops_alpha(tmp_path):
    pixels = _rng(8).integers(0, 256, (7, 9, 4), dtype=np.uint8)
    tifffile.imwrite(tmp_path / "a.tif", pixels, photometric="rgb", extrasamples=["unassalpha"])
    image = read_image(tmp_path / "a.tif")
    assert image.shape == (7, 9, 3)
    np.testing.assert_allclose(image, pixels[..., :3] / 255.0, atol=1e-6)


@pytest.mark.parametrize("name", ["red.png", "red.tif", "red.bmp", "red.jpg"])
def test_channel_order_is_rgb(tmp_path, name):
    pixels = np.zeros((8, 8, 3), np.uint8)
    pixels[..., 0] = 255  # pure red in RGB order
    Image.fromarray(pixels, mode="RGB").save(tmp_path / name, **({"quality": 100} if name.endswith("jpg") else {}))
    image = read_image(tmp_path / name)
    assert image.shape == (8, 8, 3)
    assert image[..., 0].min() > 0.95
    assert image[..., 1].max() < 0.05 and image[..., 2].max() < 0.05


def test_planar_rgb_tiff(tmp_path):
    pixels = _rng(9).integers(0, 256, (3, 10, 13), dtype=np.uint8)
    tifffile.imwrite(tmp_path / "p.tif", pixels, planarconfig="separate", photometric="rgb")
    assert image_header(tmp_path / "p.tif") == ImageHeader(10, 13, 3, 8)
    image = read_image(tmp_path / "p.tif")
    np.testing.assert_allclose(image, np.moveaxis(pixels, 0, -1) / 255.0, atol=1e-6)


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        read_image(tmp_path / "nope.png")


@pytest.mark.parametrize("content", [b"", b"this is not an image at all", b"\x89PNG\r\n\x1a\n garbage"])
def test_corrupt_file(tmp_path, content):
    (tmp_path / "bad.png").write_bytes(content)
    with pytest.raises(InputError, match="bad.png"):
        read_image(tmp_path / "bad.png")


def test_unsupported_tiff_pixel_type(tmp_path):
    tifffile.imwrite(tmp_path / "i32.tif", np.zeros((4, 4), np.int32))
    with pytest.raises(InputError, match="pixel type"):
        read_image(tmp_path / "i32.tif")


# --- image_header -------------------------------------------------------------------------------------------


def test_header_png_8bit_rgb(tmp_path):
    Image.fromarray(np.zeros((21, 34, 3), np.uint8)).save(tmp_path / "x.png")
    assert image_header(tmp_path / "x.png") == ImageHeader(height=21, width=34, channels=3, bit_depth=8)


def test_header_png_16bit_grey_and_rgb(tmp_path):
    cv2.imwrite(str(tmp_path / "g.png"), np.zeros((5, 7), np.uint16))
    cv2.imwrite(str(tmp_path / "c.png"), np.zeros((5, 7, 3), np.uint16))
    assert image_header(tmp_path / "g.png") == ImageHeader(5, 7, 1, 16)
    assert image_header(tmp_path / "c.png") == ImageHeader(5, 7, 3, 16)


def test_header_rgba_png_counts_three_channels(tmp_path):
    Image.fromarray(np.zeros((5, 7, 4), np.uint8), mode="RGBA").save(tmp_path / "a.png")
    assert image_header(tmp_path / "a.png") == ImageHeader(5, 7, 3, 8)


def test_header_jpeg(tmp_path):
    Image.fromarray(np.zeros((30, 40), np.uint8), mode="L").save(tmp_path / "g.jpg")
    assert image_header(tmp_path / "g.jpg") == ImageHeader(30, 40, 1, 8)


@pytest.mark.parametrize("pixels,expected", [
    (np.zeros((6, 9), np.uint8), ImageHeader(6, 9, 1, 8)),
    (np.zeros((6, 9, 3), np.uint16), ImageHeader(6, 9, 3, 16)),
    (np.zeros((6, 9), np.float32), ImageHeader(6, 9, 1, 32)),
    (np.zeros((6, 9, 3), np.float32), ImageHeader(6, 9, 3, 32)),
])
def test_header_tiff(tmp_path, pixels, expected):
    tifffile.imwrite(tmp_path / "t.tif", pixels, photometric="rgb" if pixels.ndim == 3 else "minisblack")
    assert image_header(tmp_path / "t.tif") == expected


def test_header_does_not_decode_pixels(tmp_path, monkeypatch):
    Image.fromarray(np.zeros((21, 34, 3), np.uint8)).save(tmp_path / "x.png")

    def forbidden(*args, **kwargs):
        raise AssertionError("image_header decoded the pixels")

    monkeypatch.setattr(cv2, "imdecode", forbidden)
    monkeypatch.setattr(cv2, "imread", forbidden)
    monkeypatch.setattr(Image.Image, "load", forbidden)
    assert image_header(tmp_path / "x.png") == ImageHeader(21, 34, 3, 8)


def test_header_of_header_only_png(tmp_path):
    """A PNG with a valid IHDR but no real pixel data: the header alone gives the size."""
    _png_with_header_only(tmp_path / "h.png", 640, 480, bit_depth=16, colour_type=0)
    assert image_header(tmp_path / "h.png") == ImageHeader(480, 640, 1, 16)


@pytest.mark.parametrize("side", [12000, 20000])
def test_header_of_very_large_png_is_read_without_pillow_limit(tmp_path, side):
    _png_with_header_only(tmp_path / "big.png", side, side)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert image_header(tmp_path / "big.png") == ImageHeader(side, side, 3, 8)


def test_header_missing_and_corrupt(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        image_header(tmp_path / "nope.png")
    (tmp_path / "bad.png").write_bytes(b"definitely not a png")
    with pytest.raises(InputError, match="bad.png"):
        image_header(tmp_path / "bad.png")


# --- to_float_image -----------------------------------------------------------------------------------------


def test_to_float_uint8_and_uint16():
    np.testing.assert_allclose(to_float_image(np.array([[0, 51, 255]], np.uint8)), [[0, 0.2, 1]], atol=1e-7)
    np.testing.assert_allclose(to_float_image(np.array([[0, 13107, 65535]], np.uint16)), [[0, 0.2, 1]], atol=1e-7)
    assert to_float_image(np.zeros((2, 2), np.uint8)).dtype == np.float32


def test_to_float_bool():
    out = to_float_image(np.array([[True, False]]))
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, [[1.0, 0.0]])


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_to_float_float_dtypes(dtype):
    out = to_float_image(np.array([[0.0, 0.5, 1.0]], dtype))
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, [[0.0, 0.5, 1.0]])


def test_to_float_tiny_overshoot_is_clipped():
    out = to_float_image(np.array([[-0.0005, 1.0005]], np.float32))
    np.testing.assert_array_equal(out, [[0.0, 1.0]])


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_to_float_rejects_non_finite(value):
    with pytest.raises(InputError, match="NaN or infinite"):
        to_float_image(np.array([[0.5, value]], np.float32), name="slice 3")


@pytest.mark.parametrize("value", [-0.1, 1.1, 255.0])
def test_to_float_rejects_out_of_range(value):
    with pytest.raises(InputError, match="slice 3") as info:
        to_float_image(np.array([[0.5, value]], np.float32), name="slice 3")
    assert "[0, 1]" in str(info.value)


@pytest.mark.parametrize("dtype", [np.int8, np.int16, np.int32, np.uint32, np.int64, np.complex64])
def test_to_float_rejects_other_dtypes(dtype):
    with pytest.raises(InputError, match="pixel type"):
        to_float_image(np.zeros((3, 3), dtype))


@pytest.mark.parametrize("shape", [(5,), (2, 3, 2), (2, 3, 5), (2, 3, 3, 1)])
def test_to_float_rejects_bad_shapes(shape):
    with pytest.raises(InputError, match="expected H x W"):
        to_float_image(np.zeros(shape, np.float32))


def test_to_float_reduces_single_channel_and_alpha():
    assert to_float_image(np.zeros((4, 5, 1), np.uint8)).shape == (4, 5)
    rgba = np.zeros((4, 5, 4), np.uint8)
    rgba[..., 3] = 255
    out = to_float_image(rgba)
    assert out.shape == (4, 5, 3) and out.max() == 0


# --- write_image --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("bit_depth,dtype,tol", [(8, np.uint8, 0.5 / 255 + 1e-6), (16, np.uint16, 0.5 / 65535 + 1e-7)])
@pytest.mark.parametrize("colour", [False, True])
def test_write_read_round_trip(tmp_path, bit_depth, dtype, tol, colour):
    shape = (9, 14, 3) if colour else (9, 14)
    image = _rng(10).random(shape, dtype=np.float32)
    path = tmp_path / "out.png"
    write_image(path, image, bit_depth=bit_depth)
    raw = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    assert raw.dtype == dtype and raw.shape == shape
    back = read_image(path)
    np.testing.assert_allclose(back, image, atol=tol)
    assert image_header(path).bit_depth == bit_depth


def test_write_keeps_rgb_order(tmp_path):
    image = np.zeros((4, 4, 3), np.float32)
    image[..., 0] = 1.0
    write_image(tmp_path / "r.png", image)
    with Image.open(tmp_path / "r.png") as im:
        assert im.mode == "RGB"
        assert im.getpixel((0, 0)) == (255, 0, 0)


def test_write_clips_out_of_range(tmp_path):
    write_image(tmp_path / "c.png", np.array([[-0.5, 0.5, 1.5]], np.float32))
    raw = cv2.imread(str(tmp_path / "c.png"), cv2.IMREAD_UNCHANGED)
    np.testing.assert_array_equal(raw, [[0, 128, 255]])


def test_write_rejects_bad_bit_depth(tmp_path):
    with pytest.raises(ValueError, match="bit_depth"):
        write_image(tmp_path / "x.png", np.zeros((2, 2), np.float32), bit_depth=12)
    assert not (tmp_path / "x.png").exists()


# --- EXIF orientation ---------------------------------------------------------------------------------------


def _with_orientation(path, pixels, orientation, **options):
    image = Image.fromarray(pixels)
    exif = image.getexif()
    exif[0x0112] = orientation
    image.save(path, exif=exif, **options)
    return path


@pytest.mark.parametrize("orientation", range(1, 9))
@pytest.mark.parametrize("suffix,options", [(".png", {}), (".tif", {}), (".webp", {"lossless": True})])
def test_exif_orientation_applied_as_pillow_does(tmp_path, orientation, suffix, options):
    """Every orientation, in every format that carries EXIF losslessly: the same picture as Pillow's exif_transpose,
    and a header of the same size."""
    from PIL import ImageOps

    pixels = _rng(orientation).integers(0, 256, (6, 9, 3), dtype=np.uint8)
    path = _with_orientation(tmp_path / f"o{suffix}", pixels, orientation, **options)
    with Image.open(path) as im:
        expected = np.asarray(ImageOps.exif_transpose(im).convert("RGB"))
    decoded = read_image(path)
    np.testing.assert_array_equal(np.round(decoded * 255).astype(np.uint8), expected)
    assert image_header(path)[:2] == decoded.shape[:2]


def test_exif_orientation_of_jpeg_turns_the_picture(tmp_path):
    pixels = np.zeros((32, 48), np.uint8)
    pixels[:, :24] = 255  # bright left half
    path = _with_orientation(tmp_path / "r.jpg", pixels, 6, quality=95)  # shown turned right: left goes to the top
    decoded = read_image(path)
    assert decoded.shape == (48, 32) and image_header(path) == ImageHeader(48, 32, 1, 8)
    assert decoded[:20].mean() > 0.95 and decoded[28:].mean() < 0.05


def test_float_tiff_orientation_applied(tmp_path):
    pixels = np.arange(12, dtype=np.float32).reshape(3, 4) / 12
    tifffile.imwrite(tmp_path / "f.tif", pixels, extratags=[(274, "H", 1, (8,), True)])  # shown turned left
    decoded = read_image(tmp_path / "f.tif")
    np.testing.assert_array_equal(decoded, np.rot90(pixels))
    assert image_header(tmp_path / "f.tif") == ImageHeader(4, 3, 1, 32)
