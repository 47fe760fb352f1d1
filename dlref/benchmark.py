r"""How fast is dlref? Its implementations timed against PyTorch's built-ins, on the same inputs.

Explained on the page [How fast is dlref?](../training/performance.md).

Each [`Case`][dlref.benchmark.Case] builds two steps that do the same work, one with `dlref`'s
code and one with PyTorch's: a forward and a backward pass of a layer or a function (the same
weights, the same input and the same output gradient), one optimizer step (the same parameters
and gradients), or one training epoch of a small network in which only the layer under test
differs. Before anything is timed, the two outputs are compared, so the table never times two
different computations.

The time of a step is its fastest block of calls in a ``torch.utils.benchmark`` measurement (it
warms up, picks the number of calls per block, and synchronises a GPU): load from other work on
the machine only ever adds time. The two steps are measured in
turn, ``rounds`` times, so that a machine that slows down slows both; the ratio reported is

$$
\text{ratio} = \operatorname{median}_k \frac{t^{\text{dlref}}_k}{t^{\text{torch}}_k},
$$

over the rounds $k$, with the smallest and largest round beside it as its spread. A ratio of 2
means `dlref` takes twice as long. Where a case allows it, `dlref`'s step is also timed under
``torch.compile``, which fuses its many small elementwise kernels into a few (the page shows
why that is most of the gap).

``python -m dlref.benchmark`` (``make bench``) runs every case and prints the table;
``--output FILE`` also writes it as Markdown, with the machine and versions, for the page.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.benchmark import Timer

from dlref import checks
from dlref.activations import ACTIVATIONS, log_softmax, softmax
from dlref.attention import MultiHeadAttention
from dlref.conv import Conv2d
from dlref.device import get_device
from dlref.models.cnn import CNN
from dlref.models.transformer import GPT, TransformerBlock, causal_mask
from dlref.norm import BatchNorm1d, BatchNorm2d, LayerNorm
from dlref.optim import SGD, Adam, AdamW, RMSprop
from dlref.rnn import GRU, LSTM

Step = Callable[[], object]
VECTORISED = 1.5  # target ratio of a vectorised implementation
TEACHING = 3.0  # target ratio of a loop written to teach (recurrences, im2col convolution)
# The sections of the page that explain a gap over the target, by kind of case
ELEMENTWISE, NORMS = "elementwise-chains", "normalisation-layers"


@dataclass(frozen=True)
class Pair:
    """The two sides of a case, ready to time.

    Attributes:
        ours: One step with `dlref`'s code.
        theirs: The same step with PyTorch's built-in.
        compiled: A factory for ``ours`` under ``torch.compile``, or ``None`` where the case is
            not compiled (optimizer steps and whole epochs).
        difference: The largest absolute difference between the two sides' outputs.
    """

    ours: Step
    theirs: Step
    compiled: Callable[[], Step] | None
    difference: float


@dataclass(frozen=True)
class Case:
    r"""One comparison: a name, a target ratio and a builder of its two steps.

    Attributes:
        name: What is timed, e.g. ``"LayerNorm(512)"``.
        group: The kind of thing, for the table: activation, norm, attention, ...
        target: The ratio dlref's step should keep, eager or compiled: ``VECTORISED`` (1.5) or
            ``TEACHING`` (3).
        build: ``build(device, scale)`` returns the [`Pair`][dlref.benchmark.Pair]; ``scale``
            (0, 1] shrinks the inputs, for a quick run.
        explained: Where the page explains a ratio above the target (an anchor of the page), or
            ``""``.
    """

    name: str
    group: str
    target: float
    build: Callable[[torch.device, float], Pair]
    explained: str = ""


@dataclass(frozen=True)
class Result:
    """A case's measured ratios: the median over the rounds and the smallest and largest round."""

    case: Case
    eager: tuple[float, float, float]  # (median, low, high) of ours / torch
    compiled: tuple[float, float, float] | None  # the same under torch.compile
    torch_ms: float  # PyTorch's step, the median over the rounds, in milliseconds
    difference: float

    @property
    def best(self) -> float:
        """The better of the eager and the compiled median ratio."""
        return min(self.eager[0], self.compiled[0] if self.compiled else float("inf"))

    @property
    def meets_target(self) -> bool:
        return self.best <= self.case.target


def _size(n: int, scale: float) -> int:
    return max(2, round(n * scale))


