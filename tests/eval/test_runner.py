"""The evaluation engine, the suite definition and `focalstack eval`."""

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from focalstack import FocalStack, InputError
from focalstack.cli import app
from focalstack.eval.datasets import LOADERS, Sample
from focalstack.eval.runner import evaluate, method_runner, open_dataset, score_sample, write_report
from focalstack.eval.suite import suite_splits
from focalstack.methods import resolve_method
from focalstack.simulate import CameraEffects, SimulationConfig, write_dataset
from focalstack.stack import DepthResult

TINY = SimulationConfig(profile="phone", num=2, size=48, slices=4, seed=3, effects=CameraEffects.none())


@pytest.fixture(scope="module")
def sim_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("sim") / "tiny"
    write_dataset(TINY, root)
    return root


def test_evaluate_and_report(sim_root, tmp_path):
    datasets = {"tiny": open_dataset(f"sim:{sim_root}")}
    rows = evaluate({"sml": method_runner("sml"), "rdf": method_runner("rdf")}, datasets)
    assert [(r.dataset, r.method, r.images, r.size) for r in rows] == [("tiny", "sml", 2, "4x48x48"),
                                                                       ("tiny", "rdf", 2, "4x48x48")]
    assert all(0 <= r.metrics["delta3"] <= 1 and r.metrics["mae"] >= 0 and r.seconds_per_stack > 0 for r in rows)
    for r in rows:  # the per-image scores are kept, and the dataset score is their mean
        assert len(r.per_image) == 2 and r.per_image[0]["mse"] != r.per_image[1]["mse"]
        assert r.metrics["mse"] == pytest.approx(np.mean([s["mse"] for s in r.per_image]))
    write_report(rows, tmp_path / "rep", command="focalstack eval ...")
    report = (tmp_path / "rep" / "report.md").read_text()
    assert report.startswith("Command: `focalstack eval ...`") and "| tiny | rdf | 2 |" in report
    saved = json.loads((tmp_path / "rep" / "results.json").read_text())["results"][0]
    assert saved["method"] == "sml" and saved["per_image"] == rows[0].per_image
    assert (tmp_path / "rep" / "results.csv").read_text().count("\n") == 3


def test_score_sample_uses_the_focus_range_mask():
    stack = FocalStack(np.random.rand(3, 4, 4).astype(np.float32), [1.0, 2.0, 3.0], unit="m")
    truth = np.full((4, 4), 2.0)
    truth[0, 0] = 10.0  # outside the focus range: excluded by default
    result = DepthResult(depth=np.full((4, 4), 2.0, np.float32), all_in_focus=np.zeros((4, 4), np.float32),
                         confidence=np.ones((4, 4), np.float32), unit="m", focus_positions=stack.focus_positions)
    sample = Sample("s", stack, depth=truth)
    assert score_sample(sample, result)["mae"] == 0
    assert score_sample(sample, result, focus_range_mask=False)["mae"] == pytest.approx(8 / 16)


def test_suite_definition_is_fixed():
    splits = suite_splits()
    assert [s.name for s in splits] == ["phone-ideal", "phone-real", "dslr_macro-ideal", "dslr_macro-real",
                                        "microscope-ideal", "microscope-real"]
    assert len({s.config.seed for s in splits}) == 6 and all(s.config.num == 8 for s in splits)
    assert suite_splits(["/x/cones"])[-1].name == "rgbd-cones"


def test_dataset_specs():
    assert "sim" in LOADERS
    for bad in ("nocolon", "nosuchkind:/x", "sim:/does/not/exist"):
        with pytest.raises(InputError):
            open_dataset(bad)
    for bad in ("magic", "sml+dihedral", "magic+dihedral"):
        with pytest.raises(InputError):
            resolve_method(bad)


def test_dihedral_method_is_the_model_with_test_time_augmentation(sim_root):
    from focalstack.models import create_model

    stack = open_dataset(f"sim:{sim_root}")[0].stack
    expected = create_model("aifdepthnet_light", pretrained=True).predict(stack, dihedral=True)
    result = resolve_method("aifdepthnet_light+dihedral")(stack)
    np.testing.assert_array_equal(result.depth, expected.depth)
    assert not np.array_equal(resolve_method("aifdepthnet_light")(stack).depth, expected.depth)


def test_cli_eval(sim_root, tmp_path):
    runner = CliRunner()
    out = tmp_path / "report"
    result = runner.invoke(app, ["eval", "-d", f"sim:{sim_root}", "-m", "sml", "-o", str(out), "-q",
                                 "--save-predictions"])
    assert result.exit_code == 0, result.output
    assert "| sim:tiny | sml | 2 |" in (out / "report.md").read_text()
    assert len(list((out / "predictions" / "sim_tiny" / "sml").glob("*_depth.npy"))) == 2
    bad = runner.invoke(app, ["eval", "-d", "ddff99:/x", "-o", str(tmp_path / "r2")])
    assert bad.exit_code == 2 and "unknown dataset kind" in bad.stderr and not (tmp_path / "r2").exists()
    none = runner.invoke(app, ["eval", "-o", str(tmp_path / "r3")])
    assert none.exit_code == 2 and "nothing to evaluate" in none.stderr


def test_ratio_table_known_answers():
    from focalstack.eval.runner import Row, ratio_table

    def row(dataset, method, mses):
        return Row(dataset, method, len(mses), "", 0.0, {"mse": float(np.mean(mses))}, [{"mse": m} for m in mses])

    rows = [row("real-phone", "sml", [1.0, 2.0]), row("real-phone", "net", [0.5, 1.0]),
            row("real-lightfield", "sml", [4.0, 4.0]), row("real-lightfield", "net", [8.0, 8.0]),
            row("phone-ideal", "sml", [1.0, 1.0])]
    table = ratio_table(rows, reference="sml", groups={"real": lambda d: d.startswith("real-")}, reps=200)
    line = next(s for s in table.splitlines() if s.startswith("| net |"))
    cells = [c.strip() for c in line.strip("|").split("|")]
    # half the error on one dataset (every image halved: zero-width interval), twice on the other, no row on the third
    assert cells[1:] == ["0.50 (0.50-0.50)", "2.00 (2.00-2.00)", "-", "1.00 (1.00-1.00)"]
    assert "| sml |" not in table


def test_real_suite_definition(tmp_path):
    from focalstack.eval.suite import real_suite_splits
    from focalstack.simulate.rgbd import RGBD_DEV, RGBD_TEST

    for name in (*RGBD_TEST, *RGBD_DEV):
        (tmp_path / "rgbd_more" / name).mkdir(parents=True)
        (tmp_path / "rgbd_more" / name / "image.png").write_bytes(b"")
        (tmp_path / "rgbd_more" / name / "disparity.npy").write_bytes(b"")
    test, dev = real_suite_splits(tmp_path), real_suite_splits(tmp_path, "dev")
    assert [s.name for s in test] == ["real-phone", "real-dslr_macro", "real-microscope", "real-lightfield"]
    assert [s.name for s in dev] == ["realdev-phone", "realdev-dslr_macro", "realdev-microscope", "realdev-lightfield"]
    assert all(s.config.num == 2 * len(RGBD_TEST) and s.config.rgbd_views for s in test)
    assert {s.config.seed for s in test}.isdisjoint(s.config.seed for s in dev)
    names = {p.rsplit("/", 1)[-1] for s in test for p in s.config.scenes}
    assert names == set(RGBD_TEST) and test[-1].config.slices == 10 and test[-1].config.psf == "lightfield"
    with pytest.raises(InputError):
        real_suite_splits(tmp_path, "train")
