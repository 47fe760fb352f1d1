"""Figures the pages draw: computational graphs, decision boundaries and training curves.

Explained on the page [Backpropagation](../foundations/backpropagation.md).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch

from dlref.autograd import Value


def _graph_layout(root: Value) -> dict[Value, tuple[float, float]]:
    """Place each node of ``root``'s graph: rows by distance from ``root``, columns by consumer.

    A node's row is its longest path to ``root`` (``root`` at the bottom, row 0), so every input
    sits just above the first operation that uses it; within a row, nodes are ordered by the mean
    horizontal position of the nodes that consume them, which keeps arrows from crossing. Nodes
    of a row are one unit apart; the returned ``(x, y)`` has ``y`` equal to the row.
    """
    consumers: dict[Value, list[Value]] = {root: []}
    order = [root]  # breadth-first, then relaxed until distances settle (graphs are small)
    for node in order:
        for child in node._prev:
            if child not in consumers:
                consumers[child] = []
                order.append(child)
            consumers[child].append(node)
    distance = {root: 0}
    changed = True
    while changed:
        changed = False
        for node in order:
            for child in node._prev:
                if distance.get(child, -1) < distance[node] + 1:
                    distance[child] = distance[node] + 1
                    changed = True
    depth = max(distance.values())
    position: dict[Value, tuple[float, float]] = {}
    for level in range(depth + 1):
        row = [node for node in order if distance[node] == level]
        wanted = {
            node: sum(position[c][0] for c in consumers[node]) / len(consumers[node])
            if consumers[node]
            else 0.0
            for node in row
        }
        row.sort(key=lambda node: wanted[node])
        centre = sum(wanted.values()) / len(row)
        for column, node in enumerate(row):
            position[node] = (centre - (len(row) - 1) / 2 + column, float(level))
    return position


def draw_computational_graph(
    root: Value, names: Mapping[Value, str] | None = None, ax: plt.Axes | None = None
) -> plt.Axes:
    """Draw the graph that produced ``root``: one box per Value with its data and gradient.

    Inputs are at the top, ``root`` at the bottom; arrows follow the forward pass downwards, and
    each box shows the operation that made the node (or its name), its value and (after
    ``root.backward()``) its gradient $\\partial\\,\\text{root} / \\partial\\,\\text{node}$.
    A new figure is at most 6.9 inches wide, with 9 pt text, and leaves room for a title.

    Args:
        root: The output Value.
        names: Optional labels for nodes (e.g. ``{w: "w"}``); others show their operation.
        ax: Axes to draw on; a new figure if ``None``.

    Returns:
        The axes drawn on.
    """
    if not isinstance(root, Value):
        raise TypeError(f"draw_computational_graph expects a Value, got {type(root).__name__}")
    names = names or {}
    position = _graph_layout(root)
    xs = [x for x, _ in position.values()]
    ys = [y for _, y in position.values()]
    x_margin, y_margin = 0.6, 0.5  # room for half a box around the outermost centres
    x_span = max(xs) - min(xs) + 2 * x_margin
    y_span = max(ys) - min(ys) + 2 * y_margin
    if ax is None:
        column_inches = min(1.55, 6.9 / x_span)  # never wider than the page's column
        row_inches, title_inches = 0.95, 0.5
        height = row_inches * y_span + title_inches
        figure = plt.figure(figsize=(column_inches * x_span, height))
        ax = figure.add_axes((0.0, 0.0, 1.0, 1.0 - title_inches / height))
    boxes: dict[Value, plt.Text] = {}
    for node, (x, y) in position.items():
        label = names.get(node) or (node._op or "const")
        leaf = not node._prev
        boxes[node] = ax.text(
            x,
            y,
            f"{label}\ndata {node.data:.3f}\ngrad {node.grad:.3f}",
            ha="center",
            va="center",
            fontsize=9,
            family="monospace",
            bbox={
                "boxstyle": "round,pad=0.4",
                "facecolor": "#e8eaf6" if leaf else "#fff3e0",
                "edgecolor": "#3949ab" if leaf else "#ef6c00",
            },
        )
    for node in position:
        children = sorted(node._prev, key=lambda child: position[child][0])
        for index, child in enumerate(children):
            ax.annotate(
                "",
                xy=((index + 1) / (len(children) + 1), 1.0),  # on the top edge of the node
                xycoords=boxes[node],
                xytext=(0.5, 0.0),  # from the middle of the input's bottom edge
                textcoords=boxes[child],
                arrowprops={
                    "arrowstyle": "->",
                    "color": "0.4",
                    "lw": 1.2,
                    "shrinkA": 6,
                    "shrinkB": 6,
                },
            )
    ax.set_xlim(min(xs) - x_margin, max(xs) + x_margin)
    ax.set_ylim(min(ys) - y_margin, max(ys) + y_margin)
    ax.axis("off")
    return ax


def plot_decision_boundary(
    predict: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    y: torch.Tensor,
    ax: plt.Axes | None = None,
    resolution: int = 200,
) -> plt.Axes:
    """Colour the plane by the class ``predict`` gives each point, and scatter the data on top.

    Args:
        predict: Maps a ``(N, 2)`` float tensor to ``(N,)`` class indices.
        x: Points of shape ``(N, 2)``.
        y: Their classes, shape ``(N,)``.
        ax: Axes to draw on; a new figure if ``None``.
        resolution: Grid points along each axis.

    Returns:
        The axes drawn on.
    """
    if x.ndim != 2 or x.shape[1] != 2:
        raise ValueError(f"plot_decision_boundary expects x of shape (N, 2), got {tuple(x.shape)}")
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 4))
    x_np, y_np = x.detach().cpu().numpy(), y.detach().cpu().numpy()
    pad = 0.5
    grid_x, grid_y = np.meshgrid(
        np.linspace(x_np[:, 0].min() - pad, x_np[:, 0].max() + pad, resolution),
        np.linspace(x_np[:, 1].min() - pad, x_np[:, 1].max() + pad, resolution),
    )
    grid = torch.tensor(np.c_[grid_x.ravel(), grid_y.ravel()], dtype=x.dtype, device=x.device)
    with torch.no_grad():
        classes = predict(grid).reshape(grid_x.shape).cpu().numpy()  # (resolution, resolution)
    ax.contourf(grid_x, grid_y, classes, alpha=0.25, cmap="coolwarm")
    ax.scatter(
        x_np[:, 0], x_np[:, 1], c=y_np, cmap="coolwarm", s=12, edgecolors="k", linewidths=0.3
    )
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    return ax


def plot_curves(
    curves: Mapping[str, Sequence[float]],
    ax: plt.Axes | None = None,
    xlabel: str = "step",
    ylabel: str = "loss",
    log: bool = False,
) -> plt.Axes:
    """Plot named curves (loss or accuracy per step or epoch) on one axes, with a legend."""
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 4))
    for name, values in curves.items():
        ax.plot(range(1, len(values) + 1), values, label=name)
    if log:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend()
    ax.grid(alpha=0.3)
    return ax
