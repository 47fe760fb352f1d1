"""The batch normalization page's exercise checks refuse stubs and typical mistakes, with a hint.

The page's own run proves that its solutions pass; here every check meets blank stubs and
plausible wrong answers, and each hint must name what differs.
"""

import pytest
import torch
from torch import nn

from dlref.exercises import (
    ExerciseFailed,
    check_batch_norm,
    check_fold_batch_norm,
    check_running_stats,
)

# --- batch_norm ------------------------------------------------------------------------------


def _affine(x: torch.Tensor, x_hat: torch.Tensor, gamma, beta) -> torch.Tensor:
    per_channel = (1, -1) + (1,) * (x.ndim - 2)
    return gamma.view(per_channel) * x_hat + beta.view(per_channel)


def _reduce_dims(x: torch.Tensor) -> list[int]:
    return [0, *range(2, x.ndim)]


def batch_norm_unbiased(x, gamma, beta, eps=1e-5):
    """Normalizes with x.var()'s default, the unbiased variance."""
    dims = _reduce_dims(x)
    x_hat = (x - x.mean(dims, keepdim=True)) / torch.sqrt(x.var(dims, keepdim=True) + eps)
    return _affine(x, x_hat, gamma, beta)


def batch_norm_over_dim0(x, gamma, beta, eps=1e-5):
    """Averages over the batch only: right for (B, C), wrong for (B, C, L) and images."""
    mean, var = x.mean(0, keepdim=True), x.var(0, correction=0, keepdim=True)
    return _affine(x, (x - mean) / torch.sqrt(var + eps), gamma, beta)


def batch_norm_one_pass(x, gamma, beta, eps=1e-5):
    """E[x^2] - E[x]^2: cancels catastrophically in float32 when the mean is large."""
    dims = _reduce_dims(x)
    mean = x.mean(dims, keepdim=True)
    var = (x * x).mean(dims, keepdim=True) - mean**2
    return _affine(x, (x - mean) / torch.sqrt(var + eps), gamma, beta)


def batch_norm_detached_statistics(x, gamma, beta, eps=1e-5):
    """Right values, but the gradient does not flow through the mean and variance."""
    dims = _reduce_dims(x)
    mean = x.mean(dims, keepdim=True).detach()
    var = x.var(dims, correction=0, keepdim=True).detach()
    return _affine(x, (x - mean) / torch.sqrt(var + eps), gamma, beta)


def batch_norm_without_gradient(x, gamma, beta, eps=1e-5):
    with torch.no_grad():
        dims = _reduce_dims(x)
        mean, var = x.mean(dims, keepdim=True), x.var(dims, correction=0, keepdim=True)
        return _affine(x, (x - mean) / torch.sqrt(var + eps), gamma, beta)


def test_batch_norm_names_the_unbiased_variance():
    with pytest.raises(ExerciseFailed) as failure:
        check_batch_norm(batch_norm_unbiased)
    message = str(failure.value)
    assert message.startswith("value of batch_norm") and "at index" in message
    assert "unbiased variance" in message


def test_batch_norm_must_average_over_positions():
    with pytest.raises(ExerciseFailed) as failure:
        check_batch_norm(batch_norm_over_dim0)
    message = str(failure.value)
    assert message.startswith("value of batch_norm") and "sequences (B, C, L)" in message


def test_batch_norm_refuses_the_cancelling_variance_formula():
    with pytest.raises(ExerciseFailed) as failure:
        check_batch_norm(batch_norm_one_pass)
    message = str(failure.value)
    assert message.startswith("value of batch_norm") and "mean 1000" in message


def test_batch_norm_checks_the_gradient_of_x():
    with pytest.raises(ExerciseFailed) as failure:
        check_batch_norm(batch_norm_detached_statistics)
    message = str(failure.value)
    assert message.startswith("gradient of x for batch_norm") and "at index" in message


def test_batch_norm_output_must_require_grad():
    with pytest.raises(ExerciseFailed, match="gradient: the output .* does not require grad"):
        check_batch_norm(batch_norm_without_gradient)


def test_batch_norm_refuses_the_wrong_shape():
    with pytest.raises(ExerciseFailed, match=r"shape \(32, 1\), expected \(32, 6\)"):
        check_batch_norm(lambda x, gamma, beta, eps: x.mean(dim=1, keepdim=True))


# --- running_stats ---------------------------------------------------------------------------


def _replay(batches, momentum, correction, new_batch_weight=True):
    running_mean = torch.zeros(batches[0].shape[1], dtype=batches[0].dtype)
    running_var = torch.ones_like(running_mean)
    for t, batch in enumerate(batches, start=1):
        m = 1 / t if momentum is None else momentum
        m = m if new_batch_weight else 1 - m
        running_mean = (1 - m) * running_mean + m * batch.mean(dim=0)
        running_var = (1 - m) * running_var + m * batch.var(dim=0, correction=correction)
    return running_mean, running_var


def running_stats_biased(batches, momentum=0.1):
    return _replay(batches, momentum, correction=0)


def running_stats_keras_momentum(batches, momentum=0.1):
    return _replay(batches, momentum, correction=1, new_batch_weight=False)


def running_stats_without_cumulative(batches, momentum=0.1):
    """Treats momentum=None as PyTorch's default 0.1."""
    return _replay(batches, 0.1 if momentum is None else momentum, correction=1)


