"""Tests of dlref.train: fit, evaluate, accuracy, History and TrainingDiverged."""

import io
import math
import sys
import time

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from dlref.data import load_digits_split, make_moons
from dlref.models.mlp import MLP
from dlref.train import History, TrainingDiverged, evaluate, fit

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def digits():
    return load_digits_split()


@pytest.fixture
def moons() -> TensorDataset:
    X, y = make_moons(128, noise=0.1, seed=0)
    return TensorDataset(X, y)


def test_mlp_on_digits_reaches_95_percent(digits):
    """The claim of the MLP page: one hidden layer of 128 units, 30 epochs, >= 95% test accuracy."""
    torch.manual_seed(0)
    model = MLP(64, [128], 10)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    start = time.perf_counter()
    history = fit(model, digits.train, val_data=digits.val, optimizer=optimizer, epochs=30, seed=0)
    seconds = time.perf_counter() - start
    test_loss, test_acc = evaluate(model, digits.test)
    print(f"digits MLP: test accuracy {test_acc:.4f}, loss {test_loss:.4f}, fit {seconds:.2f} s")
    assert test_acc >= 0.95
    assert history.val_acc[-1] >= 0.93
    assert history.train_loss[-1] < history.train_loss[0] / 5
    assert seconds < 60  # the per-page budget on a 2-core CPU; about 0.5 s when idle


def test_history_lengths_and_contents(moons):
    torch.manual_seed(0)
    model = MLP(2, [8], 2)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)
    history = fit(
        model, moons, val_data=moons, optimizer=optimizer, scheduler=scheduler, epochs=3,
        batch_size=32, device=CPU,
    )  # fmt: skip
    assert len(history) == 3
    for name in ("train_loss", "train_acc", "val_loss", "val_acc", "lr", "epoch_time"):
        assert len(getattr(history, name)) == 3, name
    assert history.lr == pytest.approx([0.1, 0.05, 0.025])
    assert all(0 <= a <= 1 for a in history.train_acc + history.val_acc)
    assert all(t > 0 for t in history.epoch_time)
    assert not model.training  # left ready for prediction

    without_val = fit(model, moons, epochs=2, device=CPU)
    assert len(without_val) == 2 and without_val.val_loss == [] and without_val.val_acc == []
    assert "val_loss" not in without_val.as_table()


def test_history_best_and_table():
    history = History(
        train_loss=[1.0, 0.5, 0.7], train_acc=[0.5, 0.8, 0.7], val_loss=[0.9, 0.6, 0.4],
        val_acc=[0.6, 0.9, 0.8], lr=[0.1] * 3, epoch_time=[0.2] * 3,
    )  # fmt: skip
    assert history.best() == (2, 0.9)
    assert history.best("val_loss") == (3, 0.4)
    assert history.best("train_loss") == (2, 0.5)
    lines = history.as_table().splitlines()
    assert lines[0].split() == [
        "epoch", "train_loss", "train_acc", "val_loss", "val_acc", "lr", "epoch_time"
    ]  # fmt: skip
    assert lines[2].split() == ["2", "0.5", "0.8", "0.6", "0.9", "0.1", "0.2"]
    with pytest.raises(ValueError, match=r"'train_loss', .* got 'acc'"):
        history.best("acc")
    with pytest.raises(ValueError, match=r"no val_acc was recorded"):
        History().best()


def test_seed_makes_runs_repeat(moons):
    def run(seed):
        torch.manual_seed(0)
        model = MLP(2, [16], 2, dropout=0.2)
        history = fit(model, moons, epochs=3, batch_size=16, seed=seed, device=CPU)
        return history, model

    (h1, m1), (h2, m2), (h3, _) = run(7), run(7), run(8)
    assert h1.train_loss == h2.train_loss and h1.train_acc == h2.train_acc
    for p, q in zip(m1.parameters(), m2.parameters(), strict=True):
        assert torch.equal(p, q)
    assert h1.train_loss != h3.train_loss


def test_accepts_a_dataloader_and_clips_gradients(moons):
    """With one full batch and SGD(lr=1), the update is minus the clipped gradient."""
    torch.manual_seed(0)
    model = MLP(2, [8], 2)
    before = torch.cat([p.detach().flatten() for p in model.parameters()])
    loader = DataLoader(moons, batch_size=len(moons))
    optimizer = torch.optim.SGD(model.parameters(), lr=1.0)
    fit(model, loader, optimizer=optimizer, epochs=1, grad_clip=1e-3, device=CPU)
    after = torch.cat([p.detach().flatten() for p in model.parameters()])
    assert (after - before).norm().item() == pytest.approx(1e-3, rel=1e-4)


def test_reduce_lr_on_plateau_gets_the_validation_loss(moons):
    class Recording(torch.optim.lr_scheduler.ReduceLROnPlateau):
        def step(self, metrics, *args, **kwargs):
            seen.append(metrics)
            super().step(metrics, *args, **kwargs)

    for val_data, metric in ((moons, "val_loss"), (None, "train_loss")):
        seen: list[float] = []
        model = MLP(2, [4], 2)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        history = fit(
            model, moons, val_data=val_data, optimizer=optimizer,
            scheduler=Recording(optimizer), epochs=3, device=CPU,
        )  # fmt: skip
        assert seen == getattr(history, metric)


