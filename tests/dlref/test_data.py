"""Tests of dlref.data: the digits split and the 2-D toy sets."""

import numpy as np
import pytest
import sklearn.datasets
import torch

from dlref.data import (
    DigitsSplit,
    load_digits_split,
    make_circles,
    make_moons,
    make_spirals,
    make_xor,
)

N_DIGITS = 1797


@pytest.fixture(scope="module")
def split() -> DigitsSplit:
    return load_digits_split()


def _sorted_rows(x: torch.Tensor, y: torch.Tensor) -> np.ndarray:
    """(N, 65) array of flattened images and labels, rows sorted, to compare sets of samples."""
    rows = torch.cat([x.reshape(len(x), -1).double(), y[:, None].double()], dim=1).numpy()
    return rows[np.lexsort(rows.T[::-1])]


def test_default_sizes_are_the_documented_ones(split):
    assert (len(split.train), len(split.val), len(split.test)) == (1258, 180, 359)
    assert len(split.train) + len(split.val) + len(split.test) == N_DIGITS
    assert split.num_classes == 10
    assert split.image_shape == (1, 8, 8)
    assert "1258 train, 180 validation and\n    359 test" in load_digits_split.__doc__


def test_splits_partition_the_dataset(split):
    """Together the three splits hold every sample exactly once (as a multiset of rows)."""
    parts = (split.train, split.val, split.test)
    x = torch.cat([part.tensors[0] for part in parts])
    y = torch.cat([part.tensors[1] for part in parts])
    bunch = sklearn.datasets.load_digits()
    expected = _sorted_rows(torch.as_tensor(bunch.data / 16.0), torch.as_tensor(bunch.target))
    np.testing.assert_allclose(_sorted_rows(x, y), expected, atol=1e-7)


def test_splits_are_stratified(split):
    overall = np.bincount(sklearn.datasets.load_digits().target) / N_DIGITS
    for part in (split.train, split.val, split.test):
        counts = np.bincount(part.tensors[1].numpy(), minlength=10)
        assert np.all(np.abs(counts - overall * len(part)) <= 1), counts


def test_values_shapes_and_dtypes(split):
    x, y = split.train.tensors
    assert x.shape == (1258, 64) and x.dtype == torch.float32
    assert y.shape == (1258,) and y.dtype == torch.long
    assert x.min() == 0 and x.max() == 1
    assert set(y.unique().tolist()) == set(range(10))

    images = load_digits_split(flatten=False, dtype=torch.float64)
    xi, yi = images.train.tensors
    assert xi.shape == (1258, 1, 8, 8) and xi.dtype == torch.float64
    torch.testing.assert_close(xi.reshape(1258, 64).float(), x)
    assert torch.equal(yi, y)


def test_split_is_deterministic_and_depends_on_seed(split):
    again = load_digits_split()
    for name in ("train", "val", "test"):
        for mine, theirs in zip(
            getattr(split, name).tensors, getattr(again, name).tensors, strict=True
        ):
            assert torch.equal(mine, theirs)
    other = load_digits_split(seed=1)
    assert not torch.equal(other.test.tensors[0], split.test.tensors[0])


def test_sizes_as_counts():
    split = load_digits_split(val_size=100, test_size=200)
    assert (len(split.train), len(split.val), len(split.test)) == (1497, 100, 200)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"val_size": 0.0}, ValueError, r"val_size as a fraction must lie in \(0, 1\), got 0.0"),
        ({"test_size": 1.5}, ValueError, r"test_size as a fraction must lie in \(0, 1\)"),
        ({"val_size": 5}, ValueError, r"val_size=5 gives 5 samples; .* between 10"),
        ({"test_size": 1797}, ValueError, r"between 10 \(one per class\) and 1796"),
        ({"val_size": 0.6, "test_size": 0.4}, ValueError, r"leaving 0 for training"),
        (
            {"val_size": "10%"},
            TypeError,
            r"val_size to be a number, got str '10%'",
        ),
        ({"dtype": torch.long}, TypeError, r"floating-point dtype, got torch.int64"),
    ],
)
def test_bad_sizes_raise_clear_errors(kwargs, error, match):
    with pytest.raises(error, match=match):
        load_digits_split(**kwargs)


@pytest.mark.parametrize("make", [make_moons, make_xor, make_spirals, make_circles])
def test_toy_sets_shapes_dtypes_and_determinism(make):
    X, y = make(101, 0.1, 3)
    assert X.shape == (101, 2) and X.dtype == torch.float32
    assert y.shape == (101,) and y.dtype == torch.long
    assert y.min() == 0 and y.max() == (2 if make is make_spirals else 1)
    X2, y2 = make(101, 0.1, 3)
    assert torch.equal(X, X2) and torch.equal(y, y2)
    X3, _ = make(101, 0.1, 4)
    assert not torch.equal(X, X3)


def test_moons_and_circles_are_scikit_learns():
    X, y = make_moons(50, noise=0.2, seed=7)
    X_ref, y_ref = sklearn.datasets.make_moons(n_samples=50, noise=0.2, random_state=7)
    np.testing.assert_allclose(X.numpy(), X_ref, rtol=1e-6)
    np.testing.assert_array_equal(y.numpy(), y_ref)
    X, y = make_circles(50, noise=0.0, seed=7, factor=0.3)
    radius = X.norm(dim=1)
    torch.testing.assert_close(radius[y == 0], torch.ones(25))
    torch.testing.assert_close(radius[y == 1], torch.full((25,), 0.3))


def test_xor_labels_are_sign_disagreement_without_noise():
    X, y = make_xor(500, noise=0.0, seed=1)
    assert X.abs().max() <= 1
    assert torch.equal(y, (torch.sign(X[:, 0]) != torch.sign(X[:, 1])).long())
    assert 200 < int(y.sum()) < 300  # roughly balanced


def test_spirals_are_balanced_arms():
    X, y = make_spirals(301, noise=0.0, seed=0, num_classes=4, turns=2.0)
    assert torch.bincount(y).tolist() == [76, 75, 75, 75]
    radius = X.norm(dim=1)
    assert radius.max() <= 1 + 1e-6 and radius.min() > 0
    # Without noise each point lies on its arm: angle = 2*pi*(turns * r + k / K) (mod 2*pi).
    expected = 2 * torch.pi * (2.0 * radius + y / 4)
    on_arm = torch.stack([expected.cos(), expected.sin()], dim=1) * radius[:, None]
    torch.testing.assert_close(X, on_arm, atol=1e-5, rtol=0)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: make_moons(1), r"make_moons expects n \(samples\) >= 2, got 1"),
        (lambda: make_xor(0), r"make_xor expects n \(samples\) >= 1, got 0"),
        (lambda: make_circles(10, noise=-0.1), r"noise \(a standard deviation\) >= 0, got -0.1"),
        (lambda: make_moons(10, seed=-1), r"seed in \[0, 2\*\*32\), got -1"),
        (lambda: make_circles(10, factor=1.0), r"factor in \(0, 1\), got 1.0"),
        (lambda: make_spirals(10, num_classes=1), r"num_classes >= 2, got 1"),
        (lambda: make_spirals(2, num_classes=3), r"make_spirals expects n \(samples\) >= 3"),
        (lambda: make_spirals(10, turns=0), r"turns > 0, got 0"),
    ],
)
def test_toy_sets_reject_bad_arguments(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_toy_sets_reject_a_number_of_samples_that_is_not_an_int():
    with pytest.raises(TypeError, match=r"make_xor expects n \(samples\) to be an int, got float"):
        make_xor(10.0)
