"""Checks for the exercises of the convolutional networks page.

Explained on the page
[Convolutional neural networks](../architectures/convolutional-networks.md#exercises).

Each check computes its reference with PyTorch inside the check: the shape that
``torch.nn.functional.conv2d`` produces, the columns of ``torch.nn.functional.unfold`` (and their
gradient, by autograd), and the number of parameters of an ``nn.Conv2d``. When an answer is
wrong, the check tries the usual mistakes on the same input and names the one it matches.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from dlref.exercises.checking import (
    ExerciseFailed,
    as_int,
    assert_close,
    call,
    first_wrong_count,
    passed,
)

__all__ = ["check_conv_output_size", "check_conv_parameters", "check_im2col"]


# --- 1. the output size of a convolution -----------------------------------------------------

# (n, kernel_size, stride, padding, dilation): each mistake below gives a wrong size on some.
_SIZE_CASES = [
    (8, 3, 1, 0, 1),
    (8, 3, 1, 1, 1),
    (28, 5, 1, 2, 1),
    (32, 3, 2, 1, 1),
    (8, 3, 2, 0, 1),
    (7, 2, 2, 0, 1),
    (10, 3, 1, 0, 2),
    (15, 3, 2, 2, 3),
    (5, 5, 1, 0, 1),
    (9, 1, 3, 0, 1),
]

_SIZE_MISTAKES: dict[str, Callable[[int, int, int, int, int], float]] = {
    "it matches leaving out the dilation: a kernel with dilation d spans d (k - 1) + 1 pixels": (
        lambda n, k, s, p, d: (n + 2 * p - k) // s + 1
    ),
    "it matches padding one side only: the padding p is added on both sides, 2p": (
        lambda n, k, s, p, d: (n + p - d * (k - 1) - 1) // s + 1
    ),
    "it matches rounding up: a window that would run past the padded input is dropped, so "
    "round down (floor, //)": (lambda n, k, s, p, d: -(-(n + 2 * p - d * (k - 1) - 1) // s) + 1),
    "it matches forgetting the + 1: the first position counts too": (
        lambda n, k, s, p, d: (n + 2 * p - d * (k - 1) - 1) // s
    ),
    "it matches dividing everything by the stride: only the room left after the first "
    "position is divided, (n + 2p - span) // s, then + 1": (
        lambda n, k, s, p, d: (n + 2 * p - d * (k - 1)) // s
    ),
}


def check_conv_output_size(conv_output_size: Callable[[int, int, int, int, int], int]) -> None:
    r"""Check ``conv_output_size(n, kernel_size, stride, padding, dilation)``.

    The answer must return the number of positions a convolution produces along a dimension of
    ``n`` pixels, an ``int``:
    $\lfloor (n + 2p - d(k - 1) - 1) / s \rfloor + 1$. It is compared with the height of the
    output of ``torch.nn.functional.conv2d`` on ten configurations (padding, stride and
    dilation each on and off, a kernel as large as the input).

    Args:
        conv_output_size: The reader's function.

    Raises:
        ExerciseFailed: If a size differs from PyTorch's (the hint names the usual mistake it
            matches), is not an int, or the answer crashes or is still a stub.
    """
    answers, expected, described = [], [], []
    for n, k, s, p, d in _SIZE_CASES:
        expected.append(
            F.conv2d(
                torch.zeros(1, 1, n, 1), torch.zeros(1, 1, k, 1), stride=(s, 1), padding=(p, 0),
                dilation=(d, 1),
            ).shape[2]
        )  # fmt: skip
        what = f"conv_output_size({n}, kernel_size={k}, stride={s}, padding={p}, dilation={d})"
        got = call(conv_output_size, n, k, s, p, d, what=what)
        if isinstance(got, torch.Tensor) and got.numel() == 1:
            got = got.item()
        if isinstance(got, float):
            raise ExerciseFailed(
                f"{what} returned the float {got!r}: return an int; the count of positions "
                "rounds down, so divide with //"
            )
        if not isinstance(got, int) or isinstance(got, bool):
            raise ExerciseFailed(f"{what} returned a {type(got).__name__}: return an int")
        answers.append(got)
        described.append(what)
    first_wrong_count(answers, expected, described, _SIZE_CASES, _SIZE_MISTAKES)
    passed(
        "conv_output_size",
        f"All {len(_SIZE_CASES)} sizes match the outputs of torch.nn.functional.conv2d, with "
        "padding, stride and dilation.",
    )


# --- 2. im2col: every patch as a column ------------------------------------------------------


def _im2col_cases(generator: torch.Generator) -> list[tuple[str, torch.Tensor, int]]:
    """``(description, x, kernel_size)``: float64 inputs, small enough to read a hint about."""
    f64 = {"dtype": torch.float64, "generator": generator}
    small = torch.arange(12.0, dtype=torch.float64).reshape(1, 1, 3, 4)  # easy to read by hand
    return [
        ("x = torch.arange(12.0).reshape(1, 1, 3, 4) and kernel_size 2", small, 2),
        ("x of shape (2, 3, 5, 4) and kernel_size 3", torch.randn(2, 3, 5, 4, **f64), 3),
        ("x of shape (1, 2, 4, 6) and kernel_size 2", torch.randn(1, 2, 4, 6, **f64), 2),
        ("x of shape (3, 2, 3, 3) and kernel_size 1", torch.randn(3, 2, 3, 3, **f64), 1),
    ]


def check_im2col(im2col: Callable[[torch.Tensor, int], torch.Tensor]) -> None:
    r"""Check ``im2col(x, kernel_size)``: every $k \times k$ patch of ``x`` as a column.

    ``x`` has shape ``(B, C, H, W)``; the stride is 1 and there is no padding. The answer must
    return a tensor of shape ``(B, C k k, L)``, with $L = (H - k + 1)(W - k + 1)$ positions in
    row-major order and each column laid out like ``weight.reshape(C_out, -1)``: channel first,
    then the kernel's row, then its column. That is ``torch.nn.functional.unfold(x, k)``, which
    the answer must not call; its values and the gradient of a loss with respect to ``x`` are
    compared with it.

    Args:
        im2col: The reader's function.

    Raises:
        ExerciseFailed: If the columns differ from ``unfold``'s (the hint says if they are
            transposed, or laid out kernel first), the gradient differs, or the answer crashes or
            is still a stub.
    """
    generator = torch.Generator().manual_seed(0)
    for description, x, k in _im2col_cases(generator):
        x = x.double()
        reference = x.clone().requires_grad_()
        expected = F.unfold(reference, k)  # (B, C k k, L)
        upstream = torch.randn(expected.shape, dtype=torch.float64, generator=generator)
        expected.backward(upstream)
        mine = x.clone().requires_grad_()
        what = f"im2col(x, {k}) for {description}"
        got = call(im2col, mine, k, what=what)
        if isinstance(got, torch.Tensor) and got.shape != expected.shape:
            b, rows, length = expected.shape
            if tuple(got.shape) == (b, length, rows):
                raise ExerciseFailed(
                    f"shape: {what} has shape {tuple(got.shape)}, expected {(b, rows, length)}: "
                    "each patch is a column (dim 1 holds C k k values, dim 2 the L positions); "
                    "transpose the last two dimensions"
                )
        try:
            assert_close(got, expected.detach(), f"value of {what}", rtol=1e-12, atol=1e-12)
        except ExerciseFailed as failure:
            b, c = x.shape[:2]
            kernel_first = expected.detach().reshape(b, c, k * k, -1).transpose(1, 2)
            if not isinstance(got, torch.Tensor):
                raise
            if torch.equal(got.detach().double(), kernel_first.reshape(expected.shape)):
                raise ExerciseFailed(
                    f"{failure}; the entries are right but kernel first: lay each column out "
                    "channel first, then the kernel's row, then its column (C, k, k), as "
                    "weight.reshape(C_out, -1) does"
                ) from None
            raise
        if not got.requires_grad:
            raise ExerciseFailed(
                f"gradient: the output of {what} does not require grad: build it from x by "
                "indexing or slicing (no .detach(), no .numpy(), no torch.no_grad())"
            )
        got.backward(upstream)
        if mine.grad is None:
            raise ExerciseFailed(f"gradient: after backward through {what}, x.grad is None")
        assert_close(mine.grad, reference.grad, f"gradient of x for {what}", rtol=1e-12)
    passed(
        "im2col",
        "Columns and gradients match torch.nn.functional.unfold on four inputs, kernels 1 to 3.",
    )


# --- 3. counting a convolution's parameters --------------------------------------------------

# (in_channels, out_channels, kernel_size, groups, bias)
_COUNT_CASES = [
    (1, 16, 3, 1, True),
    (16, 32, 3, 1, True),
    (3, 64, 7, 1, False),
    (32, 64, 5, 4, True),
    (64, 64, 3, 64, True),
    (8, 4, 1, 2, False),
]

_COUNT_MISTAKES: dict[str, Callable[[int, int, int, int, bool], int]] = {
    "it matches leaving out the bias: one per output channel when bias=True": (
        lambda i, o, k, g, b: o * (i // g) * k * k
    ),
    "it matches leaving out the groups: each output channel sees in_channels / groups inputs": (
        lambda i, o, k, g, b: o * i * k * k + (o if b else 0)
    ),
    "it matches a kernel of k values instead of k x k: the kernel is square": (
        lambda i, o, k, g, b: o * (i // g) * k + (o if b else 0)
    ),
    "it matches a bias per input channel: there is one bias per output channel": (
        lambda i, o, k, g, b: o * (i // g) * k * k + (i if b else 0)
    ),
}


def check_conv_parameters(conv_parameters: Callable[[int, int, int, int, bool], int]) -> None:
    r"""Check ``conv_parameters(in_channels, out_channels, kernel_size, groups, bias)``.

    The answer must return the number of learned values of a convolution layer with a square
    kernel, an ``int``: $C_\text{out} (C_\text{in}/g)\, k^2$ weights, plus $C_\text{out}$ biases
    when ``bias`` is true. Not one of them depends on the image size. It is compared with the
    parameter count of an ``nn.Conv2d`` built with the same arguments, on six layers (grouped and
    depthwise ones, with and without a bias).

    Args:
        conv_parameters: The reader's function.

    Raises:
        ExerciseFailed: If a count differs from ``nn.Conv2d``'s (the hint names the usual mistake
            it matches), is not an int, or the answer crashes or is still a stub.
    """
    answers, expected, described = [], [], []
    for i, o, k, g, b in _COUNT_CASES:
        layer = nn.Conv2d(i, o, k, groups=g, bias=b, device="meta")  # shapes only, no memory
        expected.append(sum(math.prod(p.shape) for p in layer.parameters()))
        what = f"conv_parameters({i}, {o}, kernel_size={k}, groups={g}, bias={b})"
        answers.append(as_int(call(conv_parameters, i, o, k, g, b, what=what), what))
        described.append(what)
    first_wrong_count(answers, expected, described, _COUNT_CASES, _COUNT_MISTAKES)
    passed(
        "conv_parameters",
        f"All {len(_COUNT_CASES)} counts match nn.Conv2d's, grouped and depthwise layers included.",
    )
