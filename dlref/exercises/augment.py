"""Checks for the exercises of the data augmentation page.

Explained on the page [Data augmentation](../training/data-augmentation.md#exercises).

``check_mixup`` compares the reader's MixUp of a batch with ``torchvision.transforms.v2.MixUp``
(values and the gradient with respect to the images), ``check_label_preserving`` grades which
transforms keep a handwritten digit's label, and ``check_tta`` compares a test-time augmentation
function with averaging the softmax over the views by hand. When an answer is wrong, the checks
try the usual mistakes on the same input and name the one it matches.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.transforms import v2

from dlref.exercises.checking import ExerciseFailed, assert_close, call, passed

__all__ = ["DIGIT_TRANSFORMS", "check_label_preserving", "check_mixup", "check_tta"]


def _matches(got: torch.Tensor, candidate: torch.Tensor) -> bool:
    return (
        isinstance(got, torch.Tensor)
        and got.shape == candidate.shape
        and torch.allclose(got.detach().to(candidate.dtype), candidate, atol=1e-6)
    )


# --- 1. MixUp for a batch ----------------------------------------------------------------------


def _torchvision_mixup(images, labels, num_classes, lam):
    """torchvision's MixUp with its lambda fixed: the Beta draw replaced by ``lam``."""
    mix = v2.MixUp(alpha=1.0, num_classes=num_classes)
    mix.make_params = lambda flat_inputs: {"lam": lam}  # the one random draw, fixed
    return mix(images, labels)


def check_mixup(mixup_batch: Callable) -> None:
    """Check ``mixup_batch(images, labels, num_classes, lam)`` against torchvision's MixUp.

    Raises:
        ExerciseFailed: If the mixed images, the mixed labels or the gradient with respect to
            the images differ, with the usual mistake named where one matches.
    """
    generator = torch.Generator().manual_seed(0)
    what = "mixup_batch(images, labels, num_classes, lam)"
    for lam in (0.7, 0.25):
        images = torch.rand(6, 3, 5, 5, generator=generator, dtype=torch.float64)
        labels = torch.tensor([0, 3, 1, 3, 2, 4])
        x = images.clone().requires_grad_()
        result = call(mixup_batch, x, labels, 5, lam, what=what)
        if not (isinstance(result, tuple | list) and len(result) == 2):
            raise ExerciseFailed(
                f"{what} should return two tensors (mixed images, mixed labels), "
                f"got {type(result).__name__}"
            )
        mixed, targets = result
        want_x, want_y = _torchvision_mixup(images, labels, 5, lam)
        one_hot = F.one_hot(labels, 5).to(torch.float64)
        mistakes_x = {
            "the weights are swapped: sample i keeps lam of itself, 1 - lam of its partner": (
                (1 - lam) * images + lam * images.roll(1, 0)
            ),
            "the partner is the sample after (roll(-1)); torchvision pairs i with i - 1, "
            "roll(1, dims=0)": lam * images + (1 - lam) * images.roll(-1, 0),
            "the batch was rolled along the wrong dimension: roll along dims=0, the batch": (
                lam * images + (1 - lam) * images.roll(1, -1)
            ),
        }
        mistakes_y = {
            "the labels' weights are swapped: own class lam, partner's 1 - lam": (
                (1 - lam) * one_hot + lam * one_hot.roll(1, 0)
            ),
            "the labels were not mixed: mix the one-hot rows with the same lam": one_hot,
            "the labels' partner is the sample after (roll(-1)); use roll(1, dims=0) as for "
            "the images": lam * one_hot + (1 - lam) * one_hot.roll(-1, 0),
        }
        for hint, candidate in mistakes_x.items():
            if _matches(mixed, candidate):
                raise ExerciseFailed(f"mixed images (lam={lam}): {hint}")
        assert_close(mixed, want_x, f"mixed images (lam={lam})", rtol=1e-6, atol=1e-7)
        if isinstance(targets, torch.Tensor) and targets.dim() == 1:
            raise ExerciseFailed(
                f"mixed labels (lam={lam}): shape {tuple(targets.shape)}; turn the class "
                "indices into one-hot rows (B, K) first, F.one_hot(labels, num_classes)"
            )
        for hint, candidate in mistakes_y.items():
            if _matches(targets, candidate):
                raise ExerciseFailed(f"mixed labels (lam={lam}): {hint}")
        assert_close(targets, want_y.to(torch.float64), f"mixed labels (lam={lam})", atol=1e-6)
        if not mixed.requires_grad:
            raise ExerciseFailed(
                "mixed images: no gradient flows back to the images; mix them with tensor "
                "operations (no .detach(), no torch.no_grad())"
            )
        upstream = torch.randn(mixed.shape, generator=generator, dtype=torch.float64)
        (grad,) = torch.autograd.grad(mixed, x, upstream)
        assert_close(
            grad,
            lam * upstream + (1 - lam) * upstream.roll(-1, 0),
            f"gradient with respect to the images (lam={lam})",
        )
    passed(
        "MixUp of a batch",
        "Images and labels equal torchvision's v2.MixUp with the same lambda, and the gradient "
        "is lam on each image plus 1 - lam through its partner.",
    )


