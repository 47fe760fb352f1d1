"""Checks for the exercises of the transfer learning page.

Explained on the page [Transfer learning](../training/transfer-learning.md#exercises).

Each check builds its networks and its reference inside the check: the trainable parameters
PyTorch would update (``requires_grad``), the learning rate ``torch.optim.SGD`` holds for each
parameter, and the layers of torchvision's ResNet-18 (built with ``weights=None``, no download).
When an answer is wrong, the check names the usual mistake it matches.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable

import torch
import torchvision
from torch import nn

from dlref.exercises.checking import ExerciseFailed, call, passed

__all__ = ["check_count_trainable", "check_layerwise_groups", "check_new_head"]


# --- 1. count what is left to train ----------------------------------------------------------


def _frozen_cases() -> list[tuple[str, nn.Module]]:
    """Networks with some parameters frozen, each with a description for the hint."""
    torch.manual_seed(0)
    mlp = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 4))
    half = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 4))
    half[0].requires_grad_(False)
    probe = torchvision.models.resnet18(weights=None)
    probe.requires_grad_(False)
    probe.fc.requires_grad_(True)
    top = torchvision.models.resnet18(weights=None)
    top.requires_grad_(False)
    top.layer4.requires_grad_(True)
    top.fc.requires_grad_(True)
    top.layer4[1].bn2.weight.requires_grad_(False)  # one frozen tensor inside a trained block
    return [
        ("an MLP with nothing frozen", mlp),
        ("an MLP whose first layer is frozen", half),
        ("a ResNet-18 with only fc trainable (a linear probe)", probe),
        ("a ResNet-18 with layer4 (but one batch-norm weight) and fc trainable", top),
    ]


def check_count_trainable(count_trainable: Callable[[nn.Module], int]) -> None:
    """Check ``count_trainable(model)``: the number of scalar parameters with ``requires_grad``.

    Raises:
        ExerciseFailed: If a count differs from PyTorch's, with the usual mistake it matches.
    """
    for what, model in _frozen_cases():
        got = call(count_trainable, model, what="count_trainable(model)")
        if isinstance(got, torch.Tensor) and got.dim() == 0:
            got = got.item()
        if not isinstance(got, int) or isinstance(got, bool):
            raise ExerciseFailed(
                f"type: count_trainable returned {type(got).__name__}, expected an int"
            )
        params = list(model.parameters())
        expected = sum(p.numel() for p in params if p.requires_grad)
        if got == expected:
            continue
        hints = {
            sum(p.numel() for p in params): "it counts the frozen parameters too: keep only "
            "those with p.requires_grad",
            sum(1 for p in params if p.requires_grad): "it counts tensors, not their elements: "
            "add p.numel()",
            sum(p.numel() for p in params if not p.requires_grad): "it counts the frozen ones: "
            "requires_grad is True for the parameters that train",
        }
        hint = f"; {hints[got]}" if got in hints else ""
        raise ExerciseFailed(
            f"value: count_trainable returned {got:,} for {what}, expected {expected:,}{hint}"
        )
    passed(
        "count_trainable",
        "Your counts match the parameters an optimizer would update, linear probe included.",
    )


# --- 2. discriminative parameter groups ------------------------------------------------------


def _group_cases() -> list[tuple[str, nn.Module]]:
    """Networks whose children differ: all trainable, a frozen stem, a parameterless child."""
    torch.manual_seed(0)

    def net() -> nn.Sequential:
        return nn.Sequential(
            OrderedDict(
                stem=nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4)),
                body=nn.Sequential(nn.Conv2d(4, 8, 3), nn.BatchNorm2d(8)),
                act=nn.ReLU(),
                neck=nn.Linear(8, 8),
                head=nn.Linear(8, 3),
            )
        )

    plain = net()
    frozen = net()
    frozen.stem.requires_grad_(False)
    frozen.body[1].bias.requires_grad_(False)
    return [
        ("a network with children stem, body, act (no parameters), neck, head", plain),
        ("the same network with stem frozen and body.1.bias frozen", frozen),
    ]


def _expected_lrs(model: nn.Module, head_lr: float, decay: float) -> dict[str, float]:
    """The learning rate of each trainable parameter, by name."""
    children = [
        (name, [n for n, p in child.named_parameters() if p.requires_grad])
        for name, child in model.named_children()
    ]
    children = [(name, params) for name, params in children if params]
    last = len(children) - 1
    return {
        f"{child}.{n}": head_lr * decay ** (last - k)
        for k, (child, params) in enumerate(children)
        for n in params
    }


def check_layerwise_groups(layerwise_groups: Callable[[nn.Module, float, float], list]) -> None:
    """Check ``layerwise_groups(model, head_lr, decay)`` through ``torch.optim.SGD``.

    Every trainable parameter must be in exactly one group, no frozen one in any, and the group
    of the k-th child (of K with trainable parameters) must have ``head_lr * decay**(K-1-k)``.

    Raises:
        ExerciseFailed: If a group is malformed, a parameter is missing, frozen or duplicated,
            or a learning rate differs (with the usual mistake it matches).
    """
    head_lr, decay = 0.1, 0.5
    for what, model in _group_cases():
        groups = call(layerwise_groups, model, head_lr, decay, what="layerwise_groups(model)")
        if not isinstance(groups, list) or not all(
            isinstance(g, dict) and "params" in g and "lr" in g for g in groups
        ):
            raise ExerciseFailed(
                'type: expected a list of dicts, each with "params" and "lr", '
                f"got {type(groups).__name__}"
            )
        groups = [{**g, "params": list(g["params"])} for g in groups]
        try:
            optimizer = torch.optim.SGD(groups, lr=1.0)
        except (ValueError, TypeError) as exc:
            raise ExerciseFailed(f"torch.optim.SGD refuses the groups for {what}: {exc}") from exc
        names = {id(p): n for n, p in model.named_parameters()}
        got = {names[id(p)]: g["lr"] for g in optimizer.param_groups for p in g["params"]}
        expected = _expected_lrs(model, head_lr, decay)
        frozen = [n for n in got if n not in expected]
        if frozen:
            raise ExerciseFailed(
                f"value: for {what}, the groups hold the frozen parameter {frozen[0]}: "
                "keep only parameters with requires_grad"
            )
        missing = [n for n in expected if n not in got]
        if missing:
            raise ExerciseFailed(f"value: for {what}, no group holds {missing[0]}")
        wrong = [n for n in expected if abs(got[n] - expected[n]) > 1e-12 * expected[n]]
        if wrong:
            name = wrong[0]
            first, last = next(iter(expected)), list(expected)[-1]
            hint = ""
            if abs(got[first] - head_lr) < 1e-12:
                hint = (
                    "; it is reversed: the last child (the head) gets head_lr, the first the least"
                )
            elif abs(got[last] - head_lr * decay) < 1e-12:
                hint = "; the head's exponent is off by one: the last child gets head_lr itself"
            elif what.startswith("the same"):
                hint = "; children without trainable parameters must not count in the exponent"
            elif "act" in what:
                hint = "; a child without parameters (act) must not count in the exponent"
            raise ExerciseFailed(
                f"value: for {what}, {name} has lr {got[name]:.6g}, "
                f"expected {expected[name]:.6g}{hint}"
            )
    passed(
        "layerwise_groups",
        "torch.optim.SGD holds the learning rate you meant for every trainable parameter.",
    )


# --- 3. replace a head -----------------------------------------------------------------------


class _Nested(nn.Module):
    """A network whose head sits inside a block: classifier.1."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Linear(6, 12), nn.ReLU())
        self.classifier = nn.Sequential(nn.Dropout(0.1), nn.Linear(12, 5))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.body(x))


