r"""Data augmentation: more training data from the data you have, on ``torchvision.transforms.v2``.

Explained on the page [Data augmentation](../training/data-augmentation.md).

**Label-preserving transforms.** A transform $t$ is safe for training when the label of $t(x)$
is the label of $x$: a digit shifted by a pixel is the same digit, a photo of a dog flipped left
to right is still a dog. Training on $(t(x), y)$ with $t$ drawn at random from a family $T$
then minimises the risk over the orbit of each example,

$$
\begin{aligned}
\hat{R}(\theta) &= \frac{1}{N} \sum_{n=1}^{N}
\mathbb{E}_{t \sim T}\, \ell_n(t), \\
\ell_n(t) &= \ell\bigl(f_\theta(t(x_n)), y_n\bigr),
\end{aligned}
$$

which builds the invariance to $T$ into the model without a line of architecture.
``digits_pipeline`` and ``photo_pipeline`` return such families as ``v2.Compose`` objects, and
``AugmentedDataset`` applies one to every sample as it is read, drawing from a generator seeded
by ``(seed, epoch, index)`` so that a run repeats exactly.

**MixUp** (Zhang et al., 2018) trains on convex combinations of pairs of examples and of their
one-hot labels $e_y$. For a batch, draw one $\lambda \sim \operatorname{Beta}(\alpha, \alpha)$
and pair each sample $i$ with a partner $\pi(i)$:

$$
\begin{aligned}
\tilde{x}_i &= \lambda x_i + (1 - \lambda)\, x_{\pi(i)}, \\
\tilde{y}_i &= \lambda e_{y_i} + (1 - \lambda)\, e_{y_{\pi(i)}}.
\end{aligned}
$$

**CutMix** (Yun et al., 2019) pastes a box of the partner instead of blending everything. The
box has half-sides $\lfloor \tfrac{1}{2}\sqrt{1 - \lambda}\,W \rfloor$ and
$\lfloor \tfrac{1}{2}\sqrt{1 - \lambda}\,H \rfloor$ around a centre drawn uniformly over the
image, so its area is about $(1 - \lambda) H W$ before it is clipped at the borders. The labels
are mixed with the fraction of the image actually kept, for a box from column $u_1$, row $v_1$ to
column $u_2$, row $v_2$,

$$
\begin{aligned}
\lambda' = 1 - \frac{(u_2 - u_1)(v_2 - v_1)}{H W}.
\end{aligned}
$$

Both pair sample $i$ with sample $i - 1$ (the batch rolled by one, $\pi(i) = i - 1 \bmod B$),
as ``torchvision.transforms.v2.MixUp`` and ``CutMix`` do, and draw from PyTorch's global
generator in the same order, so under the same ``torch.manual_seed`` their outputs are equal
(tested). The labels always sum to 1.

**Test-time augmentation** averages a model's predicted probabilities over deterministic
views $t_1, \dots, t_V$ of each test image (identity, small shifts, a flip where it is
label-preserving):

$$
\begin{aligned}
\bar{p}(x) = \frac{1}{V} \sum_{v=1}^{V} \operatorname{softmax}\bigl(f_\theta(t_v(x))\bigr).
\end{aligned}
$$
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import Dataset
from torchvision.transforms import v2

from dlref import checks

__all__ = [
    "AugmentedDataset",
    "CutMix",
    "MixUp",
    "cutmix",
    "cutmix_box",
    "digits_pipeline",
    "mixup",
    "photo_pipeline",
    "shift",
    "shifted_views",
    "tta_predict",
]


# --------------------------------------------------------------------------------------------
# Pipelines of label-preserving transforms
# --------------------------------------------------------------------------------------------


# --8<-- [start:pipelines]
def digits_pipeline(
    degrees: float = 10.0, translate: float = 0.125, scale: tuple[float, float] = (0.9, 1.1)
) -> v2.Compose:
    """Small rotations, shifts and zooms for grey digits: no flips (a mirrored 2 is no digit)."""
    _check_pipeline_args("digits_pipeline", degrees, translate, scale)
    return v2.Compose(
        [v2.RandomAffine(degrees=degrees, translate=(translate, translate), scale=scale)]
    )


def photo_pipeline(size: int = 224) -> v2.Compose:
    """The usual ImageNet-style training transforms for a photo, (3, H, W) uint8 to float."""
    checks.integer("photo_pipeline", "size", size, 1)
    return v2.Compose(
        [
            v2.RandomResizedCrop(size, scale=(0.25, 1.0), antialias=True),  # crop, then resize
            v2.RandomHorizontalFlip(p=0.5),  # a mirrored photo shows the same thing
            v2.ColorJitter(brightness=0.4, contrast=0.4, saturation=0.4, hue=0.05),
            v2.ToDtype(torch.float32, scale=True),  # uint8 0..255 -> float 0..1
        ]
    )


# --8<-- [end:pipelines]


def _check_pipeline_args(caller: str, degrees: object, translate: object, scale: object) -> None:
    checks.number(caller, "degrees", degrees, 0, 180, closed_high=True)
    checks.number(caller, "translate", translate, 0, 1, closed_high=True)
    if not (
        isinstance(scale, Sequence)
        and len(scale) == 2
        and all(checks.is_real(s) for s in scale)
        and 0 < scale[0] <= scale[1]
    ):
        raise ValueError(
            f"{caller} expects scale to be a pair (low, high) with 0 < low <= high, got {scale!r}"
        )


# --------------------------------------------------------------------------------------------
# A dataset that augments on the fly, repeatably
# --------------------------------------------------------------------------------------------


class AugmentedDataset(Dataset):
    r"""Wrap a dataset of ``(image, label)`` pairs and transform each image as it is read.

    ``torchvision.transforms.v2`` draws its random parameters from PyTorch's global generator.
    To make a run repeat, whatever the order in which samples are read (shuffling, several
    loader workers), each read seeds that generator from ``(seed, epoch, index)`` inside
    ``torch.random.fork_rng``, which restores the global state afterwards: the same sample in
    the same epoch always gets the same transform, and a new epoch gets new ones (call
    ``set_epoch`` at the start of each epoch).

    Args:
        dataset: Any map-style dataset whose items are ``(image, label)``.
        transform: A callable on one image, e.g. ``digits_pipeline()``.
        seed: Non-negative integer: two datasets with the same seed augment identically.

    Raises:
        TypeError: If ``transform`` is not callable or ``seed`` is not an int.
        ValueError: If ``seed`` is negative.

    Examples:
        >>> import torch
        >>> from torch.utils.data import TensorDataset
        >>> from dlref.augment import AugmentedDataset, digits_pipeline
        >>> data = TensorDataset(torch.rand(4, 1, 8, 8), torch.arange(4))
        >>> augmented = AugmentedDataset(data, digits_pipeline(), seed=0)
        >>> torch.equal(augmented[2][0], augmented[2][0])  # the same read, the same transform
        True
    """

    def __init__(self, dataset: Dataset, transform: Callable, seed: int = 0) -> None:
        if not callable(transform):
            raise TypeError(
                f"AugmentedDataset expects transform to be callable, got {type(transform).__name__}"
            )
        checks.integer("AugmentedDataset", "seed", seed, 0)
        self.dataset, self.transform, self.seed, self.epoch = dataset, transform, seed, 0

    def set_epoch(self, epoch: int) -> None:
        """Draw new transforms: epoch ``e`` and epoch ``e'`` differ, the same epoch repeats."""
        checks.integer("AugmentedDataset.set_epoch", "epoch", epoch, 0)
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.dataset)

    # --8<-- [start:dataset]
    def __getitem__(self, index: int) -> tuple[torch.Tensor, object]:
        image, label = self.dataset[index]
        seed_sequence = np.random.SeedSequence([self.seed, self.epoch, index])
        sample_seed = int(seed_sequence.generate_state(1, np.uint64)[0])  # one per sample
        with torch.random.fork_rng(devices=[]):  # the global CPU generator comes back unchanged
            torch.manual_seed(sample_seed)
            image = self.transform(image)  # v2 draws its parameters from the seeded generator
        return image, label

    # --8<-- [end:dataset]


