"""dlref.transfer with torch.optim and torch.nn: frozen weights, heads, groups, BN, checkpoints."""

import copy
import io
import re
from collections import OrderedDict

import pytest
import torch
import torchvision
from torch import nn

from dlref.transfer import (
    count_parameters,
    freeze,
    frozen_batchnorm,
    geometric_lrs,
    load_checkpoint,
    param_groups,
    replace_head,
    state_dict_mismatch,
    unfreeze,
)
from tests.dlref.compare import F64, TOL, assert_same_state


def small_net(num_classes: int = 5, seed: int = 0) -> nn.Sequential:
    """A tiny CNN with batch norm: stem, body, head (float64)."""
    torch.manual_seed(seed)
    return nn.Sequential(
        OrderedDict(
            stem=nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU()),
            body=nn.Sequential(
                nn.Conv2d(4, 8, 3, padding=1),
                nn.BatchNorm2d(8),
                nn.ReLU(),
                nn.AdaptiveAvgPool2d(1),
                nn.Flatten(),
            ),
            head=nn.Linear(8, num_classes),
        )
    ).to(F64)


STEM = ["stem.0.weight", "stem.0.bias", "stem.1.weight", "stem.1.bias"]
BODY = ["body.0.weight", "body.0.bias", "body.1.weight", "body.1.bias"]
HEAD = ["head.weight", "head.bias"]


def batch(seed: int = 1, n: int = 16) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 1, 8, 8, generator=generator, dtype=F64) * 2 + 1  # (B, 1, 8, 8)
    y = torch.randint(0, 5, (n,), generator=generator)  # (B,)
    return x, y


def train_steps(model: nn.Module, optimizer: torch.optim.Optimizer, steps: int = 5) -> None:
    model.train()
    for step in range(steps):
        x, y = batch(seed=step)
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()


def snapshot(model: nn.Module) -> dict[str, torch.Tensor]:
    return {name: t.detach().clone() for name, t in model.state_dict().items()}


# --- freeze, unfreeze, count_parameters ------------------------------------------------------


@pytest.mark.parametrize(
    "make_optimizer",
    [
        lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9, weight_decay=0.01),
        lambda ps: torch.optim.Adam(ps, lr=0.01),
        lambda ps: torch.optim.AdamW(ps, lr=0.01, weight_decay=0.1),
    ],
)
def test_frozen_parameters_stay_exactly_unchanged_after_optimizer_steps(make_optimizer):
    model = small_net()
    assert freeze(model, "stem") == STEM
    assert [n for n, p in model.named_parameters() if not p.requires_grad] == STEM
    before = snapshot(model)
    # Every parameter goes to the optimizer, frozen ones too: weight decay must not move them.
    train_steps(model, make_optimizer(model.parameters()))
    after = model.state_dict()
    for name in STEM:
        assert torch.equal(after[name], before[name]), name
        assert model.get_parameter(name).grad is None
    for name in BODY + HEAD:
        assert not torch.equal(after[name], before[name]), name


def test_freeze_by_module_glob_and_everything_then_unfreeze():
    model = small_net()
    assert freeze(model, model.body[1]) == ["body.1.weight", "body.1.bias"]
    assert unfreeze(model) == STEM + BODY + HEAD
    assert freeze(model, "*.1.*") == [
        "stem.1.weight",
        "stem.1.bias",
        "body.1.weight",
        "body.1.bias",
    ]
    assert freeze(model, "stem.0.weight", model.head) == ["stem.0.weight", *HEAD]
    assert freeze(model) == STEM + BODY + HEAD  # no target: the whole model
    assert all(not p.requires_grad for p in model.parameters())
    assert unfreeze(model, model.head) == HEAD
    assert [n for n, p in model.named_parameters() if p.requires_grad] == HEAD


def test_count_parameters_total_and_trainable():
    model = small_net()
    stem = 4 * 1 * 9 + 4 + 4 + 4  # conv weight and bias, BN gamma and beta
    body = 8 * 4 * 9 + 8 + 8 + 8
    head = 8 * 5 + 5
    assert count_parameters(model) == stem + body + head
    assert count_parameters(model) == sum(p.numel() for p in model.parameters())
    freeze(model, "stem", "body")
    assert count_parameters(model, trainable_only=True) == head
    assert count_parameters(model) == stem + body + head
    resnet = torchvision.models.resnet18(weights=None)
    assert (
        count_parameters(resnet) == torchvision.models.ResNet18_Weights.DEFAULT.meta["num_params"]
    )
    freeze(resnet)
    unfreeze(resnet, "fc", "layer4")
    layer4_and_fc = sum(p.numel() for p in [*resnet.layer4.parameters(), *resnet.fc.parameters()])
    assert count_parameters(resnet, trainable_only=True) == layer4_and_fc


