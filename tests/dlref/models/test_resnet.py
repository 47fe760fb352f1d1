"""Tests of dlref.models.resnet: Table 6's parameter counts, shapes, strides, option A, errors."""

import re
from copy import deepcopy

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from dlref.models import resnet
from dlref.models.resnet import BasicBlock, ResNet, ShortcutA
from tests.dlref.compare import F64, TOL, assert_same_forward_and_backward, assert_same_state

# He et al. (2015), Table 6: parameters in millions, as printed
TABLE_6 = {20: "0.27", 32: "0.46", 44: "0.66", 56: "0.85", 110: "1.7"}


def count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("depth", sorted(TABLE_6))
def test_parameter_counts_round_to_table_6(depth):
    printed = TABLE_6[depth]
    decimals = len(printed.split(".")[1])
    params = count(ResNet(depth))
    assert f"{params / 1e6:.{decimals}f}" == printed, params
    assert count(ResNet(depth, residual=False)) == params  # the plain net: the same layers


def test_named_constructors_build_their_depth_and_pass_keywords():
    for depth in TABLE_6:
        for prefix, residual in (("resnet", True), ("plain", False)):
            make = getattr(resnet, f"{prefix}{depth}")
            model = make(num_classes=7, in_channels=1)
            assert make.__name__ == f"{prefix}{depth}"
            assert (model.depth, model.residual, model.fc.out_features) == (depth, residual, 7)
            assert model.conv.in_channels == 1


