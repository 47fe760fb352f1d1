r"""Recurrent networks from their update rules: the Elman RNN, the LSTM and the GRU.

Explained on the page [Recurrent networks](../architectures/recurrent-networks.md).

A recurrent network reads a sequence $x_1, \dots, x_T$ one step at a time and carries a hidden
state $h_t \in \mathbb{R}^H$ from each step to the next, computed with the same weights at every
step. Each layer splits its work in two: the *input part* $W_{i\cdot} x_t + b_{i\cdot}$ depends on
the input only, so it is computed for all $T$ steps in one matrix product; the *recurrent part*
$W_{h\cdot} h_{t-1} + b_{h\cdot}$ needs the previous state, so the steps run one after the other.
A stack of $L$ layers feeds the states $h_t$ of layer $l$ as the inputs of layer $l + 1$.

**Elman RNN** (``RNN``, ``RNNCell``), with $\phi = \tanh$ or ReLU:

$$
\begin{aligned}
h_t = \phi(W_{ih} x_t + b_{ih} + W_{hh} h_{t-1} + b_{hh}).
\end{aligned}
$$

**LSTM** (``LSTM``, ``LSTMCell``; Hochreiter and Schmidhuber, 1997, with the forget gate of Gers
et al., 2000). Four blocks of $H$ rows, in PyTorch's order $i, f, g, o$ (input gate, forget gate,
candidate, output gate), stacked in $W_{ih} \in \mathbb{R}^{4H \times D}$ and
$W_{hh} \in \mathbb{R}^{4H \times H}$:

$$
\begin{aligned}
i_t &= \sigma(W_{ii} x_t + b_{ii} + W_{hi} h_{t-1} + b_{hi}), \\
f_t &= \sigma(W_{if} x_t + b_{if} + W_{hf} h_{t-1} + b_{hf}), \\
g_t &= \tanh(W_{ig} x_t + b_{ig} + W_{hg} h_{t-1} + b_{hg}), \\
o_t &= \sigma(W_{io} x_t + b_{io} + W_{ho} h_{t-1} + b_{ho}), \\
c_t &= f_t \odot c_{t-1} + i_t \odot g_t, \\
h_t &= o_t \odot \tanh(c_t).
\end{aligned}
$$

The cell state $c_t$ changes by a gated sum, not by a matrix product: with $f_t \approx 1$ and
$i_t \approx 0$ it is copied unchanged, and so is its gradient, which is why an LSTM can carry
information over many steps where a vanilla RNN forgets it.

**GRU** (``GRU``, ``GRUCell``; Cho et al., 2014). Three blocks in PyTorch's order $r, z, n$
(reset gate, update gate, candidate):

$$
\begin{aligned}
r_t &= \sigma(W_{ir} x_t + b_{ir} + W_{hr} h_{t-1} + b_{hr}), \\
z_t &= \sigma(W_{iz} x_t + b_{iz} + W_{hz} h_{t-1} + b_{hz}), \\
n_t &= \tanh\big(W_{in} x_t + b_{in} \\
&\qquad + r_t \odot (W_{hn} h_{t-1} + b_{hn})\big), \\
h_t &= (1 - z_t) \odot n_t + z_t \odot h_{t-1}.
\end{aligned}
$$

The reset gate multiplies the recurrent part *with* its bias $b_{hn}$, as in PyTorch (and
cuDNN), which is why the two biases are kept apart rather than summed.

**Shapes and state.** Like ``torch.nn``, a sequence module takes input $(T, B, D)$, or
$(B, T, D)$ with ``batch_first=True``, or an unbatched $(T, D)$, and an optional initial state
$h_0$ of shape $(L, B, H)$ (an LSTM takes the pair $(h_0, c_0)$), zeros when left out. It returns
the last layer's states at every step, $(T, B, H)$, and the final state of every layer,
$(L, B, H)$. A cell takes one step: input $(B, D)$ or $(D,)$ and state $(B, H)$ or $(H,)$.

**Initialisation**, as PyTorch: every weight and bias from $\mathcal{U}(-1/\sqrt H, 1/\sqrt H)$,
drawn in the order of the parameters, so the same seed gives the same weights as ``torch.nn``,
and ``load_state_dict`` works in both directions (keys ``weight_ih_l0``, ``weight_hh_l0``,
``bias_ih_l0``, ``bias_hh_l0``, then ``..._l1``; a cell's are ``weight_ih``, ``weight_hh``,
``bias_ih``, ``bias_hh``).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from dlref import checks

State = tuple[torch.Tensor, ...]


def _check_sizes(caller: str, input_size: object, hidden_size: object, bias: object) -> None:
    """The constructor arguments every recurrent module and cell shares."""
    checks.integer(caller, "input_size", input_size, 1)
    checks.integer(caller, "hidden_size", hidden_size, 1)
    if not isinstance(bias, bool):
        raise TypeError(f"{caller} expects bias to be a bool, got {type(bias).__name__}")


def _check_input(caller: str, x: object, input_size: int, batched: str) -> None:
    """Raise unless ``x`` is a floating tensor ``(batched..., input_size)`` or unbatched."""
    checks.floating_tensor(caller, x, "input")
    dims = batched.count(",") + 2  # the batched layout's dimensions, features included
    if x.dim() not in (dims, dims - 1) or x.shape[-1] != input_size:
        unbatched = f"T, {input_size}" if dims == 3 else f"{input_size},"  # no B
        raise ValueError(
            f"{caller} expects input of shape ({batched}, {input_size}) or ({unbatched}), "
            f"got {tuple(x.shape)}"
        )


# --- One step of each recurrence: the input part gx = W_ih x + b_ih is already computed. ---


# --8<-- [start:rnn-step]
def rnn_step(
    gx: torch.Tensor,
    h: torch.Tensor,
    weight_hh: torch.Tensor,
    bias_hh: torch.Tensor | None,
    nonlinearity: str = "tanh",
) -> torch.Tensor:
    """One Elman step from the input part ``gx`` (B, H) and the previous state ``h`` (B, H)."""
    pre = gx + F.linear(h, weight_hh, bias_hh)  # W_ih x_t + b_ih + W_hh h_{t-1} + b_hh
    return torch.tanh(pre) if nonlinearity == "tanh" else torch.relu(pre)  # h_t = phi(...)


# --8<-- [end:rnn-step]


# --8<-- [start:lstm-step]
def lstm_step(
    gx: torch.Tensor,
    h: torch.Tensor,
    c: torch.Tensor,
    weight_hh: torch.Tensor,
    bias_hh: torch.Tensor | None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One LSTM step from the input part ``gx`` (B, 4H) and the previous ``(h, c)``."""
    gates = gx + F.linear(h, weight_hh, bias_hh)  # (B, 4H), blocks in the order i, f, g, o
    i, f, g, o = gates.chunk(4, dim=-1)  # each (B, H)
    i, f, g, o = torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)
    c = f * c + i * g  # c_t = f_t * c_{t-1} + i_t * g_t: a gated sum, no matrix product
    h = o * torch.tanh(c)  # h_t = o_t * tanh(c_t)
    return h, c