def test_a_prefix_matches_whole_parts_of_names_only():
    model = nn.Sequential(*[nn.Linear(2, 2) for _ in range(12)])
    assert freeze(model, "1") == ["1.weight", "1.bias"]  # not 10.weight, 11.weight


def test_freeze_errors_say_what_came():
    model = small_net()
    message = (
        "freeze expects a name, prefix or glob of the model's parameters, got 'steem', "
        "which matches none"
    )
    with pytest.raises(ValueError, match=re.escape(message)):
        freeze(model, "steem")
    message = (
        "unfreeze expects a submodule of the model with parameters, got a Linear that has none"
    )
    with pytest.raises(ValueError, match=re.escape(message)):
        unfreeze(model, nn.Linear(2, 2))
    message = "freeze expects parameter names (str) or submodules (nn.Module), got int"
    with pytest.raises(TypeError, match=re.escape(message)):
        freeze(model, 3)
    with pytest.raises(TypeError, match="count_parameters expects model to be an nn.Module, got"):
        count_parameters([nn.Linear(2, 2)])


# --- replace_head ----------------------------------------------------------------------------


def test_replace_head_finds_the_last_linear_and_keeps_in_features():
    model = small_net()
    old = model.head
    new = replace_head(model, 7)
    assert model.head is new and new is not old
    assert (new.in_features, new.out_features) == (8, 7)
    assert new.weight.dtype == F64 and new.bias is not None
    assert model(batch()[0]).shape == (16, 7)


def test_replace_head_of_a_torchvision_resnet_and_of_a_sequential_index():
    resnet = torchvision.models.resnet18(weights=None, num_classes=10)
    new = replace_head(resnet, 3)
    assert resnet.fc is new and new.weight.shape == (3, 512)
    resnet.eval()
    assert resnet(torch.randn(2, 3, 32, 32)).shape == (2, 3)
    mlp = nn.Sequential(nn.Linear(4, 6), nn.ReLU(), nn.Linear(6, 2, bias=False))
    new = replace_head(mlp, 9, name="0")  # a named layer, not the last one
    assert mlp[0] is new and new.weight.shape == (9, 4)
    new = replace_head(mlp, 5)
    assert mlp[2] is new and new.bias is None and new.weight.shape == (5, 6)


def test_replace_head_errors():
    with pytest.raises(ValueError, match=re.escape("replace_head expects num_classes >= 1, got 0")):
        replace_head(small_net(), 0)
    message = "replace_head expects a model with an nn.Linear layer, got a Sequential with none"
    with pytest.raises(ValueError, match=re.escape(message)):
        replace_head(nn.Sequential(nn.Conv2d(1, 1, 3)), 2)
    message = "replace_head expects 'stem' to be an nn.Linear, got Sequential"
    with pytest.raises(TypeError, match=re.escape(message)):
        replace_head(small_net(), 2, name="stem")
    message = "replace_head expects name to be a submodule of the model, got 'fc'; its linear"
    with pytest.raises(ValueError, match=re.escape(message)):
        replace_head(small_net(), 2, name="fc")


# --- param_groups and geometric_lrs against hand-set groups ----------------------------------


@pytest.mark.parametrize(
    "make_optimizer",
    [
        lambda groups: torch.optim.SGD(groups, lr=1.0, momentum=0.9),
        lambda groups: torch.optim.Adam(groups, lr=1.0),
    ],
)
def test_param_groups_give_the_same_trajectory_as_lrs_set_by_hand(make_optimizer):
    lrs = {"stem": 0.001, "body": 0.01, "head": 0.1}
    ours, theirs = small_net(), small_net()
    groups = param_groups(ours, lrs)
    assert [g["name"] for g in groups] == ["stem", "body", "head"]
    assert [g["lr"] for g in groups] == [0.001, 0.01, 0.1]
    by_hand = [
        {"params": list(theirs.stem.parameters()), "lr": 0.001},
        {"params": list(theirs.body.parameters()), "lr": 0.01},
        {"params": list(theirs.head.parameters()), "lr": 0.1},
    ]
    optimizer = make_optimizer(groups)
    assert [g["lr"] for g in optimizer.param_groups] == [0.001, 0.01, 0.1]
    train_steps(ours, optimizer, steps=6)
    train_steps(theirs, make_optimizer(by_hand), steps=6)
    assert_same_state(ours, theirs)
    # and the rates mattered: one lr for all gives another trajectory
    single = small_net()
    train_steps(single, make_optimizer([{"params": list(single.parameters()), "lr": 0.01}]), 6)
    assert not torch.allclose(single.stem[0].weight, ours.stem[0].weight, **TOL)


