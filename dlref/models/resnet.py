r"""Residual networks for small images, as in He et al. (2015), section 4.2 (the CIFAR design).

Explained on the page [Deep residual learning (2015)](../../see-also/resnet-2015.md).

A *plain* stack of layers learns a mapping $\mathcal{H}(x)$ directly. A *residual* block learns
$\mathcal{F}(x) = \mathcal{H}(x) - x$ instead and adds its input back through a shortcut:

$$
\begin{aligned}
\mathcal{F}(x) &= \operatorname{BN}(W_2 \ast \operatorname{ReLU}(\operatorname{BN}(W_1 \ast x))), \\
y &= \operatorname{ReLU}(\mathcal{F}(x) + S(x)),
\end{aligned}
$$

where $\ast$ is a $3 \times 3$ convolution and $S$ the shortcut. If the best the block can do is
to pass its input on, it only has to drive $\mathcal{F}$ to zero, which is easy; a plain block
has to learn the identity through two convolutions and two ReLUs, which is not.

The network for $32 \times 32$ images has $6n + 2$ weighted layers:

| output map | layers | width |
| --- | --- | --- |
| $32 \times 32$ | $3 \times 3$ conv stem, then $n$ blocks ($2n$ convs) | 16 |
| $16 \times 16$ | $n$ blocks ($2n$ convs) | 32 |
| $8 \times 8$ | $n$ blocks ($2n$ convs) | 64 |
| $1 \times 1$ | global average pool, linear layer | classes |

The first block of the second and third stages halves the map with stride 2 in its first
convolution; every other convolution has stride 1. Where a block changes the shape, the shortcut
is the paper's *option A*: subsample by 2 ($x_{:, :, ::2, ::2}$) and append zero channels, so the
shortcuts have no parameters at all. With ``residual=False`` the same layers form the *plain*
network of the same depth, the paper's baseline.

Weights are initialised as the paper does (He et al. 2015, "Delving deep into rectifiers"):
each convolution from $\mathcal{N}(0, 2 / (9 c_{\text{in}}))$, batch-norm scales 1 and shifts
0; the linear layer keeps PyTorch's default.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from dlref import checks
from dlref import init as dlref_init

__all__ = [
    "BasicBlock",
    "ResNet",
    "ShortcutA",
    "make_stage",
    "plain20",
    "plain32",
    "plain44",
    "plain56",
    "plain110",
    "resnet20",
    "resnet32",
    "resnet44",
    "resnet56",
    "resnet110",
]


def _check_arguments(depth: object, num_classes: object, in_channels: object, residual: object):
    """Return $n$ for ``depth`` $= 6n + 2$, or raise naming the valid depths or the bad value."""
    checks.integer("ResNet", "depth", depth)
    if depth < 8 or (depth - 2) % 6:
        raise ValueError(
            f"ResNet expects depth = 6n + 2 with n >= 1 (8, 14, 20, 32, 44, 56, 110, ...), "
            f"got {depth}"
        )
    checks.integer("ResNet", "num_classes", num_classes, 1)
    checks.integer("ResNet", "in_channels", in_channels, 1)
    if not isinstance(residual, bool):
        raise TypeError(f"ResNet expects residual to be a bool, got {residual!r}")
    return (depth - 2) // 6


def _check_input(x: object, in_channels: int) -> None:
    """Raise unless ``x`` is a floating-point batch of shape ``(B, in_channels, H, W)``."""
    checks.floating_tensor("ResNet", x)
    checks.shape("ResNet", "x", x, (None, in_channels, None, None), f"(B, {in_channels}, H, W)")


def _check_shortcut(in_channels: object, out_channels: object, stride: object) -> None:
    """Raise unless the sizes are positive ints and the shortcut only adds channels."""
    checks.integer("ShortcutA", "in_channels", in_channels, 1)
    checks.integer("ShortcutA", "out_channels", out_channels, 1)
    checks.integer("ShortcutA", "stride", stride, 1)
    if out_channels < in_channels:
        raise ValueError(
            f"ShortcutA expects out_channels >= in_channels (it pads with zero channels), "
            f"got {out_channels} < {in_channels}"
        )


# --8<-- [start:shortcut]
class ShortcutA(nn.Module):
    """The paper's option A: identity, or subsample by ``stride`` and pad channels with zeros."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1) -> None:
        super().__init__()
        _check_shortcut(in_channels, out_channels, stride)
        self.in_channels, self.out_channels, self.stride = in_channels, out_channels, stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x[:, :, :: self.stride, :: self.stride]  # -> (B, C_in, ceil(s / stride), ...)
        extra = self.out_channels - self.in_channels  # channels to add, all zeros
        return F.pad(x, (0, 0, 0, 0, 0, extra))  # (B, C_in, ...) -> (B, C_out, ...)


# --8<-- [end:shortcut]


# --8<-- [start:block]
class BasicBlock(nn.Module):
    """conv3x3-BN-ReLU-conv3x3-BN, plus the shortcut when ``residual``, then ReLU."""

    def __init__(
        self, in_channels: int, out_channels: int, stride: int = 1, residual: bool = True
    ) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.shortcut = ShortcutA(in_channels, out_channels, stride)  # no parameters
        self.residual = residual

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))  # (B, C_in, s, s) -> (B, C_out, s/stride, ...)
        out = self.bn2(self.conv2(out))  # F(x), same shape
        if self.residual:
            out = out + self.shortcut(x)  # F(x) + x: the residual connection
        return F.relu(out)


