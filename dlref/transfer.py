r"""Transfer learning: reuse a trained network's weights on a new task.

Explained on the page [Transfer learning](../training/transfer-learning.md).

A network trained on a large source task is a feature extractor $f_\theta$ followed by a head,
a linear layer $z = f_\theta(x)\, W^\top + b$ with $W \in \mathbb{R}^{C \times n_{L-1}}$ for $C$
classes. For a new task with $C'$ classes, keep $f_\theta$, replace the head by a fresh
$W' \in \mathbb{R}^{C' \times n_{L-1}}$, $b' \in \mathbb{R}^{C'}$ (`replace_head`), and choose
how much of $\theta$ to train:

- **linear probe**: freeze all of $\theta$ (`freeze`), train the head only;
- **fine-tuning**: train everything, the pretrained part with smaller learning rates
  (`param_groups`, `geometric_lrs`), or unfreeze it part by part (`unfreeze`).

A frozen parameter has ``requires_grad=False``: autograd computes no gradient for it, its
``.grad`` stays ``None``, and every ``torch.optim`` optimizer skips it, so a step

$$
\begin{aligned}
\theta_t = \theta_{t-1} - \eta\, g_t
\end{aligned}
$$

leaves it exactly as it was. **Discriminative learning rates** give part $k$ of the network its
own $\eta_k$; with $K$ parts listed from the input (the stem, $k = 1$) to the head ($k = K$) and
a factor $\xi \in (0, 1]$,

$$
\begin{aligned}
\eta_k = \eta_\text{head}\, \xi^{K - k},
\end{aligned}
$$

so the head learns fastest and the earliest, most general features move least (Howard and
Ruder, 2018, divide by 2.6 per layer: $\xi = 1/2.6$).

**Batch-norm statistics.** In training mode a batch-norm layer normalises with the batch's
$\mu_\mathcal{B}, \sigma^2_\mathcal{B}$ and updates its running averages
$\mu_\text{run} \leftarrow (1 - m)\,\mu_\text{run} + m\,\mu_\mathcal{B}$ (and the same for the
variance); in evaluation mode it normalises with $\mu_\text{run}, \sigma^2_\text{run}$.
Fine-tuning on a small or shifted dataset, or in small batches, overwrites the source task's
statistics; `frozen_batchnorm` keeps the layers in evaluation mode while the rest trains, so
$\mu_\text{run}, \sigma^2_\text{run}$ stay those of pretraining and $\gamma, \beta$ still learn.

**Choosing parameters.** ``freeze``, ``unfreeze`` and ``param_groups`` select parameters by
name, as ``model.named_parameters()`` spells them: a whole name (``"head.weight"``), a prefix of
whole dotted parts (``"block1"`` selects ``"block1.0.weight"`` but not ``"block10.weight"``), a
glob (``"*.bias"``), or, for ``freeze`` and ``unfreeze``, a submodule itself. A name that
selects nothing raises ``ValueError`` (a typo would otherwise freeze nothing, silently), and so
does a trainable parameter that no group of ``param_groups`` claims.

**Checkpoints** are state dicts saved with ``torch.save(model.state_dict(), path)`` and read
back with ``torch.load(path, weights_only=True)``, which unpickles tensors and plain containers
only, never arbitrary code. `load_checkpoint` then says exactly how a checkpoint differs from
the model (missing keys, unexpected keys, shapes), and can leave out the head.
"""

from __future__ import annotations

import contextlib
import fnmatch
import os
import pickle
from collections.abc import Iterator, Mapping, Sequence
from typing import IO

import torch
from torch import nn

from dlref import checks

__all__ = [
    "count_parameters",
    "freeze",
    "frozen_batchnorm",
    "geometric_lrs",
    "load_checkpoint",
    "param_groups",
    "replace_head",
    "state_dict_mismatch",
    "unfreeze",
]


def _matches(name: str, pattern: str) -> bool:
    """Whether a dotted name matches a pattern: the name, a prefix of whole parts, or a glob."""
    return name == pattern or name.startswith(pattern + ".") or fnmatch.fnmatchcase(name, pattern)


