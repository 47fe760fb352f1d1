r"""Data-parallel training with ``DistributedDataParallel``, launched by ``torchrun``.

Explained on the page [Training on many GPUs and machines](../training/distributed-training.md).

**Data parallelism.** $R$ processes (*ranks* $r = 0, \dots, R - 1$, one per GPU) each hold a
full copy of the model $\theta$. At every step rank $r$ takes its own shard $\mathcal{B}_r$ of
the global batch $\mathcal{B} = \mathcal{B}_0 \cup \dots \cup \mathcal{B}_{R-1}$, with
$|\mathcal{B}_r| = B$ samples each, and computes the gradient of its mean loss,

$$
\begin{aligned}
g_r = \nabla_\theta \frac{1}{B} \sum_{i \in \mathcal{B}_r} \ell_i(\theta).
\end{aligned}
$$

An *all-reduce* sums the $g_r$ across ranks and every rank divides by $R$, so each one holds

$$
\begin{aligned}
\frac{1}{R} \sum_{r=0}^{R-1} g_r
= \nabla_\theta \frac{1}{R B} \sum_{i \in \mathcal{B}} \ell_i(\theta),
\end{aligned}
$$

the gradient of the mean loss over the combined batch of $R B$ samples: the mean of equal-size
shard means is the mean of the whole. Every rank then takes the same optimizer step from the same
weights, so the copies stay identical without ever sending weights.

**Gradient accumulation** over $A$ micro-batches divides each micro-batch's loss by $A$ and
calls ``backward`` $A$ times, adding into ``.grad``; inside ``ddp.no_sync()`` those backward passes
skip the all-reduce, so one all-reduce per optimizer step averages everything, over a global
batch of $A R B$ samples.

**Data.** ``DistributedSampler`` gives rank $r$ the indices $r, r + R, r + 2R, \dots$ of one
permutation shared by all ranks (seeded by ``seed + epoch``: call ``set_epoch`` every epoch),
after dropping the tail (``drop_last=True``) or padding with repeated samples so every rank gets
as many.

**Checkpoints.** Only rank 0 writes (every rank holds the same weights), the unwrapped
``ddp.module.state_dict()`` with the optimizer's state and the step; every rank reads it back
with ``torch.load(..., weights_only=True)`` to resume, skipping the micro-batches of the epoch
that were already used, so the resumed run continues exactly where the first one stopped.

Run it on one machine with ``torchrun --standalone --nproc-per-node=2 -m dlref.distributed``
(``--help`` lists the options); without ``torchrun`` it runs as a single process.

**Leaving cleanly.** ``DistributedDataParallel`` imports ``torch._dynamo`` on first use, and in
torch 2.14 that import, made while a process group exists, keeps references to the group. Then
``destroy_process_group`` cannot free it: gloo's threads outlive ``main`` and run into the
interpreter's shutdown, where a rank now and then aborts (``terminate called without an active
exception``) after its work is done. This module imports ``torch._dynamo`` before any group
exists, so the group is freed and its threads joined inside ``main``.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import os
import socket
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch._dynamo  # noqa: F401  (before any process group: "Leaving cleanly" above)
import torch.distributed as dist
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel as DDP
from torch.utils.data import DataLoader, DistributedSampler, TensorDataset

from dlref import checks
from dlref.models.mlp import MLP
from dlref.seed import set_seed

__all__ = [
    "DDPConfig",
    "DDPResult",
    "build_model",
    "load_checkpoint",
    "load_data",
    "main",
    "save_on_rank0",
    "setup_process_group",
    "train_ddp",
]


@dataclass
class DDPConfig:
    """What ``train_ddp`` trains, and how.

    Attributes:
        steps: Train until this many optimizer steps have been taken in all.
        batch_size: Samples per rank per micro-batch, $B$.
        accumulation: Micro-batches per optimizer step, $A$ (the global batch is $A R B$).
        lr: Learning rate of SGD with momentum 0.9.
        hidden: Width of the MLP's hidden layer.
        seed: Seed of the initial weights and of the sampler's shuffles.
        dtype: ``"float32"`` or ``"float64"``.
        out: Folder rank 0 writes ``checkpoint-<step>.pt`` files to.
        checkpoint_every: Save every this many steps (and after the last).
        resume: A checkpoint to start from, or ``None`` to start from the seeded weights.
        data: A file of training tensors ``{"x": (N, 64), "y": (N,)}`` written by
            ``torch.save``, or ``None`` for the digits' training split (1258 images).
    """

    steps: int = 20
    batch_size: int = 16
    accumulation: int = 2
    lr: float = 0.1
    hidden: int = 32
    seed: int = 0
    dtype: str = "float32"
    out: str = "ddp-run"
    checkpoint_every: int = 10
    resume: str | None = None
    data: str | None = None


@dataclass
class DDPResult:
    """What a rank learned from its run (every rank returns the same values).

    Attributes:
        losses: The mean loss over the global batch at each step of this run.
        first_grads: The all-reduced gradients of this run's first step, by parameter name.
        rank_gap: The largest difference between this rank's final weights and rank 0's.
        world_size: The number of ranks, $R$.
        global_batch: Samples per optimizer step, $A R B$.
    """

    losses: list[float] = field(default_factory=list)
    first_grads: dict[str, torch.Tensor] = field(default_factory=dict)
    rank_gap: float = 0.0
    world_size: int = 1
    global_batch: int = 0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


# --8<-- [start:setup]
def setup_process_group() -> torch.device:
    """Join the group ``torchrun`` describes in the environment; return this rank's device."""
    if "RANK" not in os.environ:  # started without torchrun: a group of one process
        os.environ.update(RANK="0", LOCAL_RANK="0", WORLD_SIZE="1", MASTER_ADDR="localhost")
        os.environ.setdefault("MASTER_PORT", str(_free_port()))
    if torch.cuda.is_available():  # one GPU per process, NCCL between them
        device = torch.device("cuda", int(os.environ["LOCAL_RANK"]))
        torch.cuda.set_device(device)
        dist.init_process_group("nccl", device_id=device)
    else:  # CPU processes talk over TCP with gloo
        device = torch.device("cpu")
        dist.init_process_group("gloo")
    return device


