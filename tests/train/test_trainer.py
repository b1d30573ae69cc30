"""The trainer: configs, batches, the three regimes, exact resume, DDP, export."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml

from focalstack.cli import main
from focalstack.errors import InputError
from focalstack.models import create_model
from focalstack.simulate.dataset import SimulationConfig, write_dataset
from focalstack.train.config import FLAT_KEYS, TrainConfig
from focalstack.train.data import StepBatches, ValidationSet, open_sources, unit_float
from focalstack.train.trainer import Trainer, export_weights, training_loss

STEPS = 60
TINY_MODEL = {"features": 8, "volume": 4}  # aifdepthnet_light made smaller still


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("data") / "sim"
    write_dataset(SimulationConfig(num=4, size=40, slices=4, seed=3, renderer="per_pixel", psf="gaussian"), root)
    return root


def merged(base: dict, changes: dict) -> dict:
    """``base`` with ``changes`` merged in, section by section (mappings are merged, other values replaced)."""
    out = dict(base)
    for key, value in changes.items():
        out[key] = merged(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def tiny_config(data_dir: Path, out: Path, **changes) -> TrainConfig:
    """A tiny run; ``changes`` are config sections merged into it, e.g. ``run={"steps": 2}``."""
    raw = {
        "model": {"name": "aifdepthnet_light", "overrides": dict(TINY_MODEL)}, "regime": "depth",
        "run": {"steps": 6, "batch_size": 2, "seed": 5, "out": str(out), "checkpoint_every": 2, "val_every": 3,
                "log_every": 1, "threads": 1},
        "data": {"folders": [str(data_dir)], "val_folders": [str(data_dir)], "val_max": 2, "crop": 32},
        "optim": {"lr": 3e-3, "warmup_steps": 0},
    }
    return TrainConfig.from_dict(merged(raw, changes))


def replaced(config: TrainConfig, **changes) -> TrainConfig:
    """``config`` with ``changes`` merged in as :func:`tiny_config` does."""
    return TrainConfig.from_dict(merged(config.to_dict(), changes))


def state_of(path: Path) -> dict[str, torch.Tensor]:
    return torch.load(path, map_location="cpu", weights_only=False)["model"]


# ----------------------------------------------------------------------------- config
def test_config_yaml_round_trip(tmp_path, tiny_data):
    config = tiny_config(tiny_data, tmp_path / "run")
    config.save(tmp_path / "c.yaml")
    again = TrainConfig.from_yaml(tmp_path / "c.yaml")
    assert again == config
    assert again.optim.betas == (0.9, 0.99)


@pytest.mark.parametrize(("patch", "message"), [
    ({"modle": "x"}, "unknown config key"),
    ({"run": {"stesp": 3}}, r"unknown config key\(s\) run.stesp"),
    ({"data": {"crop": "big"}}, "data.crop should be int"),
    ({"loss": {"render": {"layers": 1.5}}}, "loss.render.layers should be int"),
    ({"regime": "magic"}, "regime must be one of"),
    ({"model": {"name": ""}}, "model.name is required"),
    ({"data": {"folders": []}}, "data needs 'folders'"),
    ({"data": {"min_slices": 1}}, "min_slices"),
    ({"loss": {"render": {"renderer": "raytrace"}}}, "loss.render.renderer must be per_pixel or layered"),
    ({"loss": {"render": {"psf": "airy"}}}, "loss.render.psf must be gaussian or disc"),
    ({"loss": {"render": {"layers": 1}}}, "loss.render.layers must be >= 2"),
    ({"loss": {"render": {"layer_range": "scene"}}}, "loss.render.layer_range must be depth or focus"),
    ({"loss": {"depth": {"norm": "l3"}}}, "loss.depth.norm must be l1 or l2"),
    ({"loss": {"depth": {"gradient": -1.0}}}, "loss.depth.gradient must be >= 0"),
    ({"loss": {"aif": {"rerender": -0.5}}}, "loss.aif.rerender must be >= 0"),
    ({"loss": {"self_supervised": {"reconstruction": -1.0}}}, "loss.self_supervised.reconstruction must be >= 0"),
    ({"loss": {"self_supervised": {"attention": -1.0}}}, "loss.self_supervised.attention must be >= 0"),
    ({"loss": {"self_supervised": {"render_aif": "true"}}}, "render_aif must be predicted or coarse"),
    ({"loss": {"teacher": {"weight": -1.0}}}, "loss.teacher.weight must be >= 0"),
    ({"loss": {"teacher": {"measure": "magic"}}}, "loss.teacher.measure must be one of"),
    ({"loss": {"teacher": {"weights": "runs/x/last.pt"}}}, "loss.teacher.weights must be a .safetensors"),
    ({"run": {"steps": 0}}, "run.steps, run.batch_size"),
    ({"run": {"best_metric": "magic"}}, "run.best_metric must be one of"),
    ({"run": {"device": "tpu"}}, "run.device must be auto, cpu or cuda"),
])
def test_config_refuses_bad_keys(tmp_path, tiny_data, patch, message):
    with pytest.raises(InputError, match=message) as info:
        tiny_config(tiny_data, tmp_path, **patch)
    assert "bad training config" in str(info.value) or "config key" in str(info.value)


def test_config_reports_every_problem_at_once(tmp_path, tiny_data):
    with pytest.raises(InputError) as info:
        tiny_config(tiny_data, tmp_path, regime="magic", loss={"render": {"psf": "airy"}}, run={"steps": 0})
    message = str(info.value)
    assert message.startswith("bad training config: ")
    assert "regime must be one of" in message and "loss.render.psf" in message and "run.steps" in message


FLAT = {  # a config of the earlier flat layout, every key set to a value other than its default
    "model": "aifdepthnet_light", "model_overrides": dict(TINY_MODEL), "init": "w.safetensors", "regime": "self",
    "depth_norm": "l1", "depth_gradient": 0.5, "aif_smoothness": 0.003, "aif_a": 100.0, "aif_rerender": 0.25,
    "self_reconstruction": 0.5, "self_coarse_aif": 0.2, "self_smoothness": 0.004, "self_attention": 0.3,
    "self_pseudo": 1.5, "self_pseudo_measure": "tenengrad", "self_pseudo_teacher": "t.safetensors",
    "self_pseudo_dihedral": True, "self_pseudo_gradient": 2.0, "self_renderer": "layered", "self_psf": "disc",
    "self_layers": 8, "self_render_aif": "coarse", "self_layer_range": "focus", "steps": 7, "batch_size": 3,
    "seed": 9, "out": "runs/flat", "checkpoint_every": 4, "val_every": 5, "log_every": 6, "best_metric": "rerender",
    "device": "cpu", "amp": False, "threads": 2, "data": {"folders": ["data/x"], "crop": 48},
    "optim": {"lr": 2e-3},
}


def test_flat_configs_of_the_earlier_layout_load_into_the_sections():
    config = TrainConfig.from_dict(FLAT)
    assert config.model.name == "aifdepthnet_light" and config.model.overrides == TINY_MODEL
    assert config.model.init == "w.safetensors" and config.regime == "self"
    assert (config.loss.depth.norm, config.loss.depth.gradient) == ("l1", 0.5)
    assert (config.loss.aif.smoothness, config.loss.aif.edge_a, config.loss.aif.rerender) == (0.003, 100.0, 0.25)
    own = config.loss.self_supervised
    assert (own.reconstruction, own.coarse_aif, own.smoothness, own.attention, own.render_aif) == \
        (0.5, 0.2, 0.004, 0.3, "coarse")
    render = config.loss.render
    assert (render.renderer, render.psf, render.layers, render.layer_range) == ("layered", "disc", 8, "focus")
    teacher = config.loss.teacher
    assert (teacher.weight, teacher.measure, teacher.weights, teacher.dihedral, teacher.gradient) == \
        (1.5, "tenengrad", "t.safetensors", True, 2.0)
    run = config.run
    assert (run.steps, run.batch_size, run.seed, run.out, run.checkpoint_every, run.val_every, run.log_every,
            run.best_metric, run.device, run.amp, run.threads) == (7, 3, 9, "runs/flat", 4, 5, 6, "rerender", "cpu",
                                                                   False, 2)
    assert config.data.crop == 48 and config.optim.lr == 2e-3
    # every flat key landed somewhere: none of the converted settings is a default any more
    defaults = TrainConfig.from_dict({"model": {"name": "dffwild"}, "data": {"folders": ["data/x"]}})
    from focalstack.train.trainer import _leaves

    mine = _leaves(config)
    same = {k for k, v in _leaves(defaults).items() if mine[k] == v and not k.startswith(("data.", "optim."))}
    assert not same, same
    # the nested form writes back and reads the same; the flat mapping itself is not modified
    assert TrainConfig.from_dict(config.to_dict()) == config and FLAT["model"] == "aifdepthnet_light"


def test_a_key_given_in_both_layouts_is_refused():
    with pytest.raises(InputError, match="steps .* and run.steps both given"):
        TrainConfig.from_dict({**FLAT, "run": {"steps": 3}})


def test_cli_bad_config_exits_2(tmp_path, capsys):
    path = tmp_path / "c.yaml"
    path.write_text("model: {name: aifdepthnet_light}\nrun: {steps: [1}\n")
    assert main(["train", str(path)]) == 2
    err = capsys.readouterr().err
    assert "not valid YAML" in err and "Traceback" not in err


# ----------------------------------------------------------------------------- data
def test_batches_are_a_function_of_seed_and_step(tiny_data, tmp_path):
    config = tiny_config(tiny_data, tmp_path, data={"min_slices": 2, "max_slices": 4})
    from focalstack.train.data import open_sources

    source = open_sources(config.data)
    a = StepBatches(source, config.data, batch_size=2, seed=1)
    b = StepBatches(source, config.data, batch_size=2, seed=1)
    for step in (0, 3, 7):
        x, y = a[step], b[step]
        assert all(torch.equal(x[k], y[k]) for k in x)
        count = x["slices"].shape[1]
        assert 2 <= count <= 4 and x["slices"].shape[-2:] == (32, 32)
        assert torch.all(x["focus_positions"][:, 1:] > x["focus_positions"][:, :-1])  # sorted subset, near to far
    assert not torch.equal(a[0]["slices"], a[1]["slices"])
    # the two ranks of a distributed run take disjoint halves of the same global batch
    ranks = [StepBatches(source, config.data, batch_size=4, seed=1, rank=r, world_size=2) for r in (0, 1)]
    single = StepBatches(source, config.data, batch_size=4, seed=1)
    whole = single[2]
    halves = [r[2] for r in ranks]
    assert torch.equal(torch.cat([h["slices"] for h in halves]), whole["slices"])


def test_in_memory_cache_gives_the_same_batches(tiny_data, tmp_path):
    from focalstack.train.data import CachedSource, open_sources

    plain = tiny_config(tiny_data, tmp_path)
    cached = tiny_config(tiny_data, tmp_path, data={"cache": True})
    source = open_sources(cached.data)
    assert isinstance(source, CachedSource)
    a = StepBatches(open_sources(plain.data), plain.data, batch_size=2, seed=4)
    b = StepBatches(source, cached.data, batch_size=2, seed=4)
    for step in range(3):
        x, y = a[step], b[step]
        assert all(torch.allclose(x[k].float(), y[k].float(), atol=1e-6) for k in x)
    assert len(source.items) > 0 and source[0]["slices"].dtype == torch.uint8


class _KnownSource(torch.utils.data.Dataset):
    """Stacks whose depth map equals slice 0's red channel, to check augmentations stay aligned."""

    def __len__(self):
        return 3

    def __getitem__(self, i):
        g = torch.Generator().manual_seed(i)
        slices = torch.rand(5, 3, 24, 30, generator=g)
        return {"slices": slices, "focus_positions": torch.linspace(0.2, 1.0, 5), "depth": slices[0, :1] + 0.5,
                "valid": slices[0, :1] > 0.1, "all_in_focus": slices[0], "camera": torch.tensor([4.4, 1.8, 1.4])}


