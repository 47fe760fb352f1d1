"""The data augmentation page's exercise checks refuse stubs and typical mistakes, with a hint.

The page's own run proves that its solutions pass; here every check meets blank stubs and
plausible wrong answers, and each hint must name what differs.
"""

import pytest
import torch
import torch.nn.functional as F

from dlref.augment import mixup, tta_predict
from dlref.exercises import (
    DIGIT_TRANSFORMS,
    ExerciseFailed,
    check_label_preserving,
    check_mixup,
    check_tta,
)

# --- mixup_batch -----------------------------------------------------------------------------


def mixup_right(images, labels, num_classes, lam):
    targets = F.one_hot(labels, num_classes).to(images.dtype)
    return lam * images + (1 - lam) * images.roll(1, 0), lam * targets + (1 - lam) * targets.roll(
        1, 0
    )


def mixup_with_dlref(images, labels, num_classes, lam):
    return mixup(images, F.one_hot(labels, num_classes).to(images.dtype), lam)


def test_check_mixup_passes_the_formula_and_dlref(capsys):
    check_mixup(mixup_right)
    check_mixup(mixup_with_dlref)
    assert capsys.readouterr().out.count("Correct: MixUp of a batch") == 2


def stub_mixup(images, labels, num_classes, lam): ...


def stub_mixup_raising(images, labels, num_classes, lam):
    raise NotImplementedError


def one_hot(labels, num_classes, like):
    return F.one_hot(labels, num_classes).to(like.dtype)


@pytest.mark.parametrize(
    ("answer", "match"),
    [
        (stub_mixup, r"returned None: replace the stub"),
        (stub_mixup_raising, r"still raises NotImplementedError"),
        (
            lambda x, y, k, lam: lam * x + (1 - lam) * x.roll(1, 0),
            r"should return two tensors \(mixed images, mixed labels\), got Tensor",
        ),
        (
            lambda x, y, k, lam: mixup_right(x, y, k, 1 - lam),
            r"mixed images \(lam=0.7\): the weights are swapped",
        ),
        (
            lambda x, y, k, lam: (
                lam * x + (1 - lam) * x.roll(-1, 0),
                mixup_right(x, y, k, lam)[1],
            ),
            r"the partner is the sample after \(roll\(-1\)\)",
        ),
        (
            lambda x, y, k, lam: (mixup_right(x, y, k, lam)[0], y),
            r"mixed labels \(lam=0.7\): shape \(6,\); turn the class indices into one-hot",
        ),
        (
            lambda x, y, k, lam: (mixup_right(x, y, k, lam)[0], one_hot(y, k, x)),
            r"the labels were not mixed",
        ),
        (
            lambda x, y, k, lam: (
                mixup_right(x, y, k, lam)[0],
                (1 - lam) * one_hot(y, k, x) + lam * one_hot(y, k, x).roll(1, 0),
            ),
            r"the labels' weights are swapped",
        ),
        (
            lambda x, y, k, lam: (
                mixup_right(x.detach(), y, k, lam)[0],
                mixup_right(x, y, k, lam)[1],
            ),
            r"no gradient flows back to the images",
        ),
        (
            lambda x, y, k, lam: (mixup_right(x, y, k, lam)[0] + 0.1, mixup_right(x, y, k, lam)[1]),
            r"mixed images \(lam=0.7\) at index",
        ),
    ],
)
def test_check_mixup_refuses_stubs_and_mistakes(answer, match):
    with pytest.raises(ExerciseFailed, match=match):
        check_mixup(answer)


# --- label-preserving transforms -------------------------------------------------------------

RIGHT = {
    "shift by one pixel": True,
    "rotate by 10 degrees": True,
    "zoom in by 10%": True,
    "small change of brightness": True,
    "flip left to right": False,
    "flip upside down": False,
    "rotate by 180 degrees": False,
    "shift by four pixels": False,
}


def test_check_label_preserving_passes_the_right_answers(capsys):
    assert set(RIGHT) == set(DIGIT_TRANSFORMS)
    check_label_preserving(RIGHT)
    assert "Correct: label-preserving transforms" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("answers", "match"),
    [
        (
            None,
            r"expected a dict from each name in DIGIT_TRANSFORMS to True or False, got NoneType",
        ),
        ({}, r"no answer for 'shift by one pixel'"),
        ({**RIGHT, "blur": True}, r"'blur' is not one of DIGIT_TRANSFORMS"),
        ({**RIGHT, "flip left to right": "no"}, r"'flip left to right': answer True or False"),
        (
            {**RIGHT, "flip left to right": True},
            r"'flip left to right' breaks the label: a mirrored",
        ),
        ({**RIGHT, "rotate by 180 degrees": True}, r"breaks the label: a 6 turned by 180 degrees"),
        ({**RIGHT, "rotate by 10 degrees": False}, r"'rotate by 10 degrees' keeps the label"),
        ({name: True for name in DIGIT_TRANSFORMS}, r"'flip left to right' breaks the label"),
    ],
)
def test_check_label_preserving_refuses_wrong_answers(answers, match):
    with pytest.raises(ExerciseFailed, match=match):
        check_label_preserving(answers)


# --- tta -------------------------------------------------------------------------------------


def tta_right(model, images, views):
    with torch.no_grad():
        return torch.stack([model(view(images)).softmax(-1) for view in views]).mean(0)


def test_check_tta_passes_the_formula_and_dlref(capsys):
    check_tta(tta_right)
    check_tta(tta_predict)
    assert capsys.readouterr().out.count("Correct: test-time augmentation") == 2


def stub_tta(model, images, views): ...


def logits_of(model, images, views):
    with torch.no_grad():
        return torch.stack([model(view(images)) for view in views])  # (V, B, K)


@pytest.mark.parametrize(
    ("answer", "match"),
    [
        (stub_tta, r"returned None: replace the stub"),
        (
            lambda m, x, v: logits_of(m, x, v).mean(0),
            r"the mean of the logits, not of the probabilities",
        ),
        (
            lambda m, x, v: logits_of(m, x, v).mean(0).softmax(-1),
            r"the softmax of the mean logits",
        ),
        (lambda m, x, v: m(x).softmax(-1), r"the identity view alone"),
        (lambda m, x, v: logits_of(m, x, v).softmax(1).mean(0), r"a softmax over the batch"),
        (lambda m, x, v: logits_of(m, x, v).softmax(-1).sum(0), r"a sum over the views"),
        (lambda m, x, v: logits_of(m, x, v).softmax(-1), r"shape \(3, 4, 5\), expected \(4, 5\)"),
        (
            lambda m, x, v: tta_right(m, x, v).roll(1, 0),
            r"tta\(model, images, views\) \(mean probabilities\) at index",
        ),
    ],
)
def test_check_tta_refuses_stubs_and_mistakes(answer, match):
    with pytest.raises(ExerciseFailed, match=match):
        check_tta(answer)
