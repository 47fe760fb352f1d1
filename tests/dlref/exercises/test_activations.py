"""The activations page's exercise checks reject stubs and typical wrong answers, with hints."""

import math

import pytest
import torch

from dlref.exercises import (
    ExerciseFailed,
    check_gelu_grad,
    check_silu_function,
    check_softmax,
)


def _stub(x, dim=-1): ...


def _raising_stub(x, dim=-1):
    raise NotImplementedError


# --- GELU's derivative --------------------------------------------------------------------------


@pytest.mark.parametrize("stub", [_stub, _raising_stub])
def test_gelu_grad_rejects_a_stub(stub):
    with pytest.raises(ExerciseFailed, match="replace the stub"):
        check_gelu_grad(stub)


def test_gelu_grad_rejects_the_cdf_alone():
    """Forgetting the product rule's x * phi(x) term: the value differs, at a named index."""

    def cdf_only(x):
        return 0.5 * (1 + torch.erf(x / math.sqrt(2)))

    with pytest.raises(ExerciseFailed, match=r"value of GELU'\(x\) at index \(\d+, \d+\): got"):
        check_gelu_grad(cdf_only)


def test_gelu_grad_rejects_the_tanh_approximation():
    """The derivative of the tanh form is within 1e-3 of the exact one: still a wrong value."""

    def tanh_form(x):
        u = math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)
        du = math.sqrt(2 / math.pi) * (1 + 3 * 0.044715 * x**2)
        t = torch.tanh(u)
        return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * du

    with pytest.raises(ExerciseFailed, match="value of GELU'.*entries differ"):
        check_gelu_grad(tanh_form)


def test_gelu_grad_rejects_a_wrong_shape():
    with pytest.raises(ExerciseFailed, match=r"shape \(120,\), expected \(2, 60\)"):
        check_gelu_grad(lambda x: torch.nn.functional.gelu(x).flatten())


def test_gelu_grad_rejects_an_overflow():
    """A form that overflows for large |x| is reported as a non-finite entry."""

    def overflowing(x):
        cdf = 0.5 * (1 + torch.erf(x / math.sqrt(2)))
        return cdf + x * torch.exp(x) / torch.exp(x + 0.5 * x * x) / math.sqrt(2 * math.pi)

    with pytest.raises(ExerciseFailed, match="overflow"):
        check_gelu_grad(overflowing)


# --- SiLU as a torch.autograd.Function ----------------------------------------------------------


class _StubFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x): ...

    @staticmethod
    def backward(ctx, grad_output): ...


class _ForwardOnly(torch.autograd.Function):
    """A right forward; backward still to write."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * torch.sigmoid(x)

    @staticmethod
    def backward(ctx, grad_output):
        raise NotImplementedError


class _BackwardReturnsNone(_ForwardOnly):
    @staticmethod
    def backward(ctx, grad_output): ...


class _IgnoresGradOutput(_ForwardOnly):
    """The typical mistake: returns SiLU'(x) itself, not grad_output * SiLU'(x)."""

    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        s = torch.sigmoid(x)
        return s * (1 + x * (1 - s))


class _SigmoidAsDerivative(_ForwardOnly):
    """Forgets the product rule: d/dx x sigma(x) taken as sigma(x)."""

    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        return grad_output * torch.sigmoid(x)


class _WrongForward(_ForwardOnly):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return torch.sigmoid(x)


def test_silu_function_rejects_a_stub_forward():
    with pytest.raises(ExerciseFailed, match="returned None: replace the stub"):
        check_silu_function(_StubFunction)


def test_silu_function_rejects_a_stub_backward():
    with pytest.raises(ExerciseFailed, match="backward still raises NotImplementedError"):
        check_silu_function(_ForwardOnly)
    with pytest.raises(ExerciseFailed, match="backward returned None"):
        check_silu_function(_BackwardReturnsNone)


def test_silu_function_rejects_a_plain_function():
    with pytest.raises(ExerciseFailed, match="subclass of torch.autograd.Function"):
        check_silu_function(torch.nn.functional.silu)


def test_silu_function_rejects_a_backward_that_ignores_grad_output():
    with pytest.raises(ExerciseFailed, match=r"gradient your backward returns .* at index"):
        check_silu_function(_IgnoresGradOutput)


def test_silu_function_rejects_a_backward_without_the_product_rule():
    with pytest.raises(ExerciseFailed, match=r"gradient your backward returns .* entries differ"):
        check_silu_function(_SigmoidAsDerivative)


def test_silu_function_rejects_a_wrong_forward():
    with pytest.raises(ExerciseFailed, match=r"apply\(x\), the value at index"):
        check_silu_function(_WrongForward)


# --- A numerically stable softmax ---------------------------------------------------------------


@pytest.mark.parametrize("stub", [_stub, _raising_stub])
def test_softmax_rejects_a_stub(stub):
    with pytest.raises(ExerciseFailed, match="replace the stub"):
        check_softmax(stub)


def test_softmax_rejects_the_naive_formula():
    """exp(z) / sum exp(z) is right on small logits and nan on large ones: the hint says why."""

    def naive(z, dim=-1):
        return torch.exp(z) / torch.exp(z).sum(dim=dim, keepdim=True)

    with pytest.raises(ExerciseFailed, match=r"logits in the thousands: entry .* is nan.*infinite"):
        check_softmax(naive)


def test_softmax_rejects_one_maximum_for_the_whole_tensor():
    """Subtracting the tensor's maximum instead of each row's: a row far below underflows."""

    def global_shift(z, dim=-1):
        e = torch.exp(z - z.max())
        return e / e.sum(dim=dim, keepdim=True)

    with pytest.raises(ExerciseFailed, match=r"is nan.*in every row"):
        check_softmax(global_shift)


def test_softmax_rejects_an_ignored_dim():
    def last_dim_only(z, dim=-1):
        return torch.softmax(z, dim=-1)

    with pytest.raises(ExerciseFailed, match=r"dim=1.*probabilities at index \(\d+, \d+, \d+\)"):
        check_softmax(last_dim_only)


def test_softmax_rejects_a_detached_result():
    def detached(z, dim=-1):
        return torch.softmax(z.detach(), dim=dim)

    with pytest.raises(ExerciseFailed, match="does not require grad"):
        check_softmax(detached)


def test_softmax_rejects_a_wrong_gradient():
    """Right values but a broken backward: the gradient comparison catches it."""

    class ValuesOnly(torch.autograd.Function):
        @staticmethod
        def forward(ctx, z):
            return torch.softmax(z, dim=-1)

        @staticmethod
        def backward(ctx, grad_output):
            return grad_output  # as if softmax were the identity

    def wrong_backward(z, dim=-1):
        if dim not in (-1, z.dim() - 1):
            return torch.softmax(z, dim=dim)
        return ValuesOnly.apply(z)

    with pytest.raises(ExerciseFailed, match=r"gradient through softmax\(z\) at index"):
        check_softmax(wrong_backward)


def test_softmax_rejects_a_changed_dtype():
    def always_float64(z, dim=-1):
        return torch.softmax(z.double(), dim=dim)

    with pytest.raises(ExerciseFailed, match="dtype torch.float64, expected torch.float32"):
        check_softmax(always_float64)
