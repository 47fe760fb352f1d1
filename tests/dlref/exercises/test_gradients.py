"""The gradients page's exercise checks refuse stubs and typical mistakes, with a useful hint.

The page's own run proves that its solutions pass; here every check meets blank stubs and
plausible wrong answers, and each hint must name what differs.
"""

import math

import pytest
import torch
from torch import nn

from dlref.exercises import (
    ExerciseFailed,
    check_clip_grad_norm,
    check_init_std,
    check_unit_variance_init,
)

# --- init_std --------------------------------------------------------------------------------


def kaiming_gain_twice(fan_in: int, fan_out: int, nonlinearity: str) -> float:
    """Multiplies Kaiming's sqrt(2 / fan_in) by the ReLU gain again: the gain counted twice."""
    gain = nn.init.calculate_gain(nonlinearity)
    if nonlinearity == "relu":
        return gain * math.sqrt(2 / fan_in)
    return gain * math.sqrt(2 / (fan_in + fan_out))


def xavier_without_gain(fan_in: int, fan_out: int, nonlinearity: str) -> float:
    """Right for ReLU, sigmoid and linear, but forgets tanh's gain of 5/3."""
    if nonlinearity == "relu":
        return math.sqrt(2 / fan_in)
    return math.sqrt(2 / (fan_in + fan_out))


def kaiming_with_fan_out(fan_in: int, fan_out: int, nonlinearity: str) -> float:
    """Uses fan_out for Kaiming, which is torch's mode="fan_out", not the default."""
    gain = nn.init.calculate_gain(nonlinearity)
    if nonlinearity == "relu":
        return gain / math.sqrt(fan_out)
    return gain * math.sqrt(2 / (fan_in + fan_out))


def variance_instead_of_std(fan_in: int, fan_out: int, nonlinearity: str) -> float:
    gain = nn.init.calculate_gain(nonlinearity)
    if nonlinearity == "relu":
        return gain**2 / fan_in
    return gain**2 * 2 / (fan_in + fan_out)


def test_init_std_names_the_gain_counted_twice():
    with pytest.raises(ExerciseFailed) as failure:
        check_init_std(kaiming_gain_twice)
    message = str(failure.value)
    assert "init_std(128, 256, 'relu')" in message and "kaiming_normal_" in message
    assert "1.414 times torch's" in message  # sqrt(2): the gain applied a second time


def test_init_std_names_the_missing_tanh_gain():
    with pytest.raises(ExerciseFailed) as failure:
        check_init_std(xavier_without_gain)
    message = str(failure.value)
    assert "'tanh'" in message and "xavier_normal_" in message
    assert "0.6 times torch's" in message  # 1 / (5/3)


@pytest.mark.parametrize("answer", [kaiming_with_fan_out, variance_instead_of_std])
def test_init_std_refuses_other_formulas(answer):
    with pytest.raises(ExerciseFailed, match=r"value: init_std\(.*\) returned .* std"):
        check_init_std(answer)


def test_init_std_refuses_a_non_number():
    with pytest.raises(ExerciseFailed, match="expected one number"):
        check_init_std(lambda fan_in, fan_out, nonlinearity: [0.1])


# --- clip_grad_norm --------------------------------------------------------------------------


def _total_norm(grads: list[torch.Tensor], norm_type: float) -> torch.Tensor:
    if norm_type == math.inf:
        return torch.stack([g.abs().max() for g in grads]).max()
    return sum(g.abs().pow(norm_type).sum() for g in grads) ** (1 / norm_type)


def clip_each_parameter(parameters, max_norm, norm_type=2.0):
    """Clips every parameter's gradient to max_norm on its own: changes the direction."""
    grads = [p.grad for p in parameters if p.grad is not None]
    total = _total_norm(grads, norm_type)
    for g in grads:
        g.mul_(torch.clamp(max_norm / (_total_norm([g], norm_type) + 1e-6), max=1.0))
    return total


def always_rescale(parameters, max_norm, norm_type=2.0):
    """Scales to max_norm even when the norm is already below it."""
    grads = [p.grad for p in parameters if p.grad is not None]
    total = _total_norm(grads, norm_type)
    for g in grads:
        g.mul_(max_norm / (total + 1e-6))
    return total


def ignores_norm_type(parameters, max_norm, norm_type=2.0):
    """Always the 2-norm."""
    grads = [p.grad for p in parameters if p.grad is not None]
    total = _total_norm(grads, 2.0)
    for g in grads:
        g.mul_(torch.clamp(max_norm / (total + 1e-6), max=1.0))
    return total


def returns_norm_after_clipping(parameters, max_norm, norm_type=2.0):
    grads = [p.grad for p in parameters if p.grad is not None]
    total = _total_norm(grads, norm_type)
    for g in grads:
        g.mul_(torch.clamp(max_norm / (total + 1e-6), max=1.0))
    return _total_norm(grads, norm_type)


def divides_by_zero(parameters, max_norm, norm_type=2.0):
    """g / (norm / max_norm) when clipping: 0 / 0 for all-zero gradients."""
    grads = [p.grad for p in parameters if p.grad is not None]
    total = _total_norm(grads, norm_type)
    for g in grads:
        g.div_(torch.clamp(total / max_norm, min=1.0) if total > 0 else total / max_norm)
    return total


