"""Checks for the exercises of the hands-on feedforward-network page.

Explained on the page
[A feedforward network in PyTorch](../projects/feedforward-network.md#exercises).

Each check runs the reader's code on fixed, seeded inputs and compares it with a reference
computed inside the check: the fraction of rows whose arg-max is the target, one epoch of the
standard PyTorch loop run on an identical copy of the model, training-set statistics, and the
early-stopping rule applied epoch by epoch. None of them touches PyTorch's global random state.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from dlref.exercises.checking import ExerciseFailed, assert_close, call, passed

__all__ = [
    "check_accuracy",
    "check_early_stopping",
    "check_standardise_split",
    "check_train_one_epoch",
]


# --- Standardising with training statistics ----------------------------------------------------


def _standardise_with(
    rows: torch.Tensor, statistics_from: torch.Tensor, correction: int = 0
) -> torch.Tensor:
    """``rows`` standardised with the per-feature mean and std of ``statistics_from``."""
    mean = statistics_from.mean(dim=0)  # (D,)
    std = statistics_from.std(dim=0, correction=correction)  # (D,)
    std = torch.where(std == 0, torch.ones_like(std), std)  # constant features stay at 0
    return (rows - mean) / std  # (N, D)


def _standardise_cases() -> list[tuple[str, torch.Tensor, torch.Tensor]]:
    """(description, train, test) pairs in float64, each with a constant training feature."""
    generator = torch.Generator().manual_seed(0)
    scales = torch.tensor([1.0, 10.0, 0.1, 1.0, 3.0], dtype=torch.float64)  # (5,)
    offsets = torch.tensor([0.0, -50.0, 2.0, 0.0, 7.0], dtype=torch.float64)  # (5,)
    train = torch.randn(40, 5, generator=generator, dtype=torch.float64) * scales + offsets
    train[:, 3] = 0.0  # a feature that never changes in training, like the digits' corner pixels
    test = torch.randn(9, 5, generator=generator, dtype=torch.float64) * 2 * scales + offsets + 1
    small_train = torch.tensor([[1.0, 4.0, 2.0], [3.0, 4.0, 6.0]], dtype=torch.float64)  # (2, 3)
    one_row = torch.tensor([[0.0, 5.0, 4.0]], dtype=torch.float64)  # (1, 3)
    return [
        ("40 training rows and 9 test rows of 5 features", train, test),
        ("2 training rows and a single test row", small_train, one_row),
    ]


def _unpack_pair(result: Any, what: str) -> tuple[Any, Any]:
    """The two parts of a returned pair, or a hint that it is not one."""
    if not isinstance(result, tuple | list) or len(result) != 2:
        raise ExerciseFailed(
            f"{what} should return a pair (train_standardised, test_standardised), "
            f"got {type(result).__name__}"
            + (f" of length {len(result)}" if isinstance(result, tuple | list) else "")
        )
    return result[0], result[1]


def _matches(got: Any, candidate: torch.Tensor) -> bool:
    """Whether ``got`` is a tensor of ``candidate``'s shape and values (within 1e-6)."""
    return (
        isinstance(got, torch.Tensor)
        and got.shape == candidate.shape
        and torch.allclose(got.detach().to(candidate.dtype), candidate, rtol=1e-6, atol=1e-9)
    )