# --8<-- [end:lstm-step]


# --8<-- [start:gru-step]
def gru_step(
    gx: torch.Tensor,
    h: torch.Tensor,
    weight_hh: torch.Tensor,
    bias_hh: torch.Tensor | None,
) -> torch.Tensor:
    """One GRU step from the input part ``gx`` (B, 3H) and the previous state ``h`` (B, H)."""
    x_r, x_z, x_n = gx.chunk(3, dim=-1)  # W_i. x_t + b_i., each (B, H)
    h_r, h_z, h_n = F.linear(h, weight_hh, bias_hh).chunk(3, dim=-1)  # W_h. h_{t-1} + b_h.
    r = torch.sigmoid(x_r + h_r)  # reset gate r_t
    z = torch.sigmoid(x_z + h_z)  # update gate z_t
    n = torch.tanh(x_n + r * h_n)  # candidate n_t: the reset gate scales W_hn h + b_hn
    return (1 - z) * n + z * h  # h_t = (1 - z_t) n_t + z_t h_{t-1}


# --8<-- [end:gru-step]


# --- Cells: one step, with their own weights. ---


class _Cell(nn.Module):
    """The weights of one recurrent step: ``weight_ih`` (G H, D), ``weight_hh`` (G H, H), biases."""

    gates = 1

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        _check_sizes(type(self).__name__, input_size, hidden_size, bias)
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bias
        rows = self.gates * hidden_size
        kw = {"device": device, "dtype": dtype}
        self.weight_ih = nn.Parameter(torch.empty(rows, input_size, **kw))
        self.weight_hh = nn.Parameter(torch.empty(rows, hidden_size, **kw))
        self.bias_ih = nn.Parameter(torch.empty(rows, **kw)) if bias else None
        self.bias_hh = nn.Parameter(torch.empty(rows, **kw)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Every weight and bias from U(-1/sqrt(H), 1/sqrt(H)), in the order of PyTorch's."""
        bound = 1 / math.sqrt(self.hidden_size)
        for parameter in self.parameters():
            nn.init.uniform_(parameter, -bound, bound)

    def _state(self, x: torch.Tensor, hx: torch.Tensor | None, name: str) -> torch.Tensor:
        """The state ``hx`` checked against the input's batch, or zeros."""
        shape = (*x.shape[:-1], self.hidden_size)  # (B, H) or (H,)
        if hx is None:
            return x.new_zeros(shape)
        checks.floating_tensor(type(self).__name__, hx, name)
        checks.shape(type(self).__name__, name, hx, shape)
        return hx

    def _input(self, x: object) -> torch.Tensor:
        """Check the input, (B, D) or (D,)."""
        _check_input(type(self).__name__, x, self.input_size, "B")
        return x

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}" + ("" if self.bias else ", bias=False")


