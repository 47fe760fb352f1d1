"""dlref.get_device and dlref.set_seed."""

import random

import numpy as np
import pytest
import torch

import dlref


def test_get_device_prefers_cuda_then_mps_then_cpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert dlref.get_device() == torch.device("cuda")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert dlref.get_device() == torch.device("mps")
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert dlref.get_device() == torch.device("cpu")


def test_get_device_returns_a_usable_device():
    assert torch.ones(2, device=dlref.get_device()).sum().item() == 2


def test_set_seed_repeats_python_numpy_and_torch_draws():
    def draws():
        return random.random(), np.random.rand(), torch.rand(3).tolist()  # noqa: NPY002

    dlref.set_seed(7)
    first = draws()
    dlref.set_seed(7)
    assert draws() == first
    dlref.set_seed(8)
    assert draws() != first


@pytest.mark.parametrize("bad", [-1, 2**32])
def test_set_seed_rejects_seeds_out_of_range(bad):
    with pytest.raises(ValueError, match=r"set_seed expects seed in \[0, 2\*\*32\), got"):
        dlref.set_seed(bad)


@pytest.mark.parametrize("bad", [1.5, "3", True])
def test_set_seed_rejects_seeds_that_are_not_ints(bad):
    with pytest.raises(TypeError, match=r"set_seed expects seed to be an int, got"):
        dlref.set_seed(bad)
