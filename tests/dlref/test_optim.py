"""dlref.optim against torch.optim's SGD, RMSprop, Adam and AdamW: same trajectories, in float64.

Every comparison trains two identical copies of a small tanh network on fixed random data, one
with dlref's optimizer and one with PyTorch's (single-tensor path, ``foreach=False``), and checks
the parameters at several steps of a 300-step run.
"""

import copy
import io
import re

import pytest
import torch
from torch.optim import lr_scheduler

from dlref.optim import SGD, Adam, AdamW, AMSGrad, Optimizer, RMSprop
from tests.dlref.compare import F64, assert_same_state

STEPS = 300
CHECKPOINTS = (1, 2, 10, 50, 100, 200, 300)
TOL = {"rtol": 0.0, "atol": 1e-6}  # after up to 300 steps, not one operation

# The data of the objective: fixed, so that every run sees the same loss surface.
_DATA = torch.Generator().manual_seed(1234)
X = torch.randn(32, 4, generator=_DATA, dtype=F64)  # (N, 4)
Y = torch.sin(X @ torch.tensor([[1.0], [-2.0], [0.5], [1.5]], dtype=F64))  # (N, 1)


def fresh_params(seed: int = 0) -> list[torch.Tensor]:
    """The network's weights (w1, b1, w2, b2): identical for identical seeds."""
    g = torch.Generator().manual_seed(seed)
    shapes = [(4, 8), (8,), (8, 1), (1,)]
    return [(0.5 * torch.randn(s, generator=g, dtype=F64)).requires_grad_() for s in shapes]


def loss_fn(params: list[torch.Tensor]) -> torch.Tensor:
    """Mean squared error of a one-hidden-layer tanh network on (X, Y)."""
    w1, b1, w2, b2 = params
    hidden = torch.tanh(X @ w1 + b1)  # (N, 8)
    prediction = hidden @ w2 + b2  # (N, 1)
    return ((prediction - Y) ** 2).mean()


def two_groups(params: list[torch.Tensor], lr: float) -> list[dict]:
    """First layer at the optimizer's default lr, second layer at half of ``lr``."""
    return [{"params": params[:2]}, {"params": params[2:], "lr": 0.5 * lr}]


class AMSGradW(AMSGrad, AdamW):
    """AMSGrad's second moment with AdamW's decay: the two overrides compose."""


def torch_twin(ours_cls: type, **kwargs):
    """torch.optim's optimizer that ours reproduces, as a constructor."""
    name, switches = {AMSGrad: ("Adam", True), AMSGradW: ("AdamW", True)}.get(
        ours_cls, (ours_cls.__name__, False)
    )
    extra = {"amsgrad": True} if switches else {}
    return lambda params, **more: getattr(torch.optim, name)(params, **extra, **kwargs, **more)


def make_pair(cls: type, kwargs: dict, seed: int = 0):
    """dlref's and torch's optimizer, each on its own copy of the same parameters."""
    ours_params, theirs_params = fresh_params(seed), fresh_params(seed)
    lr = kwargs.get("lr", 1e-3)
    ours = cls(two_groups(ours_params, lr), **kwargs)
    theirs = torch_twin(cls, foreach=False)(two_groups(theirs_params, lr), **kwargs)
    return (ours, ours_params), (theirs, theirs_params)


def train(
    optimizer: torch.optim.Optimizer,
    params: list[torch.Tensor],
    steps: int = STEPS,
    scheduler=None,
    first_step: int = 1,
) -> dict[int, torch.Tensor]:
    """Take ``steps`` optimizer steps; return the flattened parameters at each checkpoint."""
    snapshots = {}
    for step in range(first_step, first_step + steps):
        optimizer.zero_grad()
        loss_fn(params).backward()
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        if step in CHECKPOINTS:
            snapshots[step] = torch.cat([p.detach().flatten() for p in params])
    return snapshots


def assert_same_trajectory(ours: dict, theirs: dict) -> None:
    """The two runs agree at every checkpoint, and the parameters did move."""
    assert ours.keys() == theirs.keys() and ours
    for step in ours:
        torch.testing.assert_close(
            ours[step], theirs[step], **TOL, msg=lambda m, step=step: f"at step {step}: {m}"
        )
    first, last = min(ours), max(ours)
    assert (ours[last] - ours[first]).abs().max() > 1e-3, "the parameters barely moved"