class RNNCell(_Cell):
    r"""One Elman step $h' = \phi(W_{ih} x + b_{ih} + W_{hh} h + b_{hh})$, as ``nn.RNNCell``.

    Args:
        input_size: Features of the input, $D$.
        hidden_size: Features of the state, $H$.
        bias: Whether to learn the biases $b_{ih}$ and $b_{hh}$.
        nonlinearity: ``"tanh"`` or ``"relu"``.
        device: Where to create the parameters.
        dtype: The floating-point type of the parameters.

    Examples:
        >>> import torch
        >>> from dlref.rnn import RNNCell
        >>> RNNCell(3, 5)(torch.zeros(4, 3)).shape
        torch.Size([4, 5])
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        nonlinearity: str = "tanh",
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        checks.one_of("RNNCell", "nonlinearity", nonlinearity, ("tanh", "relu"))
        super().__init__(input_size, hidden_size, bias, device, dtype)
        self.nonlinearity = nonlinearity

    def forward(self, x: torch.Tensor, hx: torch.Tensor | None = None) -> torch.Tensor:
        """The next state $h'$ from the input ``x`` (B, D) and the state ``hx`` (B, H)."""
        h = self._state(self._input(x), hx, "hx")
        gx = F.linear(x, self.weight_ih, self.bias_ih)  # W_ih x + b_ih
        return rnn_step(gx, h, self.weight_hh, self.bias_hh, self.nonlinearity)


