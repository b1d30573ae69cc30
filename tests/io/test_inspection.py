"""inspect_stack: per-slice sizes and metadata with their sources, how the folder reads, what is missing."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image, TiffImagePlugin

from focalstack.errors import InputError
from focalstack.io.images import ImageHeader
from focalstack.io.inspection import inspect_stack

H, W = 30, 40


def _jpeg(path, distance_m=None, *, focal_length_mm=4.2, f_number=1.8, focal_35mm=26):
    image = Image.fromarray(np.full((H, W, 3), 100, np.uint8))
    exif = image.getexif()
    exif[0x010F] = "test camera"
    ifd = exif.get_ifd(0x8769)
    if distance_m is not None:
        ifd[0x9206] = TiffImagePlugin.IFDRational(round(distance_m * 100), 100)
    ifd[0x920A] = TiffImagePlugin.IFDRational(round(focal_length_mm * 10), 10)
    ifd[0x829D] = TiffImagePlugin.IFDRational(round(f_number * 10), 10)
    ifd[0xA405] = focal_35mm
    image.save(path, exif=exif, quality=90)


def exif_folder(tmp_path, distances=(0.5, 0.3, 1.2)):
    folder = tmp_path / "exif"
    folder.mkdir()
    for k, d in enumerate(distances):
        _jpeg(folder / f"s{k}.jpg", d)
    return folder


def plain_folder(tmp_path, count=2):
    folder = tmp_path / "plain"
    folder.mkdir()
    for k in range(count):
        Image.fromarray(np.full((H, W), 50 * k, np.uint8)).save(folder / f"p{k}.png")
    return folder


def test_report_of_exif_tagged_jpegs(tmp_path):
    report = inspect_stack(exif_folder(tmp_path))
    assert [s.file for s in report.slices] == ["s0.jpg", "s1.jpg", "s2.jpg"]
    first = report.slices[0]
    assert first.header == ImageHeader(H, W, 3, 8)
    assert first.metadata.focus_distance_m == pytest.approx(0.5)
    assert first.metadata.sources["focus_distance_m"] == "EXIF SubjectDistance"
    # 26 mm equivalent of 4.2 mm: diagonal 43.27 x 4.2 / 26 mm, width 4/5 of it over 40 pixels
    assert first.metadata.pixel_pitch_um == pytest.approx(1000 * 43.2666 * 4.2 / 26 * 0.8 / W, rel=1e-4)
    assert report.stack.unit == "m" and report.stack.names == ["s1.jpg", "s0.jpg", "s2.jpg"]
    assert report.missing == [] and report.warnings == []
    text = report.to_text()
    assert "0.5 m [1]" in text and "[1] EXIF SubjectDistance" in text
    assert "near to far: s1.jpg, s0.jpg, s2.jpg" in text and "missing: nothing" in text


def test_report_of_a_folder_without_metadata(tmp_path):
    report = inspect_stack(plain_folder(tmp_path))
    assert report.slices[0].header == ImageHeader(H, W, 1, 8)
    assert report.slices[0].metadata.focus_distance_m is None
    assert report.stack.unit == "index"
    assert any("slice index" in w for w in report.warnings)
    assert [m.split(":")[0] for m in report.missing] == [
        "focus distances", "camera for test-time optimisation (+tto)",
        "camera for alignment from metadata (--align metadata)"]
    assert "metric depth: no (unit index)" in report.to_text()


def test_sidecar_fills_what_metadata_lacks(tmp_path):
    folder = plain_folder(tmp_path)
    (folder / "stack.json").write_text(json.dumps({"focus_positions": [0.4, 0.2], "unit": "m",
                                                   "camera": {"focal_length_mm": 4.4, "f_number": 1.8,
                                                              "pixel_pitch_um": 1.4}}))
    report = inspect_stack(folder)
    assert report.missing == [] and report.stack.sources["focus_positions"] == "stack.json"
    assert "pixel_pitch_um 1.4 (stack.json)" in report.to_text()


def test_folder_that_does_not_read_as_a_stack_is_reported(tmp_path):
    folder = plain_folder(tmp_path)
    Image.fromarray(np.zeros((H + 2, W), np.uint8)).save(folder / "p9.png")
    (folder / "broken.png").write_bytes(b"not a png")
    report = inspect_stack(folder)
    assert report.stack is None and "broken.png" in report.problem
    assert [s.file for s in report.slices if s.header is None] == ["broken.png"]
    assert "not readable as a stack" in report.to_text()


@pytest.mark.parametrize("make", ["missing", "file", "bad_sidecar"])
def test_unreadable_folder_is_an_input_error(tmp_path, make):
    target = tmp_path / "x"
    if make == "file":
        target.write_text("")
    elif make == "bad_sidecar":
        target.mkdir()
        (target / "stack.json").write_text("{not json")
    with pytest.raises(InputError):
        inspect_stack(target)
