r"""A small convolutional network for square images: conv blocks, then one linear classifier.

Explained on the page [Convolutional networks](../../architectures/convolutional-networks.md).

Each block keeps the image size through its convolution (a $k \times k$ kernel with padding
$\lfloor k/2 \rfloor$, odd $k$) and halves it through a $2 \times 2$ max pool, so after $n$
blocks an $s \times s$ image is $\lfloor s / 2^n \rfloor$ on a side. With the defaults on the
$8 \times 8$ digits: $8 \to 4 \to 2$, and the head sees $32 \cdot 2 \cdot 2 = 128$ features.
The network is written with ``torch.nn`` layers; ``dlref.conv`` has the same layers from
scratch, for explaining and checking them.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from dlref import checks

__all__ = ["CNN"]


class CNN(nn.Sequential):
    r"""Convolution blocks (conv, ReLU, 2x2 max pool) followed by a linear classifier.

    Block $l$ maps $(B, C_{l-1}, s_{l-1}, s_{l-1})$ to $(B, C_l, s_l, s_l)$ with
    $s_l = \lfloor s_{l-1} / 2 \rfloor$:

    $$
    \begin{aligned}
    h_l &= \operatorname{ReLU}(W_l \ast a_{l-1} + b_l), \\
    a_l &= \operatorname{MaxPool}_{2 \times 2}(h_l),
    \end{aligned}
    $$

    where $\ast$ is a convolution padded to keep the size. The last feature map is flattened,
    passed through dropout and a ``Linear`` layer to the logits (no softmax: they feed
    ``nn.CrossEntropyLoss``).

    The layers are, in this order (their indices are the ``state_dict`` keys): per block
    ``nn.Conv2d(c_in, c, kernel_size, padding=kernel_size // 2)``, ``nn.ReLU()``,
    ``nn.MaxPool2d(2)``; then ``nn.Flatten()``, ``nn.Dropout(dropout)`` and
    ``nn.Linear(channels[-1] * (image_size // 2**len(channels))**2, num_classes)``.

    Args:
        in_channels: Channels of the input images (1 for grey, 3 for colour).
        num_classes: Number of outputs (classes).
        channels: Output channels of each block, e.g. ``(16, 32)``; one block per entry.
        image_size: Side of the square input images; at least $2^n$ for $n$ blocks, so that
            every pool has something to pool.
        kernel_size: Side of each square kernel, odd so that the padding keeps the size.
        dropout: Probability of zeroing a feature before the linear head, in $[0, 1)$.

    Raises:
        TypeError: If a size is not an integer, ``channels`` is not a sequence of integers or
            ``dropout`` is not a number.
        ValueError: If a size is not positive, ``channels`` is empty, ``kernel_size`` is even,
            ``image_size`` is smaller than $2^n$, or ``dropout`` is outside $[0, 1)$.

    Examples:
        >>> import torch
        >>> from dlref.models.cnn import CNN
        >>> model = CNN()
        >>> model(torch.zeros(32, 1, 8, 8)).shape
        torch.Size([32, 10])
    """

    def __init__(
        self,
        in_channels: int = 1,
        num_classes: int = 10,
        channels: Sequence[int] = (16, 32),
        image_size: int = 8,
        kernel_size: int = 3,
        dropout: float = 0.0,
    ) -> None:
        checks.integer("CNN", "in_channels", in_channels, 1)
        checks.integer("CNN", "num_classes", num_classes, 1)
        if isinstance(channels, int | str) or not isinstance(channels, Sequence) or not channels:
            raise TypeError(
                f"CNN expects channels as a non-empty sequence of widths such as (16, 32), "
                f"got {channels!r}"
            )
        for width in channels:
            checks.integer("CNN", "each of channels", width, 1)
        checks.integer("CNN", "kernel_size", kernel_size, 1)
        if kernel_size % 2 == 0:
            raise ValueError(
                f"CNN expects an odd kernel_size (padding kernel_size // 2 then keeps the "
                f"image size), got {kernel_size}"
            )
        checks.integer("CNN", "image_size", image_size, 1)
        if image_size < 2 ** len(channels):
            raise ValueError(
                f"CNN expects image_size >= {2 ** len(channels)} for {len(channels)} blocks "
                f"(each halves the size), got {image_size}"
            )
        checks.number("CNN", "dropout", dropout, 0, 1)

        layers: list[nn.Module] = []
        c_in = in_channels
        for c in channels:
            layers.append(nn.Conv2d(c_in, c, kernel_size, padding=kernel_size // 2))  # same size
            layers.append(nn.ReLU())
            layers.append(nn.MaxPool2d(2))  # (B, c, s, s) -> (B, c, s // 2, s // 2)
            c_in = c
        side = image_size // 2 ** len(channels)
        layers.append(nn.Flatten())  # (B, c, side, side) -> (B, c * side * side)
        layers.append(nn.Dropout(dropout))
        layers.append(nn.Linear(channels[-1] * side * side, num_classes))  # -> logits
        super().__init__(*layers)
        self.in_channels = in_channels
        self.num_classes = num_classes
        self.channels = tuple(channels)
        self.image_size = image_size
        self.kernel_size = kernel_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return the logits of a batch of images.

        Args:
            x: Images of shape ``(B, in_channels, image_size, image_size)``.

        Returns:
            Logits of shape ``(B, num_classes)``.

        Raises:
            ValueError: If ``x`` does not have that shape (any batch size).
        """
        wanted = (self.in_channels, self.image_size, self.image_size)
        if x.dim() != 4 or tuple(x.shape[1:]) != wanted:
            c, s = self.in_channels, self.image_size
            raise ValueError(f"CNN expects x of shape (B, {c}, {s}, {s}), got {tuple(x.shape)}")
        return super().forward(x)  # (B, C, s, s) -> (B, num_classes)

    def __getitem__(self, index: int | slice) -> nn.Module:
        """Return one layer, or a slice of layers as a plain ``nn.Sequential``.

        ``model[:3]`` is the first block (conv, ReLU, pool), handy for looking at its feature
        maps. (``nn.Sequential`` would rebuild a slice with this class's constructor, which
        takes sizes, not layers.)
        """
        if isinstance(index, slice):
            return nn.Sequential(*list(self)[index])
        return super().__getitem__(index)