def _generator(device: torch.device) -> torch.Generator:
    return torch.Generator(device).manual_seed(0)


def _randn(*shape: int, device: torch.device, grad: bool = False) -> torch.Tensor:
    x = torch.randn(*shape, generator=_generator(device), device=device)
    return x.requires_grad_(grad)


def _max_difference(a: torch.Tensor, b: torch.Tensor) -> float:
    return (a.detach() - b.detach()).abs().max().item()


# --8<-- [start:forward-backward]
def _forward_backward(
    ours: Callable[..., torch.Tensor],
    theirs: Callable[..., torch.Tensor],
    inputs: Sequence[torch.Tensor],
    parameters: Sequence[torch.Tensor] = (),
) -> Pair:
    """A pair of steps that each run forward, then backward from the same output gradient.

    ``parameters`` are the leaves, besides ``inputs``, whose gradients each step resets, so the
    backward pass writes them afresh every time, as in training.
    """
    reference = theirs(*inputs)
    grad = torch.randn(reference.shape, generator=_generator(reference.device)).to(reference)
    leaves = [t for t in (*inputs, *parameters) if t.requires_grad]

    def step_of(forward):
        def step():
            for leaf in leaves:
                leaf.grad = None
            forward(*inputs).backward(grad)

        return step

    return Pair(
        step_of(ours),
        step_of(theirs),
        lambda: step_of(torch.compile(ours)),
        _max_difference(ours(*inputs), reference),
    )


# --8<-- [end:forward-backward]


def _modules(ours: nn.Module, theirs: nn.Module, inputs, pick=None) -> Pair:
    """Forward and backward of two modules with the same weights (theirs loaded into ours)."""
    ours.load_state_dict(theirs.state_dict())
    pick = pick or (lambda out: out)  # the tensor of a module's output that is timed
    parameters = [*ours.parameters(), *theirs.parameters()]
    return _forward_backward(
        lambda *x: pick(ours(*x)), lambda *x: pick(theirs(*x)), inputs, parameters
    )


def _activation(name: str) -> Callable[[torch.device, float], Pair]:
    def build(device, scale):
        x = _randn(_size(1024, scale), 1024, device=device, grad=True)  # (N, D)
        return _forward_backward(ACTIVATIONS[name].function, ACTIVATIONS[name].module(), [x])

    return build


def _softmax(ours, theirs) -> Callable[[torch.device, float], Pair]:
    def build(device, scale):
        x = _randn(_size(1024, scale), 1024, device=device, grad=True)  # (N, D), over D
        return _forward_backward(ours, lambda x: theirs(x, dim=-1), [x])

    return build


def _batch_norm_1d(device, scale) -> Pair:
    x = _randn(_size(256, scale), 512, device=device, grad=True)  # (B, C)
    return _modules(BatchNorm1d(512).to(device), nn.BatchNorm1d(512).to(device), [x])


def _batch_norm_2d(device, scale) -> Pair:
    x = _randn(_size(32, scale), 32, 16, 16, device=device, grad=True)  # (B, C, H, W)
    return _modules(BatchNorm2d(32).to(device), nn.BatchNorm2d(32).to(device), [x])


def _layer_norm(device, scale) -> Pair:
    x = _randn(_size(32, scale), 64, 512, device=device, grad=True)  # (B, T, C)
    return _modules(LayerNorm(512).to(device), nn.LayerNorm(512).to(device), [x])


def _attention(device, scale) -> Pair:
    torch.manual_seed(0)
    x = _randn(_size(8, scale), 64, 128, device=device, grad=True)  # (B, T, E)
    mask = causal_mask(64, device)  # (T, T), True = may not attend

    def self_attention(mha):
        return lambda x: mha(x, x, x, attn_mask=mask, need_weights=False)[0]

    ours = MultiHeadAttention(128, 4).to(device)
    theirs = nn.MultiheadAttention(128, 4, batch_first=True).to(device)
    ours.load_state_dict(theirs.state_dict())
    params = [*ours.parameters(), *theirs.parameters()]
    return _forward_backward(self_attention(ours), self_attention(theirs), [x], params)


