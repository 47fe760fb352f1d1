"""dlref.conv against torch: values, gradients, state, output sizes, receptive fields, errors."""

import random
import re

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from dlref.conv import (
    Conv2d,
    avg_pool2d,
    conv2d,
    conv2d_loop,
    im2col,
    max_pool2d,
    output_size,
    receptive_field,
)
from dlref.models.cnn import CNN
from tests.dlref.compare import (
    F64,
    TOL,
    assert_same_forward_and_backward,
    assert_same_state,
    forward_and_grads,
)


def _weights(c_out, c_in_per_group, k, generator):
    """A random float64 weight (C_out, C_in / g, k_h, k_w) and bias (C_out,)."""
    k_h, k_w = (k, k) if isinstance(k, int) else k
    weight = torch.randn(c_out, c_in_per_group, k_h, k_w, generator=generator, dtype=F64)
    return weight, torch.randn(c_out, generator=generator, dtype=F64)


def _assert_conv_matches_torch(ours, x, weight, bias, **kwargs):
    """Output and the gradients of input, weight and bias agree with F.conv2d."""
    leaves = [t.detach().clone().requires_grad_() for t in (x, weight, bias)]
    twins = [t.detach().clone().requires_grad_() for t in (x, weight, bias)]
    y = ours(*leaves, **kwargs)
    y_ref = F.conv2d(*twins, **kwargs)
    torch.testing.assert_close(y, y_ref, **TOL)
    upstream = torch.randn_like(y_ref)
    grads = torch.autograd.grad(y, leaves, upstream)
    grads_ref = torch.autograd.grad(y_ref, twins, upstream)
    for name, g, g_ref in zip(("input", "weight", "bias"), grads, grads_ref, strict=True):
        torch.testing.assert_close(g, g_ref, **TOL, msg=lambda m, n=name: f"grad of {n}: {m}")


CONFIGS = [
    {},
    {"stride": 2},
    {"padding": 1},
    {"dilation": 2},
    {"stride": 2, "padding": 2, "dilation": 2},
    {"stride": (1, 2), "padding": (2, 0), "dilation": (1, 3)},
    {"stride": [3, 1], "padding": [0, 1]},
]


@pytest.mark.parametrize("kwargs", CONFIGS, ids=str)
@pytest.mark.parametrize("kernel", [3, (2, 3), 1])
def test_conv2d_matches_torch(kwargs, kernel):
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(2, 3, 9, 8, generator=generator, dtype=F64)  # (B, C_in, H, W)
    weight, bias = _weights(4, 3, kernel, generator)
    _assert_conv_matches_torch(conv2d, x, weight, bias, **kwargs)