# --8<-- [end:setup]


def build_model(config: DDPConfig) -> MLP:
    """The digits MLP with its seeded initial weights, in the config's dtype (on the CPU)."""
    set_seed(config.seed)
    return MLP(64, [config.hidden], 10).to(getattr(torch, config.dtype))


def load_data(config: DDPConfig) -> TensorDataset:
    """The training set: the file ``config.data`` if given, else the digits' training split."""
    dtype = getattr(torch, config.dtype)
    if config.data is None:
        from dlref.data import load_digits_split  # imports scikit-learn: only when needed

        return load_digits_split(dtype=dtype).train
    saved = torch.load(config.data, weights_only=True)
    return TensorDataset(saved["x"].to(dtype), saved["y"])


# --8<-- [start:checkpoint]
def save_on_rank0(ddp: DDP, optimizer: torch.optim.Optimizer, step: int, path: Path) -> None:
    """Rank 0 writes the unwrapped model, the optimizer and the step; the others wait for it."""
    if dist.get_rank() == 0:
        state = {"model": ddp.module.state_dict(), "optimizer": optimizer.state_dict()}
        torch.save({**state, "step": step}, path)
    dist.barrier()  # nobody reads (or exits) before the file is complete


def load_checkpoint(ddp: DDP, optimizer: torch.optim.Optimizer, path: str | Path) -> int:
    """Every rank loads the same checkpoint (tensors only: weights_only); return its step."""
    state = torch.load(path, map_location=next(ddp.parameters()).device, weights_only=True)
    ddp.module.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])  # momentum buffers too
    return state["step"]


# --8<-- [end:checkpoint]


def _check_config(config: DDPConfig) -> None:
    for name in ("steps", "batch_size", "accumulation", "hidden", "checkpoint_every"):
        checks.integer("train_ddp", name, getattr(config, name), 1)
    checks.one_of("train_ddp", "dtype", config.dtype, ["float32", "float64"])


def _check_enough_data(n: int, world: int, config: DDPConfig) -> None:
    needed = world * config.batch_size * config.accumulation
    if n < needed:
        raise ValueError(
            f"train_ddp expects at least {needed} training samples (world size {world} x "
            f"batch_size {config.batch_size} x accumulation {config.accumulation}), got {n}"
        )