class LSTMCell(_Cell):
    r"""One LSTM step, as ``nn.LSTMCell``: ``(h, c)`` from ``x`` and the previous ``(h, c)``.

    Args:
        input_size: Features of the input, $D$.
        hidden_size: Features of the state and of the cell, $H$.
        bias: Whether to learn the biases $b_{ih}$ and $b_{hh}$ (each $4H$, order $i, f, g, o$).
        device: Where to create the parameters.
        dtype: The floating-point type of the parameters.

    Examples:
        >>> import torch
        >>> from dlref.rnn import LSTMCell
        >>> h, c = LSTMCell(3, 5)(torch.zeros(4, 3))
        >>> h.shape, c.shape
        (torch.Size([4, 5]), torch.Size([4, 5]))
    """

    gates = 4

    def forward(
        self, x: torch.Tensor, hx: tuple[torch.Tensor, torch.Tensor] | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The next ``(h, c)`` from the input ``x`` (B, D) and ``hx = (h, c)``, each (B, H)."""
        x = self._input(x)
        if hx is not None and (not isinstance(hx, tuple | list) or len(hx) != 2):
            raise TypeError(f"LSTMCell expects hx to be a pair (h, c), got {type(hx).__name__}")
        h, c = (None, None) if hx is None else hx
        h, c = self._state(x, h, "h"), self._state(x, c, "c")
        gx = F.linear(x, self.weight_ih, self.bias_ih)  # W_ih x + b_ih, (B, 4H)
        return lstm_step(gx, h, c, self.weight_hh, self.bias_hh)


class GRUCell(_Cell):
    r"""One GRU step, as ``nn.GRUCell``: $h'$ from ``x`` and the previous state.

    Args:
        input_size: Features of the input, $D$.
        hidden_size: Features of the state, $H$.
        bias: Whether to learn the biases $b_{ih}$ and $b_{hh}$ (each $3H$, order $r, z, n$).
        device: Where to create the parameters.
        dtype: The floating-point type of the parameters.

    Examples:
        >>> import torch
        >>> from dlref.rnn import GRUCell
        >>> GRUCell(3, 5)(torch.zeros(4, 3)).shape
        torch.Size([4, 5])
    """

    gates = 3

    def forward(self, x: torch.Tensor, hx: torch.Tensor | None = None) -> torch.Tensor:
        """The next state from the input ``x`` (B, D) and the state ``hx`` (B, H)."""
        h = self._state(self._input(x), hx, "hx")
        gx = F.linear(x, self.weight_ih, self.bias_ih)  # W_ih x + b_ih, (B, 3H)
        return gru_step(gx, h, self.weight_hh, self.bias_hh)


# --- Sequence modules: L layers, T steps. ---


class _Recurrent(nn.Module):
    """A stack of recurrent layers run over a whole sequence; subclasses define ``_step``."""

    gates = 1
    state_names: tuple[str, ...] = ("h0",)

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        caller = type(self).__name__
        _check_sizes(caller, input_size, hidden_size, bias)
        checks.integer(caller, "num_layers", num_layers, 1)
        if not isinstance(batch_first, bool):
            raise TypeError(
                f"{caller} expects batch_first to be a bool, got {type(batch_first).__name__}"
            )
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bias, self.batch_first = bias, batch_first
        kw = {"device": device, "dtype": dtype}
        rows = self.gates * hidden_size
        for layer in range(num_layers):  # registered in PyTorch's order: w_ih, w_hh, b_ih, b_hh
            d_in = input_size if layer == 0 else hidden_size
            self.register_parameter(
                f"weight_ih_l{layer}", nn.Parameter(torch.empty(rows, d_in, **kw))
            )
            self.register_parameter(
                f"weight_hh_l{layer}", nn.Parameter(torch.empty(rows, hidden_size, **kw))
            )
            if bias:
                self.register_parameter(f"bias_ih_l{layer}", nn.Parameter(torch.empty(rows, **kw)))
                self.register_parameter(f"bias_hh_l{layer}", nn.Parameter(torch.empty(rows, **kw)))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Every weight and bias from U(-1/sqrt(H), 1/sqrt(H)), in the order of PyTorch's."""
        bound = 1 / math.sqrt(self.hidden_size)
        for parameter in self.parameters():
            nn.init.uniform_(parameter, -bound, bound)

    def layer_weights(self, layer: int) -> tuple[torch.Tensor, ...]:
        """``(weight_ih, weight_hh, bias_ih, bias_hh)`` of one layer (biases ``None`` without)."""
        get = lambda name: getattr(self, f"{name}_l{layer}", None)  # noqa: E731
        return get("weight_ih"), get("weight_hh"), get("bias_ih"), get("bias_hh")

    def _step(self, gx: torch.Tensor, state: State, weight_hh, bias_hh) -> State:
        raise NotImplementedError

    def _initial_state(self, x: torch.Tensor, hx: object, batch: tuple[int, ...]) -> list[State]:
        """The initial state of each layer, checked, from ``hx`` or zeros."""
        caller = type(self).__name__
        shape = (self.num_layers, *batch, self.hidden_size)  # (L, B, H) or (L, H)
        states = hx if len(self.state_names) > 1 else (hx,)
        if hx is None:
            states = tuple(x.new_zeros(shape) for _ in self.state_names)
        elif len(self.state_names) > 1 and (
            not isinstance(hx, tuple | list) or len(hx) != len(self.state_names)
        ):
            raise TypeError(
                f"{caller} expects hx to be a pair ({', '.join(self.state_names)}), "
                f"got {type(hx).__name__}"
            )
        for name, state in zip(self.state_names, states, strict=True):
            checks.floating_tensor(caller, state, name)
            checks.shape(caller, name, state, shape)
        return [tuple(state[layer] for state in states) for layer in range(self.num_layers)]

    def _run(self, x: torch.Tensor, hx: object) -> tuple[torch.Tensor, State]:
        """Run every layer over the sequence; the last layer's states and each final state."""
        layout = "B, T" if self.batch_first else "T, B"
        _check_input(type(self).__name__, x, self.input_size, layout)
        batched = x.dim() == 3
        if not batched:
            x = x.unsqueeze(1)  # (T, D) -> (T, 1, D)
        elif self.batch_first:
            x = x.transpose(0, 1)  # (B, T, D) -> (T, B, D)
        states = self._initial_state(x, hx, (x.shape[1],) if batched else ())
        if not batched:
            states = [tuple(s.unsqueeze(0) for s in state) for state in states]  # (1, H)
        finals = []
        for layer in range(self.num_layers):
            weight_ih, weight_hh, bias_ih, bias_hh = self.layer_weights(layer)
            gx = F.linear(x, weight_ih, bias_ih)  # input part of all T steps at once: (T, B, G H)
            state, outputs = states[layer], []
            for t in range(x.shape[0]):  # the recurrence: one step after the other
                state = self._step(gx[t], state, weight_hh, bias_hh)
                outputs.append(state[0])  # h_t, (B, H)
            x = torch.stack(outputs)  # (T, B, H): the input of the next layer
            finals.append(state)
        final = tuple(torch.stack(parts) for parts in zip(*finals, strict=True))  # each (L, B, H)
        if not batched:
            return x.squeeze(1), tuple(s.squeeze(1) for s in final)
        return (x.transpose(0, 1) if self.batch_first else x), final

    def extra_repr(self) -> str:
        text = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            text += f", num_layers={self.num_layers}"
        if not self.bias:
            text += ", bias=False"
        return text + (", batch_first=True" if self.batch_first else "")


class RNN(_Recurrent):
    r"""A stack of Elman layers over a sequence, as ``nn.RNN``.

    Args:
        input_size: Features of the input, $D$.
        hidden_size: Features of the state, $H$.
        num_layers: Layers $L$; layer $l + 1$ reads the states of layer $l$.
        nonlinearity: ``"tanh"`` or ``"relu"``.
        bias: Whether to learn the biases.
        batch_first: Whether input and output are $(B, T, \cdot)$ rather than $(T, B, \cdot)$.
        device: Where to create the parameters.
        dtype: The floating-point type of the parameters.

    Examples:
        >>> import torch
        >>> from dlref.rnn import RNN
        >>> output, h_n = RNN(3, 5, num_layers=2)(torch.zeros(7, 4, 3))
        >>> output.shape, h_n.shape
        (torch.Size([7, 4, 5]), torch.Size([2, 4, 5]))
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        nonlinearity: str = "tanh",
        bias: bool = True,
        batch_first: bool = False,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        checks.one_of("RNN", "nonlinearity", nonlinearity, ("tanh", "relu"))
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, device, dtype)
        self.nonlinearity = nonlinearity

    def _step(self, gx, state, weight_hh, bias_hh):
        return (rnn_step(gx, state[0], weight_hh, bias_hh, self.nonlinearity),)

    def forward(
        self, x: torch.Tensor, hx: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(output, h_n)``: the last layer's $h_t$ at every step, each layer's last state."""
        output, (h_n,) = self._run(x, hx)
        return output, h_n


class LSTM(_Recurrent):
    r"""A stack of LSTM layers over a sequence, as ``nn.LSTM``.

    Args:
        input_size: Features of the input, $D$.
        hidden_size: Features of the state and of the cell, $H$.
        num_layers: Layers $L$; layer $l + 1$ reads the states $h_t$ of layer $l$.
        bias: Whether to learn the biases.
        batch_first: Whether input and output are $(B, T, \cdot)$ rather than $(T, B, \cdot)$.
        device: Where to create the parameters.
        dtype: The floating-point type of the parameters.

    Examples:
        >>> import torch
        >>> from dlref.rnn import LSTM
        >>> output, (h_n, c_n) = LSTM(3, 5, batch_first=True)(torch.zeros(4, 7, 3))
        >>> output.shape, h_n.shape, c_n.shape
        (torch.Size([4, 7, 5]), torch.Size([1, 4, 5]), torch.Size([1, 4, 5]))
    """

    gates = 4
    state_names = ("h0", "c0")

    def _step(self, gx, state, weight_hh, bias_hh):
        return lstm_step(gx, *state, weight_hh, bias_hh)

    def forward(
        self, x: torch.Tensor, hx: tuple[torch.Tensor, torch.Tensor] | None = None
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """``(output, (h_n, c_n))``: the last layer's $h_t$ at every step, each layer's last."""
        output, (h_n, c_n) = self._run(x, hx)
        return output, (h_n, c_n)


class GRU(_Recurrent):
    r"""A stack of GRU layers over a sequence, as ``nn.GRU``.

    Args:
        input_size: Features of the input, $D$.
        hidden_size: Features of the state, $H$.
        num_layers: Layers $L$; layer $l + 1$ reads the states of layer $l$.
        bias: Whether to learn the biases.
        batch_first: Whether input and output are $(B, T, \cdot)$ rather than $(T, B, \cdot)$.
        device: Where to create the parameters.
        dtype: The floating-point type of the parameters.

    Examples:
        >>> import torch
        >>> from dlref.rnn import GRU
        >>> output, h_n = GRU(3, 5)(torch.zeros(7, 4, 3))
        >>> output.shape, h_n.shape
        (torch.Size([7, 4, 5]), torch.Size([1, 4, 5]))
    """

    gates = 3

    def _step(self, gx, state, weight_hh, bias_hh):
        return (gru_step(gx, state[0], weight_hh, bias_hh),)

    def forward(
        self, x: torch.Tensor, hx: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(output, h_n)``: the last layer's $h_t$ at every step, each layer's last state."""
        output, (h_n,) = self._run(x, hx)
        return output, h_n