@pytest.mark.parametrize(("c_in", "c_out", "groups"), [(4, 6, 2), (6, 6, 3), (4, 8, 4), (3, 3, 3)])
@pytest.mark.parametrize("kwargs", [{}, {"stride": 2, "padding": (1, 2), "dilation": (2, 1)}])
def test_conv2d_with_groups_matches_torch(c_in, c_out, groups, kwargs):
    generator = torch.Generator().manual_seed(1)
    x = torch.randn(3, c_in, 7, 9, generator=generator, dtype=F64)
    weight, bias = _weights(c_out, c_in // groups, 3, generator)
    _assert_conv_matches_torch(conv2d, x, weight, bias, groups=groups, **kwargs)


@pytest.mark.parametrize("seed", range(25))
def test_conv2d_random_configurations_match_torch(seed):
    rng = random.Random(seed)
    generator = torch.Generator().manual_seed(seed)
    groups = rng.choice([1, 1, 2, 3])
    c_in, c_out = groups * rng.randint(1, 3), groups * rng.randint(1, 3)
    k = (rng.randint(1, 4), rng.randint(1, 4))
    d = (rng.randint(1, 3), rng.randint(1, 3))
    p = (rng.randint(0, 3), rng.randint(0, 3))
    s = (rng.randint(1, 3), rng.randint(1, 3))
    size = [rng.randint(max(1, d[i] * (k[i] - 1) + 1 - 2 * p[i]), 12) for i in range(2)]
    x = torch.randn(rng.randint(1, 3), c_in, *size, generator=generator, dtype=F64)
    weight, bias = _weights(c_out, c_in // groups, k, generator)
    kwargs = {"stride": s, "padding": p, "dilation": d, "groups": groups}
    _assert_conv_matches_torch(conv2d, x, weight, bias, **kwargs)
    assert conv2d(x, weight, bias, **kwargs).shape[2:] == output_size(tuple(size), k, s, p, d)


@pytest.mark.parametrize("kwargs", CONFIGS, ids=str)
def test_conv2d_loop_matches_torch_and_im2col(kwargs):
    generator = torch.Generator().manual_seed(2)
    x = torch.randn(2, 3, 8, 7, generator=generator, dtype=F64)
    weight, bias = _weights(4, 3, (3, 2), generator)
    _assert_conv_matches_torch(conv2d_loop, x, weight, bias, **kwargs)
    torch.testing.assert_close(
        conv2d_loop(x, weight, bias, **kwargs), conv2d(x, weight, bias, **kwargs), **TOL
    )


def test_conv2d_without_bias_and_in_float32():
    generator = torch.Generator().manual_seed(3)
    x = torch.randn(2, 3, 6, 6, generator=generator)
    weight = torch.randn(5, 3, 3, 3, generator=generator)
    torch.testing.assert_close(conv2d(x, weight, padding=1), F.conv2d(x, weight, padding=1))
    torch.testing.assert_close(conv2d_loop(x, weight), F.conv2d(x, weight))


@pytest.mark.parametrize("kwargs", CONFIGS, ids=str)
def test_im2col_matches_unfold(kwargs):
    generator = torch.Generator().manual_seed(4)
    x = torch.randn(2, 3, 9, 8, generator=generator, dtype=F64)
    upstream = torch.randn_like(F.unfold(x, (2, 3), **kwargs))
    ours = forward_and_grads(im2col, x, upstream, kernel_size=(2, 3), **kwargs)
    theirs = forward_and_grads(F.unfold, x, upstream, kernel_size=(2, 3), **kwargs)
    torch.testing.assert_close(ours[0], theirs[0], **TOL)
    torch.testing.assert_close(ours[1], theirs[1], **TOL)


POOLS = [
    {"kernel_size": 2},
    {"kernel_size": 3, "stride": 1},
    {"kernel_size": 3, "stride": 2, "padding": 1},
    {"kernel_size": (2, 3), "stride": (1, 2), "padding": (1, 1)},
    {"kernel_size": [3, 2], "stride": None, "padding": [1, 0]},
]


@pytest.mark.parametrize("kwargs", POOLS, ids=str)
@pytest.mark.parametrize(
    ("ours", "theirs"), [(max_pool2d, F.max_pool2d), (avg_pool2d, F.avg_pool2d)]
)
def test_pooling_matches_torch(ours, theirs, kwargs):
    generator = torch.Generator().manual_seed(5)
    x = torch.randn(2, 3, 9, 8, generator=generator, dtype=F64)
    upstream = torch.randn_like(theirs(x, **kwargs))
    y, dx, _ = forward_and_grads(ours, x, upstream, **kwargs)
    y_ref, dx_ref, _ = forward_and_grads(theirs, x, upstream, **kwargs)
    torch.testing.assert_close(y, y_ref, **TOL)
    torch.testing.assert_close(dx, dx_ref, **TOL)


def test_max_pool_gradient_goes_to_one_of_tied_maxima_like_torch():
    x = torch.zeros(1, 2, 4, 6, dtype=F64)  # every window is a tie
    x[0, 1, 1, 1] = 1.0
    upstream = torch.arange(12, dtype=F64).reshape(1, 2, 2, 3) + 1
    _, dx, _ = forward_and_grads(max_pool2d, x, upstream, kernel_size=2)
    _, dx_ref, _ = forward_and_grads(F.max_pool2d, x, upstream, kernel_size=2)
    torch.testing.assert_close(dx, dx_ref, **TOL)


def test_max_pool_padding_never_wins():
    x = -5 - torch.rand(1, 1, 4, 4, dtype=F64)  # all negative: zero padding would win
    torch.testing.assert_close(max_pool2d(x, 3, 1, 1), F.max_pool2d(x, 3, 1, 1), **TOL)
    assert (max_pool2d(x, 3, 1, 1) < -5).all()


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"stride": 2, "padding": 1},
        {"stride": (2, 1), "padding": (0, 2), "dilation": (2, 1), "groups": 2},
        {"bias": False},
        {"groups": 4},
    ],
    ids=str,
)
def test_conv2d_module_matches_nn_conv2d(kwargs):
    torch.manual_seed(0)
    theirs = nn.Conv2d(4, 8, (3, 2), dtype=F64, **kwargs)
    torch.manual_seed(0)  # the same draws: the same initial weights
    ours = Conv2d(4, 8, (3, 2), dtype=F64, **kwargs)
    assert [(k, v.shape) for k, v in ours.state_dict().items()] == [
        (k, v.shape) for k, v in theirs.state_dict().items()
    ]
    assert_same_state(ours, theirs)
    x = torch.randn(2, 4, 9, 7, dtype=F64)
    assert_same_forward_and_backward(ours, theirs, x, torch.randn_like(theirs(x)))
    assert repr(ours).removeprefix("Conv2d") == repr(theirs).removeprefix("Conv2d")


