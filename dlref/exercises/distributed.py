"""Checks for the exercises of the distributed training page.

Explained on the page
[Training on many GPUs and machines](../training/distributed-training.md#exercises).

Each check computes its reference inside the check: the indices ``torch``'s own
``DistributedSampler`` hands each rank, and the gradient autograd computes on the concatenated
batch. When an answer is wrong, the check names the usual mistake it matches.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch.utils.data import DistributedSampler

from dlref.exercises.checking import ExerciseFailed, assert_close, call, passed

__all__ = ["check_combine_gradients", "check_shard"]


# --- 1. deal out the samples -----------------------------------------------------------------


def _shard_cases() -> list[tuple[int, int, int, bool]]:
    """(n, world_size, rank, drop_last): even and uneven splits, padding longer than once."""
    cases = [(8, 2, 0, False), (8, 2, 1, False), (10, 4, 3, False), (10, 4, 1, True)]
    cases += [(3, 8, 5, False), (3, 8, 7, False), (11, 3, 2, True), (7, 1, 0, False)]
    return cases


def _list_of_ints(got: object, what: str) -> list[int]:
    if isinstance(got, torch.Tensor):
        got = got.tolist()
    if not isinstance(got, list | tuple) or not all(
        isinstance(i, int) and not isinstance(i, bool) for i in got
    ):
        raise ExerciseFailed(f"{what} returned {type(got).__name__}: return a list of ints")
    return list(got)


def _hint(got: list[int], want: list[int]) -> str:
    """The usual mistake a wrong shard shows."""
    if len(got) != len(want):
        return f"; every rank gets {len(want)}: pad (or, with drop_last, cut) to equal length"
    if len(got) > 1 and got == list(range(got[0], got[0] + len(got))):
        return "; ranks take every world_size-th sample in turn, not a contiguous block"
    return "; the padding repeats samples from the start of the order"


def check_shard(shard: Callable[[int, int, int, bool], list[int]]) -> None:
    """Check ``shard(n, world_size, rank, drop_last)``: the indices ``DistributedSampler`` gives
    rank ``rank`` of ``world_size`` for ``n`` samples, without shuffling.

    Raises:
        ExerciseFailed: If a shard differs, with the usual mistake it matches.
    """
    for n, world, rank, drop_last in _shard_cases():
        what = f"shard({n}, {world}, {rank}, drop_last={drop_last})"
        got = _list_of_ints(call(shard, n, world, rank, drop_last, what=what), what)
        sampler = DistributedSampler(range(n), world, rank, shuffle=False, drop_last=drop_last)
        want = list(sampler)
        if got == want:
            continue
        raise ExerciseFailed(f"value: {what} returned {got}, expected {want}{_hint(got, want)}")
    passed(
        "shard",
        "Your shards are DistributedSampler's, padded or cut to equal length and dealt in turn.",
    )


# --- 2. average gradients of unequal shards ----------------------------------------------------


def _shard_gradients(sizes: list[int], seed: int) -> tuple[list[torch.Tensor], torch.Tensor]:
    """Each shard's gradient of its mean cross-entropy, and autograd's on all samples together."""
    generator = torch.Generator().manual_seed(seed)
    weight = torch.randn(3, 5, generator=generator, dtype=torch.float64)  # a linear classifier
    x = torch.randn(sum(sizes), 5, generator=generator, dtype=torch.float64)
    y = torch.randint(0, 3, (sum(sizes),), generator=generator)

    def gradient(rows: slice) -> torch.Tensor:
        w = weight.clone().requires_grad_()
        (g,) = torch.autograd.grad(F.cross_entropy(x[rows] @ w.T, y[rows]), w)
        return g

    bounds = torch.tensor([0, *sizes]).cumsum(0).tolist()
    grads = [gradient(slice(a, b)) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
    return grads, gradient(slice(0, sum(sizes)))


def check_combine_gradients(
    combine_gradients: Callable[[list[torch.Tensor], list[int]], torch.Tensor],
) -> None:
    """Check ``combine_gradients(grads, sizes)``: the gradient of the mean loss over all samples,
    from each rank's gradient of its own mean loss and its number of samples.

    Raises:
        ExerciseFailed: If the gradient differs from autograd's on the concatenated batch.
    """
    for seed, sizes in enumerate([[4, 4], [3, 2], [8, 1, 5], [6]]):
        grads, want = _shard_gradients(sizes, seed)
        what = f"combine_gradients(grads, sizes={sizes})"
        got = call(combine_gradients, [g.clone() for g in grads], list(sizes), what=what)
        plain_mean = torch.stack(grads).mean(0)
        if (
            isinstance(got, torch.Tensor)
            and got.shape == want.shape
            and len(set(sizes)) > 1
            and torch.allclose(got.to(want.dtype), plain_mean)
        ):
            raise ExerciseFailed(
                f"value: {what} is the plain mean of the shard gradients: with shards of "
                "different sizes, weight each by its share of the samples, B_r / sum(B)"
            )
        assert_close(got, want, f"value: {what}", rtol=1e-9, atol=1e-12)
    passed(
        "combine_gradients",
        "Weighting each shard by its share of the samples gives the gradient of the whole batch.",
    )
