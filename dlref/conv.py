r"""Convolution and pooling from scratch: a sliding dot product, then im2col and one matmul.

Explained on the page [Convolutional networks](../architectures/convolutional-networks.md).

A 2-D convolution (strictly, a cross-correlation: the kernel is not flipped, as in every deep
learning library) slides a kernel $W$ of shape $(C_\text{out}, C_\text{in}, k_h, k_w)$ over an
input $x$ of shape $(B, C_\text{in}, H, W)$, zero-padded by $p$, and takes a dot product at each
position. With stride $s$ and dilation $d$ (the spacing of the kernel's taps):

$$
\begin{aligned}
y_{b,o,i,j} = b_o + \sum_{c, u, v} W_{o,c,u,v}\,
x_{b,\,c,\,s i + d u,\,s j + d v},
\end{aligned}
$$

with $c$ over the input channels, $u < k_h$, $v < k_w$, and $x$ indexed in the padded input.
Along each dimension the output has

$$
\begin{aligned}
n_\text{out} = \left\lfloor \frac{n + 2p - d(k - 1) - 1}{s} \right\rfloor + 1
\end{aligned}
$$

positions: $d(k - 1) + 1$ is the span of a dilated kernel, and it fits
$\lfloor (n + 2p - \text{span}) / s \rfloor$ strides past the first position.

**im2col.** Each output position reads one patch of $C_\text{in} k_h k_w$ values. Copying every
patch into a column gives a matrix $X_\text{col}$ of shape $(B, C_\text{in} k_h k_w, L)$, with
$L = H_\text{out} W_\text{out}$ positions (``torch.nn.functional.unfold`` does the same), and
the whole convolution becomes one matrix product with the kernel reshaped to
$(C_\text{out}, C_\text{in} k_h k_w)$:

$$
\begin{aligned}
Y &= W_\text{mat}\, X_\text{col} + b,
\end{aligned}
$$

reshaped to $(B, C_\text{out}, H_\text{out}, W_\text{out})$. It trades memory ($k_h k_w$ copies
of each input value) for a single large, fast matrix multiply. With $g$ **groups** the input
channels and the output channels are split into $g$ groups, and group $i$'s outputs see only
group $i$'s inputs: the weight is $(C_\text{out}, C_\text{in}/g, k_h, k_w)$ and the product is
batched over the groups. $g = C_\text{in}$ is a depthwise convolution.

**Pooling** slides a window the same way and takes the maximum (max pooling, padded with
$-\infty$) or the mean (average pooling, padded with zeros that count in the mean, as PyTorch's
default ``count_include_pad=True``) of each channel separately; the stride defaults to the
kernel size, so windows tile the input.

**Receptive field.** A unit after layers $1..L$ sees an $r_L \times r_L$ window of the input.
Each layer widens it by its span minus one, times the *jump* $j$: the distance in input pixels
between neighbouring units of the layer before:

$$
\begin{aligned}
r_0 &= 1, \quad j_0 = 1, \\
r_l &= r_{l-1} + d_l (k_l - 1)\, j_{l-1}, \\
j_l &= j_{l-1}\, s_l.
\end{aligned}
$$

Everything here is checked against ``torch.nn.functional.conv2d``, ``max_pool2d``,
``avg_pool2d``, ``unfold`` and ``nn.Conv2d`` in the tests, values and gradients in float64.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch
import torch.nn.functional as F
from torch import nn

from dlref import checks
from dlref.init import fan_in_and_fan_out, kaiming_uniform_

__all__ = [
    "Conv2d",
    "avg_pool2d",
    "conv2d",
    "conv2d_loop",
    "im2col",
    "max_pool2d",
    "output_size",
    "receptive_field",
]

Pair = tuple[int, int]
IntOrPair = int | tuple[int, int]


# --8<-- [start:output-size]
def output_size(
    size: IntOrPair,
    kernel_size: IntOrPair,
    stride: IntOrPair = 1,
    padding: IntOrPair = 0,
    dilation: IntOrPair = 1,
) -> IntOrPair:
    """The output length of a convolution or pooling along one dimension, or a pair for two."""
    n, k, s, p, d = _output_size_args(size, kernel_size, stride, padding, dilation)
    out = tuple((n[i] + 2 * p[i] - d[i] * (k[i] - 1) - 1) // s[i] + 1 for i in range(2))
    return out[0] if isinstance(size, int) else out  # floor((n + 2p - d(k-1) - 1) / s) + 1


# --8<-- [end:output-size]


# --8<-- [start:conv2d-loop]
def conv2d_loop(
    input: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
    stride: IntOrPair = 1,
    padding: IntOrPair = 0,
    dilation: IntOrPair = 1,
) -> torch.Tensor:
    """Convolution as a sliding dot product, one output position at a time (slow: to explain)."""
    (s_h, s_w), (p_h, p_w), (d_h, d_w), (h_out, w_out) = _conv_args(
        "conv2d_loop", input, weight, bias, stride, padding, dilation, 1
    )
    _, _, k_h, k_w = weight.shape  # (C_out, C_in, k_h, k_w)
    x = F.pad(input, (p_w, p_w, p_h, p_h))  # zeros around: (B, C_in, H + 2p, W + 2p)
    rows = []
    for i in range(h_out):
        row = []
        for j in range(w_out):
            taps = x[:, :, i * s_h :: d_h, j * s_w :: d_w]  # every d-th pixel from (s i, s j)
            patch = taps[:, :, :k_h, :k_w]  # the first k of them: (B, C_in, k_h, k_w)
            row.append((patch[:, None] * weight).sum(dim=(2, 3, 4)))  # sum_{c,u,v}: (B, C_out)
        rows.append(torch.stack(row, dim=-1))  # (B, C_out, W_out)
    y = torch.stack(rows, dim=-2)  # (B, C_out, H_out, W_out)
    return y if bias is None else y + bias[:, None, None]


# --8<-- [end:conv2d-loop]


# --8<-- [start:im2col]
def im2col(
    input: torch.Tensor,
    kernel_size: IntOrPair,
    stride: IntOrPair = 1,
    padding: IntOrPair = 0,
    dilation: IntOrPair = 1,
) -> torch.Tensor:
    """Every patch as a column, (B, C k_h k_w, L), like ``torch.nn.functional.unfold``."""
    (k_h, k_w), (s_h, s_w), (p_h, p_w), (d_h, d_w), (h_out, w_out) = _unfold_args(
        "im2col", input, kernel_size, stride, padding, dilation
    )
    x = F.pad(input, (p_w, p_w, p_h, p_h))  # (B, C, H + 2p, W + 2p)
    i, j = torch.arange(h_out, device=x.device), torch.arange(w_out, device=x.device)
    u, v = torch.arange(k_h, device=x.device), torch.arange(k_w, device=x.device)
    rows = s_h * i[None, :] + d_h * u[:, None]  # s i + d u: (k_h, H_out)
    cols = s_w * j[None, :] + d_w * v[:, None]  # s j + d v: (k_w, W_out)
    patches = x[:, :, rows[:, None, :, None], cols[None, :, None, :]]  # (B, C, k_h, k_w, H_o, W_o)
    return patches.reshape(x.shape[0], -1, h_out * w_out)  # (B, C k_h k_w, L)


# --8<-- [end:im2col]


# --8<-- [start:conv2d]
def conv2d(
    input: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
    stride: IntOrPair = 1,
    padding: IntOrPair = 0,
    dilation: IntOrPair = 1,
    groups: int = 1,
) -> torch.Tensor:
    """Convolution by im2col and one (batched over groups) matrix multiply."""
    stride, padding, dilation, (h_out, w_out) = _conv_args(
        "conv2d", input, weight, bias, stride, padding, dilation, groups
    )
    c_out, c_group, k_h, k_w = weight.shape  # (C_out, C_in / g, k_h, k_w)
    cols = im2col(input, (k_h, k_w), stride, padding, dilation)  # (B, C_in k_h k_w, L)
    cols = cols.unflatten(1, (groups, c_group * k_h * k_w))  # (B, g, C_in/g k_h k_w, L)
    w = weight.reshape(groups, c_out // groups, c_group * k_h * k_w)  # (g, C_out/g, C_in/g k_h k_w)
    y = w @ cols  # one matmul, batched over B and g: (B, g, C_out/g, L)
    y = y.reshape(input.shape[0], c_out, h_out, w_out)  # (B, C_out, H_out, W_out)
    return y if bias is None else y + bias[:, None, None]  # + b_o at every position


# --8<-- [end:conv2d]


# --8<-- [start:pooling]
def max_pool2d(
    input: torch.Tensor,
    kernel_size: IntOrPair,
    stride: IntOrPair | None = None,
    padding: IntOrPair = 0,
) -> torch.Tensor:
    """The maximum of each window, channel by channel (padding never wins: it is -inf)."""
    return _pool("max_pool2d", input, kernel_size, stride, padding, -math.inf).max(dim=2).values


def avg_pool2d(
    input: torch.Tensor,
    kernel_size: IntOrPair,
    stride: IntOrPair | None = None,
    padding: IntOrPair = 0,
) -> torch.Tensor:
    """The mean of each window, channel by channel (zero padding counts in the mean)."""
    return _pool("avg_pool2d", input, kernel_size, stride, padding, 0.0).mean(dim=2)


def _pool(caller, input, kernel_size, stride, padding, fill) -> torch.Tensor:
    """Each channel's windows, (B, C, k_h k_w, H_out, W_out), the padding filled with ``fill``."""
    (k_h, k_w), stride, (p_h, p_w), (h_out, w_out) = _pool_args(
        caller, input, kernel_size, stride, padding
    )
    b, c, h, w = input.shape
    x = F.pad(input, (p_w, p_w, p_h, p_h), value=fill)  # (B, C, H + 2p, W + 2p)
    cols = im2col(
        x.reshape(b * c, 1, h + 2 * p_h, w + 2 * p_w), (k_h, k_w), stride
    )  # channels apart
    return cols.reshape(b, c, k_h * k_w, h_out, w_out)  # (B, C, k_h k_w, H_out, W_out)