def check_standardise_split(
    standardise_split: Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]],
) -> None:
    r"""Check standardisation of a train/test split with statistics of the training rows only.

    ``standardise_split(train, test)`` must return ``((train - mean) / std, (test - mean) /
    std)`` where ``mean`` and ``std`` are the per-feature mean and population standard deviation
    ($\sqrt{\frac{1}{N}\sum_i (x_i - \bar x)^2}$, ``correction=0``) of ``train`` alone, with a
    std of 0 replaced by 1, as scikit-learn's ``StandardScaler`` does. It is run on two float64
    splits: 40 training rows whose features have different scales and offsets, one of them
    constant, with 9 test rows drawn from a shifted distribution; and 2 training rows with a
    single test row.

    Args:
        standardise_split: The reader's function, taking ``train`` of shape ``(N, D)`` and
            ``test`` of shape ``(M, D)`` and returning the two standardised tensors, same shapes.

    Raises:
        ExerciseFailed: If it crashes, is a stub, returns something other than a pair of tensors
            of the right shapes, or a value differs; the hint says when the numbers match the
            test set's own statistics, the statistics of all rows, or the corrected std.
    """
    what = "standardise_split(train, test)"
    for description, train, test in _standardise_cases():
        result = call(standardise_split, train.clone(), test.clone(), what=what)
        got_train, got_test = _unpack_pair(result, what)
        expected_train = _standardise_with(train, train)  # (N, D)
        expected_test = _standardise_with(test, train)  # (M, D)
        if _matches(got_train, _standardise_with(train, train, correction=1)) and len(train) > 1:
            raise ExerciseFailed(
                f"{what} on {description}: the training rows are divided by the standard "
                "deviation with Bessel's correction (torch.std's default, correction=1); "
                "standardisation uses the population standard deviation, correction=0, as "
                "StandardScaler does"
            )
        assert_close(
            got_train, expected_train, f"{what}[0], the training rows, on {description}", rtol=1e-6
        )
        both = torch.cat([train, test])  # (N + M, D)
        if _matches(got_test, _standardise_with(test, test)):
            raise ExerciseFailed(
                f"{what} on {description}: the test rows were standardised with their own "
                "mean and standard deviation, so the test set's statistics leaked into its "
                "preprocessing; the test rows must be scaled exactly as the training rows were"
            )
        if _matches(got_test, _standardise_with(test, both)):
            raise ExerciseFailed(
                f"{what} on {description}: the test rows were standardised with statistics of "
                "all the rows, training and test together, so the test set leaked into them; "
                "only the training rows may be used"
            )
        assert_close(
            got_test, expected_test, f"{what}[1], the test rows, on {description}", rtol=1e-6
        )
    passed(
        "standardise_split",
        "Both splits are scaled with the training rows' mean and standard deviation, constant "
        "features included, as StandardScaler would.",
    )


# --- Accuracy ----------------------------------------------------------------------------------


def _accuracy_cases() -> list[tuple[str, torch.Tensor, torch.Tensor]]:
    """(description, logits, targets) cases, edge shapes and extreme scores included."""
    generator = torch.Generator().manual_seed(0)

    def random_case(rows: int, classes: int, scale: float = 1.0, shift: float = 0.0):
        logits = torch.randn(rows, classes, generator=generator) * scale + shift  # (N, C)
        targets = torch.randint(0, classes, (rows,), generator=generator)  # (N,)
        return logits, targets

    many = random_case(1000, 10)
    single = random_case(1, 10)
    single_targets = single[0].argmax(dim=1)  # (1,) a single, correct prediction
    square = random_case(6, 6)  # N == C: a wrong dim runs without an error here
    huge = random_case(50, 3, scale=1e4, shift=-5e4)  # all negative, far beyond exp's range
    binary = random_case(7, 2)
    wrong = random_case(8, 4)
    wrong_targets = (wrong[0].argmax(dim=1) + 1) % 4  # (8,) never the arg-max
    return [
        ("1000 rows of 10 classes", *many),
        ("a single row that is right", single[0], single_targets),
        ("6 rows of 6 classes", *square),
        ("50 rows of 3 classes with logits near -50000", *huge),
        ("7 rows of 2 classes", *binary),
        ("8 rows, none of them right", wrong[0], wrong_targets),
    ]


