"""Checks for the exercises of the backprop page.

Explained on the page [Backpropagation](../foundations/backpropagation.md#exercises).

Each check builds its reference with ``torch.autograd`` in float64, inside the check, and compares
the reader's answer with it: values first, then gradients, on ordinary inputs and on edge cases.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from dlref.autograd import Value
from dlref.exercises.checking import ExerciseFailed, assert_close, call, passed

__all__ = ["check_linear_backward", "check_numerical_gradient", "check_value_sigmoid"]

_VALUE_TOL = 1e-9


def _value_close(got: float, expected: float) -> bool:
    """Whether two floats agree to ``_VALUE_TOL`` (relative and absolute)."""
    return math.isclose(got, expected, rel_tol=_VALUE_TOL, abs_tol=_VALUE_TOL)


def _apply_sigmoid(sigmoid: Callable[[Value], Value], v: Value) -> Value:
    """Call the reader's ``sigmoid`` on ``v`` and check the forward result against PyTorch."""
    data_before = v.data
    out = call(sigmoid, v, what=f"sigmoid(Value({v.data:g}))")
    if not isinstance(out, Value):
        raise ExerciseFailed(
            f"sigmoid(Value({data_before:g})) returned a {type(out).__name__}: it must return a "
            "new Value, so that the graph records the operation"
        )
    if out is v or v.data != data_before:
        raise ExerciseFailed(
            f"sigmoid(Value({data_before:g})) changed its input: leave v as it is and return a "
            "new Value"
        )
    expected = torch.sigmoid(torch.tensor(v.data, dtype=torch.float64)).item()
    if not _value_close(out.data, expected):
        raise ExerciseFailed(
            f"value: sigmoid(Value({v.data:g})).data is {out.data!r}, expected {expected:.12g}"
        )
    if v not in out._prev:
        raise ExerciseFailed(
            f"the Value that sigmoid(Value({v.data:g})) returns does not list its input among "
            "its children, so backward() never reaches the input"
        )
    return out


def _compare_leaf_gradients(
    leaves: list[Value], leaf_tensors: list[torch.Tensor], case: str
) -> None:
    """Fail with a hint unless every leaf's ``grad`` equals the tensor leaf's ``.grad``."""
    for index, (leaf, tensor) in enumerate(zip(leaves, leaf_tensors, strict=True)):
        expected = 0.0 if tensor.grad is None else tensor.grad.item()
        if not math.isfinite(leaf.grad):
            raise ExerciseFailed(
                f"gradient: {case}, leaf {index} (data {leaf.data:g}) has grad {leaf.grad}, "
                f"expected the finite {expected:.12g} (an overflow?)"
            )
        if not _value_close(leaf.grad, expected):
            raise ExerciseFailed(
                f"gradient: {case}, leaf {index} (data {leaf.data:g}) has grad {leaf.grad:.12g}, "
                f"expected {expected:.12g} (torch.autograd)"
            )


def _random_sigmoid_graph(
    sigmoid: Callable[[Value], Value], generator: torch.Generator, steps: int = 14
) -> None:
    """Build one random graph of +, *, tanh and the reader's sigmoid twice (Values and tensors).

    Operands are drawn from every node made so far, so nodes feed several operations. The
    choices depend only on the reference tensors, never on the reader's values.
    """
    start = (torch.rand(4, generator=generator, dtype=torch.float64) * 8 - 4).tolist()
    leaves = [Value(x) for x in start]
    leaf_tensors = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in start]
    values: list[Value] = list(leaves)
    tensors: list[torch.Tensor] = list(leaf_tensors)
    for _ in range(steps):
        op = int(torch.randint(4, (1,), generator=generator))
        i, j = torch.randint(len(values), (2,), generator=generator).tolist()
        if op == 0:
            value, tensor = values[i] + values[j], tensors[i] + tensors[j]
        elif op == 1 and abs((tensors[i] * tensors[j]).item()) < 50:
            value, tensor = values[i] * values[j], tensors[i] * tensors[j]
        elif op == 2:
            value, tensor = values[i].tanh(), tensors[i].tanh()
        else:
            value, tensor = _apply_sigmoid(sigmoid, values[i]), torch.sigmoid(tensors[i])
        values.append(value)
        tensors.append(tensor)
    output = values[-1] + values[-2] * values[-3]
    output_tensor = tensors[-1] + tensors[-2] * tensors[-3]
    output.backward()
    output_tensor.backward()
    _compare_leaf_gradients(leaves, leaf_tensors, "in a random graph of +, *, tanh and sigmoid")


