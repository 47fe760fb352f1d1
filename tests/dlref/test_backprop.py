"""dlref.backprop: hand-written backpropagation against torch.autograd in float64."""

import random
import time

import pytest
import torch
import torch.nn.functional as F
from sklearn.datasets import make_moons
from torch import nn

from dlref.activations import ACTIVATIONS
from dlref.backprop import ManualMLP
from dlref.losses import softmax_cross_entropy
from tests.dlref.compare import F64, TOL


def random_case(seed: int):
    """A random architecture, batch and targets; every (depth, activation) pair over 15 seeds."""
    rng = random.Random(seed)
    gen = torch.Generator().manual_seed(seed)
    hidden = [rng.randint(1, 8) for _ in range(seed % 5)]  # 0 to 4 hidden layers
    sizes = [rng.randint(1, 6), *hidden, rng.randint(2, 5)]
    activation = sorted(ACTIVATIONS)[seed % len(ACTIVATIONS)]
    batch = rng.randint(1, 10)
    mlp = ManualMLP(sizes, activation, generator=gen)
    x = 2 * torch.randn(batch, sizes[0], generator=gen, dtype=F64)  # (B, n_0)
    y = torch.randint(0, sizes[-1], (batch,), generator=gen)  # (B,)
    return mlp, x, y


def torch_grads(model: nn.Sequential, x: torch.Tensor, y: torch.Tensor):
    """Loss and per-Linear (dW, db) from PyTorch's autograd."""
    model.zero_grad()
    loss = F.cross_entropy(model(x), y)
    loss.backward()
    linears = [m for m in model if isinstance(m, nn.Linear)]
    return loss, [(m.weight.grad, m.bias.grad) for m in linears]


@pytest.mark.parametrize("seed", range(30))
def test_gradients_match_autograd(seed):
    mlp, x, y = random_case(seed)
    model = mlp.to_torch()
    logits = mlp.forward(x)
    loss, dlogits = softmax_cross_entropy(logits, y)
    grads = mlp.backward(dlogits)
    loss_t, grads_t = torch_grads(model, x, y)
    torch.testing.assert_close(logits, model(x).detach(), **TOL)
    torch.testing.assert_close(loss, loss_t.detach(), **TOL)
    assert len(grads) == len(grads_t) == len(mlp.sizes) - 1
    for (dw, db), (dw_t, db_t) in zip(grads, grads_t, strict=True):
        torch.testing.assert_close(dw, dw_t, **TOL)
        torch.testing.assert_close(db, db_t, **TOL)


@pytest.mark.parametrize("seed", range(6))
def test_backward_of_any_upstream_gradient_matches_autograd(seed):
    mlp, x, _ = random_case(seed)
    model = mlp.to_torch()
    dlogits = torch.randn(x.shape[0], mlp.sizes[-1], dtype=F64)  # (B, n_L)
    mlp.forward(x)
    grads = mlp.backward(dlogits)
    (model(x) * dlogits).sum().backward()  # its gradient wrt the logits is dlogits
    linears = [m for m in model if isinstance(m, nn.Linear)]
    for (dw, db), m in zip(grads, linears, strict=True):
        torch.testing.assert_close(dw, m.weight.grad, **TOL)
        torch.testing.assert_close(db, m.bias.grad, **TOL)


@pytest.mark.parametrize("seed", range(4))
def test_sgd_steps_track_torch_sgd(seed):
    mlp, x, y = random_case(seed + 10)
    model = mlp.to_torch()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.3)
    for _ in range(5):
        _, dlogits = softmax_cross_entropy(mlp.forward(x), y)
        mlp.sgd_step(mlp.backward(dlogits), lr=0.3)
        optimizer.zero_grad()
        F.cross_entropy(model(x), y).backward()
        optimizer.step()
        linears = [m for m in model if isinstance(m, nn.Linear)]
        for w, b, m in zip(mlp.weights, mlp.biases, linears, strict=True):
            torch.testing.assert_close(w, m.weight.detach(), **TOL)
            torch.testing.assert_close(b, m.bias.detach(), **TOL)