def test_geometric_lrs_decay_from_the_head_to_the_stem():
    lrs = geometric_lrs(["stem", "body", "head"], head_lr=0.1, decay=0.5)
    assert list(lrs) == ["stem", "body", "head"]
    assert lrs == pytest.approx({"stem": 0.025, "body": 0.05, "head": 0.1}, rel=1e-12)
    assert geometric_lrs(["head"], 0.3, 0.1) == {"head": 0.3}


def test_param_groups_skip_frozen_parts_and_the_first_matching_name_wins():
    model = small_net()
    freeze(model, "stem")
    groups = param_groups(model, {"body.1": 0.5, "body": 0.1, "stem": 0.2, "head": 0.3})
    names = {id(p): n for n, p in model.named_parameters()}
    assert [(g["name"], [names[id(p)] for p in g["params"]]) for g in groups] == [
        ("body.1", ["body.1.weight", "body.1.bias"]),
        ("body", ["body.0.weight", "body.0.bias"]),
        ("head", HEAD),
    ]


def test_param_groups_errors():
    message = (
        "param_groups expects every trainable parameter to match a name in lrs, got 2 that match "
        "none: head.weight, head.bias"
    )
    with pytest.raises(ValueError, match=re.escape(message)):
        param_groups(small_net(), {"stem": 0.1, "body": 0.1})
    message = "param_groups expects the learning rate of 'head' > 0, got -0.1"
    with pytest.raises(ValueError, match=re.escape(message)):
        param_groups(small_net(), {"head": -0.1})
    with pytest.raises(TypeError, match="param_groups expects lrs to be a non-empty dict"):
        param_groups(small_net(), [0.1])
    with pytest.raises(ValueError, match=re.escape("geometric_lrs expects decay in (0, 1], got 2")):
        geometric_lrs(["a", "b"], 0.1, 2)
    with pytest.raises(TypeError, match="geometric_lrs expects parts to be a non-empty list"):
        geometric_lrs("head", 0.1, 0.5)


# --- frozen_batchnorm ------------------------------------------------------------------------


def buffers(model: nn.Module) -> dict[str, torch.Tensor]:
    return {n: b.detach().clone() for n, b in model.named_buffers()}


def test_frozen_batchnorm_keeps_running_stats_while_other_weights_train():
    model = small_net()
    before_buffers, before = buffers(model), snapshot(model)
    with frozen_batchnorm(model) as names:
        assert names == ["stem.1", "body.1"]
        # model.train() inside (as a training loop calls it each epoch) cannot undo it
        train_steps(model, torch.optim.SGD(model.parameters(), lr=0.1))
        assert not model.stem[1].training
    for name, value in model.named_buffers():
        assert torch.equal(value, before_buffers[name]), name  # means, variances and counts
    for name, _ in model.named_parameters():  # conv weights and gamma, beta all moved
        assert not torch.equal(model.state_dict()[name], before[name]), name
    assert model.stem[1].training and model.body[1].training  # back to the model's mode


def test_without_frozen_batchnorm_the_running_stats_move():
    model = small_net()
    before = buffers(model)
    train_steps(model, torch.optim.SGD(model.parameters(), lr=0.1))
    assert not torch.equal(model.stem[1].running_mean, before["stem.1.running_mean"])
    assert model.stem[1].num_batches_tracked.item() == 5


def test_frozen_batchnorm_in_train_mode_computes_what_eval_mode_computes():
    model = small_net()
    with torch.no_grad():  # running stats away from (0, 1), so that the two modes differ
        model.stem[1].running_mean.uniform_(-1, 1)
        model.stem[1].running_var.uniform_(0.5, 2)
    x, _ = batch()
    model.eval()
    expected = model(x)
    model.train()
    assert not torch.allclose(copy.deepcopy(model)(x), expected, **TOL)  # batch stats
    with frozen_batchnorm(model):
        torch.testing.assert_close(model(x), expected, **TOL)
    model.eval()
    with frozen_batchnorm(model):
        pass
    assert not model.stem[1].training  # an eval model stays in eval


def test_frozen_batchnorm_errors():
    message = "frozen_batchnorm expects a model with batch-norm layers, got a Linear with none"
    with pytest.raises(ValueError, match=re.escape(message)), frozen_batchnorm(nn.Linear(2, 2)):
        pass


# --- load_checkpoint -------------------------------------------------------------------------


