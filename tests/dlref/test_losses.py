"""dlref.losses against torch.nn.functional.cross_entropy in float64: loss, gradient, errors."""

import pytest
import torch
import torch.nn.functional as F

from dlref.losses import softmax_cross_entropy
from tests.dlref.compare import F64, TOL


@pytest.mark.parametrize("scale", [1e-3, 1.0, 30.0, 1e4])
@pytest.mark.parametrize("seed", range(3))
def test_softmax_cross_entropy_matches_torch(scale, seed):
    gen = torch.Generator().manual_seed(seed)
    logits = scale * torch.randn(7, 5, generator=gen, dtype=F64)  # (B, C)
    targets = torch.randint(0, 5, (7,), generator=gen)  # (B,)
    loss, dlogits = softmax_cross_entropy(logits, targets)
    logits_t = logits.clone().requires_grad_()
    loss_t = F.cross_entropy(logits_t, targets)
    loss_t.backward()
    assert loss.shape == () and torch.isfinite(loss) and torch.isfinite(dlogits).all()
    torch.testing.assert_close(loss, loss_t.detach(), **TOL)
    torch.testing.assert_close(dlogits, logits_t.grad, **TOL)


def test_softmax_cross_entropy_gradient_formula():
    logits = torch.tensor([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]], dtype=F64)
    _, dlogits = softmax_cross_entropy(logits, torch.tensor([2, 0]))
    onehot = torch.tensor([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]], dtype=F64)
    torch.testing.assert_close(dlogits, (logits.softmax(dim=1) - onehot) / 2, **TOL)
    torch.testing.assert_close(dlogits.sum(dim=1), torch.zeros(2, dtype=F64), **TOL)


def test_softmax_cross_entropy_errors():
    logits = torch.zeros(4, 3, dtype=F64)
    with pytest.raises(ValueError, match=r"logits \(B, C\), got \(4,\)"):
        softmax_cross_entropy(torch.zeros(4, dtype=F64), torch.zeros(4, dtype=torch.long))
    with pytest.raises(ValueError, match=r"targets of shape \(4,\), got \(4, 1\)"):
        softmax_cross_entropy(logits, torch.zeros(4, 1, dtype=torch.long))
    with pytest.raises(TypeError, match="integer targets, got torch.float64"):
        softmax_cross_entropy(logits, torch.zeros(4, dtype=F64))
    with pytest.raises(ValueError, match=r"targets in \[0, 3\), got values in \[0, 3\]"):
        softmax_cross_entropy(logits, torch.tensor([0, 1, 2, 3]))
    with pytest.raises(ValueError, match="non-empty batch"):
        softmax_cross_entropy(torch.zeros(0, 3, dtype=F64), torch.zeros(0, dtype=torch.long))
    with pytest.raises(TypeError, match="expects tensors, got list logits"):
        softmax_cross_entropy([[0.0]], torch.zeros(1, dtype=torch.long))