def test_to_torch_and_from_torch_round_trip():
    mlp = ManualMLP([3, 5, 4, 2], "relu", generator=torch.Generator().manual_seed(0))
    model = mlp.to_torch()
    assert [type(m) for m in model] == [nn.Linear, nn.ReLU, nn.Linear, nn.ReLU, nn.Linear]
    assert list(model.state_dict()) == [
        "0.weight", "0.bias", "2.weight", "2.bias", "4.weight", "4.bias"
    ]  # fmt: skip
    back = ManualMLP.from_torch(model)
    assert back.sizes == mlp.sizes and back.activation == "relu"
    for ours, theirs in zip(back.weights + back.biases, mlp.weights + mlp.biases, strict=True):
        assert torch.equal(ours, theirs)

    x = torch.randn(6, 3, dtype=F64)
    torch.testing.assert_close(back.forward(x), model(x).detach(), **TOL)
    with torch.no_grad():  # both sides hold copies, not views
        model[0].weight.add_(1.0)
    assert torch.equal(back.weights[0], mlp.weights[0])
    mlp.weights[2].add_(1.0)
    assert not torch.equal(model[4].weight, mlp.weights[2])


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
def test_from_torch_reads_a_torch_built_model(activation):
    module = ACTIVATIONS[activation].module
    model = nn.Sequential(nn.Linear(4, 6), module(), nn.Linear(6, 3))  # float32
    state = torch.get_rng_state()
    mlp = ManualMLP.from_torch(model)
    assert torch.equal(torch.get_rng_state(), state)  # the global generator is untouched
    assert mlp.activation == activation and mlp.weights[0].dtype == torch.float32
    x = torch.randn(5, 4)
    torch.testing.assert_close(mlp.forward(x), model(x).detach())
    no_hidden = ManualMLP.from_torch(nn.Sequential(nn.Linear(4, 3, dtype=F64)))
    assert no_hidden.sizes == (4, 3)


def test_initialisation_is_nn_linear_default():
    torch.manual_seed(0)
    mlp = ManualMLP([5, 7, 3], "tanh")
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 7, dtype=F64), nn.Tanh(), nn.Linear(7, 3, dtype=F64))
    assert [tuple(w.shape) for w in mlp.weights] == [(7, 5), (3, 7)]
    assert [tuple(b.shape) for b in mlp.biases] == [(7,), (3,)]
    for ours, theirs in zip(mlp.weights, [model[0].weight, model[2].weight], strict=True):
        torch.testing.assert_close(ours, theirs.detach(), rtol=0, atol=1e-15)
    for ours, theirs in zip(mlp.biases, [model[0].bias, model[2].bias], strict=True):
        torch.testing.assert_close(ours, theirs.detach(), rtol=0, atol=1e-15)

    wide = ManualMLP([400, 300, 2], generator=torch.Generator().manual_seed(1))
    bound = 1 / 400**0.5
    assert wide.weights[0].abs().max() <= bound and wide.weights[0].abs().max() > 0.99 * bound
    assert abs(wide.weights[0].mean()) < 0.01 * bound
    again = ManualMLP([400, 300, 2], generator=torch.Generator().manual_seed(1))
    assert torch.equal(again.weights[1], wide.weights[1])


def test_predict_leaves_the_backward_cache_alone():
    mlp, x, y = random_case(3)
    _, dlogits = softmax_cross_entropy(mlp.forward(x), y)
    expected = mlp.backward(dlogits)
    mlp.forward(x)
    predictions = mlp.predict(torch.randn(11, mlp.sizes[0], dtype=F64))
    assert predictions.shape == (11,) and predictions.dtype == torch.int64
    for (dw, db), (dw_e, db_e) in zip(mlp.backward(dlogits), expected, strict=True):
        assert torch.equal(dw, dw_e) and torch.equal(db, db_e)
    torch.testing.assert_close(mlp.predict(x), mlp.forward(x).argmax(dim=1))


def test_autograd_is_not_used():
    mlp, x, y = random_case(4)
    x = x.clone().requires_grad_()
    logits = mlp.forward(x)
    loss, dlogits = softmax_cross_entropy(logits, y)
    grads = mlp.backward(dlogits)
    tensors = [
        logits,
        loss,
        dlogits,
        *mlp.weights,
        *mlp.biases,
        *(g for pair in grads for g in pair),
    ]
    assert not any(t.requires_grad or t.grad_fn is not None for t in tensors)


