"""The transfer learning page's exercise checks refuse stubs and typical mistakes, with a hint.

The page's own run proves that its solutions pass; here every check meets blank stubs and
plausible wrong answers, and each hint must name what differs.
"""

import pytest
from torch import nn

from dlref.exercises import (
    ExerciseFailed,
    check_count_trainable,
    check_layerwise_groups,
    check_new_head,
)
from dlref.transfer import count_parameters, replace_head

# --- count_trainable -------------------------------------------------------------------------


def count_right(model):
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def test_count_trainable_passes_the_solution_and_dlref(capsys):
    check_count_trainable(count_right)
    check_count_trainable(lambda model: count_parameters(model, trainable_only=True))
    assert capsys.readouterr().out.count("Correct: count_trainable") == 2


def stub_count(model): ...


@pytest.mark.parametrize(
    ("answer", "match"),
    [
        (stub_count, r"returned None: replace the stub"),
        (lambda m: float(count_right(m)), r"type: count_trainable returned float, expected an int"),
        (
            lambda m: sum(p.numel() for p in m.parameters()),
            r"for an MLP whose first layer is frozen, expected 68; it counts the frozen "
            r"parameters too",
        ),
        (
            lambda m: sum(1 for p in m.parameters() if p.requires_grad),
            r"returned 4 for an MLP with nothing frozen, expected 212; it counts tensors",
        ),
        (
            lambda m: sum(p.numel() for p in m.parameters() if not p.requires_grad),
            r"returned 0 for an MLP with nothing frozen, expected 212; it counts the frozen ones",
        ),
    ],
)
def test_count_trainable_refuses_stubs_and_mistakes(answer, match):
    with pytest.raises(ExerciseFailed, match=match):
        check_count_trainable(answer)


# --- layerwise_groups ------------------------------------------------------------------------


def groups_right(model, head_lr, decay):
    children = []
    for _, child in model.named_children():
        params = [p for p in child.parameters() if p.requires_grad]
        if params:
            children.append(params)
    last = len(children) - 1
    return [{"params": ps, "lr": head_lr * decay ** (last - k)} for k, ps in enumerate(children)]


def test_layerwise_groups_passes_the_solution(capsys):
    check_layerwise_groups(groups_right)
    assert "Correct: layerwise_groups" in capsys.readouterr().out


def groups_reversed(model, head_lr, decay):
    groups = groups_right(model, head_lr, decay)
    lrs = [g["lr"] for g in groups][::-1]
    return [{"params": g["params"], "lr": lr} for g, lr in zip(groups, lrs, strict=True)]


def groups_off_by_one(model, head_lr, decay):
    return [{**g, "lr": g["lr"] * decay} for g in groups_right(model, head_lr, decay)]


def groups_counting_every_child(model, head_lr, decay):
    children = list(model.children())
    last = len(children) - 1
    return [
        {
            "params": [p for p in c.parameters() if p.requires_grad],
            "lr": head_lr * decay ** (last - k),
        }
        for k, c in enumerate(children)
        if any(p.requires_grad for p in c.parameters())
    ]


def groups_with_frozen(model, head_lr, decay):
    children = [list(c.parameters()) for c in model.children() if list(c.parameters())]
    last = len(children) - 1
    return [{"params": ps, "lr": head_lr * decay ** (last - k)} for k, ps in enumerate(children)]


def groups_duplicated(model, head_lr, decay):
    return [
        *groups_right(model, head_lr, decay),
        {"params": list(model.head.parameters()), "lr": 1},
    ]


def stub_groups(model, head_lr, decay):
    raise NotImplementedError


@pytest.mark.parametrize(
    ("answer", "match"),
    [
        (stub_groups, r"still raises NotImplementedError"),
        (lambda m, h, d: {"lr": h}, r'type: expected a list of dicts, each with "params" and "lr"'),
        (groups_reversed, r"stem.0.weight has lr 0.1, expected 0.0125; it is reversed"),
        (groups_off_by_one, r"expected 0.0125; the head's exponent is off by one"),
        (groups_counting_every_child, r"lr 0.00625, expected 0.0125; a child without parameters"),
        (groups_with_frozen, r"hold the frozen parameter stem.0.weight: keep only parameters"),
        (groups_duplicated, r"torch.optim.SGD refuses the groups .*more than one"),
    ],
)
def test_layerwise_groups_refuses_stubs_and_mistakes(answer, match):
    with pytest.raises(ExerciseFailed, match=match):
        check_layerwise_groups(answer)


# --- new_head --------------------------------------------------------------------------------


def head_right(model, num_classes):
    name, old = [(n, m) for n, m in model.named_modules() if isinstance(m, nn.Linear)][-1]
    parent, _, attribute = name.rpartition(".")
    fresh = nn.Linear(old.in_features, num_classes, bias=old.bias is not None)
    setattr(model.get_submodule(parent), attribute, fresh)
    return model


def test_new_head_passes_the_solution_and_dlref(capsys):
    check_new_head(head_right)

    def with_dlref(model, num_classes):
        replace_head(model, num_classes)
        return model

    check_new_head(with_dlref)
    assert capsys.readouterr().out.count("Correct: new_head") == 2


def head_first_linear(model, num_classes):
    name, old = [(n, m) for n, m in model.named_modules() if isinstance(m, nn.Linear)][0]
    parent, _, attribute = name.rpartition(".")
    setattr(model.get_submodule(parent), attribute, nn.Linear(old.in_features, num_classes))
    return model


def head_without_return(model, num_classes):
    head_right(model, num_classes)


def head_always_bias(model, num_classes):
    name, old = [(n, m) for n, m in model.named_modules() if isinstance(m, nn.Linear)][-1]
    parent, _, attribute = name.rpartition(".")
    setattr(model.get_submodule(parent), attribute, nn.Linear(old.in_features, num_classes))
    return model


def head_wrong_size(model, num_classes):
    name, old = [(n, m) for n, m in model.named_modules() if isinstance(m, nn.Linear)][-1]
    parent, _, attribute = name.rpartition(".")
    setattr(model.get_submodule(parent), attribute, nn.Linear(old.out_features, num_classes))
    return model


@pytest.mark.parametrize(
    ("answer", "match"),
    [
        (head_without_return, r"returned None: replace the stub"),
        (
            head_first_linear,
            r"an nn.Sequential whose head \(index 2\) has no bias, 2 is still the old layer "
            r"\(did it replace 0 instead\?\)",
        ),
        (head_always_bias, r"the new head has bias=True, the old one had bias=False"),
        (head_wrong_size, r"the new head maps 10 -> 4, expected 512 -> 4"),
        (lambda m, n: nn.Linear(1, n), r"value: .* fc is still the old layer|no attribute"),
    ],
)
def test_new_head_refuses_stubs_and_mistakes(answer, match):
    with pytest.raises(ExerciseFailed, match=match):
        check_new_head(answer)