def test_geometric_augmentation_keeps_depth_aligned_with_slices(tmp_path, tiny_data):
    config = tiny_config(tiny_data, tmp_path, data={"crop": 16, "min_slices": 5,
                                                    "augment": {"brightness": 0.0, "contrast": 0.0, "gamma": 0.0}})
    batches = StepBatches(_KnownSource(), config.data, batch_size=3, seed=0)
    for step in range(6):
        batch = batches[step]
        valid = batch["valid"]
        assert torch.equal(valid, batch["slices"][:, 0, :1] > 0.1)
        assert torch.allclose(batch["depth"][valid], (batch["slices"][:, 0, :1] + 0.5)[valid])
        assert torch.all(batch["depth"][~valid] == 1)  # invalid depth is a harmless placeholder
        assert torch.allclose(batch["all_in_focus"], batch["slices"][:, 0])


def test_crop_larger_than_stack_is_refused(tmp_path, tiny_data):
    config = tiny_config(tiny_data, tmp_path, data={"crop": 64})
    with pytest.raises(InputError, match="larger than"):
        Trainer(config, progress=False).fit()


# ----------------------------------------------------------------------------- training
LAYERED = {"renderer": "layered", "psf": "disc", "layers": 6}


@pytest.mark.parametrize(("regime", "extra", "factor"), [
    ("depth", {}, 0.6), ("aif", {}, 0.96), ("self", {}, 0.9),
    ("depth", {"depth": {"gradient": 0.5}}, 0.6),
    ("self", {"render": LAYERED, "self_supervised": {"attention": 0.5}}, 0.9),
    ("self", {"teacher": {"weight": 1.0}}, 0.9),
    ("aif", {"aif": {"rerender": 1.0}, "render": LAYERED}, 0.98),
    ("self", {"render": {**LAYERED, "layer_range": "focus"}, "self_supervised": {"render_aif": "coarse"},
              "teacher": {"weight": 1.0}}, 0.9),
    ("self", {"self_supervised": {"reconstruction": 0.0, "attention": 0.5}, "teacher": {"weight": 1.0}}, 0.9),
], ids=["depth", "aif", "self", "depth-gradient", "self-layered", "self-pseudo", "aif-rerender", "self-coarse",
        "self-no-rendering"])