def check_value_sigmoid(sigmoid: Callable[[Value], Value]) -> None:
    r"""Check a ``sigmoid(v)`` for `dlref.autograd.Value`: its value and its ``_backward``.

    The answer must return a new Value holding $\sigma(v) = 1/(1 + e^{-v})$ whose ``_backward``
    passes $\sigma'(v)\,\partial \mathcal{L}/\partial \sigma$ to ``v``. It is compared with
    ``torch.sigmoid`` and ``torch.autograd`` in float64: alone, at $v = 0$ and at large $|v|$
    (where $e^{-v}$ overflows), downstream of another operation, on a node used twice, and in
    random graphs with shared nodes.

    Args:
        sigmoid: The reader's function, ``sigmoid(v: Value) -> Value``.

    Raises:
        ExerciseFailed: If a value or a gradient differs from PyTorch's, or the answer crashes,
            is still a stub, or does not return a new Value.
    """
    for x in (0.0, 0.7, -2.5, 30.0, -30.0, 1000.0, -1000.0):
        v = Value(x)
        out = _apply_sigmoid(sigmoid, v)
        out.backward()
        tensor = torch.tensor(x, dtype=torch.float64, requires_grad=True)
        torch.sigmoid(tensor).backward()
        _compare_leaf_gradients([v], [tensor], f"for L = sigmoid(v) at v = {x:g}")

    # Downstream of the sigmoid, its output's gradient is not 1.
    v = Value(0.8)
    (_apply_sigmoid(sigmoid, v) * 3.0).backward()
    tensor = torch.tensor(0.8, dtype=torch.float64, requires_grad=True)
    (torch.sigmoid(tensor) * 3.0).backward()
    _compare_leaf_gradients(
        [v], [tensor], "for L = 3 sigmoid(v), where dL/dsigmoid is 3, not 1, at v = 0.8"
    )

    # v feeds two operations: its gradient is the sum over both paths.
    for build in (
        lambda s, a: s(a) + a,
        lambda s, a: s(a) * s(a * 2.0),
        lambda s, a: s(s(a) + a),
    ):
        v = Value(-0.6)
        build(lambda a: _apply_sigmoid(sigmoid, a), v).backward()
        tensor = torch.tensor(-0.6, dtype=torch.float64, requires_grad=True)
        build(torch.sigmoid, tensor).backward()
        _compare_leaf_gradients(
            [v],
            [tensor],
            "for a v that feeds two operations (its gradient must collect both paths)",
        )

    generator = torch.Generator().manual_seed(7)
    for _ in range(20):
        _random_sigmoid_graph(sigmoid, generator)
    passed(
        "sigmoid for Value",
        "Its values and gradients match torch.autograd at 0 and |v| = 1000, on shared nodes "
        "and in 20 random graphs.",
    )


