"""What every exercise check shares: call the reader's answer, compare it, say what differs.

A check either prints one line that starts with ``Correct`` or raises :class:`ExerciseFailed`,
whose message is a hint: which input, which quantity (value, gradient, shape, dtype), what the
answer gave and what was expected. Checks never print the reference answer in full: the hint
points at the first difference, not at the solution. How to write a check with these pieces is
in ``CONTRIBUTING.md`` (Exercises).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch


class ExerciseFailed(AssertionError):
    """The reader's answer is not right yet; the message says what differs."""


def passed(exercise: str, detail: str) -> None:
    """Tell the reader their answer is right (one line, starting with ``Correct``)."""
    print(f"Correct: {exercise}. {detail}")


def require_callable(answer: Any, what: str) -> None:
    """Fail with a hint unless ``answer`` can be called (a function or a class)."""
    if not callable(answer):
        raise ExerciseFailed(f"expected {what} (something callable), got {type(answer).__name__}")


def call(answer: Callable, *args: Any, what: str, **kwargs: Any) -> Any:
    """Call the reader's answer, turning a crash into a hint that names the call.

    A stub that still raises ``NotImplementedError`` (or returns ``None``, as a body of ``...``
    does) is told so plainly.
    """
    require_callable(answer, what)
    try:
        result = answer(*args, **kwargs)
    except NotImplementedError as exc:
        raise ExerciseFailed(
            f"{what} still raises NotImplementedError: replace the stub with your code"
        ) from exc
    except ExerciseFailed:
        raise
    except Exception as exc:
        raise ExerciseFailed(f"calling {what} raised {type(exc).__name__}: {exc}") from exc
    if result is None or result is Ellipsis:
        raise ExerciseFailed(
            f"{what} returned {result!r}: replace the stub with your code, and `return` the result"
        )
    return result


def assert_close(
    got: Any,
    expected: torch.Tensor,
    what: str,
    *,
    rtol: float = 1e-6,
    atol: float = 1e-8,
) -> None:
    """Fail with a hint unless ``got`` is a tensor equal to ``expected`` within tolerance.

    The hint names ``what`` was compared and the first thing that differs: the type, the shape,
    non-finite entries, or the largest difference with its index, value and expected value.
    """
    if not isinstance(got, torch.Tensor):
        if isinstance(got, int | float) and expected.dim() == 0:
            got = torch.tensor(float(got), dtype=expected.dtype)
        else:
            raise ExerciseFailed(f"{what}: expected a torch.Tensor, got {type(got).__name__}")
    if tuple(got.shape) != tuple(expected.shape):
        raise ExerciseFailed(f"{what}: shape {tuple(got.shape)}, expected {tuple(expected.shape)}")
    got = got.detach().to(device="cpu", dtype=expected.dtype)
    expected = expected.detach().cpu()
    if not torch.isfinite(got).all() and torch.isfinite(expected).all():
        index = tuple(torch.nonzero(~torch.isfinite(got))[0].tolist())
        raise ExerciseFailed(
            f"{what}: entry {index} is {got[index].item()}, expected the finite "
            f"{expected[index].item():.6g} (an overflow, or a division by zero?)"
        )
    close = torch.isclose(got, expected, rtol=rtol, atol=atol)
    if not close.all():
        gap = (got - expected).abs().masked_fill(close, 0)
        index = tuple(torch.nonzero(gap == gap.max())[0].tolist())
        where = f" at index {index}" if index else ""
        raise ExerciseFailed(
            f"{what}{where}: got {got[index].item():.6g}, expected {expected[index].item():.6g} "
            f"({int((~close).sum())} of {close.numel()} entries differ)"
        )


def as_int(got: Any, what: str) -> int:
    """The reader's count or size as an int (``2.0`` and a one-element tensor are accepted).

    Raises:
        ExerciseFailed: If ``got`` is anything else, naming its type.
    """
    if isinstance(got, torch.Tensor) and got.numel() == 1:
        got = got.item()
    if isinstance(got, float) and got.is_integer():
        got = int(got)
    if not isinstance(got, int) or isinstance(got, bool):
        raise ExerciseFailed(f"{what} returned a {type(got).__name__}: return an int")
    return got


def first_wrong_count(
    answers: list[int],
    expected: list[int],
    described: list[str],
    cases: list[tuple],
    mistakes: dict[str, Callable[..., int]],
) -> None:
    """Fail on the first answer that differs, naming a usual mistake that gives every answer.

    Args:
        answers: The reader's answers, one per case.
        expected: The right answers.
        described: How each call reads in a message, e.g. ``"count(64, 32)"``.
        cases: The arguments of each call.
        mistakes: A hint for each usual mistake, mapped to a function of a case's arguments
            that makes that mistake.

    Raises:
        ExerciseFailed: ``value: <call> returned <got>, expected <want>``, and the hint of the
            first mistake that reproduces all the answers, if one does.
    """
    for got, want, what in zip(answers, expected, described, strict=True):
        if got != want:
            hints = [
                hint
                for hint, mistake in mistakes.items()
                if all(mistake(*case) == a for case, a in zip(cases, answers, strict=True))
            ]
            hint = f"; {hints[0]}" if hints else ""
            raise ExerciseFailed(f"value: {what} returned {got}, expected {want}{hint}")