def _transformer_block(device, scale) -> Pair:
    torch.manual_seed(0)
    x = _randn(_size(8, scale), 64, 128, device=device, grad=True)  # (B, T, C)
    mask = causal_mask(64, device)
    ours = TransformerBlock(128, 4, 512).to(device)
    theirs = nn.TransformerEncoderLayer(
        128, 4, 512, dropout=0.0, activation="gelu", batch_first=True, norm_first=True
    ).to(device)
    ours.load_state_dict(theirs.state_dict())
    params = [*ours.parameters(), *theirs.parameters()]
    return _forward_backward(
        lambda x: ours(x, attn_mask=mask), lambda x: theirs(x, src_mask=mask), [x], params
    )


def _recurrent(ours_type, theirs_type) -> Callable[[torch.device, float], Pair]:
    def build(device, scale):
        torch.manual_seed(0)
        x = _randn(_size(32, scale), 32, 64, device=device, grad=True)  # (B, T, input)
        ours = ours_type(64, 128, batch_first=True).to(device)
        theirs = theirs_type(64, 128, batch_first=True).to(device)
        return _modules(ours, theirs, [x], pick=lambda out: out[0])  # (B, T, hidden)

    return build


def _convolution(device, scale) -> Pair:
    torch.manual_seed(0)
    x = _randn(_size(32, scale), 16, 16, 16, device=device, grad=True)  # (B, C, H, W)
    ours = Conv2d(16, 32, 3, padding=1).to(device)
    theirs = nn.Conv2d(16, 32, 3, padding=1).to(device)
    return _modules(ours, theirs, [x])


def _optimizer(ours_type, theirs_type, **settings) -> Callable[[torch.device, float], Pair]:
    """One step of each optimizer on the same parameters and gradients (an MLP's shapes)."""

    def build(device, scale):
        width = _size(512, scale)
        shapes = [(width, 64), (width,), (width, width), (width,), (10, width), (10,)]
        sides = []
        for optimizer_type in (ours_type, theirs_type):
            params = [_randn(*shape, device=device, grad=True) for shape in shapes]
            for p in params:
                p.grad = torch.randn_like(p)  # the same every step: only the step is timed
            sides.append((params, optimizer_type(params, lr=1e-3, **settings)))
        (ours, ours_opt), (theirs, theirs_opt) = sides
        for p, q in zip(ours, theirs, strict=True):
            q.grad.copy_(p.grad)
        ours_opt.step(), theirs_opt.step()
        difference = max(_max_difference(p, q) for p, q in zip(ours, theirs, strict=True))
        return Pair(ours_opt.step, theirs_opt.step, None, difference)

    return build


def _epoch(model: nn.Module, batches, loss_of) -> Step:
    """One training epoch: forward, backward and an Adam step per batch."""
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)

    def step():
        for batch in batches:
            optimizer.zero_grad(set_to_none=True)
            loss_of(model, batch).backward()
            optimizer.step()

    return step


def _first_loss_difference(ours, theirs, batches, loss_of) -> float:
    with torch.no_grad():
        return abs(loss_of(ours, batches[0]).item() - loss_of(theirs, batches[0]).item())


def _cnn_epoch(device, scale) -> Pair:
    """The digits CNN for an epoch of 20 batches of 64 (1,280 images of 8x8, as the digits):
    dlref's im2col ``Conv2d`` against ``nn.Conv2d``, everything else the same."""
    torch.manual_seed(0)
    theirs = CNN().to(device)
    ours = CNN().to(device)
    for i, layer in enumerate(ours):
        if isinstance(layer, nn.Conv2d):
            ours[i] = Conv2d(layer.in_channels, layer.out_channels, 3, padding=1).to(device)
    ours.load_state_dict(theirs.state_dict())
    images = _randn(_size(20, scale), 64, 1, 8, 8, device=device)
    labels = torch.randint(0, 10, (images.shape[0], 64), generator=_generator(device)).to(device)
    batches = list(zip(images, labels, strict=True))

    def loss_of(model, batch):
        return F.cross_entropy(model(batch[0]), batch[1])

    difference = _first_loss_difference(ours, theirs, batches, loss_of)
    return Pair(_epoch(ours, batches, loss_of), _epoch(theirs, batches, loss_of), None, difference)


