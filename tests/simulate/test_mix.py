"""Training mixes: shares by weight, deterministic and order-independent sources, the simulate-mix command."""

import numpy as np
import pytest
from test_rgbd import make_rgbd_folder
from typer.testing import CliRunner

from focalstack import InputError
from focalstack.cli import app
from focalstack.simulate.dataset import read_simulated
from focalstack.simulate.mix import MixConfig, MixSource, write_mix
from focalstack.simulate.rgbd import RGBD_DEV, RGBD_TEST


def small_mix(root, sources, total=4):
    return MixConfig(sources=tuple(sources), total=total, size=32, slices=3, seed=5, rgbd_root=str(root))


def test_counts_follow_the_weights():
    mix = MixConfig(sources=(MixSource("a", "procedural", "phone", 3), MixSource("b", "procedural", "phone", 1),
                             MixSource("c", "dead_leaves", "microscope", 0.01)), total=100)
    counts = mix.counts()
    assert sum(counts.values()) == 100 and counts["c"] == 1 and counts["a"] == 74 and counts["b"] == 25


def test_mix_is_deterministic_and_sources_do_not_depend_on_each_other(tmp_path):
    data = tmp_path / "data"
    for name in (*RGBD_TEST, *RGBD_DEV):
        make_rgbd_folder(data / "rgbd_more" / name, shape=(8, 8), holes=False)
    make_rgbd_folder(data / "rgbd_more" / "train_scene", shape=(60, 70))
    one = [MixSource("rgbd-phone", "rgbd", "phone", 1), MixSource("leaves", "procedural", "dslr_macro", 1)]
    write_mix(small_mix(data, one), tmp_path / "m1")
    write_mix(small_mix(data, [MixSource("extra", "procedural", "phone", 2), *one], total=8), tmp_path / "m2")
    for name in ("rgbd-phone", "leaves"):
        first = read_simulated(tmp_path / "m1" / name / "000001")
        second = read_simulated(tmp_path / "m2" / name / "000001")
        np.testing.assert_array_equal(first.slices, second.slices)
        np.testing.assert_array_equal(first.depth_m, second.depth_m)
    rgbd = read_simulated(tmp_path / "m1" / "rgbd-phone" / "000000")
    assert rgbd.info["scene"] == "train_scene"  # only the training split is rendered
    assert (tmp_path / "m1" / "mix.json").is_file()


def test_bad_mixes_are_refused(tmp_path):
    with pytest.raises(InputError, match="distinct"):
        MixConfig(sources=(MixSource("a", "procedural", "phone", 1), MixSource("a", "procedural", "phone", 1)))
    with pytest.raises(InputError, match="rgbd_root"):
        MixConfig(sources=(MixSource("a", "rgbd", "phone", 1),))
    with pytest.raises(InputError, match="profile"):
        MixSource("a", "procedural", "telescope", 1)
    with pytest.raises(InputError, match="weight"):
        MixSource("a", "procedural", "phone", 0)
    path = tmp_path / "mix.yaml"
    path.write_text("sources: [{name: a, scenes: procedural, profile: phone, weight: 1}]\ntotl: 3\n")
    with pytest.raises(InputError, match="totl"):
        MixConfig.from_yaml(path)


def test_simulate_mix_command(tmp_path):
    path = tmp_path / "mix.yaml"
    path.write_text("total: 2\nsize: 24\nslices: 2\nsources:\n"
                    "  - {name: p, scenes: procedural, profile: phone, weight: 1}\n"
                    "  - {name: q, scenes: dead_leaves, profile: lightfield, weight: 1}\n")
    result = CliRunner().invoke(app, ["simulate-mix", str(path), "-o", str(tmp_path / "out"), "-q"])
    assert result.exit_code == 0, result.output
    assert read_simulated(tmp_path / "out" / "q" / "000000").info["psf"] == "lightfield"
    bad = CliRunner().invoke(app, ["simulate-mix", str(tmp_path / "missing.yaml"), "-o", str(tmp_path / "o2")])
    assert bad.exit_code == 2 and "cannot read mix file" in bad.output


def test_an_interrupted_mix_keeps_its_proportions_and_resumes(tmp_path):
    mix = MixConfig(sources=(MixSource("a", "procedural", "phone", 1), MixSource("b", "procedural", "microscope", 1)),
                    total=4, size=16, slices=2)

    def stop_after_two(done, total):
        if done == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_mix(mix, tmp_path / "m", progress=stop_after_two)
    made = {name: sorted(p.name for p in (tmp_path / "m" / name).iterdir() if p.name.isdigit()) for name in "ab"}
    assert made == {"a": ["000000"], "b": ["000000"]}  # one of each, not two of the first source
    write_mix(mix, tmp_path / "m")
    assert all(len([p for p in (tmp_path / "m" / n).iterdir() if p.name.isdigit()]) == 2 for n in "ab")
