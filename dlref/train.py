"""A small, explicit training loop for classifiers: ``fit``, ``evaluate`` and their ``History``.

Explained on the page [A feedforward network in PyTorch](../projects/feedforward-network.md).
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm

from dlref import checks
from dlref.device import get_device
from dlref.metrics import count_correct
from dlref.seed import set_seed

__all__ = ["History", "TrainingDiverged", "evaluate", "fit"]

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


class TrainingDiverged(RuntimeError):
    """Raised by a training loop as soon as the loss becomes NaN or infinite.

    Attributes:
        epoch: The epoch (counted from 1) in which the loss stopped being finite, or ``None``
            for a loop counted in steps rather than epochs (``batch_index`` is then the step).
        batch_index: Index (from 0) of the training batch whose loss was not finite, or ``None``
            if it was the validation loss at the end of the epoch.
        loss: The loss value (``nan``, ``inf`` or ``-inf``).
    """

    def __init__(self, epoch: int | None, batch_index: int | None, loss: float, hint: str) -> None:
        if epoch is None:
            where = f"step {batch_index}"
        elif batch_index is not None:
            where = f"epoch {epoch}, batch index {batch_index}"
        else:
            where = f"the validation pass after epoch {epoch}"
        super().__init__(f"training diverged: the loss is {loss} at {where}. {hint}")
        self.epoch = epoch
        self.batch_index = batch_index
        self.loss = loss


@dataclass
class History:
    """What ``fit`` measured, one entry per epoch.

    Attributes:
        train_loss: Mean training loss over the epoch's batches (weighted by batch size).
        train_acc: Training accuracy over the epoch, measured on the fly while the weights
            change (``nan`` when the targets are not class indices).
        val_loss: Validation loss after the epoch; empty when ``fit`` had no ``val_data``.
        val_acc: Validation accuracy after the epoch; empty when ``fit`` had no ``val_data``.
        lr: Learning rate of the optimizer's first parameter group during the epoch.
        epoch_time: Wall-clock seconds the epoch took, validation included.
    """

    train_loss: list[float] = field(default_factory=list)
    train_acc: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_acc: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    epoch_time: list[float] = field(default_factory=list)

    def __len__(self) -> int:
        """Number of epochs recorded."""
        return len(self.train_loss)

    def best(self, metric: str = "val_acc") -> tuple[int, float]:
        """Return the epoch (counted from 1) with the best value of ``metric``, and that value.

        Losses are best when lowest, accuracies when highest.

        Args:
            metric: One of ``"train_loss"``, ``"train_acc"``, ``"val_loss"``, ``"val_acc"``.

        Raises:
            ValueError: If ``metric`` is not one of these, or nothing was recorded for it.
        """
        if metric not in ("train_loss", "train_acc", "val_loss", "val_acc"):
            raise ValueError(
                f"History.best expects 'train_loss', 'train_acc', 'val_loss' or 'val_acc', "
                f"got {metric!r}"
            )
        values: list[float] = getattr(self, metric)
        if not values:
            raise ValueError(f"History.best: no {metric} was recorded (fit without val_data?)")
        pick = min if metric.endswith("loss") else max
        epoch = pick(range(len(values)), key=values.__getitem__)
        return epoch + 1, values[epoch]

    def as_table(self) -> str:
        """Format the history as a plain-text table, one row per epoch."""
        columns = ["train_loss", "train_acc"]
        if self.val_loss:
            columns += ["val_loss", "val_acc"]
        columns += ["lr", "epoch_time"]
        header = "epoch " + " ".join(f"{name:>10}" for name in columns)
        rows = [header]
        for epoch in range(len(self)):
            cells = [f"{getattr(self, name)[epoch]:>10.4g}" for name in columns]
            rows.append(f"{epoch + 1:>5} " + " ".join(cells))
        return "\n".join(rows)


@torch.no_grad()
def evaluate(
    model: nn.Module,
    data: Dataset | DataLoader,
    loss_fn: LossFn | None = None,
    *,
    device: torch.device | str | None = None,
    batch_size: int = 256,
) -> tuple[float, float]:
    r"""Mean loss and accuracy of ``model`` on ``data``, in evaluation mode and without gradients.

    The loss is averaged over samples, $\frac{1}{N}\sum_b B_b \, \mathcal{L}_b$ where
    $\mathcal{L}_b$ is the mean loss of batch $b$ of size $B_b$, which equals the loss of one
    batch holding all of ``data`` (for a ``loss_fn`` that averages over the batch, the default
    reduction).

    Args:
        model: The model; it is put in ``eval()`` mode and put back in its mode afterwards.
        data: A ``Dataset`` of ``(input, target)`` pairs, or a ``DataLoader`` over one.
        loss_fn: Loss of a batch's outputs against its targets; ``nn.CrossEntropyLoss()`` if None.
        device: Where to run; the device of the model's parameters if None.
        batch_size: Batch size when ``data`` is a ``Dataset``.

    Returns:
        ``(loss, accuracy)``; the accuracy is ``nan`` when the targets are not class indices.

    Raises:
        TypeError: If ``data`` is neither a ``Dataset`` nor a ``DataLoader``.
        ValueError: If ``data`` is empty or ``batch_size`` is not a positive integer.
    """
    loss_fn = nn.CrossEntropyLoss() if loss_fn is None else loss_fn
    if device is None:
        device = next((p.device for p in model.parameters()), torch.device("cpu"))
    loader = _as_loader("evaluate", data, batch_size, shuffle=False)
    was_training = model.training
    model.eval()
    totals = _Totals()
    for inputs, targets in loader:
        inputs, targets = inputs.to(device), targets.to(device)
        outputs = model(inputs)  # (B, C) logits for a classifier
        totals.add(loss_fn(outputs, targets).item(), outputs, targets)
    model.train(was_training)
    return totals.means()


def fit(
    model: nn.Module,
    train_data: Dataset | DataLoader,
    *,
    epochs: int,
    val_data: Dataset | DataLoader | None = None,
    loss_fn: LossFn | None = None,
    optimizer: torch.optim.Optimizer | None = None,
    batch_size: int = 64,
    device: torch.device | str | None = None,
    scheduler: torch.optim.lr_scheduler.LRScheduler | None = None,
    grad_clip: float | None = None,
    seed: int | None = None,
    progress: bool | None = None,
) -> History:
    r"""Train ``model`` by minibatch gradient descent and return what happened, epoch by epoch.

    Each step draws a batch $(x, y)$, computes the loss $\mathcal{L}(f_\theta(x), y)$, its
    gradient $g_t = \nabla_\theta \mathcal{L}$ by backpropagation, optionally rescales the
    gradient so its global norm is at most ``grad_clip``, and lets the optimizer update
    $\theta$. After each epoch the model is evaluated on ``val_data`` and the scheduler (if any)
    steps once.

    Args:
        model: The model to train, moved to ``device``. It is left in ``eval()`` mode.
        train_data: A ``Dataset`` of ``(input, target)`` pairs (batched and reshuffled every
            epoch), or a ``DataLoader`` used as it is.
        epochs: Number of passes over ``train_data``.
        val_data: Optional ``Dataset`` or ``DataLoader`` evaluated after every epoch.
        loss_fn: Loss of a batch's outputs against its targets, averaged over the batch;
            ``nn.CrossEntropyLoss()`` if None.
        optimizer: Optimizer over ``model``'s parameters; ``Adam`` with learning rate
            $10^{-3}$ if None.
        batch_size: Batch size when ``train_data`` (or ``val_data``) is a ``Dataset``.
        device: Where to train; ``dlref.get_device()`` (CUDA, then MPS, then CPU) if None.
        scheduler: Optional learning-rate scheduler, stepped once per epoch
            (``ReduceLROnPlateau`` gets the validation loss, or the training loss without
            validation data).
        grad_clip: If set, the maximum global L2 norm of the gradient
            (``nn.utils.clip_grad_norm_``).
        seed: If set, ``dlref.set_seed(seed)`` is called first and a ``Dataset``'s batch order
            is drawn from a generator seeded with it, so two runs from the same weights repeat
            exactly (on the CPU). If None, the batch order follows PyTorch's global generator.
        progress: Show a progress bar over epochs with the latest metrics. If None, only when
            stderr is a terminal, so tests, CI and build logs stay quiet.

    Returns:
        The ``History`` of per-epoch losses, accuracies, learning rates and times.

    Raises:
        TrainingDiverged: As soon as a loss is NaN or infinite, naming the epoch and batch.
        TypeError: If ``train_data`` or ``val_data`` is neither a ``Dataset`` nor a ``DataLoader``.
        ValueError: If ``epochs``, ``batch_size`` or ``grad_clip`` is out of range, or
            ``train_data`` is empty.
    """
    checks.integer("fit", "epochs", epochs, 1)
    if grad_clip is not None:
        checks.number("fit", "grad_clip", grad_clip, 0, closed_low=False)
    if seed is not None:
        set_seed(seed)
    generator = None if seed is None else torch.Generator().manual_seed(seed)
    train_loader = _as_loader("fit", train_data, batch_size, shuffle=True, generator=generator)
    val_loader = None if val_data is None else _as_loader("fit", val_data, batch_size, False)
    device = get_device() if device is None else torch.device(device)
    model.to(device)
    loss_fn = nn.CrossEntropyLoss() if loss_fn is None else loss_fn
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3) if optimizer is None else optimizer
    show = progress if progress is not None else (sys.stderr is not None and sys.stderr.isatty())

    history = History()
    with tqdm(range(1, epochs + 1), desc="fit", unit="epoch", disable=not show) as bar:
        for epoch in bar:
            start = time.perf_counter()
            history.lr.append(float(optimizer.param_groups[0]["lr"]))
            loss, acc = _train_one_epoch(
                model, train_loader, loss_fn, optimizer, device, grad_clip, epoch
            )
            history.train_loss.append(loss)
            history.train_acc.append(acc)
            metrics = {"loss": loss, "acc": acc}
            if val_loader is not None:
                val_loss, val_acc = evaluate(model, val_loader, loss_fn, device=device)
                if not math.isfinite(val_loss):
                    raise TrainingDiverged(epoch, None, val_loss, _hint(optimizer, grad_clip))
                history.val_loss.append(val_loss)
                history.val_acc.append(val_acc)
                metrics |= {"val_loss": val_loss, "val_acc": val_acc}
            if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
                scheduler.step(metrics.get("val_loss", loss))
            elif scheduler is not None:
                scheduler.step()
            history.epoch_time.append(time.perf_counter() - start)
            bar.set_postfix({name: f"{value:.4f}" for name, value in metrics.items()})
    model.eval()
    return history


# --8<-- [start:train-one-epoch]
def _train_one_epoch(
    model: nn.Module,
    loader: DataLoader,
    loss_fn: LossFn,
    optimizer: torch.optim.Optimizer,
    device: torch.device,
    grad_clip: float | None,
    epoch: int,
) -> tuple[float, float]:
    """One pass over ``loader``: returns the mean loss and the on-the-fly accuracy."""
    model.train()
    totals = _Totals()
    for batch_index, (inputs, targets) in enumerate(loader):
        inputs, targets = inputs.to(device), targets.to(device)
        outputs = model(inputs)  # (B, C) logits for a classifier
        loss = loss_fn(outputs, targets)  # scalar, mean over the batch
        loss_value = loss.item()
        if not math.isfinite(loss_value):
            raise TrainingDiverged(
                epoch, batch_index, loss_value, _hint(optimizer, grad_clip, inputs)
            )
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if grad_clip is not None:
            nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
        optimizer.step()
        totals.add(loss_value, outputs, targets)
    return totals.means()


# --8<-- [end:train-one-epoch]


@dataclass
class _Totals:
    """Running sums over batches: the loss weighted by batch size, and the hits of a classifier."""

    loss: float = 0.0
    samples: int = 0
    correct: int = 0
    labelled: int = 0  # samples whose targets are class indices

    def add(self, loss: float, outputs: torch.Tensor, targets: torch.Tensor) -> None:
        """Count one batch, whose mean loss is ``loss``."""
        self.loss += loss * len(targets)
        self.samples += len(targets)
        if not targets.dtype.is_floating_point:  # class indices: count the hits
            self.correct += count_correct(outputs.detach(), targets)
            self.labelled += targets.numel()

    def means(self) -> tuple[float, float]:
        """The mean loss per sample, and the accuracy (``nan`` without class indices)."""
        accuracy = self.correct / self.labelled if self.labelled else math.nan
        return self.loss / self.samples, accuracy


def _hint(
    optimizer: torch.optim.Optimizer, grad_clip: float | None, inputs: torch.Tensor | None = None
) -> str:
    """Suggest what to try after a divergence, the most likely cause first."""
    hints = [f"lower the learning rate (it is {float(optimizer.param_groups[0]['lr']):g})"]
    if grad_clip is None:
        hints.append("clip gradients (e.g. grad_clip=1.0)")
    hints.append("check the inputs and targets for NaN or infinite values")
    if inputs is not None and inputs.is_floating_point():
        bad = int((~torch.isfinite(inputs)).sum())
        if bad:
            hints.insert(0, f"clean the inputs: this batch holds {bad} NaN or infinite values")
    return "Try: " + "; ".join(hints) + "."


def _as_loader(
    caller: str,
    data: Dataset | DataLoader,
    batch_size: int,
    shuffle: bool,
    generator: torch.Generator | None = None,
) -> DataLoader:
    """Wrap a ``Dataset`` in a ``DataLoader``; pass a ``DataLoader`` through."""
    if not isinstance(data, (Dataset, DataLoader)):
        raise TypeError(f"{caller} expects a Dataset or a DataLoader, got {type(data).__name__}")
    dataset = data.dataset if isinstance(data, DataLoader) else data
    if hasattr(dataset, "__len__") and len(dataset) == 0:
        raise ValueError(f"{caller} expects a non-empty dataset, got 0 samples")
    if isinstance(data, DataLoader):
        return data
    checks.integer(caller, "batch_size", batch_size, 1)
    return DataLoader(data, batch_size=batch_size, shuffle=shuffle, generator=generator)
