"""Argument checks shared by every module, so that bad input fails early and says why.

Each check takes the name of the function or class that received the argument (``caller``) and
raises with a message of one shape: ``<caller> expects <what it wanted>, got <what it got>``.
A wrong type raises ``TypeError``, a value out of range ``ValueError``. ``True`` and ``False`` are
not accepted as numbers, although Python counts them as ints.

Used by every module of ``dlref``; the rule for where code goes is in ``CONTRIBUTING.md``.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Collection

import torch


def is_integer(value: object) -> bool:
    """Whether ``value`` is an integer (a bool is not)."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def is_real(value: object) -> bool:
    """Whether ``value`` is a real number, int or float (a bool is not)."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _described(value: object) -> str:
    """A value with its type, for a message: ``float 1.5``, ``str 'a'``, ``NoneType None``."""
    return f"{type(value).__name__} {value!r}"


def _power_of_two(bound: int) -> str:
    """Write a large power of two as ``2**32``, the way it is set in code; others as they are."""
    if bound >= 2**16 and bound & (bound - 1) == 0:
        return f"2**{bound.bit_length() - 1}"
    return str(bound)


def _interval(low: float, high: float, closed_low: bool, closed_high: bool) -> str:
    """Describe an interval the way a reader writes it: ``>= 0``, ``> 0``, ``in [0, 1)``."""
    if high == math.inf:
        return f"{'>=' if closed_low else '>'} {low:g}"
    return f"in {'[' if closed_low else '('}{low:g}, {high:g}{']' if closed_high else ')'}"


def number(
    caller: str,
    name: str,
    value: object,
    low: float = -math.inf,
    high: float = math.inf,
    *,
    closed_low: bool = True,
    closed_high: bool = False,
) -> None:
    """Raise unless ``value`` is a real number in the interval from ``low`` to ``high``.

    By default the interval is ``[low, high)``; ``closed_low`` and ``closed_high`` say whether
    each end belongs to it. NaN lies in no interval.

    Raises:
        TypeError: If ``value`` is not an int or a float.
        ValueError: If it lies outside the interval.
    """
    if not is_real(value):
        raise TypeError(f"{caller} expects {name} to be a number, got {_described(value)}")
    above = value >= low if closed_low else value > low
    below = value <= high if closed_high else value < high
    if not (above and below):
        wanted = _interval(low, high, closed_low, closed_high)
        raise ValueError(f"{caller} expects {name} {wanted}, got {value!r}")


def non_negative(caller: str, **values: object) -> None:
    """Raise unless every value is a number ``>= 0``; each is named by its keyword."""
    for name, value in values.items():
        number(caller, name, value, 0)


def integer(
    caller: str, name: str, value: object, low: int | None = None, high: int | None = None
) -> None:
    """Raise unless ``value`` is an integer in ``[low, high)`` (either bound may be left out).

    Raises:
        TypeError: If ``value`` is not an integer.
        ValueError: If it lies outside the range.
    """
    if not is_integer(value):
        raise TypeError(f"{caller} expects {name} to be an int, got {_described(value)}")
    lower = -math.inf if low is None else low
    upper = math.inf if high is None else high
    if not lower <= value < upper:
        wanted = f">= {low}" if high is None else f"in [{lower}, {_power_of_two(high)})"
        raise ValueError(f"{caller} expects {name} {wanted}, got {value!r}")


def divisible(caller: str, name: str, value: object, by_name: str, by: object) -> None:
    """Raise unless ``value`` and ``by`` are positive ints and ``by`` divides ``value``.

    For sizes that split into equal parts, such as an embedding into attention heads.
    """
    integer(caller, name, value, 1)
    integer(caller, by_name, by, 1)
    if value % by:
        raise ValueError(
            f"{caller} expects {name} divisible by {by_name}, got {name}={value}, {by_name}={by}"
        )


def one_of(caller: str, name: str, value: object, choices: Collection[object]) -> None:
    """Raise ``ValueError`` unless ``value`` is one of ``choices``."""
    if value not in choices:
        options = ", ".join(repr(choice) for choice in choices)
        raise ValueError(f"{caller} expects {name} to be one of {options}, got {value!r}")


def floating_tensor(caller: str, x: object, name: str = "x") -> None:
    """Raise ``TypeError`` unless ``x`` is a floating-point tensor."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{caller} expects {name} to be a torch.Tensor, got {type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(
            f"{caller} expects {name} to be a floating-point tensor, got dtype {x.dtype}"
        )


def module(caller: str, model: object) -> None:
    """Raise ``TypeError`` unless ``model`` is an ``nn.Module``."""
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"{caller} expects model to be an nn.Module, got {type(model).__name__}")


def shape(caller: str, name: str, x: torch.Tensor, wanted: tuple, shown: str | None = None) -> None:
    """Raise ``ValueError`` unless ``x`` has the shape ``wanted`` (``None`` matches any size).

    ``shown`` is how the message writes the wanted shape, such as ``"(B, L, 16)"``; by default,
    ``wanted`` itself.
    """
    fits = x.dim() == len(wanted) and all(
        w is None or w == n for w, n in zip(wanted, x.shape, strict=True)
    )
    if not fits:
        shown = str(tuple(wanted)) if shown is None else shown
        raise ValueError(f"{caller} expects {name} of shape {shown}, got {tuple(x.shape)}")


def dimension(caller: str, x: torch.Tensor, dim: object) -> None:
    """Raise unless ``dim`` indexes a dimension of ``x`` (a 0-d tensor counts as having one)."""
    integer(caller, "dim", dim)
    ndim = max(x.dim(), 1)
    if not -ndim <= dim < ndim:
        raise ValueError(
            f"{caller} expects dim in [{-ndim}, {ndim - 1}] for a tensor of shape "
            f"{tuple(x.shape)}, got {dim}"
        )