def _gpt_epoch(device, scale) -> Pair:
    """The small GPT of the transformers page (2 layers, 4 heads, 64 features, a context of
    32) for 20 batches of 16: dlref's ``MultiHeadAttention`` against ``nn.MultiheadAttention``."""
    torch.manual_seed(0)
    ours = GPT(vocab_size=65, block_size=32, n_layer=2, n_head=4, n_embd=64).to(device)
    theirs = GPT(vocab_size=65, block_size=32, n_layer=2, n_head=4, n_embd=64).to(device)
    for block in theirs.blocks:
        block.self_attn = nn.MultiheadAttention(64, 4, batch_first=True).to(device)
    theirs.load_state_dict(ours.state_dict())
    tokens = torch.randint(0, 65, (_size(20, scale), 16, 33), generator=_generator(device))
    batches = [(t[:, :-1].to(device), t[:, 1:].to(device)) for t in tokens]

    def loss_of(model, batch):
        return model(*batch)[1]

    difference = _first_loss_difference(ours, theirs, batches, loss_of)
    return Pair(_epoch(ours, batches, loss_of), _epoch(theirs, batches, loss_of), None, difference)


CASES: list[Case] = [
    *(Case(name, "activation", VECTORISED, _activation(name), ELEMENTWISE) for name in ACTIVATIONS),
    Case("softmax", "activation", VECTORISED, _softmax(softmax, F.softmax), ELEMENTWISE),
    Case(
        "log_softmax", "activation", VECTORISED, _softmax(log_softmax, F.log_softmax), ELEMENTWISE
    ),
    Case("BatchNorm1d(512)", "norm", VECTORISED, _batch_norm_1d, NORMS),
    Case("BatchNorm2d(32)", "norm", VECTORISED, _batch_norm_2d, NORMS),
    Case("LayerNorm(512)", "norm", VECTORISED, _layer_norm, NORMS),
    Case("MultiHeadAttention(128, 4)", "attention", VECTORISED, _attention),
    Case("TransformerBlock(128, 4, 512)", "attention", VECTORISED, _transformer_block),
    Case("LSTM(64, 128)", "recurrent", TEACHING, _recurrent(LSTM, nn.LSTM)),
    Case("GRU(64, 128)", "recurrent", TEACHING, _recurrent(GRU, nn.GRU)),
    Case(
        "Conv2d(16, 32, 3), im2col", "convolution", TEACHING, _convolution, "convolution-by-im2col"
    ),
    Case(
        "SGD, momentum 0.9", "optimizer", VECTORISED, _optimizer(SGD, torch.optim.SGD, momentum=0.9)
    ),
    Case("RMSprop", "optimizer", VECTORISED, _optimizer(RMSprop, torch.optim.RMSprop)),
    Case("Adam", "optimizer", VECTORISED, _optimizer(Adam, torch.optim.Adam)),
    Case("AdamW", "optimizer", VECTORISED, _optimizer(AdamW, torch.optim.AdamW)),
    Case("digits CNN, one epoch", "training", TEACHING, _cnn_epoch),
    Case("small GPT, one epoch", "training", VECTORISED, _gpt_epoch),
]
"""Every case ``make bench`` runs, in the order of the table."""


# --8<-- [start:time]
def _time(step: Step, min_run_time: float) -> float:
    """The seconds of one call of ``step`` in its fastest block of calls, warmed up, on this
    process's thread count: other work on the machine only ever adds time, so the fastest block
    is the least disturbed."""
    step()  # warm-up: allocations, lazy initialisation, a compiled step's compilation
    timer = Timer("step()", globals={"step": step}, num_threads=torch.get_num_threads())
    return min(timer.blocked_autorange(min_run_time=min_run_time).times)


def _ratios(times: list[tuple[float, float]]) -> tuple[float, float, float]:
    ratios = [ours / theirs for ours, theirs in times]
    return statistics.median(ratios), min(ratios), max(ratios)


# --8<-- [end:time]


