"""Shot metadata: EXIF written with known tags (Pillow), XMP inside JPEG/PNG/TIFF and in sidecars, the maker-note
mapping (on the tag dictionaries exifread gives: a maker note cannot be forged here), the camera they imply (35 mm
equivalent on the diagonal, focal-plane resolution preferred), precedence and sources in read_stack."""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pytest
import tifffile
from exifread.core.exif_header import ExifHeader
from exifread.core.ifd_tag import IfdTag
from exifread.tags.fields import FieldType
from exifread.tags.makernote import canon
from exifread.utils import Ratio
from PIL import Image, PngImagePlugin, TiffImagePlugin

from focalstack.io.exif import ExifInfo, exif_info, read_exif
from focalstack.io.metadata import camera_from_metadata, read_metadata
from focalstack.io.stackdir import FocusInfoWarning, read_stack
from focalstack.io.xmp import parse_xmp, read_xmp

H, W = 30, 40

# EXIF tag numbers
SUBJECT_DISTANCE, SUBJECT_DISTANCE_RANGE = 0x9206, 0xA40C
FOCAL_LENGTH, F_NUMBER, APERTURE_VALUE, FOCAL_35 = 0x920A, 0x829D, 0x9202, 0xA405
FOCAL_PLANE_X, FOCAL_PLANE_UNIT = 0xA20E, 0xA210


def _rational(value, den=1000):
    return TiffImagePlugin.IFDRational(round(value * den), den)


def exif_jpeg(path, **tags):
    """A JPEG whose EXIF IFD holds ``tags`` (tag number -> value)."""
    image = Image.fromarray(np.full((H, W, 3), 128, np.uint8))
    exif = image.getexif()
    exif[0x010F] = "test camera"  # Make: gives IFD0 a tag so that the EXIF IFD is written
    ifd = exif.get_ifd(0x8769)
    for tag, value in tags.items():
        ifd[int(tag)] = value
    image.save(path, exif=exif, quality=95)
    return path


def _tags(**exif):
    return {f"EXIF {k}": v for k, v in exif.items()}


XMP = """<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
 <rdf:Description rdf:about="" xmlns:aux="http://ns.adobe.com/exif/1.0/aux/" xmlns:exif="http://ns.adobe.com/exif/1.0/"
  {attributes}>{elements}</rdf:Description></rdf:RDF></x:xmpmeta>
<?xpacket end="w"?>"""


def xmp(attributes="", elements=""):
    return XMP.format(attributes=attributes, elements=elements)


# --- EXIF written by Pillow ---------------------------------------------------------------------------------


def test_exif_values_and_sources(tmp_path):
    path = exif_jpeg(tmp_path / "a.jpg", **{str(SUBJECT_DISTANCE): _rational(0.42), str(FOCAL_LENGTH): _rational(4.25),
                                            str(F_NUMBER): _rational(1.8), str(FOCAL_35): 26,
                                            str(FOCAL_PLANE_X): _rational(2000), str(FOCAL_PLANE_UNIT): 3})
    info = read_metadata(path)
    assert info.focus_distance_m == pytest.approx(0.42)
    assert info.focal_length_mm == pytest.approx(4.25) and info.f_number == pytest.approx(1.8)
    assert info.focal_length_35mm == 26
    assert info.pixel_pitch_um == pytest.approx(5.0)  # 2000 pixels per cm
    assert info.sources == {"focus_distance_m": "EXIF SubjectDistance", "focal_length_mm": "EXIF FocalLength",
                            "f_number": "EXIF FNumber", "focal_length_35mm": "EXIF FocalLengthIn35mmFilm",
                            "pixel_pitch_um": "EXIF FocalPlaneXResolution"}


@pytest.mark.parametrize("unit,resolution,pitch_um", [(2, 5080, 5.0), (3, 2500, 4.0), (4, 250, 4.0),
                                                     (None, 12700, 2.0)])
def test_focal_plane_resolution_units(tmp_path, unit, resolution, pitch_um):
    tags = {str(FOCAL_PLANE_X): _rational(resolution)}
    if unit is not None:  # absent: inches, the EXIF default
        tags[str(FOCAL_PLANE_UNIT)] = unit
    assert read_exif(exif_jpeg(tmp_path / "a.jpg", **tags)).pixel_pitch_um == pytest.approx(pitch_um)


def test_implausible_focal_plane_resolution_ignored(tmp_path):
    path = exif_jpeg(tmp_path / "a.jpg", **{str(FOCAL_PLANE_X): _rational(72), str(FOCAL_PLANE_UNIT): 2})  # 353 um
    assert read_exif(path).pixel_pitch_um is None