def test_diverges_with_absurd_learning_rate(digits):
    # (With one hidden layer the cross-entropy loss only grows to ~1e30 and stays finite.)
    torch.manual_seed(0)
    model = MLP(64, [128, 128], 10)
    optimizer = torch.optim.SGD(model.parameters(), lr=1e6)
    with pytest.raises(TrainingDiverged) as info:
        fit(model, digits.train, optimizer=optimizer, epochs=5, seed=0, device=CPU)
    error = info.value
    message = str(error)
    print(message)
    assert error.epoch == 1 and 1 <= error.batch_index < 20
    assert not math.isfinite(error.loss)
    assert f"at epoch 1, batch index {error.batch_index}" in message
    assert f"the loss is {error.loss}" in message
    assert "lower the learning rate (it is 1e+06)" in message
    assert "clip gradients" in message
    assert "check the inputs" in message
    assert isinstance(error, RuntimeError)


def test_diverges_on_nan_inputs_naming_the_batch():
    X, y = make_moons(100, noise=0.1, seed=0)
    X[70, 1] = float("nan")  # in the second batch of 32 (index 1), unshuffled
    loader = DataLoader(TensorDataset(X, y), batch_size=32)
    with pytest.raises(
        TrainingDiverged,
        match=r"the loss is nan at epoch 1, batch index 2\. Try: clean the inputs: this batch "
        r"holds 1 NaN or infinite values; lower the learning rate \(it is 0.001\)",
    ):
        fit(MLP(2, [4], 2), loader, epochs=1, device=CPU)


def test_diverged_validation_loss_is_reported():
    X, y = make_moons(64, noise=0.1, seed=0)
    bad_val = TensorDataset(torch.full((8, 2), float("inf")), y[:8])
    with pytest.raises(TrainingDiverged, match=r"loss is nan at the validation pass after epoch 1"):
        fit(MLP(2, [4], 2), TensorDataset(X, y), val_data=bad_val, epochs=2, device=CPU)


@pytest.mark.parametrize("batch_size", [7, 64, 1000])
def test_evaluate_matches_a_full_batch_computation(batch_size):
    torch.manual_seed(1)
    X, y = torch.randn(100, 5, dtype=torch.float64), torch.randint(0, 3, (100,))
    model = MLP(5, [6], 3, dropout=0.5).double()
    model.train()
    loss, acc = evaluate(model, TensorDataset(X, y), batch_size=batch_size)
    assert model.training  # mode restored
    model.eval()
    logits = model(X)
    expected_loss = nn.functional.cross_entropy(logits, y).item()
    expected_acc = (logits.argmax(1) == y).double().mean().item()
    assert loss == pytest.approx(expected_loss, rel=1e-12)
    assert acc == pytest.approx(expected_acc, rel=1e-12)
    assert 0 < acc < 1


def test_evaluate_regression_targets_give_nan_accuracy():
    torch.manual_seed(0)
    X = torch.randn(20, 3)
    model = nn.Linear(3, 3)
    loss, acc = evaluate(model, TensorDataset(X, X), nn.MSELoss(), batch_size=6)
    assert loss == pytest.approx(nn.functional.mse_loss(model(X), X).item(), rel=1e-5)
    assert math.isnan(acc)


def test_progress_bar_is_silent_unless_stderr_is_a_terminal(moons, capsys, monkeypatch):
    fit(MLP(2, [4], 2), moons, epochs=2, device=CPU)  # pytest's captured stderr: not a tty
    assert capsys.readouterr().err == ""

    fit(MLP(2, [4], 2), moons, epochs=2, device=CPU, progress=True)
    shown = capsys.readouterr().err
    assert "fit" in shown and "2/2" in shown and "loss=" in shown and "acc=" in shown

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    fit(MLP(2, [4], 2), moons, epochs=1, device=CPU)
    assert "1/1" in terminal.getvalue()
    monkeypatch.setattr(sys, "stderr", Terminal())
    fit(MLP(2, [4], 2), moons, epochs=1, device=CPU, progress=False)
    assert sys.stderr.getvalue() == ""


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"epochs": 0}, ValueError, r"fit expects epochs >= 1, got 0"),
        ({"epochs": 2.0}, TypeError, r"fit expects epochs to be an int, got float 2.0"),
        ({"batch_size": 0}, ValueError, r"fit expects batch_size >= 1, got 0"),
        ({"grad_clip": 0.0}, ValueError, r"fit expects grad_clip > 0, got 0.0"),
        ({"train_data": [1, 2]}, TypeError, r"fit expects a Dataset or a DataLoader, got list"),
        (
            {"train_data": TensorDataset(torch.zeros(0, 2), torch.zeros(0, dtype=torch.long))},
            ValueError,
            r"fit expects a non-empty dataset, got 0 samples",
        ),
    ],
)
def test_fit_rejects_bad_arguments(moons, kwargs, error, match):
    arguments = {"train_data": moons, "epochs": 1, "device": CPU} | kwargs
    with pytest.raises(error, match=match):
        fit(MLP(2, [4], 2), **arguments)
