"""Registry-driven tests: every registered model obeys the common contract."""

import numpy as np
import pytest
import torch

from focalstack import InputError
from focalstack.models import create_model, list_models, load_weights, model_entry, save_weights

MODELS = list_models()


def _inputs(n, h=32, w=48, b=1, seed=0):
    g = torch.Generator().manual_seed(seed)
    slices = torch.rand(b, n, 3, h, w, generator=g)
    positions = torch.linspace(0.3, 2.0, n).expand(b, n).clone()
    return slices, positions


def test_all_three_architectures_are_registered():
    architectures = {name: model_entry(name).architecture for name in MODELS}
    assert set(architectures.values()) == {"aifdepthnet", "dffwild", "daifnet"}
    for architecture in ("aifdepthnet", "dffwild", "daifnet"):  # the paper-size network and its CPU-light variant
        assert list_models(architecture) == [architecture, f"{architecture}_light"]


def test_the_registry_module_imports_no_architecture():
    """timm-style: the architecture modules import the registry and register themselves, never the reverse."""
    import ast
    import inspect

    from focalstack.models import registry

    tree = ast.parse(inspect.getsource(registry))
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
    imported |= {alias.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and not node.module
                 for alias in node.names}
    assert not imported & {"aifdepthnet", "dffwild", "daifnet"}, imported


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("n", [2, 5, 10, 15])
def test_output_shapes_for_any_number_of_slices(name, n):
    model = create_model(name).eval()
    slices, positions = _inputs(n)
    with torch.no_grad():
        out = model(slices, positions)
    assert out.depth.shape == (1, 1, 32, 48)
    assert all(d.shape == (1, 1, 32, 48) for d in out.depth_scales) and out.depth_scales[-1] is out.depth
    assert torch.isfinite(out.depth).all()
    # depth is a weighted mean of focus positions: inside their range
    assert 0.3 - 1e-4 <= out.depth.min() and out.depth.max() <= 2.0 + 1e-4
    if out.all_in_focus is not None:
        assert out.all_in_focus.shape == (1, 3, 32, 48)
    if out.probabilities is not None:
        assert out.probabilities.shape == (1, n, 32, 48)
        assert torch.allclose(out.probabilities.sum(dim=1), torch.ones(1, 32, 48), atol=1e-4)


@pytest.mark.parametrize("name", MODELS)
def test_odd_image_size_is_padded_and_cropped_back(name):
    """An odd-sized stack gives exactly the top-left crop of the network's output on the stack reflected
    out to the size multiple (padding by reflection, output cropped back, depth mapped back to the unit)."""
    model = create_model(name).eval()
    h, w = 37, 45
    slices, positions = _inputs(3, h=h, w=w)
    m = model.size_multiple
    ph, pw = -h % m, -w % m
    assert ph or pw, "the test needs a size that is not a multiple"
    padded = torch.from_numpy(np.pad(slices.numpy(), [(0, 0)] * 3 + [(0, ph), (0, pw)], mode="reflect"))
    with torch.no_grad():
        out = model(slices, positions)
        lo, hi = positions.min(), positions.max()
        reference = model._forward(padded, (positions - lo) / (hi - lo))
    expected = reference.depth[..., :h, :w] * (hi - lo) + lo
    assert out.depth.shape == (1, 1, h, w)
    torch.testing.assert_close(out.depth, expected, atol=1e-5, rtol=1e-5)
    if out.all_in_focus is not None:
        torch.testing.assert_close(out.all_in_focus, reference.all_in_focus[..., :h, :w])


def test_padding_reflects_and_falls_back_to_replicate():
    from focalstack.models.base import _pad_to_multiple

    x = torch.arange(2 * 3 * 5 * 6, dtype=torch.float32).reshape(1, 2, 3, 5, 6)
    padded = _pad_to_multiple(x, 4)  # 5x6 -> 8x8: reflection
    assert padded.shape == (1, 2, 3, 8, 8)
    np.testing.assert_array_equal(padded.numpy(), np.pad(x.numpy(), [(0, 0)] * 3 + [(0, 3), (0, 2)], "reflect"))
    tiny = x[..., :2, :3]  # 2x3 -> 8x8: padding wider than the image, reflection impossible
    np.testing.assert_array_equal(_pad_to_multiple(tiny, 8).numpy(),
                                  np.pad(tiny.numpy(), [(0, 0)] * 3 + [(0, 6), (0, 5)], "edge"))
    exact = x[..., :4, :4]
    assert _pad_to_multiple(exact, 4) is exact  # already a multiple: untouched


@pytest.mark.slow
@pytest.mark.parametrize("name", MODELS)
def test_size_250_by_333(name):
    model = create_model(name).eval()
    slices, positions = _inputs(2, h=250, w=333)
    with torch.no_grad():
        assert model(slices, positions).depth.shape == (1, 1, 250, 333)


@pytest.mark.parametrize("name", MODELS)
def test_gradients_reach_every_parameter(name):
    model = create_model(name).train()
    slices, positions = _inputs(3, h=32, w=32, b=2)
    out = model(slices, positions)
    loss = sum(d.mean() for d in out.depth_scales)
    if out.all_in_focus is not None:
        loss = loss + out.all_in_focus.mean()
    loss.backward()
    missing = [k for k, p in model.named_parameters() if p.grad is None or not torch.isfinite(p.grad).all()]
    assert not missing, missing
    assert sum(float(p.grad.abs().sum()) for p in model.parameters()) > 0