# --------------------------------------------------------------------------------------------
# MixUp and CutMix
# --------------------------------------------------------------------------------------------


def _check_batch(caller: str, images: object, labels: object, num_classes: int | None) -> None:
    """The checks torchvision makes, with messages of dlref's shape."""
    checks.floating_tensor(caller, images, "images")
    checks.shape(caller, "images", images, (None,) * 4, "(B, C, H, W)")
    if not isinstance(labels, torch.Tensor):
        raise TypeError(
            f"{caller} expects labels to be a torch.Tensor, got {type(labels).__name__}"
        )
    batch = images.shape[0]
    shown = f"({batch},) or ({batch}, {'K' if num_classes is None else num_classes})"
    if labels.dim() == 1:
        if labels.dtype.is_floating_point or labels.dtype == torch.bool:
            raise TypeError(
                f"{caller} expects class-index labels to be an integer tensor, got {labels.dtype}"
            )
        if num_classes is None:
            raise ValueError(
                f"{caller} expects num_classes to be set for class-index labels of shape (B,), "
                "got num_classes=None"
            )
        checks.shape(caller, "labels", labels, (batch,), shown)
        if len(labels) and not (int(labels.min()) >= 0 and int(labels.max()) < num_classes):
            raise ValueError(
                f"{caller} expects labels in [0, {num_classes}), got values from "
                f"{int(labels.min())} to {int(labels.max())}"
            )
    else:
        checks.shape(caller, "labels", labels, (batch, num_classes), shown)
        checks.floating_tensor(caller, labels, "one-hot labels")


