"""The ResNet page's exercise checks refuse stubs and typical mistakes, with a hint.

The page's own run proves that its solutions pass; here every check meets blank stubs and
plausible wrong answers, and each hint must name what differs.
"""

import pytest
import torch
import torch.nn.functional as F

from dlref.exercises import (
    ExerciseFailed,
    check_block_parameters,
    check_shortcut_a,
    check_stage_sides,
)
from dlref.models.resnet import ShortcutA

# --- block_parameters --------------------------------------------------------------------------


def block_right(i, o):
    return 9 * i * o + 9 * o * o + 4 * o


def test_block_parameters_passes_the_count(capsys):
    check_block_parameters(block_right)
    check_block_parameters(lambda i, o: float(block_right(i, o)))  # 2.0 for 2 is accepted
    check_block_parameters(lambda i, o: torch.tensor(block_right(i, o)))
    assert capsys.readouterr().out.count("Correct: block_parameters") == 3


def stub_block(i, o): ...


def stub_block_raising(i, o):
    raise NotImplementedError


@pytest.mark.parametrize(
    ("answer", "match"),
    [
        (stub_block, r"returned None: replace the stub"),
        (stub_block_raising, r"still raises NotImplementedError"),
        (lambda i, o: "many", r"returned a str: return an int"),
        (lambda i, o: 9 * i * o + 9 * o * o + 6 * o, r"counting a bias in each convolution"),
        (lambda i, o: 9 * i * o + 9 * o * o, r"leaving out the batch norms' scales and shifts"),
        (lambda i, o: 9 * i * o + 9 * o * o + 2 * o, r"one scale and shift per block"),
        (lambda i, o: 18 * i * o + 4 * o, r"both convolutions in_channels inputs"),
        (
            lambda i, o: block_right(i, o) + (i * o + 2 * o if i != o else 0),
            r"\(16, 32\) returned 14528, expected 13952; it matches a 1x1 projection",
        ),
        (lambda i, o: 1, r"value: block_parameters\(16, 16\) returned 1, expected 4672$"),
    ],
)
def test_block_parameters_refuses_mistakes(answer, match):
    with pytest.raises(ExerciseFailed, match=match):
        check_block_parameters(answer)


# --- shortcut_a --------------------------------------------------------------------------------


def shortcut_right(x, out_channels, stride):
    x = x[:, :, ::stride, ::stride]
    return F.pad(x, (0, 0, 0, 0, 0, out_channels - x.shape[1]))


def test_shortcut_a_passes_the_slice_and_dlref(capsys):
    check_shortcut_a(shortcut_right)
    check_shortcut_a(lambda x, c, s: ShortcutA(x.shape[1], c, s)(x))
    assert capsys.readouterr().out.count("Correct: shortcut_a") == 2


def stub_shortcut(x, out_channels, stride): ...


@pytest.mark.parametrize(
    ("answer", "match"),
    [
        (stub_shortcut, r"returned None: replace the stub"),
        (
            lambda x, c, s: x,
            r"value: shortcut_a\(x of shape \(2, 3, 8, 8\), out_channels=6, "
            r"stride=2\): shape \(2, 3, 8, 8\), expected \(2, 6, 4, 4\)",
        ),
        (  # zeros in front of x's channels
            lambda x, c, s: F.pad(x[:, :, ::s, ::s], (0, 0, 0, 0, c - x.shape[1], 0)),
            r"puts the zero channels first",
        ),
        (  # the wrong half of the pixels
            lambda x, c, s: F.pad(x[:, :, s - 1 :: s, s - 1 :: s], (0, 0, 0, 0, 0, c - x.shape[1])),
            r"value: shortcut_a\(x of shape \(2, 3, 8, 8\), out_channels=6, stride=2\) at index",
        ),
        (  # average pooling instead of subsampling
            lambda x, c, s: F.pad(
                F.avg_pool2d(x, s, ceil_mode=True), (0, 0, 0, 0, 0, c - x.shape[1])
            ),
            r"value: shortcut_a\(x of shape \(2, 3, 8, 8\), out_channels=6, stride=2\) at index",
        ),
        (  # repeats the channels instead of zeros
            lambda x, c, s: torch.cat([x[:, :, ::s, ::s]] * (c // x.shape[1]), dim=1),
            r"value: shortcut_a\(x of shape \(2, 3, 8, 8\), out_channels=6, stride=2\) at index",
        ),
        (  # cut off from autograd
            lambda x, c, s: shortcut_right(x, c, s).detach(),
            r"gradient: shortcut_a\(x of shape \(2, 3, 8, 8\), out_channels=3, stride=1\) does "
            r"not depend on x",
        ),
        (  # floor instead of ceil: drops the last row of odd sides
            lambda x, c, s: shortcut_right(x, c, s)[..., : x.shape[2] // s, : x.shape[3] // s],
            r"\(3, 4, 7, 9\), out_channels=8, stride=2\): shape \(3, 8, 3, 4\), "
            r"expected \(3, 8, 4, 5\)",
        ),
    ],
)
def test_shortcut_a_refuses_mistakes(answer, match):
    with pytest.raises(ExerciseFailed, match=match):
        check_shortcut_a(answer)


# --- stage_sides -------------------------------------------------------------------------------


def test_stage_sides_passes_ceil(capsys):
    check_stage_sides(lambda n: (n, (n + 1) // 2, (n + 3) // 4))
    check_stage_sides(lambda n: [n, -(-n // 2), -(-n // 4)])
    assert capsys.readouterr().out.count("Correct: stage_sides") == 2


def stub_sides(side): ...


@pytest.mark.parametrize(
    ("answer", "match"),
    [
        (stub_sides, r"returned None: replace the stub"),
        (lambda n: n, r"stage_sides\(32\) returned 32: return a tuple of three ints"),
        (lambda n: (n, n // 2), r"return a tuple of three ints"),
        (lambda n: (n, n // 2, n // 4), r"stage_sides\(7\) returned \(7, 3, 1\), expected "
         r"\(7, 4, 2\); it matches rounding down"),
        (lambda n: (n // 2, n // 4, n // 8), r"stage_sides\(32\) returned \(16, 8, 4\), "
         r"expected \(32, 16, 8\)$"),
    ],
)  # fmt: skip
def test_stage_sides_refuses_mistakes(answer, match):
    with pytest.raises(ExerciseFailed, match=match):
        check_stage_sides(answer)
