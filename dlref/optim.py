r"""Optimizers written out: SGD with momentum, RMSprop, Adam, AMSGrad and AdamW.

Explained on the page [Optimizers](../foundations/optimizers.md).

Every optimizer here is an [`Optimizer`][dlref.optim.Optimizer], a `torch.optim.Optimizer` whose
`step` owns the loop (the closure, the parameter groups, skipping parameters without a gradient,
creating each parameter's state on its first step), so each optimizer writes only its update
rule, one line per equation. Param groups, `add_param_group`, `zero_grad`, `state_dict` /
`load_state_dict` and `torch.optim.lr_scheduler` work as with PyTorch's own, and the state sits
under the keys PyTorch uses, so the state dicts of the two are interchangeable.

Notation (the site's): $\theta_t$ the parameters after step $t$,
$g_t = \nabla_\theta f(\theta_{t-1})$ the gradient, $\eta$ the learning rate, $\rho$ the momentum
coefficient, $\lambda$ the weight decay. Operations on vectors ($g_t^2$, $\sqrt{v_t}$, division)
are elementwise. The update rules, with every running average starting at 0:

**SGD** with dampening $\tau$ and an optional Nesterov look-ahead; with $\rho = 0$, $d_t = g_t$:

$$
\begin{aligned}
g_t &\leftarrow g_t + \lambda \theta_{t-1}, \\
b_t &\leftarrow \rho b_{t-1} + (1 - \tau) g_t \quad (b_1 = g_1), \\
d_t &\leftarrow g_t + \rho b_t \ \text{(Nesterov) or } b_t, \\
\theta_t &\leftarrow \theta_{t-1} - \eta d_t.
\end{aligned}
$$

**RMSprop** with smoothing constant $\alpha$; centered, it divides by a running standard deviation
($\tilde v_t = v_t - \bar g_t^2$), otherwise $\tilde v_t = v_t$:

$$
\begin{aligned}
v_t &\leftarrow \alpha v_{t-1} + (1 - \alpha) g_t^2, \\
\bar g_t &\leftarrow \alpha \bar g_{t-1} + (1 - \alpha) g_t, \\
b_t &\leftarrow \rho b_{t-1} + g_t / (\sqrt{\tilde v_t} + \epsilon), \\
\theta_t &\leftarrow \theta_{t-1} - \eta b_t.
\end{aligned}
$$

**Adam**, bias-corrected; AMSGrad divides by the largest $v$ so far, $\tilde v_t =
\max(\tilde v_{t-1}, v_t)$, Adam by $\tilde v_t = v_t$:

$$
\begin{aligned}
m_t &\leftarrow \beta_1 m_{t-1} + (1 - \beta_1) g_t, \\
v_t &\leftarrow \beta_2 v_{t-1} + (1 - \beta_2) g_t^2, \\
\theta_t &\leftarrow \theta_{t-1} - \frac{\eta}{1 - \beta_1^t}
  \frac{m_t}{\sqrt{\tilde v_t / (1 - \beta_2^t)} + \epsilon}.
\end{aligned}
$$

Adam's weight decay adds $\lambda\theta_{t-1}$ to $g_t$, AdamW's shrinks the weights instead,
$\theta_{t-1} \leftarrow (1 - \eta\lambda)\,\theta_{t-1}$, before the update.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from torch.optim.optimizer import ParamsT

from dlref import checks

State = dict[str, Any]  # one parameter's state: buffers under PyTorch's keys
Group = dict[str, Any]  # one parameter group: its "params" and hyperparameters


# --8<-- [start:optimizer-step]
class Optimizer(torch.optim.Optimizer):
    """The loop every optimizer shares; a subclass writes its update rule in `update`."""

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> float | None:
        """Update every parameter that has a gradient, once; return the closure's loss."""
        loss = None
        if closure is not None:
            with torch.enable_grad():  # the closure runs forward and backward
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:  # frozen, or not used by the loss
                    continue
                state = self.state[p]
                if not state:  # the parameter's first step
                    self.init_state(state, p, group)
                self.update(p, p.grad, state, group)
        return loss

    # --8<-- [end:optimizer-step]

    def init_state(self, state: State, p: torch.Tensor, group: Group) -> None:
        """Create the state of parameter ``p`` before its first update (nothing by default)."""

    def update(self, p: torch.Tensor, grad: torch.Tensor, state: State, group: Group) -> None:
        """Update parameter ``p`` in place, given its gradient; a subclass defines the rule."""
        raise NotImplementedError(f"{type(self).__name__} must define update()")


