"""dlref.augment against torchvision.transforms.v2: MixUp, CutMix, pipelines, TTA and errors."""

import re

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset
from torchvision.transforms import v2

from dlref.augment import (
    AugmentedDataset,
    CutMix,
    MixUp,
    cutmix,
    cutmix_box,
    digits_pipeline,
    mixup,
    photo_pipeline,
    shift,
    shifted_views,
    tta_predict,
)
from tests.dlref.compare import F64, TOL, forward_and_grads


def batch(dtype=F64, b=6, c=3, h=10, w=12, k=5, seed=0):
    generator = torch.Generator().manual_seed(seed)
    images = torch.rand(b, c, h, w, generator=generator, dtype=dtype)  # (B, C, H, W)
    labels = torch.randint(0, k, (b,), generator=generator)  # (B,)
    return images, labels


# --- equal to torchvision under the same seed ------------------------------------------------


@pytest.mark.parametrize("ours_cls, theirs_cls", [(MixUp, v2.MixUp), (CutMix, v2.CutMix)])
@pytest.mark.parametrize("alpha", [0.2, 1.0, 4.0])
@pytest.mark.parametrize("dtype", [torch.float32, F64])
def test_equal_to_torchvision_under_the_same_seed(ours_cls, theirs_cls, alpha, dtype):
    images, labels = batch(dtype)
    for seed in range(10):
        torch.manual_seed(seed)
        x_theirs, y_theirs = theirs_cls(alpha=alpha, num_classes=5)(images, labels)
        torch.manual_seed(seed)
        x_ours, y_ours = ours_cls(alpha=alpha, num_classes=5)(images, labels)
        assert torch.equal(x_ours, x_theirs)  # the same draws, the same arithmetic: bit for bit
        assert y_ours.dtype == dtype  # ours in the images' dtype; torchvision's float32
        torch.testing.assert_close(y_ours, y_theirs.to(dtype), rtol=0, atol=1e-7)
        # and the global generator is left where torchvision leaves it
        after_ours = torch.rand(1)
        torch.manual_seed(seed)
        theirs_cls(alpha=alpha, num_classes=5)(images, labels)
        assert torch.equal(after_ours, torch.rand(1))


@pytest.mark.parametrize("ours_cls, theirs_cls", [(MixUp, v2.MixUp), (CutMix, v2.CutMix)])
def test_one_hot_labels_in_float64_equal_torchvision(ours_cls, theirs_cls):
    images, labels = batch(F64, b=8, c=1, h=8, w=8, k=10, seed=1)
    soft = torch.softmax(torch.randn(8, 10, dtype=F64), dim=-1)  # (B, K) probabilities
    for seed in range(5):
        torch.manual_seed(seed)
        x_theirs, y_theirs = theirs_cls(alpha=1.0)(images, soft)
        torch.manual_seed(seed)
        x_ours, y_ours = ours_cls(alpha=1.0)(images, soft)
        torch.testing.assert_close(x_ours, x_theirs, **TOL)
        torch.testing.assert_close(y_ours, y_theirs, **TOL)
        torch.testing.assert_close(y_ours.sum(-1), torch.ones(8, dtype=F64), **TOL)


@pytest.mark.parametrize("ours_cls, theirs_cls", [(MixUp, v2.MixUp), (CutMix, v2.CutMix)])
def test_gradients_with_respect_to_the_images_equal_torchvision(ours_cls, theirs_cls):
    images, labels = batch(F64)
    upstream = torch.randn_like(images)
    for seed in range(4):

        def ours(x, seed=seed):
            torch.manual_seed(seed)
            return ours_cls(num_classes=5)(x, labels)[0]

        def theirs(x, seed=seed):
            torch.manual_seed(seed)
            return theirs_cls(num_classes=5)(x, labels)[0]

        y, dx, _ = forward_and_grads(ours, images, upstream)
        y_ref, dx_ref, _ = forward_and_grads(theirs, images, upstream)
        torch.testing.assert_close(y, y_ref, **TOL)
        torch.testing.assert_close(dx, dx_ref, **TOL)


def test_mixup_is_linear_its_gradient_is_lambda_and_one_minus_lambda():
    images, labels = batch(F64)
    targets = torch.nn.functional.one_hot(labels, 5).to(F64)
    upstream = torch.randn_like(images)
    lam = 0.3
    y, dx, _ = forward_and_grads(lambda x: mixup(x, targets, lam)[0], images, upstream)
    torch.testing.assert_close(y, lam * images + (1 - lam) * images.roll(1, 0), **TOL)
    # x_j feeds output j with weight lam and output j + 1 with weight 1 - lam
    torch.testing.assert_close(dx, lam * upstream + (1 - lam) * upstream.roll(-1, 0), **TOL)