SGD_CASES = [
    {},
    {"momentum": 0.9},
    {"momentum": 0.9, "dampening": 0.5},
    {"momentum": 0.9, "nesterov": True},
    {"weight_decay": 1e-2},
    {"momentum": 0.8, "dampening": 0.1, "weight_decay": 1e-2},
    {"momentum": 0.9, "nesterov": True, "weight_decay": 1e-2},
]
RMSPROP_CASES = [
    {},
    {"alpha": 0.9, "momentum": 0.9},
    {"centered": True},
    {"alpha": 0.9, "momentum": 0.5, "centered": True, "weight_decay": 1e-2},
    {"eps": 1e-4, "weight_decay": 1e-1},
]
ADAM_CASES = [
    {},
    {"betas": (0.8, 0.99), "weight_decay": 1e-2},
    {"betas": (0.5, 0.9), "eps": 1e-6, "weight_decay": 1e-1},
]
ADAMW_CASES = [
    {},
    {"betas": (0.8, 0.99), "weight_decay": 0.0},
    {"betas": (0.5, 0.9), "eps": 1e-6, "weight_decay": 1e-1},
]
GRID = (
    [(SGD, lr, case) for lr in (0.1, 0.02) for case in SGD_CASES]
    + [(RMSprop, lr, case) for lr in (1e-2, 1e-3) for case in RMSPROP_CASES]
    + [(Adam, lr, case) for lr in (1e-2, 3e-3) for case in ADAM_CASES]
    + [(AdamW, lr, case) for lr in (1e-2, 3e-3) for case in ADAMW_CASES]
    + [(AMSGrad, lr, case) for lr in (1e-2, 3e-3) for case in ADAM_CASES]
    + [(AMSGradW, lr, case) for lr in (1e-2, 3e-3) for case in ADAMW_CASES]
)


@pytest.mark.parametrize(
    ("cls", "lr", "options"),
    GRID,
    ids=[f"{cls.__name__}-lr{lr:g}-{options or 'defaults'}" for cls, lr, options in GRID],
)
def test_trajectory_matches_torch(cls, lr, options):
    (ours, ours_params), (theirs, theirs_params) = make_pair(cls, {"lr": lr, **options})
    assert_same_trajectory(train(ours, ours_params), train(theirs, theirs_params))
    assert_same_state(ours, theirs, TOL)


@pytest.mark.parametrize("cls", [SGD, RMSprop, Adam, AdamW, AMSGrad, AMSGradW])
def test_defaults_match_torch(cls):
    ours = cls(fresh_params())
    theirs = torch_twin(cls)(fresh_params())
    assert ours.defaults == {key: theirs.defaults[key] for key in ours.defaults}