class SGD(Optimizer):
    r"""Stochastic gradient descent, with optional (Nesterov) momentum and weight decay.

    Plain SGD steps against the gradient, $\theta_t = \theta_{t-1} - \eta g_t$. Momentum keeps a
    running sum of past gradients $b_t$ (a velocity) and steps along it instead, which damps the
    zig-zag across a narrow valley and speeds up the walk along it. Nesterov's variant steps along
    the gradient plus the velocity, a look-ahead that reacts sooner when the valley turns.

    Args:
        params: The tensors to optimize, or dicts defining param groups.
        lr: Learning rate $\eta$.
        momentum: Momentum coefficient $\rho$ (0 turns momentum off).
        dampening: Dampening $\tau$: the share of each new gradient left out of the velocity.
        weight_decay: L2 penalty $\lambda$, added to the gradient as $\lambda \theta$. With
            momentum it enters the velocity like the rest of the gradient, so it is not the same
            as shrinking the weights by $1 - \eta\lambda$ per step (decoupled decay).
        nesterov: Use Nesterov momentum (needs ``momentum > 0`` and ``dampening = 0``).

    Raises:
        TypeError: If a hyperparameter is not a number.
        ValueError: If ``lr``, ``momentum``, ``dampening`` or ``weight_decay`` is negative, or
            ``nesterov`` is set without momentum or with dampening.
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-3,
        momentum: float = 0,
        dampening: float = 0,
        weight_decay: float = 0,
        nesterov: bool = False,
    ) -> None:
        checks.non_negative(
            "SGD", lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay
        )
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError(
                "SGD with nesterov=True needs momentum > 0 and dampening = 0, "
                f"got momentum={momentum!r}, dampening={dampening!r}"
            )
        defaults = {
            "lr": lr,
            "momentum": momentum,
            "dampening": dampening,
            "weight_decay": weight_decay,
            "nesterov": nesterov,
        }
        super().__init__(params, defaults)

    # --8<-- [start:sgd-update]
    def update(self, p: torch.Tensor, grad: torch.Tensor, state: State, group: Group) -> None:
        """One SGD step; the velocity is ``state["momentum_buffer"]``."""
        rho, tau = group["momentum"], group["dampening"]
        if group["weight_decay"] != 0:
            grad = grad.add(p, alpha=group["weight_decay"])  # g ← g + λθ
        if rho != 0:
            if "momentum_buffer" not in state:
                state["momentum_buffer"] = grad.clone()  # b_1 = g_1
            else:
                state["momentum_buffer"].mul_(rho).add_(grad, alpha=1 - tau)  # b ← ρb + (1 - τ)g
            b = state["momentum_buffer"]
            grad = grad.add(b, alpha=rho) if group["nesterov"] else b  # d = g + ρb, or b
        p.add_(grad, alpha=-group["lr"])  # θ ← θ - η d

    # --8<-- [end:sgd-update]


class RMSprop(Optimizer):
    r"""RMSprop: divide each coordinate's step by a running root mean square of its gradients.

    Coordinates with large gradients get small steps and those with small gradients large ones,
    so one learning rate suits parameters of very different scales. The centered variant divides
    by a running estimate of the gradient's standard deviation instead of its RMS.

    Args:
        params: The tensors to optimize, or dicts defining param groups.
        lr: Learning rate $\eta$.
        alpha: Smoothing constant $\alpha$ of the running averages, in $[0, 1)$.
        eps: $\epsilon$, added to the denominator for numerical stability.
        weight_decay: L2 penalty $\lambda$, added to the gradient as $\lambda \theta$.
        momentum: Momentum coefficient $\rho$ (0 turns momentum off).
        centered: Normalize by the estimated variance of the gradient instead of its second
            moment.

    Raises:
        TypeError: If a hyperparameter is not a number.
        ValueError: If ``lr``, ``eps``, ``weight_decay`` or ``momentum`` is negative, or
            ``alpha`` is outside $[0, 1)$.
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0,
        momentum: float = 0,
        centered: bool = False,
    ) -> None:
        checks.non_negative("RMSprop", lr=lr, eps=eps, weight_decay=weight_decay, momentum=momentum)
        checks.number("RMSprop", "alpha", alpha, 0, 1)
        defaults = {
            "lr": lr,
            "alpha": alpha,
            "eps": eps,
            "weight_decay": weight_decay,
            "momentum": momentum,
            "centered": centered,
        }
        super().__init__(params, defaults)

    def init_state(self, state: State, p: torch.Tensor, group: Group) -> None:
        """Every running average starts at 0, under PyTorch's keys."""
        state["step"] = torch.zeros(())
        state["square_avg"] = torch.zeros_like(p)  # v
        if group["momentum"] > 0:
            state["momentum_buffer"] = torch.zeros_like(p)  # b
        if group["centered"]:
            state["grad_avg"] = torch.zeros_like(p)  # ḡ

    # --8<-- [start:rmsprop-update]
    def update(self, p: torch.Tensor, grad: torch.Tensor, state: State, group: Group) -> None:
        """One RMSprop step."""
        alpha = group["alpha"]
        state["step"] += 1
        if group["weight_decay"] != 0:
            grad = grad.add(p, alpha=group["weight_decay"])  # g ← g + λθ
        v = state["square_avg"].mul_(alpha).addcmul_(grad, grad, value=1 - alpha)  # αv + (1-α)g²
        if group["centered"]:
            g_bar = state["grad_avg"].lerp_(grad, 1 - alpha)  # ḡ ← αḡ + (1 - α)g
            v = v.addcmul(g_bar, g_bar, value=-1)  # ṽ = v - ḡ²
        denom = v.sqrt().add_(group["eps"])  # √ṽ + ε
        if group["momentum"] > 0:
            b = state["momentum_buffer"].mul_(group["momentum"]).addcdiv_(grad, denom)  # ρb + g/…
            p.add_(b, alpha=-group["lr"])  # θ ← θ - η b
        else:
            p.addcdiv_(grad, denom, value=-group["lr"])  # θ ← θ - η g / (√ṽ + ε)

    # --8<-- [end:rmsprop-update]