def _one_hot(labels: torch.Tensor, num_classes: int | None, dtype: torch.dtype) -> torch.Tensor:
    """Class indices (B,) to one-hot rows (B, K); probability rows (B, K) pass through."""
    if labels.dim() == 1:
        return F.one_hot(labels, num_classes).to(dtype)  # (B, K)
    return labels.to(dtype)  # (B, K)


class _MixBase(nn.Module):
    """What MixUp and CutMix share: alpha, num_classes, the checks and the draw of lambda."""

    name = ""

    def __init__(self, *, alpha: float = 1.0, num_classes: int | None = None) -> None:
        super().__init__()
        checks.number(self.name, "alpha", alpha, 0, closed_low=False)
        if num_classes is not None:
            checks.integer(self.name, "num_classes", num_classes, 1)
        self.alpha, self.num_classes = float(alpha), num_classes

    def sample_lambda(self) -> float:
        r"""One $\lambda \sim \operatorname{Beta}(\alpha, \alpha)$ from the global generator."""
        alpha = torch.tensor([self.alpha])  # the same draw as torchvision: a Beta of shape (1,)
        return float(torch.distributions.Beta(alpha, alpha).sample(()))

    def _check(self, images: object, labels: object, lam: object, center: object = None) -> None:
        _check_batch(self.name, images, labels, self.num_classes)
        if lam is not None:
            checks.number(self.name, "lam", lam, 0, 1, closed_high=True)
        if center is not None:
            if not (isinstance(center, Sequence) and len(center) == 2):
                raise ValueError(
                    f"{self.name} expects center to be a pair (cx, cy), got {center!r}"
                )
            checks.integer(self.name, "cx", center[0], 0, images.shape[-1])
            checks.integer(self.name, "cy", center[1], 0, images.shape[-2])

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}, num_classes={self.num_classes}"


# --8<-- [start:mix]
def mixup(images: torch.Tensor, targets: torch.Tensor, lam: float) -> tuple[torch.Tensor, ...]:
    """Blend each sample (B, C, H, W) and its targets (B, K) with the one before it."""
    _check_mix("mixup", images, targets, lam)
    mixed = lam * images + (1 - lam) * images.roll(1, 0)  # x_i with x_{i-1}: (B, C, H, W)
    return mixed, lam * targets + (1 - lam) * targets.roll(1, 0)  # (B, K), rows sum to 1


def cutmix_box(lam: float, height: int, width: int, cx: int, cy: int) -> tuple[int, ...]:
    """The box (x1, y1, x2, y2) of area about (1 - lam) H W centred at (cx, cy), clipped."""
    _check_box_args(lam, height, width, cx, cy)
    r = 0.5 * math.sqrt(1.0 - lam)  # half-side as a fraction of the image's side
    half_w, half_h = int(r * width), int(r * height)
    x1, x2 = max(cx - half_w, 0), min(cx + half_w, width)  # clipped at the borders
    y1, y2 = max(cy - half_h, 0), min(cy + half_h, height)
    return x1, y1, x2, y2


def cutmix(images: torch.Tensor, targets: torch.Tensor, box: tuple[int, ...]):
    """Paste the box of the sample before into each sample; mix targets by the area kept."""
    _check_mix("cutmix", images, targets, box=box)
    x1, y1, x2, y2 = box
    height, width = images.shape[-2:]
    mixed = images.clone()  # (B, C, H, W)
    mixed[..., y1:y2, x1:x2] = images.roll(1, 0)[..., y1:y2, x1:x2]  # the partner's box
    kept = 1.0 - (x2 - x1) * (y2 - y1) / (width * height)  # lambda' from the real area
    return mixed, kept * targets + (1 - kept) * targets.roll(1, 0)  # (B, K)


# --8<-- [end:mix]