# --8<-- [end:pooling]


# --8<-- [start:receptive-field]
def receptive_field(layers: Iterable[nn.Module]) -> Pair:
    """The (height, width) of the input window that one unit after ``layers`` sees."""
    size, jump = [1, 1], [1, 1]  # r_0 = 1, j_0 = 1
    for layer in _spatial_layers("receptive_field", layers):
        k, s, d = (
            _as_pair(getattr(layer, name, 1)) for name in ("kernel_size", "stride", "dilation")
        )
        for i in range(2):
            size[i] += d[i] * (k[i] - 1) * jump[i]  # r_l = r_{l-1} + d (k - 1) j_{l-1}
            jump[i] *= s[i]  # j_l = j_{l-1} s
    return size[0], size[1]


# --8<-- [end:receptive-field]


class Conv2d(nn.Module):
    r"""A 2-D convolution layer with the arguments, state and initialisation of ``nn.Conv2d``.

    It holds a weight of shape $(C_\text{out}, C_\text{in}/g, k_h, k_w)$ and a bias of shape
    $(C_\text{out},)$, and computes [`conv2d`][dlref.conv.conv2d]. Both start as PyTorch's do:
    the weight from ``kaiming_uniform_`` with $a = \sqrt 5$, which makes it
    $\mathcal{U}(-1/\sqrt{\mathrm{fan\_in}}, 1/\sqrt{\mathrm{fan\_in}})$ with
    $\mathrm{fan\_in} = (C_\text{in}/g)\, k_h k_w$, and the bias from the same range. Drawn in
    the same order, the same seed gives the same weights as ``nn.Conv2d``, and
    ``load_state_dict`` works in both directions.

    It has $C_\text{out} (C_\text{in}/g)\, k_h k_w + C_\text{out}$ parameters whatever the size of
    the image: the same kernel is used at every position (parameter sharing).

    Args:
        in_channels: Channels of the input, $C_\text{in}$.
        out_channels: Channels of the output (number of kernels), $C_\text{out}$.
        kernel_size: Side of a square kernel, or ``(k_h, k_w)``.
        stride: Step between positions, an int or a pair.
        padding: Zeros added on each side, an int or a pair.
        dilation: Spacing between the kernel's taps, an int or a pair.
        groups: Number of groups $g$; it divides both channel counts.
        bias: Whether to learn a bias per output channel.
        device: Where to create the parameters.
        dtype: The floating-point type of the parameters.

    Raises:
        TypeError: If a size is not an int (or a pair of ints).
        ValueError: If a size is out of range or ``groups`` does not divide both channel counts.

    Examples:
        >>> import torch
        >>> from dlref.conv import Conv2d
        >>> Conv2d(1, 16, 3, padding=1)(torch.zeros(4, 1, 8, 8)).shape
        torch.Size([4, 16, 8, 8])
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: IntOrPair,
        stride: IntOrPair = 1,
        padding: IntOrPair = 0,
        dilation: IntOrPair = 1,
        groups: int = 1,
        bias: bool = True,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        checks.integer("Conv2d", "in_channels", in_channels, 1)
        checks.integer("Conv2d", "out_channels", out_channels, 1)
        _check_groups("Conv2d", groups, in_channels, out_channels)
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = _pair("Conv2d", "kernel_size", kernel_size, 1)
        self.stride = _pair("Conv2d", "stride", stride, 1)
        self.padding = _pair("Conv2d", "padding", padding, 0)
        self.dilation = _pair("Conv2d", "dilation", dilation, 1)
        self.groups = groups
        factory = {"device": device, "dtype": dtype}
        shape = (out_channels, in_channels // groups, *self.kernel_size)
        self.weight = nn.Parameter(torch.empty(shape, **factory))  # (C_out, C_in / g, k_h, k_w)
        if bias:
            self.bias = nn.Parameter(torch.empty(out_channels, **factory))  # (C_out,)
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Draw the weight, then the bias, from U(-b, b), b = 1 / sqrt(fan_in), as PyTorch does."""
        kaiming_uniform_(self.weight, a=math.sqrt(5))  # bound sqrt(6 / (1 + 5) / fan_in)
        if self.bias is not None:
            fan_in, _ = fan_in_and_fan_out(self.weight)
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0.0
            with torch.no_grad():
                self.bias.uniform_(-bound, bound)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Convolve a batch ``(B, C_in, H, W)`` into ``(B, C_out, H_out, W_out)``."""
        return conv2d(
            x, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups
        )

    def extra_repr(self) -> str:
        """The arguments, as ``nn.Conv2d`` prints them."""
        text = (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
            f"stride={self.stride}"
        )
        if self.padding != (0, 0):
            text += f", padding={self.padding}"
        if self.dilation != (1, 1):
            text += f", dilation={self.dilation}"
        if self.groups != 1:
            text += f", groups={self.groups}"
        if self.bias is None:
            text += ", bias=False"
        return text


# Argument checks: each public function checks its arguments here, in one line, and gets back
# the sizes as pairs. Messages read ``<caller> expects <wanted>, got <got>``.


def _as_pair(value: IntOrPair) -> Pair:
    """``3`` as ``(3, 3)``; a pair as a tuple."""
    return (value, value) if isinstance(value, int) else (value[0], value[1])


def _pair(caller: str, name: str, value: object, low: int) -> Pair:
    """Check that ``value`` is an int or a pair of ints ``>= low``; return it as a pair."""
    if checks.is_integer(value):
        checks.integer(caller, name, value, low)
        return (int(value), int(value))
    if not (isinstance(value, tuple | list) and len(value) == 2):
        raise TypeError(
            f"{caller} expects {name} to be an int or a pair of ints, got "
            f"{type(value).__name__} {value!r}"
        )
    for entry in value:
        checks.integer(caller, f"each of {name}", entry, low)
    return (int(value[0]), int(value[1]))


def _check_groups(caller: str, groups: object, in_channels: int, out_channels: int) -> None:
    """Check that ``groups`` is a positive int dividing both channel counts."""
    checks.integer(caller, "groups", groups, 1)
    if in_channels % groups or out_channels % groups:
        raise ValueError(
            f"{caller} expects groups to divide both in_channels ({in_channels}) and "
            f"out_channels ({out_channels}), got groups={groups}"
        )


def _check_batch_of_images(caller: str, input: object, wanted: str = "(B, C, H, W)") -> None:
    """Check that ``input`` is a 4-D floating-point tensor."""
    checks.floating_tensor(caller, input, "input")
    if input.dim() != 4:
        hint = (
            "; add the missing dimension: input.unsqueeze(0) for one image (C, H, W), "
            "input.unsqueeze(1) for a batch of grey images (B, H, W)"
            if input.dim() == 3
            else ""
        )
        raise ValueError(
            f"{caller} expects input of shape {wanted}, got {tuple(input.shape)}{hint}"
        )


def _fitting_output(caller: str, input: torch.Tensor, k: Pair, s: Pair, p: Pair, d: Pair) -> Pair:
    """The output size, after checking that the (dilated) kernel fits in the padded input."""
    padded = tuple(input.shape[2 + i] + 2 * p[i] for i in range(2))
    span = tuple(d[i] * (k[i] - 1) + 1 for i in range(2))
    if span[0] > padded[0] or span[1] > padded[1]:
        raise ValueError(
            f"{caller} expects a kernel no larger than the padded input, got a kernel spanning "
            f"{span[0]}x{span[1]} (dilation included) over an input of {padded[0]}x{padded[1]} "
            f"(input {tuple(input.shape)} with padding {p})"
        )
    return tuple((padded[i] - span[i]) // s[i] + 1 for i in range(2))


def _output_size_args(size, kernel_size, stride, padding, dilation) -> tuple[Pair, ...]:
    """Check ``output_size``'s arguments; return them as pairs."""
    n = _pair("output_size", "size", size, 1)
    k = _pair("output_size", "kernel_size", kernel_size, 1)
    s = _pair("output_size", "stride", stride, 1)
    p = _pair("output_size", "padding", padding, 0)
    d = _pair("output_size", "dilation", dilation, 1)
    for i in range(2):
        if d[i] * (k[i] - 1) + 1 > n[i] + 2 * p[i]:
            raise ValueError(
                f"output_size expects a kernel no larger than the padded input, got a kernel "
                f"spanning {d[i] * (k[i] - 1) + 1} (dilation included) over "
                f"{n[i] + 2 * p[i]} (size {n[i]} with padding {p[i]})"
            )
    return n, k, s, p, d


