"""dlref.norm against torch.nn's BatchNorm1d, BatchNorm2d and LayerNorm, in float64."""

import random
import re

import pytest
import torch
from torch import nn

from dlref.norm import BatchNorm1d, BatchNorm2d, LayerNorm
from tests.dlref.compare import F64, TOL, assert_same_state
from tests.dlref.compare import assert_same_forward_and_backward as assert_same_step


def layout(module: nn.Module) -> dict[str, tuple[tuple[int, ...], torch.dtype]]:
    """The state_dict's keys, shapes and dtypes."""
    return {k: (tuple(v.shape), v.dtype) for k, v in module.state_dict().items()}


def randomize(module: nn.Module) -> None:
    """Give every parameter and buffer a non-default value, so loading them is really tested."""
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn_like(p))
        for name, b in module.named_buffers():
            if name == "num_batches_tracked":
                b.fill_(random.randint(1, 5))
            elif name == "running_var":
                b.copy_(torch.rand_like(b) + 0.5)
            else:
                b.copy_(torch.randn_like(b))


# --------------------------------------------------------------------------- batch norm


def random_batch_norm_case(seed: int):
    """A random (class pair, constructor kwargs, input shape) for batch norm."""
    rng = random.Random(seed)
    kind = rng.choice(["1d-features", "1d-sequence", "2d"])
    channels, batch = rng.randint(1, 5), rng.randint(2, 6)
    kwargs = {
        "eps": rng.choice([1e-5, 1e-3, 0.1]),
        "momentum": rng.choice([0.1, 0.0, 1.0, None, rng.uniform(0.0, 1.0)]),
        "affine": rng.random() < 0.7,
        "track_running_stats": rng.random() < 0.7,
        "bias": rng.random() < 0.7,
    }
    if kind == "1d-features":
        classes, shape = (BatchNorm1d, nn.BatchNorm1d), (batch, channels)
    elif kind == "1d-sequence":
        classes, shape = (BatchNorm1d, nn.BatchNorm1d), (batch, channels, rng.randint(1, 6))
    else:
        classes = (BatchNorm2d, nn.BatchNorm2d)
        shape = (batch, channels, rng.randint(1, 4), rng.randint(1, 4))
    return classes, channels, kwargs, shape


@pytest.mark.parametrize("seed", range(40))
def test_batch_norm_matches_torch(seed):
    torch.manual_seed(seed)
    random.seed(seed)
    (ours_cls, theirs_cls), channels, kwargs, shape = random_batch_norm_case(seed)
    theirs = theirs_cls(channels, **kwargs, dtype=F64)
    ours = ours_cls(channels, **kwargs, dtype=F64)
    assert layout(ours) == layout(theirs)
    randomize(theirs)
    ours.load_state_dict(theirs.state_dict())

    # Training: batch statistics, running statistics updated after every step.
    for _ in range(4):
        x = 3.0 * torch.randn(shape, dtype=F64) + torch.randn(1, dtype=F64)
        assert_same_step(ours, theirs, x)
        assert_same_state(ours, theirs)

    # Evaluation: running statistics if tracked (and left alone), else batch statistics.
    ours.eval()
    theirs.eval()
    for _ in range(2):
        assert_same_step(ours, theirs, torch.randn(shape, dtype=F64))
    assert_same_state(ours, theirs)

    # And back: torch loads ours.
    fresh = theirs_cls(channels, **kwargs, dtype=F64).eval()
    fresh.load_state_dict(ours.state_dict())
    assert_same_step(ours, fresh, torch.randn(shape, dtype=F64))