def fills_missing_grads(parameters, max_norm, norm_type=2.0):
    """Gives a gradient of zeros to the parameter without one."""
    for p in parameters:
        if p.grad is None:
            p.grad = torch.zeros_like(p)
    return _clip(parameters, max_norm, norm_type)


def _clip(parameters, max_norm, norm_type=2.0):
    grads = [p.grad for p in parameters if p.grad is not None]
    total = _total_norm(grads, norm_type)
    for g in grads:
        g.mul_(torch.clamp(max_norm / (total + 1e-6), max=1.0))
    return total


def test_clip_grad_norm_per_parameter_clipping_fails_on_the_gradient():
    with pytest.raises(ExerciseFailed) as failure:
        check_clip_grad_norm(clip_each_parameter)
    message = str(failure.value)
    assert message.startswith("gradient of parameter 0 after clipping")
    assert "above max_norm" in message and "at index" in message


def test_clip_grad_norm_must_leave_small_gradients_alone():
    with pytest.raises(ExerciseFailed) as failure:
        check_clip_grad_norm(always_rescale)
    message = str(failure.value)
    assert "gradient of parameter" in message and "below max_norm (nothing to clip)" in message


def test_clip_grad_norm_must_use_norm_type():
    with pytest.raises(ExerciseFailed, match=r"returned total norm .* with norm_type=1: got"):
        check_clip_grad_norm(ignores_norm_type)


def test_clip_grad_norm_returns_the_norm_before_clipping():
    with pytest.raises(ExerciseFailed, match=r"the returned total norm \(before clipping\)"):
        check_clip_grad_norm(returns_norm_after_clipping)


def test_clip_grad_norm_zero_gradients_must_stay_finite():
    with pytest.raises(ExerciseFailed) as failure:
        check_clip_grad_norm(divides_by_zero)
    message = str(failure.value)
    assert "all-zero gradients" in message and "nan" in message


def test_clip_grad_norm_skips_parameters_without_grad():
    with pytest.raises(ExerciseFailed, match="skip parameters whose .grad is None"):
        check_clip_grad_norm(fills_missing_grads)


# --- unit_variance_init ----------------------------------------------------------------------


@torch.no_grad()
def rescale_all_from_one_pass(model, x):
    """Measures every layer on the original network, then rescales them all at once."""
    stds, h = [], x
    for layer in model:
        if isinstance(layer, nn.Linear):
            stds.append(layer(h).std())
        h = layer(h)
    linears = [layer for layer in model if isinstance(layer, nn.Linear)]
    for layer, std in zip(linears, stds, strict=True):
        layer.weight.div_(std)
    return model


@torch.no_grad()
def divide_by_variance(model, x):
    for layer in model:
        if isinstance(layer, nn.Linear):
            layer.weight.div_(layer(x).var())
        x = layer(x)
    return model


@torch.no_grad()
def redraw_then_rescale(model, x):
    """Replaces the weights by fresh N(0, 1) draws before rescaling."""
    generator = torch.Generator().manual_seed(1)
    for layer in model:
        if isinstance(layer, nn.Linear):
            layer.weight.normal_(0.0, 1.0, generator=generator)
            layer.weight.div_(layer(x).std())
        x = layer(x)
    return model


@torch.no_grad()
def rescale_by_negative_std(model, x):
    """Right std, wrong sign: flips each weight."""
    for layer in model:
        if isinstance(layer, nn.Linear):
            layer.weight.div_(-layer(x).std())
        x = layer(x)
    return model


@torch.no_grad()
def rescales_bias_too(model, x):
    for layer in model:
        if isinstance(layer, nn.Linear):
            layer.bias.add_(0.1)
            layer.weight.div_((layer(x) - layer.bias).std())
        x = layer(x)
    return model


def test_unit_variance_init_must_rescale_layer_by_layer():
    with pytest.raises(ExerciseFailed) as failure:
        check_unit_variance_init(rescale_all_from_one_pass)
    message = str(failure.value)
    assert "the output of Linear layer 2 (of 21)" in message and "expected 1" in message


def test_unit_variance_init_std_not_variance():
    with pytest.raises(ExerciseFailed, match=r"Linear layer 1 \(of 21\) has std .* expected 1"):
        check_unit_variance_init(divide_by_variance)


@pytest.mark.parametrize("answer", [redraw_then_rescale, rescale_by_negative_std])
def test_unit_variance_init_must_only_rescale(answer):
    with pytest.raises(ExerciseFailed, match="not its initial weight times one positive number"):
        check_unit_variance_init(answer)


def test_unit_variance_init_must_leave_biases():
    with pytest.raises(ExerciseFailed, match="changed the bias of Linear layer 1"):
        check_unit_variance_init(rescales_bias_too)


def test_unit_variance_init_must_return_the_model():
    with pytest.raises(ExerciseFailed, match="return the model you rescaled"):
        check_unit_variance_init(lambda model, x: 1.0)
