"""Training on focal stacks without ground truth: one's own stack folders, the self regime, the rerender metric."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from test_trainer import merged

from focalstack.cli import main
from focalstack.errors import InputError
from focalstack.io.stackdir import write_stack
from focalstack.optics import render_focal_stack
from focalstack.simulate.dataset import FocalStackFolderDataset, SimulationConfig, read_simulated, write_dataset
from focalstack.stack import Camera, FocalStack
from focalstack.train.config import TrainConfig
from focalstack.train.data import StepBatches, ValidationSet, open_sources
from focalstack.train.trainer import Trainer, rerender_error

GROUND_TRUTH_KEYS = {"depth", "valid", "all_in_focus"}
PHONE = Camera(focal_length_mm=4.4, f_number=1.8, pixel_pitch_um=1.4)


def strip_ground_truth(root: Path) -> None:
    """Delete every depth.npy, valid.npy and aif.png of a simulated dataset and the warps of each stack.json."""
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        for name in ("depth.npy", "valid.npy", "aif.png"):
            (folder / name).unlink()
        meta = json.loads((folder / "stack.json").read_text())
        del meta["warps"]
        (folder / "stack.json").write_text(json.dumps(meta))


@pytest.fixture(scope="module")
def stripped(tmp_path_factory) -> tuple[Path, Path]:
    """(training, validation) simulated datasets without any ground truth or warps."""
    root = tmp_path_factory.mktemp("no_gt")
    for name, seed in (("train", 1), ("val", 2)):
        write_dataset(SimulationConfig(profile="phone", num=3, size=32, slices=4, seed=seed, renderer="per_pixel",
                                       psf="gaussian"), root / name)
        strip_ground_truth(root / name)
    return root / "train", root / "val"


def own_stack(folder: Path, *, size: tuple[int, int], grey: bool = False, camera: Camera | None = PHONE,
              focus: list[float] | None = None, unit: str = "m", seed: int = 0) -> Path:
    """A stack folder as `focalstack depth` reads it (images + stack.json), of random texture."""
    rng = np.random.default_rng(seed)
    focus = focus or [0.12, 0.2, 0.35, 0.8]
    shape = (len(focus), *size) if grey else (len(focus), *size, 3)
    stack = FocalStack(rng.random(shape, dtype=np.float32), focus, unit=unit, camera=camera)
    return write_stack(stack, folder)


def config_for(train: Path, out: Path, **changes) -> TrainConfig:
    """A tiny self-supervised run; ``changes`` are config sections merged into it (:func:`merged`)."""
    raw = {"model": {"name": "aifdepthnet_light", "overrides": {"features": 8, "volume": 4}}, "regime": "self",
           "run": {"steps": 2, "batch_size": 2, "seed": 0, "out": str(out), "checkpoint_every": 5, "val_every": 1,
                   "log_every": 1, "threads": 1, "best_metric": "rerender"},
           "data": {"folders": [str(train)], "val_folders": [], "val_max": 2, "crop": 24},
           "optim": {"lr": 1e-3, "warmup_steps": 0}}
    return TrainConfig.from_dict(merged(raw, changes))


def validation_records(out: Path) -> list[dict]:
    lines = (out / "metrics.jsonl").read_text().splitlines()
    return [record["val"] for record in map(json.loads, lines) if "val" in record]


# ----------------------------------------------------------------------------- reading
def test_stripped_dataset_reads_without_ground_truth(stripped):
    train, _ = stripped
    dataset = FocalStackFolderDataset(train)
    assert dataset.ground_truth == frozenset() and dataset.min_slices == 4 and len(dataset) == 3
    item = dataset[0]
    assert set(item) == {"slices", "focus_positions", "camera"}
    assert item["slices"].shape == (4, 3, 32, 32) and torch.all(item["camera"] > 0)
    with pytest.raises(InputError, match="not a simulated stack folder"):  # evaluation still insists on the truth
        read_simulated(dataset.folders[0])
    # cached (8-bit) batches carry no ground-truth keys either
    config = config_for(train, Path("unused"), data={"cache": True})
    batch = StepBatches(open_sources(config.data), config.data, batch_size=2, seed=0)[0]
    assert set(batch) == {"slices", "focus_positions", "camera"} and batch["slices"].shape[-2:] == (24, 24)


def test_own_stack_folders_read_like_focalstack_depth_reads_them(tmp_path):
    own_stack(tmp_path / "own" / "a", size=(36, 40))
    own_stack(tmp_path / "own" / "b", size=(32, 48), grey=True, focus=[1 / 0.12, 1 / 0.3, 1 / 0.9], unit="diopter")
    dataset = FocalStackFolderDataset(tmp_path / "own")
    assert len(dataset) == 2 and dataset.ground_truth == frozenset() and dataset.min_slices == 3
    a, b = dataset[0], dataset[1]
    assert a["slices"].shape == (4, 3, 36, 40) and b["slices"].shape == (3, 3, 32, 48)  # grey repeated to RGB
    assert torch.allclose(b["focus_positions"], torch.tensor([0.12, 0.3, 0.9]))  # diopters -> metres, near to far
    assert torch.allclose(a["camera"], torch.tensor([4.4, 1.8, 1.4]))


def test_max_side_downscales_and_scales_the_pixel_pitch(tmp_path):
    own_stack(tmp_path / "own" / "big", size=(48, 64))
    item = FocalStackFolderDataset(tmp_path / "own", max_side=32)[0]
    assert item["slices"].shape[-2:] == (24, 32)
    assert item["camera"][2].item() == pytest.approx(2.8)  # half the pixels across the same sensor


@pytest.mark.parametrize(("breakage", "message"), [
    ({"camera": None}, "needs a 'camera' with focal_length_mm, f_number and pixel_pitch_um"),
    ({"camera": Camera(focal_length_mm=4.4, f_number=1.8)}, "missing: pixel_pitch_um"),
    ({"focus": [0.0, 1.0, 2.0, 3.0], "unit": "index"}, "focus positions in metres"),
])
def test_stack_without_lens_or_metric_focus_is_refused_by_name(tmp_path, breakage, message):
    own_stack(tmp_path / "own" / "good", size=(32, 32))
    own_stack(tmp_path / "own" / "no_metadata", size=(32, 32), **breakage)
    with pytest.raises(InputError, match=message) as info:
        Trainer(config_for(tmp_path / "own", tmp_path / "run"), progress=False)
    assert "no_metadata" in str(info.value)


# ----------------------------------------------------------------------------- training
def test_self_regime_trains_validates_and_keeps_best_without_ground_truth(stripped, tmp_path, monkeypatch):
    train, val = stripped
    real_load = np.load

    def no_ground_truth_load(path, *args, **kwargs):
        assert not str(path).endswith(("depth.npy", "valid.npy")), f"read {path}"
        return real_load(path, *args, **kwargs)

    seen_keys = set()
    monkeypatch.setattr(np, "load", no_ground_truth_load)
    out = tmp_path / "run"
    trainer = Trainer(config_for(train, out, run={"steps": 3}, data={"val_folders": [str(val)]}), progress=False)
    real_loss = trainer.loss

    def loss_without_truth(out, batch):
        seen_keys.update(batch)
        return real_loss(out, batch)

    trainer.loss = loss_without_truth
    summary = trainer.fit()
    assert summary["step"] == 3 and np.isfinite(summary["loss"])
    assert seen_keys and not seen_keys & GROUND_TRUTH_KEYS
    records = validation_records(out)
    assert len(records) == 3 and all(set(r) == {"rerender"} and np.isfinite(r["rerender"]) for r in records)
    best = torch.load(out / "best.pt", map_location="cpu", weights_only=False)["best"]
    assert best["metric"] == "rerender" and best["value"] == min(r["rerender"] for r in records)


def test_focalstack_train_on_a_folder_of_own_stacks(tmp_path, capsys):
    """The user's command: `focalstack train CONFIG.yaml` on stack folders of different sizes, one grey."""
    own_stack(tmp_path / "own" / "scene1", size=(36, 40), seed=1)
    own_stack(tmp_path / "own" / "scene2", size=(32, 48), grey=True, seed=2)
    out = tmp_path / "run"
    config = config_for(tmp_path / "own", out, data={"val_folders": [str(tmp_path / "own")]})
    config.save(tmp_path / "own.yaml")
    assert main(["train", str(tmp_path / "own.yaml"), "--quiet"]) == 0
    assert (out / "best.pt").is_file() and validation_records(out)[-1].keys() == {"rerender"}
    assert "best rerender" in capsys.readouterr().err
    # the same data with regime: depth exits with the reason, naming the folder
    config_for(tmp_path / "own", tmp_path / "run2", regime="depth").save(tmp_path / "depth.yaml")
    assert main(["train", str(tmp_path / "depth.yaml"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "needs ground-truth depth" in err and str(tmp_path / "own") in err and "Traceback" not in err


@pytest.mark.parametrize(("regime", "what"), [("depth", "ground-truth depth"), ("aif", "true all-in-focus images")])
def test_supervised_regimes_are_refused_on_data_without_ground_truth(stripped, tmp_path, regime, what):
    train, _ = stripped
    with pytest.raises(InputError, match=f"regime '{regime}' needs {what}") as info:
        Trainer(config_for(train, tmp_path / "run", regime=regime, run={"best_metric": "mse_norm"}), progress=False)
    assert str(train) in str(info.value) and "regime: self" in str(info.value)


@pytest.mark.parametrize(("metric", "what"), [("mse_norm", "ground-truth depth"), ("abs_rel", "ground-truth depth"),
                                              ("aif_l1", "true all-in-focus images")])
def test_best_metric_needing_ground_truth_is_refused_on_validation_without_it(stripped, tmp_path, metric, what):
    train, val = stripped
    config = config_for(train, tmp_path / "run", run={"best_metric": metric}, data={"val_folders": [str(val)]})
    with pytest.raises(InputError, match=f"best_metric '{metric}' needs {what}.*best_metric: rerender"):
        Trainer(config, progress=False)


def test_unknown_best_metric_is_refused(stripped, tmp_path):
    with pytest.raises(InputError, match="run.best_metric must be one of"):
        config_for(stripped[0], tmp_path, run={"best_metric": "psnr_of_everything"})


def test_validation_with_ground_truth_gives_depth_metrics_and_rerender(tmp_path):
    root = tmp_path / "sim"
    write_dataset(SimulationConfig(profile="phone", num=2, size=32, slices=4, renderer="per_pixel", psf="gaussian"),
                  root)
    validation = ValidationSet([str(root)], 2)
    assert validation.ground_truth == {"depth", "all_in_focus", "warps"}
    config = config_for(root, tmp_path / "run", regime="depth", run={"best_metric": "mse_norm"},
                        data={"val_folders": [str(root)]})
    metrics = Trainer(config, progress=False).validate()
    assert {"mse_norm", "mse", "aif_l1", "rerender"} <= metrics.keys()


# ----------------------------------------------------------------------------- the rerender metric
@pytest.mark.parametrize("renderer", [{}, {"renderer": "layered", "psf": "disc", "layers": 8}],
                         ids=["per_pixel", "layered"])
def test_rerender_is_lower_for_the_true_depth_than_for_a_flat_one(renderer):
    """Known answer: a 32 x 32 two-plane scene rendered through the phone's lens; its true depth and image
    re-render the stack (almost) exactly, one flat depth between the planes does not."""
    rng = np.random.default_rng(0)
    aif = torch.from_numpy(rng.random((1, 3, 32, 32), dtype=np.float32))
    depth = torch.full((1, 1, 32, 32), 0.6)
    depth[..., 8:24, 8:24] = 0.15
    focus = torch.tensor([[0.12, 0.2, 0.35, 0.8]])
    camera = torch.tensor([[4.4, 1.8, 1.4]])
    config = config_for(Path("unused"), Path("unused"), loss={"render": renderer})
    render = config.loss.render
    stack = render_focal_stack(aif, depth, focus, focal_length_mm=4.4, f_number=1.8, pixel_pitch_um=1.4,
                               method=render.renderer, psf=render.psf, num_layers=render.layers)
    flat = torch.full_like(depth, 1 / ((1 / 0.6 + 1 / 0.15) / 2))  # halfway in diopters

    def score(d: torch.Tensor) -> float:
        return rerender_error(d, aif, stack, focus, camera=camera, config=config)

    true_score, flat_score = score(depth), score(flat)
    # measured: per_pixel 0 (1e-7) against 0.288, layered 0 against 0.158
    assert true_score < 0.01 * flat_score, (true_score, flat_score)
    # a large stack is scored on its centre crop, rendered alone as a training crop is
    cropped = rerender_error(flat, aif, stack, focus, camera=camera, config=config, max_side=16)
    by_hand = rerender_error(flat[..., 8:24, 8:24], aif[..., 8:24, 8:24], stack[..., 8:24, 8:24], focus,
                             camera=camera, config=config)
    assert cropped != flat_score and cropped == pytest.approx(by_hand, rel=1e-6)