def test_training_lowers_the_loss_on_a_fixed_batch(tmp_path, tiny_data, regime, extra, factor):
    config = tiny_config(tiny_data, tmp_path / regime, regime=regime, loss=extra,
                         run={"steps": STEPS, "checkpoint_every": 100, "val_every": 0, "log_every": 5},
                         data={"val_folders": [], "min_slices": 4, "crop": 32,
                               "augment": {"flips": False, "rot90": False, "brightness": 0.0, "contrast": 0.0,
                                           "gamma": 0.0}})
    trainer = Trainer(config, progress=False)
    batch = trainer.batches[0]

    def loss_now() -> float:
        trainer.model.eval()  # fixed batch-norm statistics: the same function before and after
        with torch.no_grad():
            out = trainer.model(batch["slices"], 1.0 / batch["focus_positions"])
            return float(training_loss(out, batch, config)[0])

    before = loss_now()
    trainer.fit()
    after = loss_now()
    # measured: depth 0.134 -> 0.055, aif 0.116 -> 0.106 (the AiF of blended slices starts close), self 0.205 -> 0.173,
    # depth-gradient 0.151 -> 0.077, self-layered (with the attention term) 0.247 -> 0.209, self-pseudo 0.486 -> 0.284,
    # aif-rerender 0.366 -> 0.354 (the re-rendering of these tiny random scenes falls slowly)
    assert after < factor * before, (regime, before, after)
    assert (tmp_path / regime / "last.pt").is_file() and (tmp_path / regime / "metrics.jsonl").is_file()