def test_aperture_value_when_no_f_number(tmp_path):
    path = exif_jpeg(tmp_path / "a.jpg", **{str(APERTURE_VALUE): _rational(3)})  # APEX 3 = f/2.83
    info = read_exif(path)
    assert info.f_number == pytest.approx(2 ** 1.5, abs=0.01) and info.sources["f_number"] == "EXIF ApertureValue"


@pytest.mark.parametrize("distance,expected", [(TiffImagePlugin.IFDRational(0, 1), None),
                                               (TiffImagePlugin.IFDRational(0xFFFFFFFF, 1), math.inf)])
def test_subject_distance_unknown_and_infinity(tmp_path, distance, expected):
    assert read_exif(exif_jpeg(tmp_path / "a.jpg", **{str(SUBJECT_DISTANCE): distance})).focus_distance_m == expected


def test_subject_distance_range_is_not_a_distance(tmp_path):
    path = exif_jpeg(tmp_path / "a.jpg", **{str(SUBJECT_DISTANCE_RANGE): 2})  # "close view"
    assert read_exif(path).focus_distance_m is None


def test_no_metadata_at_all(tmp_path):
    Image.fromarray(np.zeros((H, W), np.uint8)).save(tmp_path / "a.png")
    assert read_metadata(tmp_path / "a.png") == ExifInfo()


# --- XMP ----------------------------------------------------------------------------------------------------


def test_xmp_in_jpeg_attributes_and_elements(tmp_path):
    packet = xmp('aux:ApproximateFocusDistance="37/100"',
                 "<exif:FocalLength>50/1</exif:FocalLength><exif:FNumber>4.0</exif:FNumber>"
                 "<exif:FocalPlaneXResolution>2540/1</exif:FocalPlaneXResolution>"
                 "<exif:FocalPlaneResolutionUnit>3</exif:FocalPlaneResolutionUnit>")
    Image.fromarray(np.zeros((H, W, 3), np.uint8)).save(tmp_path / "a.jpg", xmp=packet.encode())
    info = read_metadata(tmp_path / "a.jpg")
    assert (info.focus_distance_m, info.focal_length_mm, info.f_number) == (0.37, 50.0, 4.0)
    assert info.pixel_pitch_um == pytest.approx(10000 / 2540)
    assert info.sources["focus_distance_m"] == "XMP aux:ApproximateFocusDistance"
    assert info.sources["focal_length_mm"] == "XMP exif:FocalLength"


def test_xmp_in_png_and_tiff(tmp_path):
    packet = xmp('exif:SubjectDistance="125/100"')
    text = PngImagePlugin.PngInfo()
    text.add_itxt("XML:com.adobe.xmp", packet)
    Image.fromarray(np.zeros((H, W, 3), np.uint8)).save(tmp_path / "a.png", pnginfo=text)
    data = packet.encode()
    tifffile.imwrite(tmp_path / "a.tif", np.zeros((H, W), np.uint8), extratags=[(700, "B", len(data), data, True)])
    for name in ("a.png", "a.tif"):
        info = read_metadata(tmp_path / name)
        assert info.focus_distance_m == 1.25 and info.sources["focus_distance_m"] == "XMP exif:SubjectDistance"


@pytest.mark.parametrize("sidecar_name", ["a.xmp", "a.jpg.xmp", "a.XMP"])
def test_xmp_sidecar(tmp_path, sidecar_name):
    Image.fromarray(np.zeros((H, W, 3), np.uint8)).save(tmp_path / "a.jpg")
    (tmp_path / sidecar_name).write_text(xmp('aux:ApproximateFocusDistance="4294967295/1" exif:FNumber="56/10"'))
    info = read_xmp(tmp_path / "a.jpg")
    assert info.focus_distance_m == math.inf and info.f_number == pytest.approx(5.6)
    assert info.sources["f_number"] == "XMP sidecar exif:FNumber"


def test_exif_wins_over_xmp_and_xmp_fills_the_gaps(tmp_path):
    path = exif_jpeg(tmp_path / "a.jpg", **{str(SUBJECT_DISTANCE): _rational(0.5)})
    with Image.open(path) as im:
        exif = im.getexif()
        im.save(tmp_path / "b.jpg", exif=exif, xmp=xmp('exif:SubjectDistance="2/1" exif:FocalLength="35/1"').encode())
    info = read_metadata(tmp_path / "b.jpg")
    assert info.focus_distance_m == pytest.approx(0.5) and info.sources["focus_distance_m"] == "EXIF SubjectDistance"
    assert info.focal_length_mm == 35.0 and info.sources["focal_length_mm"] == "XMP exif:FocalLength"


