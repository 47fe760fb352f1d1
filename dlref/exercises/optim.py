r"""Checks for the exercises of the optimizers page.

Explained on the page [Optimizers](../foundations/optimizers.md#exercises).

Each check runs the reader's code on fixed, seeded inputs and compares it with a reference computed
inside the check: PyTorch's own ``torch.optim.Adagrad`` taking the same steps from the same start,
the largest stable learning rate $2/h_{\max}$ of gradient descent on a least-squares loss, and
PyTorch's ``LinearLR`` + ``CosineAnnealingLR`` schedule stepped by ``SequentialLR``. None of them
touches PyTorch's global random state.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from torch.optim import lr_scheduler

from dlref.exercises.checking import ExerciseFailed, call, passed

__all__ = ["check_adagrad", "check_largest_stable_lr", "check_warmup_cosine"]

F64 = torch.float64


def _as_number(result: Any, what: str) -> float:
    """``result`` as a Python float, or a hint that it is not one finite number."""
    if isinstance(result, bool | str | bytes):
        raise ExerciseFailed(f"{what} returned a {type(result).__name__}, expected a number")
    if isinstance(result, torch.Tensor):
        if result.numel() != 1:
            raise ExerciseFailed(
                f"{what} returned a tensor of shape {tuple(result.shape)}, expected one number"
            )
        result = result.item()
    try:
        number = float(result)
    except (TypeError, ValueError):
        raise ExerciseFailed(
            f"{what} returned a {type(result).__name__}, expected a number"
        ) from None
    if not math.isfinite(number):
        raise ExerciseFailed(f"{what} returned {number}, expected a finite number")
    return number


# --- 1. Adagrad as a torch.optim.Optimizer ------------------------------------------------------

ADAGRAD_STEPS = 8


def _adagrad_data() -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs (16, 3) and targets (16, 2) of a small tanh regression, in float64."""
    generator = torch.Generator().manual_seed(0)
    inputs = torch.randn(16, 3, generator=generator, dtype=F64)  # (16, 3)
    targets = torch.rand(16, 2, generator=generator, dtype=F64) * 2 - 1  # (16, 2)
    return inputs, targets


def _adagrad_start() -> dict[str, torch.Tensor]:
    """The starting parameters: a weight, a bias, and one tensor that never gets a gradient."""
    generator = torch.Generator().manual_seed(1)
    return {
        "weight": (0.5 * torch.randn(3, 2, generator=generator, dtype=F64)).requires_grad_(),
        "bias": torch.zeros(2, dtype=F64).requires_grad_(),
        "unused": torch.ones(2, dtype=F64).requires_grad_(),  # takes no part in the loss
    }


def _adagrad_loss(params: dict[str, torch.Tensor], data: tuple[torch.Tensor, ...]) -> torch.Tensor:
    """Mean squared error of tanh(x W + b); ``params["unused"]`` is left out on purpose."""
    inputs, targets = data
    prediction = torch.tanh(inputs @ params["weight"] + params["bias"])  # (16, 2)
    return ((prediction - targets) ** 2).mean()


def _adagrad_scenarios() -> list[tuple[str, Callable[[dict], list], dict]]:
    """(description, param groups from the parameters, constructor arguments)."""
    return [
        (
            "one param group, lr=0.1, eps=1e-10",
            lambda p: [{"params": [p["weight"], p["bias"], p["unused"]]}],
            {"lr": 0.1, "eps": 1e-10},
        ),
        (
            "two param groups (the second, holding the bias, with its own lr=0.02), eps=1e-3",
            lambda p: [
                {"params": [p["weight"], p["unused"]]},
                {"params": [p["bias"]], "lr": 0.02},
            ],
            {"lr": 0.1, "eps": 1e-3},
        ),
    ]


def _step(optimizer: torch.optim.Optimizer, what: str) -> None:
    """Call the reader's ``step()``, turning a crash into a hint."""
    try:
        optimizer.step()
    except NotImplementedError as exc:
        raise ExerciseFailed(
            f"{what}.step() still raises NotImplementedError: write the update in step()"
        ) from exc
    except ExerciseFailed:
        raise
    except Exception as exc:
        hint = ""
        if "leaf Variable that requires grad" in str(exc):
            hint = " (update the parameters in place without autograd: @torch.no_grad() on step)"
        elif "None" in str(exc):
            hint = (
                " (one parameter takes no part in the loss, so its .grad is None: skip such "
                "parameters, as torch.optim does)"
            )
        raise ExerciseFailed(f"{what}.step() raised {type(exc).__name__}: {exc}{hint}") from exc