# --8<-- [start:train]
def train_ddp(config: DDPConfig, device: torch.device) -> DDPResult:
    """Train the digits MLP on every rank of the process group; rank 0 saves checkpoints."""
    _check_config(config)
    rank, world, accumulation = dist.get_rank(), dist.get_world_size(), config.accumulation
    dtype = getattr(torch, config.dtype)
    data = load_data(config)  # the same dataset on every rank
    sampler = DistributedSampler(data, world, rank, shuffle=True, seed=config.seed, drop_last=True)
    loader = DataLoader(data, batch_size=config.batch_size, sampler=sampler, drop_last=True)
    per_epoch = len(loader) // accumulation  # optimizer steps per epoch
    _check_enough_data(len(data), world, config)
    ids = [device.index] if device.type == "cuda" else None
    ddp = DDP(build_model(config).to(device), device_ids=ids)  # copies rank 0's weights to all
    optimizer = torch.optim.SGD(ddp.parameters(), lr=config.lr, momentum=0.9)
    step = load_checkpoint(ddp, optimizer, config.resume) if config.resume else 0
    result = DDPResult(world_size=world, global_batch=accumulation * world * config.batch_size)
    while step < config.steps:
        epoch, done = divmod(step, per_epoch)
        sampler.set_epoch(epoch)  # a new shuffle each epoch, the same one on every rank
        todo = itertools.islice(loader, done * accumulation, per_epoch * accumulation)  # resume
        step_loss = torch.zeros((), device=device, dtype=dtype)
        for i, (x, y) in enumerate(todo):
            last = (i + 1) % accumulation == 0  # all-reduce only on the last micro-batch
            with contextlib.nullcontext() if last else ddp.no_sync():
                loss = F.cross_entropy(ddp(x.to(device)), y.to(device)) / accumulation
                loss.backward()  # adds into .grad; outside no_sync DDP also averages it
            step_loss += loss.detach()
            if not last:
                continue
            if not result.first_grads:  # kept to check against one process
                result.first_grads = _grads(ddp.module)
            optimizer.step()
            optimizer.zero_grad()
            step += 1
            result.losses.append(_global_mean(step_loss))  # the global batch's mean loss
            step_loss = torch.zeros((), device=device, dtype=dtype)
            if step % config.checkpoint_every == 0 or step == config.steps:
                save_on_rank0(ddp, optimizer, step, Path(config.out) / f"checkpoint-{step}.pt")
            if step == config.steps:
                break
    result.rank_gap = _gap_to_rank0(ddp.module)
    return result


# --8<-- [end:train]


def _grads(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """A copy of every parameter's gradient, on the CPU, by name."""
    return {name: p.grad.detach().cpu().clone() for name, p in model.named_parameters()}


def _global_mean(value: torch.Tensor) -> float:
    """The mean over ranks of a scalar."""
    value = value.clone()
    dist.all_reduce(value)  # a sum over ranks
    return value.item() / dist.get_world_size()


def _gap_to_rank0(model: torch.nn.Module) -> float:
    """The largest difference between this rank's weights and rank 0's, over all ranks."""
    flat = torch.cat([p.detach().flatten() for p in model.parameters()])
    reference = flat.clone()
    dist.broadcast(reference, src=0)
    gap = (flat - reference).abs().max()
    dist.all_reduce(gap, op=dist.ReduceOp.MAX)
    return gap.item()


def _parse(argv: list[str] | None) -> DDPConfig:
    parser = argparse.ArgumentParser(
        prog="torchrun --standalone --nproc-per-node=2 -m dlref.distributed",
        description="Train the digits MLP with DistributedDataParallel.",
    )
    for name, value in vars(DDPConfig()).items():
        kind = type(value) if value is not None else str
        parser.add_argument(f"--{name.replace('_', '-')}", type=kind, default=value)
    return DDPConfig(**vars(parser.parse_args(argv)))


# --8<-- [start:main]
def main(argv: list[str] | None = None) -> DDPResult:
    """The program ``torchrun`` starts on every rank: join, train, report from rank 0, leave."""
    config = _parse(argv)
    device = setup_process_group()
    Path(config.out).mkdir(parents=True, exist_ok=True)
    result = train_ddp(config, device)
    if dist.get_rank() == 0:  # one line per run, not one per rank
        torch.save(vars(result), Path(config.out) / "result.pt")
        print(f"world size: {result.world_size}, global batch: {result.global_batch}")
        print(f"steps: {len(result.losses)}, last loss: {result.losses[-1]:.4f}")
        print(f"largest weight difference between ranks: {result.rank_gap:.1e}")
    dist.barrier()  # every rank is done before the group goes away
    dist.destroy_process_group()
    return result


# --8<-- [end:main]

if __name__ == "__main__":
    main()