@pytest.mark.parametrize("packet", [b"", b"<x:xmpmeta", b"\x00\xff junk", None])
def test_broken_xmp_is_no_xmp(packet):
    assert parse_xmp(packet) == {}


# --- maker notes: the mapping of exifread's tag dictionary --------------------------------------------------


def _tag(values, field_type=FieldType.RATIO):
    return IfdTag(str(values), 0, field_type, values, 0, 0)


def test_canon_focus_distance_upper_lower_middle_in_diopters():
    tags = {"MakerNote SubjectDistance": _tag(50, FieldType.PROPRIETARY),  # cm, as exifread decodes ShotInfo item 19
            "MakerNote FocusDistanceLower": _tag(40, FieldType.PROPRIETARY)}
    info = exif_info(tags)
    assert info.focus_distance_m == pytest.approx(2 / (1 / 0.5 + 1 / 0.4))
    assert info.sources["focus_distance_m"] == "MakerNote Canon FocusDistanceUpper/Lower"


def test_canon_focus_distance_upper_alone_and_at_infinity():
    upper = exif_info({"MakerNote SubjectDistance": _tag(125, FieldType.PROPRIETARY)})
    assert upper.focus_distance_m == 1.25 and upper.sources["focus_distance_m"] == "MakerNote Canon FocusDistanceUpper"
    for infinity in (65535, -1):  # unsigned, or read as signed
        tags = {"MakerNote SubjectDistance": _tag(infinity, FieldType.PROPRIETARY)}
        assert exif_info(tags).focus_distance_m == math.inf


def test_exifread_decodes_canons_focus_distance_items():
    """exifread's own decoding of Canon's ShotInfo (maker-note tag 0x0004, item by item) gives items 19 and 20."""
    header = ExifHeader.__new__(ExifHeader)
    header.tags = {}
    shot_info = [0] * 22
    shot_info[19], shot_info[20] = 150, 120  # cm
    header._canon_decode_tag(shot_info, canon.OFFSET_TAGS[0x0004])
    assert exif_info(header.tags).focus_distance_m == pytest.approx(2 / (1 / 1.5 + 1 / 1.2))


def test_nikon_manual_focus_distance():
    info = exif_info({"MakerNote ManualFocusDistance": _tag([Ratio(3, 2)])})
    assert info.focus_distance_m == 1.5 and info.sources["focus_distance_m"] == "MakerNote Nikon ManualFocusDistance"


def test_apple_focus_distance_range_only_for_apple():
    note = {"MakerNote Tag 0x000C": _tag([Ratio(1, 4), Ratio(1, 2)], FieldType.SIGNED_RATIO)}
    info = exif_info({"Image Make": _tag("Apple", FieldType.ASCII), **note})
    assert info.focus_distance_m == pytest.approx(1 / 3)  # 4 D and 2 D: 3 D
    assert info.sources["focus_distance_m"] == "MakerNote Apple FocusDistanceRange"
    assert exif_info({"Image Make": _tag("Other", FieldType.ASCII), **note}).focus_distance_m is None


def test_casio_object_distance_in_millimetres():
    assert exif_info({"MakerNote Object Distance": _tag([850], FieldType.LONG)}).focus_distance_m == pytest.approx(0.85)


def test_exif_subject_distance_wins_over_maker_notes():
    tags = {**_tags(SubjectDistance=_tag([Ratio(7, 10)])), "MakerNote ManualFocusDistance": _tag([Ratio(3, 2)])}
    info = exif_info(tags)
    assert info.focus_distance_m == pytest.approx(0.7) and info.sources["focus_distance_m"] == "EXIF SubjectDistance"


def test_ifd0_tags_used_when_exif_ifd_lacks_them():
    info = exif_info({"Image FocalLength": _tag([Ratio(50, 1)]), "EXIF FocalLength": None})
    assert info.focal_length_mm == 50


# --- the camera the metadata implies ------------------------------------------------------------------------


def test_sensor_width_from_35mm_equivalent_on_the_diagonal():
    """A 3:2 image like the 35 mm frame, crop factor 1.5: the sensor is 36 / 1.5 = 24 mm wide."""
    camera, sources = camera_from_metadata(ExifInfo(focal_length_mm=10.0, focal_length_35mm=15.0,
                                                    sources={"focal_length_mm": "EXIF FocalLength"}),
                                           width_px=3000, height_px=2000)
    assert camera.sensor_width_mm == pytest.approx(24.0)
    assert camera.pixel_pitch_for(3000) == pytest.approx(8.0)
    assert sources["sensor_width_mm"] == "35 mm equivalent (diagonal) and focal length"