def _unfold_args(caller, input, kernel_size, stride, padding, dilation) -> tuple[Pair, ...]:
    """Check ``im2col``'s arguments; return kernel, stride, padding, dilation, output size."""
    _check_batch_of_images(caller, input)
    k = _pair(caller, "kernel_size", kernel_size, 1)
    s = _pair(caller, "stride", stride, 1)
    p = _pair(caller, "padding", padding, 0)
    d = _pair(caller, "dilation", dilation, 1)
    return k, s, p, d, _fitting_output(caller, input, k, s, p, d)


def _conv_args(caller, input, weight, bias, stride, padding, dilation, groups) -> tuple:
    """Check a convolution's arguments; return stride, padding, dilation, output size."""
    _check_batch_of_images(caller, input, "(B, C_in, H, W)")
    checks.floating_tensor(caller, weight, "weight")
    if weight.dim() != 4:
        raise ValueError(
            f"{caller} expects weight of shape (C_out, C_in / groups, k_h, k_w), "
            f"got {tuple(weight.shape)}"
        )
    c_in, c_out = input.shape[1], weight.shape[0]
    _check_groups(caller, groups, c_in, c_out)
    if weight.shape[1] * groups != c_in:
        raise ValueError(
            f"{caller} expects input with {weight.shape[1] * groups} channels to match weight "
            f"{tuple(weight.shape)} and groups={groups}, got input {tuple(input.shape)}"
        )
    if bias is not None:
        checks.floating_tensor(caller, bias, "bias")
        if tuple(bias.shape) != (c_out,):
            raise ValueError(
                f"{caller} expects bias of shape ({c_out},), one per output channel, "
                f"got {tuple(bias.shape)}"
            )
    k = (weight.shape[2], weight.shape[3])
    s = _pair(caller, "stride", stride, 1)
    p = _pair(caller, "padding", padding, 0)
    d = _pair(caller, "dilation", dilation, 1)
    return s, p, d, _fitting_output(caller, input, k, s, p, d)


