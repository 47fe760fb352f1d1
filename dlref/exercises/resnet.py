"""Checks for the exercises of the page Deep residual learning.

Explained on the page [Deep residual learning](../see-also/resnet-2015.md#exercises).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from dlref.exercises.checking import (
    ExerciseFailed,
    as_int,
    assert_close,
    call,
    first_wrong_count,
    passed,
)
from dlref.models.resnet import BasicBlock, ResNet, ShortcutA

__all__ = ["check_block_parameters", "check_shortcut_a", "check_stage_sides"]


# --- 1. the parameters of a basic block --------------------------------------------------------

_BLOCK_CASES = [(16, 16), (16, 32), (32, 64), (3, 5)]
_BLOCK_MISTAKES = {
    "it matches counting a bias in each convolution": lambda i, o: 9 * i * o + 9 * o * o + 6 * o,
    "it matches leaving out the batch norms' scales and shifts": lambda i, o: 9 * i * o + 9 * o * o,
    "it matches counting one scale and shift per block instead of per batch norm": lambda i, o: (
        9 * i * o + 9 * o * o + 2 * o
    ),
    "it matches giving both convolutions in_channels inputs": lambda i, o: 18 * i * o + 4 * o,
    "it matches a 1x1 projection shortcut (option B), which option A does not have": lambda i, o: (
        9 * i * o + 9 * o * o + 4 * o + (i * o + 2 * o if i != o else 0)
    ),
}


def check_block_parameters(block_parameters: Callable[[int, int], int]) -> None:
    r"""Check ``block_parameters(in_channels, out_channels)``, the size of a basic block.

    Two $3 \times 3$ convolutions without bias ($9 C_\text{in} C_\text{out}$ and
    $9 C_\text{out}^2$ weights) and two batch norms (a scale and a shift per channel each); the
    option-A shortcut has none. Compared with ``BasicBlock``'s count on four blocks.

    Raises:
        ExerciseFailed: If a count differs (the hint names the usual mistake it matches), is not
            an int, or the answer crashes or is still a stub.
    """
    answers = []
    for i, o in _BLOCK_CASES:
        what = f"block_parameters({i}, {o})"
        answers.append(as_int(call(block_parameters, i, o, what=what), what))
    expected = [
        sum(p.numel() for p in BasicBlock(i, o, 2 if o != i else 1).parameters())
        for i, o in _BLOCK_CASES
    ]
    described = [f"block_parameters({i}, {o})" for i, o in _BLOCK_CASES]
    first_wrong_count(answers, expected, described, _BLOCK_CASES, _BLOCK_MISTAKES)
    passed("block_parameters", f"All {len(_BLOCK_CASES)} counts match BasicBlock's.")


# --- 2. the option-A shortcut -------------------------------------------------------------------

_SHORTCUT_CASES = [((2, 3, 8, 8), 3, 1), ((2, 3, 8, 8), 6, 2), ((3, 4, 7, 9), 8, 2)]


def check_shortcut_a(shortcut_a: Callable[[torch.Tensor, int, int], torch.Tensor]) -> None:
    """Check ``shortcut_a(x, out_channels, stride)``, the paper's option-A shortcut.

    Compared with ``ShortcutA`` on an identity case and two that halve the map and add zero
    channels (one with odd sides), values and gradients in float64.

    Raises:
        ExerciseFailed: If a shape, value or gradient differs (the hint says where first), or the
            answer crashes or is still a stub.
    """
    generator = torch.Generator().manual_seed(0)
    for shape, out_channels, stride in _SHORTCUT_CASES:
        x = torch.randn(*shape, generator=generator, dtype=torch.float64)
        expected = ShortcutA(shape[1], out_channels, stride)(x)
        what = f"shortcut_a(x of shape {shape}, out_channels={out_channels}, stride={stride})"
        x_leaf = x.clone().requires_grad_()
        got = call(shortcut_a, x_leaf, out_channels, stride, what=what)
        c_in = shape[1]
        if (
            isinstance(got, torch.Tensor)
            and out_channels > c_in
            and tuple(got.shape) == tuple(expected.shape)
            and torch.allclose(got[:, out_channels - c_in :].detach(), expected[:, :c_in])
            and not got[:, : out_channels - c_in].detach().any()
        ):
            raise ExerciseFailed(
                f"value: {what} puts the zero channels first; keep x's channels first, "
                "then the zeros"
            )
        assert_close(got, expected, f"value: {what}")
        upstream = torch.randn(expected.shape, generator=generator, dtype=torch.float64)
        if not got.requires_grad:
            raise ExerciseFailed(f"gradient: {what} does not depend on x for autograd")
        (grad,) = torch.autograd.grad(got, x_leaf, upstream)
        x_ref = x.clone().requires_grad_()
        (grad_expected,) = torch.autograd.grad(
            ShortcutA(shape[1], out_channels, stride)(x_ref), x_ref, upstream
        )
        assert_close(grad, grad_expected, f"gradient: {what}")
    passed(
        "shortcut_a",
        f"All {len(_SHORTCUT_CASES)} shortcuts match ShortcutA, values and gradients.",
    )


# --- 3. the side of each stage's maps -----------------------------------------------------------

_SIDES = [32, 8, 7, 9, 1, 2, 3, 17]


def check_stage_sides(stage_sides: Callable[[int], tuple[int, int, int]]) -> None:
    """Check ``stage_sides(side)``: the side of the maps after each of the three stages.

    Compared with the maps of a ``ResNet`` run on square inputs of eight sizes, odd ones
    included (a stride-2 convolution with padding 1 keeps ``ceil(n / 2)``).

    Raises:
        ExerciseFailed: If a tuple differs, is not three ints, or the answer crashes or is still
            a stub.
    """
    model = ResNet(8, in_channels=1)
    sides: dict[str, int] = {}
    for name in ("stage1", "stage2", "stage3"):
        getattr(model, name).register_forward_hook(
            lambda _m, _i, out, name=name: sides.__setitem__(name, out.shape[-1])
        )
    for side in _SIDES:
        with torch.no_grad():
            model(torch.zeros(2, 1, side, side))
        expected = (sides["stage1"], sides["stage2"], sides["stage3"])
        what = f"stage_sides({side})"
        got = call(stage_sides, side, what=what)
        if not isinstance(got, tuple | list) or len(got) != 3:
            raise ExerciseFailed(f"{what} returned {got!r}: return a tuple of three ints")
        got = tuple(as_int(g, what) for g in got)
        if got != expected:
            hint = ""
            if got == (side, side // 2, side // 4):
                hint = "; it matches rounding down, but the strided convolution rounds up"
            raise ExerciseFailed(f"value: {what} returned {got}, expected {expected}{hint}")
    passed("stage_sides", f"All {len(_SIDES)} input sizes match ResNet's feature maps.")