def test_trains_to_95_percent_on_two_moons():
    x_np, y_np = make_moons(n_samples=512, noise=0.2, random_state=0)
    x, y = torch.from_numpy(x_np), torch.from_numpy(y_np)  # (512, 2) float64, (512,) int64
    mlp = ManualMLP([2, 16, 16, 2], "tanh", generator=torch.Generator().manual_seed(0))
    start = time.process_time()  # CPU time: a busy machine slows the clock, not the work
    first_loss = None
    for _ in range(500):  # full-batch gradient descent
        loss, dlogits = softmax_cross_entropy(mlp.forward(x), y)
        first_loss = loss.item() if first_loss is None else first_loss
        mlp.sgd_step(mlp.backward(dlogits), lr=0.5)
    accuracy = (mlp.predict(x) == y).double().mean().item()
    assert accuracy >= 0.95, f"training accuracy {accuracy:.3f}"
    assert loss.item() < 0.3 * first_loss
    assert time.process_time() - start < 10.0


# -- errors --------------------------------------------------------------------------------------


@pytest.mark.parametrize("sizes", [[3], [3, 0], [3, -2], [3, 2.0], [3, True], "32", 3, []])
def test_bad_sizes_raise(sizes):
    with pytest.raises(ValueError, match="at least two positive ints"):
        ManualMLP(sizes)


def test_unknown_activation_raises():
    with pytest.raises(ValueError, match=r"activation to be one of 'relu', .*, got 'swish'"):
        ManualMLP([3, 2], "swish")


def test_bad_inputs_raise():
    mlp = ManualMLP([3, 4, 2])
    with pytest.raises(ValueError, match=r"x of shape \(B, 3\), got \(4, 5\)"):
        mlp.forward(torch.zeros(4, 5, dtype=F64))
    with pytest.raises(ValueError, match=r"x of shape \(B, 3\), got \(3,\)"):
        mlp.predict(torch.zeros(3, dtype=F64))
    with pytest.raises(TypeError, match="torch.float64 parameters, got x of dtype torch.float32"):
        mlp.forward(torch.zeros(4, 3))
    with pytest.raises(TypeError, match="x as a torch.Tensor, got list"):
        mlp.forward([[0.0, 0.0, 0.0]])


def test_backward_errors():
    mlp = ManualMLP([3, 4, 2])
    with pytest.raises(RuntimeError, match="backward called before forward"):
        mlp.backward(torch.zeros(4, 2, dtype=F64))
    mlp.forward(torch.zeros(4, 3, dtype=F64))
    with pytest.raises(ValueError, match=r"dlogits of shape \(4, 2\) .* got \(4, 3\)"):
        mlp.backward(torch.zeros(4, 3, dtype=F64))


def test_sgd_step_errors():
    mlp = ManualMLP([3, 4, 2])
    mlp.forward(torch.zeros(4, 3, dtype=F64))
    grads = mlp.backward(torch.zeros(4, 2, dtype=F64))
    with pytest.raises(ValueError, match="sgd_step expects lr > 0, got -0.1"):
        mlp.sgd_step(grads, lr=-0.1)
    with pytest.raises(ValueError, match=r"expects 2 \(dW, db\) pairs, got 1"):
        mlp.sgd_step(grads[:1], lr=0.1)
    with pytest.raises(ValueError, match=r"shapes \(4, 3\) and \(4,\), got \(2, 4\) and \(2,\)"):
        mlp.sgd_step(grads[::-1], lr=0.1)


@pytest.mark.parametrize(
    "model",
    [
        nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 2)),
        nn.Sequential(nn.Linear(3, 4), nn.GELU(approximate="tanh"), nn.Linear(4, 2)),
        nn.Sequential(nn.Linear(3, 4, bias=False), nn.Tanh(), nn.Linear(4, 2)),
        nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(5, 2)),
        nn.Sequential(nn.Linear(3, 4), nn.Tanh()),
        nn.Sequential(),
        nn.Linear(3, 2),
    ],
    ids=[
        "mixed",
        "gelu-tanh",
        "no-bias",
        "mismatched",
        "ends-in-activation",
        "empty",
        "not-sequential",
    ],
)
def test_from_torch_rejects_other_layouts(model):
    with pytest.raises(ValueError, match=r"expects nn.Sequential\(Linear, act, Linear"):
        ManualMLP.from_torch(model)
