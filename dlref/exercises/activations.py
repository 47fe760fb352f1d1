"""Checks for the exercises of the activations page.

Explained on the page
[Neurons and activation functions](../foundations/neurons-and-activations.md#exercises).

Each check compares the reader's code with PyTorch's own (``torch.autograd`` through
``torch.nn.functional``, ``torch.softmax``) on fixed inputs that include the edge cases: zeros,
large $|x|$, logits in the thousands.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from dlref.exercises.checking import ExerciseFailed, assert_close, call, passed

__all__ = ["check_gelu_grad", "check_silu_function", "check_softmax"]

# Points where an activation's derivative is easy to get wrong: zero, both tails, far out.
_EXTREMES = [-1000.0, -50.0, -10.0, -1e-8, 0.0, 1e-8, 10.0, 50.0, 1000.0]


def _test_inputs(seed: int) -> torch.Tensor:
    """A float64 grid over [-6, 6], the extreme points, and a few random values: shape (2, 60)."""
    generator = torch.Generator().manual_seed(seed)
    grid = torch.linspace(-6, 6, 81, dtype=torch.float64)  # (81,)
    extremes = torch.tensor(_EXTREMES, dtype=torch.float64)  # (9,)
    noise = 3 * torch.randn(30, generator=generator, dtype=torch.float64)  # (30,)
    return torch.cat([grid, extremes, noise]).reshape(2, 60)  # (2, 60): elementwise on any shape


def _autograd_derivative(function: Callable, x: torch.Tensor) -> torch.Tensor:
    """The elementwise derivative of ``function`` at ``x``, by autograd."""
    x = x.clone().requires_grad_(True)
    (gradient,) = torch.autograd.grad(function(x).sum(), x)
    return gradient


def check_gelu_grad(gelu_grad: Callable[[torch.Tensor], torch.Tensor]) -> None:
    r"""Check the derivative of the exact (erf) GELU, $\Phi(x) + x\,\varphi(x)$.

    Compares ``gelu_grad(x)`` with autograd's derivative of ``F.gelu`` (``approximate="none"``)
    in float64, on a 2-D tensor holding a grid over $[-6, 6]$, zero, tiny and huge $|x|$ (up to
    1000) and random values.

    Args:
        gelu_grad: The reader's function, mapping a float tensor to $\operatorname{GELU}'(x)$
            elementwise, same shape.

    Raises:
        ExerciseFailed: If it crashes, is a stub, returns another shape, a non-finite value or
            a wrong value somewhere.
    """
    x = _test_inputs(seed=0)  # (2, 60)
    expected = _autograd_derivative(F.gelu, x)  # (2, 60)
    got = call(gelu_grad, x.clone(), what="gelu_grad(x)")
    assert_close(got, expected, "gelu_grad(x), the value of GELU'(x)", rtol=1e-7, atol=1e-10)
    passed(
        "gelu_grad",
        "It matches autograd through F.gelu on 120 inputs, from -1000 to 1000, to float64 "
        "precision.",
    )


def check_silu_function(silu_function: type[torch.autograd.Function]) -> None:
    r"""Check a ``torch.autograd.Function`` for SiLU with a hand-written backward.

    ``silu_function.apply(x)`` must give $x\,\sigma(x)$, and its backward must turn the gradient
    arriving at the output into $\text{grad\_output} \cdot \operatorname{SiLU}'(x)$. Both are
    compared with ``F.silu`` and autograd through it, in float64, on a 2-D tensor that includes
    zero and $|x|$ up to 1000, with a random upstream gradient (not all ones).

    Args:
        silu_function: The reader's subclass of ``torch.autograd.Function``, with static
            ``forward(ctx, x)`` and ``backward(ctx, grad_output)``.

    Raises:
        ExerciseFailed: If it is not an autograd Function, is a stub, or its output or the
            gradient its backward returns differs from PyTorch's.
    """
    if not (isinstance(silu_function, type) and issubclass(silu_function, torch.autograd.Function)):
        raise ExerciseFailed(
            "expected a subclass of torch.autograd.Function (pass the class itself, not an "
            f"instance or a function), got {silu_function!r}"
        )
    x = _test_inputs(seed=1)  # (2, 60)
    upstream = torch.randn(x.shape, generator=torch.Generator().manual_seed(2), dtype=x.dtype)

    reference_input = x.clone().requires_grad_(True)
    reference = F.silu(reference_input)  # (2, 60)
    (expected_gradient,) = torch.autograd.grad(reference, reference_input, upstream)

    answer_input = x.clone().requires_grad_(True)
    got = call(silu_function.apply, answer_input, what=f"{silu_function.__name__}.apply(x)")
    assert_close(got, reference, f"{silu_function.__name__}.apply(x), the value", rtol=1e-9)
    if not got.requires_grad:
        raise ExerciseFailed(
            f"the output of {silu_function.__name__}.apply(x) does not require grad, so no "
            "gradient can flow back through it: return a tensor from forward and let "
            "Function.apply connect it to the graph"
        )
    try:
        (gradient,) = torch.autograd.grad(got, answer_input, upstream, allow_unused=True)
    except NotImplementedError as exc:
        raise ExerciseFailed(
            "backward still raises NotImplementedError: replace the stub with your code"
        ) from exc
    except Exception as exc:
        raise ExerciseFailed(
            f"the backward pass through {silu_function.__name__} raised {type(exc).__name__}: {exc}"
        ) from exc
    if gradient is None:
        raise ExerciseFailed(
            "backward returned None: it must return the gradient with respect to x, "
            "the same shape as x"
        )
    assert_close(
        gradient,
        expected_gradient,
        "the gradient your backward returns (grad_output times SiLU'(x))",
        rtol=1e-9,
        atol=1e-12,
    )
    passed(
        silu_function.__name__,
        "Forward and hand-written backward match F.silu and autograd on 120 inputs, "
        "from -1000 to 1000.",
    )


def check_softmax(softmax: Callable[..., torch.Tensor]) -> None:
    r"""Check a numerically stable ``softmax(z, dim=-1)``, values and gradients.

    Compares with ``torch.softmax`` on: small float64 logits along the last dimension; float64
    logits in the thousands, rows far apart from each other (the formula
    $e^{z_i} / \sum_j e^{z_j}$ overflows there); a 3-D tensor normalised along ``dim=1``;
    float32 logits in the hundreds; and the gradient autograd computes through the answer
    for a random upstream gradient.

    Args:
        softmax: The reader's function ``softmax(z, dim=-1)``, returning probabilities of the
            same shape as ``z`` that sum to 1 along ``dim``.

    Raises:
        ExerciseFailed: If it crashes, is a stub, gives a wrong shape, a non-finite or wrong
            probability, or a wrong gradient.
    """
    generator = torch.Generator().manual_seed(3)
    small = torch.randn(4, 5, generator=generator, dtype=torch.float64)  # (B, C) = (4, 5)
    huge = 1000 * torch.randn(4, 5, generator=generator, dtype=torch.float64)  # (4, 5)
    huge[1] = huge[1] - 5000  # a row far below the others: a max over the whole tensor fails
    huge[2] = torch.tensor([1000.0, 1000.0, 1000.0, 1000.0, 1000.0], dtype=torch.float64)
    three_d = 300 * torch.randn(2, 6, 3, generator=generator, dtype=torch.float64)  # (2, C, 3)
    float32 = (200 * torch.randn(3, 7, generator=generator)).float()  # (3, 7) float32

    cases = [
        ("softmax(z) on small logits", small, {}, 1e-9),
        ("softmax(z) on logits in the thousands", huge, {}, 1e-9),
        ("softmax(z, dim=1) on a (2, 6, 3) tensor", three_d, {"dim": 1}, 1e-9),
        ("softmax(z) on float32 logits in the hundreds", float32, {}, 1e-5),
    ]
    for what, z, kwargs, rtol in cases:
        expected = torch.softmax(z, dim=kwargs.get("dim", -1))
        got = call(softmax, z.clone(), what=what, **kwargs)
        if isinstance(got, torch.Tensor) and got.shape == z.shape and not got.isfinite().all():
            index = tuple(torch.nonzero(~got.isfinite())[0].tolist())
            raise ExerciseFailed(
                f"{what}: entry {index} is {got[index].item()}, expected the finite "
                f"{expected[index].item():.6g}. exp() of a logit above about 709 is infinite "
                "even in float64 (above 88 in float32), and inf / inf or 0 / 0 is nan: "
                "which shift of the logits leaves the softmax unchanged and keeps every "
                "exponent small, in every row?"
            )
        assert_close(got, expected, f"{what}, the probabilities", rtol=rtol, atol=1e-12)
        if isinstance(got, torch.Tensor) and got.dtype != z.dtype:
            raise ExerciseFailed(f"{what}: dtype {got.dtype}, expected {z.dtype} like the input")

    logits = torch.cat([small, huge])  # (8, 5): gradients away from and near saturation
    upstream = torch.randn(logits.shape, generator=generator, dtype=torch.float64)  # (8, 5)
    reference_input = logits.clone().requires_grad_(True)
    (expected_gradient,) = torch.autograd.grad(
        torch.softmax(reference_input, dim=-1), reference_input, upstream
    )
    answer_input = logits.clone().requires_grad_(True)
    got = call(softmax, answer_input, what="softmax(z) with z.requires_grad")
    if not got.requires_grad:
        raise ExerciseFailed(
            "softmax(z) with z.requires_grad returned a tensor that does not require grad: "
            "autograd cannot differentiate through it (detached, or computed outside torch?)"
        )
    (gradient,) = torch.autograd.grad(got, answer_input, upstream, allow_unused=True)
    if gradient is None:
        raise ExerciseFailed("no gradient reaches z through your softmax: is z detached?")
    assert_close(
        gradient, expected_gradient, "the gradient through softmax(z)", rtol=1e-9, atol=1e-12
    )
    passed(
        "softmax",
        "Probabilities and gradients match torch.softmax, for logits from a few units to "
        "thousands, in float32 and float64, along any dim.",
    )