def check_adagrad(adagrad_class: Callable[..., torch.optim.Optimizer]) -> None:
    r"""Check an Adagrad optimizer against ``torch.optim.Adagrad``, step by step.

    ``adagrad_class(params, lr=..., eps=...)`` must build a ``torch.optim.Optimizer`` whose
    ``step()`` does what ``torch.optim.Adagrad`` does with its other arguments at their defaults:
    per coordinate, $s_t = s_{t-1} + g_t^2$ with $s_0 = 0$, then
    $\theta_t = \theta_{t-1} - \eta\, g_t / (\sqrt{s_t} + \epsilon)$. The check trains a small
    float64 tanh regression for 8 steps with the reader's optimizer and with PyTorch's, from the
    same start, and compares every parameter after every step. It does so twice: with one param
    group, and with two groups where the second has its own learning rate. One parameter takes no
    part in the loss (its ``.grad`` stays ``None``) and must be left alone.

    Args:
        adagrad_class: The reader's optimizer class (or any callable returning an optimizer),
            called as ``adagrad_class(param_groups, lr=lr, eps=eps)``.

    Raises:
        ExerciseFailed: If it is a stub, crashes, does not build a ``torch.optim.Optimizer``,
            leaves the parameters unchanged, or a parameter differs from PyTorch's after some
            step; the hint names the step, the parameter and the first entry that differs.
    """
    what = "Adagrad(params, lr, eps)"
    data = _adagrad_data()
    for description, groups_of, kwargs in _adagrad_scenarios():
        ours, theirs = _adagrad_start(), _adagrad_start()
        optimizer = call(adagrad_class, groups_of(ours), what=what, **kwargs)
        if not isinstance(optimizer, torch.optim.Optimizer):
            raise ExerciseFailed(
                f"{what} returned a {type(optimizer).__name__}, expected an instance of a "
                "torch.optim.Optimizer subclass"
            )
        reference = torch.optim.Adagrad(groups_of(theirs), foreach=False, **kwargs)
        group_of_bias = 1 if len(reference.param_groups) > 1 else 0
        for step in range(1, ADAGRAD_STEPS + 1):
            before = {name: p.detach().clone() for name, p in ours.items()}
            for params, opt in [(ours, optimizer), (theirs, reference)]:
                opt.zero_grad()
                _adagrad_loss(params, data).backward()
            _step(optimizer, "Adagrad")
            reference.step()
            if step == 1 and all(torch.equal(before[n], ours[n]) for n in ("weight", "bias")):
                raise ExerciseFailed(
                    f"{description}: after step 1 the parameters have not changed; step() must "
                    "update each parameter p in place (p.add_, p.addcdiv_, ...)"
                )
            if not torch.equal(ours["unused"].detach(), theirs["unused"].detach()):
                raise ExerciseFailed(
                    f"{description}: step {step} changed a parameter whose .grad is None (it takes "
                    "no part in the loss); skip such parameters, as torch.optim does"
                )
            mismatched = [
                name
                for name in ("weight", "bias")
                if not torch.allclose(ours[name].detach(), theirs[name], rtol=1e-9, atol=1e-12)
            ]
            if not mismatched:
                continue
            hint = (
                "the first update already differs: compare your step() with the update rule"
                if step == 1
                else f"steps 1 to {step - 1} matched, so the first update is right: check what "
                "your optimizer keeps from one step to the next (self.state[p]) and how it is "
                "updated"
            )
            if group_of_bias == 1 and mismatched == ["bias"]:
                hint = (
                    "only the bias differs, the one parameter in the second param group, which "
                    "has its own lr: read the hyperparameters from each group (group['lr']), not "
                    "from self.defaults"
                )
            name = mismatched[0]
            got, expected = ours[name].detach(), theirs[name].detach()
            gap = (got - expected).abs()  # same shape: both were updated in place
            index = tuple(torch.nonzero(gap == gap.max())[0].tolist())
            raise ExerciseFailed(
                f"{description}: '{name}' after step {step} at index {index}: got "
                f"{got[index].item():.10g}, expected {expected[index].item():.10g} (off by "
                f"{gap[index].item():.2g}); {hint}"
            )
    passed(
        "Adagrad",
        f"Your optimizer and torch.optim.Adagrad took the same {ADAGRAD_STEPS} steps, with one "
        "param group and with two that have different learning rates.",
    )


# --- 2. The largest stable learning rate of gradient descent -----------------------------------