def test_checkpoint_round_trip_through_a_file_with_weights_only(tmp_path):
    source = small_net(seed=1)
    train_steps(source, torch.optim.SGD(source.parameters(), lr=0.1))  # running stats too
    path = tmp_path / "source.pt"
    torch.save(source.state_dict(), path)
    target = small_net(seed=2)
    assert load_checkpoint(target, path) == []
    assert_same_state(target, source)
    source.eval(), target.eval()
    x, _ = batch()
    torch.testing.assert_close(target(x), source(x), **TOL)
    theirs = small_net(seed=9)
    theirs.load_state_dict(torch.load(path, weights_only=True))  # torch's own strict load
    assert_same_state(target, theirs)


def test_checkpoint_without_the_head_loads_the_backbone_strictly(tmp_path):
    source = small_net(num_classes=5, seed=1)
    path = tmp_path / "source.pt"
    torch.save(source.state_dict(), path)
    target = small_net(num_classes=3, seed=2)
    fresh_head = target.head.weight.detach().clone()
    assert load_checkpoint(target, path, exclude="head") == HEAD
    torch.testing.assert_close(target.head.weight, fresh_head, **TOL)  # kept
    for key, value in source.state_dict().items():
        if not key.startswith("head"):
            torch.testing.assert_close(target.state_dict()[key], value, **TOL)
    # the backbone is still checked: a missing body key fails even with exclude
    state = source.state_dict()
    del state["body.0.bias"]
    buffer = io.BytesIO()
    torch.save(state, buffer)
    buffer.seek(0)
    with pytest.raises(ValueError, match="missing keys .*: body.0.bias"):
        load_checkpoint(target, buffer, exclude=["head"])


def saved(state: object) -> io.BytesIO:
    buffer = io.BytesIO()
    torch.save(state, buffer)
    buffer.seek(0)
    return buffer


def test_missing_keys_error_quoted_exactly():
    state = small_net().state_dict()
    del state["head.bias"], state["stem.1.running_var"]
    message = (
        "load_checkpoint expects a checkpoint of the model's architecture, got\n"
        "  missing keys (in the model, not in the checkpoint): stem.1.running_var, head.bias"
    )
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        load_checkpoint(small_net(), saved(state))


def test_unexpected_keys_error_quoted_exactly():
    state = small_net().state_dict()
    state["fc.weight"] = torch.zeros(5, 8)
    message = (
        "load_checkpoint expects a checkpoint of the model's architecture, got\n"
        "  unexpected keys (in the checkpoint, not in the model): fc.weight"
    )
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        load_checkpoint(small_net(), saved(state))


def test_shape_mismatch_error_quoted_exactly():
    message = (
        "load_checkpoint expects a checkpoint of the model's architecture, got\n"
        "  shape mismatch for head.weight: (5, 8) in the checkpoint, (10, 8) in the model\n"
        "  shape mismatch for head.bias: (5,) in the checkpoint, (10,) in the model"
    )
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        load_checkpoint(small_net(num_classes=10), saved(small_net(num_classes=5).state_dict()))
    # and torch's own strict load refuses the same checkpoint
    with pytest.raises(RuntimeError, match="size mismatch for head.weight"):
        small_net(num_classes=10).load_state_dict(small_net(num_classes=5).state_dict())


def test_all_three_mismatches_in_one_message():
    state = small_net(num_classes=5).state_dict()
    del state["stem.0.bias"]
    state["extra"] = torch.zeros(1)
    message = (
        "load_checkpoint expects a checkpoint of the model's architecture, got\n"
        "  missing keys (in the model, not in the checkpoint): stem.0.bias\n"
        "  unexpected keys (in the checkpoint, not in the model): extra\n"
        "  shape mismatch for head.weight: (5, 8) in the checkpoint, (3, 8) in the model\n"
        "  shape mismatch for head.bias: (5,) in the checkpoint, (3,) in the model"
    )
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        load_checkpoint(small_net(num_classes=3), saved(state))
    mismatch = state_dict_mismatch(small_net(num_classes=3).state_dict(), state)
    assert mismatch["missing"] == ["stem.0.bias"] and mismatch["unexpected"] == ["extra"]
    assert mismatch["shapes"][0] == ("head.weight", (5, 8), (3, 8))


def test_a_pickled_model_or_a_non_state_dict_is_refused():
    message = (
        "load_checkpoint expects a file saved with torch.save(model.state_dict(), path), "
        "got one that torch.load(..., weights_only=True) refuses"
    )
    with pytest.raises(ValueError, match=re.escape(message)):
        load_checkpoint(small_net(), saved(small_net()))  # a whole pickled module
    message = "load_checkpoint expects a state dict (names -> tensors), got a list"
    with pytest.raises(ValueError, match=re.escape(message)):
        load_checkpoint(small_net(), saved([torch.zeros(1)]))
    with pytest.raises(TypeError, match="load_checkpoint expects exclude to be a name or a list"):
        load_checkpoint(small_net(), saved(small_net().state_dict()), exclude=[3])
