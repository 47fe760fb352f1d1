"""The optimizers page's exercise checks fail stubs and typical wrong answers with useful hints.

The page's own run proves each solution passes; these tests prove that each check rejects a
blank stub, a stub that raises ``NotImplementedError``, and plausible mistakes, with a message
that names what differs.
"""

import math

import pytest
import torch
from torch.optim import Optimizer

from dlref.exercises import (
    ExerciseFailed,
    check_adagrad,
    check_largest_stable_lr,
    check_warmup_cosine,
)


def fails_with(check, answer, *words: str) -> str:
    """Run ``check(answer)``, assert it raises ExerciseFailed mentioning every word; the message."""
    with pytest.raises(ExerciseFailed) as failure:
        check(answer)
    message = str(failure.value)
    for word in words:
        assert word.lower() in message.lower(), f"{word!r} not in: {message}"
    return message


def raises_not_implemented(*args, **kwargs):
    raise NotImplementedError


def blank(*args, **kwargs): ...


# --- Adagrad ----------------------------------------------------------------------------------


class AdagradBase(Optimizer):
    """Shared constructor; subclasses write ``update(p, grad, state, group)``."""

    def __init__(self, params, lr: float = 1e-2, eps: float = 1e-10) -> None:
        super().__init__(params, {"lr": lr, "eps": eps})

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    self.update(p, p.grad, self.state[p], group)

    def update(self, p, grad, state, group):
        raise NotImplementedError


class StepNotImplemented(AdagradBase):
    pass


class StepDoesNothing(AdagradBase):
    def update(self, p, grad, state, group):
        pass


class RunningMeanNotSum(AdagradBase):
    """RMSprop's running mean of g² instead of Adagrad's sum."""

    def update(self, p, grad, state, group):
        state.setdefault("avg", torch.zeros_like(p)).mul_(0.99).addcmul_(grad, grad, value=0.01)
        p.addcdiv_(grad, state["avg"].sqrt().add_(group["eps"]), value=-group["lr"])


class NoAccumulation(AdagradBase):
    """Divides by |g| of this step only: the first step is right, the rest are not."""

    def update(self, p, grad, state, group):
        p.addcdiv_(grad, grad.abs().add(group["eps"]), value=-group["lr"])


class EpsInsideRoot(AdagradBase):
    def update(self, p, grad, state, group):
        state.setdefault("sum", torch.zeros_like(p)).addcmul_(grad, grad)
        p.addcdiv_(grad, state["sum"].add(group["eps"]).sqrt(), value=-group["lr"])


class DefaultsNotGroup(AdagradBase):
    """Reads lr from self.defaults, so a param group's own lr is ignored."""

    def update(self, p, grad, state, group):
        state.setdefault("sum", torch.zeros_like(p)).addcmul_(grad, grad)
        denom = state["sum"].sqrt().add_(group["eps"])
        p.addcdiv_(grad, denom, value=-self.defaults["lr"])


class NoneGradNotSkipped(Optimizer):
    def __init__(self, params, lr: float = 1e-2, eps: float = 1e-10) -> None:
        super().__init__(params, {"lr": lr, "eps": eps})

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            for p in group["params"]:
                state = self.state[p]
                state.setdefault("sum", torch.zeros_like(p)).addcmul_(p.grad, p.grad)


class WithoutNoGrad(Optimizer):
    def __init__(self, params, lr: float = 1e-2, eps: float = 1e-10) -> None:
        super().__init__(params, {"lr": lr, "eps": eps})

    def step(self, closure=None):
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    p.sub_(group["lr"] * p.grad)


def test_adagrad_stubs_fail():
    fails_with(check_adagrad, blank, "returned None", "stub")
    fails_with(check_adagrad, raises_not_implemented, "NotImplementedError")
    fails_with(check_adagrad, StepNotImplemented, "step()", "NotImplementedError")
    fails_with(check_adagrad, StepDoesNothing, "not changed", "in place")


def test_adagrad_needs_an_optimizer():
    fails_with(check_adagrad, lambda params, lr, eps: [1.0], "torch.optim.Optimizer")


def test_adagrad_running_mean_differs_at_step_one():
    fails_with(check_adagrad, RunningMeanNotSum, "after step 1", "first update", "expected")


def test_adagrad_without_accumulation_differs_at_step_two():
    fails_with(check_adagrad, NoAccumulation, "after step 2", "steps 1 to 1 matched", "self.state")


def test_adagrad_eps_inside_the_root_is_caught():
    """sqrt(s + eps) instead of sqrt(s) + eps: off by little, on the coordinates with small s."""
    fails_with(check_adagrad, EpsInsideRoot, "after step 1", "index", "off by", "first update")


def test_adagrad_lr_from_defaults_is_caught_in_the_second_group():
    fails_with(check_adagrad, DefaultsNotGroup, "bias", "second param group", "group['lr']")