STATEFUL = [
    (SGD, {"lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 1e-2}),
    (RMSprop, {"lr": 3e-3, "momentum": 0.5, "centered": True, "weight_decay": 1e-2}),
    (Adam, {"lr": 1e-2, "weight_decay": 1e-2}),
    (AMSGrad, {"lr": 1e-2, "weight_decay": 1e-2}),
    (AMSGradW, {"lr": 1e-2, "weight_decay": 1e-1}),
]


@pytest.mark.parametrize(("cls", "kwargs"), STATEFUL, ids=[c.__name__ for c, _ in STATEFUL])
def test_state_dict_round_trip_mid_run(cls, kwargs):
    (ours, ours_params), (theirs, theirs_params) = make_pair(cls, kwargs)
    train(ours, ours_params, steps=100)
    train(theirs, theirs_params, steps=100)
    assert_same_state(ours, theirs, TOL)

    # A checkpoint of ours, reloaded into a default-constructed optimizer: hyperparameters of
    # both groups and the per-parameter state come back from the file.
    buffer = io.BytesIO()
    torch.save(ours.state_dict(), buffer)
    buffer.seek(0)
    restored = cls(two_groups(ours_params, 1.0))
    restored.load_state_dict(torch.load(buffer))
    # The state dicts are interchangeable: torch's state loaded into ours and ours into torch's.
    from_torch_params = [p.detach().clone().requires_grad_() for p in theirs_params]
    from_torch = cls(two_groups(from_torch_params, 1.0))
    from_torch.load_state_dict(copy.deepcopy(theirs.state_dict()))
    to_torch_params = [p.detach().clone().requires_grad_() for p in ours_params]
    to_torch = torch_twin(cls)(two_groups(to_torch_params, 1.0), foreach=False)
    to_torch.load_state_dict(copy.deepcopy(ours.state_dict()))

    reference = train(theirs, theirs_params, steps=200, first_step=101)
    assert_same_trajectory(train(restored, ours_params, steps=200, first_step=101), reference)
    assert_same_trajectory(
        train(from_torch, from_torch_params, steps=200, first_step=101), reference
    )
    assert_same_trajectory(train(to_torch, to_torch_params, steps=200, first_step=101), reference)


SCHEDULED = [
    (SGD, {"lr": 0.1, "momentum": 0.9}, lambda opt: lr_scheduler.StepLR(opt, 50, gamma=0.5)),
    (RMSprop, {"lr": 1e-2}, lambda opt: lr_scheduler.ExponentialLR(opt, gamma=0.99)),
    (Adam, {"lr": 1e-2}, lambda opt: lr_scheduler.CosineAnnealingLR(opt, T_max=STEPS)),
    # OneCycleLR also cycles Adam's beta1 (group["betas"]), which step must re-read every time.
    (AdamW, {"lr": 1e-2}, lambda opt: lr_scheduler.OneCycleLR(opt, 0.05, total_steps=STEPS)),
]


@pytest.mark.parametrize(
    ("cls", "kwargs", "make_scheduler"), SCHEDULED, ids=[c.__name__ for c, _, _ in SCHEDULED]
)
def test_lr_scheduler_drives_both_the_same_way(cls, kwargs, make_scheduler):
    (ours, ours_params), (theirs, theirs_params) = make_pair(cls, kwargs)
    ours_scheduler, theirs_scheduler = make_scheduler(ours), make_scheduler(theirs)
    initial_lrs = [group["lr"] for group in ours.param_groups]
    assert_same_trajectory(
        train(ours, ours_params, scheduler=ours_scheduler),
        train(theirs, theirs_params, scheduler=theirs_scheduler),
    )
    assert ours_scheduler.get_last_lr() == theirs_scheduler.get_last_lr()
    assert ours_scheduler.get_last_lr() != initial_lrs


@pytest.mark.parametrize(("cls", "kwargs"), STATEFUL, ids=[c.__name__ for c, _ in STATEFUL])
def test_add_param_group_mid_run(cls, kwargs):
    (ours, ours_params), (theirs, theirs_params) = make_pair(cls, kwargs)
    for optimizer, params in [(ours, ours_params), (theirs, theirs_params)]:
        optimizer.param_groups.pop()  # start with the first layer only, the second one frozen
        for p in params[2:]:
            p.requires_grad_(False)
    assert_same_trajectory(train(ours, ours_params, 50), train(theirs, theirs_params, 50))
    for optimizer, params in [(ours, ours_params), (theirs, theirs_params)]:
        for p in params[2:]:
            p.requires_grad_(True)
        optimizer.add_param_group({"params": params[2:], "lr": 2e-3})
    assert_same_trajectory(
        train(ours, ours_params, 250, first_step=51),
        train(theirs, theirs_params, 250, first_step=51),
    )


@pytest.mark.parametrize(("cls", "kwargs"), STATEFUL, ids=[c.__name__ for c, _ in STATEFUL])
def test_step_with_closure_returns_the_loss(cls, kwargs):
    (ours, ours_params), (theirs, theirs_params) = make_pair(cls, kwargs)

    def closure_for(optimizer, params):
        def closure():
            optimizer.zero_grad()
            loss = loss_fn(params)
            loss.backward()
            return loss

        return closure

    for _ in range(20):
        ours_loss = ours.step(closure_for(ours, ours_params))
        theirs_loss = theirs.step(closure_for(theirs, theirs_params))
        torch.testing.assert_close(ours_loss, theirs_loss, **TOL)
    for p_ours, p_theirs in zip(ours_params, theirs_params, strict=True):
        torch.testing.assert_close(p_ours, p_theirs, **TOL)
    assert ours.step() is None


@pytest.mark.parametrize(("cls", "kwargs"), STATEFUL, ids=[c.__name__ for c, _ in STATEFUL])
def test_param_without_grad_is_untouched(cls, kwargs):
    used = torch.ones(3, dtype=F64, requires_grad=True)
    unused = torch.full((3,), 2.0, dtype=F64, requires_grad=True)
    optimizer = cls([used, unused], **kwargs)
    for _ in range(5):
        optimizer.zero_grad()
        (used**2).sum().backward()
        optimizer.step()
    assert unused.grad is None
    torch.testing.assert_close(unused.detach(), torch.full((3,), 2.0, dtype=F64), rtol=0, atol=0)
    assert not optimizer.state.get(unused)
    assert (used.detach() != 1.0).all()
    optimizer.zero_grad()
    assert used.grad is None


def test_adamw_reuses_adams_step():
    assert issubclass(AdamW, Adam)
    assert "step" not in vars(AdamW)
    # The same hyperparameters, differing only in how weight decay enters the update.
    (adam, adam_params), _ = make_pair(Adam, {"lr": 1e-2, "weight_decay": 0.1})
    (adamw, adamw_params), _ = make_pair(AdamW, {"lr": 1e-2, "weight_decay": 0.1})
    adam_path, adamw_path = train(adam, adam_params, 50), train(adamw, adamw_params, 50)
    assert (adam_path[50] - adamw_path[50]).abs().max() > 1e-4


ERRORS = [
    (lambda p: SGD(p, lr=-0.1), ValueError, "SGD expects lr >= 0, got -0.1"),
    (lambda p: SGD(p, lr="0.1"), TypeError, "SGD expects lr to be a number, got str"),
    (lambda p: SGD(p, momentum=-0.9), ValueError, "SGD expects momentum >= 0, got -0.9"),
    (lambda p: SGD(p, dampening=-1), ValueError, "SGD expects dampening >= 0, got -1"),
    (lambda p: SGD(p, weight_decay=-1e-4), ValueError, "SGD expects weight_decay >= 0"),
    (
        lambda p: SGD(p, nesterov=True),
        ValueError,
        "nesterov=True needs momentum > 0 and dampening = 0, got momentum=0, dampening=0",
    ),
    (
        lambda p: SGD(p, momentum=0.9, dampening=0.1, nesterov=True),
        ValueError,
        "got momentum=0.9, dampening=0.1",
    ),
    (lambda p: RMSprop(p, alpha=1.0), ValueError, "RMSprop expects alpha in [0, 1), got 1.0"),
    (lambda p: RMSprop(p, eps=-1e-8), ValueError, "RMSprop expects eps >= 0, got -1e-08"),
    (lambda p: RMSprop(p, momentum=-0.5), ValueError, "RMSprop expects momentum >= 0"),
    (lambda p: Adam(p, lr=float("nan")), ValueError, "Adam expects lr >= 0, got nan"),
    (lambda p: Adam(p, betas=(1.0, 0.999)), ValueError, "Adam expects betas[0] in [0, 1), got 1.0"),
    (lambda p: Adam(p, betas=(0.9, -0.1)), ValueError, "Adam expects betas[1] in [0, 1), got -0.1"),
    (lambda p: Adam(p, betas=(0.9,)), ValueError, "Adam expects betas to be a pair"),
    (lambda p: Adam(p, betas=(0.9, None)), TypeError, "betas[1] to be a number, got NoneType None"),
    (lambda p: AdamW(p, weight_decay=-0.01), ValueError, "AdamW expects weight_decay >= 0"),
    (lambda p: AdamW(p, betas=(0.9, 1.5)), ValueError, "AdamW expects betas[1] in [0, 1)"),
    (lambda p: Adam([]), ValueError, "empty parameter list"),
]


@pytest.mark.parametrize(("make", "error", "message"), ERRORS)
def test_invalid_arguments_raise_clear_errors(make, error, message):
    with pytest.raises(error, match=re.escape(message)):
        make(fresh_params())


ILL_CONDITIONED = torch.diag(torch.tensor([1.0, 10.0, 100.0], dtype=F64))  # condition number 100


def minimize(optimizer_cls, kwargs, f, start, steps, make_scheduler=None) -> torch.Tensor:
    """Run ``steps`` full-batch steps on ``f`` from ``start``; return where they end."""
    x = torch.tensor(start, dtype=F64, requires_grad=True)
    optimizer = optimizer_cls([x], **kwargs)
    scheduler = make_scheduler(optimizer) if make_scheduler else None
    for _ in range(steps):
        optimizer.zero_grad()
        f(x).backward()
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
    return x.detach()


def test_momentum_beats_plain_sgd_on_an_ill_conditioned_quadratic():
    def quadratic(x):
        return 0.5 * x @ ILL_CONDITIONED @ x  # minimum 0 at x = 0

    plain = minimize(SGD, {"lr": 0.01}, quadratic, [1.0, 1.0, 1.0], steps=200)
    heavy_ball = minimize(SGD, {"lr": 0.01, "momentum": 0.8}, quadratic, [1.0, 1.0, 1.0], 200)
    assert heavy_ball.norm() < 1e-3
    assert plain.norm() > 0.1  # the flat direction (eigenvalue 1) has barely moved


def test_adam_reaches_the_rosenbrock_minimum():
    def rosenbrock(x):
        return (1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2  # minimum 0 at (1, 1)

    end = minimize(
        Adam,
        {"lr": 0.05},
        rosenbrock,
        [-1.5, 2.0],
        steps=3000,
        make_scheduler=lambda opt: lr_scheduler.CosineAnnealingLR(opt, T_max=3000),
    )
    assert (end - torch.tensor([1.0, 1.0], dtype=F64)).norm() < 1e-3


def test_an_optimizer_without_an_update_rule_says_so():
    class Incomplete(Optimizer):
        pass

    x = torch.zeros(2, requires_grad=True)
    optimizer = Incomplete([x], {"lr": 0.1})
    (x**2).sum().backward()
    with pytest.raises(NotImplementedError, match="Incomplete must define update"):
        optimizer.step()