def _selected(caller: str, model: nn.Module, targets: tuple) -> list[str]:
    """The names of the parameters of ``model`` that ``targets`` select (all if none)."""
    checks.module(caller, model)
    named = dict(model.named_parameters())
    if not targets:
        return list(named)
    ids = {id(p): name for name, p in named.items()}
    chosen: set[str] = set()
    for target in targets:
        if isinstance(target, str):
            hits = {name for name in named if _matches(name, target)}
            if not hits:
                raise ValueError(
                    f"{caller} expects a name, prefix or glob of the model's parameters, "
                    f"got {target!r}, which matches none"
                )
        elif isinstance(target, nn.Module):
            hits = {ids[id(p)] for p in target.parameters() if id(p) in ids}
            if not hits:
                raise ValueError(
                    f"{caller} expects a submodule of the model with parameters, "
                    f"got a {type(target).__name__} that has none in the model"
                )
        else:
            raise TypeError(
                f"{caller} expects parameter names (str) or submodules (nn.Module), "
                f"got {type(target).__name__}"
            )
        chosen |= hits
    return [name for name in named if name in chosen]  # in the model's order


# --8<-- [start:freeze]
def freeze(model: nn.Module, *targets: str | nn.Module) -> list[str]:
    """Stop training the parameters that ``targets`` select (all if none); return their names."""
    names = _selected("freeze", model, targets)  # a name, a prefix, a glob or a submodule
    params = dict(model.named_parameters())
    for name in names:
        params[name].requires_grad_(False)  # no gradient, so every optimizer skips it
    return names


def unfreeze(model: nn.Module, *targets: str | nn.Module) -> list[str]:
    """Train again the parameters that ``targets`` select (all if none); return their names."""
    names = _selected("unfreeze", model, targets)
    params = dict(model.named_parameters())
    for name in names:
        params[name].requires_grad_(True)
    return names


def count_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    """The number of scalar parameters of ``model`` (only the trainable ones if asked)."""
    _selected("count_parameters", model, ())  # a clear error unless model is an nn.Module
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


# --8<-- [end:freeze]


def _find_head(model: nn.Module, name: str | None) -> tuple[str, nn.Linear]:
    """The head to replace: the module called ``name``, or else the last ``nn.Linear``."""
    checks.module("replace_head", model)
    if name is None:
        linears = [(n, m) for n, m in model.named_modules() if isinstance(m, nn.Linear)]
        if not linears:
            raise ValueError(
                f"replace_head expects a model with an nn.Linear layer, "
                f"got a {type(model).__name__} with none"
            )
        return linears[-1]
    modules = dict(model.named_modules())
    if name not in modules:
        raise ValueError(
            f"replace_head expects name to be a submodule of the model, got {name!r}; "
            f"its linear layers are {[n for n, m in modules.items() if isinstance(m, nn.Linear)]}"
        )
    if not isinstance(modules[name], nn.Linear):
        raise TypeError(
            f"replace_head expects {name!r} to be an nn.Linear, got {type(modules[name]).__name__}"
        )
    return name, modules[name]


# --8<-- [start:replace_head]
def replace_head(model: nn.Module, num_classes: int, name: str | None = None) -> nn.Linear:
    """Swap the last ``nn.Linear`` (or the one called ``name``) for a fresh one with new outputs."""
    checks.integer("replace_head", "num_classes", num_classes, 1)
    name, old = _find_head(model, name)  # e.g. "fc" in a torchvision ResNet
    new = nn.Linear(  # fresh weights, same input size n, C' outputs
        old.in_features,
        num_classes,
        bias=old.bias is not None,
        device=old.weight.device,
        dtype=old.weight.dtype,
    )
    parent_name, _, attr = name.rpartition(".")
    setattr(model.get_submodule(parent_name), attr, new)  # works for Sequential indices too
    return new


# --8<-- [end:replace_head]