@pytest.mark.parametrize(
    "ours_cls, theirs_cls", [(BatchNorm1d, nn.BatchNorm1d), (BatchNorm2d, nn.BatchNorm2d)]
)
@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("track_running_stats", [True, False])
def test_batch_norm_state_dict_layout(ours_cls, theirs_cls, affine, bias, track_running_stats):
    kwargs = {"affine": affine, "bias": bias, "track_running_stats": track_running_stats}
    ours, theirs = ours_cls(6, **kwargs), theirs_cls(6, **kwargs)
    assert layout(ours) == layout(theirs)
    assert layout(ours.double()) == layout(theirs.double())  # num_batches_tracked stays long
    assert repr(ours) == repr(theirs)
    assert_same_state(ours, theirs)  # same initial values: gamma 1, beta 0, mean 0, var 1


def test_momentum_none_is_the_average_of_all_batches():
    torch.manual_seed(0)
    bn = BatchNorm2d(3, momentum=None, dtype=F64)
    batches = [torch.randn(4, 3, 2, 5, dtype=F64) * (i + 1) + i for i in range(5)]
    for x in batches:
        bn(x)
    means = torch.stack([x.mean(dim=(0, 2, 3)) for x in batches])  # (5, 3)
    unbiased_vars = torch.stack([x.var(dim=(0, 2, 3), correction=1) for x in batches])  # (5, 3)
    torch.testing.assert_close(bn.running_mean, means.mean(dim=0), **TOL)
    torch.testing.assert_close(bn.running_var, unbiased_vars.mean(dim=0), **TOL)
    assert bn.num_batches_tracked.item() == 5


def test_eval_uses_running_statistics_and_untracked_uses_batch_statistics():
    torch.manual_seed(0)
    x = torch.randn(8, 3, dtype=F64) * 2 + 5
    tracked = BatchNorm1d(3, dtype=F64).eval()  # running mean 0, var 1: eval is nearly identity
    torch.testing.assert_close(tracked(x), x / (1 + 1e-5) ** 0.5, **TOL)
    untracked = BatchNorm1d(3, track_running_stats=False, dtype=F64).eval()
    y = untracked(x)
    torch.testing.assert_close(y.mean(dim=0), torch.zeros(3, dtype=F64), **TOL)
    torch.testing.assert_close(
        y.var(dim=0, correction=0), torch.ones(3, dtype=F64), rtol=1e-4, atol=0
    )


def test_batch_of_one_works_in_eval_mode_with_running_statistics():
    torch.manual_seed(0)
    theirs = nn.BatchNorm2d(3, dtype=F64)
    randomize(theirs)
    ours = BatchNorm2d(3, dtype=F64)
    ours.load_state_dict(theirs.state_dict())
    ours.eval()
    theirs.eval()
    assert_same_step(ours, theirs, torch.randn(1, 3, 1, 1, dtype=F64))


@pytest.mark.parametrize(
    "module, shape, message",
    [
        (
            BatchNorm2d(3),
            (8, 4, 5, 5),
            "BatchNorm2d expects input of shape (B, 3, H, W), got (8, 4, 5, 5)",
        ),
        (
            BatchNorm2d(3),
            (8, 3, 5),
            "BatchNorm2d expects input of shape (B, 3, H, W), got (8, 3, 5)",
        ),
        (
            BatchNorm1d(3),
            (8, 3, 2, 2),
            "BatchNorm1d expects input of shape (B, 3) or (B, 3, L), got (8, 3, 2, 2)",
        ),
        (
            BatchNorm1d(3),
            (8, 4),
            "BatchNorm1d expects input of shape (B, 3) or (B, 3, L), got (8, 4)",
        ),
        (BatchNorm1d(3), (8,), "BatchNorm1d expects input of shape (B, 3) or (B, 3, L), got (8,)"),
    ],
)
def test_batch_norm_rejects_wrong_shapes(module, shape, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        module(torch.zeros(shape))


@pytest.mark.parametrize(
    "module, shape",
    [
        (BatchNorm1d(3), (1, 3)),
        (BatchNorm1d(3), (1, 3, 1)),
        (BatchNorm2d(3), (1, 3, 1, 1)),
        (BatchNorm2d(3, track_running_stats=False).eval(), (1, 3, 1, 1)),  # batch stats in eval
    ],
)
def test_batch_norm_rejects_one_value_per_channel(module, shape):
    message = (
        r"Expected more than 1 value per channel when training, got input of shape .*variance is 0"
    )
    with pytest.raises(ValueError, match=message):
        module(torch.zeros(shape))
    if module.track_running_stats:
        assert module.num_batches_tracked.item() == 0  # the failed step did not count


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"num_features": 0}, "expects num_features >= 1, got 0"),
        (
            {"num_features": 3, "momentum": 1.5},
            r"expects momentum \(a rate, or None\) in \[0, 1\], got 1.5",
        ),
        ({"num_features": 3, "eps": -1.0}, "expects eps >= 0, got -1.0"),
    ],
)
def test_batch_norm_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match="BatchNorm1d " + message):
        BatchNorm1d(**kwargs)


