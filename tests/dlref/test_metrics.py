"""dlref.metrics: accuracy counted by hand, per-position classes, and clear errors."""

import pytest
import torch

from dlref.metrics import accuracy, count_correct


def test_accuracy_matches_manual_count():
    logits = torch.tensor([[2.0, 1.0, 0.0], [0.0, 3.0, 1.0], [0.5, 0.2, 0.9], [1.0, 0.0, 0.0]])
    targets = torch.tensor([0, 1, 1, 2])
    assert accuracy(logits, targets) == 0.5
    # Per-position classes, as for a sequence model: logits (N, C, T), targets (N, T).
    torch.manual_seed(0)
    logits = torch.randn(4, 5, 6)
    targets = torch.randint(0, 5, (4, 6))
    manual = sum(int(logits[n, :, t].argmax() == targets[n, t]) for n in range(4) for t in range(6))
    assert accuracy(logits, targets) == pytest.approx(manual / 24)


@pytest.mark.parametrize(
    ("logits", "targets", "error", "match"),
    [
        (torch.zeros(4, 3), torch.zeros(4), TypeError, r"integer class indices, .*torch.float32"),
        (torch.zeros(4, 3), torch.zeros(5, dtype=torch.long), ValueError, r"got logits \(4, 3\)"),
        (torch.zeros(4), torch.zeros(4, dtype=torch.long), ValueError, r"and targets \(4,\)"),
        (torch.zeros(0, 3), torch.zeros(0, dtype=torch.long), ValueError, r"at least one"),
    ],
)
def test_accuracy_errors(logits, targets, error, match):
    with pytest.raises(error, match=match):
        accuracy(logits, targets)


def test_count_correct_counts_hits_and_checks_shapes():
    logits = torch.tensor([[2.0, 1.0], [0.0, 3.0], [5.0, 1.0]])
    assert count_correct(logits, torch.tensor([0, 1, 1])) == 2
    with pytest.raises(ValueError, match=r"count_correct expects logits of shape \(B, C, \.\.\.\)"):
        count_correct(logits, torch.tensor([0, 1]))