def test_cutmix_gradient_routes_the_box_to_the_partner():
    images, labels = batch(F64)
    targets = torch.nn.functional.one_hot(labels, 5).to(F64)
    upstream = torch.randn_like(images)
    box = (2, 3, 7, 9)
    _, dx, _ = forward_and_grads(lambda x: cutmix(x, targets, box)[0], images, upstream)
    inside = torch.zeros(10, 12, dtype=torch.bool)
    inside[3:9, 2:7] = True
    expected = torch.where(inside, upstream.roll(-1, 0), upstream)
    torch.testing.assert_close(dx, expected, **TOL)


# --- the box, the labels and the distribution ------------------------------------------------


def test_cutmix_box_has_the_area_of_one_minus_lambda_and_is_clipped():
    assert cutmix_box(0.0, 8, 8, 4, 4) == (0, 0, 8, 8)  # lambda 0: the whole image
    assert cutmix_box(1.0, 8, 8, 4, 4) == (4, 4, 4, 4)  # lambda 1: an empty box
    assert cutmix_box(0.75, 16, 16, 8, 8) == (4, 4, 12, 12)  # area 1/4, half-side 1/4 of 16
    assert cutmix_box(0.75, 16, 16, 0, 15) == (0, 11, 4, 16)  # clipped at two borders


def test_cutmix_labels_use_the_area_of_the_clipped_box():
    images, labels = batch(F64, h=16, w=16)
    mix = CutMix(num_classes=5)
    mixed, targets = mix(images, labels, lam=0.75, center=(0, 0))  # box (0, 0, 4, 4): 1/16
    own = torch.nn.functional.one_hot(labels, 5).to(F64)
    expected = (15 / 16) * own + (1 / 16) * own.roll(1, 0)
    torch.testing.assert_close(targets, expected, **TOL)
    torch.testing.assert_close(mixed[1, :, :4, :4], images[0, :, :4, :4], **TOL)
    torch.testing.assert_close(mixed[1, :, 4:, :], images[1, :, 4:, :], **TOL)


@pytest.mark.parametrize("alpha", [0.4, 1.0, 2.0])
def test_lambda_has_the_moments_of_beta_alpha_alpha(alpha):
    torch.manual_seed(0)
    mix = MixUp(alpha=alpha, num_classes=2)
    draws = torch.tensor([mix.sample_lambda() for _ in range(4000)], dtype=F64)
    variance = 1 / (4 * (2 * alpha + 1))  # Var Beta(a, a) = a^2 / ((2a)^2 (2a + 1))
    assert abs(draws.mean().item() - 0.5) < 4 * (variance / 4000) ** 0.5
    assert abs(draws.var().item() - variance) < 0.1 * variance


def test_cutmix_kept_fraction_is_distributed_as_torchvisions():
    images, labels = batch(torch.float32, b=2, c=1, h=32, w=32, k=2)
    ours, theirs = [], []
    mix, reference = CutMix(num_classes=2), v2.CutMix(num_classes=2)
    torch.manual_seed(1)
    for _ in range(1500):
        ours.append(mix(images, labels)[1][0, labels[0]].item())
    torch.manual_seed(2)  # another seed: the distributions, not the draws, must agree
    for _ in range(1500):
        theirs.append(reference(images, labels)[1][0, labels[0]].item())
    ours, theirs = torch.tensor(ours), torch.tensor(theirs)
    assert abs(ours.mean() - theirs.mean()) < 0.03
    assert abs(ours.std() - theirs.std()) < 0.03
    # clipping makes the real box smaller than 1 - lambda: the kept fraction's mean is above 1/2
    assert ours.mean() > 0.55


@pytest.mark.parametrize("mix_cls", [MixUp, CutMix])
def test_labels_sum_to_one_and_shapes(mix_cls):
    images, labels = batch(torch.float32, b=7, k=4)
    mixed, targets = mix_cls(alpha=0.5, num_classes=4)(images, labels)
    assert mixed.shape == images.shape and targets.shape == (7, 4)
    torch.testing.assert_close(targets.sum(-1), torch.ones(7))
    assert (targets >= 0).all()


# --- pipelines and the dataset ---------------------------------------------------------------


def test_pipelines_keep_shapes_and_make_floats():
    digit = torch.rand(1, 8, 8)
    assert digits_pipeline()(digit).shape == (1, 8, 8)
    photo = torch.randint(0, 256, (3, 60, 80), dtype=torch.uint8)
    out = photo_pipeline(32)(photo)
    assert out.shape == (3, 32, 32) and out.dtype == torch.float32
    assert out.min() >= 0 and out.max() <= 1