def _least_squares_inputs() -> list[tuple[str, torch.Tensor]]:
    """(description, inputs x of shape (B, n)) in float64, for L(w) = mean((x w - y)^2)."""
    generator = torch.Generator().manual_seed(2)
    orthonormal, _ = torch.linalg.qr(torch.randn(32, 3, generator=generator, dtype=F64))  # (32, 3)
    scales = torch.tensor([1.0, 3.0, 0.5], dtype=F64) * math.sqrt(32)  # (3,)
    uncorrelated = orthonormal * scales  # (32, 3): xᵀx / B is diagonal, diag(1, 9, 0.25)
    mixing = torch.tensor(
        [[1.0, 0.8, 0.0, 0.0], [0.0, 0.6, 0.0, 0.0], [0.0, 0.0, 3.0, 2.9], [0.0, 0.0, 0.0, 0.5]],
        dtype=F64,
    )  # (4, 4): columns 0-1 and 2-3 strongly correlated, at different scales
    correlated = torch.randn(64, 4, generator=generator, dtype=F64) @ mixing  # (64, 4)
    wide = 2.0 * torch.randn(3, 5, generator=generator, dtype=F64)  # (3, 5)
    single = torch.tensor([[3.0, -4.0]], dtype=F64)  # (1, 2)
    return [
        ("32 examples of 3 uncorrelated features of different scales", uncorrelated),
        ("64 examples of 4 correlated features of different scales", correlated),
        ("3 examples of 5 features (more features than examples)", wide),
        ("a single example x = [[3, -4]]", single),
    ]


def _largest_stable_lr(x: torch.Tensor) -> float:
    """2 / h_max, h_max the largest eigenvalue of the Hessian 2 xᵀx / B of mean((x w - y)^2)."""
    hessian = 2 * x.T @ x / x.shape[0]  # (n, n)
    return 2.0 / torch.linalg.eigvalsh(hessian).max().item()


def _descend(x: torch.Tensor, lr: float, steps: int = 200) -> tuple[float, float]:
    """The loss before and after ``steps`` of gradient descent on mean((x w - y)^2) from w = 0."""
    generator = torch.Generator().manual_seed(3)
    y = x @ torch.randn(x.shape[1], generator=generator, dtype=F64)  # (B,), the minimum is 0
    w = torch.zeros(x.shape[1], dtype=F64)  # (n,)
    first = ((x @ w - y) ** 2).mean().item()
    for _ in range(steps):
        w = w - lr * 2 * x.T @ (x @ w - y) / x.shape[0]
    return first, ((x @ w - y) ** 2).mean().item()


def check_largest_stable_lr(largest_stable_lr: Callable[[torch.Tensor], float]) -> None:
    r"""Check the learning rate at which gradient descent on least squares starts to diverge.

    ``largest_stable_lr(x)`` gets inputs ``x`` of shape ``(B, n)`` and must return, as a number,
    the learning rate $\eta$ above which gradient descent on
    $\mathcal{L}(w) = \frac{1}{B}\sum_b (x_b \cdot w - y_b)^2$ diverges (whatever the targets
    $y$): $2/h_{\max}$, with $h_{\max}$ the largest eigenvalue of the loss's Hessian. It may be
    computed or found by running gradient descent; it must be within 1% of the exact value on
    four inputs: independent features, correlated features of different scales, more features
    than examples, and a single example.

    Args:
        largest_stable_lr: The reader's function, taking a float64 tensor ``x`` of shape
            ``(B, n)`` and returning a float (or a one-element tensor).

    Raises:
        ExerciseFailed: If it is a stub, crashes, returns something other than one positive
            finite number, or a rate off by more than 1%; the hint says which input, whether the
            rate is too large (and shows gradient descent diverging at it) or too small, and by
            which factor.
    """
    what = "largest_stable_lr(x)"
    for description, x in _least_squares_inputs():
        got = _as_number(call(largest_stable_lr, x.clone(), what=what), what)
        if got <= 0:
            raise ExerciseFailed(
                f"{what} on {description}: returned {got:.6g}, expected a positive learning rate"
            )
        expected = _largest_stable_lr(x)
        ratio = got / expected
        if abs(ratio - 1) <= 0.01:
            continue
        if ratio > 1:
            first, last = _descend(x, got)
            behaviour = (
                f"gradient descent at that rate diverges: the loss grows from {first:.3g} to "
                f"{last:.3g} in 200 steps"
                if not last < first
                else "it is above the largest stable rate"
            )
            raise ExerciseFailed(
                f"{what} on {description}: {got:.6g} is too large, {behaviour}; your rate is "
                f"{ratio:.3g} times the largest stable one (remember the Hessian of a mean of "
                "squares, and which eigenvalue limits the step)"
            )
        raise ExerciseFailed(
            f"{what} on {description}: {got:.6g} is too small: gradient descent still converges "
            f"at rates up to {1 / ratio:.3g} times yours (a step may overshoot the minimum along "
            "the steepest direction and still shrink the distance to it)"
        )
    passed(
        "largest_stable_lr",
        "Your rates match 2 / h_max on all four inputs, correlated features and a singular "
        "Hessian included.",
    )


