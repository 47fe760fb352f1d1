"""Tests of dlref.diagnostics against statistics computed by hand from the tensors."""

import math

import pytest
import torch
from torch import nn

from dlref.diagnostics import (
    ActivationStats,
    ActivationSummary,
    GradientNormRecorder,
    gradient_norms,
)


def _model(seed: int) -> nn.Sequential:
    torch.manual_seed(seed)
    model = nn.Sequential(
        nn.Linear(5, 8), nn.ReLU(),
        nn.Linear(8, 8), nn.Tanh(),
        nn.Linear(8, 6), nn.Sigmoid(),
        nn.Linear(6, 3),
    ).double()  # fmt: skip
    with torch.no_grad():  # large weights so tanh and sigmoid saturate
        model[2].weight.mul_(20)
        model[4].weight.mul_(20)
    return model


def _hand_norm(grad: torch.Tensor) -> float:
    return math.sqrt(sum(g * g for g in grad.flatten().tolist()))


@pytest.mark.parametrize("seed", range(3))
def test_gradient_norms_match_hand_computation(seed):
    model = _model(seed)
    x = torch.randn(16, 5, dtype=torch.float64)
    model(x).pow(2).sum().backward()

    norms = gradient_norms(model)
    assert list(norms) == ["0.weight", "2.weight", "4.weight", "6.weight"]
    for name, value in norms.items():
        assert value == pytest.approx(_hand_norm(model.get_parameter(name).grad), rel=1e-12)

    everything = gradient_norms(model, weights_only=False)
    assert list(everything) == [name for name, _ in model.named_parameters()]
    assert everything["6.bias"] == pytest.approx(_hand_norm(model[6].bias.grad), rel=1e-12)


def test_gradient_norms_skip_frozen_and_missing_gradients():
    model = _model(0)
    model[0].weight.requires_grad_(False)
    model(torch.randn(4, 5, dtype=torch.float64)).sum().backward()
    model[2].weight.grad = None
    assert list(gradient_norms(model)) == ["4.weight", "6.weight"]


def test_gradient_norms_without_backward_is_an_error():
    with pytest.raises(ValueError, match=r"no gradients: call loss.backward\(\) before"):
        gradient_norms(_model(0))


def _hand_summary(y: torch.Tensor, kind: str) -> tuple:
    values = y.flatten().tolist()
    n = len(values)
    mean = sum(values) / n
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    zeros = sum(v == 0 for v in values) / n
    if kind == "tanh":
        saturated = sum(abs(v) > 0.99 for v in values) / n
    elif kind == "sigmoid":
        saturated = sum(v < 0.01 or v > 0.99 for v in values) / n
    else:
        saturated = None
    return mean, std, zeros, saturated


@pytest.mark.parametrize("seed", range(3))
def test_activation_stats_match_hand_computation(seed):
    model = _model(seed)
    x = torch.randn(32, 5, dtype=torch.float64)
    with ActivationStats(model) as recorder:
        model(x)
    assert list(recorder.stats) == ["0", "1", "2", "3", "4", "5", "6"]

    kinds = {"1": "relu", "3": "tanh", "5": "sigmoid"}
    h = x
    for index, layer in enumerate(model):
        h = layer(h)
        summary = recorder.stats[str(index)]
        mean, std, zeros, saturated = _hand_summary(h.detach(), kinds.get(str(index), "other"))
        assert summary.mean == pytest.approx(mean, rel=1e-9, abs=1e-12)
        assert summary.std == pytest.approx(std, rel=1e-9)
        assert summary.zero_fraction == pytest.approx(zeros)
        if saturated is None:
            assert summary.saturated_fraction is None
        else:
            assert summary.saturated_fraction == pytest.approx(saturated)
    assert 0 < recorder.stats["1"].zero_fraction < 1  # some ReLUs off
    assert recorder.stats["3"].saturated_fraction > 0.2  # big weights saturate the tanh
    assert recorder.stats["5"].saturated_fraction > 0.2


