"""Checks for the exercises of the page on speed: layers fused into one autograd node.

Explained on the page [How fast is dlref?](../training/performance.md#exercises).

Each check runs the reader's ``torch.autograd.Function`` in float64 on a few inputs (extreme
values included), compares the values and the gradients of every input with PyTorch's built-in
(``torch.softmax``, ``F.layer_norm``) differentiated by autograd, and checks that autograd
recorded the answer as one node, which is the point of writing the backward by hand.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from dlref.exercises.checking import ExerciseFailed, assert_close, call, passed

__all__ = ["check_fused_softmax", "check_fused_layer_norm"]


def _function_class(answer: object, name: str) -> type[torch.autograd.Function]:
    """The reader's answer must be a subclass of ``torch.autograd.Function`` (not an instance)."""
    if not (isinstance(answer, type) and issubclass(answer, torch.autograd.Function)):
        raise ExerciseFailed(
            f"expected {name}, a class that subclasses torch.autograd.Function, got "
            f"{type(answer).__name__ if not isinstance(answer, type) else answer.__name__}"
        )
    return answer


def _one_node(output: object, name: str) -> torch.Tensor:
    """The output must be a tensor whose whole graph is one node of the reader's Function."""
    if not isinstance(output, torch.Tensor):
        raise ExerciseFailed(f"{name}.apply returned {type(output).__name__}, not a tensor")
    node = output.grad_fn
    if node is None:
        raise ExerciseFailed(
            f"{name}.apply returned a tensor without a gradient: return a tensor computed from "
            f"the input inside forward (autograd attaches {name}'s backward to it)"
        )
    parents = [parent for parent, _ in node.next_functions if parent is not None]
    if not type(node).__name__.startswith(name) or any(
        type(parent).__name__ != "AccumulateGrad" for parent in parents
    ):
        raise ExerciseFailed(
            f"autograd recorded {type(node).__name__} fed by "
            f"{[type(parent).__name__ for parent in parents]}: the output should come from "
            f"{name}'s own backward, straight from the inputs (one node)"
        )
    return output


def _assert_gradients_match(
    output: torch.Tensor,
    expected: torch.Tensor,
    inputs: dict[str, torch.Tensor],
    name: str,
    described: str,
    **tolerance: float,
) -> None:
    """The answer's gradients of ``inputs`` (named) equal autograd's through ``expected``, for
    one random upstream gradient."""
    generator = torch.Generator().manual_seed(1)
    upstream = torch.randn(output.shape, generator=generator, dtype=output.dtype)
    tensors = list(inputs.values())
    try:
        got = torch.autograd.grad(output, tensors, upstream, allow_unused=True)
    except Exception as exc:
        raise ExerciseFailed(
            f"{name}'s backward raised {type(exc).__name__}: {exc}; it returns one gradient "
            f"per input of forward (None for a number such as eps)"
        ) from exc
    wanted = torch.autograd.grad(expected, tensors, upstream)
    for input_name, g, w in zip(inputs, got, wanted, strict=True):
        if g is None:
            raise ExerciseFailed(f"{name}'s backward returned None for {input_name}")
        assert_close(g, w, f"gradient of {input_name}, {described}", **tolerance)


def check_fused_softmax(answer: type[torch.autograd.Function]) -> None:
    r"""Check a ``torch.autograd.Function`` for the softmax over the last dimension.

    ``answer.apply(x)`` must equal ``torch.softmax(x, dim=-1)`` and its gradient autograd's
    through it, $s \odot (g - \sum_j g_j s_j)$, in float64, on random inputs of two shapes and on
    logits in the thousands (where an unshifted exponential overflows), and the output's graph
    must be the answer's one node.

    Raises:
        ExerciseFailed: If a value or gradient differs, the graph has other nodes, or the
            answer is not a Function subclass.
    """
    softmax = _function_class(answer, "Softmax")
    name = softmax.__name__
    generator = torch.Generator().manual_seed(0)
    cases = [
        ("x of shape (16, 10)", 3 * torch.randn(16, 10, generator=generator, dtype=torch.float64)),
        ("x of shape (4, 6, 12)", torch.randn(4, 6, 12, generator=generator, dtype=torch.float64)),
        ("logits in the thousands", torch.tensor([[1000.0, 1001.0, 999.0], [-5e3, 0.0, 5e3]])),
    ]
    for described, x in cases:
        x = x.to(torch.float64).requires_grad_()
        output = _one_node(call(softmax.apply, x, what=f"{name}.apply({described})"), name)
        expected = torch.softmax(x, dim=-1)
        assert_close(output, expected, f"{name}.apply, value, {described}", rtol=1e-10)
        _assert_gradients_match(output, expected, {"x": x}, name, described, rtol=1e-10, atol=1e-12)
    passed("softmax", "one autograd node, with the values and gradients of torch.softmax")


def check_fused_layer_norm(answer: type[torch.autograd.Function]) -> None:
    r"""Check a ``torch.autograd.Function`` for layer norm over the last dimension.

    ``answer.apply(x, weight, bias, eps)`` must equal ``F.layer_norm(x, (D,), weight, bias,
    eps)``, and the gradients of ``x``, ``weight`` and ``bias`` must equal autograd's through
    it, in float64, on ``(B, D)`` and ``(B, T, D)`` inputs, a large mean, and a large ``eps``;
    the output's graph must be the answer's one node.

    Raises:
        ExerciseFailed: If a value or gradient differs, the graph has other nodes, or the
            answer is not a Function subclass.
    """
    layer_norm = _function_class(answer, "LayerNormFunction")
    name = layer_norm.__name__
    generator = torch.Generator().manual_seed(0)
    f64 = {"generator": generator, "dtype": torch.float64}
    cases = [
        ("x of shape (16, 10)", torch.randn(16, 10, **f64), 1e-5),
        ("x of shape (4, 6, 12)", 3 * torch.randn(4, 6, 12, **f64) - 1, 1e-5),
        ("x of shape (8, 5) with mean 1000", 1000 + torch.randn(8, 5, **f64), 1e-5),
        ("x of shape (8, 5) with eps = 1", torch.randn(8, 5, **f64), 1.0),
    ]
    for described, x, eps in cases:
        d = x.shape[-1]
        weight = (1 + torch.randn(d, **f64)).requires_grad_()
        bias = torch.randn(d, **f64).requires_grad_()
        x = x.requires_grad_()
        what = f"{name}.apply({described}, weight, bias, eps={eps:g})"
        output = _one_node(call(layer_norm.apply, x, weight, bias, eps, what=what), name)
        expected = F.layer_norm(x, (d,), weight, bias, eps)
        assert_close(output, expected, f"{name}.apply, value, {described}", rtol=1e-8, atol=1e-9)
        inputs = {"x": x, "weight": weight, "bias": bias}
        _assert_gradients_match(output, expected, inputs, name, described, rtol=1e-8, atol=1e-9)
    passed("layer norm", "one autograd node, with the values and gradients of F.layer_norm")