def test_conv2d_module_state_dict_round_trip():
    generator = torch.Generator().manual_seed(6)
    theirs = nn.Conv2d(3, 5, 3, padding=1, dtype=F64)
    with torch.no_grad():
        theirs.weight.copy_(torch.randn(5, 3, 3, 3, generator=generator, dtype=F64))
    ours = Conv2d(3, 5, 3, padding=1, dtype=F64)
    ours.load_state_dict(theirs.state_dict())  # theirs -> ours
    x = torch.randn(2, 3, 6, 6, generator=generator, dtype=F64)
    torch.testing.assert_close(ours(x), theirs(x), **TOL)
    back = nn.Conv2d(3, 5, 3, padding=1, dtype=F64)
    back.load_state_dict(ours.state_dict())  # ours -> theirs
    assert_same_state(back, theirs)


def test_conv2d_module_initial_weights_have_pytorch_range():
    torch.manual_seed(7)
    layer = Conv2d(16, 32, 3)
    bound = 1 / (16 * 9) ** 0.5
    assert layer.weight.abs().max() <= bound and layer.bias.abs().max() <= bound
    assert layer.weight.std() > 0.5 * bound / 3**0.5  # spread over the range, not all zero
    assert sum(p.numel() for p in layer.parameters()) == 32 * 16 * 9 + 32


OUTPUT_SIZES = [
    (8, 3, 1, 0, 1),
    (8, 3, 1, 1, 1),
    (28, 5, 2, 2, 1),
    (7, 3, 2, 0, 2),
    (10, 1, 3, 0, 1),
    ((9, 8), (3, 2), (2, 1), (0, 2), (2, 3)),
    ((32, 17), 3, (1, 2), 1, 1),
]


@pytest.mark.parametrize("args", OUTPUT_SIZES, ids=str)
def test_output_size_matches_the_shapes_torch_produces(args):
    size, k, s, p, d = args
    h, w = (size, size) if isinstance(size, int) else size
    x = torch.zeros(1, 1, h, w)
    weight = torch.zeros(1, 1, *((k, k) if isinstance(k, int) else k))
    shape = tuple(F.conv2d(x, weight, stride=s, padding=p, dilation=d).shape[2:])
    got = output_size(size, k, s, p, d)
    assert got == (shape[0] if isinstance(size, int) else shape)
    if isinstance(size, int) and p <= k // 2 and d == 1:  # pooling follows the same formula
        assert got == F.max_pool2d(x, k, s, p).shape[-1] == F.avg_pool2d(x, k, s, p).shape[-1]


