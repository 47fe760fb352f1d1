"""dlref.init against torch.nn.init: gains, fans, identical draws, statistics and errors."""

import math

import pytest
import torch
from torch import nn

from dlref import init

NONLINEARITIES = [
    "linear",
    "conv1d",
    "conv2d",
    "conv3d",
    "conv_transpose1d",
    "conv_transpose2d",
    "conv_transpose3d",
    "sigmoid",
    "tanh",
    "relu",
    "leaky_relu",
    "selu",
]
# Linear (out, in), Conv1d (out, in, k), Conv2d (out, in, kh, kw), Conv3d (out, in, kd, kh, kw)
SHAPES = [(30, 20), (8, 4, 5), (16, 3, 5, 3), (4, 2, 3, 3, 3)]
INITIALISERS = [
    pytest.param(init.xavier_uniform_, nn.init.xavier_uniform_, {}, id="xavier_uniform"),
    pytest.param(
        init.xavier_uniform_, nn.init.xavier_uniform_, {"gain": 5 / 3}, id="xavier_uniform-gain"
    ),
    pytest.param(init.xavier_normal_, nn.init.xavier_normal_, {}, id="xavier_normal"),
    pytest.param(
        init.xavier_normal_, nn.init.xavier_normal_, {"gain": 0.5}, id="xavier_normal-gain"
    ),
    pytest.param(init.kaiming_uniform_, nn.init.kaiming_uniform_, {}, id="kaiming_uniform"),
    pytest.param(
        init.kaiming_uniform_,
        nn.init.kaiming_uniform_,
        {"a": math.sqrt(5)},
        id="kaiming_uniform-linear-default",
    ),
    pytest.param(
        init.kaiming_uniform_,
        nn.init.kaiming_uniform_,
        {"mode": "fan_out", "nonlinearity": "relu"},
        id="kaiming_uniform-fan_out-relu",
    ),
    pytest.param(
        init.kaiming_uniform_,
        nn.init.kaiming_uniform_,
        {"nonlinearity": "tanh"},
        id="kaiming_uniform-tanh",
    ),
    pytest.param(init.kaiming_normal_, nn.init.kaiming_normal_, {}, id="kaiming_normal"),
    pytest.param(
        init.kaiming_normal_,
        nn.init.kaiming_normal_,
        {"mode": "fan_out", "nonlinearity": "relu"},
        id="kaiming_normal-fan_out-relu",
    ),
    pytest.param(
        init.kaiming_normal_, nn.init.kaiming_normal_, {"a": 0.2}, id="kaiming_normal-leaky0.2"
    ),
]
OURS = [init.xavier_uniform_, init.xavier_normal_, init.kaiming_uniform_, init.kaiming_normal_]


@pytest.mark.parametrize("nonlinearity", NONLINEARITIES)
def test_calculate_gain_matches_torch(nonlinearity):
    assert init.calculate_gain(nonlinearity) == nn.init.calculate_gain(nonlinearity)
    assert init.calculate_gain(nonlinearity, 0.2) == nn.init.calculate_gain(nonlinearity, 0.2)


@pytest.mark.parametrize("slope", [None, 0, 1, 3, 0.2, -0.5, math.sqrt(5)])
def test_calculate_gain_leaky_relu_slopes_match_torch(slope):
    assert init.calculate_gain("leaky_relu", slope) == nn.init.calculate_gain("leaky_relu", slope)


def test_calculate_gain_relu_is_sqrt_two():
    assert init.calculate_gain("relu") == math.sqrt(2)
    assert init.calculate_gain("leaky_relu", 0) == math.sqrt(2)


@pytest.mark.parametrize("shape", [*SHAPES, (7, 1), (1, 7)])
def test_fans_match_torch(shape):
    tensor = torch.empty(shape)
    assert init.fan_in_and_fan_out(tensor) == nn.init._calculate_fan_in_and_fan_out(tensor)


def test_fans_of_a_conv_weight():
    weight = nn.Conv2d(3, 16, kernel_size=(5, 3)).weight  # (16, 3, 5, 3)
    assert init.fan_in_and_fan_out(weight) == (3 * 5 * 3, 16 * 5 * 3)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize(("ours", "theirs", "kwargs"), INITIALISERS)