def _check_mix(
    caller: str, images: object, targets: object, lam: object = None, box: object = None
) -> None:
    checks.floating_tensor(caller, images, "images")
    checks.shape(caller, "images", images, (None,) * 4, "(B, C, H, W)")
    checks.floating_tensor(caller, targets, "targets")
    checks.shape(caller, "targets", targets, (images.shape[0], None), f"({images.shape[0]}, K)")
    if lam is not None:
        checks.number(caller, "lam", lam, 0, 1, closed_high=True)
    if box is not None:
        height, width = images.shape[-2:]
        if not (
            isinstance(box, Sequence)
            and len(box) == 4
            and all(checks.is_integer(v) for v in box)
            and 0 <= box[0] <= box[2] <= width
            and 0 <= box[1] <= box[3] <= height
        ):
            raise ValueError(
                f"{caller} expects box (x1, y1, x2, y2) with 0 <= x1 <= x2 <= {width} and "
                f"0 <= y1 <= y2 <= {height}, got {box!r}"
            )


def _check_box_args(lam: object, height: object, width: object, cx: object, cy: object) -> None:
    checks.number("cutmix_box", "lam", lam, 0, 1, closed_high=True)
    checks.integer("cutmix_box", "height", height, 1)
    checks.integer("cutmix_box", "width", width, 1)
    checks.integer("cutmix_box", "cx", cx, 0, width)
    checks.integer("cutmix_box", "cy", cy, 0, height)


class MixUp(_MixBase):
    r"""MixUp (Zhang et al., 2018) on a batch, as ``torchvision.transforms.v2.MixUp``.

    Draws one $\lambda \sim \operatorname{Beta}(\alpha, \alpha)$ per batch from the global
    generator and applies ``mixup``: $\tilde{x}_i = \lambda x_i + (1 - \lambda) x_{i-1}$, the
    same for the one-hot labels (the batch rolled by one, so shuffle the batches). The output
    equals torchvision's under the same ``torch.manual_seed``. It is linear in the images: the
    gradient with respect to $x_j$ is $\lambda$ through sample $j$ plus $1 - \lambda$ through
    sample $j + 1$.

    Args:
        alpha: Concentration of the Beta distribution, $> 0$. A small $\alpha$ keeps
            $\lambda$ near 0 or 1 (light mixing); $\alpha = 1$ draws it uniformly.
        num_classes: Number of classes $K$, needed when the labels are class indices.

    Call it as ``mix(images, labels)`` with images ``(B, C, H, W)`` (floating point) and labels
    ``(B,)`` class indices or ``(B, K)`` probabilities; it returns the mixed images and labels
    ``(B, K)`` in the images' dtype (torchvision returns float32 labels for class indices).
    ``lam=`` fixes $\lambda$ instead of drawing it.

    Raises:
        TypeError: If images are not a floating-point tensor, labels not a tensor, class-index
            labels not integers, or an argument of the wrong type.
        ValueError: If a shape does not fit, a class index is out of range, ``num_classes`` is
            missing for class indices, ``alpha <= 0`` or ``lam`` is outside $[0, 1]$.

    Examples:
        >>> import torch
        >>> from dlref.augment import MixUp
        >>> images, labels = torch.rand(4, 1, 8, 8), torch.tensor([0, 1, 2, 3])
        >>> mixed, targets = MixUp(num_classes=4)(images, labels, lam=0.75)
        >>> targets[1].tolist()  # 0.75 of its own class 1, 0.25 of its partner's class 0
        [0.25, 0.75, 0.0, 0.0]
    """

    name = "MixUp"

    # --8<-- [start:mixup-draw]
    def forward(self, images: torch.Tensor, labels: torch.Tensor, lam: float | None = None):
        """Draw lambda (unless given), one-hot the labels, and mix."""
        self._check(images, labels, lam)
        lam = self.sample_lambda() if lam is None else lam  # lambda ~ Beta(alpha, alpha)
        targets = _one_hot(labels, self.num_classes, images.dtype)  # (B, K)
        return mixup(images, targets, lam)

    # --8<-- [end:mixup-draw]