def test_sensor_width_follows_the_aspect_ratio():
    """4:3 with the diagonal of a 3:2 sensor of 24 mm width (28.84 mm): width 0.8 x diagonal."""
    camera, _ = camera_from_metadata(ExifInfo(focal_length_mm=10.0, focal_length_35mm=15.0), width_px=4000,
                                     height_px=3000)
    assert camera.sensor_width_mm == pytest.approx(0.8 * math.hypot(36, 24) / 1.5)


def test_focal_plane_pitch_preferred_over_35mm_equivalent():
    camera, sources = camera_from_metadata(
        ExifInfo(focal_length_mm=10.0, focal_length_35mm=15.0, pixel_pitch_um=3.0,
                 sources={"pixel_pitch_um": "EXIF FocalPlaneXResolution"}), width_px=3000, height_px=2000)
    assert camera.pixel_pitch_um == 3.0 and camera.sensor_width_mm is None
    assert sources["pixel_pitch_um"] == "EXIF FocalPlaneXResolution"


def test_no_camera_values_no_camera():
    assert camera_from_metadata(ExifInfo(focus_distance_m=1.0), width_px=10, height_px=10) == (None, {})


# --- read_stack: precedence argument > stack.json > metadata > index, and sources ---------------------------


def _xmp_folder(tmp_path, distances, *, sidecar=None):
    folder = tmp_path / "s"
    folder.mkdir()
    for k, d in enumerate(distances):
        Image.fromarray(np.full((H, W, 3), 40 * k, np.uint8)).save(folder / f"s{k}.png")
        (folder / f"s{k}.xmp").write_text(xmp(f'aux:ApproximateFocusDistance="{d}" exif:FocalLength="50/1" '
                                              'exif:FNumber="4/1" exif:FocalLengthIn35mmFilm="75"'))
    if sidecar is not None:
        (folder / "stack.json").write_text(json.dumps(sidecar))
    return folder


def test_read_stack_takes_focus_distances_from_xmp(tmp_path):
    folder = _xmp_folder(tmp_path, [0.9, 0.3, 0.6])
    with warnings.catch_warnings():
        warnings.simplefilter("error", FocusInfoWarning)
        stack = read_stack(folder)
    assert stack.unit == "m" and stack.names == ["s1.png", "s2.png", "s0.png"]
    np.testing.assert_allclose(stack.focus_positions, [0.3, 0.6, 0.9])
    assert stack.sources["focus_positions"] == "XMP sidecar aux:ApproximateFocusDistance"
    # 50 mm is 75 mm equivalent: the sensor's diagonal is 43.27 mm / 1.5, its width 4/5 of that (40 x 30 pixels)
    assert stack.camera.sensor_width_mm == pytest.approx(math.hypot(36, 24) / 1.5 * 0.8)
    assert stack.sources["sensor_width_mm"] == "35 mm equivalent (diagonal) and focal length"


def test_read_stack_precedence_argument_then_sidecar_then_metadata(tmp_path):
    folder = _xmp_folder(tmp_path, [0.9, 0.3], sidecar={"focus_positions": [2.0, 1.0], "unit": "diopter",
                                                        "camera": {"f_number": 2.8, "pixel_pitch_um": 6.0}})
    stack = read_stack(folder)
    assert stack.unit == "diopter" and stack.sources["focus_positions"] == "stack.json"
    assert stack.camera.f_number == 2.8 and stack.sources["f_number"] == "stack.json"
    assert stack.camera.focal_length_mm == 50
    assert stack.sources["focal_length_mm"] == "XMP sidecar exif:FocalLength"
    assert stack.camera.sensor_width_mm is None  # the sidecar's pixel pitch decides the sensor geometry
    given = read_stack(folder, focus_positions=[0.5, 0.7], unit="m")
    assert given.sources["focus_positions"] == "argument"
    np.testing.assert_allclose(given.focus_positions, [0.5, 0.7])


def test_read_stack_falls_back_to_index_when_some_slices_lack_a_distance(tmp_path):
    folder = _xmp_folder(tmp_path, [0.9, 0.3])
    (folder / "s1.xmp").unlink()
    with pytest.warns(FocusInfoWarning, match="only 1 of 2 slices"):
        stack = read_stack(folder)
    assert stack.unit == "index" and stack.sources["focus_positions"] == "none found"
