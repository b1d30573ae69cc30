"""Every config in the repository parses: training stages and the training mix."""

from pathlib import Path

import pytest

from focalstack.simulate.mix import MixConfig
from focalstack.train.config import TrainConfig

ROOT = Path(__file__).resolve().parents[1]
TRAIN_CONFIGS = sorted((ROOT / "configs" / "train").rglob("*.yaml"))


@pytest.mark.parametrize("path", TRAIN_CONFIGS, ids=lambda p: str(p.relative_to(ROOT)))
def test_training_config_parses(path):
    config = TrainConfig.from_yaml(path)
    assert config.model and config.out.startswith("runs/")


def test_training_configs_write_to_distinct_run_folders():
    outs = [TrainConfig.from_yaml(p).out for p in TRAIN_CONFIGS]
    assert TRAIN_CONFIGS and len(set(outs)) == len(outs)


def test_the_training_mix_parses_and_shares_out_its_total():
    mix = MixConfig.from_yaml(ROOT / "configs" / "data" / "mix.yaml")
    counts = mix.counts()
    assert sum(counts.values()) == mix.total and min(counts.values()) >= 1
    assert {s.profile for s in mix.sources} == {"phone", "dslr_macro", "microscope", "lightfield"}
    folders = {f"data/mix/{name}" for name in counts}
    for path in (ROOT / "configs" / "train" / "real").glob("*.yaml"):  # the real-image stages train on the whole mix
        config = TrainConfig.from_yaml(path)
        used = {f.replace("data/mix-nogt/", "data/mix/") for f in config.data.folders}
        assert used == folders, path.name