class CutMix(_MixBase):
    r"""CutMix (Yun et al., 2019) on a batch, as ``torchvision.transforms.v2.CutMix``.

    Draws one $\lambda \sim \operatorname{Beta}(\alpha, \alpha)$ and one box centre, uniform
    over the pixels, per batch; the box (``cutmix_box``) has area about $(1 - \lambda) H W$, is
    clipped at the borders, and the labels are mixed by the area actually kept,
    $\lambda' = 1 - (u_2 - u_1)(v_2 - v_1) / (H W)$ for a box from column $u_1$, row
    $v_1$ to column $u_2$, row $v_2$. Sample $i$ receives the box of sample
    $i - 1$. The draws come in torchvision's order (lambda, the centre's $x$, then its $y$),
    so the output equals torchvision's under the same ``torch.manual_seed``.

    Args:
        alpha: Concentration of the Beta distribution, $> 0$.
        num_classes: Number of classes $K$, needed when the labels are class indices.

    Call it as ``mix(images, labels)`` with images ``(B, C, H, W)`` and labels ``(B,)`` or
    ``(B, K)``; ``lam=`` and ``center=(cx, cy)`` fix the draws. Returns the images and the
    labels ``(B, K)``, whose rows sum to 1.

    Raises:
        TypeError: As ``MixUp``, and if a centre coordinate is not an int.
        ValueError: As ``MixUp``, and if the centre lies outside the image.
    """

    name = "CutMix"

    # --8<-- [start:cutmix-draw]
    def forward(self, images, labels, lam: float | None = None, center=None):
        """Draw lambda and the box centre (unless given), one-hot the labels, and paste."""
        self._check(images, labels, lam, center)
        height, width = images.shape[-2:]
        lam = self.sample_lambda() if lam is None else lam  # lambda ~ Beta(alpha, alpha)
        if center is None:  # uniform over the pixels, x first, as torchvision draws them
            center = (int(torch.randint(width, (1,))), int(torch.randint(height, (1,))))
        targets = _one_hot(labels, self.num_classes, images.dtype)  # (B, K)
        return cutmix(images, targets, cutmix_box(lam, height, width, *center))

    # --8<-- [end:cutmix-draw]


# --------------------------------------------------------------------------------------------
# Test-time augmentation
# --------------------------------------------------------------------------------------------


def shift(images: torch.Tensor, dx: int, dy: int) -> torch.Tensor:
    """Translate images (..., H, W) by ``dx`` pixels right and ``dy`` down, filling with zeros."""
    checks.floating_tensor("shift", images, "images")
    checks.integer("shift", "dx", dx)
    checks.integer("shift", "dy", dy)
    height, width = images.shape[-2:]
    out = torch.zeros_like(images)
    if abs(dx) >= width or abs(dy) >= height:
        return out  # everything shifted out of the frame
    src_y, dst_y = slice(max(-dy, 0), height - max(dy, 0)), slice(max(dy, 0), height - max(-dy, 0))
    src_x, dst_x = slice(max(-dx, 0), width - max(dx, 0)), slice(max(dx, 0), width - max(-dx, 0))
    out[..., dst_y, dst_x] = images[..., src_y, src_x]
    return out


def shifted_views(max_shift: int = 1) -> list[Callable[[torch.Tensor], torch.Tensor]]:
    """The identity and the four shifts by ``max_shift`` pixels (right, left, down, up)."""
    checks.integer("shifted_views", "max_shift", max_shift, 1)
    offsets = [(0, 0), (max_shift, 0), (-max_shift, 0), (0, max_shift), (0, -max_shift)]
    return [lambda x, dx=dx, dy=dy: shift(x, dx, dy) for dx, dy in offsets]


# --8<-- [start:tta]
@torch.no_grad()
def tta_predict(
    model: nn.Module, images: torch.Tensor, views: Sequence[Callable], average: str = "softmax"
) -> torch.Tensor:
    """Average the model's probabilities (or logits) over deterministic views of a batch: (B, K).

    Mean probabilities (the default) weigh every view equally; mean logits (``"logits"``) are a
    geometric mean of the probabilities, in which one confidently wrong view can outvote the
    rest. ``views`` are callables on a batch ``(B, C, H, W)``, the identity included (see
    ``shifted_views``). Put the model in ``eval()`` mode first. Raises ``TypeError`` or
    ``ValueError`` with a message naming the bad argument.
    """
    _check_tta_args(model, images, views, average)
    outputs = []
    for view in views:  # V views, each a whole batch
        logits = model(view(images))  # (B, K)
        outputs.append(logits.softmax(dim=-1) if average == "softmax" else logits)
    return torch.stack(outputs).mean(dim=0)  # (V, B, K) -> (B, K)


# --8<-- [end:tta]


def _check_tta_args(model: object, images: object, views: object, average: object) -> None:
    if not callable(model):
        raise TypeError(f"tta_predict expects model to be callable, got {type(model).__name__}")
    checks.floating_tensor("tta_predict", images, "images")
    checks.shape("tta_predict", "images", images, (None,) * 4, "(B, C, H, W)")
    if not isinstance(views, Sequence) or len(views) == 0:
        raise ValueError(f"tta_predict expects a non-empty list of views, got {views!r}")
    for view in views:
        if not callable(view):
            raise TypeError(
                f"tta_predict expects every view to be callable, got {type(view).__name__}"
            )
    checks.one_of("tta_predict", "average", average, ("softmax", "logits"))