def test_same_generator_gives_exactly_torchs_tensor(ours, theirs, kwargs, shape, dtype):
    seed = sum(shape)
    mine, reference = torch.empty(shape, dtype=dtype), torch.empty(shape, dtype=dtype)
    ours(mine, **kwargs, generator=torch.Generator().manual_seed(seed))
    theirs(reference, **kwargs, generator=torch.Generator().manual_seed(seed))
    assert torch.equal(mine, reference)


@pytest.mark.parametrize(("ours", "theirs", "kwargs"), INITIALISERS)
def test_global_generator_gives_exactly_torchs_tensor(ours, theirs, kwargs):
    torch.manual_seed(123)
    mine = ours(torch.empty(64, 32), **kwargs)
    torch.manual_seed(123)
    reference = theirs(torch.empty(64, 32), **kwargs)
    assert torch.equal(mine, reference)


def test_reproduces_nn_linear_default_weights():
    torch.manual_seed(0)
    layer = nn.Linear(20, 30)
    torch.manual_seed(0)
    weight = init.kaiming_uniform_(torch.empty(30, 20), a=math.sqrt(5))
    assert torch.equal(weight, layer.weight.detach())


# (initialiser, kwargs, shape, expected std from the formula, bound if uniform)
# Linear 512x512: fan_in = fan_out = 512; conv 64x32x3x3: fan_in = 32*9 = 288, fan_out = 64*9 = 576
STATISTICS = [
    (init.xavier_uniform_, {}, (512, 512), math.sqrt(2 / 1024), True),
    (init.xavier_normal_, {}, (512, 512), math.sqrt(2 / 1024), False),
    (init.kaiming_uniform_, {"nonlinearity": "relu"}, (512, 512), math.sqrt(2 / 512), True),
    (init.kaiming_normal_, {"nonlinearity": "relu"}, (512, 512), math.sqrt(2 / 512), False),
    (init.xavier_uniform_, {"gain": 5 / 3}, (64, 32, 3, 3), 5 / 3 * math.sqrt(2 / 864), True),
    (init.xavier_normal_, {}, (64, 32, 3, 3), math.sqrt(2 / 864), False),
    (init.kaiming_uniform_, {"nonlinearity": "relu"}, (64, 32, 3, 3), math.sqrt(2 / 288), True),
    (
        init.kaiming_normal_,
        {"mode": "fan_out", "nonlinearity": "relu"},
        (64, 32, 3, 3),
        math.sqrt(2 / 576),
        False,
    ),
    (init.kaiming_normal_, {"a": 0.5}, (64, 32, 3, 3), math.sqrt(2 / 1.25 / 288), False),
]


@pytest.mark.parametrize(
    ("fn", "kwargs", "shape", "std", "uniform"),
    STATISTICS,
    ids=[f"{fn.__name__}-{shape}-{kwargs}" for fn, kwargs, shape, _, _ in STATISTICS],
)
def test_statistics_follow_the_formula(fn, kwargs, shape, std, uniform):
    weight = torch.empty(shape, dtype=torch.float64)
    fn(weight, **kwargs, generator=torch.Generator().manual_seed(0))
    n = weight.numel()
    # The standard errors of the sample mean and of the sample std are below std / sqrt(n):
    # allow 4 of them.
    assert abs(weight.mean().item()) < 4 * std / math.sqrt(n)
    assert weight.std().item() == pytest.approx(std, rel=4 / math.sqrt(n))
    if uniform:
        bound = math.sqrt(3) * std
        assert weight.abs().max().item() <= bound
        assert weight.abs().max().item() > 0.99 * bound  # the whole range is used