# --- 3. A warmup + cosine schedule --------------------------------------------------------------


def _warmup_cosine_cases() -> list[tuple[int, int, float]]:
    """(warmup_steps, total_steps, start_factor) cases, the short and extreme ones included."""
    return [(5, 50, 0.1), (1, 3, 0.5), (10, 11, 0.01), (20, 200, 0.25)]


def _torch_warmup_cosine(warmup_steps: int, total_steps: int, start_factor: float) -> list[float]:
    """The factor of the base rate at steps 0..total_steps, from torch.optim.lr_scheduler."""
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    warmup = lr_scheduler.LinearLR(optimizer, start_factor=start_factor, total_iters=warmup_steps)
    cosine = lr_scheduler.CosineAnnealingLR(optimizer, T_max=total_steps - warmup_steps)
    schedule = lr_scheduler.SequentialLR(optimizer, [warmup, cosine], milestones=[warmup_steps])
    factors = []
    for _ in range(total_steps + 1):
        factors.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        schedule.step()
    return factors


def check_warmup_cosine(warmup_cosine: Callable[[int, int, int, float], float]) -> None:
    r"""Check a warmup + cosine learning-rate schedule against PyTorch's schedulers.

    ``warmup_cosine(step, warmup_steps, total_steps, start_factor)`` must return the factor by
    which the base learning rate is multiplied after ``step`` calls of ``scheduler.step()``: it
    rises linearly from ``start_factor`` at step 0 to 1 at step ``warmup_steps``, then follows
    half a cosine from 1 down to 0 at step ``total_steps``. That is what
    ``SequentialLR([LinearLR(start_factor, total_iters=warmup_steps),
    CosineAnnealingLR(T_max=total_steps - warmup_steps)], milestones=[warmup_steps])`` does, and
    what ``LambdaLR(optimizer, lambda step: warmup_cosine(step, ...))`` then reproduces. Every
    step from 0 to ``total_steps`` is compared, for several schedules, including a one-step
    warmup and a one-step decay.

    Args:
        warmup_cosine: The reader's function, taking ints ``step``, ``warmup_steps``,
            ``total_steps`` (``1 <= warmup_steps < total_steps``) and a float ``start_factor``
            in ``(0, 1]``, and returning a float.

    Raises:
        ExerciseFailed: If it is a stub, crashes, returns something other than a number, or a
            factor differs from PyTorch's by more than 1e-9; the hint names the schedule, the
            step, and whether it is in the warmup or the cosine decay.
    """
    what = "warmup_cosine(step, warmup_steps, total_steps, start_factor)"
    for warmup_steps, total_steps, start_factor in _warmup_cosine_cases():
        schedule = (
            f"warmup_steps={warmup_steps}, total_steps={total_steps}, start_factor={start_factor}"
        )
        expected = _torch_warmup_cosine(warmup_steps, total_steps, start_factor)
        for step, factor in enumerate(expected):
            result = call(warmup_cosine, step, warmup_steps, total_steps, start_factor, what=what)
            got = _as_number(result, what)
            if abs(got - factor) <= 1e-9 + 1e-7 * abs(factor):
                continue
            if step == 0:
                phase = "the very first step, where the warmup starts"
            elif step < warmup_steps:
                phase = f"during the linear warmup (steps 0 to {warmup_steps})"
            elif step == warmup_steps:
                phase = "at the end of the warmup, where the cosine decay starts"
            else:
                phase = f"during the cosine decay (steps {warmup_steps} to {total_steps})"
            raise ExerciseFailed(
                f"{what} with {schedule}: at step {step}, {phase}, got {got:.6g}, expected "
                f"{factor:.6g}"
            )
    passed(
        "warmup_cosine",
        "Your schedule matches LinearLR followed by CosineAnnealingLR at every step, on all "
        f"{len(_warmup_cosine_cases())} schedules.",
    )
