"""The command line: success paths, and every kind of bad input giving exit 2, one clear line, no output."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import cv2
import numpy as np
import pytest
import tifffile
from typer.testing import CliRunner

import focalstack
import focalstack.cli as cli
import focalstack.io.results as results
from focalstack.cli import app

H, W = 48, 64
FOCUS_DIOPTERS = [2.5, 1.9, 1.3, 0.7]  # near to far
RESULT_FILES = ("depth.npy", "confidence.npy", "aif.png", "depth_preview.png", "result.json")


# --- helpers ------------------------------------------------------------------------------------------------


def _depth_ramp():
    """Inverse depth: near (2.5 D = 0.4 m) on the left, far (0.7 D = 1.43 m) on the right."""
    return np.tile(np.linspace(2.5, 0.7, W, dtype=np.float32), (H, 1))


def _to_file_pixels(image, bit_depth):
    top = 255 if bit_depth == 8 else 65535
    pixels = np.round(np.clip(image, 0, 1) * top).astype(np.uint8 if bit_depth == 8 else np.uint16)
    return pixels[..., ::-1] if pixels.ndim == 3 else pixels  # OpenCV writes BGR


def write_stack(folder, synth, *, bit_depth=8, sidecar="metres", shuffle=True):
    """A synthetic colour stack as PNGs; file order is shuffled so that sorting matters."""
    slices, _ = synth.render(_depth_ramp(), FOCUS_DIOPTERS, color=True)
    folder.mkdir(parents=True)
    order = [2, 0, 3, 1] if shuffle else [0, 1, 2, 3]
    metres = []
    for k, i in enumerate(order):
        assert cv2.imwrite(str(folder / f"slice_{k:02d}.png"), _to_file_pixels(slices[i], bit_depth))
        metres.append(1.0 / FOCUS_DIOPTERS[i])
    if sidecar == "metres":
        (folder / "stack.json").write_text(json.dumps({"focus_positions": metres, "unit": "m"}))
    return folder, metres


def write_grey_pngs(folder, count, shape=(H, W)):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(count)
    for k in range(count):
        assert cv2.imwrite(str(folder / f"s{k}.png"), rng.integers(0, 256, shape, dtype=np.uint8))
    return folder


@pytest.fixture
def outdir(tmp_path):
    """Output path inside an otherwise empty parent, so leftovers are easy to see."""
    parent = tmp_path / "results"
    parent.mkdir()
    return parent / "out"


@pytest.fixture
def stack_dir(tmp_path, synth):
    return write_stack(tmp_path / "stack", synth)[0]


def invoke(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def assert_refused(result, out, *fragments):
    """Exit 2, exactly one 'error:' line naming the problem, no traceback, nothing left beside OUT."""
    assert result.exit_code == 2, (result.exit_code, result.output, result.exception)
    assert "Traceback" not in result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.stderr
    for fragment in fragments:
        assert fragment.lower() in errors[0].lower(), errors[0]
    assert result.stdout == ""
    assert not out.exists()
    assert list(out.parent.iterdir()) == [], "no output and no temporary folder may be left"
    return errors[0]


# --- success paths ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", [None, "sml"], ids=["default", "sml"])
def test_depth_success_writes_all_results(stack_dir, outdir, method):
    result = invoke("depth", stack_dir, "-o", outdir, *(["-m", method] if method else []))
    assert result.exit_code == 0, result.output
    assert "error" not in result.stderr
    assert "wrote" in result.stderr
    assert sorted(p.name for p in outdir.iterdir()) == sorted(RESULT_FILES)
    assert [p.name for p in outdir.parent.iterdir()] == ["out"]  # no temporary folders left

    depth = np.load(outdir / "depth.npy")
    assert depth.dtype == np.float32 and depth.shape == (H, W)
    assert np.isfinite(depth).all()
    near, far = 1 / FOCUS_DIOPTERS[0], 1 / FOCUS_DIOPTERS[-1]
    assert depth.min() >= near - 1e-4 and depth.max() <= far + 1e-4
    # the scene is near on the left and far on the right: depth in metres must grow left to right
    assert np.median(depth[:, : W // 4]) < 0.6 < 0.9 < np.median(depth[:, -W // 4:])

    confidence = np.load(outdir / "confidence.npy")
    assert confidence.dtype == np.float32 and confidence.shape == (H, W)
    assert confidence.min() >= 0 and confidence.max() <= 1 and confidence.max() > 0

    aif = cv2.imread(str(outdir / "aif.png"), cv2.IMREAD_UNCHANGED)
    assert aif.dtype == np.uint8 and aif.shape == (H, W, 3)
    preview = cv2.imread(str(outdir / "depth_preview.png"))
    assert preview is not None and preview.size > 0

    summary = json.loads((outdir / "result.json").read_text())
    if method is None:  # the default is the released network that beats sml on the real-image benchmark
        assert summary["method"] == focalstack.DEFAULT_METHOD == "aifdepthnet_light"
        assert summary["parameters"]["dihedral"] is False and "window" not in summary["parameters"]
    else:
        assert summary["method"] == "sml"
        assert summary["parameters"]["window"] == 9 and summary["parameters"]["focus_measure"] == "sml"
    assert summary["unit"] == "m"
    assert summary["focus_positions"] == pytest.approx(sorted(1 / d for d in FOCUS_DIOPTERS))
    assert summary["size"] == {"height": H, "width": W}
    assert summary["timings_s"]["total"] > 0
    assert summary["version"] == focalstack.__version__
    assert summary["input"] == str(stack_dir)
    assert sorted(summary["files"]) == [f"slice_{k:02d}.png" for k in range(4)]


def test_depth_options_reach_result(stack_dir, outdir):
    result = invoke("depth", stack_dir, "-o", outdir, "--method", "tenengrad", "--window", 5, "--fusion", "pyramid",
                    "--refine", "none", "--peak-fit", "parabolic", "--scale", 0.5, "-q")
    assert result.exit_code == 0, result.output
    assert result.stderr == ""  # --quiet: no summary
    summary = json.loads((outdir / "result.json").read_text())
    assert summary["method"] == "tenengrad"
    assert summary["parameters"]["window"] == 5
    assert summary["parameters"]["fusion"] == "pyramid"
    assert summary["parameters"]["refine"] == "none"
    assert summary["parameters"]["peak_fit"] == "parabolic"
    assert summary["scale"] == 0.5
    assert np.load(outdir / "depth.npy").shape == (H // 2, W // 2)
    assert cv2.imread(str(outdir / "aif.png")).shape == (H // 2, W // 2, 3)


def test_16bit_input_gives_16bit_aif(tmp_path, synth, outdir):
    folder, _ = write_stack(tmp_path / "stack16", synth, bit_depth=16)
    result = invoke("depth", folder, "-o", outdir)
    assert result.exit_code == 0, result.output
    aif = cv2.imread(str(outdir / "aif.png"), cv2.IMREAD_UNCHANGED)
    assert aif.dtype == np.uint16 and aif.shape == (H, W, 3)
    assert len(np.unique(aif)) > 256  # really uses the 16 bits


def test_command_line_positions_override_sidecar(stack_dir, outdir):
    # the sidecar says metres; the command line gives diopters, in file order
    sidecar = json.loads((stack_dir / "stack.json").read_text())
    diopters = [round(1 / m, 6) for m in sidecar["focus_positions"]]
    result = invoke("depth", stack_dir, "-o", outdir, "--focus-positions", ",".join(map(str, diopters)),
                    "--unit", "diopter")
    assert result.exit_code == 0, result.output
    summary = json.loads((outdir / "result.json").read_text())
    assert summary["unit"] == "diopter"
    assert summary["focus_positions"] == pytest.approx(sorted(diopters, reverse=True))
    depth = np.load(outdir / "depth.npy")
    assert depth.min() >= min(diopters) - 1e-4 and depth.max() <= max(diopters) + 1e-4
    # diopters fall with distance: larger values on the (near) left
    assert np.median(depth[:, : W // 4]) > np.median(depth[:, -W // 4:])


def test_no_focus_information_warns_and_uses_index(tmp_path, synth, outdir):
    folder, _ = write_stack(tmp_path / "bare", synth, sidecar=None)
    result = invoke("depth", folder, "-o", outdir)
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and "index" in warnings[0]
    summary = json.loads((outdir / "result.json").read_text())
    assert summary["unit"] == "index"
    assert summary["focus_positions"] == [0.0, 1.0, 2.0, 3.0]
    depth = np.load(outdir / "depth.npy")
    assert depth.min() >= 0 and depth.max() <= 3


def test_unit_index_alone_is_silent(tmp_path, synth, outdir):
    folder, _ = write_stack(tmp_path / "bare", synth, sidecar=None)
    result = invoke("depth", folder, "-o", outdir, "--unit", "index", "-q")
    assert result.exit_code == 0, result.output
    assert "warning" not in result.stderr
    assert json.loads((outdir / "result.json").read_text())["unit"] == "index"


def test_float_tiff_stack_gives_16bit_aif(tmp_path, synth, outdir):
    slices, _ = synth.render(_depth_ramp(), FOCUS_DIOPTERS[:3])
    folder = tmp_path / "float"
    folder.mkdir()
    for k, image in enumerate(slices):
        tifffile.imwrite(folder / f"s{k}.tif", image.astype(np.float32))
    result = invoke("depth", folder, "-o", outdir, "-f", "2.5,1.9,1.3", "-u", "diopter")
    assert result.exit_code == 0, result.output
    aif = cv2.imread(str(outdir / "aif.png"), cv2.IMREAD_UNCHANGED)
    assert aif.dtype == np.uint16 and aif.shape == (H, W)


def test_overwrite_replaces_existing_output(stack_dir, outdir):
    outdir.mkdir()
    (outdir / "old.txt").write_text("previous run")
    result = invoke("depth", stack_dir, "-o", outdir, "--overwrite")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in outdir.iterdir()) == sorted(RESULT_FILES)
    assert [p.name for p in outdir.parent.iterdir()] == ["out"]  # no .out.old-* or .out.tmp-* left


def test_help_and_version():
    result = invoke("--help")
    assert result.exit_code == 0
    assert "depth" in result.output and "--version" in result.output

    result = invoke("depth", "--help")
    assert result.exit_code == 0
    for option in ("--out", "--focus-positions", "--unit", "--window", "--scale", "--max-megapixels",
                   "--overwrite", "--method"):
        assert option in result.output, option

    result = invoke("--version")
    assert result.exit_code == 0
    assert result.stdout.strip() == f"focalstack {focalstack.__version__}"


def test_interrupt_while_writing_leaves_nothing(stack_dir, outdir, monkeypatch, capsys):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(results, "save_depth_preview", interrupted)  # after depth.npy etc. were written
    assert cli.main(["depth", str(stack_dir), "-o", str(outdir), "-q"]) == 130
    assert "Traceback" not in capsys.readouterr().err
    assert list(outdir.parent.iterdir()) == []


# --- bad input: the stack folder ----------------------------------------------------------------------------


def test_missing_stack_folder(tmp_path, outdir):
    assert_refused(invoke("depth", tmp_path / "nope", "-o", outdir), outdir, "does not exist", "nope")


def test_stack_path_is_a_file(tmp_path, outdir):
    (tmp_path / "one.png").write_bytes(b"x")
    assert_refused(invoke("depth", tmp_path / "one.png", "-o", outdir), outdir, "not a folder")


def test_empty_folder(tmp_path, outdir):
    (tmp_path / "empty").mkdir()
    assert_refused(invoke("depth", tmp_path / "empty", "-o", outdir), outdir, "0 image", "at least 2")


def test_single_image(tmp_path, outdir):
    folder = write_grey_pngs(tmp_path / "one", 1)
    assert_refused(invoke("depth", folder, "-o", outdir), outdir, "1 image", "at least 2")


def test_mismatched_image_sizes(tmp_path, outdir):
    folder = write_grey_pngs(tmp_path / "mixed", 2)
    cv2.imwrite(str(folder / "s9.png"), np.zeros((H, W + 2), np.uint8))
    line = assert_refused(invoke("depth", folder, "-o", outdir, "--unit", "index"), outdir, "must match")
    assert "s9.png" in line and f"{W + 2}x{H}" in line


def test_corrupt_image(tmp_path, outdir):
    folder = write_grey_pngs(tmp_path / "bad", 2)
    (folder / "s1.png").write_bytes(b"these bytes are not a PNG")
    assert_refused(invoke("depth", folder, "-o", outdir, "--unit", "index"), outdir, "cannot read", "s1.png")


def test_nan_in_float_tiff_fails_at_decode(tmp_path, outdir):
    folder = tmp_path / "nan"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for k in range(3):
        image = rng.random((H, W), dtype=np.float32)
        if k == 2:
            image[5, 7] = np.nan
        tifffile.imwrite(folder / f"s{k}.tif", image)
    assert_refused(invoke("depth", folder, "-o", outdir, "--unit", "index"), outdir, "NaN", "s2.tif")


def test_image_above_max_megapixels(tmp_path, outdir):
    folder = write_grey_pngs(tmp_path / "big", 2)
    line = assert_refused(invoke("depth", folder, "-o", outdir, "--unit", "index", "--max-megapixels", 0.001),
                          outdir, "above the limit", "--max-megapixels")
    assert f"{W}x{H}" in line


def _header_only_png(path, width, height):
    import struct
    import zlib

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 16))
                     + chunk(b"IEND", b""))


def test_huge_png_header_refused_without_decoding(tmp_path, outdir):
    folder = tmp_path / "huge"
    folder.mkdir()
    for k in range(2):
        _header_only_png(folder / f"s{k}.png", 60000, 60000)  # 3.6 gigapixels claimed, a few bytes on disk
    assert_refused(invoke("depth", folder, "-o", outdir, "--unit", "index"), outdir, "s0.png", "limit")


def test_huge_png_header_names_max_megapixels(tmp_path, outdir):
    folder = tmp_path / "huge"
    folder.mkdir()
    for k in range(2):
        _header_only_png(folder / f"s{k}.png", 60000, 60000)
    assert_refused(invoke("depth", folder, "-o", outdir, "--unit", "index"), outdir, "--max-megapixels")


def test_planar_tiff_is_not_a_traceback(tmp_path, outdir):
    folder = tmp_path / "planar"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for k in range(2):
        tifffile.imwrite(folder / f"s{k}.tif", rng.integers(0, 256, (3, H, W), dtype=np.uint8),
                         planarconfig="separate", photometric="rgb")
    result = invoke("depth", folder, "-o", outdir, "--unit", "index", "-q")
    assert result.exit_code in (0, 2), result.exception


# --- bad input: focus positions -----------------------------------------------------------------------------


@pytest.mark.parametrize("positions,unit,fragments", [
    ("0.5,1.0", "m", ["2 focus positions for 3 slices"]),
    ("0.5,1.0,0.5", "m", ["duplicate"]),
    ("0.5,nan,1.5", "m", ["finite"]),
    ("0.5,inf,1.5", "diopter", ["finite"]),
    ("0.5,far,1.5", "m", ["comma-separated numbers", "far"]),
    ("0.5,1.0,1.5", None, ["without a unit"]),
    ("-0.5,1.0,1.5", "m", ["positive"]),
    ("0,1.0,1.5", "m", ["positive"]),
    ("", "m", ["comma-separated numbers"]),
])
def test_bad_focus_positions(tmp_path, outdir, positions, unit, fragments):
    folder = write_grey_pngs(tmp_path / "s", 3)
    args = ["depth", folder, "-o", outdir, "--focus-positions", positions] + (["--unit", unit] if unit else [])
    assert_refused(invoke(*args), outdir, *fragments)


def test_unit_without_positions(tmp_path, outdir):
    folder = write_grey_pngs(tmp_path / "s", 3)
    assert_refused(invoke("depth", folder, "-o", outdir, "--unit", "m"), outdir, "needs --focus-positions")


def test_unknown_unit_is_a_usage_error(tmp_path, outdir):
    folder = write_grey_pngs(tmp_path / "s", 3)
    result = invoke("depth", folder, "-o", outdir, "-f", "1,2,3", "--unit", "feet")
    assert result.exit_code == 2
    assert "feet" in result.output
    assert list(outdir.parent.iterdir()) == []


# --- bad input: stack.json ----------------------------------------------------------------------------------


@pytest.mark.parametrize("sidecar,fragments", [
    ('{"focus_positions": [0.5, 1.0, 1.5], "unit": "m",', ["cannot read", "stack.json"]),
    ('{"files": ["s0.png", "s1.png", "missing.png"]}', ["do not exist", "missing.png"]),
    ('{"focus_positions": [0.5, 1.0, 1.5]}', ["without a 'unit'"]),
    ('{"focus_positions": [0.5, 1.0], "unit": "m"}', ["2 focus positions for 3 slices"]),
    ('{"focus_positions": [0.5, 1.0, 0.5], "unit": "m"}', ["duplicate"]),
    ('{"focus_positions": [0.5, 1.0, 1.5], "unit": "inches"}', ["inches"]),
    ('{"focus_positions": [0.5, -1.0, 1.5], "unit": "m"}', ["positive"]),
])
def test_bad_sidecar(tmp_path, outdir, sidecar, fragments):
    folder = write_grey_pngs(tmp_path / "s", 3)
    (folder / "stack.json").write_text(sidecar)
    assert_refused(invoke("depth", folder, "-o", outdir), outdir, *fragments)


# --- bad input: output folder and parameters ----------------------------------------------------------------


def test_existing_output_without_overwrite_is_untouched(stack_dir, outdir):
    outdir.mkdir()
    (outdir / "keep.txt").write_text("precious")
    result = invoke("depth", stack_dir, "-o", outdir)
    assert result.exit_code == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "already exists" in errors[0] and "--overwrite" in errors[0]
    assert [p.name for p in outdir.iterdir()] == ["keep.txt"]
    assert (outdir / "keep.txt").read_text() == "precious"
    assert [p.name for p in outdir.parent.iterdir()] == ["out"]


def test_output_is_a_file(stack_dir, outdir):
    outdir.write_text("a file")
    result = invoke("depth", stack_dir, "-o", outdir, "--overwrite")
    assert result.exit_code == 2
    assert "not a folder" in result.stderr
    assert outdir.read_text() == "a file"


def test_missing_output_parents_are_created(stack_dir, outdir):
    target = outdir.parent / "missing" / "deeper" / "out"
    result = invoke("depth", stack_dir, "-o", target, "-q")
    assert result.exit_code == 0, result.output
    assert (target / "depth.npy").is_file()


def test_output_under_a_file_is_refused(stack_dir, outdir):
    blocker = outdir.parent / "file.txt"
    blocker.write_text("mine")
    result = invoke("depth", stack_dir, "-o", blocker / "out")
    assert result.exit_code == 2 and "is a file" in result.stderr
    assert blocker.read_text() == "mine"


def test_output_may_not_replace_the_input(stack_dir):
    before = sorted(p.name for p in stack_dir.iterdir())
    result = invoke("depth", stack_dir, "-o", stack_dir, "--overwrite", "-q")
    assert result.exit_code == 2
    assert sorted(p.name for p in stack_dir.iterdir()) == before


@pytest.mark.parametrize("window", [8, 0, -3])
def test_bad_window(stack_dir, outdir, window):
    assert_refused(invoke("depth", stack_dir, "-o", outdir, "-m", "sml", "--window", window), outdir, "window", "odd")


def test_focus_measure_options_without_a_method_name_the_flag_that_enables_them(stack_dir, outdir):
    result = invoke("depth", stack_dir, "-o", outdir, "--window", 5, "--fusion", "pyramid")
    assert_refused(result, outdir, "--window, --fusion", "aifdepthnet_light", "--method sml")


@pytest.mark.parametrize("scale", [0, 1.5, -1])
def test_bad_scale(stack_dir, outdir, scale):
    assert_refused(invoke("depth", stack_dir, "-o", outdir, "--scale", scale), outdir, "scale", "(0, 1]")


def test_bad_refine_radius(stack_dir, outdir):
    assert_refused(invoke("depth", stack_dir, "-o", outdir, "-m", "sml", "--refine-radius", 0), outdir,
                   "refine_radius")


def test_unknown_method_is_a_usage_error(stack_dir, outdir):
    result = invoke("depth", stack_dir, "-o", outdir, "--method", "magic")
    assert result.exit_code == 2
    assert "magic" in result.output
    assert list(outdir.parent.iterdir()) == []


# --- the real process ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", [
    "missing-folder",
    "duplicate-positions",
])
def test_subprocess_bad_input_exit_2_one_line(tmp_path, case):
    if case == "missing-folder":
        stack = tmp_path / "no-such-stack"
    else:
        stack = write_grey_pngs(tmp_path / "s", 3)
    parent = tmp_path / "results"
    parent.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHONWARN")}
    proc = subprocess.run(
        [sys.executable, "-m", "focalstack", "depth", str(stack), "-o", str(parent / "out"),
         "--focus-positions", "1,2,1", "--unit", "m"],
        capture_output=True, text=True, timeout=120, env=env,
    )
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    assert ("does not exist" if case == "missing-folder" else "duplicate") in lines[0]
    assert proc.stdout == ""
    assert list(parent.iterdir()) == []


def test_focus_positions_from_a_file(tmp_path, synth, outdir):
    folder, metres = write_stack(tmp_path / "s", synth, sidecar=None)
    listing = tmp_path / "focus.txt"
    listing.write_text("\n".join(str(m) for m in metres) + "\n")
    result = invoke("depth", folder, "-o", outdir, "-f", f"@{listing}", "-u", "m", "-q")
    assert result.exit_code == 0, result.output
    summary = json.loads((outdir / "result.json").read_text())
    assert summary["unit"] == "m" and sorted(summary["focus_positions"]) == sorted(metres)


def test_focus_positions_file_missing(stack_dir, outdir):
    assert_refused(invoke("depth", stack_dir, "-o", outdir, "-f", "@/no/such/file.txt", "-u", "m"), outdir,
                   "cannot read focus positions")


def test_depth_with_a_model_and_weights_file(stack_dir, outdir, tmp_path):
    from focalstack.models import create_model, save_weights

    weights = tmp_path / "light.safetensors"
    save_weights(create_model("aifdepthnet_light"), weights)
    result = invoke("depth", stack_dir, "-o", outdir, "-m", "aifdepthnet_light", "--weights", weights, "-q")
    assert result.exit_code == 0, result.output
    depth = np.load(outdir / "depth.npy")
    assert depth.shape == (H, W) and np.isfinite(depth).all()
    assert json.loads((outdir / "result.json").read_text())["method"] == "aifdepthnet_light"


def test_depth_notes_a_network_worse_than_the_classical_default(stack_dir, outdir, tmp_path, monkeypatch):
    from focalstack.models import registry

    entry = {"ratio": 0.9, "low": 0.8, "high": 1.1, "per_dataset": {"real-phone": 1.3, "real-microscope": 0.5},
             "beats_reference": False}
    path = tmp_path / "standing.json"
    path.write_text(json.dumps({"reference": "sml", "methods": {"aifdepthnet_light": entry}}))
    monkeypatch.setattr(registry, "STANDING_FILE", path)
    registry._standing_table.cache_clear()
    try:
        result = invoke("depth", stack_dir, "-o", outdir, "-m", "aifdepthnet_light", "-q")
        assert result.exit_code == 0, result.output
        assert "note: aifdepthnet_light: 0.90x the MSE of the focus measure sml" in result.stderr
        assert "WORSE than it on real-phone" in result.stderr
        quiet = invoke("depth", stack_dir, "-o", tmp_path / "o2", "-m", "sml", "-q")  # no note for classical
        assert quiet.exit_code == 0 and "note:" not in quiet.stderr
    finally:
        registry._standing_table.cache_clear()


def test_depth_names_the_light_field_weights_for_a_stack_in_disparity_units(synth, tmp_path, monkeypatch):
    from focalstack.models import registry

    light = {"ratio": 0.4, "low": 0.3, "high": 0.5, "per_dataset": {"real-lightfield": 0.3}, "beats_reference": True}
    made = {**light, "per_dataset": {"real-lightfield": 0.2}, "made_for": "real-lightfield"}
    path = tmp_path / "standing.json"
    path.write_text(json.dumps({"reference": "sml", "methods": {"aifdepthnet_light": light,
                                                                 "dffwild:lightfield": made}}))
    monkeypatch.setattr(registry, "STANDING_FILE", path)
    registry._standing_table.cache_clear()
    folder = write_stack(tmp_path / "lf", synth, sidecar=None)[0]
    try:
        assert registry.weights_made_for("real-lightfield") == ["dffwild:lightfield"]
        disparity = ["--focus-positions", "1.5,-0.5,0.5,-1.5", "--unit", "disparity", "-q"]
        result = invoke("depth", folder, "-o", tmp_path / "a", "-m", "aifdepthnet_light", *disparity)
        assert result.exit_code == 0, result.output
        assert "note: for light-field refocus stacks (depth in disparity units) -m dffwild:lightfield" in result.stderr
        assert "0.20x the MSE of sml" in result.stderr
        metres = invoke("depth", folder, "-o", tmp_path / "b", "-m", "aifdepthnet_light", "--focus-positions",
                        "0.5,0.25,0.4,0.2", "--unit", "m", "-q")  # a camera stack in metres: no note
        assert metres.exit_code == 0 and "light-field" not in metres.stderr
        classical = invoke("depth", folder, "-o", tmp_path / "c", "-m", "sml", *disparity)
        assert classical.exit_code == 0 and "note:" not in classical.stderr
    finally:
        registry._standing_table.cache_clear()


def test_depth_with_an_untrained_model_is_refused(stack_dir, outdir, tmp_path, monkeypatch):
    from focalstack.models import registry

    monkeypatch.setattr(registry, "WEIGHTS_DIR", tmp_path / "no-weights")  # as before any release
    assert_refused(invoke("depth", stack_dir, "-o", outdir, "-m", "aifdepthnet_light"), outdir, "no trained weights")
    assert_refused(invoke("depth", stack_dir, "-o", outdir, "-m", "aifdepthnet_light:nope"), outdir,
                   "no released weights aifdepthnet_light:nope")


# --- alignment ----------------------------------------------------------------------------------------------


def _breathing_stack_dir(tmp_path):
    """A simulated phone stack with focus breathing and principal-point jitter, with its camera in stack.json."""
    from focalstack.io.stackdir import write_stack as write_stack_folder
    from focalstack.simulate import CameraEffects, procedural_scene, simulate_stack

    scene = procedural_scene(np.random.default_rng(5), size=(96, 96), depth_range_m=(0.1, 1.0))
    sim = simulate_stack(scene, "phone", num_slices=4, effects=CameraEffects(noise=False, jpeg=False),
                         rng=np.random.default_rng(6), renderer="per_pixel", psf="gaussian")
    return write_stack_folder(sim.to_focal_stack(), tmp_path / "phone"), sim


def test_align_command_writes_a_stack_that_reads_back(tmp_path, outdir):
    from focalstack.align import relative_to, warp_error_px
    from focalstack.io.stackdir import read_stack

    folder, sim = _breathing_stack_dir(tmp_path)
    result = invoke("align", folder, "-o", outdir)
    assert result.exit_code == 0, result.output
    assert "aligned (auto" in result.stderr
    sidecar = json.loads((outdir / "stack.json").read_text())
    assert sidecar["camera"]["focal_length_mm"] == pytest.approx(4.4) and sidecar["unit"] == "m"
    warps = np.array(sidecar["alignment"]["warps"])
    assert warp_error_px(warps, relative_to(sim.warps, 0), (96, 96)).max() < 0.5
    stack = read_stack(outdir)
    assert len(stack) == 4 and stack.shape == (96, 96)
    np.testing.assert_allclose(stack.focus_positions, sim.focus_distances_m, rtol=1e-6)
    again = invoke("align", folder, "-o", outdir)  # never overwritten unless asked
    assert again.exit_code == 2 and "exists" in again.stderr


@pytest.mark.parametrize("method", ["homography", "learned"])
def test_depth_with_homography_or_learned_alignment(tmp_path, outdir, method):
    """--align homography / learned: 3 x 3 warps in result.json within 1 px of the exact ones (measured
    0.3-0.6 px on such stacks, docs/alignment.md)."""
    from focalstack.align import relative_to, warp_error_px

    folder, sim = _breathing_stack_dir(tmp_path)
    result = invoke("depth", folder, "-o", outdir, "-q", "--align", method)
    assert result.exit_code == 0, result.output
    alignment = json.loads((outdir / "result.json").read_text())["alignment"]
    warps = np.array(alignment["warps"])
    assert alignment["method"] == method and warps.shape == (4, 3, 3)
    assert warp_error_px(warps, relative_to(sim.warps, 0), (96, 96)).max() < 1.0


def test_depth_aligns_by_default_and_records_it(tmp_path, outdir):
    folder, _ = _breathing_stack_dir(tmp_path)
    assert invoke("depth", folder, "-o", outdir, "-q").exit_code == 0
    alignment = json.loads((outdir / "result.json").read_text())["alignment"]
    assert alignment["method"] == "auto" and len(alignment["warps"]) == 4
    assert np.array(alignment["warps"])[3, 0, 0] < 0.99  # the far slice's wider field was undone
    unaligned = tmp_path / "results" / "plain"
    assert invoke("depth", folder, "-o", unaligned, "-q", "--align", "none").exit_code == 0
    assert json.loads((unaligned / "result.json").read_text())["alignment"]["method"] == "none"


def test_align_from_metadata_without_focal_length_is_refused(stack_dir, outdir):
    assert_refused(invoke("align", stack_dir, "-o", outdir, "--method", "metadata"), outdir, "focal length")
    assert_refused(invoke("depth", stack_dir, "-o", outdir, "--align", "metadata"), outdir, "focal length")


def test_classical_command_line_does_not_import_torch():
    """The classical `depth` path (alignment included) starts without PyTorch's import time."""
    code = ("import sys, focalstack.cli, focalstack.align, focalstack.classical, focalstack.methods as m; "
            "m.resolve_method(m.parse_method('tenengrad'), window=5); print('torch' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.stdout.strip() == "False", done.stderr
