"""dlref.activations against torch.nn.functional: values, gradients, extremes and errors."""

import pytest
import torch
import torch.nn.functional as F

from dlref import activations as A
from tests.dlref.compare import forward_and_grads

# (ours, torch's, our closed-form derivative, keyword arguments shared by all three)
ELEMENTWISE = [
    pytest.param(A.sigmoid, torch.sigmoid, A.sigmoid_grad, {}, id="sigmoid"),
    pytest.param(A.tanh, torch.tanh, A.tanh_grad, {}, id="tanh"),
    pytest.param(A.relu, F.relu, A.relu_grad, {}, id="relu"),
    pytest.param(A.leaky_relu, F.leaky_relu, A.leaky_relu_grad, {}, id="leaky_relu"),
    pytest.param(
        A.leaky_relu,
        F.leaky_relu,
        A.leaky_relu_grad,
        {"negative_slope": 0.2},
        id="leaky_relu-slope0.2",
    ),
    pytest.param(A.elu, F.elu, A.elu_grad, {}, id="elu"),
    pytest.param(A.elu, F.elu, A.elu_grad, {"alpha": 0.5}, id="elu-alpha0.5"),
    pytest.param(A.gelu, F.gelu, A.gelu_grad, {}, id="gelu"),
    pytest.param(A.gelu, F.gelu, A.gelu_grad, {"approximate": "tanh"}, id="gelu-tanh"),
    pytest.param(A.silu, F.silu, A.silu_grad, {}, id="silu"),
]
SOFTMAXES = [
    pytest.param(A.softmax, F.softmax, id="softmax"),
    pytest.param(A.log_softmax, F.log_softmax, id="log_softmax"),
]
DTYPES = [torch.float32, torch.float64]
EXTREMES = [-1000.0, -100.0, -30.0, -1e-8, 0.0, 1e-8, 30.0, 100.0, 1000.0]


def assert_same_as_torch(ours, theirs, x, upstream, **kwargs):
    """Values and gradients agree, and are finite exactly where torch's are."""
    y, gx, _ = forward_and_grads(ours, x, upstream, **kwargs)
    y_ref, gx_ref, _ = forward_and_grads(theirs, x, upstream, **kwargs)
    torch.testing.assert_close(y, y_ref)
    torch.testing.assert_close(gx, gx_ref)
    assert torch.equal(torch.isfinite(y), torch.isfinite(y_ref))
    assert torch.equal(torch.isfinite(gx), torch.isfinite(gx_ref))


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize(("ours", "theirs", "grad", "kwargs"), ELEMENTWISE)
def test_elementwise_matches_torch(ours, theirs, grad, kwargs, seed):
    g = torch.Generator().manual_seed(seed)
    x = 4 * torch.randn(16, 33, generator=g, dtype=torch.float64)  # (16, 33)
    x[0, :3] = torch.tensor([0.0, 1e-12, -1e-12])  # the kink of relu/leaky_relu/elu sits at 0
    upstream = torch.randn(16, 33, generator=g, dtype=torch.float64)
    assert_same_as_torch(ours, theirs, x, upstream, **kwargs)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("ours", "theirs", "grad", "kwargs"), ELEMENTWISE)
def test_elementwise_extreme_inputs_stay_finite(ours, theirs, grad, kwargs, dtype):
    x = torch.tensor(EXTREMES, dtype=dtype)
    upstream = torch.ones_like(x)
    assert_same_as_torch(ours, theirs, x, upstream, **kwargs)
    y, gx, _ = forward_and_grads(ours, x, upstream, **kwargs)
    assert torch.isfinite(y).all() and torch.isfinite(gx).all()


@pytest.mark.parametrize(("ours", "theirs", "grad", "kwargs"), ELEMENTWISE)
def test_closed_form_derivative_matches_autograd(ours, theirs, grad, kwargs):
    g = torch.Generator().manual_seed(3)
    x = torch.cat([4 * torch.randn(200, generator=g, dtype=torch.float64), torch.tensor(EXTREMES)])
    x = x.to(torch.float64)  # (209,)
    _, autograd_of_torch, _ = forward_and_grads(theirs, x, torch.ones_like(x), **kwargs)
    _, autograd_of_ours, _ = forward_and_grads(ours, x, torch.ones_like(x), **kwargs)
    torch.testing.assert_close(grad(x, **kwargs), autograd_of_torch)
    torch.testing.assert_close(grad(x, **kwargs), autograd_of_ours)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("ours", "theirs", "grad", "kwargs"), ELEMENTWISE)
def test_elementwise_keeps_shape_dtype_and_nan(ours, theirs, grad, kwargs, dtype):
    x = torch.tensor([[float("nan"), 1.0, -1.0]], dtype=dtype)  # (1, 3)
    y = ours(x, **kwargs)
    assert y.shape == x.shape and y.dtype == dtype
    assert grad(x, **kwargs).dtype == dtype
    assert torch.isnan(y[0, 0]) and torch.isnan(theirs(x, **kwargs)[0, 0])


@pytest.mark.parametrize("dim", [0, 1, 2, -1, -3])
@pytest.mark.parametrize(("ours", "theirs"), SOFTMAXES)
def test_softmax_matches_torch(ours, theirs, dim):
    g = torch.Generator().manual_seed(dim + 10)
    x = 3 * torch.randn(4, 5, 6, generator=g, dtype=torch.float64)  # (B, T, C)
    upstream = torch.randn(4, 5, 6, generator=g, dtype=torch.float64)
    assert_same_as_torch(ours, theirs, x, upstream, dim=dim)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("ours", "theirs"), SOFTMAXES)