def test_activation_stats_keep_the_latest_pass_and_remove_hooks():
    model = _model(0)
    recorder = ActivationStats(model, module_types=(nn.ReLU,))
    assert len(model[1]._forward_hooks) == 1
    model(torch.randn(8, 5, dtype=torch.float64))
    model(torch.ones(8, 5, dtype=torch.float64))
    ones_relu = model[1](model[0](torch.ones(8, 5, dtype=torch.float64)))
    assert list(recorder.stats) == ["1"]
    assert recorder.stats["1"].mean == pytest.approx(ones_relu.mean().item())
    recorder.remove()

    assert all(len(m._forward_hooks) == 0 for m in model.modules())
    kept = recorder.stats["1"]
    model(torch.randn(8, 5, dtype=torch.float64))
    assert recorder.stats["1"] is kept  # nothing recorded after removal


def test_activation_stats_hooks_removed_on_exit_even_after_an_error():
    model = _model(0)
    with pytest.raises(RuntimeError, match="inside"), ActivationStats(model):
        raise RuntimeError("inside")
    assert all(len(m._forward_hooks) == 0 for m in model.modules())


def test_activation_stats_table():
    model = _model(0)
    with ActivationStats(model, module_types=(nn.ReLU, nn.Tanh)) as recorder:
        model(torch.randn(8, 5, dtype=torch.float64))
    lines = recorder.as_table().splitlines()
    assert lines[0].split() == ["layer", "mean", "std", "zeros", "saturated"]
    assert lines[1].split()[0] == "1" and lines[1].split()[-1] == "-"
    stats = recorder.stats["3"]
    assert lines[2].split()[-1] == f"{stats.saturated_fraction:.1%}"
    assert isinstance(stats, ActivationSummary)


def test_activation_stats_errors():
    with pytest.raises(ValueError, match=r"no submodule of type Conv1d in the model"):
        ActivationStats(_model(0), module_types=(nn.Conv1d,))
    lstm = nn.Sequential(nn.LSTM(3, 4))
    with (
        pytest.raises(TypeError, match=r"layer '0' to return a tensor, got tuple"),
        ActivationStats(lstm, module_types=(nn.LSTM,)),
    ):
        lstm(torch.randn(2, 1, 3))


def test_gradient_norm_recorder_matches_each_step():
    model = _model(1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    expected: dict[str, list[float]] = {}
    with GradientNormRecorder(model) as recorder:
        for step in range(3):
            torch.manual_seed(step)
            optimizer.zero_grad()
            model(torch.randn(8, 5, dtype=torch.float64)).pow(2).mean().backward()
            for name, value in gradient_norms(model).items():
                expected.setdefault(name, []).append(value)
            optimizer.step()
    assert list(recorder.norms) == ["0.weight", "2.weight", "4.weight", "6.weight"]
    for name, values in expected.items():
        assert recorder.norms[name] == pytest.approx(values, rel=1e-12)

    # Hooks are gone: another backward records nothing.
    assert all(not p._backward_hooks for p in model.parameters())
    model(torch.randn(8, 5, dtype=torch.float64)).sum().backward()
    assert all(len(values) == 3 for values in recorder.norms.values())


def test_gradient_norm_recorder_sees_each_backward_not_the_accumulated_grad():
    model = _model(2)
    recorder = GradientNormRecorder(model, weights_only=False)
    assert len(recorder.norms) == 8
    x1, x2 = torch.randn(2, 4, 5, dtype=torch.float64)
    model(x1).sum().backward()
    first = model[0].weight.grad.clone()
    model(x2).sum().backward()  # .grad now holds the sum of both gradients
    second = model[0].weight.grad - first
    recorder.remove()
    assert recorder.norms["0.weight"] == pytest.approx(
        [_hand_norm(first), _hand_norm(second)], rel=1e-9
    )


def test_gradient_norm_recorder_needs_trainable_parameters():
    frozen = nn.Linear(2, 2).requires_grad_(False)
    with pytest.raises(ValueError, match=r"no trainable parameters"):
        GradientNormRecorder(frozen)