@pytest.mark.parametrize("name", MODELS)
def test_focus_position_units_do_not_matter(name):
    """Scaling (and shifting) the positions scales (and shifts) the depth: networks see [0, 1]."""
    model = create_model(name).eval()
    slices, positions = _inputs(4)
    with torch.no_grad():
        base = model(slices, positions).depth
        scaled = model(slices, positions * 1000.0).depth
        shifted = model(slices, positions + 5.0).depth
    assert torch.allclose(scaled, base * 1000.0, rtol=1e-4)
    assert torch.allclose(shifted, base + 5.0, atol=1e-4)


@pytest.mark.parametrize("name", MODELS)
def test_eval_is_deterministic_and_weights_round_trip(name, tmp_path):
    model = create_model(name).eval()
    slices, positions = _inputs(3)
    with torch.no_grad():
        a, b = model(slices, positions).depth, model(slices, positions).depth
    assert torch.equal(a, b)
    save_weights(model, tmp_path / "w.safetensors", regime="test", metrics={"mse": 1.0})
    state, meta = load_weights(tmp_path / "w.safetensors")
    assert meta["name"] == name and meta["regime"] == "test" and meta["metrics"] == {"mse": 1.0}
    restored = create_model(name, pretrained=tmp_path / "w.safetensors").eval()
    with torch.no_grad():
        assert torch.equal(restored(slices, positions).depth, a)


def test_unknown_model_and_missing_weights(tmp_path, monkeypatch):
    from focalstack.models import registry

    monkeypatch.setattr(registry, "WEIGHTS_DIR", tmp_path)  # as before any release
    with pytest.raises(InputError):
        create_model("no_such_model")
    with pytest.raises(InputError, match="no trained weights"):
        create_model(MODELS[0], pretrained=True)
    with pytest.raises(ValueError):
        create_model(MODELS[0])(torch.rand(1, 1, 3, 8, 8), torch.zeros(1, 1))


def test_released_weights_by_tag(tmp_path, monkeypatch):
    from focalstack.models import registry, released_weights, split_method

    monkeypatch.setattr(registry, "WEIGHTS_DIR", tmp_path)
    name = "aifdepthnet_light"
    first, second = create_model(name), create_model(name)
    with torch.no_grad():
        for p in second.parameters():
            p.add_(1.0)
    save_weights(first, tmp_path / f"{name}.safetensors", regime="depth-supervised")
    save_weights(second, tmp_path / f"{name}.aif.safetensors", regime="all-in-focus-supervised")
    assert released_weights(name) == [None, "aif"]
    default, tagged = create_model(name, pretrained=True), create_model(name, pretrained="aif")
    key = next(iter(first.state_dict()))
    assert torch.equal(default.state_dict()[key], first.state_dict()[key])
    assert torch.equal(tagged.state_dict()[key], second.state_dict()[key])
    with pytest.raises(InputError, match="released: aifdepthnet_light, aifdepthnet_light:aif"):
        create_model(name, pretrained="nope")
    assert split_method("aifdepthnet_light:aif") == ("aifdepthnet_light", "aif")
    assert split_method("sml") == ("sml", None)


def test_weights_carry_their_hyperparameters(tmp_path):
    """A model trained with overrides (a run's model_overrides) loads from its weights file without
    repeating them; explicit overrides still win (and then the weights must fit)."""
    model = create_model("daifnet_light", head_context=1).eval()
    save_weights(model, tmp_path / "w.safetensors", regime="test")
    restored = create_model("daifnet_light", pretrained=tmp_path / "w.safetensors").eval()
    assert restored.model_config["head_context"] == 1
    slices, positions = _inputs(3)
    with torch.no_grad():
        assert torch.equal(restored(slices, positions).depth, model(slices, positions).depth)
    with pytest.raises(RuntimeError):
        create_model("daifnet_light", pretrained=tmp_path / "w.safetensors", head_context=0)


def test_real_image_standing_is_read_and_shown(tmp_path, monkeypatch):
    import json

    from typer.testing import CliRunner

    from focalstack.cli import app
    from focalstack.models import registry

    table = {"benchmark": "real v1", "reference": "sml", "methods": {
        "aifdepthnet_light": {"ratio": 0.9, "low": 0.8, "high": 1.1, "per_dataset": {"real-phone": 1.2, "real-x": 0.6},
                              "beats_reference": False},
        "aifdepthnet_light:aif": {"ratio": 0.5, "low": 0.4, "high": 0.6, "per_dataset": {"real-phone": 0.5},
                                  "beats_reference": True},
        "aifdepthnet_light:self": {"ratio": 1.1, "low": 0.9, "high": 1.3, "made_for": "real-x",
                                   "per_dataset": {"real-phone": 1.6, "real-x": 0.3}, "beats_reference": False}}}
    path = tmp_path / "standing.json"
    path.write_text(json.dumps(table))
    monkeypatch.setattr(registry, "STANDING_FILE", path)
    registry._standing_table.cache_clear()
    try:
        assert registry.real_image_standing("aifdepthnet_light")["ratio"] == 0.9
        assert registry.real_image_standing("aifdepthnet_light")["reference"] == "sml"
        assert registry.real_image_standing("daifnet") is None
        shown = CliRunner().invoke(app, ["models"]).output
        assert "aifdepthnet_light: 0.90x the MSE of the focus measure sml" in shown
        assert "WORSE than it on real-phone (docs/benchmarks.md); the default of focalstack depth" in shown
        assert shown.count("the default of focalstack depth") == 1
        assert "aifdepthnet_light:aif: 0.50x the MSE" in shown and "better on every split" in shown
        assert registry.describe_standing("aifdepthnet_light:self") == (
            "aifdepthnet_light:self: made for real-x, 0.30x the MSE of the focus measure sml there; 1.10x on the "
            "whole real-image benchmark (0.90-1.30), WORSE than it on real-phone (docs/benchmarks.md)")
    finally:
        registry._standing_table.cache_clear()
