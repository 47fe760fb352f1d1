"""Tests of dlref.models.mlp against hand-built nn.Sequential stacks and torchvision.ops.MLP."""

import functools

import pytest
import torch
import torchvision
from torch import nn

from dlref.activations import ACTIVATIONS
from dlref.models.mlp import MLP


def _hand_built(in_features, hidden, out_features, activation, norm, dropout, bias):
    """The same network written out layer by layer."""
    layers = []
    width = in_features
    for h in hidden:
        layers.append(nn.Linear(width, h, bias=bias))
        if norm == "batch":
            layers.append(nn.BatchNorm1d(h))
        elif norm == "layer":
            layers.append(nn.LayerNorm(h))
        layers.append(activation())
        layers.append(nn.Dropout(dropout))
        width = h
    layers.append(nn.Linear(width, out_features, bias=bias))
    return nn.Sequential(*layers)


CASES = [
    (5, [7], 3, "relu", None, 0.0, True),
    (6, [8, 4], 2, "tanh", "batch", 0.0, True),
    (4, [9, 9, 5], 3, "gelu", "layer", 0.3, False),
    (3, [], 4, "sigmoid", None, 0.0, True),
    (8, [6], 5, "leaky_relu", "batch", 0.5, True),
    (5, [5, 5], 2, "elu", None, 0.1, True),
    (7, [3], 3, "silu", "layer", 0.0, True),
]


@pytest.mark.parametrize("case", CASES, ids=[f"{c[3]}-{c[4]}" for c in CASES])
@pytest.mark.parametrize("training", [False, True], ids=["eval", "train"])
def test_matches_hand_built_sequential(case, training):
    in_features, hidden, out_features, activation, norm, dropout, bias = case
    for seed in range(3):
        torch.manual_seed(seed)
        ours = MLP(in_features, hidden, out_features, activation, norm, dropout, bias).double()
        theirs = _hand_built(
            in_features, hidden, out_features, ACTIVATIONS[activation].module, norm, dropout, bias
        ).double()
        theirs.load_state_dict(ours.state_dict())  # same keys and shapes, strict
        ours.train(training)
        theirs.train(training)

        x = torch.randn(6, in_features, dtype=torch.float64)
        x_ours, x_theirs = x.clone().requires_grad_(), x.clone().requires_grad_()
        torch.manual_seed(100 + seed)  # same dropout masks for both
        out_ours = ours(x_ours)
        torch.manual_seed(100 + seed)
        out_theirs = theirs(x_theirs)
        assert out_ours.shape == (6, out_features)
        torch.testing.assert_close(out_ours, out_theirs)

        grad_out = torch.randn_like(out_ours)
        out_ours.backward(grad_out)
        out_theirs.backward(grad_out)
        torch.testing.assert_close(x_ours.grad, x_theirs.grad)
        for (name, p), q in zip(ours.named_parameters(), theirs.parameters(), strict=True):
            torch.testing.assert_close(p.grad, q.grad, msg=f"gradient of {name}")


@pytest.mark.parametrize("norm", [None, "batch", "layer"])
def test_loads_torchvision_mlp_state_dict(norm):
    norm_layer = {None: None, "batch": nn.BatchNorm1d, "layer": nn.LayerNorm}[norm]
    torch.manual_seed(0)
    theirs = torchvision.ops.MLP(64, [32, 16, 10], norm_layer=norm_layer).double().eval()
    ours = MLP(64, [32, 16], 10, norm=norm).double().eval()
    ours.load_state_dict(theirs.state_dict())
    x = torch.randn(5, 64, dtype=torch.float64)
    torch.testing.assert_close(ours(x), theirs(x))


def test_flattens_image_batches():
    torch.manual_seed(0)
    model = MLP(64, [16], 10)
    images = torch.rand(4, 1, 8, 8)
    torch.testing.assert_close(model(images), model(images.reshape(4, 64)))


def test_activation_may_be_a_class_or_factory_and_each_layer_gets_its_own():
    model = MLP(4, [3, 3], 2, activation=nn.Hardtanh)
    hardtanhs = [m for m in model if isinstance(m, nn.Hardtanh)]
    assert len(hardtanhs) == 2 and hardtanhs[0] is not hardtanhs[1]
    leaky = MLP(4, [3], 2, activation=functools.partial(nn.LeakyReLU, negative_slope=0.2))
    assert leaky[1].negative_slope == 0.2


def test_structure_attributes_repr_and_slicing():
    model = MLP(64, [128, 32], 10, norm="batch", dropout=0.2)
    assert (model.in_features, model.hidden_features, model.out_features) == (64, (128, 32), 10)
    assert [type(m).__name__ for m in model] == [
        "Linear", "BatchNorm1d", "ReLU", "Dropout",
        "Linear", "BatchNorm1d", "ReLU", "Dropout",
        "Linear",
    ]  # fmt: skip
    assert "(0): Linear(in_features=64, out_features=128, bias=True)" in repr(model)
    head = model[:4]
    assert type(head) is nn.Sequential and len(head) == 4
    assert head(torch.randn(3, 64)).shape == (3, 128)
    assert isinstance(model[-1], nn.Linear)


@pytest.mark.parametrize(
    ("shape", "match"),
    [
        ((4, 63), r"MLP expects x of shape \(B, 64\) or \(B, \.\.\.\) .*, got \(4, 63\)"),
        ((64,), r"got \(64,\)"),
        ((2, 1, 8, 9), r"got \(2, 1, 8, 9\)"),
    ],
)
def test_wrong_input_shape_says_what_it_got(shape, match):
    with pytest.raises(ValueError, match=match):
        MLP(64, [8], 10)(torch.zeros(shape))


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (
            {"activation": "swish"},
            ValueError,
            r"one of 'relu', .* or an nn.Module class, got 'swish'",
        ),
        ({"activation": nn.ReLU()}, TypeError, r"not a module instance .* pass ReLU"),
        ({"activation": 3}, TypeError, r"activation to be a name or an nn.Module class, got 3"),
        ({"activation": lambda: 1.0}, TypeError, r"activation\(\) to return an nn.Module"),
        ({"norm": "group"}, ValueError, r"norm to be one of None, 'batch', 'layer', got 'group'"),
        ({"dropout": 1.0}, ValueError, r"dropout in \[0, 1\), got 1.0"),
        ({"dropout": "0.5"}, TypeError, r"dropout to be a number, got str '0.5'"),
        ({"hidden_features": 128}, TypeError, r"sequence of widths such as \[128\], got 128"),
        ({"hidden_features": [16, 0]}, ValueError, r"each of hidden_features >= 1, got 0"),
        ({"in_features": 0}, ValueError, r"in_features >= 1, got 0"),
        ({"out_features": 2.0}, TypeError, r"out_features to be an int, got float 2.0"),
    ],
)
def test_bad_arguments_raise_clear_errors(kwargs, error, match):
    arguments = {"in_features": 4, "hidden_features": [8], "out_features": 2} | kwargs
    with pytest.raises(error, match=match):
        MLP(**arguments)
