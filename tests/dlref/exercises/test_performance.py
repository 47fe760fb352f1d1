"""The speed page's exercise checks refuse stubs, plain functions, wrong backwards and graphs of
many nodes, with a hint; the page's own run proves that its solutions pass."""

import pytest
import torch

from dlref.exercises import ExerciseFailed, check_fused_layer_norm, check_fused_softmax


class Softmax(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        e = torch.exp(x - x.amax(-1, keepdim=True))
        s = e / e.sum(-1, keepdim=True)
        ctx.save_for_backward(s)
        return s

    @staticmethod
    def backward(ctx, grad):
        (s,) = ctx.saved_tensors
        return s * (grad - (grad * s).sum(-1, keepdim=True))


class SoftmaxUnshifted(Softmax):
    """exp(x) without the maximum subtracted: overflows in the thousands."""

    @staticmethod
    def forward(ctx, x):
        e = torch.exp(x)
        s = e / e.sum(-1, keepdim=True)
        ctx.save_for_backward(s)
        return s


class SoftmaxDiagonalGrad(Softmax):
    """Only the diagonal of the Jacobian: s (1 - s) grad."""

    @staticmethod
    def backward(ctx, grad):
        (s,) = ctx.saved_tensors
        return grad * s * (1 - s)


class SoftmaxStub(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        raise NotImplementedError

    @staticmethod
    def backward(ctx, grad):
        raise NotImplementedError


def test_softmax_solution_passes(capsys):
    check_fused_softmax(Softmax)
    assert capsys.readouterr().out.startswith("Correct")


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        (SoftmaxStub, "NotImplementedError"),
        (SoftmaxDiagonalGrad, "gradient of x"),
        (SoftmaxUnshifted, "logits in the thousands"),
        (lambda x: torch.softmax(x, -1), "subclasses torch.autograd.Function"),
    ],
)
def test_softmax_check_refuses_wrong_answers(answer, hint):
    with pytest.raises(ExerciseFailed, match=hint):
        check_fused_softmax(answer)


def test_softmax_check_refuses_a_graph_of_many_nodes():
    class Composite(Softmax):
        @staticmethod
        def apply(x):  # an autograd chain, not one node
            e = torch.exp(x - x.amax(-1, keepdim=True))
            return e / e.sum(-1, keepdim=True)

    with pytest.raises(ExerciseFailed, match="one node"):
        check_fused_softmax(Composite)


def _layer_norm_class(backward_x):
    class LayerNormFunction(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x, weight, bias, eps):
            var, mean = torch.var_mean(x, dim=-1, correction=0, keepdim=True)
            inv_std = torch.rsqrt(var + eps)
            x_hat = (x - mean) * inv_std
            ctx.save_for_backward(x_hat, inv_std, weight)
            return x_hat * weight + bias

        @staticmethod
        def backward(ctx, grad):
            x_hat, inv_std, weight = ctx.saved_tensors
            dims = tuple(range(grad.ndim - 1))
            grad_x = backward_x(grad * weight, x_hat, inv_std)
            return grad_x, (grad * x_hat).sum(dims), grad.sum(dims), None

    return LayerNormFunction


def _right(g, x_hat, inv_std):
    return inv_std * (g - g.mean(-1, keepdim=True) - x_hat * (g * x_hat).mean(-1, keepdim=True))


def test_layer_norm_solution_passes(capsys):
    check_fused_layer_norm(_layer_norm_class(_right))
    assert capsys.readouterr().out.startswith("Correct")


@pytest.mark.parametrize(
    "backward_x",
    [
        lambda g, x_hat, inv_std: inv_std * g,  # as if the statistics were constants
        lambda g, x_hat, inv_std: inv_std * (g - g.mean(-1, keepdim=True)),  # the mean's term only
    ],
    ids=["statistics-as-constants", "no-variance-term"],
)
def test_layer_norm_check_refuses_a_wrong_backward(backward_x):
    with pytest.raises(ExerciseFailed, match="gradient of x"):
        check_fused_layer_norm(_layer_norm_class(backward_x))


def test_layer_norm_check_names_a_missing_gradient():
    base = _layer_norm_class(_right)

    class LayerNormFunction(base):
        @staticmethod
        def backward(ctx, grad):
            grad_x, grad_w, _, _ = base.backward(ctx, grad)
            return grad_x, grad_w, None, None

    with pytest.raises(ExerciseFailed, match="None for bias"):
        check_fused_layer_norm(LayerNormFunction)
