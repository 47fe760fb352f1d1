"""How the tests of ``dlref`` compare an implementation with its PyTorch counterpart.

Comparisons run in float64 (``F64``) with the tolerance ``TOL``, so a difference is a bug and not
rounding: ours and PyTorch's compute the same formula in a different order, which costs a few
units in the last place of a float64, far below 1e-9.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

F64 = torch.float64
TOL = {"rtol": 1e-9, "atol": 1e-9}


def forward_and_grads(
    fn: Callable[..., torch.Tensor], x: torch.Tensor, grad_out: torch.Tensor, **kwargs
) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
    """Run ``fn`` on a fresh leaf copy of ``x`` and backpropagate ``grad_out`` through it.

    Returns:
        The output, the gradient of ``<grad_out, fn(x)>`` with respect to ``x``, and, when
        ``fn`` is a module, with respect to each of its parameters by name.
    """
    x = x.detach().clone().requires_grad_()
    y = fn(x, **kwargs)
    params = dict(fn.named_parameters()) if isinstance(fn, nn.Module) else {}
    grads = torch.autograd.grad(y, [x, *params.values()], grad_out)
    return y.detach(), grads[0], dict(zip(params, grads[1:], strict=True))


def assert_same_forward_and_backward(
    ours: Callable[..., torch.Tensor],
    theirs: Callable[..., torch.Tensor],
    x: torch.Tensor,
    grad_out: torch.Tensor | None = None,
    tol: dict[str, float] | None = None,
    **kwargs,
) -> None:
    """Outputs, input gradients and parameter gradients (for modules) agree on ``x``."""
    tol = TOL if tol is None else tol
    grad_out = torch.randn_like(x) if grad_out is None else grad_out
    y_ours, dx_ours, dp_ours = forward_and_grads(ours, x, grad_out, **kwargs)
    y_theirs, dx_theirs, dp_theirs = forward_and_grads(theirs, x, grad_out, **kwargs)
    torch.testing.assert_close(y_ours, y_theirs, **tol, msg=lambda m: f"output: {m}")
    torch.testing.assert_close(dx_ours, dx_theirs, **tol, msg=lambda m: f"input gradient: {m}")
    assert dp_ours.keys() == dp_theirs.keys()
    for name in dp_ours:
        torch.testing.assert_close(
            dp_ours[name], dp_theirs[name], **tol, msg=lambda m, n=name: f"grad of {n}: {m}"
        )


def assert_same_state(
    ours: nn.Module | torch.optim.Optimizer,
    theirs: nn.Module | torch.optim.Optimizer,
    tol: dict[str, float] | None = None,
) -> None:
    """Two modules' parameters and buffers, or two optimizers' per-parameter state, agree.

    An optimizer's ``param_groups`` are left out: PyTorch's carry extra switches
    (``foreach``, ``fused``, ...) that ours do not have. An empty state counts as none (plain SGD
    keeps no state; ours leaves an empty entry where PyTorch's leaves none).
    """
    tol = TOL if tol is None else tol
    if isinstance(ours, torch.optim.Optimizer):
        ours_state, theirs_state = (
            {
                index: entries
                for index, entries in optimizer.state_dict()["state"].items()
                if entries
            }
            for optimizer in (ours, theirs)
        )
    else:
        ours_state, theirs_state = {"": ours.state_dict()}, {"": theirs.state_dict()}
    assert ours_state.keys() == theirs_state.keys()
    for index, entries in ours_state.items():
        assert entries.keys() == theirs_state[index].keys(), f"state of {index}"
        for key, value in entries.items():
            torch.testing.assert_close(
                value, theirs_state[index][key], **tol, msg=lambda m, k=key: f"{k}: {m}"
            )