SHORT = {"steps": 2, "val_every": 0}
_NO_AUGMENT = {"augment": {"flips": False, "rot90": False, "brightness": 0.0, "contrast": 0.0, "gamma": 0.0},
              "crop": 40}


def _student_and_teacher_answer(config: TrainConfig, teacher, *, dihedral: bool = False):
    """(the student's Trainer, its first batch, the teacher's prediction for that batch's first whole stack).

    Known answer: with no crop and no augmentation, the pseudo-label is the teacher's depth of the whole stack.
    """
    from focalstack.stack import FocalStack

    student = Trainer(config, progress=False)
    batch = student.batches[0]
    item = student.batches.source[student.batches.stack_indices(0)[0]]
    stack = FocalStack(unit_float(item["slices"]).permute(0, 2, 3, 1).numpy(), item["focus_positions"].double().numpy(),
                       unit="m")
    expected = create_model("aifdepthnet_light", pretrained=teacher).predict(stack, dihedral=dihedral)
    return student, batch, expected


def test_self_training_takes_a_self_supervised_teacher_only(tmp_path, tiny_data):
    def self_extra(**teacher):
        return {"regime": "self", "run": SHORT,
                "loss": {"self_supervised": {"reconstruction": 0.0}, "teacher": {"weight": 1.0, **teacher}}}

    Trainer(tiny_config(tiny_data, tmp_path / "teacher", **self_extra()), progress=False).fit()
    teacher = export_weights(tmp_path / "teacher" / "last.pt", tmp_path / "teacher.safetensors")
    Trainer(tiny_config(tiny_data, tmp_path / "depth", run=SHORT), progress=False).fit()
    supervised = export_weights(tmp_path / "depth" / "last.pt", tmp_path / "depth.safetensors")
    with pytest.raises(InputError, match="only a self-supervised teacher"):
        Trainer(tiny_config(tiny_data, tmp_path / "refused", **self_extra(weights=str(supervised))), progress=False)
    config = tiny_config(tiny_data, tmp_path / "student", **self_extra(weights=str(teacher)), data=_NO_AUGMENT)
    student, batch, expected = _student_and_teacher_answer(config, teacher)
    torch.testing.assert_close(batch["pseudo_depth"][0, 0], torch.from_numpy(expected.depth), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(batch["pseudo_confidence"][0, 0], torch.from_numpy(expected.confidence))
    student.fit()
    assert (tmp_path / "student" / "last.pt").is_file()


def test_all_in_focus_regime_takes_a_teacher_with_no_depth_supervision(tmp_path, tiny_data):
    def with_teacher(**teacher):
        return {"loss": {"teacher": {"weight": 1.0, **teacher}}}

    Trainer(tiny_config(tiny_data, tmp_path / "aif", regime="aif", run=SHORT), progress=False).fit()
    aif_teacher = export_weights(tmp_path / "aif" / "last.pt", tmp_path / "aif.safetensors")
    Trainer(tiny_config(tiny_data, tmp_path / "depth", run=SHORT), progress=False).fit()
    depth_teacher = export_weights(tmp_path / "depth" / "last.pt", tmp_path / "depth.safetensors")
    with pytest.raises(InputError, match="accepts only a self-supervised or all-in-focus-supervised teacher"):
        Trainer(tiny_config(tiny_data, tmp_path / "r1", regime="aif", run=SHORT,
                            **with_teacher(weights=str(depth_teacher))), progress=False)
    with pytest.raises(InputError, match="only a self-supervised teacher"):  # all-in-focus images stay out of self
        Trainer(tiny_config(tiny_data, tmp_path / "r2", regime="self", run=SHORT,
                            loss={"self_supervised": {"reconstruction": 0.0},
                                  "teacher": {"weight": 1.0, "weights": str(aif_teacher)}}), progress=False)
    with pytest.raises(InputError, match="loss.teacher.dihedral needs loss.teacher.weights"):
        tiny_config(tiny_data, tmp_path / "r3", regime="aif", run=SHORT, **with_teacher(dihedral=True))
    config = tiny_config(tiny_data, tmp_path / "student", regime="aif", run=SHORT, data=_NO_AUGMENT,
                         **with_teacher(weights=str(aif_teacher), dihedral=True))
    student, batch, expected = _student_and_teacher_answer(config, aif_teacher, dihedral=True)
    torch.testing.assert_close(batch["pseudo_depth"][0, 0], torch.from_numpy(expected.depth), rtol=1e-5, atol=1e-6)
    # the teacher term enters the all-in-focus loss: it is zero only where the student matches the teacher
    out = student.model(batch["slices"], 1.0 / batch["focus_positions"])
    _, parts = training_loss(out, batch, config)
    _, parts_without = training_loss(out, batch, replaced(config, loss={"teacher": {"weight": 0.0}}))
    assert parts["pseudo"] > 0 and "pseudo" not in parts_without
    student.fit()
    assert (tmp_path / "student" / "last.pt").is_file()


def test_pseudo_gradient_term_is_zero_for_the_teacher_up_to_an_offset_and_grows_with_noise(tmp_path, tiny_data):
    from focalstack.models.base import DepthOutput

    config = tiny_config(tiny_data, tmp_path / "run", regime="self",
                         loss={"self_supervised": {"reconstruction": 0.0}, "teacher": {"weight": 1.0, "gradient": 2.0}})
    batch = Trainer(config, progress=False).batches[0]
    teacher = 1.0 / batch["pseudo_depth"]  # diopters, the unit of the model's depth output
    diopters = 1.0 / batch["focus_positions"]
    span = (diopters.amax(1) - diopters.amin(1))[:, None, None, None]

    def parts(depth, cfg=config):
        out = DepthOutput(depth=depth, all_in_focus=batch["slices"].mean(1), depth_scales=[depth])
        return training_loss(out, batch, cfg)[1]

    assert parts(teacher + 0.01 * span)["pseudo_gradient"] == pytest.approx(0.0, abs=1e-6)  # an offset costs nothing
    noise = torch.randn(teacher.shape, generator=torch.Generator().manual_seed(0)) * span
    assert 0 < parts(teacher + 0.01 * noise)["pseudo_gradient"] < parts(teacher + 0.03 * noise)["pseudo_gradient"]
    assert "pseudo_gradient" not in parts(teacher, replaced(config, loss={"teacher": {"gradient": 0.0}}))
    with pytest.raises(InputError, match="loss.teacher.gradient needs loss.teacher.weight > 0"):
        tiny_config(tiny_data, tmp_path / "bad", regime="self", loss={"teacher": {"gradient": 1.0}})


@pytest.mark.parametrize("ema", [0.0, 0.7])
def test_interrupted_and_resumed_run_equals_uninterrupted(tmp_path, tiny_data, ema):
    optim = {"ema": ema}
    whole = Trainer(tiny_config(tiny_data, tmp_path / "whole", optim=optim), progress=False)
    whole.fit()
    first = Trainer(tiny_config(tiny_data, tmp_path / "parts", optim=optim), progress=False)
    first.fit(until_step=3)  # stops after step 3, as a kill after the step-2 checkpoint + redo would
    assert torch.load(tmp_path / "parts" / "last.pt", weights_only=False)["step"] == 3
    second = Trainer(tiny_config(tiny_data, tmp_path / "parts", optim=optim), resume=True, progress=False)
    assert second.step == 3
    second.fit()
    for part in ("model", "ema") if ema else ("model",):
        a, b = (torch.load(tmp_path / run / "last.pt", weights_only=False)[part] for run in ("whole", "parts"))
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    # learning curves are continuous: one record per step, no duplicates from the redone part
    steps = [yaml.safe_load(line)["step"] for line in (tmp_path / "parts" / "metrics.jsonl").read_text().splitlines()
             if '"val"' not in line]
    assert steps == list(range(1, 7))


def test_existing_run_and_changed_config_are_refused(tmp_path, tiny_data):
    Trainer(tiny_config(tiny_data, tmp_path / "run", run={"steps": 2}), progress=False).fit()
    with pytest.raises(InputError, match="--resume"):
        Trainer(tiny_config(tiny_data, tmp_path / "run", run={"steps": 2}), progress=False)
    with pytest.raises(InputError, match="optim.lr"):
        Trainer(tiny_config(tiny_data, tmp_path / "run", optim={"lr": 1e-2}), resume=True, progress=False)
    with pytest.raises(InputError, match="nothing to resume"):
        Trainer(tiny_config(tiny_data, tmp_path / "other"), resume=True, progress=False)


def flat_layout(nested: dict) -> dict:
    """A nested config mapping written in the earlier flat layout (as checkpoints of that time hold it)."""
    flat = {key: nested[key] for key in ("regime", "data", "optim")}
    for key, path in FLAT_KEYS.items():
        value = nested
        for part in path:
            value = value[part]
        flat[key] = value
    return flat


def test_a_checkpoint_of_the_earlier_flat_layout_resumes_and_exports(tmp_path, tiny_data):
    """A run started before the nested layout (its last.pt and config.yaml flat) resumes under the nested config
    to the weights of an uninterrupted run; more steps are accepted, a really changed setting is refused."""
    Trainer(tiny_config(tiny_data, tmp_path / "whole"), progress=False).fit()
    Trainer(tiny_config(tiny_data, tmp_path / "old"), progress=False).fit(until_step=3)
    path = tmp_path / "old" / "last.pt"
    state = torch.load(path, weights_only=False)
    state["config"] = flat_layout(state["config"])
    assert state["config"]["model"] == "aifdepthnet_light" and state["config"]["steps"] == 6
    torch.save(state, path)
    (tmp_path / "old" / "config.yaml").write_text(yaml.safe_dump(state["config"], sort_keys=False))
    with pytest.raises(InputError, match="cannot resume .* loss.depth.gradient changed"):
        Trainer(tiny_config(tiny_data, tmp_path / "old", loss={"depth": {"gradient": 1.0}}), resume=True,
                progress=False)
    assert Trainer(tiny_config(tiny_data, tmp_path / "old", run={"steps": 9}), resume=True, progress=False).step == 3
    resumed = Trainer(tiny_config(tiny_data, tmp_path / "old"), resume=True, progress=False)
    assert resumed.step == 3
    resumed.fit()
    a, b = state_of(tmp_path / "whole" / "last.pt"), state_of(path)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert TrainConfig.from_yaml(tmp_path / "old" / "config.yaml") == tiny_config(tiny_data, tmp_path / "old")
    # export-weights reads a flat checkpoint too, and records the nested config and the checkpoint's step
    torch.save({**torch.load(path, weights_only=False), "config": state["config"]}, tmp_path / "flat.pt")
    from focalstack.models.weights import load_weights

    _, meta = load_weights(export_weights(tmp_path / "flat.pt", tmp_path / "flat.safetensors"))
    assert meta["training"]["model"]["name"] == "aifdepthnet_light" and meta["training"]["run"]["steps"] == 6
    assert meta["training"]["steps"] == 6  # the step the checkpoint reached


def test_focalstack_train_until_stops_part_way_and_resume_finishes(tmp_path, tiny_data):
    """`focalstack train --until STEP` stops after that step of the full schedule; --resume finishes the run."""
    Trainer(tiny_config(tiny_data, tmp_path / "whole"), progress=False).fit()
    tiny_config(tiny_data, tmp_path / "parts").save(tmp_path / "parts.yaml")
    assert main(["train", str(tmp_path / "parts.yaml"), "--until", "4", "-q"]) == 0
    assert torch.load(tmp_path / "parts" / "last.pt", weights_only=False)["step"] == 4
    assert main(["train", str(tmp_path / "parts.yaml"), "--resume", "-q"]) == 0
    a, b = state_of(tmp_path / "whole" / "last.pt"), state_of(tmp_path / "parts" / "last.pt")
    assert all(torch.equal(a[k], b[k]) for k in a)


def _cli(*args, env=None, **kwargs):
    env = {**os.environ, "OMP_NUM_THREADS": "1", **(env or {})}
    return subprocess.Popen([sys.executable, "-m", "focalstack", *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kwargs)


def test_killed_process_resumes_to_the_same_weights(tmp_path, tiny_data):
    """SIGKILL a real `focalstack train` mid-run, `--resume` it, compare with an uninterrupted run."""
    config = tiny_config(tiny_data, tmp_path / "killed", run={"steps": 40, "checkpoint_every": 3, "val_every": 0},
                         data={"val_folders": []})
    config.save(tmp_path / "killed.yaml")
    replaced(config, run={"out": str(tmp_path / "whole")}).save(tmp_path / "whole.yaml")
    process = _cli("train", str(tmp_path / "killed.yaml"), "-q")
    deadline = time.time() + 120
    while not (tmp_path / "killed" / "last.pt").exists() and time.time() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    process.send_signal(signal.SIGKILL)
    process.wait()
    step = torch.load(tmp_path / "killed" / "last.pt", weights_only=False)["step"]
    assert 0 < step < 40, "the run should have been killed part-way"
    resumed = _cli("train", str(tmp_path / "killed.yaml"), "--resume", "-q")
    whole = _cli("train", str(tmp_path / "whole.yaml"), "-q")
    assert resumed.wait() == 0, resumed.stderr.read()
    assert whole.wait() == 0, whole.stderr.read()
    a, b = state_of(tmp_path / "whole" / "last.pt"), state_of(tmp_path / "killed" / "last.pt")
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_two_process_ddp_run(tmp_path, tiny_data):
    config = tiny_config(tiny_data, tmp_path / "ddp", run={"batch_size": 4, "steps": 4, "val_every": 0})
    config.save(tmp_path / "ddp.yaml")
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
               "-m", "focalstack", "train", str(tmp_path / "ddp.yaml"), "-q"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=240,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr[-3000:]
    assert "rank 0: ranks in sync, max parameter difference 0" in done.stderr
    assert "rank 1: ranks in sync, max parameter difference 0" in done.stderr
    checkpoint = torch.load(tmp_path / "ddp" / "last.pt", weights_only=False)
    assert checkpoint["step"] == 4
    assert not any(k.startswith("module.") for k in checkpoint["model"])  # unwrapped: loads into a plain model


def test_export_weights_loads_through_the_registry(tmp_path, tiny_data):
    Trainer(tiny_config(tiny_data, tmp_path / "run", run={"steps": 2}), progress=False).fit()
    path = export_weights(tmp_path / "run" / "last.pt", tmp_path / "w.safetensors", licence="MIT")
    model = create_model("aifdepthnet_light", pretrained=path, **TINY_MODEL)
    state = state_of(tmp_path / "run" / "last.pt")
    assert all(torch.equal(model.state_dict()[k], state[k]) for k in state)
    from focalstack.models.weights import load_weights

    _, meta = load_weights(path)
    assert meta["regime"] == "depth-supervised" and meta["training"]["steps"] == 2
    assert meta["training"]["train_seconds"] > 0 and meta["validation"]["metric"] == "mse_norm"


def test_ema_is_the_moving_average_of_the_raw_weights_and_is_what_is_released(tmp_path, tiny_data):
    decay = 0.6
    trainer = Trainer(tiny_config(tiny_data, tmp_path / "run", run={"steps": 4, "val_every": 0}, optim={"ema": decay}),
                      progress=False)
    expected = None
    for step in range(1, 5):
        trainer.fit(until_step=step)
        raw = {k: v.detach().clone().double() for k, v in trainer.model.state_dict().items() if v.is_floating_point()}
        expected = raw if expected is None else {k: decay * expected[k] + (1 - decay) * raw[k] for k in raw}
    averaged = trainer.ema.module.state_dict()
    assert all(torch.allclose(averaged[k].double(), expected[k], atol=1e-6) for k in expected)
    changed = [k for k in expected if not torch.allclose(averaged[k].double(), raw[k], atol=1e-6)]
    assert changed, "after 4 steps the average should differ from the raw weights"
    path = export_weights(tmp_path / "run" / "last.pt", tmp_path / "w.safetensors")
    released = create_model("aifdepthnet_light", pretrained=path, **TINY_MODEL).state_dict()
    assert all(torch.equal(released[k], averaged[k]) for k in expected)
    # a later stage starting from this checkpoint starts from the average too
    later = Trainer(tiny_config(tiny_data, tmp_path / "later", model={"init": str(tmp_path / "run" / "last.pt")}),
                    progress=False)
    assert all(torch.equal(later.model.state_dict()[k], averaged[k]) for k in expected)


def test_ema_out_of_range_is_refused(tmp_path, tiny_data):
    with pytest.raises(InputError, match="optim.ema"):
        tiny_config(tiny_data, tmp_path / "run", optim={"ema": 1.0})


class _WarpedSource(torch.utils.data.Dataset):
    """Slices that are the all-in-focus image seen through known 2 x 3 warps (breathing + shift)."""

    def __init__(self):
        import cv2
        import numpy as np

        rng = np.random.default_rng(0)
        base = cv2.GaussianBlur(rng.random((48, 48, 3)).astype(np.float32), (0, 0), 3)
        self.base = (base - base.min()) / (base.max() - base.min())
        self.warps = np.array([[[s, 0, (1 - s) * 24 + dx], [0, s, (1 - s) * 24 + dy]]
                               for s, dx, dy in ((1.0, 0, 0), (1.04, 0.7, -0.4), (0.96, -1.2, 0.5))], np.float32)
        self.slices = np.stack([cv2.warpAffine(self.base, w, (48, 48), flags=cv2.INTER_LINEAR,
                                               borderMode=cv2.BORDER_REFLECT101) for w in self.warps])

    def __len__(self):
        return 1

    def __getitem__(self, i):
        return {"slices": torch.from_numpy(self.slices).permute(0, 3, 1, 2),
                "focus_positions": torch.tensor([.3, .5, .9]),
                "depth": torch.ones(1, 48, 48), "valid": torch.ones(1, 48, 48, dtype=torch.bool),
                "all_in_focus": torch.from_numpy(self.base).permute(2, 0, 1), "camera": torch.tensor([4.4, 1.8, 1.4]),
                "warps": torch.from_numpy(self.warps)}


def test_align_undoes_the_known_warps(tmp_path, tiny_data):
    off = {"flips": False, "rot90": False, "brightness": 0.0, "contrast": 0.0, "gamma": 0.0}
    for align, bound in ((False, 0.02), (True, 0.02)):
        config = tiny_config(tiny_data, tmp_path, data={"crop": 0, "min_slices": 3, "align": align, "augment": off})
        batch = StepBatches(_WarpedSource(), config.data, batch_size=1, seed=0)[0]
        error = (batch["slices"][0] - batch["all_in_focus"][0][None]).abs()[..., 6:-6, 6:-6].amax(dim=(1, 2, 3))
        if align:
            assert torch.all(error < bound), error
        else:
            assert torch.all(error[1:] > bound), error  # the warps are large enough to matter


def test_validation_stacks_are_aligned_like_training_stacks(tmp_path, tiny_data):
    off = {"flips": False, "rot90": False, "brightness": 0.0, "contrast": 0.0, "gamma": 0.0}
    config = tiny_config(tiny_data, tmp_path, data={"crop": 0, "min_slices": 4, "max_slices": 4, "align": True,
                                                    "val_align": True, "augment": off})
    plain = ValidationSet([str(tiny_data)], 1)
    aligned = ValidationSet([str(tiny_data)], 1, align=True)
    assert not torch.equal(plain.items[0]["warps"], torch.eye(2, 3).expand(4, 2, 3))  # the data breathes
    batches = StepBatches(open_sources(config.data), config.data, batch_size=1, seed=0)
    step = next(s for s in range(4) if batches.stack_indices(s)[0] == 0)  # the step that trains on stack 0
    assert torch.allclose(batches[step]["slices"][0], aligned.items[0]["slices"], atol=1e-6)
    assert not torch.allclose(unit_float(plain.items[0]["slices"]), aligned.items[0]["slices"], atol=1e-3)
    assert Trainer(config, progress=False).validation.items[0]["slices"].is_floating_point()


def _cropped_batch(data_dir: Path, tmp_path: Path, step: int, *, pseudo: str | None = None, **data) -> dict:
    """Batch ``step`` (2 stacks, 24 px crops, seed 7) of ``data_dir`` with the data options ``data``."""
    config = tiny_config(data_dir, tmp_path, data={"crop": 24, "min_slices": 2, **data})
    return StepBatches(open_sources(config.data), config.data, batch_size=2, seed=7, pseudo=pseudo)[step]


def test_align_targets_gives_the_losses_aligned_slices_and_the_network_recorded_ones(tmp_path, tiny_data):
    """data.align_targets: the network's slices are the recorded (breathing) ones, the pixel losses' targets
    the aligned ones, both through the same crop, flips, rotation and colour change."""
    from focalstack.train.objective import pixel_targets

    def batch(**data):
        return _cropped_batch(tiny_data, tmp_path, 3, **data)

    plain, aligned, both = batch(), batch(align=True), batch(align_targets=True)
    assert "target_slices" not in plain and "target_slices" not in aligned
    assert torch.equal(both["slices"], plain["slices"])
    assert torch.allclose(both["target_slices"], aligned["slices"], atol=1e-6)
    assert not torch.allclose(both["target_slices"], both["slices"], atol=1e-3)  # the warps matter
    assert pixel_targets(both) is both["target_slices"] and pixel_targets(plain) is plain["slices"]
    # with align on, align_targets changes nothing
    assert torch.equal(batch(align=True, align_targets=True)["slices"], aligned["slices"])


def test_align_teacher_gives_the_teacher_aligned_stacks_and_the_student_recorded_ones(tmp_path, tiny_data):
    def batch(**data):
        return _cropped_batch(tiny_data, tmp_path, 2, pseudo="sml", **data)

    plain, aligned, teacher = batch(), batch(align=True), batch(align_teacher=True)
    assert torch.equal(teacher["slices"], plain["slices"])
    assert torch.allclose(teacher["pseudo_depth"], aligned["pseudo_depth"])
    assert not torch.allclose(teacher["pseudo_depth"], plain["pseudo_depth"])  # the warps change the teacher


def test_pseudo_labels_follow_the_depth_and_are_computed_once(tmp_path, tiny_data):
    """The classical pipeline's depth of each whole (aligned) stack rides along with the batch,
    flipped and rotated exactly like the ground truth, and is computed once per stack."""
    from focalstack.classical import ClassicalConfig, depth_from_focus
    from focalstack.stack import FocalStack
    from focalstack.train.data import _align

    config = tiny_config(tiny_data, tmp_path, data={"crop": 0, "min_slices": 3, "align": True,
                                                    "augment": {"brightness": 0.0, "contrast": 0.0, "gamma": 0.0}})
    source = open_sources(config.data)
    batches = StepBatches(source, config.data, batch_size=2, seed=0, pseudo="sml")
    dihedral = [lambda t, k=k, f=f: (t.flip(-1) if f else t).rot90(k, dims=(-2, -1)) for k in range(4) for f in (0, 1)]
    matched = 0
    for step in range(4):
        batch = batches[step]
        assert batch["pseudo_depth"].shape == batch["depth"].shape == batch["pseudo_confidence"].shape
        for j, index in enumerate(batches.stack_indices(step)):
            item = source[index]
            slices = _align(unit_float(item["slices"]), item["warps"]).permute(0, 2, 3, 1).numpy()
            teacher = depth_from_focus(FocalStack(slices, item["focus_positions"].double().numpy(), unit="m"),
                                       ClassicalConfig(focus_measure="sml"))
            teacher_depth = torch.from_numpy(teacher.depth.astype("float32"))[None]
            gt = item["depth"].float().reshape(teacher_depth.shape)
            transforms = [t for t in dihedral if torch.equal(t(gt), batch["depth"][j])]
            assert transforms, "the ground truth went through one of the 8 flips/rotations"
            assert any(torch.allclose(t(teacher_depth), batch["pseudo_depth"][j]) for t in transforms)
            matched += 1
    assert matched == 8
    assert len(batches._pseudo_cache) == len(source)
    cached = dict(batches._pseudo_cache)
    batches[0]
    assert all(batches._pseudo_cache[k] is v for k, v in cached.items())
    assert "pseudo_depth" not in StepBatches(source, config.data, batch_size=2, seed=0)[0]
