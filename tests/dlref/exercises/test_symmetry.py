"""The backpropagation (1986) page's exercise checks refuse stubs and typical mistakes, with a hint.

The page's own run proves that its solutions pass; here every check meets blank stubs and
plausible wrong answers, and each hint must name what differs.
"""

import pytest
import torch

from dlref.exercises import (
    ExerciseFailed,
    check_momentum_step,
    check_squared_error_delta,
    check_symmetry_targets,
)

# --- symmetry_targets ------------------------------------------------------------------------


def targets_right(x):
    return (x == x.flip(1)).all(dim=1, keepdim=True).to(x.dtype)


def targets_loop(x):
    n = x.shape[1]
    rows = [all(row[i] == row[n - 1 - i] for i in range(n // 2)) for row in x.tolist()]
    return torch.tensor(rows, dtype=x.dtype)[:, None]


def test_symmetry_targets_passes_right_answers(capsys):
    check_symmetry_targets(targets_right)
    check_symmetry_targets(targets_loop)
    assert capsys.readouterr().out.count("Correct: symmetry_targets") == 2


def stub_targets(x): ...


def stub_targets_raising(x):
    raise NotImplementedError


@pytest.mark.parametrize(
    ("answer", "match"),
    [
        (stub_targets, r"returned None: replace the stub"),
        (stub_targets_raising, r"still raises NotImplementedError"),
        (lambda x: (x == x.flip(1)).all(dim=1).to(x.dtype), r"shape: .* \(64,\), expected"),
        (lambda x: (x == x.flip(1)).all(dim=1, keepdim=True), r"dtype: .*torch.bool.*floats"),
        (lambda x: (x == x).all(dim=1, keepdim=True).to(x.dtype), r"1.0 for every row"),
        (lambda x: (x[:, :1] == x[:, -1:]).to(x.dtype), r"only the outer pair"),
        (lambda x: (x != x.flip(1)).all(dim=1, keepdim=True).to(x.dtype), r"every bit differs"),
        (lambda x: (x == x.flip(1)).any(dim=1, keepdim=True).to(x.dtype), r"all, not any"),
        (lambda x: 1 - targets_right(x), r"is inverted"),
        (
            lambda x: (x[:, :3] == x[:, 3:].flip(1)).all(dim=1, keepdim=True).to(x.dtype),
            r"crash|raised|value of symmetry_targets\(x\) for the 32 rows of 5 bits",
        ),
    ],
)
def test_symmetry_targets_names_the_mistake(answer, match):
    with pytest.raises(ExerciseFailed, match=match):
        check_symmetry_targets(answer)


# --- squared_error_delta ---------------------------------------------------------------------


def test_squared_error_delta_passes_the_formula(capsys):
    check_squared_error_delta(lambda a, y: (a - y) * a * (1 - a))
    assert "Correct: squared_error_delta" in capsys.readouterr().out


def stub_delta(a, y): ...


@pytest.mark.parametrize(
    ("answer", "match"),
    [
        (stub_delta, r"returned None: replace the stub"),
        (lambda a, y: a - y, r"returned a - y, .*cross-entropy.*a \(1 - a\)"),
        (lambda a, y: (y - a) * a * (1 - a), r"wrong sign"),
        (lambda a, y: (a - y) * a * (1 - a) / len(a), r"divided by the batch size"),
        (lambda a, y: 2 * (a - y) * a * (1 - a), r"a factor 2"),
        (lambda a, y: (a - y) * a * (1 - y), r"the sigmoid's slope is a \(1 - a\)"),
        (lambda a, y: (a - y) * a, r"value of squared_error_delta\(a, y\) for a batch of 64"),
        (lambda a, y: ((a - y) * a * (1 - a)).flatten(), r"shape \(64,\), expected \(64, 1\)"),
    ],
)
def test_squared_error_delta_names_the_mistake(answer, match):
    with pytest.raises(ExerciseFailed, match=match):
        check_squared_error_delta(answer)


# --- momentum_step ---------------------------------------------------------------------------


def step_right(w, step, grad, lr, momentum):
    new_step = momentum * step - lr * grad
    return w + new_step, new_step


def step_in_place(w, step, grad, lr, momentum):
    step.mul_(momentum).sub_(lr * grad)
    w.add_(step)
    return w, step


def test_momentum_step_passes_right_answers(capsys):
    check_momentum_step(step_right)
    check_momentum_step(step_in_place)
    assert capsys.readouterr().out.count("Correct: momentum_step") == 2


def stub_step(w, step, grad, lr, momentum): ...


@pytest.mark.parametrize(
    ("answer", "match"),
    [
        (stub_step, r"returned None: replace the stub"),
        (lambda w, s, g, lr, m: w + m * s - lr * g, r"returned Tensor: return \(new_w, new_step\)"),
        (lambda w, s, g, lr, m: (w - lr * g, -lr * g), r"plain gradient descent"),
        (lambda w, s, g, lr, m: (w - (m * s - lr * g), m * s - lr * g), r"moves uphill"),
        (lambda w, s, g, lr, m: (w + s, m * s - lr * g), r"uses the previous step"),
        (
            lambda w, s, g, lr, m: (w + m * s - (1 - m) * lr * g, m * s - (1 - m) * lr * g),
            r"averages the gradient with \(1 - momentum\)",
        ),
        (
            lambda w, s, g, lr, m: (w + m * s - lr * g, m * s + lr * g),
            r"new_step of momentum_step\(.*\) at step 1",
        ),
    ],
)
def test_momentum_step_names_the_mistake(answer, match):
    with pytest.raises(ExerciseFailed, match=match):
        check_momentum_step(answer)
