"""CUDA-only checks (skipped without a GPU): models compute the same on the GPU as on the CPU, bf16 autocast
training lowers the loss, and the trainer runs under torchrun with the NCCL backend."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch
from test_trainer import state_of, tiny_config, tiny_data  # noqa: F401  (fixture)

from focalstack.models import create_model, list_models
from focalstack.train.trainer import Trainer, training_loss

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


@pytest.mark.parametrize("name", list_models())
def test_model_on_gpu_matches_cpu(name):
    torch.manual_seed(0)
    model = create_model(name).eval()
    slices, positions = torch.rand(1, 5, 3, 64, 64), torch.linspace(0.3, 2.0, 5)[None]
    with torch.no_grad():
        cpu = model(slices, positions)
        gpu = model.to("cuda")(slices.cuda(), positions.cuda())
    torch.testing.assert_close(gpu.depth.cpu(), cpu.depth, atol=2e-3, rtol=2e-3)


@pytest.mark.parametrize("regime", ["depth", "self"])
def test_bf16_autocast_training_lowers_the_loss(tmp_path, tiny_data, regime):  # noqa: F811
    extra = {"render": {"renderer": "per_pixel", "psf": "gaussian"}} if regime == "self" else {}
    config = tiny_config(tiny_data, tmp_path / "amp", regime=regime, loss=extra,
                         run={"steps": 40, "device": "cuda", "amp": True, "val_every": 0, "checkpoint_every": 40},
                         data={"val_folders": [], "min_slices": 4, "crop": 32,
                               "augment": {"flips": False, "rot90": False, "brightness": 0.0, "contrast": 0.0,
                                           "gamma": 0.0}})
    trainer = Trainer(config, progress=False)
    assert trainer.amp and trainer.device.type == "cuda"
    batch = {k: v.to("cuda") for k, v in trainer.batches[0].items()}

    def loss_now() -> float:
        trainer.model.eval()
        with torch.no_grad():
            out = trainer.model(batch["slices"], 1.0 / batch["focus_positions"])
            return float(training_loss(out, batch, config)[0])

    before = loss_now()
    trainer.fit()
    assert loss_now() < before
    model = create_model("aifdepthnet_light", features=8, volume=4)
    model.load_state_dict(state_of(tmp_path / "amp" / "last.pt"))  # a GPU checkpoint loads on the CPU


def test_torchrun_with_nccl(tmp_path, tiny_data):  # noqa: F811
    config = tiny_config(tiny_data, tmp_path / "nccl",
                         run={"batch_size": 2, "steps": 4, "val_every": 0, "device": "cuda"})
    config.save(tmp_path / "nccl.yaml")
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=1",
               "-m", "focalstack", "train", str(tmp_path / "nccl.yaml"), "-q"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, env={**os.environ})
    assert done.returncode == 0, done.stderr[-3000:]
    assert torch.load(tmp_path / "nccl" / "last.pt", weights_only=False)["step"] == 4