def _receptive_field_by_gradient(layers, size):
    """The extent of the input pixels that the centre output unit depends on, found by autograd.

    Max pools become average pools of the same geometry, whose gradient reaches every pixel of
    the window (a max pool's reaches one).
    """
    layers = nn.Sequential(
        *(
            nn.AvgPool2d(m.kernel_size, m.stride, m.padding) if isinstance(m, nn.MaxPool2d) else m
            for m in layers
        )
    )
    x = torch.ones(1, layers[0].in_channels, size, size, dtype=F64, requires_grad=True)
    y = layers(x)
    y[0, 0, y.shape[2] // 2, y.shape[3] // 2].backward()
    rows, cols = torch.nonzero(x.grad[0].abs().sum(0), as_tuple=True)
    return int(rows.max() - rows.min() + 1), int(cols.max() - cols.min() + 1)


STACKS = [
    lambda: CNN()[:6],
    lambda: nn.Sequential(nn.Conv2d(1, 1, 3), nn.Conv2d(1, 1, 3), nn.Conv2d(1, 1, 3)),
    lambda: nn.Sequential(nn.Conv2d(1, 2, 5, stride=2), nn.ReLU(), nn.AvgPool2d(3, 2)),
    lambda: nn.Sequential(nn.Conv2d(1, 1, 3, dilation=2), nn.Conv2d(1, 1, 3, dilation=4)),
    lambda: nn.Sequential(Conv2d(1, 2, (3, 5), stride=(2, 1)), nn.MaxPool2d((2, 3), 1)),
]


@pytest.mark.parametrize("index", range(len(STACKS)))
def test_receptive_field_matches_what_autograd_sees(index):
    layers = STACKS[index]().double()
    for module in layers:
        if isinstance(module, nn.Conv2d | Conv2d):
            nn.init.constant_(module.weight, 1.0)  # positive everywhere: no cancellation
            nn.init.constant_(module.bias, 1.0)
    assert receptive_field(layers) == _receptive_field_by_gradient(layers, 41)


def test_receptive_field_of_the_digits_cnn_grows_to_cover_the_image():
    model = CNN()
    assert [receptive_field(model[:n]) for n in (1, 3, 4, 6)] == [
        (3, 3), (4, 4), (8, 8), (10, 10),
    ]  # fmt: skip
    assert receptive_field(nn.Conv2d(1, 1, 7)) == (7, 7)  # a single layer
    assert receptive_field([]) == (1, 1)


# Errors: each says what the function wanted and what it got.

X = torch.zeros(2, 4, 6, 6)
W = torch.zeros(8, 2, 3, 3)


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (
            lambda: conv2d(X[0], W, groups=2),
            ValueError,
            "conv2d expects input of shape (B, C_in, H, W), got (4, 6, 6); "
            "add the missing dimension: input.unsqueeze(0) for one image (C, H, W), "
            "input.unsqueeze(1) for a batch of grey images (B, H, W)",
        ),
        (
            lambda: conv2d(X, W),
            ValueError,
            "conv2d expects input with 2 channels to match weight (8, 2, 3, 3) and groups=1, "
            "got input (2, 4, 6, 6)",
        ),
        (
            lambda: conv2d(X, W, groups=3),
            ValueError,
            "conv2d expects groups to divide both in_channels (4) and out_channels (8), "
            "got groups=3",
        ),
        (
            lambda: conv2d(X, torch.zeros(8, 2, 7, 3), groups=2),
            ValueError,
            "conv2d expects a kernel no larger than the padded input, got a kernel spanning 7x3 "
            "(dilation included) over an input of 6x6 (input (2, 4, 6, 6) with padding (0, 0))",
        ),
        (
            lambda: conv2d(X, W, groups=2, dilation=3, padding=(1, 0)),
            ValueError,
            "got a kernel spanning 7x7 (dilation included) over an input of 8x6 "
            "(input (2, 4, 6, 6) with padding (1, 0))",
        ),
        (
            lambda: conv2d(X, W[0], groups=2),
            ValueError,
            "conv2d expects weight of shape (C_out, C_in / groups, k_h, k_w), got (2, 3, 3)",
        ),
        (
            lambda: conv2d(X, W, torch.zeros(4), groups=2),
            ValueError,
            "conv2d expects bias of shape (8,), one per output channel, got (4,)",
        ),
        (
            lambda: conv2d(X.long(), W, groups=2),
            TypeError,
            "conv2d expects input to be a floating-point tensor, got dtype torch.int64",
        ),
        (
            lambda: conv2d(X.numpy(), W),
            TypeError,
            "conv2d expects input to be a torch.Tensor, got ndarray",
        ),
        (
            lambda: conv2d(X, W, groups=2, stride=0),
            ValueError,
            "conv2d expects stride >= 1, got 0",
        ),
        (
            lambda: conv2d(X, W, groups=2, padding=(1, -1)),
            ValueError,
            "conv2d expects each of padding >= 0, got -1",
        ),
        (
            lambda: conv2d(X, W, groups=2, dilation=(1, 2, 3)),
            TypeError,
            "conv2d expects dilation to be an int or a pair of ints, got tuple (1, 2, 3)",
        ),
        (
            lambda: conv2d(X, W, groups=2, stride=1.5),
            TypeError,
            "conv2d expects stride to be an int or a pair of ints, got float 1.5",
        ),
        (
            lambda: conv2d(X, W, groups=0),
            ValueError,
            "conv2d expects groups >= 1, got 0",
        ),
        (
            lambda: conv2d_loop(X, W),
            ValueError,
            "conv2d_loop expects input with 2 channels to match weight (8, 2, 3, 3) and "
            "groups=1, got input (2, 4, 6, 6)",
        ),
        (
            lambda: im2col(X[0], 3),
            ValueError,
            "im2col expects input of shape (B, C, H, W), got (4, 6, 6)",
        ),
        (
            lambda: im2col(X, (3, 9)),
            ValueError,
            "im2col expects a kernel no larger than the padded input, got a kernel spanning 3x9",
        ),
        (
            lambda: max_pool2d(X[0, 0], 2),
            ValueError,
            "max_pool2d expects input of shape (B, C, H, W), got (6, 6)",
        ),
        (
            lambda: max_pool2d(X, 3, padding=2),
            ValueError,
            "max_pool2d expects padding at most half the kernel size (3, 3), "
            "i.e. <= (1, 1), got (2, 2)",
        ),
        (
            lambda: avg_pool2d(X, 8),
            ValueError,
            "avg_pool2d expects a kernel no larger than the padded input, got a kernel "
            "spanning 8x8",
        ),
        (
            lambda: avg_pool2d(X, 2, stride=(0, 1)),
            ValueError,
            "avg_pool2d expects each of stride >= 1, got 0",
        ),
        (
            lambda: output_size(8, 11, padding=1),
            ValueError,
            "output_size expects a kernel no larger than the padded input, got a kernel "
            "spanning 11 (dilation included) over 10 (size 8 with padding 1)",
        ),
        (
            lambda: output_size(8, "3"),
            TypeError,
            "output_size expects kernel_size to be an int or a pair of ints, got str '3'",
        ),
        (
            lambda: output_size(0, 1),
            ValueError,
            "output_size expects size >= 1, got 0",
        ),
        (
            lambda: Conv2d(3, 8, 3, groups=2),
            ValueError,
            "Conv2d expects groups to divide both in_channels (3) and out_channels (8), "
            "got groups=2",
        ),
        (
            lambda: Conv2d(3, 0, 3),
            ValueError,
            "Conv2d expects out_channels >= 1, got 0",
        ),
        (
            lambda: Conv2d(3, 8, (3, 0)),
            ValueError,
            "Conv2d expects each of kernel_size >= 1, got 0",
        ),
        (
            lambda: Conv2d(3, 8, 3)(torch.zeros(3, 8, 8)),
            ValueError,
            "conv2d expects input of shape (B, C_in, H, W), got (3, 8, 8)",
        ),
        (
            lambda: receptive_field(CNN()),
            ValueError,
            "receptive_field expects convolution, pooling or elementwise layers (the part "
            "before Flatten, such as model[:6]), got Flatten",
        ),
        (
            lambda: receptive_field(3),
            TypeError,
            "receptive_field expects a sequence of layers such as model[:6], got int",
        ),
        (
            lambda: receptive_field([(3, 1)]),
            TypeError,
            "receptive_field expects nn.Module layers, got tuple",
        ),
    ],
)
def test_errors_say_what_was_wanted_and_what_came(call, error, message):
    with pytest.raises(error, match=re.escape(message)):
        call()