def test_augmented_dataset_repeats_with_a_seed_and_varies_by_epoch():
    data = TensorDataset(torch.rand(12, 1, 8, 8), torch.arange(12))
    a = AugmentedDataset(data, digits_pipeline(), seed=3)
    b = AugmentedDataset(data, digits_pipeline(), seed=3)
    c = AugmentedDataset(data, digits_pipeline(), seed=4)
    torch.manual_seed(0)
    before = torch.rand(1)
    torch.manual_seed(0)
    first = torch.stack([a[i][0] for i in range(12)])
    assert torch.equal(torch.rand(1), before)  # the global generator is left untouched
    assert torch.equal(first, torch.stack([b[i][0] for i in reversed(range(12))]).flip(0))
    assert not torch.equal(first, torch.stack([c[i][0] for i in range(12)]))
    a.set_epoch(1)
    assert not torch.equal(first, torch.stack([a[i][0] for i in range(12)]))
    assert [a[i][1].item() for i in range(12)] == list(range(12))  # labels pass through
    assert len(a) == 12
    loaded = next(iter(DataLoader(b, batch_size=12)))[0]  # a loader sees the same images
    assert torch.equal(loaded, first)


# --- test-time augmentation ------------------------------------------------------------------


def test_shift_equals_torchvision_affine_translation():
    images = torch.rand(3, 2, 8, 8, dtype=F64)
    for dx, dy in [(1, 0), (-1, 0), (0, 2), (2, -3), (0, 0)]:
        theirs = v2.functional.affine(
            images, angle=0.0, translate=[dx, dy], scale=1.0, shear=[0.0, 0.0]
        )
        torch.testing.assert_close(shift(images, dx, dy), theirs, **TOL)
    assert shift(images, 8, 0).abs().sum() == 0


def test_tta_with_the_identity_only_equals_the_model():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 10)).double().eval()
    images = torch.rand(5, 1, 8, 8, dtype=F64)
    logits = model(images)
    identity = [lambda x: x]
    torch.testing.assert_close(tta_predict(model, images, identity), logits.softmax(-1), **TOL)
    torch.testing.assert_close(
        tta_predict(model, images, identity, average="logits"), logits, **TOL
    )
    probs = tta_predict(model, images, shifted_views(1))
    assert probs.shape == (5, 10)
    torch.testing.assert_close(probs.sum(-1), torch.ones(5, dtype=F64), **TOL)
    views = [model(view(images)).softmax(-1) for view in shifted_views(1)]
    torch.testing.assert_close(probs, torch.stack(views).mean(0), **TOL)


# --- every error message ---------------------------------------------------------------------


@pytest.mark.parametrize("mix_cls", [MixUp, CutMix])
def test_mix_errors(mix_cls):
    name = mix_cls.__name__
    images, labels = batch(torch.float32)
    mix = mix_cls(num_classes=5)
    cases = [
        (
            TypeError,
            f"{name} expects alpha to be a number, got str 'a'",
            lambda: mix_cls(alpha="a"),
        ),
        (ValueError, f"{name} expects alpha > 0, got 0", lambda: mix_cls(alpha=0)),
        (ValueError, f"{name} expects num_classes >= 1, got 0", lambda: mix_cls(num_classes=0)),
        (
            TypeError,
            f"{name} expects images to be a floating-point tensor, got dtype torch.uint8",
            lambda: mix((images * 255).to(torch.uint8), labels),
        ),
        (
            ValueError,
            f"{name} expects images of shape (B, C, H, W), got (3, 10, 12)",
            lambda: mix(images[0], labels),
        ),
        (
            TypeError,
            f"{name} expects labels to be a torch.Tensor, got list",
            lambda: mix(images, [0] * 6),
        ),
        (
            TypeError,
            f"{name} expects class-index labels to be an integer tensor, got torch.float32",
            lambda: mix(images, labels.float()),
        ),
        (
            ValueError,
            f"{name} expects num_classes to be set for class-index labels of shape (B,), "
            "got num_classes=None",
            lambda: mix_cls()(images, labels),
        ),
        (
            ValueError,
            f"{name} expects labels of shape (6,) or (6, 5), got (5,)",
            lambda: mix(images, labels[:5]),
        ),
        (
            ValueError,
            f"{name} expects labels in [0, 5), got values from 0 to 7",
            lambda: mix(images, torch.tensor([0, 1, 2, 3, 4, 7])),
        ),
        (
            ValueError,
            f"{name} expects labels of shape (6,) or (6, 5), got (6, 4)",
            lambda: mix(images, torch.rand(6, 4)),
        ),
        (
            TypeError,
            f"{name} expects one-hot labels to be a floating-point tensor, got dtype torch.int64",
            lambda: mix(images, torch.ones(6, 5, dtype=torch.long)),
        ),
        (ValueError, f"{name} expects lam in [0, 1], got 1.5", lambda: mix(images, labels, 1.5)),
    ]
    for error, message, call in cases:
        with pytest.raises(error, match=re.escape(message)):
            call()