def _check_lrs(caller: str, lrs: Mapping[str, float]) -> None:
    """Raise unless ``lrs`` maps names (str) to learning rates > 0."""
    if not isinstance(lrs, Mapping) or not lrs:
        raise TypeError(
            f"{caller} expects lrs to be a non-empty dict of name -> learning rate, "
            f"got {type(lrs).__name__} {lrs!r}"
        )
    for pattern, lr in lrs.items():
        if not isinstance(pattern, str):
            raise TypeError(f"{caller} expects names (str) as keys, got {type(pattern).__name__}")
        checks.number(caller, f"the learning rate of {pattern!r}", lr, 0, closed_low=False)


def _unassigned(caller: str, left: list[str]) -> None:
    """Raise if some trainable parameters belong to no group."""
    if left:
        raise ValueError(
            f"{caller} expects every trainable parameter to match a name in lrs, "
            f"got {len(left)} that match none: {', '.join(left)}"
        )


# --8<-- [start:param_groups]
def param_groups(model: nn.Module, lrs: Mapping[str, float]) -> list[dict]:
    """One optimizer group per name in ``lrs`` (a prefix or glob): its trainable params and lr."""
    _check_lrs("param_groups", lrs)
    trainable = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    groups, taken = [], set()
    for pattern, lr in lrs.items():  # the first name that matches a parameter takes it
        params = [p for n, p in trainable if n not in taken and _matches(n, pattern)]
        taken |= {n for n, _ in trainable if _matches(n, pattern)}
        groups.append({"params": params, "lr": lr, "name": pattern})  # torch.optim keeps "name"
    _unassigned("param_groups", [n for n, _ in trainable if n not in taken])
    return [group for group in groups if group["params"]]  # a fully frozen part has no group


def geometric_lrs(parts: Sequence[str], head_lr: float, decay: float) -> dict[str, float]:
    """Learning rates from the stem to the head: part k of K gets head_lr * decay**(K - k)."""
    _check_geometric("geometric_lrs", parts, head_lr, decay)
    last = len(parts) - 1
    return {part: head_lr * decay ** (last - k) for k, part in enumerate(parts)}


# --8<-- [end:param_groups]


def _check_geometric(caller: str, parts: Sequence[str], head_lr: float, decay: float) -> None:
    """Raise unless ``parts`` are names and the rates are positive, ``decay`` in (0, 1]."""
    if isinstance(parts, str) or not isinstance(parts, Sequence) or not parts:
        raise TypeError(
            f"{caller} expects parts to be a non-empty list of names from stem to head, "
            f"got {type(parts).__name__} {parts!r}"
        )
    checks.number(caller, "head_lr", head_lr, 0, closed_low=False)
    checks.number(caller, "decay", decay, 0, 1, closed_low=False, closed_high=True)


# --8<-- [start:frozen_batchnorm]
@contextlib.contextmanager
def frozen_batchnorm(model: nn.Module) -> Iterator[list[str]]:
    """Inside ``with``, batch-norm layers use and keep their running stats, even in train()."""
    bns = _batchnorms("frozen_batchnorm", model)  # {name: layer} of every BatchNorm{1,2,3}d
    hooks = [bn.register_forward_pre_hook(_to_eval) for bn in bns.values()]
    try:
        yield list(bns)  # the names of the frozen layers
    finally:
        for hook in hooks:
            hook.remove()
        for bn in bns.values():
            bn.train(model.training)  # back to the mode of the model around them


def _to_eval(bn: nn.Module, inputs: tuple) -> None:
    """Before each forward: evaluation mode, so model.train() cannot turn the updates back on."""
    bn.training = False  # normalise with (mu_run, var_run) and leave them unchanged


# --8<-- [end:frozen_batchnorm]


def _batchnorms(caller: str, model: nn.Module) -> dict[str, nn.Module]:
    """The batch-norm layers of ``model`` by name, or an error if it has none."""
    checks.module(caller, model)
    bns = {
        name: m
        for name, m in model.named_modules()
        if isinstance(m, nn.modules.batchnorm._BatchNorm)
    }
    if not bns:
        raise ValueError(
            f"{caller} expects a model with batch-norm layers, got a {type(model).__name__} "
            f"with none"
        )
    return bns


