"""dlref.rnn against torch.nn: outputs, final states and gradients, state_dict, init, errors."""

import re

import pytest
import torch
from torch import nn

from dlref import rnn
from tests.dlref.compare import F64, TOL, assert_same_state

SEQUENCES = {"RNN": (rnn.RNN, nn.RNN), "LSTM": (rnn.LSTM, nn.LSTM), "GRU": (rnn.GRU, nn.GRU)}
CELLS = {
    "RNNCell": (rnn.RNNCell, nn.RNNCell),
    "LSTMCell": (rnn.LSTMCell, nn.LSTMCell),
    "GRUCell": (rnn.GRUCell, nn.GRUCell),
}
D, H, T, B = 3, 4, 6, 2


def _pair(classes, *args, **kwargs):
    """Torch's module with random weights, and ours loaded from its state_dict."""
    ours_class, theirs_class = classes
    theirs = theirs_class(*args, dtype=F64, **kwargs)
    ours = ours_class(*args, dtype=F64, **kwargs)
    ours.load_state_dict(theirs.state_dict())  # same keys and shapes: the same weights
    return ours, theirs


def _flatten(result):
    """The tensors of a (nested) tuple result, in order."""
    if isinstance(result, torch.Tensor):
        return [result]
    return [t for part in result for t in _flatten(part)]


def _run(module, x, hx, upstream):
    """Outputs, and gradients of <upstream, outputs> w.r.t. input, states and parameters."""
    x = x.detach().clone().requires_grad_()
    states = [s.detach().clone().requires_grad_() for s in _flatten(hx)] if hx is not None else []
    if hx is None:
        result = module(x)
    elif isinstance(hx, tuple):
        result = module(x, tuple(states))
    else:
        result = module(x, states[0])
    outputs = _flatten(result)
    params = dict(module.named_parameters())
    loss = sum((o * u).sum() for o, u in zip(outputs, upstream, strict=True))
    grads = torch.autograd.grad(loss, [x, *states, *params.values()])
    return (
        outputs,
        grads[: 1 + len(states)],
        dict(zip(params, grads[1 + len(states) :], strict=True)),
    )


def _assert_same(ours, theirs, x, hx=None):
    generator = torch.Generator().manual_seed(7)
    shapes = [o.shape for o in _flatten(theirs(x, hx) if hx is not None else theirs(x))]
    upstream = [torch.randn(s, generator=generator, dtype=F64) for s in shapes]
    out_ours, dx_ours, dp_ours = _run(ours, x, hx, upstream)
    out_theirs, dx_theirs, dp_theirs = _run(theirs, x, hx, upstream)
    assert len(out_ours) == len(out_theirs)
    for index, (a, b) in enumerate(zip(out_ours, out_theirs, strict=True)):
        torch.testing.assert_close(a, b, **TOL, msg=lambda m, i=index: f"output {i}: {m}")
    for index, (a, b) in enumerate(zip(dx_ours, dx_theirs, strict=True)):
        torch.testing.assert_close(a, b, **TOL, msg=lambda m, i=index: f"grad of input {i}: {m}")
    assert dp_ours.keys() == dp_theirs.keys()
    for name in dp_ours:
        torch.testing.assert_close(
            dp_ours[name], dp_theirs[name], **TOL, msg=lambda m, n=name: f"grad of {n}: {m}"
        )


def _states(name, shape, generator):
    """A random initial state of the right kind: a pair for an LSTM, else one tensor."""
    draw = lambda: torch.randn(shape, generator=generator, dtype=F64)  # noqa: E731
    return (draw(), draw()) if name.startswith("LSTM") else draw()


@pytest.mark.parametrize("name", SEQUENCES)
@pytest.mark.parametrize("num_layers", [1, 2])
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("with_state", [False, True])
def test_sequence_modules_match_torch(name, num_layers, batch_first, with_state):
    torch.manual_seed(0)
    ours, theirs = _pair(SEQUENCES[name], D, H, num_layers=num_layers, batch_first=batch_first)
    generator = torch.Generator().manual_seed(1)
    x = torch.randn((B, T, D) if batch_first else (T, B, D), generator=generator, dtype=F64)
    hx = _states(name, (num_layers, B, H), generator) if with_state else None
    _assert_same(ours, theirs, x, hx)
    assert_same_state(ours, theirs)


@pytest.mark.parametrize("name", SEQUENCES)
def test_sequence_modules_without_bias_relu_and_unbatched_match_torch(name):
    torch.manual_seed(0)
    kwargs = {"nonlinearity": "relu"} if name == "RNN" else {}
    ours, theirs = _pair(SEQUENCES[name], D, H, num_layers=2, bias=False, **kwargs)
    assert set(ours.state_dict()) == set(theirs.state_dict())
    generator = torch.Generator().manual_seed(2)
    x = torch.randn(T, D, generator=generator, dtype=F64)  # unbatched (T, D)
    _assert_same(ours, theirs, x)
    _assert_same(ours, theirs, x, _states(name, (2, H), generator))