# --8<-- [end:block]


# --8<-- [start:stage]
def make_stage(
    in_channels: int, width: int, n: int, stride: int, residual: bool = True
) -> nn.Sequential:
    """``n`` basic blocks of ``width`` channels; only the first has ``stride``."""
    blocks = [BasicBlock(in_channels, width, stride, residual)]  # may halve the map
    blocks += [BasicBlock(width, width, 1, residual) for _ in range(n - 1)]  # stride 1
    return nn.Sequential(*blocks)


# --8<-- [end:stage]


class ResNet(nn.Module):
    r"""The CIFAR ResNet (or plain network) of He et al. (2015) with ``depth`` $= 6n + 2$ layers.

    Layers, which are also the ``state_dict`` keys: ``conv`` and ``bn`` (the stem, 16 channels),
    ``stage1``, ``stage2`` and ``stage3`` (each an ``nn.Sequential`` of $n$
    [`BasicBlock`][dlref.models.resnet.BasicBlock]s of width 16, 32 and 64), then ``fc``
    (``nn.Linear(64, num_classes)``) after global average pooling. The depth counts the
    convolutions and the linear layer: $1 + 3 \cdot 2n + 1 = 6n + 2$.

    Any input size works: each of stages 2 and 3 halves the map (rounding up), so $32 \times 32$
    gives maps of 32, 16 and 8, and $8 \times 8$ gives 8, 4 and 2. The plain and the residual
    network of one depth have the same parameters, so one's ``state_dict`` loads into the other.

    Args:
        depth: Number of weighted layers, $6n + 2$ with $n \ge 1$: 8, 14, 20, 32, 44, 56, 110, ...
        num_classes: Number of outputs (logits, for ``nn.CrossEntropyLoss``).
        in_channels: Channels of the input images (3 for CIFAR, 1 for grey digits).
        residual: If False, no block adds its shortcut: the plain network of the same depth.

    Raises:
        TypeError: If ``depth``, ``num_classes`` or ``in_channels`` is not an int, or
            ``residual`` is not a bool.
        ValueError: If ``depth`` is not $6n + 2$ with $n \ge 1$, or a size is not positive.

    Examples:
        >>> import torch
        >>> from dlref.models.resnet import resnet20
        >>> resnet20()(torch.zeros(2, 3, 32, 32)).shape
        torch.Size([2, 10])
    """

    # --8<-- [start:resnet]
    def __init__(
        self, depth: int, num_classes: int = 10, in_channels: int = 3, residual: bool = True
    ) -> None:
        super().__init__()
        n = _check_arguments(depth, num_classes, in_channels, residual)  # depth = 6n + 2
        self.depth, self.n, self.residual, self.in_channels = depth, n, residual, in_channels
        self.conv = nn.Conv2d(in_channels, 16, 3, padding=1, bias=False)  # the stem
        self.bn = nn.BatchNorm2d(16)
        self.stage1 = make_stage(16, 16, n, stride=1, residual=residual)  # maps 32x32
        self.stage2 = make_stage(16, 32, n, stride=2, residual=residual)  # 16x16
        self.stage3 = make_stage(32, 64, n, stride=2, residual=residual)  # 8x8
        self.fc = nn.Linear(64, num_classes)
        for module in self.modules():
            if isinstance(module, nn.Conv2d):  # He et al. (2015): N(0, 2 / fan_in)
                dlref_init.kaiming_normal_(module.weight, nonlinearity="relu")
            elif isinstance(module, nn.BatchNorm2d):  # scale 1, shift 0
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)

    # --8<-- [end:resnet]

    # --8<-- [start:forward]
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``(B, num_classes)`` of images ``(B, in_channels, H, W)``, any H and W."""
        _check_input(x, self.in_channels)
        x = F.relu(self.bn(self.conv(x)))  # (B, C, 32, 32) -> (B, 16, 32, 32)
        x = self.stage1(x)  # (B, 16, 32, 32)
        x = self.stage2(x)  # (B, 32, 16, 16)
        x = self.stage3(x)  # (B, 64, 8, 8)
        x = x.mean(dim=(2, 3))  # global average pool: (B, 64)
        return self.fc(x)  # (B, num_classes)

    # --8<-- [end:forward]


def _named(depth: int, residual: bool):
    """A named constructor for one depth, passing its keyword arguments on to ``ResNet``."""
    kind = "ResNet" if residual else "plain network"

    def make(**kwargs: Any) -> ResNet:
        return ResNet(depth, residual=residual, **kwargs)

    make.__name__ = f"{'resnet' if residual else 'plain'}{depth}"
    make.__qualname__ = make.__name__
    make.__doc__ = (
        f"The {depth}-layer {kind} of He et al. (2015), section 4.2: "
        f"``ResNet({depth}, residual={residual}, **kwargs)``."
    )
    return make


resnet20 = _named(20, True)
resnet32 = _named(32, True)
resnet44 = _named(44, True)
resnet56 = _named(56, True)
resnet110 = _named(110, True)
plain20 = _named(20, False)
plain32 = _named(32, False)
plain44 = _named(44, False)
plain56 = _named(56, False)
plain110 = _named(110, False)