@pytest.mark.parametrize("depth", [8, 20, 56])
def test_depth_counts_weighted_layers(depth):
    model = ResNet(depth)
    layers = [m for m in model.modules() if isinstance(m, nn.Conv2d | nn.Linear)]
    assert len(layers) == depth
    assert [len(model.stage1), len(model.stage2), len(model.stage3)] == [(depth - 2) // 6] * 3


def _stage_shapes(model, x):
    shapes = {}
    hooks = [
        getattr(model, name).register_forward_hook(
            lambda _m, _i, out, name=name: shapes.__setitem__(name, tuple(out.shape))
        )
        for name in ("stage1", "stage2", "stage3")
    ]
    logits = model(x)
    for hook in hooks:
        hook.remove()
    return shapes, logits


@pytest.mark.parametrize("residual", [True, False])
def test_stage_shapes_for_32x32(residual):
    shapes, logits = _stage_shapes(ResNet(20, residual=residual), torch.randn(2, 3, 32, 32))
    assert shapes == {
        "stage1": (2, 16, 32, 32),
        "stage2": (2, 32, 16, 16),
        "stage3": (2, 64, 8, 8),
    }
    assert logits.shape == (2, 10)


@pytest.mark.parametrize(
    "side, maps", [(8, (8, 4, 2)), (7, (7, 4, 2)), (17, (17, 9, 5)), (1, (1, 1, 1))]
)
def test_any_input_size_works(side, maps):
    model = ResNet(14, num_classes=3, in_channels=1)
    shapes, logits = _stage_shapes(model, torch.randn(4, 1, side, side))
    assert [shapes[f"stage{i}"][2:] for i in (1, 2, 3)] == [(s, s) for s in maps]
    assert logits.shape == (4, 3)


@pytest.mark.parametrize("depth", [8, 20, 32, 110])
def test_stride_of_every_conv_of_every_block(depth):
    """Only the FIRST conv of the FIRST block of stages 2 and 3 has stride 2."""
    model = ResNet(depth)
    assert model.conv.stride == (1, 1)
    n = (depth - 2) // 6
    for i, stage in enumerate((model.stage1, model.stage2, model.stage3)):
        assert len(stage) == n
        for j, block in enumerate(stage):
            first = 2 if i > 0 and j == 0 else 1
            assert block.conv1.stride == (first, first), (i, j)
            assert block.conv2.stride == (1, 1), (i, j)
            assert block.shortcut.stride == first
            assert all(conv.padding == (1, 1) for conv in (block.conv1, block.conv2))
            assert all(conv.kernel_size == (3, 3) for conv in (block.conv1, block.conv2))
            assert all(conv.bias is None for conv in (block.conv1, block.conv2))


def test_option_a_shortcut_has_no_parameters_and_is_zero_padded_subsampling():
    model = ResNet(56)
    assert all(not list(m.parameters()) for m in model.modules() if isinstance(m, ShortcutA))
    x = torch.randn(2, 16, 9, 9, dtype=F64)
    y = ShortcutA(16, 32, 2)(x)
    expected = torch.zeros(2, 32, 5, 5, dtype=F64)
    expected[:, :16] = x[:, :, ::2, ::2]
    assert torch.equal(y, expected)
    assert torch.equal(ShortcutA(16, 16, 1)(x), x)  # identity where the shape stays


def test_plain_state_dict_loads_into_residual_and_only_the_addition_differs():
    plain, res = ResNet(20, residual=False), ResNet(20)
    assert [(k, v.shape) for k, v in plain.state_dict().items()] == [
        (k, v.shape) for k, v in res.state_dict().items()
    ]
    res.load_state_dict(plain.state_dict())  # strict
    x = torch.randn(2, 3, 16, 16)
    assert not torch.allclose(plain(x), res(x))
    for block in res.modules():
        if isinstance(block, BasicBlock):
            block.residual = False
    torch.testing.assert_close(plain(x), res(x))


def _hand_written_block(block, x):
    """The block of section 3 and Figure 2 with nn.functional ops on the block's weights."""

    def bn(z, layer):  # training mode: batch statistics, biased variance
        return F.batch_norm(z, None, None, layer.weight, layer.bias, True, 0.0, layer.eps)

    stride = block.conv1.stride[0]
    h = F.relu(bn(F.conv2d(x, block.conv1.weight, stride=stride, padding=1), block.bn1))
    f = bn(F.conv2d(h, block.conv2.weight, padding=1), block.bn2)
    if not block.residual:
        return F.relu(f)
    shortcut = x[:, :, ::stride, ::stride]
    pad = torch.zeros(x.shape[0], f.shape[1] - x.shape[1], *shortcut.shape[2:], dtype=x.dtype)
    return F.relu(f + torch.cat([shortcut, pad], dim=1))


def _hand_written(block):
    """A copy of the block (same parameter names and values) whose forward is the functional one."""
    copy = deepcopy(block)
    copy.forward = lambda x: _hand_written_block(copy, x)
    return copy


@pytest.mark.parametrize(
    "c_in, c_out, stride, residual",
    [(16, 16, 1, True), (16, 32, 2, True), (32, 64, 2, True), (16, 32, 2, False)],
)
def test_block_matches_hand_written_functional_ops(c_in, c_out, stride, residual):
    torch.manual_seed(0)
    block = BasicBlock(c_in, c_out, stride, residual).to(F64)
    with torch.no_grad():  # not BN's 1 and 0: the affine parts are compared too
        for bn in (block.bn1, block.bn2):
            bn.weight.uniform_(0.5, 1.5)
            bn.bias.normal_()
    x = torch.randn(3, c_in, 7, 7, dtype=F64)
    grad_out = torch.randn(3, c_out, 4 if stride == 2 else 7, 4 if stride == 2 else 7, dtype=F64)
    assert_same_forward_and_backward(block, _hand_written(block), x, grad_out)
    assert TOL["atol"] <= 1e-9


def test_initialisation_is_he_normal_with_bn_one_and_zero():
    torch.manual_seed(0)
    model = ResNet(110)
    weights = torch.cat(
        [m.weight.flatten() * (m.weight[0].numel() / 2) ** 0.5 for m in model.modules()
         if isinstance(m, nn.Conv2d)]
    )  # fmt: skip
    assert abs(weights.std().item() - 1) < 0.01  # N(0, 2 / fan_in), rescaled to N(0, 1)
    assert abs(weights.mean().item()) < 0.01
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            assert torch.all(m.weight == 1) and torch.all(m.bias == 0)


@pytest.mark.parametrize("depth", [0, 2, 7, 9, 19, 21, 100, -4])
def test_depth_that_is_not_6n_plus_2_says_which_are_valid(depth):
    message = (
        f"ResNet expects depth = 6n + 2 with n >= 1 (8, 14, 20, 32, 44, 56, 110, ...), got {depth}"
    )
    with pytest.raises(ValueError, match=re.escape(message)):
        ResNet(depth)


def test_argument_errors_name_the_caller():
    with pytest.raises(TypeError, match="ResNet expects depth to be an int, got float 20.0"):
        ResNet(20.0)
    with pytest.raises(TypeError, match="ResNet expects depth to be an int, got bool True"):
        ResNet(True)
    with pytest.raises(ValueError, match="ResNet expects num_classes >= 1, got 0"):
        ResNet(20, num_classes=0)
    with pytest.raises(ValueError, match="ResNet expects in_channels >= 1, got 0"):
        ResNet(20, in_channels=0)
    with pytest.raises(TypeError, match="ResNet expects residual to be a bool, got 1"):
        ResNet(20, residual=1)
    with pytest.raises(TypeError, match="unexpected keyword argument 'width'"):
        resnet.resnet20(width=4)


def test_shortcut_errors_say_what_came():
    message = (
        "ShortcutA expects out_channels >= in_channels (it pads with zero channels), got 16 < 32"
    )
    with pytest.raises(ValueError, match=re.escape(message)):
        resnet.ShortcutA(32, 16, 2)
    with pytest.raises(ValueError, match="ShortcutA expects stride >= 1, got 0"):
        resnet.ShortcutA(16, 32, 0)
    with pytest.raises(TypeError, match="ShortcutA expects in_channels to be an int, got float"):
        resnet.ShortcutA(16.0, 32, 2)


def test_input_errors_say_what_came():
    model = ResNet(8, in_channels=1)
    message = "ResNet expects x of shape (B, 1, H, W), got (2, 3, 8, 8)"
    with pytest.raises(ValueError, match=re.escape(message)):
        model(torch.randn(2, 3, 8, 8))
    message = "ResNet expects x of shape (B, 1, H, W), got (1, 8, 8)"
    with pytest.raises(ValueError, match=re.escape(message)):
        model(torch.randn(1, 8, 8))
    with pytest.raises(TypeError, match="ResNet expects x to be a floating-point tensor"):
        model(torch.zeros(2, 1, 8, 8, dtype=torch.long))


@pytest.mark.parametrize("c_in, c_out, stride", [(16, 16, 1), (16, 32, 2), (32, 64, 2)])
def test_block_matches_torchvision_basic_block(c_in, c_out, stride):
    """torchvision's ImageNet BasicBlock with our option-A shortcut as its downsample."""
    from torchvision.models.resnet import BasicBlock as TorchvisionBlock

    torch.manual_seed(1)
    ours = BasicBlock(c_in, c_out, stride).to(F64)
    with torch.no_grad():
        for bn in (ours.bn1, ours.bn2):
            bn.weight.uniform_(0.5, 1.5)
            bn.bias.normal_()
    downsample = ShortcutA(c_in, c_out, stride) if stride > 1 else None
    theirs = TorchvisionBlock(c_in, c_out, stride, downsample).to(F64)
    theirs.load_state_dict(ours.state_dict())  # strict: the same keys and shapes
    x = torch.randn(3, c_in, 9, 9, dtype=F64)
    side = -(-9 // stride)  # ceil(9 / stride)
    grad_out = torch.randn(3, c_out, side, side, dtype=F64)
    assert_same_forward_and_backward(ours, theirs, x, grad_out)
    assert_same_state(ours, theirs)  # the running statistics moved the same way