def check_accuracy(accuracy: Callable[[torch.Tensor, torch.Tensor], float]) -> None:
    r"""Check a top-1 accuracy, $\frac{1}{N} \sum_i [\arg\max_c z_{ic} = y_i]$, as a float.

    ``accuracy(logits, targets)`` is called on logits of shape ``(N, C)`` and int64 targets of
    shape ``(N,)``: 1000 rows of 10 classes, a single row, a square ``(6, 6)`` batch (where the
    arg-max over the wrong dimension runs without an error), logits near $-5 \times 10^4$, two
    classes, and a batch with no correct row. Each result must be a Python ``float`` equal to
    the fraction of rows whose highest logit is at the target class.

    Args:
        accuracy: The reader's function, ``(logits, targets) -> float``.

    Raises:
        ExerciseFailed: If it crashes, is a stub, returns something other than a float, or a
            value differs (the hint names the case, and says so when the number is the mean
            probability of the targets or a count rather than a fraction).
    """
    what = "accuracy(logits, targets)"
    for description, logits, targets in _accuracy_cases():
        got = call(accuracy, logits.clone(), targets.clone(), what=what)
        if isinstance(got, torch.Tensor):
            raise ExerciseFailed(
                f"{what} on {description} returned a torch.Tensor{tuple(got.shape)}; return a "
                "Python float (a tensor's .item() gives one)"
            )
        if isinstance(got, bool) or not isinstance(got, int | float):
            raise ExerciseFailed(
                f"{what} on {description} returned {type(got).__name__}, expected a float"
            )
        expected = (logits.argmax(dim=1) == targets).double().mean().item()
        if math.isclose(got, expected, rel_tol=0, abs_tol=1e-6):
            continue
        if not 0.0 <= got <= 1.0:
            raise ExerciseFailed(
                f"{what} on {description} returned {got:g}, outside [0, 1]: an accuracy is the "
                f"fraction of the {len(targets)} rows that are right, not their count"
            )
        target_probability = logits.softmax(dim=1)[torch.arange(len(targets)), targets].mean()
        if math.isclose(got, target_probability.item(), rel_tol=1e-5, abs_tol=1e-6):
            raise ExerciseFailed(
                f"{what} on {description} returned {got:.6g}, the mean probability the softmax "
                "gives the target class; accuracy counts the rows whose highest score is at "
                "the target class"
            )
        raise ExerciseFailed(
            f"{what} on {description}: got the value {got:.6g}, expected {expected:.6g} "
            f"(the fraction of the {len(targets)} rows whose highest logit is at the target)"
        )
    passed(
        "accuracy",
        "It returns the fraction of correct rows as a float, on 6 batches from a single row "
        "to 1000, with logits near -50000 and a batch with none right.",
    )


# --- One epoch of training ---------------------------------------------------------------------

_EPOCH_SAMPLES, _EPOCH_BATCH = 50, 16  # 4 batches: 16, 16, 16 and a last one of 2


def _epoch_setup() -> tuple[nn.Module, DataLoader, torch.optim.Optimizer, nn.Module]:
    """A small classifier, a shuffling loader, SGD with momentum and a loss, all seeded.

    Two calls give identical copies: the same weights, the same batches in the same order.
    The weights are drawn from a seeded generator (``skip_init`` leaves the global one alone).
    """
    generator = torch.Generator().manual_seed(0)
    inputs = torch.randn(_EPOCH_SAMPLES, 6, generator=generator)  # (50, 6)
    targets = torch.randint(0, 3, (_EPOCH_SAMPLES,), generator=generator)  # (50,)
    model = nn.Sequential(
        nn.utils.skip_init(nn.Linear, 6, 8), nn.ReLU(), nn.utils.skip_init(nn.Linear, 8, 3)
    )
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.copy_(0.5 * torch.randn(parameter.shape, generator=generator))
    model.eval()  # as a model comes back from evaluation: training mode is the loop's job
    loader = DataLoader(
        TensorDataset(inputs, targets),
        batch_size=_EPOCH_BATCH,
        shuffle=True,
        generator=torch.Generator().manual_seed(1),
    )
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    return model, loader, optimizer, nn.CrossEntropyLoss()


def _reference_epoch(clear_gradients: bool = True) -> tuple[nn.Module, float, list[float]]:
    """One epoch of the page's loop on a fresh copy: the model, the mean loss, batch losses."""
    model, loader, optimizer, loss_fn = _epoch_setup()
    model.train()
    total_loss, count, batch_losses = 0.0, 0, []
    for inputs, targets in loader:
        loss = loss_fn(model(inputs), targets)  # scalar, mean over the batch
        if clear_gradients:
            optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        batch_losses.append(loss.item())
        total_loss += loss.item() * len(targets)
        count += len(targets)
    return model, total_loss / count, batch_losses