# --- 2. label-preserving or label-breaking -----------------------------------------------------

_DIGIT_ANSWERS: dict[str, tuple[bool, str]] = {
    "shift by one pixel": (True, "a digit moved by a pixel is the same digit"),
    "rotate by 10 degrees": (True, "people slant their digits by that much and more"),
    "zoom in by 10%": (True, "a slightly larger digit is the same digit"),
    "small change of brightness": (True, "a lighter or darker stroke is the same digit"),
    "flip left to right": (False, "a mirrored 3, 7 or 2 is not that digit"),
    "flip upside down": (False, "an upside-down 6, 7 or 4 is not that digit"),
    "rotate by 180 degrees": (False, "a 6 turned by 180 degrees is a 9"),
    "shift by four pixels": (False, "half of an 8x8 digit leaves the image: a 7 can become a 1"),
}

DIGIT_TRANSFORMS: list[str] = list(_DIGIT_ANSWERS)
"""The transforms of exercise 2, to be marked label-preserving (True) or not (False)."""


def check_label_preserving(answers: object) -> None:
    """Check a dict from each name in ``DIGIT_TRANSFORMS`` to True (keeps the label) or False.

    Raises:
        ExerciseFailed: If ``answers`` is not such a dict, or names the first wrong answer and
            why.
    """
    if not isinstance(answers, dict):
        raise ExerciseFailed(
            f"expected a dict from each name in DIGIT_TRANSFORMS to True or False, "
            f"got {type(answers).__name__}"
        )
    missing = [name for name in DIGIT_TRANSFORMS if name not in answers]
    if missing:
        raise ExerciseFailed(f"no answer for {missing[0]!r} (answer all of DIGIT_TRANSFORMS)")
    unknown = [name for name in answers if name not in _DIGIT_ANSWERS]
    if unknown:
        raise ExerciseFailed(f"{unknown[0]!r} is not one of DIGIT_TRANSFORMS")
    for name, (keeps, why) in _DIGIT_ANSWERS.items():
        given = answers[name]
        if not isinstance(given, bool):
            raise ExerciseFailed(f"{name!r}: answer True or False, got {given!r}")
        if given != keeps:
            verdict = "keeps" if keeps else "breaks"
            raise ExerciseFailed(f"{name!r} {verdict} the label: {why}")
    passed(
        "label-preserving transforms",
        "Small shifts, rotations, zooms and brightness keep a digit; flips, half turns and large "
        "shifts break it.",
    )


# --- 3. test-time augmentation -----------------------------------------------------------------


def check_tta(tta: Callable) -> None:
    """Check ``tta(model, images, views)``: the mean of the softmax over the views, (B, K).

    Raises:
        ExerciseFailed: If the result differs from averaging the softmax by hand, with the usual
            mistake named where one matches.
    """
    generator = torch.Generator().manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 5)).double()
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(3 * torch.randn(p.shape, generator=generator, dtype=torch.float64))
    model.eval()
    images = torch.rand(4, 1, 4, 4, generator=generator, dtype=torch.float64)
    views = [
        lambda x: x,
        lambda x: x.flip(-1),
        lambda x: x.roll(1, -2),
    ]
    what = "tta(model, images, views)"
    got = call(tta, model, images, views, what=what)
    with torch.no_grad():
        logits = torch.stack([model(view(images)) for view in views])  # (V, B, K)
    want = logits.softmax(-1).mean(0)  # (B, K)
    mistakes = {
        "it matches the mean of the logits, not of the probabilities: apply softmax to each "
        "view's logits, then average": logits.mean(0),
        "it matches the softmax of the mean logits: average the probabilities, not the logits": (
            logits.mean(0).softmax(-1)
        ),
        "it matches the identity view alone: average over every view": logits[0].softmax(-1),
        "it matches a softmax over the batch (dim=0): take it over the classes, dim=-1": (
            logits.softmax(1).mean(0)
        ),
        "it matches a sum over the views: divide by the number of views (mean)": (
            logits.softmax(-1).sum(0)
        ),
    }
    if isinstance(got, torch.Tensor) and got.shape == (3, 4, 5):
        raise ExerciseFailed(
            f"{what}: shape (3, 4, 5), expected (4, 5): average over the views (dim=0)"
        )
    for hint, candidate in mistakes.items():
        if _matches(got, candidate):
            raise ExerciseFailed(f"{what}: {hint}")
    assert_close(got, want, f"{what} (mean probabilities)", rtol=1e-6, atol=1e-9)
    passed(
        "test-time augmentation",
        "The mean of the softmax over the views: each row sums to 1, each view one vote.",
    )
