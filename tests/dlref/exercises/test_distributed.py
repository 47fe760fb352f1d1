"""The distributed training page's exercise checks refuse stubs and typical mistakes, with a hint.

The page's own run proves that its solutions pass; here every check meets blank stubs and
plausible wrong answers, and each hint must name what differs.
"""

import math

import pytest
import torch

from dlref.exercises.checking import ExerciseFailed
from dlref.exercises.distributed import check_combine_gradients, check_shard

# --- shard -----------------------------------------------------------------------------------


def shard_right(n, world_size, rank, drop_last=False):
    if drop_last:
        order = list(range(n // world_size * world_size))
    else:
        per_rank = math.ceil(n / world_size)
        order = list(range(n))
        while len(order) < per_rank * world_size:
            order += order[: per_rank * world_size - len(order)]
    return order[rank::world_size]


def test_shard_passes_the_solution(capsys):
    check_shard(shard_right)
    check_shard(lambda *args: torch.tensor(shard_right(*args)))  # a tensor of ints is fine
    assert capsys.readouterr().out.count("Correct: shard") == 2


def stub_shard(n, world_size, rank, drop_last=False): ...


def no_padding(n, world_size, rank, drop_last=False):
    return list(range(n))[rank::world_size]


def contiguous(n, world_size, rank, drop_last=False):
    per_rank = len(shard_right(n, world_size, rank, drop_last))
    return list(range(rank * per_rank, (rank + 1) * per_rank))


def pads_with_the_last(n, world_size, rank, drop_last=False):
    if drop_last:
        return shard_right(n, world_size, rank, drop_last)
    per_rank = math.ceil(n / world_size)
    order = list(range(n)) + [n - 1] * (per_rank * world_size - n)
    return order[rank::world_size]


@pytest.mark.parametrize(
    ("answer", "match"),
    [
        (stub_shard, r"returned None: replace the stub"),
        (lambda *args: "0, 2", r"returned str: return a list of ints"),
        (no_padding, r"shard\(10, 4, 3, drop_last=False\) returned \[3, 7\].*pad"),
        (contiguous, r"shard\(8, 2, 0, drop_last=False\) returned \[0, 1, 2, 3\].*contiguous"),
        (pads_with_the_last, r"returned \[3, 7, 9\], expected \[3, 7, 1\].*from the start"),
    ],
)
def test_shard_fails_wrong_answers_with_a_hint(answer, match):
    with pytest.raises(ExerciseFailed, match=match):
        check_shard(answer)


# --- combine_gradients -----------------------------------------------------------------------


def combine_right(grads, sizes):
    return sum(g * (n / sum(sizes)) for g, n in zip(grads, sizes, strict=True))


def test_combine_gradients_passes_the_solution(capsys):
    check_combine_gradients(combine_right)
    assert "Correct: combine_gradients" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("answer", "match"),
    [
        (lambda grads, sizes: None, r"returned None: replace the stub"),
        (lambda grads, sizes: torch.stack(grads).mean(0), r"plain mean of the shard gradients"),
        (lambda grads, sizes: sum(grads), r"sizes=\[4, 4\]\) at index .*: got"),
        (
            lambda grads, sizes: sum(g * n for g, n in zip(grads, sizes, strict=True)),
            r"sizes=\[4, 4\]\)",
        ),
        (lambda grads, sizes: grads[0], r"sizes=\[4, 4\]\) at index"),
    ],
)
def test_combine_gradients_fails_wrong_answers_with_a_hint(answer, match):
    with pytest.raises(ExerciseFailed, match=match):
        check_combine_gradients(answer)
