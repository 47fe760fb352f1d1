"""The speed page's exercise checks refuse stubs, plain functions, wrong backwards and graphs of
many nodes, with a hint; the page's own run proves that its solutions pass."""

import pytest
import torch
import torch.nn.functional as F

from dlref.exercises import ExerciseFailed, check_layer_norm_function, check_silu_function


class SiLU(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        s = torch.sigmoid(x)
        ctx.save_for_backward(x, s)
        return x * s

    @staticmethod
    def backward(ctx, grad):
        x, s = ctx.saved_tensors
        return grad * s * (1 + x * (1 - s))


class SiLUStub(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        raise NotImplementedError

    @staticmethod
    def backward(ctx, grad):
        raise NotImplementedError


class SiLUSigmoidGrad(torch.autograd.Function):
    """Backward forgets the product rule: grad * sigma'(x)."""

    @staticmethod
    def forward(ctx, x):
        s = torch.sigmoid(x)
        ctx.save_for_backward(s)
        return x * s

    @staticmethod
    def backward(ctx, grad):
        (s,) = ctx.saved_tensors
        return grad * s * (1 - s)


class SiLUNaive(torch.autograd.Function):
    """sigma(x) as 1 / (1 + exp(-x)), and its backward through exp: NaN at -800."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x / (1 + torch.exp(-x))

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        e = torch.exp(-x)
        return grad * ((1 + e) + x * e) / (1 + e) ** 2


def test_silu_solution_passes(capsys):
    check_silu_function(SiLU)
    assert capsys.readouterr().out.startswith("Correct")


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        (SiLUStub, "NotImplementedError"),
        (SiLUSigmoidGrad, "gradient of x"),
        (SiLUNaive, "gradient of x, extreme x"),
        (lambda x: F.silu(x), "subclasses torch.autograd.Function"),
        (F.silu, "subclasses torch.autograd.Function"),
    ],
)
def test_silu_check_refuses_wrong_answers(answer, hint):
    with pytest.raises(ExerciseFailed, match=hint):
        check_silu_function(answer)


def test_silu_check_refuses_a_graph_of_many_nodes():
    class SiLU(torch.autograd.Function):  # noqa: N801 - the name the check expects
        @staticmethod
        def forward(ctx, x):
            return x * torch.sigmoid(x)

        @staticmethod
        def backward(ctx, grad):
            raise AssertionError("never called")

    class Composite(SiLU):
        @staticmethod
        def apply(x):  # an autograd chain, not one node
            return x * torch.sigmoid(x)

    with pytest.raises(ExerciseFailed, match="one node"):
        check_silu_function(Composite)


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
    check_layer_norm_function(_layer_norm_class(_right))
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
        check_layer_norm_function(_layer_norm_class(backward_x))


def test_layer_norm_check_names_a_missing_gradient():
    base = _layer_norm_class(_right)

    class LayerNormFunction(base):
        @staticmethod
        def backward(ctx, grad):
            grad_x, grad_w, _, _ = base.backward(ctx, grad)
            return grad_x, grad_w, None, None

    with pytest.raises(ExerciseFailed, match="None for bias"):
        check_layer_norm_function(LayerNormFunction)