def test_softmax_of_huge_logits_is_finite(ours, theirs, dtype):
    g = torch.Generator().manual_seed(4)
    x = (1e4 + 5 * torch.randn(8, 10, generator=g)).to(dtype)  # (B, C), e^x overflows
    assert not torch.isfinite(torch.exp(x)).any()  # the naive formula would give inf / inf
    upstream = torch.randn(8, 10, generator=g).to(dtype)
    assert_same_as_torch(ours, theirs, x, upstream, dim=-1)
    y, gx, _ = forward_and_grads(ours, x, upstream, dim=-1)
    assert torch.isfinite(y).all() and torch.isfinite(gx).all()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("ours", "theirs"), SOFTMAXES)
def test_softmax_with_masked_entries(ours, theirs, dtype):
    g = torch.Generator().manual_seed(5)
    x = torch.randn(6, 7, generator=g).to(dtype)  # (B, C)
    mask = torch.rand(6, 7, generator=g) < 0.5
    mask[:, 0] = False  # every row keeps a finite entry
    mask[1, 1:] = True  # one row keeps only that entry
    x = x.masked_fill(mask, float("-inf"))
    upstream = torch.randn(6, 7, generator=g).to(dtype)
    assert_same_as_torch(ours, theirs, x, upstream, dim=-1)
    y, gx, _ = forward_and_grads(ours, x, upstream, dim=-1)
    assert torch.isfinite(gx).all()
    if ours is A.softmax:
        assert torch.equal(y[mask], torch.zeros_like(y[mask]))
        torch.testing.assert_close(y.sum(dim=-1), torch.ones(6, dtype=dtype))


def test_softmax_of_a_scalar_matches_torch():
    x = torch.tensor(2.0, dtype=torch.float64)
    torch.testing.assert_close(A.softmax(x, dim=0), F.softmax(x, dim=0))
    torch.testing.assert_close(A.log_softmax(x, dim=-1), F.log_softmax(x, dim=-1))


def test_implementations_do_not_call_torch_builtins(monkeypatch):
    def forbidden(*args, **kwargs):
        raise AssertionError("dlref.activations called a built-in activation")

    for name in ("sigmoid", "tanh", "relu", "softmax", "log_softmax"):
        monkeypatch.setattr(torch, name, forbidden)
    for name in ("sigmoid", "tanh", "relu", "leaky_relu", "elu", "gelu", "silu", "softmax"):
        monkeypatch.setattr(F, name, forbidden)
    monkeypatch.setattr(F, "log_softmax", forbidden)
    x = torch.randn(3, 4, requires_grad=True)
    outputs = [
        A.sigmoid(x),
        A.tanh(x),
        A.relu(x),
        A.leaky_relu(x),
        A.elu(x),
        A.gelu(x),
        A.gelu(x, approximate="tanh"),
        A.silu(x),
        A.softmax(x),
        A.log_softmax(x),
    ]
    sum(y.sum() for y in outputs).backward()
    assert torch.isfinite(x.grad).all()


ALL_FUNCTIONS = [
    A.sigmoid,
    A.sigmoid_grad,
    A.tanh,
    A.tanh_grad,
    A.relu,
    A.relu_grad,
    A.leaky_relu,
    A.leaky_relu_grad,
    A.elu,
    A.elu_grad,
    A.gelu,
    A.gelu_grad,
    A.silu,
    A.silu_grad,
    A.softmax,
    A.log_softmax,
]


@pytest.mark.parametrize("fn", ALL_FUNCTIONS, ids=lambda fn: fn.__name__)
def test_rejects_integer_tensors(fn):
    with pytest.raises(
        TypeError,
        match=rf"^{fn.__name__} expects x to be a floating-point tensor, got dtype torch.int64$",
    ):
        fn(torch.arange(3))


@pytest.mark.parametrize("fn", ALL_FUNCTIONS, ids=lambda fn: fn.__name__)
def test_rejects_non_tensors(fn):
    with pytest.raises(
        TypeError, match=rf"^{fn.__name__} expects x to be a torch.Tensor, got list$"
    ):
        fn([0.0, 1.0])


@pytest.mark.parametrize("fn", [A.gelu, A.gelu_grad], ids=lambda fn: fn.__name__)
def test_gelu_rejects_unknown_approximation(fn):
    with pytest.raises(
        ValueError, match=r"expects approximate to be one of 'none', 'tanh', got 'erf'"
    ):
        fn(torch.zeros(2), approximate="erf")


@pytest.mark.parametrize("fn", [A.softmax, A.log_softmax], ids=lambda fn: fn.__name__)
def test_softmax_rejects_bad_dim(fn):
    x = torch.zeros(2, 3)
    with pytest.raises(
        ValueError, match=r"expects dim in \[-2, 1\] for a tensor of shape \(2, 3\), got 2"
    ):
        fn(x, dim=2)
    with pytest.raises(ValueError, match=r"got -3"):
        fn(x, dim=-3)
    with pytest.raises(TypeError, match=r"expects dim to be an int, got float"):
        fn(x, dim=1.0)
    with pytest.raises(TypeError, match=r"expects dim to be an int, got NoneType"):
        fn(x, dim=None)


@pytest.mark.parametrize("name", sorted(A.ACTIVATIONS))
def test_the_activation_table_pairs_each_function_with_its_derivative_and_module(name):
    spec = A.ACTIVATIONS[name]
    x = 3 * torch.randn(64, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    y, dx, _ = forward_and_grads(spec.function, x, torch.ones_like(x))
    y_torch, dx_torch, _ = forward_and_grads(spec.module(), x, torch.ones_like(x))
    torch.testing.assert_close(y, y_torch)
    torch.testing.assert_close(dx, dx_torch)
    torch.testing.assert_close(spec.derivative(x), dx_torch)
