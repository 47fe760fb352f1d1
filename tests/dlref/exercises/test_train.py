"""The feedforward page's exercise checks reject stubs and typical wrong answers, with hints."""

import math

import pytest
import torch

from dlref.exercises import (
    ExerciseFailed,
    check_accuracy,
    check_early_stopping,
    check_standardise_split,
    check_train_one_epoch,
)


def _stub(*args): ...


def _raising_stub(*args):
    raise NotImplementedError


CHECKS = [check_accuracy, check_early_stopping, check_standardise_split, check_train_one_epoch]


@pytest.mark.parametrize("check", CHECKS, ids=lambda check: check.__name__)
@pytest.mark.parametrize("stub", [_stub, _raising_stub], ids=["ellipsis", "raises"])
def test_every_check_rejects_a_stub(check, stub):
    with pytest.raises(ExerciseFailed, match="replace the stub with your code"):
        check(stub)


@pytest.mark.parametrize("check", CHECKS, ids=lambda check: check.__name__)
def test_every_check_rejects_something_not_callable(check):
    with pytest.raises(ExerciseFailed, match="something callable"):
        check(42)


# --- standardise_split ---------------------------------------------------------------------------


def _standardise(rows, statistics_from, correction=0):
    mean = statistics_from.mean(dim=0)
    std = statistics_from.std(dim=0, correction=correction)
    return (rows - mean) / torch.where(std == 0, torch.ones_like(std), std)


def test_standardise_split_rejects_test_statistics():
    """The classic leak: each split standardised with its own statistics."""

    def own_statistics(train, test):
        return _standardise(train, train), _standardise(test, test)

    with pytest.raises(ExerciseFailed, match="test rows were standardised with their own mean"):
        check_standardise_split(own_statistics)


def test_standardise_split_rejects_statistics_of_all_rows():
    def all_rows(train, test):
        both = torch.cat([train, test])
        return _standardise(train, both), _standardise(test, both)

    # The training rows come out wrong first: the value differs, at a named index.
    with pytest.raises(ExerciseFailed, match=r"training rows.*at index \(\d+, \d+\): got"):
        check_standardise_split(all_rows)


def test_standardise_split_names_a_leak_confined_to_the_test_rows():
    def all_rows_for_test(train, test):
        return _standardise(train, train), _standardise(test, torch.cat([train, test]))

    with pytest.raises(ExerciseFailed, match="statistics of all the rows, training and test"):
        check_standardise_split(all_rows_for_test)


def test_standardise_split_rejects_the_corrected_std():
    def corrected(train, test):
        return _standardise(train, train, correction=1), _standardise(test, train, correction=1)

    with pytest.raises(ExerciseFailed, match="Bessel's correction"):
        check_standardise_split(corrected)


def test_standardise_split_rejects_a_division_by_a_zero_std():
    """Forgetting the constant feature: 0 / 0 in the training rows."""

    def no_guard(train, test):
        mean, std = train.mean(dim=0), train.std(dim=0, correction=0)
        return (train - mean) / std, (test - mean) / std

    with pytest.raises(ExerciseFailed, match=r"training rows.*entry \(0, 3\) is nan.*division"):
        check_standardise_split(no_guard)


def test_standardise_split_rejects_a_single_tensor():
    with pytest.raises(ExerciseFailed, match="should return a pair"):
        check_standardise_split(lambda train, test: _standardise(train, train))


def test_standardise_split_rejects_a_wrong_shape():
    def transposed(train, test):
        return _standardise(train, train).T, _standardise(test, train)

    with pytest.raises(ExerciseFailed, match=r"shape \(5, 40\), expected \(40, 5\)"):
        check_standardise_split(transposed)


# --- accuracy ----------------------------------------------------------------------------------


def test_accuracy_rejects_a_tensor_result():
    def as_tensor(logits, targets):
        return (logits.argmax(dim=1) == targets).float().mean()

    with pytest.raises(ExerciseFailed, match=r"returned a torch.Tensor\(\); return a Python float"):
        check_accuracy(as_tensor)