class Adam(Optimizer):
    r"""Adam: momentum on the gradient, divided by a running RMS of the gradient, bias-corrected.

    Adam keeps two exponential moving averages per coordinate: $m$ of the gradient (a direction,
    like momentum) and $v$ of its square (a scale, like RMSprop). Both start at 0, so early on
    they are biased towards 0; dividing by $1 - \beta^t$ undoes that. ``weight_decay`` here is an
    L2 penalty added to the gradient, which then gets rescaled like the rest of it; see `AdamW`
    for the decoupled version, and `AMSGrad` for PyTorch's ``Adam(amsgrad=True)``.

    Args:
        params: The tensors to optimize, or dicts defining param groups.
        lr: Learning rate $\eta$.
        betas: Decay rates $(\beta_1, \beta_2)$ of the two moving averages, each in $[0, 1)$.
        eps: $\epsilon$, added to the denominator for numerical stability.
        weight_decay: Weight decay $\lambda$.

    Raises:
        TypeError: If a hyperparameter is not a number.
        ValueError: If ``lr``, ``eps`` or ``weight_decay`` is negative, or ``betas`` is not a
            pair of numbers in $[0, 1)$.
    """

    amsgrad = False  # PyTorch's name for the variant, kept in every param group

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
    ) -> None:
        caller = type(self).__name__
        checks.non_negative(caller, lr=lr, eps=eps, weight_decay=weight_decay)
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise ValueError(f"{caller} expects betas to be a pair (beta1, beta2), got {betas!r}")
        for i, beta in enumerate(betas):
            checks.number(caller, f"betas[{i}]", beta, 0, 1)
        defaults = {
            "lr": lr,
            "betas": tuple(betas),
            "eps": eps,
            "weight_decay": weight_decay,
            "amsgrad": self.amsgrad,
        }
        super().__init__(params, defaults)

    def init_state(self, state: State, p: torch.Tensor, group: Group) -> None:
        """The step count and both moments start at 0, under PyTorch's keys."""
        state["step"] = torch.zeros(())  # t
        state["exp_avg"] = torch.zeros_like(p)  # m
        state["exp_avg_sq"] = torch.zeros_like(p)  # v

    # --8<-- [start:adam-weight-decay]
    def weight_decay(self, p: torch.Tensor, grad: torch.Tensor, group: Group) -> torch.Tensor:
        """Adam's weight decay, an L2 penalty: return the gradient the moments will see."""
        return grad.add(p, alpha=group["weight_decay"])  # g ← g + λθ

    # --8<-- [end:adam-weight-decay]

    def second_moment(self, state: State) -> torch.Tensor:
        """The $\\tilde v_t$ that scales the step: Adam's is $v_t$ itself."""
        return state["exp_avg_sq"]

    # --8<-- [start:adam-update]
    def update(self, p: torch.Tensor, grad: torch.Tensor, state: State, group: Group) -> None:
        """One Adam step, with bias correction."""
        (beta1, beta2), lr = group["betas"], group["lr"]
        state["step"] += 1
        t = state["step"].item()
        if group["weight_decay"] != 0:
            grad = self.weight_decay(p, grad, group)
        m = state["exp_avg"].lerp_(grad, 1 - beta1)  # m ← β1 m + (1 - β1) g
        state["exp_avg_sq"].mul_(beta2).addcmul_(grad, grad, value=1 - beta2)  # v ← β2 v + (1-β2)g²
        v = self.second_moment(state)  # ṽ
        denom = (v.sqrt() / math.sqrt(1 - beta2**t)).add_(group["eps"])  # √(ṽ / (1 - β2^t)) + ε
        p.addcdiv_(m, denom, value=-lr / (1 - beta1**t))  # θ ← θ - η/(1 - β1^t) · m / denom

    # --8<-- [end:adam-update]


