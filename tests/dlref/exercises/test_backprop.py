"""The backprop page's exercise checks refuse stubs and typical mistakes, with a useful hint.

The page's own run proves that its solutions pass; here every check meets blank stubs and
plausible wrong answers, and each hint must name what differs.
"""

import math

import pytest
import torch

from dlref.autograd import Value
from dlref.exercises import (
    ExerciseFailed,
    check_linear_backward,
    check_numerical_gradient,
    check_value_sigmoid,
)

# --- sigmoid for Value -------------------------------------------------------------------------


def stable_sigmoid(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    return math.exp(x) / (1.0 + math.exp(x))


def sigmoid_that_overwrites(v: Value) -> Value:
    """Uses ``=`` in its backward: a node used twice keeps only the last path's gradient."""
    s = stable_sigmoid(v.data)
    out = Value(s, (v,), "sigmoid")

    def _backward() -> None:
        v.grad = s * (1.0 - s) * out.grad

    out._backward = _backward
    return out


def sigmoid_without_chain(v: Value) -> Value:
    """Forgets to multiply by ``out.grad``: right only when the sigmoid is the final node."""
    s = stable_sigmoid(v.data)
    out = Value(s, (v,), "sigmoid")

    def _backward() -> None:
        v.grad += s * (1.0 - s)

    out._backward = _backward
    return out


def sigmoid_naive_formula(v: Value) -> Value:
    """``1 / (1 + exp(-v))``: math.exp overflows at v = -1000."""
    s = 1.0 / (1.0 + math.exp(-v.data))
    out = Value(s, (v,), "sigmoid")

    def _backward() -> None:
        v.grad += s * (1.0 - s) * out.grad

    out._backward = _backward
    return out


def sigmoid_with_wrong_derivative(v: Value) -> Value:
    """Uses sigma(v) instead of sigma(v)(1 - sigma(v)) as the local derivative."""
    s = stable_sigmoid(v.data)
    out = Value(s, (v,), "sigmoid")

    def _backward() -> None:
        v.grad += s * out.grad

    out._backward = _backward
    return out


def sigmoid_without_children(v: Value) -> Value:
    """Right value, but the output does not record its input, so backward cannot reach it."""
    return Value(stable_sigmoid(v.data))


def sigmoid_returning_float(v: Value) -> float:
    return stable_sigmoid(v.data)


def sigmoid_of_wrong_value(v: Value) -> Value:
    """tanh instead of the logistic function."""
    return v.tanh()


def test_sigmoid_that_overwrites_is_told_about_the_node_used_twice():
    with pytest.raises(ExerciseFailed, match=r"gradient: .*feeds two operations.*both paths"):
        check_value_sigmoid(sigmoid_that_overwrites)


def test_sigmoid_without_the_chain_rule_is_told_its_gradient_downstream_differs():
    with pytest.raises(ExerciseFailed, match=r"gradient: for L = 3 sigmoid\(v\).*not 1"):
        check_value_sigmoid(sigmoid_without_chain)


def test_sigmoid_with_the_naive_formula_is_told_it_overflows_at_large_inputs():
    with pytest.raises(ExerciseFailed, match=r"sigmoid\(Value\(-1000\)\) raised OverflowError"):
        check_value_sigmoid(sigmoid_naive_formula)


def test_sigmoid_with_a_wrong_local_derivative_is_told_the_gradient_differs():
    with pytest.raises(ExerciseFailed, match=r"gradient: for L = sigmoid\(v\) at v = 0.*expected"):
        check_value_sigmoid(sigmoid_with_wrong_derivative)


def test_sigmoid_without_children_is_told_backward_cannot_reach_the_input():
    with pytest.raises(ExerciseFailed, match="does not list its input among its children"):
        check_value_sigmoid(sigmoid_without_children)


def test_sigmoid_returning_a_float_is_told_to_return_a_value():
    with pytest.raises(ExerciseFailed, match="returned a float: it must return a new Value"):
        check_value_sigmoid(sigmoid_returning_float)


def test_sigmoid_of_the_wrong_function_is_told_its_value_differs():
    with pytest.raises(
        ExerciseFailed, match=r"value: sigmoid\(Value\(0\)\)\.data is 0.0, expected 0.5"
    ):
        check_value_sigmoid(sigmoid_of_wrong_value)


def test_sigmoid_check_does_not_touch_the_global_random_state():
    def right_sigmoid(v: Value) -> Value:
        s = stable_sigmoid(v.data)
        out = Value(s, (v,), "sigmoid")

        def _backward() -> None:
            v.grad += s * (1.0 - s) * out.grad

        out._backward = _backward
        return out

    state = torch.get_rng_state()
    check_value_sigmoid(right_sigmoid)
    assert torch.equal(state, torch.get_rng_state())


# --- linear_backward ---------------------------------------------------------------------------


def test_linear_backward_with_dw_transposed_is_told_the_shape_of_w():
    def transposed_dw(x, weight, delta):
        return x.T @ delta, delta.sum(dim=0), delta @ weight  # dW is (n_in, n_out)

    with pytest.raises(ExerciseFailed, match=r"dW has shape \(3, 5\).*expected \(5, 3\).*of W"):
        check_linear_backward(transposed_dw)


def test_linear_backward_with_dx_through_w_transposed_is_told_the_shape_of_x():
    def dx_through_transpose(x, weight, delta):
        return delta.T @ x, delta.sum(dim=0), delta @ weight.T  # fails to multiply for 5 != 3

    with pytest.raises(ExerciseFailed, match=r"calling linear_backward raised RuntimeError"):
        check_linear_backward(dx_through_transpose)


def test_linear_backward_transposed_on_square_shapes_is_told_the_values_differ():
    def transposed_where_square(x, weight, delta):
        dw = delta.T @ x  # (n_out, n_in)
        if dw.shape[0] == dw.shape[1]:
            dw = dw.T  # the transpose only shows in the values
        return dw, delta.sum(dim=0), delta @ weight

    with pytest.raises(ExerciseFailed, match=r"dW for B=3, n_in=3, n_out=3 at index \(\d, \d\)"):
        check_linear_backward(transposed_where_square)


def test_linear_backward_averaging_the_bias_gradient_is_told_db_differs():
    def mean_db(x, weight, delta):
        return delta.T @ x, delta.mean(dim=0), delta @ weight

    with pytest.raises(ExerciseFailed, match=r"db for B=4, n_in=3, n_out=5 at index \(\d,\)"):
        check_linear_backward(mean_db)


def test_linear_backward_summing_db_over_the_wrong_axis_is_told_its_shape():
    def db_over_features(x, weight, delta):
        return delta.T @ x, delta.sum(dim=1), delta @ weight  # (B,) instead of (n_out,)

    with pytest.raises(ExerciseFailed, match=r"db has shape \(4,\).*expected \(5,\).*of b"):
        check_linear_backward(db_over_features)


def test_linear_backward_returning_two_things_is_told_to_return_three():
    def only_two(x, weight, delta):
        return delta.T @ x, delta.sum(dim=0)

    with pytest.raises(ExerciseFailed, match=r"must return three tensors.*of length 2"):
        check_linear_backward(only_two)


# --- numerical_gradient ------------------------------------------------------------------------


def test_one_sided_differences_are_told_the_gradient_differs():
    def forward_difference(f, x, step):
        grad = torch.zeros_like(x)
        base = f(x).item()
        for i in range(x.numel()):
            shifted = x.clone()
            shifted.view(-1)[i] += step
            grad.view(-1)[i] = (f(shifted).item() - base) / step
        return grad

    with pytest.raises(
        ExerciseFailed, match=r"step=0\.001\) for f\(x\) = sum\(x sin x\).*at index"
    ):
        check_numerical_gradient(forward_difference)


def test_central_differences_without_the_half_are_told_the_gradient_differs():
    def missing_half(f, x, step):
        grad = torch.zeros_like(x)
        for i in range(x.numel()):
            plus, minus = x.clone(), x.clone()
            plus.view(-1)[i] += step
            minus.view(-1)[i] -= step
            grad.view(-1)[i] = (f(plus) - f(minus)).item() / step
        return grad

    with pytest.raises(ExerciseFailed, match=r"at index \(\d,\): got .*, expected"):
        check_numerical_gradient(missing_half)


def test_a_flattened_gradient_is_told_its_shape():
    def flattened(f, x, step):
        flat = x.flatten()
        grad = torch.zeros_like(flat)
        for i in range(flat.numel()):
            plus, minus = flat.clone(), flat.clone()
            plus[i] += step
            minus[i] -= step
            grad[i] = (f(plus.view_as(x)) - f(minus.view_as(x))).item() / (2 * step)
        return grad  # (N,) instead of x's shape

    with pytest.raises(ExerciseFailed, match=r"shape \(6,\), expected \(2, 3\)"):
        check_numerical_gradient(flattened)


def test_a_float32_gradient_is_told_its_dtype():
    def in_float32(f, x, step):
        grad = torch.zeros(x.shape)  # float32 by default
        for i in range(x.numel()):
            plus, minus = x.clone(), x.clone()
            plus.view(-1)[i] += step
            minus.view(-1)[i] -= step
            grad.view(-1)[i] = (f(plus) - f(minus)).item() / (2 * step)
        return grad

    with pytest.raises(ExerciseFailed, match=r"returned torch.float32, expected x's dtype"):
        check_numerical_gradient(in_float32)


def test_perturbing_x_in_place_without_restoring_it_is_told_x_changed():
    def leaves_x_perturbed(f, x, step):
        grad = torch.zeros_like(x)
        for i in range(x.numel()):
            x.view(-1)[i] += step
            plus = f(x).item()
            x.view(-1)[i] -= 2 * step
            minus = f(x).item()  # x is left shifted by -step
            grad.view(-1)[i] = (plus - minus) / (2 * step)
        return grad

    with pytest.raises(ExerciseFailed, match="changed x"):
        check_numerical_gradient(leaves_x_perturbed)