def _head_cases() -> list[tuple[str, nn.Module, str, int, tuple]]:
    """(description, model, name of its last Linear, new num_classes, input shape)."""
    torch.manual_seed(0)
    resnet = torchvision.models.resnet18(weights=None, num_classes=10)
    mlp = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 3, bias=False))
    return [
        ("a torchvision ResNet-18 (head: fc)", resnet, "fc", 4, (2, 3, 32, 32)),
        ("an nn.Sequential whose head (index 2) has no bias", mlp, "2", 7, (2, 8)),
        ("a network whose head is classifier.1", _Nested(), "classifier.1", 2, (2, 6)),
    ]


def check_new_head(new_head: Callable[[nn.Module, int], nn.Module]) -> None:
    """Check ``new_head(model, num_classes)``: the last ``nn.Linear`` replaced by a fresh one.

    Raises:
        ExerciseFailed: If the model is not returned, the wrong layer changed, the new head has
            the wrong size or bias, or the other weights moved.
    """
    for what, model, name, num_classes, shape in _head_cases():
        old = model.get_submodule(name)
        modules_before = dict(model.named_modules())
        before = {k: v.clone() for k, v in model.state_dict().items()}
        got = call(new_head, model, num_classes, what="new_head(model, num_classes)")
        if not isinstance(got, nn.Module):
            raise ExerciseFailed(
                f"type: new_head returned {type(got).__name__}, expected the model (nn.Module)"
            )
        head = got.get_submodule(name) if name in dict(got.named_modules()) else None
        if head is old or not isinstance(head, nn.Linear):
            changed = [
                n
                for n, m in got.named_modules()
                if isinstance(m, nn.Linear) and n != name and modules_before.get(n) is not m
            ]
            hint = f" (did it replace {changed[0]} instead?)" if changed else ""
            raise ExerciseFailed(
                f"value: for {what}, {name} is still the old layer{hint}: replace the last "
                "nn.Linear, with setattr on its parent"
            )
        if (head.in_features, head.out_features) != (old.in_features, num_classes):
            raise ExerciseFailed(
                f"value: for {what}, the new head maps {head.in_features} -> "
                f"{head.out_features}, expected {old.in_features} -> {num_classes}"
            )
        if (head.bias is None) != (old.bias is None):
            raise ExerciseFailed(
                f"value: for {what}, the new head has bias={head.bias is not None}, "
                f"the old one had bias={old.bias is not None}"
            )
        for key, value in got.state_dict().items():
            if not key.startswith(name + ".") and not torch.equal(value, before[key]):
                raise ExerciseFailed(f"value: for {what}, {key} changed: keep the other weights")
        got.eval()
        with torch.no_grad():
            out = got(torch.randn(*shape))
        if tuple(out.shape) != (shape[0], num_classes):
            raise ExerciseFailed(
                f"shape: for {what}, the output has shape {tuple(out.shape)}, "
                f"expected {(shape[0], num_classes)}"
            )
    passed("new_head", "The last nn.Linear is fresh, sized for the new classes; the rest kept.")