def measure(
    case: Case,
    device: torch.device | None = None,
    *,
    scale: float = 1.0,
    rounds: int = 5,
    min_run_time: float = 0.2,
    compile: bool = True,
    tolerance: float = 1e-3,
) -> Result:
    """Time one case: ``rounds`` rounds, each timing dlref's step, PyTorch's, and the compiled one.

    Args:
        case: What to time.
        device: Where; ``get_device()`` if ``None``.
        scale: Shrinks the inputs, in (0, 1]: 1 for the table, smaller for a quick check.
        rounds: How many times each step is measured, in turn with the others.
        min_run_time: Seconds each measurement runs for, at least.
        compile: Whether to also time dlref's step under ``torch.compile`` where the case allows.
        tolerance: The largest difference allowed between the two sides' outputs.

    Raises:
        ValueError: If an argument is out of range, or the two sides disagree by more than
            ``tolerance`` (they would not be doing the same work).
    """
    checks.number("measure", "scale", scale, 0, 1, closed_low=False, closed_high=True)
    checks.integer("measure", "rounds", rounds, 1)
    checks.number("measure", "min_run_time", min_run_time, 0)
    device = torch.device(device) if device is not None else get_device()
    pair = case.build(device, scale)
    if not pair.difference <= tolerance:
        raise ValueError(
            f"{case.name}: dlref and PyTorch differ by {pair.difference:.3g} on the same inputs, "
            f"more than the tolerance {tolerance:g}: the benchmark would compare different work"
        )
    compiled = pair.compiled() if compile and pair.compiled is not None else None
    eager_times, compiled_times = [], []
    for _ in range(rounds):
        theirs = _time(pair.theirs, min_run_time)
        eager_times.append((_time(pair.ours, min_run_time), theirs))
        if compiled is not None:
            compiled_times.append((_time(compiled, min_run_time), theirs))
    return Result(
        case,
        _ratios(eager_times),
        _ratios(compiled_times) if compiled_times else None,
        1e3 * statistics.median(theirs for _, theirs in eager_times),
        pair.difference,
    )


def _ratio_cell(ratio: tuple[float, float, float] | None) -> str:
    if ratio is None:
        return "—"
    median, low, high = ratio
    return f"{median:.2f}× ({low:.2f}–{high:.2f})"


def _verdict(result: Result, page: str) -> str:
    if result.meets_target:
        return "yes"
    if result.case.explained:
        return f"no: [why]({page}#{result.case.explained})"
    return "**no**"


def table(results: Sequence[Result], page: str = "") -> str:
    """The results as a Markdown table: one row a case, ratios with their spread over rounds.

    Args:
        results: What ``measure`` returned.
        page: The page whose anchors ``Case.explained`` names ("" for this page).
    """
    lines = [
        "| case | kind | torch | dlref / torch, eager | compiled | target | met |",
        "| --- | --- | ---: | ---: | ---: | ---: | --- |",
    ]
    for r in results:
        lines.append(
            f"| {r.case.name} | {r.case.group} | {r.torch_ms:.3g} ms | {_ratio_cell(r.eager)} "
            f"| {_ratio_cell(r.compiled)} | {r.case.target:g}× | {_verdict(r, page)} |"
        )
    return "\n".join(lines)


def machine(device: torch.device) -> str:
    """One line that says what the table was measured on: device, threads, versions, date."""
    if device.type == "cuda":
        where = torch.cuda.get_device_name(device)
    else:
        where = (
            f"{platform.processor() or platform.machine()} CPU, {torch.get_num_threads()} threads"
        )
    return (
        f"Measured on {where}, torch {torch.__version__}, Python {platform.python_version()}, "
        f"{datetime.now(timezone.utc):%Y-%m-%d}."
    )


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m dlref.benchmark``: run the cases, print the table; non-zero if one misses its
    target without an explanation."""
    parser = argparse.ArgumentParser(prog="python -m dlref.benchmark", description=__doc__)
    parser.add_argument("--device", help="cpu, cuda, mps (default: dlref.get_device())")
    parser.add_argument("--threads", type=int, help="CPU threads (default: torch's)")
    parser.add_argument("--scale", type=float, default=1.0, help="input size, in (0, 1]")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--min-run-time", type=float, default=0.2)
    parser.add_argument("--no-compile", action="store_true", help="skip torch.compile")
    parser.add_argument("--only", help="run the cases whose name contains this text")
    parser.add_argument("--output", type=Path, help="also write the table here, as Markdown")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device) if args.device else get_device()
    cases = [c for c in CASES if not args.only or args.only.lower() in c.name.lower()]
    results = []
    for case in cases:
        result = measure(
            case,
            device,
            scale=args.scale,
            rounds=args.rounds,
            min_run_time=args.min_run_time,
            compile=not args.no_compile,
        )
        results.append(result)
        print(f"{case.name}: {_ratio_cell(result.eager)}, compiled {_ratio_cell(result.compiled)}")
    text = f"{machine(device)}\n\n{table(results)}\n"
    print(f"\n{text}")
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(text)
    missed = [r.case.name for r in results if not r.meets_target and not r.case.explained]
    if missed:
        print(f"over their target, with no explanation on the page: {', '.join(missed)}")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
