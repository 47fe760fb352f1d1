"""dlref.distributed: DDP on one and two gloo processes against plain training on one process."""

import os
import re
import subprocess
import sys

import pytest
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch.utils.data import DistributedSampler, TensorDataset

from dlref.distributed import DDPConfig, build_model, setup_process_group, train_ddp


@pytest.fixture
def group(monkeypatch):
    """A process group of one CPU process, as ``python -m dlref.distributed`` makes without
    torchrun; the environment is restored after."""
    for name in ("RANK", "LOCAL_RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.setenv(name, "")  # recorded, so what setup_process_group sets is undone
        monkeypatch.delenv(name)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    device = setup_process_group()
    yield device
    dist.destroy_process_group()


def data_file(folder, n: int = 120, seed: int = 0) -> str:
    """Random 64-pixel images with 10 labels, written as ``train_ddp`` reads them."""
    generator = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 64, generator=generator, dtype=torch.float64)
    y = torch.randint(0, 10, (n,), generator=generator)
    path = folder / "data.pt"
    torch.save({"x": x, "y": y}, path)
    return str(path)


def reference_run(config: DDPConfig, world: int, steps: int):
    """One process, plain SGD on the combined batch of the ``world`` ranks at every step.

    Returns the first step's gradients and the weights after each step.
    """
    saved = torch.load(config.data, weights_only=True)
    data = TensorDataset(saved["x"].to(getattr(torch, config.dtype)), saved["y"])
    x_all, y_all = data.tensors
    samplers = [
        DistributedSampler(data, world, r, shuffle=True, seed=config.seed, drop_last=True)
        for r in range(world)
    ]
    per_rank = config.batch_size * config.accumulation
    per_epoch = len(samplers[0]) // config.batch_size // config.accumulation
    model = build_model(config)
    optimizer = torch.optim.SGD(model.parameters(), lr=config.lr, momentum=0.9)
    grads, weights = None, []
    for step in range(steps):
        epoch, k = divmod(step, per_epoch)
        for sampler in samplers:
            sampler.set_epoch(epoch)
        take = [i for s in samplers for i in list(s)[k * per_rank : (k + 1) * per_rank]]
        F.cross_entropy(model(x_all[take]), y_all[take]).backward()
        if grads is None:
            grads = {n: p.grad.clone() for n, p in model.named_parameters()}
        optimizer.step()
        optimizer.zero_grad()
        weights.append({n: t.clone() for n, t in model.state_dict().items()})
    return grads, weights


def max_gap(a: dict, b: dict) -> float:
    assert a.keys() == b.keys()
    return max((a[n] - b[n]).abs().max().item() for n in a)


def test_one_rank_equals_plain_training_and_resumes_exactly(group, tmp_path):
    config = DDPConfig(
        steps=7, batch_size=8, accumulation=3, dtype="float64", checkpoint_every=3,
        out=str(tmp_path / "a"), data=data_file(tmp_path),
    )  # fmt: skip
    os.makedirs(config.out)
    result = train_ddp(config, group)
    assert group.type == "cpu" and dist.get_world_size() == 1
    assert (result.world_size, result.global_batch, len(result.losses)) == (1, 24, 7)
    saved = sorted(os.listdir(config.out))
    assert saved == ["checkpoint-3.pt", "checkpoint-6.pt", "checkpoint-7.pt"]
    grads, weights = reference_run(config, world=1, steps=7)  # 5 steps an epoch: 2 epochs
    final = torch.load(tmp_path / "a" / "checkpoint-7.pt", weights_only=True)
    assert final["step"] == 7
    assert final["model"].keys() == build_model(config).state_dict().keys()  # no "module."
    assert max_gap(result.first_grads, grads) < 1e-15
    assert max_gap(final["model"], weights[-1]) < 1e-14

    resumed = DDPConfig(**{**vars(config), "out": str(tmp_path / "b")})
    resumed.resume = str(tmp_path / "a" / "checkpoint-6.pt")  # mid-epoch: step 6 of 5 a epoch
    os.makedirs(resumed.out)
    again = train_ddp(resumed, group)
    assert len(again.losses) == 1 and again.losses == result.losses[-1:]
    state = torch.load(tmp_path / "b" / "checkpoint-7.pt", weights_only=True)
    assert max_gap(state["model"], final["model"]) == 0.0  # exactly the same run
    momentum = {k: v["momentum_buffer"] for k, v in state["optimizer"]["state"].items()}
    assert (
        max_gap(momentum, {k: v["momentum_buffer"] for k, v in final["optimizer"]["state"].items()})
        == 0.0
    )


def test_two_gloo_processes_under_torchrun_equal_one_process_on_the_combined_batch(tmp_path):
    path = data_file(tmp_path, n=100)
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    command += ["--nproc-per-node=2", "-m", "dlref.distributed", "--data", path]
    command += ["--steps", "5", "--batch-size", "8", "--dtype", "float64", "--out", "run"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}
    done = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "world size: 2, global batch: 32" in done.stdout
    assert done.stdout.count("world size") == 1  # printed by rank 0 only
    result = torch.load(tmp_path / "run" / "result.pt", weights_only=True)
    assert result["rank_gap"] == 0.0
    config = DDPConfig(batch_size=8, dtype="float64", data=path)
    grads, weights = reference_run(config, world=2, steps=5)  # 3 steps an epoch: 2 epochs
    final = torch.load(tmp_path / "run" / "checkpoint-5.pt", weights_only=True)
    assert max_gap(result["first_grads"], grads) < 1e-15
    assert max_gap(final["model"], weights[-1]) < 1e-14


LEFTOVER_THREADS = """
import os, sys
from dlref.distributed import main
main(sys.argv[1:])
tasks = [f"/proc/self/task/{task}/comm" for task in os.listdir("/proc/self/task")]
print(sorted(name for name in (open(task).read().strip() for task in tasks) if "gloo" in name))
"""


@pytest.mark.skipif(
    not os.path.isdir("/proc/self/task"), reason="lists threads through Linux's /proc"
)
def test_main_leaves_no_gloo_thread_behind(tmp_path):
    """A fresh interpreter, as under torchrun: after ``main`` the group is gone with its threads
    (they were left running into the interpreter's shutdown, where a rank sometimes aborted)."""
    path = data_file(tmp_path, n=40)
    options = ["--data", path, "--steps", "2", "--batch-size", "8", "--out", "run"]
    env = {name: value for name, value in os.environ.items() if name not in ("RANK", "WORLD_SIZE")}
    env.update(OMP_NUM_THREADS="1", CUDA_VISIBLE_DEVICES="")
    command = [sys.executable, "-c", LEFTOVER_THREADS, *options]
    done = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.splitlines()[-1] == "[]", done.stdout


def test_errors_name_the_caller_and_say_what_came(group, tmp_path):
    path = data_file(tmp_path, n=20)
    with pytest.raises(ValueError, match="train_ddp expects steps >= 1, got 0"):
        train_ddp(DDPConfig(steps=0, data=path), group)
    with pytest.raises(ValueError, match="train_ddp expects dtype"):
        train_ddp(DDPConfig(dtype="float16", data=path), group)
    message = "train_ddp expects at least 32 training samples (world size 1 x batch_size 16 x "
    with pytest.raises(ValueError, match=re.escape(message)):
        train_ddp(DDPConfig(data=path), group)