def _same_weights(model: nn.Module, other: nn.Module) -> bool:
    return all(
        torch.allclose(mine, theirs, rtol=1e-5, atol=1e-7)
        for mine, theirs in zip(model.parameters(), other.parameters(), strict=True)
    )


def check_train_one_epoch(
    train_one_epoch: Callable[
        [nn.Module, DataLoader, torch.optim.Optimizer, Callable[..., torch.Tensor]], float
    ],
) -> None:
    """Check one epoch of training against the standard loop run on an identical copy.

    ``train_one_epoch(model, loader, optimizer, loss_fn)`` is given a small classifier (in
    evaluation mode, as after an evaluation), a shuffling ``DataLoader`` of 50 samples in
    batches of 16 (the last holds 2), SGD with momentum and ``nn.CrossEntropyLoss()``. A second,
    identical model, loader and optimizer go through the reference loop (training mode; for
    each batch: forward, loss, ``zero_grad``, ``backward``, ``step``). The check then compares
    the mode the model ran in, every parameter after the epoch, and the returned mean loss per
    sample (each batch's mean loss weighted by its size).

    Args:
        train_one_epoch: The reader's function; it must return the epoch's mean loss as a float
            (a one-element tensor is accepted).

    Raises:
        ExerciseFailed: If it crashes, is a stub, runs the model in evaluation mode, leaves
            different weights (the hint says when they match a loop that never clears the
            gradients, or did not change at all) or returns a different mean loss (the hint
            says when it is the unweighted mean of the batch losses).
    """
    what = "train_one_epoch(model, loader, optimizer, loss_fn)"
    model, loader, optimizer, loss_fn = _epoch_setup()
    initial = [parameter.detach().clone() for parameter in model.parameters()]
    modes: list[bool] = []
    model.register_forward_pre_hook(lambda module, args: modes.append(module.training))
    got = call(train_one_epoch, model, loader, optimizer, loss_fn, what=what)
    reference, expected_loss, batch_losses = _reference_epoch()

    if not modes:
        raise ExerciseFailed(f"{what} never called the model: it should run every batch through it")
    if not all(modes):
        raise ExerciseFailed(
            f"{what} ran the model in evaluation mode (model.training was False) in "
            f"{modes.count(False)} of its {len(modes)} forward passes; the model it receives "
            "comes from an evaluation, so training must switch dropout and batch norm back to "
            "their training behaviour"
        )
    if all(
        torch.equal(before, after)
        for before, after in zip(initial, model.parameters(), strict=True)
    ):
        raise ExerciseFailed(
            f"{what} left every weight unchanged: the optimizer never applied a gradient "
            "(is optimizer.step() called after loss.backward(), with the gradients still there?)"
        )
    if not _same_weights(model, reference) and _same_weights(model, _reference_epoch(False)[0]):
        raise ExerciseFailed(
            f"{what}: the weights after the epoch differ from the reference loop's, and match "
            "a loop that never clears the gradients: each step then follows the sum of all the "
            "gradients so far, because backward() adds into .grad"
        )
    for (name, mine), theirs in zip(model.named_parameters(), reference.parameters(), strict=True):
        assert_close(
            mine, theirs, f"{what}: parameter {name} after the epoch", rtol=1e-5, atol=1e-7
        )

    if isinstance(got, torch.Tensor) and got.numel() == 1:
        got = got.item()
    if isinstance(got, bool) or not isinstance(got, int | float):
        raise ExerciseFailed(
            f"{what} should return the epoch's mean loss as a float, got {type(got).__name__}"
        )
    if math.isclose(got, expected_loss, rel_tol=1e-5):
        passed(
            "train_one_epoch",
            "Training mode, the weights after the epoch and the mean loss per sample all match "
            "the reference loop.",
        )
        return
    batch_mean = sum(batch_losses) / len(batch_losses)
    if math.isclose(got, batch_mean, rel_tol=1e-5):
        raise ExerciseFailed(
            f"{what} returned {got:.6g}, the plain mean of the {len(batch_losses)} batch losses; "
            f"the last batch holds {_EPOCH_SAMPLES % _EPOCH_BATCH} samples, not {_EPOCH_BATCH}, so "
            "the mean loss per sample weights each batch's loss by its size"
        )
    raise ExerciseFailed(
        f"{what}: the weights are right, but the returned loss has the value {got:.6g}, expected "
        f"the mean loss per sample over the epoch, {expected_loss:.6g}"
    )