def test_adagrad_must_skip_parameters_without_gradient():
    fails_with(check_adagrad, NoneGradNotSkipped, ".grad is None", "skip")


def test_adagrad_in_place_update_needs_no_grad():
    fails_with(check_adagrad, WithoutNoGrad, "no_grad")


def test_torch_adagrad_itself_passes(capsys):
    check_adagrad(lambda params, lr, eps: torch.optim.Adagrad(params, lr=lr, eps=eps))
    assert capsys.readouterr().out.startswith("Correct: Adagrad")


# --- The largest stable learning rate ----------------------------------------------------------


def hessian_max(x: torch.Tensor) -> float:
    return torch.linalg.eigvalsh(2 * x.T @ x / x.shape[0]).max().item()


def test_largest_stable_lr_stubs_fail():
    fails_with(check_largest_stable_lr, blank, "returned None")
    fails_with(check_largest_stable_lr, raises_not_implemented, "NotImplementedError")


def test_largest_stable_lr_needs_one_positive_number():
    fails_with(check_largest_stable_lr, lambda x: torch.ones(2), "shape (2,)", "one number")
    fails_with(check_largest_stable_lr, lambda x: "0.1", "str", "number")
    fails_with(check_largest_stable_lr, lambda x: -1.0, "positive")
    fails_with(check_largest_stable_lr, lambda x: math.inf, "finite")


def test_largest_stable_lr_one_over_h_is_too_small():
    """1/h_max is where the steepest direction is solved in one step, not where it diverges."""
    message = fails_with(
        check_largest_stable_lr, lambda x: 1 / hessian_max(x), "too small", "2 times yours"
    )
    assert "32 examples" in message


def test_largest_stable_lr_forgetting_the_factor_two_of_the_square_is_too_large():
    def without_square_factor(x):
        return 2 / torch.linalg.eigvalsh(x.T @ x / x.shape[0]).max().item()

    fails_with(
        check_largest_stable_lr, without_square_factor, "too large", "diverges", "loss grows", "2"
    )


def test_largest_stable_lr_largest_diagonal_entry_fails_on_correlated_features():
    def from_diagonal(x):
        return 2 / (2 * x.T @ x / x.shape[0]).diagonal().max().item()

    fails_with(check_largest_stable_lr, from_diagonal, "correlated features", "too large")


def test_largest_stable_lr_close_enough_passes(capsys):
    check_largest_stable_lr(lambda x: 1.005 * 2 / hessian_max(x))
    assert capsys.readouterr().out.startswith("Correct: largest_stable_lr")


# --- Warmup + cosine ----------------------------------------------------------------------------


def test_warmup_cosine_stubs_fail():
    fails_with(check_warmup_cosine, blank, "returned None")
    fails_with(check_warmup_cosine, raises_not_implemented, "NotImplementedError")


def test_warmup_cosine_cosine_over_all_steps_differs_in_the_decay():
    """Forgetting to start the cosine's clock at the end of the warmup."""

    def cosine_from_step_zero(step, warmup_steps, total_steps, start_factor):
        if step < warmup_steps:
            return start_factor + (1 - start_factor) * step / warmup_steps
        return 0.5 * (1 + math.cos(math.pi * step / total_steps))

    fails_with(
        check_warmup_cosine, cosine_from_step_zero, "end of the warmup", "step 5", "expected 1"
    )


def test_warmup_cosine_warmup_from_zero_differs_at_step_zero():
    def warmup_from_zero(step, warmup_steps, total_steps, start_factor):
        if step < warmup_steps:
            return step / warmup_steps
        progress = (step - warmup_steps) / (total_steps - warmup_steps)
        return 0.5 * (1 + math.cos(math.pi * progress))

    fails_with(check_warmup_cosine, warmup_from_zero, "step 0", "got 0", "expected 0.1")


def test_warmup_cosine_without_the_half_one_plus_differs_in_the_decay():
    def bare_cosine(step, warmup_steps, total_steps, start_factor):
        if step < warmup_steps:
            return start_factor + (1 - start_factor) * step / warmup_steps
        return math.cos(math.pi * (step - warmup_steps) / (total_steps - warmup_steps))

    fails_with(check_warmup_cosine, bare_cosine, "during the cosine decay", "step 6")


def test_warmup_cosine_off_by_one_warmup_differs_during_the_warmup():
    def reaches_one_a_step_early(step, warmup_steps, total_steps, start_factor):
        if step < warmup_steps:
            return start_factor + (1 - start_factor) * (step + 1) / warmup_steps
        progress = (step - warmup_steps) / (total_steps - warmup_steps)
        return 0.5 * (1 + math.cos(math.pi * progress))

    fails_with(check_warmup_cosine, reaches_one_a_step_early, "step 0", "expected 0.1")
