r"""A scalar reverse-mode automatic differentiation engine, in the style of micrograd.

Explained on the page [Backpropagation](../foundations/backpropagation.md).

A `Value` wraps one float. Every operation on Values returns a new Value that remembers its
inputs (``_prev``), the operation that made it (``_op``) and a small ``_backward`` closure that
knows the operation's local derivative. `Value.backward` orders the graph topologically and runs
the closures from the output back to the leaves, applying the chain rule one node at a time:

$$\frac{\partial \mathcal{L}}{\partial v} = \sum_{u \,:\, v \in \mathrm{inputs}(u)}
  \frac{\partial \mathcal{L}}{\partial u}\,\frac{\partial u}{\partial v}.$$

Each closure adds ``out.grad * local_derivative`` into its inputs' ``grad`` (``+=``, never ``=``),
so a node used on several paths collects the sum over all of them.

A Value's ``data`` is its number and ``grad`` is $\partial \mathcal{L} / \partial\,\text{value}$
for the output $\mathcal{L}$ of the last ``backward`` call; ``_prev`` and ``_op`` are set by the
operations (empty for a leaf). `Value.backward` puts the graph in topological order (every node
after its inputs) with an iterative depth-first search, so graphs of any depth work without
hitting Python's recursion limit, seeds the output's gradient with 1 and runs each node's
``_backward`` from the output back to the leaves.

Gradients accumulate like PyTorch's: interior nodes are reset at the start of every call, but a
leaf's ``grad`` is added to, so calling ``backward`` twice on the same graph doubles the leaves'
gradients. Set ``leaf.grad = 0.0`` before each new step; PyTorch's ``optimizer.zero_grad()``
plays the same part (since PyTorch 2.0 it sets each ``.grad`` to ``None``, ``set_to_none=True``).

Examples:
    >>> from dlref.autograd import Value
    >>> x = Value(2.0)
    >>> y = x * x + 3 * x  # dy/dx = 2x + 3
    >>> y.backward()
    >>> x.grad
    7.0
"""

from __future__ import annotations

import math

from dlref import checks