def _pool_args(caller, input, kernel_size, stride, padding) -> tuple[Pair, ...]:
    """Check a pooling's arguments; return kernel, stride, padding, output size."""
    _check_batch_of_images(caller, input)
    k = _pair(caller, "kernel_size", kernel_size, 1)
    s = k if stride is None else _pair(caller, "stride", stride, 1)
    p = _pair(caller, "padding", padding, 0)
    if p[0] > k[0] // 2 or p[1] > k[1] // 2:
        raise ValueError(
            f"{caller} expects padding at most half the kernel size {k}, "
            f"i.e. <= {(k[0] // 2, k[1] // 2)}, got {p}"
        )
    return k, s, p, _fitting_output(caller, input, k, s, p, (1, 1))


def _spatial_layers(caller: str, layers: object) -> list[nn.Module]:
    """The layers with a kernel; elementwise ones are skipped, flattening ones refused."""
    if isinstance(layers, nn.Module) and not isinstance(layers, nn.Sequential):
        layers = [layers]
    if not isinstance(layers, Iterable):
        raise TypeError(
            f"{caller} expects a sequence of layers such as model[:6], got {type(layers).__name__}"
        )
    kept = []
    for layer in layers:
        if not isinstance(layer, nn.Module):
            raise TypeError(f"{caller} expects nn.Module layers, got {type(layer).__name__}")
        if isinstance(layer, nn.Flatten | nn.Linear):
            raise ValueError(
                f"{caller} expects convolution, pooling or elementwise layers (the part before "
                f"Flatten, such as model[:6]), got {type(layer).__name__}"
            )
        if hasattr(layer, "kernel_size"):
            kept.append(layer)
    return kept
