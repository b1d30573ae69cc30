"""Several stacks in one command: OUT/<name> per stack, failures reported while the others go on,
exit status 0 / 1 (2 stays for a wrong command line), parallel jobs giving the same results."""

from __future__ import annotations

import json
import os

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from focalstack import FocalStack, InputError
from focalstack.batch import FolderOptions, batch_outputs, depth_from_folders
from focalstack.cli import app
from focalstack.io.stackdir import write_stack


def _stack(folder, seed):
    rng = np.random.default_rng(seed)
    sharp = rng.random((40, 48, 3), dtype=np.float32)
    slices = [cv2.GaussianBlur(sharp, (0, 0), s) if s else sharp for s in (2.0, 0, 1.5, 3.0)]
    return write_stack(FocalStack(slices, [0.3, 0.4, 0.6, 0.9], unit="m"), folder)


@pytest.fixture()
def stacks(tmp_path):
    good = [_stack(tmp_path / "in" / name, k) for k, name in enumerate(("alpha", "gamma"))]
    bad = tmp_path / "in" / "beta"
    bad.mkdir()
    cv2.imwrite(str(bad / "only.png"), np.zeros((40, 48), np.uint8))  # a single image is not a stack
    return good[0], bad, good[1]


def _invoke(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def test_a_failing_stack_is_reported_and_the_others_are_written(stacks, tmp_path):
    out = tmp_path / "out"
    result = _invoke("depth", *stacks, "-o", out, "--format", "png16")
    assert result.exit_code == 1, result.output
    assert (out / "alpha" / "depth.npy").is_file() and (out / "gamma" / "depth16.png").is_file()
    assert not (out / "beta").exists()
    assert "FAILED: " in result.stderr and "holds 1 image(s)" in result.stderr
    assert "2 of 3 stacks done, 1 failed" in result.stderr
    summary = json.loads((out / "gamma" / "result.json").read_text())
    assert summary["input"].endswith("gamma") and "png16" in summary["formats"]


def test_all_good_is_exit_0_and_each_result_equals_a_single_run(stacks, tmp_path):
    alpha, _, gamma = stacks
    assert _invoke("depth", alpha, gamma, "-o", tmp_path / "out", "-q").exit_code == 0
    assert _invoke("depth", gamma, "-o", tmp_path / "single", "-q").exit_code == 0
    np.testing.assert_array_equal(np.load(tmp_path / "out" / "gamma" / "depth.npy"),
                                  np.load(tmp_path / "single" / "depth.npy"))


def test_parallel_jobs_give_the_same_results(stacks, tmp_path):
    alpha, _, gamma = stacks
    runs = depth_from_folders([alpha, gamma], tmp_path / "serial", options=FolderOptions(align="none"))
    parallel = depth_from_folders([alpha, gamma], tmp_path / "parallel", options=FolderOptions(align="none"), jobs=2)
    assert [r.ok for r in runs] == [r.ok for r in parallel] == [True, True]
    for name in ("alpha", "gamma"):
        np.testing.assert_array_equal(np.load(tmp_path / "serial" / name / "depth.npy"),
                                      np.load(tmp_path / "parallel" / name / "depth.npy"))


def test_wrong_command_lines_are_exit_2_and_touch_nothing(stacks, tmp_path):
    alpha, _, gamma = stacks
    twin = _stack(tmp_path / "elsewhere" / "alpha", 5)
    out = tmp_path / "out"
    result = _invoke("depth", alpha, twin, "-o", out)
    assert result.exit_code == 2 and "several stacks are named alpha" in result.stderr and not out.exists()
    (out / "gamma").mkdir(parents=True)
    (out / "gamma" / "mine.txt").write_text("keep")
    result = _invoke("depth", alpha, gamma, "-o", out)
    assert result.exit_code == 2 and "already exists" in result.stderr
    assert not (out / "alpha").exists() and (out / "gamma" / "mine.txt").read_text() == "keep"
    assert _invoke("depth", alpha, gamma, "-o", out, "--jobs", 0).exit_code == 2
    assert _invoke("depth", alpha, gamma, "-o", out, "-m", "sml", "--tile", 64).exit_code == 2


def test_batch_outputs_refuse_an_output_inside_an_input(stacks):
    alpha, _, _ = stacks
    with pytest.raises(InputError, match="would replace the input"):
        batch_outputs([alpha], alpha.parent)


def test_batch_workers_split_the_cores_instead_of_each_taking_all(monkeypatch):
    from focalstack.batch import _share_cores

    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setenv("MKL_NUM_THREADS", "5")  # a user's own setting wins
    _share_cores(3)
    assert os.environ["OMP_NUM_THREADS"] == "3" and os.environ["MKL_NUM_THREADS"] == "5"