# --- Early stopping ----------------------------------------------------------------------------


def _early_stopping_reference(val_losses: Sequence[float], patience: int) -> tuple[int, int]:
    """The (best epoch, stop epoch) of the rule, epochs counted from 1."""
    best_epoch, best_loss = 0, math.inf
    for epoch, loss in enumerate(val_losses, start=1):
        if loss < best_loss:
            best_epoch, best_loss = epoch, loss
        elif epoch - best_epoch >= patience:
            return best_epoch, epoch
    return best_epoch, len(val_losses)


_EARLY_STOPPING_CASES = [
    ([1.0, 0.8, 0.6, 0.5, 0.45], 2),  # always improving: never stops early
    ([1.0, 0.7, 0.75, 0.8, 0.72, 0.5, 0.4], 3),  # stops before the later, lower losses
    ([0.9, 0.95, 0.5], 1),  # patience 1: the first epoch without improvement stops it
    ([0.5, 0.5, 0.5, 0.4], 2),  # a tie is not an improvement
    ([0.3], 5),  # a single epoch
    ([0.5, 0.6, 0.7], 5),  # patience longer than the run
    ([2.0, 1.0, 1.5, 0.9, 1.2, 1.3, 0.95, 1.1], 3),  # improves twice, then stops
]


def check_early_stopping(early_stopping: Callable[[list[float], int], tuple[int, int]]) -> None:
    """Check the early-stopping rule: which epoch stops training, and which weights to keep.

    ``early_stopping(val_losses, patience)`` gets the validation loss after each epoch and a
    patience, and must return ``(best_epoch, stop_epoch)``, epochs counted from 1. Training
    stops after the first epoch at which ``patience`` epochs in a row have passed without a
    validation loss strictly lower than the best so far (or after the last epoch, if that never
    happens); ``best_epoch`` is the epoch of the lowest loss up to then (the first one, on a
    tie). Seven histories are tried: one that keeps improving, ties, patience 1, a single epoch,
    a patience longer than the run, and runs whose lowest loss comes after the stop.

    Args:
        early_stopping: The reader's function, ``(list of floats, int) -> (int, int)``.

    Raises:
        ExerciseFailed: If it crashes, is a stub, does not return two integers, or either epoch
            differs (the hint names the history, the patience and which epoch differs).
    """
    for losses, patience in _EARLY_STOPPING_CASES:
        what = f"early_stopping({losses}, patience={patience})"
        got = call(early_stopping, list(losses), patience, what=what)
        if (
            not isinstance(got, tuple | list)
            or len(got) != 2
            or not all(isinstance(epoch, int) and not isinstance(epoch, bool) for epoch in got)
        ):
            raise ExerciseFailed(
                f"{what} should return two ints (best_epoch, stop_epoch), got {got!r}"
            )
        best, stop = got
        expected_best, expected_stop = _early_stopping_reference(losses, patience)
        if stop != expected_stop:
            raise ExerciseFailed(
                f"{what}: stop_epoch is {stop}, expected {expected_stop} (epochs count from 1; "
                "training stops once `patience` epochs in a row bring no loss lower than the "
                "best so far)"
            )
        if best != expected_best:
            hint = ""
            if best > stop:
                hint = (
                    ": that epoch comes after training stopped, and early stopping cannot "
                    "look ahead"
                )
            elif losses[best - 1] == losses[expected_best - 1]:
                hint = ": a tie is not an improvement, the first epoch with the lowest loss is kept"
            raise ExerciseFailed(f"{what}: best_epoch is {best}, expected {expected_best}{hint}")
    passed(
        "early_stopping",
        f"It stops at the right epoch and keeps the right weights on {len(_EARLY_STOPPING_CASES)} "
        "validation histories.",
    )