def running_stats_from_zero_variance(batches, momentum=0.1):
    """Starts the running variance at 0 instead of 1."""
    mean, var = _replay(batches, momentum, correction=1)
    steps = len(batches)
    return mean, var - (1 - momentum) ** steps if momentum is not None else var


def test_running_stats_names_the_biased_variance():
    with pytest.raises(ExerciseFailed) as failure:
        check_running_stats(running_stats_biased)
    message = str(failure.value)
    assert message.startswith("running_var after running_stats(batches, momentum=0.1)")
    assert "biased batch variance" in message and "B - 1" in message


def test_running_stats_names_the_keras_convention():
    with pytest.raises(ExerciseFailed) as failure:
        check_running_stats(running_stats_keras_momentum)
    message = str(failure.value)
    assert message.startswith("running_mean after running_stats(batches, momentum=0.1)")
    assert "weight of the new batch" in message


def test_running_stats_momentum_none_is_a_cumulative_average():
    with pytest.raises(ExerciseFailed) as failure:
        check_running_stats(running_stats_without_cumulative)
    message = str(failure.value)
    assert "momentum=None" in message and "at index" in message and "m = 1/t" in message


def test_running_stats_start_at_one():
    with pytest.raises(ExerciseFailed, match=r"^running_var after .* at index"):
        check_running_stats(running_stats_from_zero_variance)


def test_running_stats_must_return_a_pair():
    with pytest.raises(ExerciseFailed, match=r"return the pair \(running_mean, running_var\)"):
        check_running_stats(lambda batches, momentum: torch.zeros(4))


# --- fold_batch_norm -------------------------------------------------------------------------


def _fold(linear, bn, *, eps=True, mean=True, in_place=False):
    with torch.no_grad():
        scale = bn.weight / torch.sqrt(bn.running_var + (bn.eps if eps else 0.0))
        bias = linear.bias if linear.bias is not None else torch.zeros_like(bn.running_mean)
        shift = bn.running_mean if mean else 0.0
        folded = linear if in_place else nn.Linear(12, 8, dtype=linear.weight.dtype)
        new_weight, new_bias = linear.weight * scale[:, None], (bias - shift) * scale + bn.bias
        folded.weight.copy_(new_weight)
        if folded.bias is None:
            folded.bias = nn.Parameter(new_bias)
        else:
            folded.bias.copy_(new_bias)
    return folded


def fold_without_eps(linear, bn):
    return _fold(linear, bn, eps=False)


def fold_without_running_mean(linear, bn):
    return _fold(linear, bn, mean=False)


def fold_into_linear_itself(linear, bn):
    return _fold(linear, bn, in_place=True)


def fold_in_place_then_copy(linear, bn):
    """``weight = linear.weight`` is not a copy: ``*=`` rescales linear's own weight."""
    folded = nn.Linear(12, 8, dtype=linear.weight.dtype)
    with torch.no_grad():
        scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
        weight = linear.weight
        weight *= scale[:, None]
        folded.weight.copy_(weight)
        folded.bias.copy_((linear.bias - bn.running_mean) * scale + bn.bias)
    return folded


def fold_columns_instead_of_rows(linear, bn):
    """Scales the weight's columns (inputs) instead of its rows (outputs)."""
    folded = _fold(linear, bn)
    with torch.no_grad():
        scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
        folded.weight.copy_(linear.weight * scale.repeat(2)[None, :12])
    return folded


def fold_without_bias(linear, bn):
    """Keeps the bias setting of linear: no bias when linear has none."""
    folded = nn.Linear(12, 8, bias=linear.bias is not None, dtype=linear.weight.dtype)
    with torch.no_grad():
        scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
        folded.weight.copy_(linear.weight * scale[:, None])
        if linear.bias is not None:
            folded.bias.copy_((linear.bias - bn.running_mean) * scale + bn.bias)
    return folded


def test_fold_batch_norm_with_a_large_eps_shows_a_missing_eps():
    with pytest.raises(ExerciseFailed) as failure:
        check_fold_batch_norm(fold_without_eps)
    message = str(failure.value)
    assert message.startswith("output of the folded layer") and "at index" in message


@pytest.mark.parametrize("answer", [fold_without_running_mean, fold_columns_instead_of_rows])
def test_fold_batch_norm_compares_the_output(answer):
    with pytest.raises(ExerciseFailed, match=r"^output of the folded layer, a Linear.* at index"):
        check_fold_batch_norm(answer)


def test_fold_batch_norm_must_not_change_linear():
    with pytest.raises(ExerciseFailed, match=r"changed Linear.weight in place"):
        check_fold_batch_norm(fold_in_place_then_copy)


def test_fold_batch_norm_must_return_a_new_layer():
    with pytest.raises(ExerciseFailed, match="returned linear itself: build and return a new"):
        check_fold_batch_norm(fold_into_linear_itself)


def test_fold_batch_norm_needs_a_bias_when_linear_has_none():
    with pytest.raises(ExerciseFailed, match="has no bias, but bn's shift must go somewhere"):
        check_fold_batch_norm(fold_without_bias)


def test_fold_batch_norm_must_return_a_linear():
    with pytest.raises(ExerciseFailed, match="return an nn.Linear"):
        check_fold_batch_norm(lambda linear, bn: nn.Sequential(linear, bn))
