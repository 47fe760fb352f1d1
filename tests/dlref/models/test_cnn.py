"""Tests of dlref.models.cnn: shapes, parameter count, state_dict layout, errors."""

import pytest
import torch
from torch import nn

from dlref.models.cnn import CNN


def _hand_built(in_channels, num_classes, channels, image_size, kernel_size, dropout):
    """The same network written out layer by layer."""
    layers = []
    c_in = in_channels
    for c in channels:
        layers += [nn.Conv2d(c_in, c, kernel_size, padding=kernel_size // 2), nn.ReLU()]
        layers.append(nn.MaxPool2d(2))
        c_in = c
    side = image_size // 2 ** len(channels)
    layers += [nn.Flatten(), nn.Dropout(dropout), nn.Linear(c_in * side * side, num_classes)]
    return nn.Sequential(*layers)


CASES = [
    (1, 10, (16, 32), 8, 3, 0.0),
    (3, 5, (4,), 7, 5, 0.0),
    (2, 3, (6, 8, 4), 16, 3, 0.2),
    (1, 2, (5, 7), 9, 1, 0.0),
]


@pytest.mark.parametrize("case", CASES, ids=[f"{c[2]}-{c[3]}px-k{c[4]}" for c in CASES])
def test_matches_hand_built_sequential(case):
    in_channels, num_classes, channels, image_size, kernel_size, dropout = case
    torch.manual_seed(0)
    ours = CNN(in_channels, num_classes, channels, image_size, kernel_size, dropout).double()
    theirs = _hand_built(*case).double()
    assert [(k, v.shape) for k, v in ours.state_dict().items()] == [
        (k, v.shape) for k, v in theirs.state_dict().items()
    ]
    theirs.load_state_dict(ours.state_dict())  # same keys and shapes, strict
    x = torch.randn(4, in_channels, image_size, image_size, dtype=torch.float64)
    for training in (False, True):
        ours.train(training)
        theirs.train(training)
        torch.manual_seed(1)  # same dropout masks for both
        out_ours = ours(x)
        torch.manual_seed(1)
        out_theirs = theirs(x)
        assert out_ours.shape == (4, num_classes)
        torch.testing.assert_close(out_ours, out_theirs)


def test_defaults_on_digits_shapes_and_parameter_count():
    model = CNN()
    x = torch.zeros(5, 1, 8, 8)
    assert model[:3](x).shape == (5, 16, 4, 4)  # 8 -> 4
    assert model[:6](x).shape == (5, 32, 2, 2)  # 4 -> 2
    assert model[-1].in_features == 128 and model[-1].out_features == 10
    assert model(x).shape == (5, 10)
    count = sum(p.numel() for p in model.parameters())
    assert count == (16 * 1 * 9 + 16) + (32 * 16 * 9 + 32) + (128 * 10 + 10) == 6090
    assert list(model.state_dict()) == [
        "0.weight", "0.bias", "3.weight", "3.bias", "8.weight", "8.bias",
    ]  # fmt: skip


def test_structure_attributes_and_slicing():
    model = CNN(3, 4, channels=[8], image_size=6, kernel_size=5, dropout=0.5)
    assert [type(m).__name__ for m in model] == [
        "Conv2d", "ReLU", "MaxPool2d", "Flatten", "Dropout", "Linear",
    ]  # fmt: skip
    assert (model.in_channels, model.num_classes, model.channels) == (3, 4, (8,))
    assert (model.image_size, model.kernel_size) == (6, 5)
    assert model[0].padding == (2, 2) and model[4].p == 0.5
    assert model[-1].in_features == 8 * 3 * 3
    block = model[:3]
    assert type(block) is nn.Sequential and block(torch.zeros(2, 3, 6, 6)).shape == (2, 8, 3, 3)


def test_odd_image_sizes_round_down_like_max_pool():
    model = CNN(1, 10, (4, 4), image_size=11)  # 11 -> 5 -> 2
    assert model[-1].in_features == 4 * 2 * 2
    assert model(torch.zeros(3, 1, 11, 11)).shape == (3, 10)


@pytest.mark.parametrize(
    ("shape", "match"),
    [
        ((4, 64), r"CNN expects x of shape \(B, 1, 8, 8\), got \(4, 64\)"),
        ((1, 8, 8), r"got \(1, 8, 8\)"),
        ((2, 3, 8, 8), r"got \(2, 3, 8, 8\)"),
        ((2, 1, 8, 9), r"got \(2, 1, 8, 9\)"),
    ],
)
def test_wrong_input_shape_says_what_it_got(shape, match):
    with pytest.raises(ValueError, match=match):
        CNN()(torch.zeros(shape))


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"in_channels": 0}, ValueError, r"CNN expects in_channels >= 1, got 0"),
        ({"num_classes": 2.0}, TypeError, r"CNN expects num_classes to be an int, got float 2.0"),
        ({"channels": 16}, TypeError, r"non-empty sequence of widths such as \(16, 32\), got 16"),
        ({"channels": []}, TypeError, r"non-empty sequence .*, got \[\]"),
        ({"channels": "16"}, TypeError, r"non-empty sequence .*, got '16'"),
        ({"channels": (16, 0)}, ValueError, r"each of channels >= 1, got 0"),
        ({"channels": (16, 1.5)}, TypeError, r"each of channels to be an int, got float 1.5"),
        ({"kernel_size": 4}, ValueError, r"CNN expects an odd kernel_size .*, got 4"),
        ({"kernel_size": 0}, ValueError, r"kernel_size >= 1, got 0"),
        ({"image_size": 3}, ValueError, r"image_size >= 4 for 2 blocks .*, got 3"),
        ({"image_size": True}, TypeError, r"image_size to be an int, got bool True"),
        ({"dropout": 1.0}, ValueError, r"CNN expects dropout in \[0, 1\), got 1.0"),
        ({"dropout": None}, TypeError, r"dropout to be a number, got NoneType None"),
    ],
)
def test_bad_arguments_raise_clear_errors(kwargs, error, match):
    with pytest.raises(error, match=match):
        CNN(**kwargs)
