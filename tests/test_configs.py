"""Every config in the repository parses, and every release chain of configs/releases/ resolves: its stages are
numbered, each starts where the previous one ended, it ends in the run configs/release.py exports, and it reads
only data that the recipes of configs/data/ write."""

from __future__ import annotations

import importlib.util
import os
import re
import shlex
import subprocess
from pathlib import Path

import pytest
import yaml

from focalstack.eval.suite import REAL_SUITE_VERSION
from focalstack.simulate.mix import MixConfig
from focalstack.train.config import TrainConfig

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "configs"
RELEASES_DIR = CONFIGS / "releases"
WEIGHTS_DIR = ROOT / "src" / "focalstack" / "models" / "weights"
MIX_FILES = sorted((CONFIGS / "data").glob("*.yaml"))
TRAIN_CONFIGS = sorted(p for p in CONFIGS.rglob("*.yaml") if p not in MIX_FILES)
STAGE = re.compile(r"(\d\d)-[a-z0-9][a-z0-9-]*\.yaml")
# the cameras of the real-image benchmark's splits (focalstack.eval.suite.real_suite_splits)
REAL_CAMERAS = ("phone", "dslr_macro", "microscope", "lightfield")


def _release_table() -> dict[str, str]:
    """weights file -> checkpoint, from configs/release.py's RELEASES."""
    spec = importlib.util.spec_from_file_location("release", CONFIGS / "release.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return {entry[1]: entry[0] for entry in module.RELEASES}


RELEASES = _release_table()


def _chains() -> dict[str, list[tuple[Path, TrainConfig]]]:
    """releases folder name -> its stages in order (file, config)."""
    return {folder.name: [(path, TrainConfig.from_yaml(path)) for path in sorted(folder.glob("*.yaml"))]
            for folder in sorted(RELEASES_DIR.iterdir()) if folder.is_dir()}


CHAINS = _chains()


def _run_folder(path: str) -> str | None:
    """The run folder (``runs/...``) a checkpoint or weights file lies in, or None for any other path."""
    parts = Path(path).parts
    return str(Path(path).parent) if len(parts) > 2 and parts[0] == "runs" else None


def _producers() -> dict[str, str]:
    """run folder -> the chain whose stage writes it."""
    return {config.run.out: name for name, stages in CHAINS.items() for _, config in stages}


def _references(config: TrainConfig) -> list[str]:
    """The files of earlier runs a stage reads: its init and its teacher's weights."""
    teacher = config.loss.teacher.weights if config.loss.teacher.weight else ""
    return [path for path in (config.model.init, teacher) if path]


# ----------------------------------------------------------------------------- every config parses
@pytest.mark.parametrize("path", TRAIN_CONFIGS, ids=lambda p: str(p.relative_to(ROOT)))
def test_training_config_parses_in_the_nested_layout(path):
    config = TrainConfig.from_yaml(path)
    assert config.model.name and config.run.out.startswith("runs/")
    raw = yaml.safe_load(path.read_text())
    assert isinstance(raw["model"], dict) and "steps" not in raw, "write configs in the nested layout"


def test_every_config_is_a_release_stage_or_a_data_recipe():
    assert TRAIN_CONFIGS and all(p.parent.parent == RELEASES_DIR for p in TRAIN_CONFIGS)
    assert [p.name for p in MIX_FILES] == ["align_mix.yaml", "lightfield_mix.yaml", "mix.yaml"]


def test_training_configs_write_to_distinct_run_folders():
    outs = [TrainConfig.from_yaml(p).run.out for p in TRAIN_CONFIGS]
    assert len(set(outs)) == len(outs), sorted(o for o in outs if outs.count(o) > 1)


def test_the_training_mix_parses_and_shares_out_its_total():
    mix = MixConfig.from_yaml(CONFIGS / "data" / "mix.yaml")
    counts = mix.counts()
    assert sum(counts.values()) == mix.total and min(counts.values()) >= 1
    assert {s.profile for s in mix.sources} == {"phone", "dslr_macro", "microscope", "lightfield"}
    folders = {f"data/mix/{name}" for name in counts}
    real = [c for stages in CHAINS.values() for _, c in stages if any("data/mix" in f for f in c.data.folders)]
    assert real
    for config in real:  # the real-image stages train on the whole mix
        assert {f.replace("data/mix-nogt/", "data/mix/") for f in config.data.folders} == folders, config.run.out


def test_the_light_field_mix_renders_only_through_the_light_field():
    mix = MixConfig.from_yaml(CONFIGS / "data" / "lightfield_mix.yaml")
    counts = mix.counts()
    assert sum(counts.values()) == mix.total and mix.slices == 10
    assert {s.profile for s in mix.sources} == {"lightfield"}
    assert {s.sweep for s in mix.sources} == {"profile", "random"}
    folders = {f"data/lightfield-mix/{name}" for name in counts}
    chains = [name for name in CHAINS if name.endswith(".lightfield")]
    assert sorted(chains) == ["aifdepthnet.lightfield", "dffwild.lightfield"]
    for _, config in (stage for name in chains for stage in CHAINS[name]):
        assert set(config.data.folders) == folders
        assert config.data.val_folders == [f".focalstack-suite/real-v{REAL_SUITE_VERSION}/realdev-lightfield"]


# ----------------------------------------------------------------------------- the release chains
def test_the_alignment_network_has_its_recipe():
    """alignnet.safetensors is trained by `focalstack train-align` (no training config): configs/alignment/README.md
    gives the commands, from its data mix to the weights file."""
    readme = (CONFIGS / "alignment" / "README.md").read_text()
    mix = MixConfig.from_yaml(CONFIGS / "data" / "align_mix.yaml")
    assert sum(mix.counts().values()) == mix.total
    for command in ("focalstack simulate-mix configs/data/align_mix.yaml -o data/align-mix",
                    "focalstack train-align data/align-mix", "src/focalstack/models/weights/alignnet.safetensors"):
        assert command in readme, command


def test_every_weights_file_has_a_release_chain_and_every_chain_a_release():
    shipped = {p.name for p in WEIGHTS_DIR.glob("*.safetensors")} - {"alignnet.safetensors"}
    assert shipped and shipped <= set(RELEASES), shipped - set(RELEASES)
    assert {f"{name}.safetensors" for name in CHAINS} == set(RELEASES)


@pytest.mark.parametrize("name", sorted(CHAINS))
def test_stages_are_numbered_consecutively_with_a_readme(name):
    folder = RELEASES_DIR / name
    assert {p.name for p in folder.iterdir()} == {"README.md", *(p.name for p, _ in CHAINS[name])}
    numbers = [STAGE.fullmatch(path.name) for path, _ in CHAINS[name]]
    assert all(numbers), [p.name for p, _ in CHAINS[name]]
    assert [int(m.group(1)) for m in numbers] == list(range(1, len(numbers) + 1))


@pytest.mark.parametrize("name", sorted(CHAINS))
def test_each_stage_starts_where_the_previous_one_ended(name):
    """Every run a stage reads (init, teacher weights) is an earlier stage of its chain or a stage of another
    chain; the first stage reads nothing of its own chain, every later one reads the stage just before it."""
    producers = _producers()
    outs = []
    for number, (path, config) in enumerate(CHAINS[name], 1):
        runs = set()
        for ref in _references(config):
            run = _run_folder(ref)
            assert run in outs or (run in producers and producers[run] != name), (path.name, ref)
            runs.add(run)
        if number > 1:
            assert outs[-1] in runs, f"{path.name} reads nothing of {outs[-1]}"
        assert all(Path(ref).name in ("best.pt", "last.pt", "teacher.safetensors") for ref in _references(config))
        outs.append(config.run.out)
    assert CHAINS[name][0][1].model.init == "" or _run_folder(CHAINS[name][0][1].model.init) in producers


@pytest.mark.parametrize("name", sorted(CHAINS))
def test_the_final_stage_writes_the_released_checkpoint(name):
    checkpoint = RELEASES[f"{name}.safetensors"]
    assert Path(checkpoint).name in ("best.pt", "last.pt")
    assert CHAINS[name][-1][1].run.out == _run_folder(checkpoint)


def test_chains_that_start_from_other_chains_form_no_cycle():
    producers = _producers()
    needs = {name: {producers[run] for _, c in stages for run in map(_run_folder, _references(c))
                    if run in producers and producers[run] != name} for name, stages in CHAINS.items()}
    done: set[str] = set()
    while len(done) < len(needs):
        ready = {name for name, wanted in needs.items() if name not in done and wanted <= done}
        assert ready, f"cycle among {sorted(set(needs) - done)}"
        done |= ready


@pytest.mark.parametrize("name", sorted(CHAINS))
def test_readme_gives_every_command_of_the_chain(name):
    """The README trains every stage in order, exports every teacher a stage reads before that stage, and
    exports the released checkpoint."""
    readme = (RELEASES_DIR / name / "README.md").read_text()
    position = -1
    for path, config in CHAINS[name]:
        for ref in _references(config):
            if ref.endswith(".safetensors") and _run_folder(ref):
                export = readme.find(f"-o {ref}")
                assert 0 <= export, f"README does not export the teacher {ref}"
        train = readme.find(f"focalstack train configs/releases/{name}/{path.name}")
        assert train > position, f"README does not train {path.name} after the stage before it"
        position = train
    checkpoint = RELEASES[f"{name}.safetensors"]
    assert f"focalstack export-weights {checkpoint} -o src/focalstack/models/weights/{name}.safetensors" in readme


# ----------------------------------------------------------------------------- the data recipes
def _recipe_commands(tmp_path: Path) -> list[list[str]]:
    """The commands the data recipes run, in order (run with stand-ins for focalstack and python that only
    record their arguments)."""
    log, bin_dir = tmp_path / "commands.log", tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("focalstack", "python"):
        stub = bin_dir / tool
        stub.write_text(f'#!/bin/sh\nprintf "%s\\n" "{tool} $*" >> "{log}"\n')
        stub.chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    for script in ("make_data.sh", "make_real_data.sh"):
        subprocess.run(["bash", str(CONFIGS / "data" / script)], cwd=tmp_path, env=env, check=True)
    return [shlex.split(line) for line in log.read_text().splitlines()]


def _option(args: list[str], name: str, default: str | None = None) -> str | None:
    return args[args.index(name) + 1] if name in args else default


def _written_folders(commands: list[list[str]]) -> set[str]:
    """Every dataset folder the recipe commands write."""
    written: set[str] = set()
    for args in commands:
        if args[:2] == ["focalstack", "simulate"]:
            written.add(_option(args, "-o"))
        elif args[:2] == ["focalstack", "simulate-mix"]:
            mix = MixConfig.from_yaml(ROOT / args[2])
            written |= {f"{_option(args, '-o')}/{source.name}" for source in mix.sources}
        elif args[:2] == ["focalstack", "eval"] and _option(args, "--real"):
            split = _option(args, "--real-split", "test")
            base = f"{_option(args, '--suite-dir', '.focalstack-suite')}/real-v{REAL_SUITE_VERSION}"
            prefix = "real" if split == "test" else "realdev"
            written |= {f"{base}/{prefix}-{camera}" for camera in REAL_CAMERAS}
        elif args[:2] == ["python", "configs/data/strip_ground_truth.py"]:
            source, target, only = args[2], args[3], _option(args, "--only", "")
            written |= {f"{target}/{Path(f).name}" for f in list(written)
                        if str(Path(f).parent) == source and Path(f).name.startswith(only)}
    return written


def test_every_stage_reads_only_data_the_recipes_write(tmp_path):
    written = _written_folders(_recipe_commands(tmp_path))
    assert {"data/train/phone-real", "data/mix/rgbd-phone-real", "data/mix-nogt/rgbd-phone-real",
            "data/realdev-nogt/realdev-phone", ".focalstack-suite/real-v1/realdev-phone"} <= written
    for name, stages in CHAINS.items():
        for path, config in stages:
            read = set(config.data.folders) | set(config.data.val_folders)
            assert read <= written, (f"{name}/{path.name}", sorted(read - written))
