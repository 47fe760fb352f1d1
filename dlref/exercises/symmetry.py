"""Checks for the exercises of the page Learning representations by back-propagating errors.

Explained on the page
[Backpropagation, 1986](../see-also/backpropagation-1986.md#exercises).

Each check computes its reference with PyTorch inside the check: the mirror test with
``torch.flip``, the output's error signal with ``torch.autograd``, and the momentum step with
``torch.optim.SGD``. When an answer is wrong, the check tries the usual mistakes on the same input
and names the one it matches.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from dlref.exercises.checking import ExerciseFailed, assert_close, call, passed

__all__ = ["check_momentum_step", "check_symmetry_targets", "check_squared_error_delta"]

F64 = torch.float64


def _matches(got: object, candidate: torch.Tensor) -> bool:
    """Whether the answer equals a candidate (a usual mistake), whatever its dtype."""
    return (
        isinstance(got, torch.Tensor)
        and got.shape == candidate.shape
        and torch.allclose(got.detach().to(F64), candidate.to(F64), rtol=1e-9, atol=1e-12)
    )


def _name_mistake(got: object, expected: torch.Tensor, mistakes: dict[str, torch.Tensor]) -> None:
    """Raise with the hint of the first usual mistake a wrong answer matches, if any."""
    if _matches(got, expected):
        return  # right (a mistake can coincide with the answer, as at a first step)
    for hint, candidate in mistakes.items():
        if _matches(got, candidate):
            raise ExerciseFailed(hint)


# --- 1. the symmetry targets -----------------------------------------------------------------


def _all_patterns(width: int) -> torch.Tensor:
    """Every row of ``width`` bits, as floats: (2**width, width)."""
    rows = torch.arange(2**width)
    return ((rows[:, None] >> torch.arange(width - 1, -1, -1)) & 1).to(F64)


def check_symmetry_targets(symmetry_targets: Callable[[torch.Tensor], torch.Tensor]) -> None:
    r"""Check ``symmetry_targets(x)``: 1.0 for the rows of ``x`` that are mirror-symmetric.

    ``x`` is a float tensor of shape ``(N, n)`` holding 0s and 1s. The answer must return a
    float tensor of shape ``(N, 1)``, with 1.0 where $x_i = x_{n+1-i}$ for every $i$ (the row
    reads the same from both ends) and 0.0 elsewhere. It is compared on every row of 6 bits (the
    paper's task, in a shuffled order), of 5 bits (the middle bit is free) and of 4 bits.

    Args:
        symmetry_targets: The reader's function.

    Raises:
        ExerciseFailed: If a target differs (the hint names the usual mistake it matches), the
            shape or dtype is wrong, or the answer crashes or is still a stub.
    """
    order = torch.randperm(64, generator=torch.Generator().manual_seed(0))
    cases = [
        ("the 64 rows of 6 bits, shuffled", _all_patterns(6)[order]),
        ("the 32 rows of 5 bits", _all_patterns(5)),
        ("the 16 rows of 4 bits", _all_patterns(4)),
    ]
    for description, x in cases:
        what = f"symmetry_targets(x) for {description}"
        got = call(symmetry_targets, x.clone(), what=what)
        expected = (x == x.flip(1)).all(dim=1).to(F64)[:, None]  # (N, 1)
        if isinstance(got, torch.Tensor) and got.shape == expected.shape[:1]:
            raise ExerciseFailed(
                f"shape: {what} has shape {tuple(got.shape)}, expected {tuple(expected.shape)}: "
                "one column, like the network's output (add [:, None])"
            )
        if isinstance(got, torch.Tensor) and not got.is_floating_point():
            raise ExerciseFailed(
                f"dtype: {what} returned a {got.dtype} tensor: return floats, 1.0 and 0.0, "
                "which the squared error can subtract (.to(x.dtype))"
            )
        mirror = x.flip(1)
        _name_mistake(
            got,
            expected,
            {
                f"value: {what} is 1.0 for every row: compare each bit with its mirror "
                "image (x.flip(1)), not with itself": torch.ones_like(expected),
                f"value: {what} checks only the outer pair of bits: every bit must equal its "
                "mirror, x_i = x_(n+1-i) for all i": (x[:, :1] == x[:, -1:]).to(F64),
                f"value: {what} is 1.0 where every bit differs from its mirror: symmetric means "
                "equal to the mirror (==), not different": (x != mirror).all(1, True).to(F64),
                f"value: {what} is 1.0 where some bit equals its mirror: every bit must (all, "
                "not any)": (x == mirror).any(dim=1, keepdim=True).to(F64),
                f"value: {what} is inverted: 1.0 for the symmetric rows, 0.0 for the others": 1
                - expected,
            },
        )
        assert_close(got, expected, f"value of {what}", rtol=0, atol=0)
    passed(
        "symmetry_targets",
        "The targets match the mirror test on every row of 6, 5 and 4 bits (8 of the 64 rows "
        "of 6 bits are symmetric).",
    )


# --- 2. the output's error signal ------------------------------------------------------------


def check_squared_error_delta(
    squared_error_delta: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
) -> None:
    r"""Check ``squared_error_delta(a, y)``: $\delta = \partial E / \partial z$ at a sigmoid output.

    ``a`` $= \sigma(z)$ holds the outputs of a sigmoid unit for a batch, ``y`` the targets, both
    of shape ``(B, 1)``; the error is the paper's sum $E = \frac{1}{2} \sum_i (a_i - y_i)^2$.
    The answer must return $\partial E / \partial z$, shape ``(B, 1)``, from ``a`` and ``y``
    alone. It is compared with ``torch.autograd`` on two batches.

    Args:
        squared_error_delta: The reader's function.

    Raises:
        ExerciseFailed: If the signal differs (the hint names the usual mistake it matches), or
            the answer crashes or is still a stub.
    """
    generator = torch.Generator().manual_seed(1)
    for batch in (64, 7):
        z = (3 * torch.randn(batch, 1, generator=generator, dtype=F64)).requires_grad_()
        y = torch.randint(0, 2, (batch, 1), generator=generator).to(F64)
        a = torch.sigmoid(z)
        (0.5 * ((a - y) ** 2).sum()).backward()
        expected = z.grad
        a = a.detach()
        what = f"squared_error_delta(a, y) for a batch of {batch}"
        got = call(squared_error_delta, a.clone(), y.clone(), what=what)
        _name_mistake(
            got,
            expected,
            {
                f"value: {what} returned a - y, the error signal of a sigmoid with the "
                "cross-entropy: for the squared error multiply by the sigmoid's slope "
                "a (1 - a)": a - y,
                f"value: {what} has the wrong sign: E grows with a - y, so delta is "
                "(a - y) a (1 - a)": (y - a) * a * (1 - a),
                f"value: {what} is the derivative of the mean, divided by the batch size: the "
                "paper's E is a sum over the patterns": (a - y) * a * (1 - a) / batch,
                f"value: {what} has a factor 2: the 1/2 in E cancels the 2 of the square": 2
                * (a - y)
                * a
                * (1 - a),
                f"value: {what} uses a (1 - y) or y (1 - y) as the slope: the sigmoid's slope "
                "is a (1 - a), at the output a": (a - y) * a * (1 - y),
            },
        )
        assert_close(got, expected, f"value of {what}", rtol=1e-12, atol=1e-15)
    passed(
        "squared_error_delta",
        "delta = (a - y) a (1 - a) matches torch.autograd's dE/dz for a sigmoid output and the "
        "summed squared error.",
    )


# --- 3. a momentum step ----------------------------------------------------------------------


def check_momentum_step(
    momentum_step: Callable[..., tuple[torch.Tensor, torch.Tensor]],
) -> None:
    r"""Check ``momentum_step(w, step, grad, lr, momentum)``: the paper's update, as a function.

    With ``step`` $= \Delta w(t-1)$ and ``grad`` $= \partial E / \partial w$ at $w$, the answer
    must return ``(new_w, new_step)`` with
    $\Delta w(t) = -\text{lr}\, \partial E / \partial w + \text{momentum}\, \Delta w(t-1)$ and
    $w + \Delta w(t)$. It is run for 20 steps on a quadratic and compared, step by step, with
    ``torch.optim.SGD(lr=lr, momentum=momentum)``.

    Args:
        momentum_step: The reader's function.

    Raises:
        ExerciseFailed: If a step differs (the hint names the usual mistake it matches), the
            answer does not return two tensors, crashes or is still a stub.
    """
    curvature = torch.tensor([1.0, 4.0, 0.25], dtype=F64)  # E = 1/2 sum_k c_k w_k^2
    lr, momentum = 0.1, 0.9
    reference = torch.tensor([1.0, -2.0, 3.0], dtype=F64).requires_grad_()
    optimizer = torch.optim.SGD([reference], lr=lr, momentum=momentum)
    w = reference.detach().clone()
    step = torch.zeros(3, dtype=F64)
    for t in range(1, 21):
        grad = curvature * w  # dE/dw at w
        optimizer.zero_grad()
        (0.5 * (curvature * reference**2).sum()).backward()
        optimizer.step()
        expected = reference.detach().clone()
        what = f"momentum_step(w, step, grad, lr={lr}, momentum={momentum}) at step {t}"
        got = call(momentum_step, w.clone(), step.clone(), grad.clone(), lr, momentum, what=what)
        if not (isinstance(got, tuple | list) and len(got) == 2):
            raise ExerciseFailed(f"{what} returned {type(got).__name__}: return (new_w, new_step)")
        new_w, new_step = got
        right_step = momentum * step - lr * grad
        _name_mistake(
            new_w,
            expected,
            {
                f"value: {what}: new_w is w - lr grad, plain gradient descent: add momentum "
                "times the previous step": w - lr * grad,
                f"value: {what}: new_w moves uphill: the step is -lr grad + momentum step": w
                - (momentum * step - lr * grad),
                f"value: {what}: new_w uses the previous step: compute the new step first, "
                "then add it to w": w + step,
                f"value: {what}: new_w averages the gradient with (1 - momentum): the paper "
                "adds the full -lr grad": w + momentum * step - (1 - momentum) * lr * grad,
            },
        )
        assert_close(new_w, expected, f"new_w of {what}", rtol=1e-12, atol=1e-14)
        assert_close(new_step, right_step, f"new_step of {what}", rtol=1e-12, atol=1e-14)
        w, step = new_w.detach().to(F64), new_step.detach().to(F64)
    passed(
        "momentum_step",
        "20 steps match torch.optim.SGD(lr=0.1, momentum=0.9): with a constant learning rate "
        "the paper's Δw is -lr times SGD's momentum buffer.",
    )