def _linear_reference(
    x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, delta: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(dW, db, dx)`` for ``z = x W^T + b`` and ``dL/dz = delta``, by torch.autograd."""
    x = x.clone().requires_grad_(True)
    weight = weight.clone().requires_grad_(True)
    bias = bias.clone().requires_grad_(True)
    z = x @ weight.T + bias  # (B, n_out)
    z.backward(delta)
    return weight.grad, bias.grad, x.grad


def check_linear_backward(
    linear_backward: Callable[
        [torch.Tensor, torch.Tensor, torch.Tensor],
        tuple[torch.Tensor, torch.Tensor, torch.Tensor],
    ],
) -> None:
    r"""Check ``linear_backward(x, W, delta) -> (dW, db, dx)`` for $z = x W^\top + b$.

    ``x`` is ``(B, n_in)``, ``W`` is ``(n_out, n_in)`` like ``nn.Linear.weight`` and
    ``delta`` $= \partial \mathcal{L}/\partial z$ is ``(B, n_out)``. The answer's gradients are
    compared with ``torch.autograd``'s in float64, on shapes whose sizes all differ (so that a
    transpose shows in the shape), on square ones (so that it shows in the values), with a
    batch of one and with zeros in ``delta``.

    Args:
        linear_backward: The reader's function.

    Raises:
        ExerciseFailed: If it does not return three tensors, or one of them has the wrong shape
            or values, or it crashes or is still a stub.
    """
    generator = torch.Generator().manual_seed(3)
    meanings = {
        "dW": "the shape of W, (n_out, n_in)",
        "db": "the shape of b, (n_out,)",
        "dx": "the shape of x, (B, n_in)",
    }
    for batch, n_in, n_out in ((4, 3, 5), (3, 3, 3), (1, 6, 2), (7, 2, 1)):
        x = torch.randn(batch, n_in, dtype=torch.float64, generator=generator)  # (B, n_in)
        weight = torch.randn(n_out, n_in, dtype=torch.float64, generator=generator)
        bias = torch.randn(n_out, dtype=torch.float64, generator=generator)  # (n_out,)
        delta = torch.randn(batch, n_out, dtype=torch.float64, generator=generator)
        delta[0, 0] = 0.0  # (B, n_out), with a zero
        expected = _linear_reference(x, weight, bias, delta)
        shapes = f"B={batch}, n_in={n_in}, n_out={n_out}"
        result = call(
            linear_backward, x.clone(), weight.clone(), delta.clone(), what="linear_backward"
        )
        if not isinstance(result, tuple | list) or len(result) != 3:
            raise ExerciseFailed(
                f"linear_backward must return three tensors (dW, db, dx), got "
                f"{type(result).__name__}"
                + (f" of length {len(result)}" if isinstance(result, tuple | list) else "")
            )
        for name, got, reference in zip(meanings, result, expected, strict=True):
            if isinstance(got, torch.Tensor) and tuple(got.shape) != tuple(reference.shape):
                raise ExerciseFailed(
                    f"{name} has shape {tuple(got.shape)} for {shapes}, expected "
                    f"{tuple(reference.shape)}: {meanings[name]}"
                )
            assert_close(got, reference, f"{name} for {shapes}", rtol=1e-9, atol=1e-12)
    passed(
        "linear_backward",
        "dW, db and dx match torch.autograd for four shapes, square and not, batch of one "
        "included.",
    )


def _sum_x_sin_x(x: torch.Tensor) -> torch.Tensor:
    r"""$\sum_i x_i \sin x_i$, a scalar."""
    return (x * x.sin()).sum()


def _logsumexp_plus_products(x: torch.Tensor) -> torch.Tensor:
    r"""$\log \sum e^{x} + \sum_j x_{0j} x_{1j}$ for a ``(2, n)`` tensor, a scalar."""
    return torch.logsumexp(x.flatten(), dim=0) + (x[0] * x[1]).sum()


def check_numerical_gradient(
    numerical_gradient: Callable[
        [Callable[[torch.Tensor], torch.Tensor], torch.Tensor, float], torch.Tensor
    ],
) -> None:
    r"""Check ``numerical_gradient(f, x, step)``, the gradient of ``f`` by central differences.

    Entry $i$ must be $\big(f(x + \Delta e_i) - f(x - \Delta e_i)\big) / 2\Delta$, with
    $\Delta$ = ``step`` and $e_i$ the unit tensor of entry $i$: a float64 tensor of ``x``'s shape
    and dtype. It is compared with ``torch.autograd`` on two float64 functions, of a vector (with
    a zero entry) and of a ``(2, 3)`` matrix, at $\Delta = 10^{-3}$ (where the $O(\Delta)$ error
    of a one-sided difference shows) and $\Delta = 10^{-6}$; ``x`` must be left as it was.

    Args:
        numerical_gradient: The reader's function.

    Raises:
        ExerciseFailed: If a gradient differs from autograd's by more than central differences
            allow, has the wrong shape or dtype, ``x`` was changed, or the answer crashes.
    """
    generator = torch.Generator().manual_seed(11)
    vector = torch.randn(5, dtype=torch.float64, generator=generator)
    vector[2] = 0.0  # (5,), with a zero entry
    matrix = torch.randn(2, 3, dtype=torch.float64, generator=generator)  # (2, 3)
    cases = [
        ("f(x) = sum(x sin x)", _sum_x_sin_x, vector),
        ("f(x) = logsumexp(x) + sum(x[0] x[1])", _logsumexp_plus_products, matrix),
    ]
    for description, function, point in cases:
        leaf = point.clone().requires_grad_(True)
        function(leaf).backward()
        expected = leaf.grad  # same shape as point
        for step, tolerance in ((1e-3, 2e-5), (1e-6, 1e-6)):
            x = point.clone()
            what = f"numerical_gradient(f, x, step={step:g}) for {description}, x {tuple(x.shape)}"
            got = call(numerical_gradient, function, x, step, what=what)
            if not torch.allclose(x, point, rtol=1e-12, atol=1e-12):
                raise ExerciseFailed(
                    f"{what} changed x: after the call it differs from the x passed in; restore "
                    "every entry you perturb, or perturb a copy"
                )
            if isinstance(got, torch.Tensor) and got.dtype != point.dtype:
                raise ExerciseFailed(
                    f"{what} returned {got.dtype}, expected x's dtype {point.dtype}: a lower "
                    "precision loses the digits a finite difference needs"
                )
            assert_close(got, expected, what, rtol=tolerance, atol=tolerance)
    passed(
        "numerical_gradient",
        "Central differences match torch.autograd to 2e-5 at step 1e-3 and to 1e-6 at step 1e-6.",
    )
