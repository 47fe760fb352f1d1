"""Small datasets that ship with the installed packages: digits and 2-D toy problems.

Explained on the page [A feedforward network in PyTorch](../projects/feedforward-network.md).

Nothing here downloads. The digits come from scikit-learn's bundled copy of the UCI handwritten
digits (8x8 grey images, 1797 samples, 10 classes); the toy sets are generated, so every page and
test runs offline and in seconds on a CPU.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import sklearn.datasets
import torch
from sklearn.model_selection import train_test_split
from torch.utils.data import TensorDataset

from dlref import checks

__all__ = [
    "DigitsSplit",
    "load_digits_split",
    "make_circles",
    "make_moons",
    "make_spirals",
    "make_xor",
]


@dataclass(frozen=True)
class DigitsSplit:
    """The digits dataset, split once into train, validation and test sets.

    Attributes:
        train: ``TensorDataset`` of ``(x, y)`` pairs to fit the weights on.
        val: ``TensorDataset`` to choose hyperparameters and stop early on.
        test: ``TensorDataset`` to report the final number on, touched once.
        num_classes: Number of classes (10, the digits 0-9).
        image_shape: Shape of one image as ``(C, H, W)``: ``(1, 8, 8)``.
    """

    train: TensorDataset
    val: TensorDataset
    test: TensorDataset
    num_classes: int
    image_shape: tuple[int, int, int]


def load_digits_split(
    *,
    val_size: float | int = 0.1,
    test_size: float | int = 0.2,
    seed: int = 0,
    flatten: bool = True,
    dtype: torch.dtype = torch.float32,
) -> DigitsSplit:
    """Load scikit-learn's digits as a fixed, stratified train/validation/test split.

    Pixel values (integers $0..16$) are scaled to $[0, 1]$ by $x / 16$. Each split keeps the class
    proportions of the whole set (stratified), the three splits are disjoint, and the same ``seed``
    always gives the same split. With the defaults the sizes are **1258 train, 180 validation and
    359 test** samples (1797 in all).

    Args:
        val_size: Validation set size: a fraction of all 1797 samples in $(0, 1)$ (rounded to the
            nearest integer) or a number of samples.
        test_size: Test set size, given the same way as ``val_size``.
        seed: Seed of the shuffle that assigns samples to splits.
        flatten: If True, images are vectors of shape ``(N, 64)`` (for an MLP); if False, they
            keep their layout as ``(N, 1, 8, 8)`` (for a CNN).
        dtype: Floating-point dtype of the images. Labels are always ``torch.long``.

    Returns:
        A ``DigitsSplit`` whose datasets yield ``(image, label)`` pairs.

    Raises:
        ValueError: If a size is not a fraction in $(0, 1)$ or a count, if a split would hold fewer
            samples than there are classes, or if nothing is left for training.
        TypeError: If ``dtype`` is not a floating-point dtype.
    """
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise TypeError(f"load_digits_split expects a floating-point dtype, got {dtype!r}")
    bunch = sklearn.datasets.load_digits()  # bundled with scikit-learn: no download
    images = torch.as_tensor(bunch.images, dtype=dtype) / 16.0  # (N, 8, 8) in [0, 1]
    labels = torch.as_tensor(bunch.target, dtype=torch.long)  # (N,)
    n, num_classes = len(labels), int(labels.max()) + 1

    n_val = _split_count("val_size", val_size, n, num_classes)
    n_test = _split_count("test_size", test_size, n, num_classes)
    n_train = n - n_val - n_test
    if n_train < num_classes:
        raise ValueError(
            f"load_digits_split: val_size={val_size!r} and test_size={test_size!r} take "
            f"{n_val} + {n_test} of {n} samples, leaving {n_train} for training; "
            f"at least {num_classes} are needed"
        )

    # Two stratified cuts: test off the whole set, then validation off the rest.
    index = np.arange(n)
    rest, test_idx = train_test_split(
        index, test_size=n_test, stratify=labels.numpy(), random_state=seed
    )
    train_idx, val_idx = train_test_split(
        rest, test_size=n_val, stratify=labels.numpy()[rest], random_state=seed
    )

    inputs = images.reshape(n, -1) if flatten else images.unsqueeze(1)  # (N, 64) or (N, 1, 8, 8)

    def subset(idx) -> TensorDataset:
        idx = torch.as_tensor(idx)
        return TensorDataset(inputs[idx], labels[idx])

    return DigitsSplit(
        train=subset(train_idx),
        val=subset(val_idx),
        test=subset(test_idx),
        num_classes=num_classes,
        image_shape=(1, 8, 8),
    )


def _split_count(name: str, size: float | int, n: int, num_classes: int) -> int:
    """Turn a split size given as a fraction or a count into a count, with clear errors."""
    checks.number("load_digits_split", name, size)
    if isinstance(size, float):
        if not 0.0 < size < 1.0:
            raise ValueError(
                f"load_digits_split: {name} as a fraction must lie in (0, 1), got {size!r}"
            )
        count = round(size * n)
    else:
        count = size
    if not num_classes <= count < n:
        raise ValueError(
            f"load_digits_split: {name}={size!r} gives {count} samples; a stratified split needs "
            f"between {num_classes} (one per class) and {n - 1} of the {n} samples"
        )
    return count


def _check_toy_args(caller: str, n: int, noise: float, seed: int, min_n: int) -> None:
    """Validate the common arguments of the 2-D toy generators."""
    checks.integer(caller, "n (samples)", n, min_n)
    checks.number(caller, "noise (a standard deviation)", noise, 0)
    checks.integer(caller, "seed", seed, 0, 2**32)


def make_moons(
    n: int = 200, noise: float = 0.1, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Two interleaving half circles (scikit-learn's ``make_moons``), as tensors.

    Not linearly separable: a linear classifier tops out around 85%, one hidden layer solves it.

    Args:
        n: Number of points, split as evenly as possible between the 2 classes.
        noise: Standard deviation of the Gaussian noise added to each coordinate.
        seed: Seed of the generator; the same seed gives the same points.

    Returns:
        ``(X, y)``: points of shape ``(n, 2)`` (float32) and labels in ``{0, 1}`` of shape
        ``(n,)`` (long).

    Raises:
        ValueError: If ``n < 2``, ``noise < 0`` or ``seed`` is not an integer in ``[0, 2**32)``.
    """
    _check_toy_args("make_moons", n, noise, seed, min_n=2)
    X, y = sklearn.datasets.make_moons(n_samples=n, noise=noise, random_state=seed)
    return torch.as_tensor(X, dtype=torch.float32), torch.as_tensor(y, dtype=torch.long)


