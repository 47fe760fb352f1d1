"""Checks for the exercises of the vanishing and exploding gradients page.

Explained on the page
[Vanishing and exploding gradients](../foundations/vanishing-exploding-gradients.md#exercises).

Each check computes its reference with PyTorch inside the check (``torch.nn.init`` for the
initialisers' standard deviations, ``torch.nn.utils.clip_grad_norm_`` for clipping, forward hooks
for the layers' output statistics) and compares the reader's answer with it.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn

from dlref.exercises.checking import ExerciseFailed, assert_close, call, passed

__all__ = ["check_clip_grad_norm", "check_init_std", "check_unit_variance_init"]


def _as_float(value: object, what: str) -> float:
    """``value`` as a Python float (a number or a one-element tensor), or a hint."""
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        return float(value.item())
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    raise ExerciseFailed(f"{what} returned a {type(value).__name__}: expected one number")


# --- 1. the standard deviation of Xavier and Kaiming initialisation --------------------------


def _torch_init_std(fan_in: int, fan_out: int, nonlinearity: str) -> float:
    """The std ``torch.nn.init`` draws a ``(fan_out, fan_in)`` weight with, read off its draw.

    Kaiming normal (``mode="fan_in"``) for ReLU, Xavier normal with ``calculate_gain`` otherwise.
    The same seed draws the same standard normal numbers scaled by the std, so the draw divided
    by a unit draw is the std that ``torch.nn.init`` used.
    """
    weight = torch.empty(fan_out, fan_in, dtype=torch.float64)  # like nn.Linear(fan_in, fan_out)
    generator = torch.Generator().manual_seed(0)
    if nonlinearity == "relu":
        nn.init.kaiming_normal_(weight, nonlinearity="relu", generator=generator)
    else:
        gain = nn.init.calculate_gain(nonlinearity)
        nn.init.xavier_normal_(weight, gain=gain, generator=generator)
    unit = torch.empty_like(weight).normal_(0.0, 1.0, generator=torch.Generator().manual_seed(0))
    return (weight / unit).median().item()


def check_init_std(init_std: Callable[[int, int, str], float]) -> None:
    r"""Check ``init_std(fan_in, fan_out, nonlinearity)``, the std of a variance-preserving init.

    The answer must return the standard deviation that ``torch.nn.init`` draws an
    ``nn.Linear(fan_in, fan_out)`` weight with: Kaiming normal (``mode="fan_in"``) for ``"relu"``,
    $\sigma = g / \sqrt{\mathrm{fan\_in}}$; Xavier normal with the activation's gain for
    ``"tanh"``, ``"sigmoid"`` and ``"linear"``,
    $\sigma = g \sqrt{2 / (\mathrm{fan\_in} + \mathrm{fan\_out})}$. The gain $g$ is applied
    once. It is compared, to a relative $10^{-6}$, with the standard deviation that
    ``torch.nn.init.kaiming_normal_`` or ``xavier_normal_`` actually used, on square and
    non-square layers.

    Args:
        init_std: The reader's function, returning a float (or a one-element tensor).

    Raises:
        ExerciseFailed: If a standard deviation differs from torch.nn.init's, or the answer
            crashes, is still a stub, or does not return a number.
    """
    cases = [
        (128, 256, "relu"),
        (300, 100, "relu"),
        (64, 64, "tanh"),
        (100, 400, "tanh"),
        (784, 10, "sigmoid"),
        (50, 20, "linear"),
    ]
    for fan_in, fan_out, nonlinearity in cases:
        what = f"init_std({fan_in}, {fan_out}, {nonlinearity!r})"
        got = _as_float(call(init_std, fan_in, fan_out, nonlinearity, what=what), what)
        expected = _torch_init_std(fan_in, fan_out, nonlinearity)
        if not math.isfinite(got) or not math.isclose(got, expected, rel_tol=1e-6):
            scheme = "kaiming_normal_" if nonlinearity == "relu" else "xavier_normal_(gain=...)"
            ratio = f" ({got / expected:.4g} times torch's)" if math.isfinite(got) else ""
            raise ExerciseFailed(
                f"value: {what} returned {got:.6g}, but torch.nn.init.{scheme} draws an "
                f"nn.Linear({fan_in}, {fan_out}) weight with std {expected:.6g}{ratio}"
            )
    passed(
        "init_std",
        f"It matches the std of torch.nn.init's Kaiming (ReLU) and Xavier (tanh, sigmoid, "
        f"linear) draws on {len(cases)} layer shapes.",
    )


# --- 2. gradient clipping by global norm, for any p-norm -------------------------------------


def _parameters_with_grads(
    generator: torch.Generator, scale: float, zero: bool = False
) -> list[nn.Parameter]:
    """Four float64 parameters of different shapes; the third has no gradient."""
    shapes = [(5, 3), (5,), (4, 5), (2, 4, 3)]
    parameters = []
    for index, shape in enumerate(shapes):
        param = nn.Parameter(torch.randn(shape, dtype=torch.float64, generator=generator))
        if index != 2:  # a frozen or unused parameter: .grad stays None
            grad = torch.randn(shape, dtype=torch.float64, generator=generator) * scale
            param.grad = torch.zeros_like(grad) if zero else grad
        parameters.append(param)
    return parameters


def check_clip_grad_norm(
    clip_grad_norm: Callable[[list[nn.Parameter], float, float], torch.Tensor],
) -> None:
    r"""Check ``clip_grad_norm(parameters, max_norm, norm_type)`` against PyTorch's.

    The answer must compute the norm $\lVert g \rVert_p$ of all the gradients together (as one
    vector; $p = \infty$ means the largest $|g_i|$), scale every ``.grad`` in place by
    $\min(1, c / \lVert g \rVert_p)$ with $c$ = ``max_norm`` (PyTorch adds $10^{-6}$ to the norm
    in the division; with or without it the answer passes), skip parameters whose ``.grad`` is
    ``None``, and return the norm from *before* clipping. It is compared with
    ``torch.nn.utils.clip_grad_norm_`` on copies of the same gradients: a norm above
    ``max_norm``, one below it (nothing may change), $p = 1$ and $p = \infty$, and gradients
    that are all zero.

    Args:
        clip_grad_norm: The reader's function; it changes the gradients in place and returns
            the total norm (a tensor or a float).

    Raises:
        ExerciseFailed: If the returned norm or a clipped gradient differs from PyTorch's, or
            the answer crashes or is still a stub.
    """
    generator = torch.Generator().manual_seed(0)
    cases = [  # (description, gradient scale, max_norm, norm_type, all-zero gradients)
        ("a global 2-norm above max_norm", 3.0, 1.0, 2.0, False),
        ("a global 2-norm below max_norm (nothing to clip)", 0.1, 5.0, 2.0, False),
        ("norm_type=1", 1.0, 2.0, 1.0, False),
        ("norm_type=inf (the largest |g_i|)", 1.0, 0.5, math.inf, False),
        ("norm_type=inf below max_norm", 0.1, 5.0, math.inf, False),
        ("all-zero gradients", 1.0, 1.0, 2.0, True),
    ]
    for description, scale, max_norm, norm_type, zero in cases:
        state = generator.get_state()
        ours = _parameters_with_grads(generator, scale, zero)
        generator.set_state(state)
        theirs = _parameters_with_grads(generator, scale, zero)
        expected_norm = nn.utils.clip_grad_norm_(theirs, max_norm, norm_type=norm_type)
        what = f"clip_grad_norm(parameters, max_norm={max_norm:g}, norm_type={norm_type:g})"
        got_norm = call(clip_grad_norm, ours, max_norm, norm_type, what=what)
        assert_close(
            torch.as_tensor(got_norm),
            expected_norm,
            f"the returned total norm (before clipping), with {description}",
            rtol=1e-6,
            atol=1e-12,
        )
        for index, (mine, reference) in enumerate(zip(ours, theirs, strict=True)):
            if reference.grad is None:
                if mine.grad is not None:
                    raise ExerciseFailed(
                        f"gradient: parameter {index} had no .grad, but after {what} it has "
                        "one: skip parameters whose .grad is None"
                    )
                continue
            if mine.grad is None:
                raise ExerciseFailed(f"gradient: {what} removed the .grad of parameter {index}")
            assert_close(
                mine.grad,
                reference.grad,
                f"gradient of parameter {index} after clipping, with {description}",
                rtol=1e-5,
                atol=1e-12,
            )
    passed(
        "clip_grad_norm",
        "The norms and clipped gradients match torch.nn.utils.clip_grad_norm_ for the 1-, 2- and "
        "inf-norms, above and below max_norm, with zeros and with a missing .grad.",
    )


# --- 3. a data-dependent initialisation: every layer's output at unit variance ---------------


def _deep_net(activation: type[nn.Module], depth: int, generator: torch.Generator) -> nn.Module:
    """A float64 MLP of ``depth`` hidden layers of width 48 with tiny N(0, 0.01^2) weights."""
    layers: list[nn.Module] = []
    width_in = 32
    for _ in range(depth):
        linear = nn.Linear(width_in, 48, dtype=torch.float64)
        with torch.no_grad():
            linear.weight.normal_(0.0, 0.01, generator=generator)
            linear.bias.zero_()
        layers += [linear, activation()]
        width_in = 48
    output = nn.Linear(48, 10, dtype=torch.float64)
    with torch.no_grad():
        output.weight.normal_(0.0, 0.01, generator=generator)
        output.bias.zero_()
    return nn.Sequential(*layers, output)


def _linear_output_stds(model: nn.Module, x: torch.Tensor) -> list[float]:
    """``z.std()`` of every ``nn.Linear``'s output on ``x``, in order, recorded with hooks."""
    stds: list[float] = []
    handles = [
        module.register_forward_hook(lambda module, inputs, z: stds.append(z.std().item()))
        for module in model.modules()
        if isinstance(module, nn.Linear)
    ]
    try:
        with torch.no_grad():
            model(x)
    finally:
        for handle in handles:
            handle.remove()
    return stds


