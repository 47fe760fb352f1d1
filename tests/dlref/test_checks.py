"""dlref.checks: one shape of message, the caller named first; TypeError for types, ValueError for
values; a bool is not a number."""

import math

import pytest
import torch

from dlref import checks


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (
            lambda: checks.number("f", "lr", "0.1"),
            TypeError,
            "f expects lr to be a number, got str '0.1'",
        ),
        (
            lambda: checks.number("f", "lr", True),
            TypeError,
            "f expects lr to be a number, got bool True",
        ),
        (lambda: checks.number("f", "lr", -1, 0), ValueError, "f expects lr >= 0, got -1"),
        (
            lambda: checks.number("f", "lr", 0, 0, closed_low=False),
            ValueError,
            "f expects lr > 0, got 0",
        ),
        (lambda: checks.number("f", "p", 1.0, 0, 1), ValueError, "f expects p in [0, 1), got 1.0"),
        (lambda: checks.number("f", "p", math.nan, 0), ValueError, "f expects p >= 0, got nan"),
        (
            lambda: checks.integer("f", "n", 2.0, 1),
            TypeError,
            "f expects n to be an int, got float 2.0",
        ),
        (lambda: checks.integer("f", "n", 0, 1), ValueError, "f expects n >= 1, got 0"),
        (
            lambda: checks.integer("f", "seed", -1, 0, 2**32),
            ValueError,
            "f expects seed in [0, 2**32), got -1",
        ),
        (lambda: checks.integer("f", "k", 5, 0, 5), ValueError, "f expects k in [0, 5), got 5"),
        (
            lambda: checks.one_of("f", "mode", "x", ("a", "b")),
            ValueError,
            "f expects mode to be one of 'a', 'b', got 'x'",
        ),
        (
            lambda: checks.floating_tensor("f", [1.0]),
            TypeError,
            "f expects x to be a torch.Tensor, got list",
        ),
        (
            lambda: checks.floating_tensor("f", torch.arange(2)),
            TypeError,
            "floating-point tensor, got dtype torch.int64",
        ),
        (
            lambda: checks.dimension("f", torch.zeros(2, 3), 2),
            ValueError,
            "f expects dim in [-2, 1] for a tensor of shape (2, 3), got 2",
        ),
    ],
)
def test_messages_say_who_wanted_what_and_what_came(call, error, message):
    with pytest.raises(error) as raised:
        call()
    assert message in str(raised.value)


def test_values_in_range_pass():
    checks.number("f", "lr", 0.1, 0, closed_low=False)
    checks.number("f", "p", 1, 0, 1, closed_high=True)
    checks.integer("f", "n", 3, 1)
    checks.one_of("f", "norm", None, (None, "batch"))
    checks.floating_tensor("f", torch.zeros(2))
    checks.dimension("f", torch.zeros(()), -1)  # a 0-d tensor has one dimension to reduce over
    assert checks.is_integer(3) and not checks.is_integer(True) and not checks.is_integer(3.0)
    assert checks.is_real(3.0) and checks.is_real(3) and not checks.is_real(False)


def test_shape_matches_sizes_and_wildcards_and_says_what_it_wanted():
    checks.shape("f", "x", torch.zeros(2, 5, 8), (None, None, 8))
    with pytest.raises(ValueError, match=r"^f expects x of shape \(2, 3\), got \(2, 4\)$"):
        checks.shape("f", "x", torch.zeros(2, 4), (2, 3))
    with pytest.raises(ValueError, match=r"^f expects key of shape \(B, S, 8\), got \(2, 8\)$"):
        checks.shape("f", "key", torch.zeros(2, 8), (None, None, 8), "(B, S, 8)")


def test_module_accepts_a_module_and_names_what_came_instead():
    checks.module("freeze", torch.nn.Linear(2, 2))
    with pytest.raises(TypeError, match="^freeze expects model to be an nn.Module, got dict$"):
        checks.module("freeze", {})