def test_accuracy_rejects_the_mean_target_probability():
    """Comparing probabilities instead of the arg-max: the softmax of the target, averaged."""

    def probability(logits, targets):
        return logits.softmax(dim=1)[torch.arange(len(targets)), targets].mean().item()

    with pytest.raises(ExerciseFailed, match="the mean probability the softmax gives the target"):
        check_accuracy(probability)


def test_accuracy_rejects_an_argmax_over_everything():
    """Forgetting dim: argmax of the flattened logits, one index compared with every target."""

    def flat_argmax(logits, targets):
        return (logits.argmax() == targets).float().mean().item()

    with pytest.raises(ExerciseFailed, match=r"1000 rows of 10 classes: got the value [\d.]+, exp"):
        check_accuracy(flat_argmax)


def test_accuracy_rejects_an_argmax_over_the_batch():
    """argmax(dim=0) crashes on most shapes; on the square batch it runs and gives a wrong value."""

    def over_rows(logits, targets):
        if logits.shape[0] != logits.shape[1]:
            return (logits.argmax(dim=1) == targets).float().mean().item()
        return (logits.argmax(dim=0) == targets).float().mean().item()

    with pytest.raises(ExerciseFailed, match=r"6 rows of 6 classes: got the value"):
        check_accuracy(over_rows)
    with pytest.raises(ExerciseFailed, match="raised RuntimeError"):
        check_accuracy(
            lambda logits, targets: (logits.argmax(dim=0) == targets).float().mean().item()
        )


def test_accuracy_rejects_a_count():
    def count(logits, targets):
        return float((logits.argmax(dim=1) == targets).sum())

    with pytest.raises(ExerciseFailed, match=r"outside \[0, 1\].*not their count"):
        check_accuracy(count)


def test_accuracy_rejects_an_overflowing_softmax_by_hand():
    """exp of logits near -50000 underflows to 0: every row a tie at 0/0, arg-max of NaNs."""

    def by_hand(logits, targets):
        exp = logits.exp()
        probabilities = exp / exp.sum(dim=1, keepdim=True)
        return (probabilities.argmax(dim=1) == targets).float().mean().item()

    with pytest.raises(ExerciseFailed, match=r"logits near -50000: got the value"):
        check_accuracy(by_hand)


# --- train_one_epoch -----------------------------------------------------------------------------


def _epoch(model, loader, optimizer, loss_fn, *, train_mode=True, zero_grad=True, weighted=True):
    """The standard loop with one of its steps optionally left out or done wrong."""
    if train_mode:
        model.train()
    total, count, losses = 0.0, 0, []
    for inputs, targets in loader:
        loss = loss_fn(model(inputs), targets)
        if zero_grad:
            optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        total += loss.item() * len(targets)
        count += len(targets)
    return total / count if weighted else sum(losses) / len(losses)


def test_train_one_epoch_rejects_a_loop_without_zero_grad():
    def accumulating(*args):
        return _epoch(*args, zero_grad=False)

    with pytest.raises(ExerciseFailed, match="never clears the gradients"):
        check_train_one_epoch(accumulating)


def test_train_one_epoch_rejects_a_loop_in_eval_mode():
    def eval_mode(*args):
        return _epoch(*args, train_mode=False)

    with pytest.raises(ExerciseFailed, match=r"evaluation mode.*in 4 of its 4 forward passes"):
        check_train_one_epoch(eval_mode)


def test_train_one_epoch_rejects_the_mean_of_batch_means():
    def unweighted(*args):
        return _epoch(*args, weighted=False)

    with pytest.raises(ExerciseFailed, match="plain mean of the 4 batch losses.*holds 2 samples"):
        check_train_one_epoch(unweighted)


def test_train_one_epoch_rejects_a_sum():
    def summed(model, loader, optimizer, loss_fn):
        return _epoch(model, loader, optimizer, loss_fn) * 50

    with pytest.raises(
        ExerciseFailed, match="weights are right, but the returned loss has the value"
    ):
        check_train_one_epoch(summed)