def state_dict_mismatch(
    expected: Mapping[str, torch.Tensor], got: Mapping[str, torch.Tensor]
) -> dict[str, list]:
    """How a state dict ``got`` differs from ``expected`` (the model's), key by key.

    Returns:
        dict: Three lists, each in key order. ``"missing"`` holds the keys of ``expected`` that
            ``got`` lacks, ``"unexpected"`` the keys of ``got`` that ``expected`` lacks, and
            ``"shapes"`` a ``(key, got_shape, expected_shape)`` triple for each key in both
            whose tensors differ in shape.
    """
    missing = [key for key in expected if key not in got]
    unexpected = [key for key in got if key not in expected]
    shapes = [
        (key, tuple(got[key].shape), tuple(expected[key].shape))
        for key in expected
        if key in got and tuple(got[key].shape) != tuple(expected[key].shape)
    ]
    return {"missing": missing, "unexpected": unexpected, "shapes": shapes}


def _mismatch_message(mismatch: dict[str, list]) -> str:
    """The error message of `load_checkpoint`: one line per kind of difference."""
    lines = ["load_checkpoint expects a checkpoint of the model's architecture, got"]
    if mismatch["missing"]:
        lines.append(
            f"  missing keys (in the model, not in the checkpoint): "
            f"{', '.join(mismatch['missing'])}"
        )
    if mismatch["unexpected"]:
        lines.append(
            f"  unexpected keys (in the checkpoint, not in the model): "
            f"{', '.join(mismatch['unexpected'])}"
        )
    for key, got, wanted in mismatch["shapes"]:
        lines.append(f"  shape mismatch for {key}: {got} in the checkpoint, {wanted} in the model")
    return "\n".join(lines)


def _patterns(caller: str, exclude: str | Sequence[str]) -> tuple[str, ...]:
    """``exclude`` as a tuple of names: one name alone, or a list of them."""
    exclude = (exclude,) if isinstance(exclude, str) else exclude
    if not isinstance(exclude, Sequence) or not all(isinstance(p, str) for p in exclude):
        raise TypeError(
            f"{caller} expects exclude to be a name or a list of names, got {exclude!r}"
        )
    return tuple(exclude)


def _read(f: str | os.PathLike | IO[bytes]) -> dict[str, torch.Tensor]:
    """Read a state dict with ``torch.load(..., weights_only=True)``, with a clear error."""
    try:
        state = torch.load(f, map_location="cpu", weights_only=True)  # tensors, no code
    except pickle.UnpicklingError as exc:
        raise ValueError(
            "load_checkpoint expects a file saved with torch.save(model.state_dict(), path), "
            f"got one that torch.load(..., weights_only=True) refuses: {str(exc).splitlines()[0]}"
        ) from exc
    if not isinstance(state, Mapping) or not all(
        isinstance(v, torch.Tensor) for v in state.values()
    ):
        raise ValueError(
            f"load_checkpoint expects a state dict (names -> tensors), got a {type(state).__name__}"
        )
    return state


# --8<-- [start:load_checkpoint]
def load_checkpoint(
    model: nn.Module, f: str | os.PathLike | IO[bytes], exclude: str | Sequence[str] = ()
) -> list[str]:
    """Load a saved state dict into ``model``, strictly except for the keys ``exclude`` selects.

    Returns the model's keys that were left out (they keep their current values).
    """
    exclude = _patterns("load_checkpoint", exclude)  # "head" alone is one name, not letters
    state = _read(f)  # torch.load(f, weights_only=True): tensors only, never code
    ours = model.state_dict()
    skipped = [k for k in ours if any(_matches(k, pattern) for pattern in exclude)]
    state = {k: v for k, v in state.items() if not any(_matches(k, p) for p in exclude)}
    mismatch = state_dict_mismatch({k: v for k, v in ours.items() if k not in skipped}, state)
    if any(mismatch.values()):
        raise ValueError(_mismatch_message(mismatch))  # what is missing, unexpected, misshapen
    model.load_state_dict(state, strict=not skipped)  # strict for everything but the excluded
    return skipped


# --8<-- [end:load_checkpoint]