class AMSGrad(Adam):
    r"""AMSGrad (Reddi et al., 2018): Adam divided by the largest $v$ seen so far.

    Taking $\tilde v_t = \max(\tilde v_{t-1}, v_t)$ means a coordinate's effective step size
    never grows again after a large gradient, which fixes Adam's non-convergence on some convex
    problems. The same as PyTorch's ``Adam(amsgrad=True)``: the state adds ``max_exp_avg_sq``.
    Arguments as for `Adam`.
    """

    amsgrad = True

    def init_state(self, state: State, p: torch.Tensor, group: Group) -> None:
        """Adam's state, plus the running maximum $\\tilde v$."""
        super().init_state(state, p, group)
        state["max_exp_avg_sq"] = torch.zeros_like(p)  # ṽ

    # --8<-- [start:amsgrad-second-moment]
    def second_moment(self, state: State) -> torch.Tensor:
        """The largest second moment so far, $\\tilde v_t = \\max(\\tilde v_{t-1}, v_t)$."""
        v_max = state["max_exp_avg_sq"]
        return torch.maximum(v_max, state["exp_avg_sq"], out=v_max)  # ṽ ← max(ṽ, v)

    # --8<-- [end:amsgrad-second-moment]


class AdamW(Adam):
    r"""AdamW: Adam with decoupled weight decay (Loshchilov & Hutter, 2019).

    In `Adam`, weight decay is added to the gradient and then divided by $\sqrt{\hat v}$, so
    coordinates with large gradients are barely decayed. AdamW shrinks the weights directly,
    $\theta \leftarrow (1 - \eta\lambda)\,\theta$, before the Adam update, so every weight
    decays at the same rate. That is the only difference: `update` is `Adam`'s.

    Args:
        params: The tensors to optimize, or dicts defining param groups.
        lr: Learning rate $\eta$.
        betas: Decay rates $(\beta_1, \beta_2)$ of the two moving averages, each in $[0, 1)$.
        eps: $\epsilon$, added to the denominator for numerical stability.
        weight_decay: Decoupled weight decay $\lambda$.

    Raises:
        TypeError: If a hyperparameter is not a number.
        ValueError: If ``lr``, ``eps`` or ``weight_decay`` is negative, or ``betas`` is not a
            pair of numbers in $[0, 1)$.
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
    ) -> None:
        super().__init__(params, lr, betas, eps, weight_decay)

    # --8<-- [start:adamw-weight-decay]
    def weight_decay(self, p: torch.Tensor, grad: torch.Tensor, group: Group) -> torch.Tensor:
        """AdamW's weight decay: shrink the weights; the moments see the plain gradient."""
        p.mul_(1 - group["lr"] * group["weight_decay"])  # θ ← (1 - ηλ)θ
        return grad

    # --8<-- [end:adamw-weight-decay]