def make_circles(
    n: int = 200, noise: float = 0.05, seed: int = 0, factor: float = 0.5
) -> tuple[torch.Tensor, torch.Tensor]:
    """A small circle inside a large one (scikit-learn's ``make_circles``), as tensors.

    The classes are separated by radius, so a model needs a nonlinearity such as
    $x_1^2 + x_2^2$ to tell them apart. Arguments, result and errors as for `make_moons`, plus
    ``factor``, the radius of the inner circle (class 1) relative to the outer one, in $(0, 1)$.
    """
    _check_toy_args("make_circles", n, noise, seed, min_n=2)
    checks.number("make_circles", "factor", factor, 0, 1, closed_low=False)
    X, y = sklearn.datasets.make_circles(n_samples=n, noise=noise, random_state=seed, factor=factor)
    return torch.as_tensor(X, dtype=torch.float32), torch.as_tensor(y, dtype=torch.long)


def make_xor(n: int = 200, noise: float = 0.1, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """The XOR problem: points in $[-1, 1]^2$ labelled by whether their coordinates' signs differ.

    $y = [x_1 x_2 < 0]$, so class 1 fills the second and fourth quadrants. No single line
    separates the classes, the classic example of what a perceptron cannot learn. The noise is
    added after labelling, so points near the axes may land in the other class's quadrant.

    Arguments, result and errors as for `make_moons`, except that ``n`` may be 1 and the classes
    are only roughly balanced.
    """
    _check_toy_args("make_xor", n, noise, seed, min_n=1)
    generator = torch.Generator().manual_seed(seed)
    X = torch.rand(n, 2, generator=generator) * 2 - 1  # (n, 2) uniform in [-1, 1]^2
    y = (X[:, 0] * X[:, 1] < 0).long()  # (n,) 1 where the signs differ
    X = X + noise * torch.randn(n, 2, generator=generator)  # (n, 2)
    return X, y


def make_spirals(
    n: int = 300, noise: float = 0.1, seed: int = 0, num_classes: int = 3, turns: float = 1.0
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Interleaved spiral arms, one per class, growing out from the origin.

    Arm $k$ of $K$ holds the points $r(\cos\psi, \sin\psi)$ with radius
    $r \in (0, 1]$ and angle $\psi = 2\pi(\text{turns} \cdot r + k / K)$, plus Gaussian
    noise. A hard problem for its size: a model needs several bends in its decision boundary.

    Args:
        n: Number of points, split as evenly as possible between the classes.
        noise: Standard deviation of the Gaussian noise added to each coordinate.
        seed: Seed of the generator; the same seed gives the same points.
        num_classes: Number of arms (classes), at least 2.
        turns: How many full turns each arm makes from the centre to the rim.

    Returns:
        ``(X, y)``: shuffled points of shape ``(n, 2)`` (float32) and labels in
        ``{0, ..., num_classes - 1}`` of shape ``(n,)`` (long).

    Raises:
        ValueError: If ``num_classes < 2``, ``n < num_classes``, ``noise < 0``, ``turns <= 0``
            or ``seed`` is not an integer in ``[0, 2**32)``.
    """
    checks.integer("make_spirals", "num_classes", num_classes, 2)
    _check_toy_args("make_spirals", n, noise, seed, min_n=num_classes)
    checks.number("make_spirals", "turns", turns, 0, closed_low=False)
    generator = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % num_classes  # (n,) balanced labels
    # Position of each point along its arm: the i-th point of a class of size m gets (i + 1) / m.
    rank = torch.arange(n) // num_classes  # (n,) index of the point within its class
    class_size = torch.bincount(y, minlength=num_classes)[y]  # (n,)
    radius = (rank + 1) / class_size  # (n,) in (0, 1]
    angle = 2 * math.pi * (turns * radius + y / num_classes)  # (n,)
    X = radius[:, None] * torch.stack([angle.cos(), angle.sin()], dim=1)  # (n, 2)
    X = X + noise * torch.randn(n, 2, generator=generator)  # (n, 2)
    order = torch.randperm(n, generator=generator)  # shuffle so classes are mixed
    return X[order].float(), y[order]