@pytest.mark.parametrize("name", CELLS)
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("with_state", [False, True])
@pytest.mark.parametrize("batched", [True, False])
def test_cells_match_torch(name, bias, with_state, batched):
    torch.manual_seed(0)
    ours, theirs = _pair(CELLS[name], D, H, bias=bias)
    generator = torch.Generator().manual_seed(3)
    batch = (B,) if batched else ()
    x = torch.randn(*batch, D, generator=generator, dtype=F64)
    hx = _states(name, (*batch, H), generator) if with_state else None
    _assert_same(ours, theirs, x, hx)


def test_rnn_cell_relu_matches_torch():
    torch.manual_seed(0)
    ours, theirs = _pair(CELLS["RNNCell"], D, H, nonlinearity="relu")
    x = 3 * torch.randn(B, D, generator=torch.Generator().manual_seed(4), dtype=F64)
    _assert_same(ours, theirs, x)


def test_long_sequence_matches_torch():
    torch.manual_seed(0)
    ours, theirs = _pair(SEQUENCES["LSTM"], D, H, batch_first=True)
    x = torch.randn(B, 100, D, generator=torch.Generator().manual_seed(5), dtype=F64)
    _assert_same(ours, theirs, x)


@pytest.mark.parametrize("name", [*SEQUENCES, *CELLS])
def test_same_keys_shapes_and_initialisation_as_torch(name):
    ours_class, theirs_class = {**SEQUENCES, **CELLS}[name]
    kwargs = {"num_layers": 2} if name in SEQUENCES else {}
    torch.manual_seed(11)
    theirs = theirs_class(5, 8, **kwargs)
    torch.manual_seed(11)
    ours = ours_class(5, 8, **kwargs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert_same_state(ours, theirs)  # the same draws in the same order
    for value in ours.state_dict().values():
        assert value.abs().max() <= 1 / 8**0.5
    theirs.load_state_dict(ours.state_dict())  # both directions


def test_sequence_final_state_is_the_last_output_of_the_last_layer():
    model = rnn.GRU(D, H, num_layers=2, batch_first=True)
    output, h_n = model(torch.randn(B, T, D))
    torch.testing.assert_close(output[:, -1], h_n[-1])


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (
            lambda: rnn.LSTM(3, 4)(torch.randn(5, 2, 7)),
            ValueError,
            "LSTM expects input of shape (T, B, 3) or (T, 3), got (5, 2, 7)",
        ),
        (
            lambda: rnn.GRU(3, 4, batch_first=True)(torch.randn(2, 5, 3, 1)),
            ValueError,
            "GRU expects input of shape (B, T, 3) or (T, 3), got (2, 5, 3, 1)",
        ),
        (
            lambda: rnn.RNN(3, 4)(torch.arange(6).reshape(2, 1, 3)),
            TypeError,
            "RNN expects input to be a floating-point tensor, got dtype torch.int64",
        ),
        (
            lambda: rnn.RNN(3, 4, num_layers=2)(torch.randn(5, 2, 3), torch.zeros(1, 2, 4)),
            ValueError,
            "RNN expects h0 of shape (2, 2, 4), got (1, 2, 4)",
        ),
        (
            lambda: rnn.LSTM(3, 4)(torch.randn(5, 2, 3), (torch.zeros(1, 2, 4), torch.zeros(2, 4))),
            ValueError,
            "LSTM expects c0 of shape (1, 2, 4), got (2, 4)",
        ),
        (
            lambda: rnn.LSTM(3, 4)(torch.randn(5, 2, 3), torch.zeros(1, 2, 4)),
            TypeError,
            "LSTM expects hx to be a pair (h0, c0), got Tensor",
        ),
        (
            lambda: rnn.LSTMCell(3, 4)(torch.randn(2, 3), torch.zeros(2, 4)),
            TypeError,
            "LSTMCell expects hx to be a pair (h, c), got Tensor",
        ),
        (
            lambda: rnn.GRUCell(3, 4)(torch.randn(2, 3), torch.zeros(3, 4)),
            ValueError,
            "GRUCell expects hx of shape (2, 4), got (3, 4)",
        ),
        (
            lambda: rnn.RNNCell(3, 4)(torch.randn(2, 5)),
            ValueError,
            "RNNCell expects input of shape (B, 3) or (3,), got (2, 5)",
        ),
        (
            lambda: rnn.RNN(3, 4, nonlinearity="sigmoid"),
            ValueError,
            "RNN expects nonlinearity to be one of 'tanh', 'relu', got 'sigmoid'",
        ),
        (
            lambda: rnn.RNNCell(3, 4, nonlinearity="gelu"),
            ValueError,
            "RNNCell expects nonlinearity to be one of 'tanh', 'relu', got 'gelu'",
        ),
        (lambda: rnn.LSTM(3, 0), ValueError, "LSTM expects hidden_size >= 1, got 0"),
        (lambda: rnn.GRU(3, 4, num_layers=0), ValueError, "GRU expects num_layers >= 1, got 0"),
        (
            lambda: rnn.GRUCell(2.5, 4),
            TypeError,
            "GRUCell expects input_size to be an int, got float 2.5",
        ),
        (
            lambda: rnn.RNN(3, 4, batch_first=1),
            TypeError,
            "RNN expects batch_first to be a bool, got int",
        ),
    ],
)
def test_errors_say_what_was_wanted_and_what_came(call, error, message):
    with pytest.raises(error, match=re.escape(message)):
        call()