# --8<-- [start:value-core]
class Value:
    """A scalar that records the operations applied to it, so that it can be differentiated."""

    def __init__(self, data: float, _children: tuple[Value, ...] = (), _op: str = "") -> None:
        if not checks.is_real(data):
            raise TypeError(
                f"Value expects a real number (int or float), got {type(data).__name__}: {data!r}"
            )
        self.data = float(data)
        self.grad = 0.0
        self._backward = lambda: None  # a leaf has no inputs to pass gradient to
        self._prev = tuple(dict.fromkeys(_children))  # unique inputs, in order
        self._op = _op

    def __repr__(self) -> str:
        return f"Value(data={self.data!r}, grad={self.grad!r})"

    def __add__(self, other: Value | float) -> Value:
        r"""$y = a + b$; local derivatives $\partial y/\partial a = \partial y/\partial b = 1$."""
        other = other if isinstance(other, Value) else Value(other)
        out = Value(self.data + other.data, (self, other), "+")

        def _backward() -> None:
            self.grad += out.grad
            other.grad += out.grad

        out._backward = _backward
        return out

    def __mul__(self, other: Value | float) -> Value:
        r"""$y = ab$; local derivatives $\partial y/\partial a = b$, $\partial y/\partial b = a$."""
        other = other if isinstance(other, Value) else Value(other)
        out = Value(self.data * other.data, (self, other), "*")

        def _backward() -> None:
            self.grad += other.data * out.grad
            other.grad += self.data * out.grad

        out._backward = _backward
        return out

    def backward(self) -> None:
        r"""Set each ``v.grad`` of the graph to $\partial\,\text{self} / \partial v$."""
        order: list[Value] = []
        visited: set[Value] = set()
        stack: list[tuple[Value, bool]] = [(self, False)]
        while stack:
            node, inputs_done = stack.pop()
            if inputs_done:
                order.append(node)  # all its inputs are already in `order`
            elif node not in visited:
                visited.add(node)
                stack.append((node, True))
                stack.extend((child, False) for child in node._prev)

        for node in order:
            if node._prev:
                node.grad = 0.0  # interior nodes hold this call's gradient only
        self.grad += 1.0  # dself/dself
        for node in reversed(order):
            node._backward()

    # --8<-- [end:value-core]

    def __neg__(self) -> Value:
        r"""$y = -a$; local derivative $\partial y/\partial a = -1$."""
        out = Value(-self.data, (self,), "neg")

        def _backward() -> None:
            self.grad -= out.grad

        out._backward = _backward
        return out

    def __sub__(self, other: Value | float) -> Value:
        r"""$y = a - b$.

        Local derivatives: $\partial y/\partial a = 1$, $\partial y/\partial b = -1$.
        """
        other = other if isinstance(other, Value) else Value(other)
        out = Value(self.data - other.data, (self, other), "-")

        def _backward() -> None:
            self.grad += out.grad
            other.grad -= out.grad

        out._backward = _backward
        return out

    def __truediv__(self, other: Value | float) -> Value:
        r"""$y = a / b$.

        Local derivatives: $\partial y/\partial a = 1/b$, $\partial y/\partial b = -a/b^2$.

        Raises:
            ZeroDivisionError: If the divisor is zero.
        """
        other = other if isinstance(other, Value) else Value(other)
        if other.data == 0.0:
            raise ZeroDivisionError(f"Value division by zero: {self.data!r} / 0.0")
        out = Value(self.data / other.data, (self, other), "/")

        def _backward() -> None:
            self.grad += out.grad / other.data
            other.grad -= out.grad * self.data / other.data**2

        out._backward = _backward
        return out

    def __pow__(self, exponent: float) -> Value:
        r"""$y = a^k$ for a constant $k$; local derivative $\partial y/\partial a = k a^{k-1}$.

        At $a = 0$ the derivative is $0$ for $k = 0$ and $+\infty$ for $0 < k < 1$, as in
        PyTorch.

        Args:
            exponent: A plain int or float (a Value exponent is not supported).

        Raises:
            TypeError: If ``exponent`` is a Value or not a number.
            ZeroDivisionError: If ``self`` is zero and ``exponent`` negative.
            ValueError: If ``self`` is negative and ``exponent`` not an integer (complex result).
        """
        if isinstance(exponent, Value):
            raise TypeError(
                "Value ** Value is not supported: the exponent must be a plain int or float; "
                "write (b * a.log()).exp() for a ** b with a > 0"
            )
        if not checks.is_real(exponent):
            raise TypeError(f"Value ** expects an int or float exponent, got {exponent!r}")
        k = float(exponent)
        if self.data == 0.0 and k < 0:
            raise ZeroDivisionError(f"Value 0.0 cannot be raised to a negative power ({k!r})")
        if self.data < 0 and not k.is_integer():
            raise ValueError(
                f"Value ** of a negative number to a non-integer power is complex: "
                f"{self.data!r} ** {k!r}"
            )
        out = Value(self.data**k, (self,), f"**{exponent}")

        def _backward() -> None:
            if self.data == 0.0 and k < 1:
                local = 0.0 if k == 0 else math.inf
            else:
                local = k * self.data ** (k - 1)
            self.grad += local * out.grad

        out._backward = _backward
        return out

    def __radd__(self, other: float) -> Value:
        """``number + Value``."""
        return self + other

    def __rsub__(self, other: float) -> Value:
        """``number - Value``."""
        return Value(other) - self

    def __rmul__(self, other: float) -> Value:
        """``number * Value``."""
        return self * other

    def __rtruediv__(self, other: float) -> Value:
        """``number / Value``."""
        return Value(other) / self

    def exp(self) -> Value:
        r"""$y = e^a$; local derivative $\partial y/\partial a = e^a = y$."""
        out = Value(math.exp(self.data), (self,), "exp")

        def _backward() -> None:
            self.grad += out.data * out.grad

        out._backward = _backward
        return out

    def log(self) -> Value:
        r"""$y = \ln a$ for $a > 0$; local derivative $\partial y/\partial a = 1/a$.

        Raises:
            ValueError: If ``self`` is not positive.
        """
        if self.data <= 0:
            raise ValueError(f"Value.log needs a positive number, got {self.data!r}")
        out = Value(math.log(self.data), (self,), "log")

        def _backward() -> None:
            self.grad += out.grad / self.data

        out._backward = _backward
        return out

    # --8<-- [start:value-tanh]
    def tanh(self) -> Value:
        r"""$y = \tanh a$; local derivative $\partial y/\partial a = 1 - \tanh^2 a = 1 - y^2$."""
        out = Value(math.tanh(self.data), (self,), "tanh")

        def _backward() -> None:
            self.grad += (1.0 - out.data**2) * out.grad

        out._backward = _backward
        return out

    # --8<-- [end:value-tanh]

    def sigmoid(self) -> Value:
        r"""$y = \sigma(a) = 1/(1 + e^{-a})$; local derivative $\partial y/\partial a = y(1 - y)$.

        Computed as $e^a/(1 + e^a)$ for $a < 0$ so that no exponential overflows.
        """
        if self.data >= 0:
            s = 1.0 / (1.0 + math.exp(-self.data))
        else:
            e = math.exp(self.data)
            s = e / (1.0 + e)
        out = Value(s, (self,), "sigmoid")

        def _backward() -> None:
            self.grad += out.data * (1.0 - out.data) * out.grad

        out._backward = _backward
        return out

    def relu(self) -> Value:
        r"""$y = \max(0, a)$; local derivative $\partial y/\partial a = [a > 0]$ (0 at $a = 0$)."""
        out = Value(max(0.0, self.data), (self,), "relu")

        def _backward() -> None:
            self.grad += (self.data > 0) * out.grad

        out._backward = _backward
        return out
