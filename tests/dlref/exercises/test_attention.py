"""The attention page's exercise checks refuse stubs and typical mistakes, with a hint.

The page's own run proves that its solutions pass; here every check meets blank stubs and
plausible wrong answers, and each hint must name what differs.
"""

import math

import pytest
import torch

from dlref.attention import scaled_dot_product_attention
from dlref.exercises import ExerciseFailed, check_attention, check_causal_mask


def attention_right(q, k, v):
    return torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1]), dim=-1) @ v


def test_attention_passes_the_formula_and_dlref(capsys):
    check_attention(attention_right)
    check_attention(lambda q, k, v: scaled_dot_product_attention(q, k, v)[0])
    assert capsys.readouterr().out.count("Correct: attention") == 2


def stub_attention(q, k, v): ...


def stub_attention_raising(q, k, v):
    raise NotImplementedError


@pytest.mark.parametrize(
    ("answer", "match"),
    [
        (stub_attention, r"returned None: replace the stub"),
        (stub_attention_raising, r"still raises NotImplementedError"),
        (
            lambda q, k, v: torch.softmax(q @ k.transpose(-2, -1), -1) @ v,
            r"leaving out the scaling",
        ),
        (
            lambda q, k, v: torch.softmax(q @ k.transpose(-2, -1) / q.shape[-1], -1) @ v,
            r"dividing by d_k",
        ),
        (
            lambda q, k, v: torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(8), -2) @ v,
            r"softmax over the queries",
        ),
        (lambda q, k, v: q @ k.transpose(-2, -1), r"shape \(2, 4, 6\), expected \(2, 4, 3\)"),
        (lambda q, k, v: attention_right(q, k, v).detach(), r"does not depend on q, k, v"),
        (
            lambda q, k, v: attention_right(q, k.detach(), v),
            r"gradient with respect to k: expected a torch.Tensor, got NoneType|does not depend "
            r"on k",
        ),
        (lambda q, k, v: 1 / 0, r"raised ZeroDivisionError"),
    ],
)
def test_attention_refuses_wrong_answers(answer, match):
    with pytest.raises(ExerciseFailed, match=match):
        check_attention(answer)


def test_causal_mask_passes_the_right_answer(capsys):
    check_causal_mask(lambda n: torch.ones(n, n, dtype=torch.bool).triu(1))
    check_causal_mask(lambda n: ~torch.ones(n, n, dtype=torch.bool).tril())
    assert capsys.readouterr().out.count("Correct: causal_mask") == 2


def stub_mask(n): ...


@pytest.mark.parametrize(
    ("answer", "match"),
    [
        (stub_mask, r"returned None: replace the stub"),
        (lambda n: torch.ones(n, n, dtype=torch.bool).tril(), r"is the opposite mask"),
        (lambda n: torch.ones(n, n, dtype=torch.bool).triu(), r"masks the diagonal too"),
        (lambda n: torch.ones(n, n).triu(1), r"dtype torch.float32, expected torch.bool"),
        (lambda n: torch.ones(n, n, dtype=torch.bool).tril(-1), r"at index \(0, 1\): got False"),
        (lambda n: torch.ones(n, dtype=torch.bool), r"shape \(5,\), expected \(5, 5\)"),
        (lambda n: [[False] * n] * n, r"expected a torch.Tensor, got list"),
    ],
)
def test_causal_mask_refuses_wrong_answers(answer, match):
    with pytest.raises(ExerciseFailed, match=match):
        check_causal_mask(answer)