def test_function_and_box_errors():
    images, labels = batch(torch.float32)
    targets = torch.nn.functional.one_hot(labels, 5).float()
    cases = [
        (
            TypeError,
            "mixup expects targets to be a floating-point tensor, got dtype torch.int64",
            lambda: mixup(images, labels, 0.5),
        ),
        (
            ValueError,
            "mixup expects targets of shape (6, K), got (5, 5)",
            lambda: mixup(images, targets[:5], 0.5),
        ),
        (ValueError, "mixup expects lam in [0, 1], got -0.1", lambda: mixup(images, targets, -0.1)),
        (
            ValueError,
            "cutmix expects box (x1, y1, x2, y2) with 0 <= x1 <= x2 <= 12 and "
            "0 <= y1 <= y2 <= 10, got (0, 0, 13, 4)",
            lambda: cutmix(images, targets, (0, 0, 13, 4)),
        ),
        (ValueError, "cutmix_box expects lam in [0, 1], got 2", lambda: cutmix_box(2, 8, 8, 0, 0)),
        (
            TypeError,
            "cutmix_box expects height to be an int, got float 8.0",
            lambda: cutmix_box(0.5, 8.0, 8, 0, 0),
        ),
        (ValueError, "cutmix_box expects cx in [0, 8), got 8", lambda: cutmix_box(0.5, 8, 8, 8, 0)),
        (
            ValueError,
            "CutMix expects cy in [0, 10), got -1",
            lambda: CutMix(num_classes=5)(images, labels, center=(0, -1)),
        ),
        (
            ValueError,
            "CutMix expects center to be a pair (cx, cy), got 3",
            lambda: CutMix(num_classes=5)(images, labels, center=3),
        ),
    ]
    for error, message, call in cases:
        with pytest.raises(error, match=re.escape(message)):
            call()


def test_pipeline_dataset_and_tta_errors():
    model = nn.Flatten()
    images = torch.rand(2, 1, 8, 8)
    cases = [
        (
            ValueError,
            "digits_pipeline expects degrees in [0, 180], got 200",
            lambda: digits_pipeline(degrees=200),
        ),
        (
            ValueError,
            "digits_pipeline expects translate in [0, 1], got 1.5",
            lambda: digits_pipeline(translate=1.5),
        ),
        (
            ValueError,
            "digits_pipeline expects scale to be a pair (low, high) with 0 < low <= high, "
            "got (1.2, 0.9)",
            lambda: digits_pipeline(scale=(1.2, 0.9)),
        ),
        (ValueError, "photo_pipeline expects size >= 1, got 0", lambda: photo_pipeline(0)),
        (
            TypeError,
            "AugmentedDataset expects transform to be callable, got str",
            lambda: AugmentedDataset([], "flip"),
        ),
        (
            ValueError,
            "AugmentedDataset expects seed >= 0, got -1",
            lambda: AugmentedDataset([], digits_pipeline(), seed=-1),
        ),
        (
            TypeError,
            "AugmentedDataset.set_epoch expects epoch to be an int, got float 1.0",
            lambda: AugmentedDataset([], digits_pipeline()).set_epoch(1.0),
        ),
        (TypeError, "shift expects dx to be an int, got float 0.5", lambda: shift(images, 0.5, 0)),
        (
            TypeError,
            "shift expects images to be a floating-point tensor, got dtype torch.int64",
            lambda: shift(torch.ones(8, 8, dtype=torch.long), 1, 0),
        ),
        (ValueError, "shifted_views expects max_shift >= 1, got 0", lambda: shifted_views(0)),
        (
            TypeError,
            "tta_predict expects model to be callable, got int",
            lambda: tta_predict(3, images, [lambda x: x]),
        ),
        (
            ValueError,
            "tta_predict expects images of shape (B, C, H, W), got (1, 8, 8)",
            lambda: tta_predict(model, images[0], [lambda x: x]),
        ),
        (
            ValueError,
            "tta_predict expects a non-empty list of views, got []",
            lambda: tta_predict(model, images, []),
        ),
        (
            TypeError,
            "tta_predict expects every view to be callable, got int",
            lambda: tta_predict(model, images, [lambda x: x, 1]),
        ),
        (
            ValueError,
            "tta_predict expects average to be one of 'softmax', 'logits', got 'mean'",
            lambda: tta_predict(model, images, [lambda x: x], average="mean"),
        ),
    ]
    for error, message, call in cases:
        with pytest.raises(error, match=re.escape(message)):
            call()
