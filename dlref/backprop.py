r"""Backpropagation written out by hand: an MLP whose gradients are matrix products.

Explained on the page [Backpropagation](../foundations/backpropagation.md).

No autograd here: the forward pass keeps what the backward pass needs, and the backward pass
applies the chain rule layer by layer with plain tensor operations (under ``torch.no_grad()``).

Notation, for a batch of $B$ rows and layers $l = 1, \dots, L$ of widths $n_0, \dots, n_L$:

$$\begin{aligned}
  a_0 &= x \in \mathbb{R}^{B \times n_0}, \\
  z_l &= a_{l-1} W_l^\top + b_l \in \mathbb{R}^{B \times n_l}, \\
  a_l &= \phi(z_l) \quad (l < L),
\end{aligned}$$

with $W_l \in \mathbb{R}^{n_l \times n_{l-1}}$ and $b_l \in \mathbb{R}^{n_l}$ shaped like
``nn.Linear``'s ``weight`` and ``bias``. The last layer has no activation: $z_L$ are the logits,
and the loss $\mathcal{L}$ is the mean cross-entropy over the batch
([`softmax_cross_entropy`][dlref.losses.softmax_cross_entropy] gives it and $\delta_L$). Writing
$\delta_l = \partial \mathcal{L} / \partial z_l \in \mathbb{R}^{B \times n_l}$, backpropagation is

$$\begin{aligned}
  \delta_L &= \frac{\partial \mathcal{L}}{\partial z_L}, \\
  \frac{\partial \mathcal{L}}{\partial W_l} &= \delta_l^\top a_{l-1}, \\
  \frac{\partial \mathcal{L}}{\partial b_l} &= \sum_{i=1}^{B} \delta_{l,i}, \\
  \delta_{l-1} &= (\delta_l W_l) \odot \phi'(z_{l-1}),
\end{aligned}$$

where $\delta_{l,i}$ is row $i$ of $\delta_l$ (example $i$ of the batch).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from itertools import pairwise

import torch
from torch import nn

from dlref import checks
from dlref.activations import ACTIVATIONS


class ManualMLP:
    r"""A multilayer perceptron trained by hand-written backpropagation (autograd is not used).

    Layer $l$ holds ``weights[l - 1]`` $= W_l$ of shape ``(n_l, n_{l-1})`` and ``biases[l - 1]``
    $= b_l$ of shape ``(n_l,)``, laid out and initialised like ``nn.Linear``:
    $W_l, b_l \sim \mathcal{U}(-1/\sqrt{n_{l-1}},\, 1/\sqrt{n_{l-1}})$. Hidden layers apply
    ``activation``; the last layer returns logits. See the module docstring for the notation.
    With ``generator=None``, the same seed gives the same weights as the ``nn.Linear`` layers of
    `to_torch` would draw.

    Args:
        sizes: Layer widths $n_0, \dots, n_L$: inputs, hidden layers, classes (at least two).
        activation: Hidden-layer nonlinearity, a name from
            [`ACTIVATIONS`][dlref.activations.ACTIVATIONS] (``"tanh"``, ``"relu"``, ...).
        generator: Random generator for the initial weights (PyTorch's global one if ``None``).
        dtype: Floating-point type of the parameters.
        device: Where the parameters live.

    Raises:
        ValueError: If ``sizes`` has fewer than two entries or one is not a positive int, or
            ``activation`` is unknown.

    Example:
        >>> import torch
        >>> from dlref.backprop import ManualMLP
        >>> from dlref.losses import softmax_cross_entropy
        >>> mlp = ManualMLP([2, 16, 2], "tanh", generator=torch.Generator().manual_seed(0))
        >>> x, y = torch.randn(8, 2, dtype=torch.float64), torch.randint(0, 2, (8,))
        >>> loss, dlogits = softmax_cross_entropy(mlp.forward(x), y)
        >>> mlp.sgd_step(mlp.backward(dlogits), lr=0.1)
    """

    def __init__(
        self,
        sizes: Sequence[int],
        activation: str = "tanh",
        *,
        generator: torch.Generator | None = None,
        dtype: torch.dtype = torch.float64,
        device: torch.device | str | None = None,
    ) -> None:
        if (
            isinstance(sizes, str)
            or not isinstance(sizes, Sequence)
            or len(sizes) < 2
            or not all(checks.is_integer(n) and n >= 1 for n in sizes)
        ):
            raise ValueError(
                f"ManualMLP expects sizes as at least two positive ints (inputs, ..., classes), "
                f"got {sizes!r}"
            )
        checks.one_of("ManualMLP", "activation", activation, ACTIVATIONS)
        self.sizes = tuple(int(n) for n in sizes)
        self.activation = activation
        self.weights: list[torch.Tensor] = []
        self.biases: list[torch.Tensor] = []
        for fan_in, fan_out in pairwise(self.sizes):
            bound = 1.0 / math.sqrt(fan_in)
            w = torch.empty(fan_out, fan_in, dtype=dtype, device=device)  # (n_l, n_{l-1})
            b = torch.empty(fan_out, dtype=dtype, device=device)  # (n_l,)
            self.weights.append(w.uniform_(-bound, bound, generator=generator))
            self.biases.append(b.uniform_(-bound, bound, generator=generator))
        self._cache: tuple[list[torch.Tensor], list[torch.Tensor]] | None = None

    @property
    def num_layers(self) -> int:
        """The number $L$ of linear layers."""
        return len(self.weights)

    def _check_input(self, x: torch.Tensor) -> None:
        """Raise a clear error unless ``x`` is a ``(B, n_0)`` tensor of the parameters' dtype."""
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"ManualMLP expects x as a torch.Tensor, got {type(x).__name__}")
        if x.ndim != 2 or x.shape[1] != self.sizes[0]:
            raise ValueError(
                f"ManualMLP expects x of shape (B, {self.sizes[0]}), got {tuple(x.shape)}"
            )
        if x.dtype != self.weights[0].dtype:
            raise TypeError(
                f"ManualMLP has {self.weights[0].dtype} parameters, got x of dtype {x.dtype}"
            )

    def _cached_forward(
        self, dlogits: torch.Tensor
    ) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """What the last `forward` kept, once ``dlogits`` is checked to have its logits' shape."""
        if self._cache is None:
            raise RuntimeError("ManualMLP.backward called before forward: run forward(x) first")
        inputs, pre_activations = self._cache
        expected = (inputs[0].shape[0], self.sizes[-1])
        if tuple(dlogits.shape) != expected:
            raise ValueError(
                f"ManualMLP.backward expects dlogits of shape {expected} (the logits' shape), "
                f"got {tuple(dlogits.shape)}"
            )
        return inputs, pre_activations

    # --8<-- [start:forward]
    @torch.no_grad()
    def _forward(
        self, x: torch.Tensor
    ) -> tuple[torch.Tensor, list[torch.Tensor], list[torch.Tensor]]:
        """Return the logits $z_L$, the layer inputs $a_0..a_{L-1}$ and $z_1..z_{L-1}$."""
        phi = ACTIVATIONS[self.activation].function
        inputs, pre_activations = [], []  # what backward needs
        a = x  # (B, n_0)
        for w, b in zip(self.weights[:-1], self.biases[:-1], strict=True):
            inputs.append(a)
            z = a @ w.T + b  # (B, n_{l-1}) @ (n_{l-1}, n_l) + (n_l,) -> (B, n_l)
            pre_activations.append(z)
            a = phi(z)  # (B, n_l)
        inputs.append(a)
        logits = a @ self.weights[-1].T + self.biases[-1]  # (B, n_L), no activation
        return logits, inputs, pre_activations

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The logits $z_L$ ``(B, n_L)`` of ``x`` ``(B, n_0)``; keeps what `backward` needs."""
        self._check_input(x)
        logits, inputs, pre_activations = self._forward(x)
        self._cache = (inputs, pre_activations)
        return logits

    # --8<-- [end:forward]

    # --8<-- [start:backward]
    @torch.no_grad()
    def backward(self, dlogits: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
        r"""Backpropagate $\delta_L$ = ``dlogits`` through the last `forward`.

        Returns ``[(dW_1, db_1), ..., (dW_L, db_L)]``, each shaped like its parameter.
        """
        inputs, pre_activations = self._cached_forward(dlogits)
        phi_prime = ACTIVATIONS[self.activation].derivative
        grads = []
        delta = dlogits  # (B, n_L)
        for layer in reversed(range(self.num_layers)):
            dw = delta.T @ inputs[layer]  # δ_lᵀ a_{l-1}: (n_l, B) @ (B, n_{l-1})
            db = delta.sum(dim=0)  # Σ_i δ_{l,i}: (n_l,)
            grads.append((dw, db))
            if layer > 0:
                z = pre_activations[layer - 1]  # z_{l-1}
                delta = (delta @ self.weights[layer]) * phi_prime(z)  # (δ_l W_l) ⊙ φ'(z_{l-1})
        return grads[::-1]

    # --8<-- [end:backward]

    @torch.no_grad()
    def sgd_step(self, grads: Sequence[tuple[torch.Tensor, torch.Tensor]], lr: float) -> None:
        r"""Update the parameters in place by one step of gradient descent.

        $W_l \leftarrow W_l - \eta\, \partial \mathcal{L}/\partial W_l$ and
        $b_l \leftarrow b_l - \eta\, \partial \mathcal{L}/\partial b_l$ for every layer.

        Args:
            grads: What `backward` returned, one ``(dW, db)`` per layer.
            lr: The learning rate $\eta > 0$.

        Raises:
            ValueError: If ``lr`` is not positive or ``grads`` does not match the layers.
        """
        checks.number("sgd_step", "lr", lr, 0, closed_low=False)
        if len(grads) != self.num_layers:
            raise ValueError(f"sgd_step expects {self.num_layers} (dW, db) pairs, got {len(grads)}")
        for w, b, (dw, db) in zip(self.weights, self.biases, grads, strict=True):
            if dw.shape != w.shape or db.shape != b.shape:
                raise ValueError(
                    f"sgd_step expects gradients of shapes {tuple(w.shape)} and {tuple(b.shape)}, "
                    f"got {tuple(dw.shape)} and {tuple(db.shape)}"
                )
            w.sub_(lr * dw)
            b.sub_(lr * db)

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """Return the predicted class of each row of ``x``, as a ``(B,)`` tensor of indices.

        Unlike `forward`, this leaves what `backward` will use untouched.

        Raises:
            ValueError: If ``x`` is not of shape ``(B, n_0)``.
            TypeError: If ``x`` is not a tensor of the parameters' dtype.
        """
        self._check_input(x)
        logits, _, _ = self._forward(x)  # (B, n_L)
        return logits.argmax(dim=1)  # (B,)

    def to_torch(self) -> nn.Sequential:
        """Return the same network as ``nn.Sequential(Linear, act, ..., Linear)``, weights copied.

        PyTorch's autograd can then check `backward`. The state_dict keys are ``0.weight``,
        ``0.bias``, ``2.weight``, ... (activations hold no parameters).
        """
        layers: list[nn.Module] = []
        for layer, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            linear = nn.Linear(w.shape[1], w.shape[0], dtype=w.dtype, device=w.device)
            with torch.no_grad():
                linear.weight.copy_(w)
                linear.bias.copy_(b)
            layers.append(linear)
            if layer < self.num_layers - 1:
                layers.append(ACTIVATIONS[self.activation].module())
        return nn.Sequential(*layers)

    @classmethod
    def from_torch(cls, model: nn.Sequential) -> ManualMLP:
        """Build a ManualMLP with copies of the weights of ``Linear, act, Linear, ..., Linear``.

        Args:
            model: An ``nn.Sequential`` of ``nn.Linear`` layers, each but the last followed by
                the same activation module, one of those in
                [`ACTIVATIONS`][dlref.activations.ACTIVATIONS] with its default arguments.

        Raises:
            ValueError: If ``model`` does not have that layout.
        """
        modules = list(model) if isinstance(model, nn.Sequential) else []
        linears, acts = modules[::2], modules[1::2]
        module_names = {repr(spec.module()): name for name, spec in ACTIVATIONS.items()}
        act_names = {module_names.get(repr(m)) for m in acts}  # nn.ELU(alpha=2.0) is not "elu"
        layout_ok = (
            len(modules) % 2 == 1
            and all(isinstance(m, nn.Linear) and m.bias is not None for m in linears)
            and len(act_names) <= 1
            and None not in act_names
            and all(a.out_features == b.in_features for a, b in pairwise(linears))
        )
        if not layout_ok:
            raise ValueError(
                "ManualMLP.from_torch expects nn.Sequential(Linear, act, Linear, ..., Linear) with "
                f"one activation among {sorted(module_names.values())}, got {model!r}"
            )
        sizes = [linears[0].in_features] + [m.out_features for m in linears]
        first = linears[0].weight
        activation = act_names.pop() if act_names else "tanh"  # no hidden layer: any will do
        scratch = torch.Generator(device=first.device)  # leaves the global RNG untouched
        mlp = cls(sizes, activation, generator=scratch, dtype=first.dtype, device=first.device)
        mlp.weights = [m.weight.detach().clone() for m in linears]
        mlp.biases = [m.bias.detach().clone() for m in linears]
        return mlp
