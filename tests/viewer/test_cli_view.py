"""``focalstack view`` (refusals, serving, Ctrl-C) and ``focalstack depth --html`` (report.html, atomically)."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import urllib.request

import cv2
import numpy as np
import pytest
from conftest import page_data, write_slices
from typer.testing import CliRunner

import focalstack.viewer.page as page
from focalstack import DepthResult
from focalstack.batch import FolderOptions, depth_from_folder
from focalstack.cli import app
from focalstack.io.results import RESULT_FILES, write_result

FOCUS_DIOPTERS = [2.5, 1.7, 0.9]


def invoke(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def write_stack(folder, synth):
    """A 64 x 48 colour stack focused at 0.4, 0.59 and 1.11 m (stack.json in metres)."""
    depth = np.tile(np.linspace(2.5, 0.9, 64, dtype=np.float32), (48, 1))
    slices, _ = synth.render(depth, FOCUS_DIOPTERS, color=True)
    folder.mkdir(parents=True)
    for k, image in enumerate(slices):
        assert cv2.imwrite(str(folder / f"s{k}.png"), np.round(image[..., ::-1] * 255).astype(np.uint8))
    (folder / "stack.json").write_text(json.dumps({"focus_positions": [1 / d for d in FOCUS_DIOPTERS],
                                                   "unit": "m"}))
    return folder


@pytest.mark.parametrize("case, fragment", [
    ("missing", "does not exist"), ("stack", "is not a focalstack result: it has no result.json"),
])
def test_view_refuses_a_folder_that_is_not_a_result(tmp_path, case, fragment):
    folder = tmp_path / "folder"
    if case == "stack":
        write_slices(folder)
    result = invoke("view", folder, "--no-browser")
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and fragment in lines[0]
    assert "Traceback" not in result.output


def test_view_refuses_a_second_folder_that_is_not_a_result(tmp_path, metric_result):
    result = invoke("view", metric_result, tmp_path / "nothing", "--no-browser")
    assert result.exit_code == 2 and result.output.count("error:") == 1 and "does not exist" in result.output


def test_view_serves_until_ctrl_c_and_exits_0(metric_result):
    """The real command in a process: it prints its address, serves the page, and SIGINT stops it cleanly."""
    # a shell starts background jobs with SIGINT ignored, which a child inherits: restore Ctrl-C's default so
    # the command sees SIGINT as a user at a terminal would, however the test run was started
    process = subprocess.Popen([sys.executable, "-m", "focalstack.cli", "view", str(metric_result), "--no-browser"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "PYTHONUNBUFFERED": "1"},
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        line = process.stdout.readline()
        url = re.search(r"http://127\.0\.0\.1:\d+/", line)[0]
        with urllib.request.urlopen(url, timeout=30) as response:
            assert response.status == 200 and b"focalstack-data" in response.read()
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, err
    assert "stopped" in err and "Traceback" not in err


def test_view_port_in_use_is_one_error_line(metric_result):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        result = invoke("view", metric_result, "--port", busy.getsockname()[1], "--no-browser")
    assert result.exit_code == 2 and result.output.strip().startswith("error: cannot listen on 127.0.0.1:")


def test_depth_html_writes_a_self_contained_report(tmp_path, synth):
    stack = write_stack(tmp_path / "stack", synth)
    out = tmp_path / "results" / "out"
    result = invoke("depth", stack, "-o", out, "--html", "-q")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == sorted([*RESULT_FILES, "report.html"])
    assert json.loads((out / "result.json").read_text())["report"] == "report.html"
    desc = page_data((out / "report.html").read_text())["results"][0]
    assert desc["name"] == "out" and desc["unit"] == "m" and desc["projection"]["kind"] == "orthographic"
    assert len(desc["urls"]["slices"]) == 3 and all(u.startswith("data:image/jpeg") for u in desc["urls"]["slices"])
    assert sorted(p.name for p in out.parent.iterdir()) == ["out"]  # no temporary folder left


def test_depth_without_html_writes_no_report(tmp_path, synth):
    stack = write_stack(tmp_path / "stack", synth)
    run = depth_from_folder(stack, tmp_path / "out", options=FolderOptions(html=False))
    assert run.ok and not (tmp_path / "out" / "report.html").exists()
    run = depth_from_folder(stack, tmp_path / "out2", options=FolderOptions(html=True))
    assert (tmp_path / "out2" / "report.html").is_file()


def test_a_failing_report_leaves_no_folder(tmp_path, monkeypatch):
    """report.html is written inside the atomic result folder: when it fails, nothing appears."""
    def broken(*_args, **_kwargs):
        raise RuntimeError("page builder failed")

    monkeypatch.setattr(page, "build_page", broken)
    result = DepthResult(np.ones((4, 5), np.float32), np.zeros((4, 5), np.float32), np.ones((4, 5), np.float32),
                         "index", np.arange(3.0), method="sml")
    parent = tmp_path / "results"
    with pytest.raises(RuntimeError, match="page builder failed"):
        write_result(result, parent / "out", html=True)
    assert not (parent / "out").exists() and list(parent.iterdir()) == []
    existing = write_result(result, parent / "kept")
    with pytest.raises(RuntimeError):
        write_result(result, existing, html=True, overwrite=True)
    assert sorted(p.name for p in existing.iterdir()) == sorted(RESULT_FILES)  # the old folder stays whole
    assert sorted(p.name for p in parent.iterdir()) == ["kept"]
