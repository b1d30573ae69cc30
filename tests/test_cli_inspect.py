"""`focalstack inspect`: exit 0 with the report on stdout; exit 2 and one `error:` line for an unreadable folder."""

from __future__ import annotations

import numpy as np
from PIL import Image, TiffImagePlugin
from typer.testing import CliRunner

from focalstack.cli import app

H, W = 30, 40


def exif_folder(tmp_path, distances=(0.5, 0.3, 1.2)):
    """JPEGs with EXIF SubjectDistance, FocalLength 4.2 mm, FNumber 1.8."""
    folder = tmp_path / "exif"
    folder.mkdir()
    for k, distance in enumerate(distances):
        image = Image.fromarray(np.full((H, W, 3), 100, np.uint8))
        exif = image.getexif()
        exif[0x010F] = "test camera"
        ifd = exif.get_ifd(0x8769)
        ifd[0x9206] = TiffImagePlugin.IFDRational(round(distance * 100), 100)
        ifd[0x920A] = TiffImagePlugin.IFDRational(42, 10)
        ifd[0x829D] = TiffImagePlugin.IFDRational(18, 10)
        image.save(folder / f"s{k}.jpg", exif=exif, quality=90)
    return folder


def plain_folder(tmp_path):
    """Grey PNGs without any metadata."""
    folder = tmp_path / "plain"
    folder.mkdir()
    for k in range(2):
        Image.fromarray(np.full((H, W), 50 * k, np.uint8)).save(folder / f"p{k}.png")
    return folder


def _run(*args):
    return CliRunner().invoke(app, ["inspect", *[str(a) for a in args]])


def test_inspect_exif_tagged_jpegs(tmp_path):
    result = _run(exif_folder(tmp_path))
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    row = next(line for line in lines if line.strip().startswith("s1.jpg"))
    assert row.split()[:7] == ["s1.jpg", "40x30", "RGB", "8", "0.3", "m", "[1]"]
    assert "  [1] EXIF SubjectDistance" in lines
    assert "  unit: m (focus positions from: EXIF SubjectDistance)" in lines
    assert "  near to far: s1.jpg, s0.jpg, s2.jpg" in lines
    assert "    f_number 1.8 (EXIF FNumber)" in lines
    assert "  - camera for test-time optimisation (+tto): pixel pitch or sensor width ('camera' in stack.json)" in lines
    assert result.stderr == ""


def test_inspect_folder_without_metadata(tmp_path):
    result = _run(plain_folder(tmp_path))
    assert result.exit_code == 0, result.stderr
    assert "  p0.png  40x30 grey  8     -               -             -         -" in result.stdout
    assert "metric depth: no (unit index)" in result.stdout
    assert "  - focus distances: depth comes back as a fractional slice index" in result.stdout
    assert result.stderr == ""


def test_inspect_unreadable_folder_exits_2_with_one_error_line(tmp_path):
    result = _run(tmp_path / "nowhere")
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.strip().splitlines() == [f"error: {tmp_path / 'nowhere'} does not exist"]