def _smallest_weight_gradient(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """The smallest gradient norm of a Linear weight after one backward pass of cross-entropy."""
    model.zero_grad(set_to_none=True)
    nn.functional.cross_entropy(model(x), y).backward()
    norms = [m.weight.grad.norm().item() for m in model.modules() if isinstance(m, nn.Linear)]
    model.zero_grad(set_to_none=True)
    return min(norms)


def check_unit_variance_init(
    unit_variance_init: Callable[[nn.Module, torch.Tensor], nn.Module],
) -> None:
    r"""Check ``unit_variance_init(model, x)``, which rescales each layer to unit output std.

    The answer gets an ``nn.Sequential`` of ``nn.Linear`` layers and activations and a batch
    ``x``. Going through the ``Linear`` layers from input to output, it must multiply each one's
    weight by a positive number so that the layer's output $z_l$ on ``x`` has standard deviation
    1 (``z.std()`` over all its entries), with the layers before it already rescaled, and
    return the model. Biases are 0 in the check and must stay so. It is run on a 20-layer tanh
    network and a 20-layer ReLU network whose weights are $\mathcal{N}(0, 0.01^2)$, in float64;
    every ``Linear`` output's std must then be 1 within $10^{-6}$.

    Args:
        unit_variance_init: The reader's function; it changes the model in place and returns
            it.

    Raises:
        ExerciseFailed: If a weight was not rescaled by a positive factor, a bias changed, or a
            layer's output std is not 1; or the answer crashes or is still a stub.
    """
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(256, 32, dtype=torch.float64, generator=generator)  # (B, 32)
    y = torch.randint(0, 10, (256,), generator=generator)  # (B,)
    report = []
    for activation in (nn.Tanh, nn.ReLU):
        model = _deep_net(activation, 20, generator)
        linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
        initial_weights = [m.weight.detach().clone() for m in linears]
        smallest_before = _smallest_weight_gradient(model, x, y)
        what = f"unit_variance_init(model, x) on a 20-layer {activation.__name__} network"
        returned = call(unit_variance_init, model, x.clone(), what=what)
        if not isinstance(returned, nn.Module):
            raise ExerciseFailed(
                f"{what} returned a {type(returned).__name__}: return the model you rescaled"
            )
        for index, (layer, before) in enumerate(zip(linears, initial_weights, strict=True), 1):
            after = layer.weight.detach()
            if after.shape != before.shape or not torch.isfinite(after).all():
                raise ExerciseFailed(
                    f"value: after {what}, Linear layer {index}'s weight has shape "
                    f"{tuple(after.shape)} or non-finite entries"
                )
            factor = after.flatten()[0] / before.flatten()[0]
            if factor <= 0 or not torch.allclose(after, factor * before, rtol=1e-9, atol=0):
                raise ExerciseFailed(
                    f"value: after {what}, Linear layer {index}'s weight is not its initial "
                    "weight times one positive number: rescale each weight, don't redraw it"
                )
            if layer.bias is not None and layer.bias.detach().abs().max() > 0:
                raise ExerciseFailed(
                    f"value: {what} changed the bias of Linear layer {index}: leave biases at 0"
                )
        stds = _linear_output_stds(model, x)
        for index, std in enumerate(stds, 1):
            if not math.isclose(std, 1.0, rel_tol=1e-6):
                raise ExerciseFailed(
                    f"value: after {what}, the output of Linear layer {index} (of {len(stds)}) "
                    f"has std {std:.6g} on x, expected 1"
                )
        smallest_after = _smallest_weight_gradient(model, x, y)
        report.append(f"{activation.__name__} {smallest_before:.0e} -> {smallest_after:.2g}")
    passed(
        "unit_variance_init",
        "Every Linear output has std 1 in the 20-layer tanh and ReLU networks; the smallest "
        "weight-gradient norm went from " + ", ".join(report) + ".",
    )
