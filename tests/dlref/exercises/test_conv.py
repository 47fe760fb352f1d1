"""The convolutional networks page's exercise checks refuse stubs and typical mistakes, with a hint.

The page's own run proves that its solutions pass; here every check meets blank stubs and
plausible wrong answers, and each hint must name what differs.
"""

import math

import pytest
import torch
import torch.nn.functional as F

from dlref.conv import im2col as dlref_im2col
from dlref.conv import output_size
from dlref.exercises import (
    ExerciseFailed,
    check_conv_output_size,
    check_conv_parameters,
    check_im2col,
)

# --- conv_output_size ------------------------------------------------------------------------


def size_right(n, kernel_size, stride=1, padding=0, dilation=1):
    return (n + 2 * padding - dilation * (kernel_size - 1) - 1) // stride + 1


def test_conv_output_size_passes_the_formula_and_dlref(capsys):
    check_conv_output_size(size_right)
    check_conv_output_size(output_size)
    assert capsys.readouterr().out.count("Correct: conv_output_size") == 2


def stub_size(n, kernel_size, stride=1, padding=0, dilation=1): ...


def stub_size_raising(n, kernel_size, stride=1, padding=0, dilation=1):
    raise NotImplementedError


@pytest.mark.parametrize(
    ("answer", "match"),
    [
        (stub_size, r"returned None: replace the stub"),
        (stub_size_raising, r"still raises NotImplementedError"),
        (
            lambda n, k, s=1, p=0, d=1: (n + 2 * p - k) // s + 1,
            r"value: conv_output_size\(10, kernel_size=3, stride=1, padding=0, dilation=2\) "
            r"returned 8, expected 6; it matches leaving out the dilation",
        ),
        (
            lambda n, k, s=1, p=0, d=1: (n + p - d * (k - 1) - 1) // s + 1,
            r"returned 7, expected 8; it matches padding one side only",
        ),
        (
            lambda n, k, s=1, p=0, d=1: math.ceil((n + 2 * p - d * (k - 1) - 1) / s) + 1,
            r"\(32, kernel_size=3, stride=2, padding=1, dilation=1\) returned 17, expected 16; "
            r"it matches rounding up: .* round down",
        ),
        (
            lambda n, k, s=1, p=0, d=1: (n + 2 * p - d * (k - 1) - 1) / s + 1,
            r"returned the float 6.0: return an int; .* divide with //",
        ),
        (
            lambda n, k, s=1, p=0, d=1: (n + 2 * p - d * (k - 1) - 1) // s,
            r"returned 5, expected 6; it matches forgetting the \+ 1",
        ),
        (
            lambda n, k, s=1, p=0, d=1: (n + 2 * p - d * (k - 1)) // s,
            r"\(15, kernel_size=3, stride=2, padding=2, dilation=3\) returned 6, expected 7; it "
            r"matches dividing everything by the stride",
        ),
        (lambda n, k, s=1, p=0, d=1: n - k + 1, r"padding=1, dilation=1\) returned 6, expected 8"),
        (lambda n, k, s=1, p=0, d=1: str(n), r"returned a str: return an int"),
        (lambda n, k, s=1, p=0, d=1: [n], r"returned a list: return an int"),
    ],
)
def test_conv_output_size_names_the_mistake(answer, match):
    with pytest.raises(ExerciseFailed, match=match):
        check_conv_output_size(answer)


def test_conv_output_size_accepts_a_one_element_tensor(capsys):
    check_conv_output_size(lambda *args: torch.tensor(size_right(*args)))
    assert "Correct" in capsys.readouterr().out


# --- im2col ----------------------------------------------------------------------------------


def im2col_by_slicing(x, k):
    """A right answer written with slices and a stack, as the page's solution might be."""
    b, c, h, w = x.shape
    taps = [x[:, :, u : h - k + 1 + u, v : w - k + 1 + v] for u in range(k) for v in range(k)]
    return torch.stack(taps, dim=2).reshape(b, c * k * k, -1)  # (B, C k k, L)


def test_im2col_passes_right_answers(capsys):
    check_im2col(im2col_by_slicing)
    check_im2col(dlref_im2col)
    check_im2col(F.unfold)
    assert capsys.readouterr().out.count("Correct: im2col") == 3


def stub_im2col(x, k): ...


def im2col_transposed(x, k):
    return im2col_by_slicing(x, k).transpose(1, 2)