# --------------------------------------------------------------------------- layer norm


@pytest.mark.parametrize(
    "normalized_shape, leading",
    [
        (4, ()),
        (4, (3,)),
        ((4,), (2, 5)),
        ((3, 4), (2,)),
        ([2, 3, 4], (2,)),
        (torch.Size([5]), (2, 3, 2)),
        ((1,), (6,)),
    ],
)
@pytest.mark.parametrize(
    "elementwise_affine, bias", [(True, True), (True, False), (False, True), (False, False)]
)
@pytest.mark.parametrize("eps", [1e-5, 0.1])
def test_layer_norm_matches_torch(normalized_shape, leading, elementwise_affine, bias, eps):
    torch.manual_seed(0)
    kwargs = {"eps": eps, "elementwise_affine": elementwise_affine, "bias": bias, "dtype": F64}
    theirs = nn.LayerNorm(normalized_shape, **kwargs)
    ours = LayerNorm(normalized_shape, **kwargs)
    assert layout(ours) == layout(theirs)
    assert ours.normalized_shape == theirs.normalized_shape
    assert repr(ours) == repr(theirs)
    randomize(theirs)
    ours.load_state_dict(theirs.state_dict())
    shape = (*leading, *theirs.normalized_shape)
    for mode in ("train", "eval"):
        ours.train(mode == "train")
        theirs.train(mode == "train")
        assert_same_step(ours, theirs, 3.0 * torch.randn(shape, dtype=F64) + 1.0)
    fresh = nn.LayerNorm(normalized_shape, **kwargs)
    fresh.load_state_dict(ours.state_dict())
    assert_same_step(ours, fresh, torch.randn(shape, dtype=F64))


def test_layer_norm_does_not_depend_on_the_batch():
    torch.manual_seed(0)
    ln = LayerNorm((3, 4), dtype=F64)
    randomize(ln)
    x = torch.randn(5, 3, 4, dtype=F64)
    y = ln(x)  # (5, 3, 4)
    for i in range(5):
        torch.testing.assert_close(ln(x[i : i + 1]), y[i : i + 1], **TOL)
    torch.testing.assert_close(ln(x[:2]), y[:2], **TOL)


@pytest.mark.parametrize(
    "normalized_shape, shape, message",
    [
        ((4, 5), (2, 3, 6), "LayerNorm expects input of shape (*, 4, 5), got (2, 3, 6)"),
        ((4, 5), (5,), "LayerNorm expects input of shape (*, 4, 5), got (5,)"),
        (4, (4, 3), "LayerNorm expects input of shape (*, 4), got (4, 3)"),
    ],
)
def test_layer_norm_rejects_wrong_trailing_shape(normalized_shape, shape, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        LayerNorm(normalized_shape)(torch.zeros(shape))


@pytest.mark.parametrize("normalized_shape", [(), (3, 0), -2, (2.0,)])
def test_layer_norm_rejects_bad_normalized_shape(normalized_shape):
    with pytest.raises(ValueError, match="LayerNorm expects normalized_shape to be a positive int"):
        LayerNorm(normalized_shape)
