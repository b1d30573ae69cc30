"""Simulated datasets on disk and on the fly; the `focalstack simulate` command."""

import json

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from focalstack import InputError, read_stack
from focalstack.cli import app
from focalstack.simulate.camera import CameraEffects
from focalstack.simulate.dataset import (
    FocalStackFolderDataset,
    SimulatedDataset,
    SimulationConfig,
    generate,
    read_simulated,
    write_dataset,
)

SMALL = SimulationConfig(profile="phone", num=3, size=32, slices=3, seed=7)


def test_write_read_round_trip(tmp_path):
    assert write_dataset(SMALL, tmp_path / "d") == 3
    folders = sorted(p.name for p in (tmp_path / "d").iterdir() if p.is_dir())
    assert folders == ["000000", "000001", "000002"]
    meta = json.loads((tmp_path / "d" / "dataset.json").read_text())
    assert meta["format"] == "focalstack-sim-v1" and meta["num"] == 3 and meta["seed"] == 7
    original = generate(SMALL, 1)
    loaded = read_simulated(tmp_path / "d" / "000001")
    np.testing.assert_allclose(loaded.slices, original.slices, atol=0.5 / 255 + 1e-6)
    np.testing.assert_array_equal(loaded.depth_m, original.depth_m)
    np.testing.assert_allclose(loaded.warps, original.warps)
    np.testing.assert_allclose(loaded.true_focus_distances_m, original.true_focus_distances_m)
    # every stack folder is also a plain stack folder for `focalstack depth`
    stack = read_stack(tmp_path / "d" / "000001")
    assert stack.unit == "m" and len(stack) == 3 and stack.camera.pixel_pitch_um == pytest.approx(1.4 * 4)


def test_torch_datasets_agree(tmp_path):
    write_dataset(SMALL, tmp_path / "d")
    disk = FocalStackFolderDataset(tmp_path / "d")[2]
    live = SimulatedDataset(SMALL)[2]
    assert disk["slices"].shape == (3, 3, 32, 32) and disk["depth"].shape == (1, 32, 32)
    assert set(disk) == set(live)
    assert torch.allclose(disk["slices"], live["slices"], atol=0.5 / 255 + 1e-6)
    assert torch.equal(disk["depth"], live["depth"])
    batch = next(iter(torch.utils.data.DataLoader(SimulatedDataset(SMALL), batch_size=2)))
    assert batch["slices"].shape == (2, 3, 3, 32, 32) and batch["focus_positions"].shape == (2, 3)


def test_resume_makes_only_missing_stacks_and_the_same_ones(tmp_path):
    root = tmp_path / "d"
    write_dataset(SMALL, root)
    before = np.load(root / "000001" / "depth.npy")
    slice_before = (root / "000001" / "slice_00.png").read_bytes()
    import shutil

    shutil.rmtree(root / "000001")
    assert write_dataset(SMALL, root) == 1
    assert np.array_equal(np.load(root / "000001" / "depth.npy"), before)
    assert (root / "000001" / "slice_00.png").read_bytes() == slice_before
    bigger = SimulationConfig(**{**SMALL.__dict__, "num": 4})
    assert write_dataset(bigger, root) == 1  # extending the same dataset


def test_parallel_workers_give_identical_stacks(tmp_path):
    write_dataset(SMALL, tmp_path / "a", workers=1)
    write_dataset(SMALL, tmp_path / "b", workers=2)
    for i in range(3):
        for name in ("slice_00.png", "slice_02.png", "aif.png"):
            a, b = (tmp_path / run / f"{i:06d}" / name for run in ("a", "b"))
            assert a.read_bytes() == b.read_bytes()


def test_refuses_to_mix_settings_or_write_into_other_folders(tmp_path):
    write_dataset(SMALL, tmp_path / "d")
    with pytest.raises(InputError):
        write_dataset(SimulationConfig(**{**SMALL.__dict__, "seed": 8}), tmp_path / "d")
    other = tmp_path / "photos"
    other.mkdir()
    (other / "mine.jpg").write_bytes(b"x")
    with pytest.raises(InputError):
        write_dataset(SMALL, other)


def test_config_validation_and_json_round_trip():
    config = SimulationConfig(profile="microscope", effects=CameraEffects.none(), scenes=("procedural",))
    assert SimulationConfig.from_json(json.loads(json.dumps(config.to_json()))) == config
    for bad in ({"profile": "telescope"}, {"slices": 1}, {"size": 4}, {"renderer": "raytrace"}):
        with pytest.raises(InputError):
            SimulationConfig(**bad)


def test_cli_simulate(tmp_path):
    runner = CliRunner()
    result = runner.invoke(app, ["simulate", "--out", str(tmp_path / "d"), "--num", "2", "--size", "32",
                                 "--slices", "3", "--seed", "1", "--ideal", "-q"])
    assert result.exit_code == 0, result.output
    assert len(FocalStackFolderDataset(tmp_path / "d")) == 2
    meta = json.loads((tmp_path / "d" / "dataset.json").read_text())
    assert not any(meta["effects"].values())
    bad = runner.invoke(app, ["simulate", "--out", str(tmp_path / "e"), "--profile", "telescope"])
    assert bad.exit_code == 2 and "unknown camera profile" in bad.stderr
    assert not (tmp_path / "e").exists()