def test_train_one_epoch_rejects_a_loop_that_never_steps():
    def no_step(model, loader, optimizer, loss_fn):
        model.train()
        losses = [loss_fn(model(inputs), targets) for inputs, targets in loader]
        return sum(loss.item() for loss in losses) / len(losses)

    with pytest.raises(ExerciseFailed, match="left every weight unchanged"):
        check_train_one_epoch(no_step)


def test_train_one_epoch_rejects_two_steps_per_batch():
    """A plain mistake in the update: the weights differ, and the hint names a parameter."""

    def double_step(model, loader, optimizer, loss_fn):
        model.train()
        for inputs, targets in loader:
            optimizer.zero_grad()
            loss_fn(model(inputs), targets).backward()
            optimizer.step()
            optimizer.step()
        return 1.0

    with pytest.raises(ExerciseFailed, match=r"parameter 0\.weight after the epoch at index"):
        check_train_one_epoch(double_step)


def test_train_one_epoch_check_leaves_the_global_generator_alone():
    """The whole check runs (up to the loss), without drawing from torch's global generator."""
    state = torch.random.get_rng_state()
    with pytest.raises(ExerciseFailed, match="plain mean"):
        check_train_one_epoch(lambda *args: _epoch(*args, weighted=False))
    assert torch.equal(torch.random.get_rng_state(), state)


# --- early_stopping ------------------------------------------------------------------------------


def _rule(losses, patience, *, start=1, strict=True, extra=0):
    """The early-stopping rule with an optional mistake: counting from 0, <= for <, off by one."""
    best_epoch, best_loss = 0, math.inf
    for index, loss in enumerate(losses):
        epoch = index + 1
        if loss < best_loss or (not strict and loss <= best_loss):
            best_epoch, best_loss = epoch, loss
        elif epoch - best_epoch >= patience + extra:
            return best_epoch - 1 + start, epoch - 1 + start
    return best_epoch - 1 + start, len(losses) - 1 + start


def test_early_stopping_rejects_epochs_counted_from_zero():
    with pytest.raises(ExerciseFailed, match=r"stop_epoch is 4, expected 5 \(epochs count from 1"):
        check_early_stopping(lambda losses, patience: _rule(losses, patience, start=0))


def test_early_stopping_rejects_an_off_by_one_patience():
    with pytest.raises(ExerciseFailed, match=r"patience=3\): stop_epoch is 7, expected 5"):
        check_early_stopping(lambda losses, patience: _rule(losses, patience, extra=1))


def test_early_stopping_rejects_a_tie_counted_as_an_improvement():
    with pytest.raises(ExerciseFailed, match=r"\[0.5, 0.5, 0.5, 0.4\], patience=2\): stop_epoch"):
        check_early_stopping(lambda losses, patience: _rule(losses, patience, strict=False))


def test_early_stopping_rejects_the_best_epoch_of_the_whole_run():
    """Looking ahead: the lowest loss of the whole history, even after training stopped."""

    def look_ahead(losses, patience):
        _, stop = _rule(losses, patience)
        return min(range(len(losses)), key=losses.__getitem__) + 1, stop

    with pytest.raises(ExerciseFailed, match="best_epoch is 7, expected 2: that epoch comes after"):
        check_early_stopping(look_ahead)


def test_early_stopping_rejects_the_last_best_of_a_tie():
    def last_of_tie(losses, patience):
        best, stop = _rule(losses, patience)
        until_stop = losses[:stop]
        lowest = min(until_stop)
        return max(i for i, loss in enumerate(until_stop) if loss == lowest) + 1, stop

    with pytest.raises(ExerciseFailed, match="best_epoch is 3, expected 1: a tie is not"):
        check_early_stopping(last_of_tie)


def test_early_stopping_rejects_something_other_than_two_ints():
    with pytest.raises(ExerciseFailed, match=r"should return two ints.*got 5"):
        check_early_stopping(lambda losses, patience: 5)
    with pytest.raises(ExerciseFailed, match=r"should return two ints.*got \(1.0, 1.0\)"):
        check_early_stopping(lambda losses, patience: (1.0, 1.0))