def im2col_kernel_first(x, k):
    b, c, h, w = x.shape
    taps = [x[:, :, u : h - k + 1 + u, v : w - k + 1 + v] for u in range(k) for v in range(k)]
    return torch.stack(taps, dim=1).reshape(b, c * k * k, -1)  # (k k, C) instead of (C, k k)


def im2col_detached(x, k):
    return im2col_by_slicing(x.detach(), k)


def im2col_through_numpy(x, k):
    return torch.from_numpy(im2col_by_slicing(x, k).detach().numpy().copy())


def im2col_positions_column_major(x, k):
    b, c = x.shape[:2]
    h_out, w_out = x.shape[2] - k + 1, x.shape[3] - k + 1
    cols = im2col_by_slicing(x, k).reshape(b, c * k * k, h_out, w_out)
    return cols.transpose(2, 3).reshape(b, c * k * k, -1)


def im2col_one_sample(x, k):
    return im2col_by_slicing(x[:1], k)


@pytest.mark.parametrize(
    ("answer", "match"),
    [
        (stub_im2col, r"returned None: replace the stub"),
        (
            im2col_transposed,
            r"shape: im2col\(x, 2\) for x = torch.arange\(12.0\).reshape\(1, 1, 3, 4\) and "
            r"kernel_size 2 has shape \(1, 6, 4\), expected \(1, 4, 6\): each patch is a column "
            r".*; transpose the last two dimensions$",
        ),
        (
            im2col_kernel_first,
            r"value of im2col\(x, 3\) for x of shape \(2, 3, 5, 4\) .* the entries are right but "
            r"kernel first: lay each column out channel first",
        ),
        (im2col_detached, r"gradient: the output of im2col\(x, 2\) .* does not require grad"),
        (im2col_through_numpy, r"does not require grad"),
        (im2col_positions_column_major, r"value of im2col\(x, 2\) .* at index"),
        (
            im2col_one_sample,
            r"value of im2col\(x, 3\) .*: shape \(1, 27, 6\), expected \(2, 27, 6\)",
        ),
        (lambda x, k: x.flatten(1), r"shape \(1, 12\), expected \(1, 4, 6\)"),
        (lambda x, k: x.tolist(), r"expected a torch.Tensor, got list"),
    ],
)
def test_im2col_names_the_mistake(answer, match):
    with pytest.raises(ExerciseFailed, match=match):
        check_im2col(answer)


# --- conv_parameters -------------------------------------------------------------------------


def count_right(in_channels, out_channels, kernel_size, groups=1, bias=True):
    per_kernel = (in_channels // groups) * kernel_size * kernel_size
    return out_channels * per_kernel + (out_channels if bias else 0)


def test_conv_parameters_passes_the_count(capsys):
    check_conv_parameters(count_right)
    check_conv_parameters(lambda *args: float(count_right(*args)))  # 2.0 for 2 is accepted
    assert capsys.readouterr().out.count("Correct: conv_parameters") == 2


def stub_count(in_channels, out_channels, kernel_size, groups=1, bias=True): ...


@pytest.mark.parametrize(
    ("answer", "match"),
    [
        (stub_count, r"returned None: replace the stub"),
        (
            lambda i, o, k, g=1, b=True: o * (i // g) * k * k,
            r"value: conv_parameters\(1, 16, kernel_size=3, groups=1, bias=True\) returned 144, "
            r"expected 160; it matches leaving out the bias",
        ),
        (
            lambda i, o, k, g=1, b=True: o * i * k * k + (o if b else 0),
            r"groups=4, bias=True\) returned 51264, expected 12864; it matches leaving out the "
            r"groups",
        ),
        (
            lambda i, o, k, g=1, b=True: o * (i // g) * k + (o if b else 0),
            r"returned 64, expected 160; it matches a kernel of k values instead of k x k",
        ),
        (
            lambda i, o, k, g=1, b=True: o * (i // g) * k * k + (i if b else 0),
            r"returned 145, expected 160; it matches a bias per input channel",
        ),
        (
            lambda i, o, k, g=1, b=True: o * (i // g) * k * k + o,
            r"bias=False\) returned 9472, expected 9408$",
        ),
        (lambda i, o, k, g=1, b=True: 64 * o + o, r"returned 1040, expected 160$"),
        (lambda i, o, k, g=1, b=True: "160", r"returned a str: return an int"),
        (lambda i, o, k, g=1, b=True: 160.5, r"returned a float: return an int"),
    ],
)
def test_conv_parameters_names_the_mistake(answer, match):
    with pytest.raises(ExerciseFailed, match=match):
        check_conv_parameters(answer)