def relu_stack_scales(init_weight, width, depth=20, batch=64):
    """Mean squared pre-activation after each Linear layer of a deep ReLU network."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(batch, width, generator=g, dtype=torch.float64)  # (B, width)
    scales = []
    for _ in range(depth):
        weight = torch.empty(width, width, dtype=torch.float64)  # (out, in)
        init_weight(weight, g)
        z = x @ weight.T  # (B, width)
        scales.append(z.pow(2).mean().item())
        x = torch.relu(z)  # (B, width)
    return scales


def test_kaiming_keeps_a_deep_relu_stack_at_constant_scale():
    scales = relu_stack_scales(
        lambda w, g: init.kaiming_normal_(w, nonlinearity="relu", generator=g), width=1024
    )
    assert scales[0] == pytest.approx(2.0, rel=0.1)  # fan_in * (2 / fan_in) * E[x^2] = 2
    # Finite width lets the scale drift a little (a random walk in log scale), never by 2**20.
    assert all(1 / 3 < scale / scales[0] < 3 for scale in scales)


def test_badly_scaled_inits_vanish_or_explode_in_a_deep_relu_stack():
    # Forgetting ReLU's gain of sqrt(2) halves the scale at every layer: 2**-19 after 20 layers.
    vanishing = relu_stack_scales(
        lambda w, g: init.kaiming_normal_(w, nonlinearity="linear", generator=g), width=256
    )
    assert vanishing[-1] / vanishing[0] < 1e-4
    # Standard normal weights multiply it by fan_in / 2 = 128 at every layer.
    exploding = relu_stack_scales(lambda w, g: w.normal_(0.0, 1.0, generator=g), width=256)
    assert exploding[-1] / exploding[0] > 1e4


@pytest.mark.parametrize("fn", OURS, ids=lambda fn: fn.__name__)
def test_fills_a_parameter_in_place_without_recording_it(fn):
    weight = nn.Parameter(torch.zeros(8, 4))
    out = fn(weight)
    assert out is weight
    assert weight.requires_grad and weight.grad_fn is None
    assert (weight != 0).all()


@pytest.mark.parametrize("shape", [(0, 5), (5, 0), (0, 0)])
@pytest.mark.parametrize("fn", OURS, ids=lambda fn: fn.__name__)
def test_empty_tensor_is_left_alone(fn, shape):
    tensor = torch.empty(shape)
    assert fn(tensor) is tensor


@pytest.mark.parametrize("fn", OURS, ids=lambda fn: fn.__name__)
def test_rejects_tensors_with_fewer_than_two_dims(fn):
    with pytest.raises(ValueError, match=r"at least 2 dimensions .* got shape \(5,\)"):
        fn(torch.empty(5))
    with pytest.raises(ValueError, match=r"at least 2 dimensions .* got shape \(\)"):
        fn(torch.tensor(1.0))


@pytest.mark.parametrize("fn", OURS, ids=lambda fn: fn.__name__)
def test_rejects_non_floating_tensors(fn):
    expects = f"^{fn.__name__} expects tensor to be a"
    with pytest.raises(TypeError, match=rf"{expects} floating-point tensor, got dtype torch.int64"):
        fn(torch.zeros(3, 4, dtype=torch.int64))
    with pytest.raises(
        TypeError, match=rf"^{fn.__name__} expects tensor to be a torch.Tensor, got list$"
    ):
        fn([[0.0, 1.0]])


@pytest.mark.parametrize("fn", [init.kaiming_uniform_, init.kaiming_normal_])
def test_kaiming_rejects_bad_mode_and_nonlinearity(fn):
    with pytest.raises(
        ValueError,
        match=rf"^{fn.__name__} expects mode to be one of 'fan_in', 'fan_out', got 'fan_avg'$",
    ):
        fn(torch.empty(3, 4), mode="fan_avg")
    with pytest.raises(ValueError, match=r"expects nonlinearity to be one of .*, got 'swish'"):
        fn(torch.empty(3, 4), nonlinearity="swish")


def test_calculate_gain_errors():
    with pytest.raises(ValueError, match=r"expects nonlinearity to be one of .*got 'gelu'"):
        init.calculate_gain("gelu")
    with pytest.raises(TypeError, match=r"negative slope \(param\) .* got bool True"):
        init.calculate_gain("leaky_relu", True)
    with pytest.raises(TypeError, match=r"negative slope \(param\) .* got str '0.2'"):
        init.calculate_gain("leaky_relu", "0.2")


def test_fans_reject_non_tensors():
    with pytest.raises(
        TypeError, match=r"fan_in_and_fan_out expects tensor to be a torch.Tensor, got tuple"
    ):
        init.fan_in_and_fan_out((3, 4))
