"""Checks for the exercises of the autoencoders page.

Explained on the page [Autoencoders](../architectures/autoencoders.md#exercises).

Each check computes its reference with PyTorch inside the check: the KL divergence with
``torch.distributions.kl_divergence`` between ``Normal`` distributions, the reparameterised
sample with ``Normal(mu, sigma).rsample()`` on the same noise (gradients by autograd), and the
masking noise by counting what the answer zeroed. When an answer is wrong, the check tries the
usual mistakes on the same input and names the one it matches.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch.distributions import Normal, kl_divergence

from dlref.exercises.checking import ExerciseFailed, assert_close, call, passed

__all__ = ["check_gaussian_kl", "check_mask_noise", "check_reparameterize"]


def _name_the_mistake(got: object, mistakes: dict[str, torch.Tensor]) -> str:
    """``"; <hint>"`` for the first usual mistake whose result equals ``got``, else ``""``."""
    if not isinstance(got, torch.Tensor):
        return ""
    for hint, wrong in mistakes.items():
        if got.shape == wrong.shape and torch.allclose(
            got.detach().double(), wrong.double(), rtol=1e-6, atol=1e-8
        ):
            return f"; {hint}"
    return ""


def _compare(got: object, expected: torch.Tensor, what: str, mistakes: dict) -> None:
    """``assert_close``, with the matching usual mistake added to the hint."""
    try:
        assert_close(got, expected, what, rtol=1e-9, atol=1e-9)
    except ExerciseFailed as failure:
        hint = _name_the_mistake(got, mistakes)
        if hint:
            raise ExerciseFailed(f"{failure}{hint}") from None
        raise


# --- 1. the closed-form KL divergence to N(0, I) ---------------------------------------------


def check_gaussian_kl(gaussian_kl: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> None:
    r"""Check ``gaussian_kl(mu, logvar)``: the KL divergence of each row's Gaussian to N(0, I).

    ``mu`` and ``logvar`` have shape ``(B, d_z)``; the answer must return the divergence of
    each row, shape ``(B,)``: $\tfrac{1}{2} \sum_j (\mu_j^2 + \sigma_j^2 - 1 - \log \sigma_j^2)$
    with $\sigma^2 = e^{\text{logvar}}$. Values and the gradients with respect to ``mu`` and
    ``logvar`` are compared with ``torch.distributions.kl_divergence`` summed over the last
    dimension, in float64.

    Args:
        gaussian_kl: The reader's function.

    Raises:
        ExerciseFailed: If a value or gradient differs (the hint names the usual mistake it
            matches), or the answer crashes or is still a stub.
    """
    generator = torch.Generator().manual_seed(0)
    for b, d in [(4, 2), (3, 5)]:
        mu = 1.5 * torch.randn(b, d, generator=generator, dtype=torch.float64)
        logvar = torch.randn(b, d, generator=generator, dtype=torch.float64)
        upstream = torch.randn(b, generator=generator, dtype=torch.float64)
        ref_mu, ref_logvar = mu.clone().requires_grad_(), logvar.clone().requires_grad_()
        q = Normal(ref_mu, torch.exp(0.5 * ref_logvar))
        expected = kl_divergence(q, Normal(0.0, 1.0)).sum(-1)  # (B,)
        expected_grads = torch.autograd.grad(expected, [ref_mu, ref_logvar], upstream)
        var = logvar.exp()
        mistakes = {
            "it matches leaving out the 1/2 in front of the sum": (
                (mu**2 + var - 1 - logvar).sum(-1)
            ),
            "it matches a mean over the code dimensions: the KL of a diagonal Gaussian is a sum": (
                0.5 * (mu**2 + var - 1 - logvar).mean(-1)
            ),
            "it matches using sigma = e^(logvar / 2) where sigma^2 = e^logvar belongs": (
                0.5 * (mu**2 + (0.5 * logvar).exp() - 1 - logvar).sum(-1)
            ),
            "it matches a + log(sigma^2) where the formula subtracts it": (
                0.5 * (mu**2 + var - 1 + logvar).sum(-1)
            ),
            "it matches forgetting the - 1 per dimension (then the KL of N(0, I) to itself is "
            "not 0)": 0.5 * (mu**2 + var - logvar).sum(-1),
            "it matches one number for the whole batch: sum over the last dimension only": (
                0.5 * (mu**2 + var - 1 - logvar).sum().expand(b)
            ),
        }
        mine_mu, mine_logvar = mu.clone().requires_grad_(), logvar.clone().requires_grad_()
        what = f"gaussian_kl(mu, logvar) with mu and logvar of shape ({b}, {d})"
        got = call(gaussian_kl, mine_mu, mine_logvar, what=what)
        if isinstance(got, torch.Tensor) and got.dim() == 0:
            raise ExerciseFailed(
                f"shape: {what} returned a scalar, expected shape ({b},): one divergence per "
                "row, summed over the last dimension only"
            )
        _compare(got, expected.detach(), f"value of {what}", mistakes)
        hint = "compute it with torch operations on mu and logvar (no .detach(), .item(), NumPy)"
        _compare_gradients(got, (mine_mu, mine_logvar), upstream, expected_grads, what, hint)
    passed(
        "gaussian_kl",
        "Values and gradients match torch.distributions.kl_divergence summed over the code.",
    )


# --- 2. the reparameterisation trick ----------------------------------------------------------


def check_reparameterize(
    reparameterize: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor],
) -> None:
    r"""Check ``reparameterize(mu, logvar, eps)``: the sample $z = \mu + \sigma \odot \varepsilon$.

    The answer gets the standard normal noise ``eps`` and must return $z$ of ``mu``'s shape,
    with $\sigma = e^{\text{logvar} / 2}$, differentiable in ``mu`` and ``logvar``. Values and
    gradients are compared with ``torch.distributions.Normal(mu, sigma).rsample()`` on the same
    noise, in float64.

    Args:
        reparameterize: The reader's function.

    Raises:
        ExerciseFailed: If a value or gradient differs (the hint names the usual mistake it
            matches), gradients do not flow, or the answer crashes or is still a stub.
    """
    generator = torch.Generator().manual_seed(1)
    for shape in [(4, 2), (3, 5)]:
        mu = torch.randn(shape, generator=generator, dtype=torch.float64)
        logvar = torch.randn(shape, generator=generator, dtype=torch.float64)
        upstream = torch.randn(shape, generator=generator, dtype=torch.float64)
        ref_mu, ref_logvar = mu.clone().requires_grad_(), logvar.clone().requires_grad_()
        seed = int(torch.randint(0, 2**31, (1,), generator=generator))
        state = torch.get_rng_state()
        torch.manual_seed(seed)
        expected = Normal(ref_mu, torch.exp(0.5 * ref_logvar)).rsample()
        torch.set_rng_state(state)
        eps = torch.randn(shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
        expected_grads = torch.autograd.grad(expected, [ref_mu, ref_logvar], upstream)
        mistakes = {
            "it matches scaling eps by the variance e^logvar: the standard deviation is "
            "sigma = e^(logvar / 2)": mu + logvar.exp() * eps,
            "it matches scaling eps by logvar itself: sigma = e^(logvar / 2)": mu + logvar * eps,
            "it matches returning the mean without noise": mu,
            "it matches adding the noise unscaled: multiply eps by sigma": mu + eps,
        }
        mine_mu, mine_logvar = mu.clone().requires_grad_(), logvar.clone().requires_grad_()
        what = f"reparameterize(mu, logvar, eps) with tensors of shape {shape}"
        got = call(reparameterize, mine_mu, mine_logvar, eps.clone(), what=what)
        if isinstance(got, torch.Tensor) and got.shape == shape and not torch.allclose(
            got.detach().double(), expected.detach(), rtol=1e-9, atol=1e-9
        ) and not _name_the_mistake(got, mistakes):  # fmt: skip
            raise ExerciseFailed(
                f"value of {what} differs from mu + sigma * eps with the eps you are given "
                "(fresh noise from torch.randn_like, or a sign, would do that)"
            )
        _compare(got, expected.detach(), f"value of {what}", mistakes)
        hint = (
            "build z from mu and logvar with torch operations "
            "(torch.normal(mu, sigma) does not pass gradients)"
        )
        _compare_gradients(got, (mine_mu, mine_logvar), upstream, expected_grads, what, hint)
    passed(
        "reparameterize",
        "Samples and gradients match torch.distributions.Normal(mu, sigma).rsample().",
    )


def _compare_gradients(got, inputs, upstream, expected_grads, what: str, hint: str) -> None:
    """Compare the gradients of ``got`` with respect to ``(mu, logvar)`` with the reference's."""
    if not got.requires_grad:
        raise ExerciseFailed(f"gradient: the output of {what} does not require grad: {hint}")
    grads = torch.autograd.grad(got, list(inputs), upstream, allow_unused=True)
    for name, grad, want in zip(("mu", "logvar"), grads, expected_grads, strict=True):
        if grad is None:
            raise ExerciseFailed(f"gradient: the output of {what} does not depend on {name}")
        assert_close(grad, want, f"gradient of {name} for {what}", rtol=1e-9, atol=1e-9)


# --- 3. masking noise for a denoising autoencoder ---------------------------------------------


def check_mask_noise(
    mask_noise: Callable[[torch.Tensor, float, torch.Generator], torch.Tensor],
) -> None:
    r"""Check ``mask_noise(x, fraction, generator)``: each entry set to 0 with that probability.

    The answer must return a new tensor of ``x``'s shape in which each entry is, independently,
    0 with probability ``fraction`` and left exactly as it was otherwise (no rescaling, unlike
    dropout), drawing its randomness from ``generator``, so that the same seed gives the same
    corruption, and leaving ``x`` itself unchanged. The check counts the zeros on 200,000
    entries (within 1 percentage point of ``fraction``), for fractions 0.25 and 0.6.

    Args:
        mask_noise: The reader's function.

    Raises:
        ExerciseFailed: If the fraction zeroed is off (the hint says when it is ``1 - fraction``),
            kept entries changed (rescaled?), ``x`` was modified, the generator is not used, or
            the answer crashes or is still a stub.
    """
    x = torch.rand(400, 500, generator=torch.Generator().manual_seed(2)) + 0.5  # no zeros
    for fraction in (0.25, 0.6):
        original = x.clone()
        what = f"mask_noise(x, {fraction}, generator) on x of shape (400, 500)"
        got = call(mask_noise, x, fraction, torch.Generator().manual_seed(3), what=what)
        if not torch.equal(x, original):
            raise ExerciseFailed(
                f"{what} changed x itself: return a new tensor (x * keep), do not write into x"
            )
        if not isinstance(got, torch.Tensor):
            raise ExerciseFailed(f"{what}: expected a torch.Tensor, got {type(got).__name__}")
        if got.shape != x.shape:
            raise ExerciseFailed(f"shape: {what} has shape {tuple(got.shape)}, expected (400, 500)")
        zeroed = got == 0
        share = zeroed.float().mean().item()
        if abs(share - fraction) > 0.01:
            hint = ""
            if abs(share - (1 - fraction)) <= 0.01:
                hint = ": that is 1 - fraction, so the mask keeps where it should zero"
            raise ExerciseFailed(
                f"value: {what} zeroed {share:.1%} of the entries, expected about "
                f"{fraction:.0%}{hint}"
            )
        kept = ~zeroed
        if not torch.equal(got[kept], x[kept]):
            ratio = (got[kept] / x[kept]).mean().item()
            hint = ""
            if abs(ratio - 1 / (1 - fraction)) < 1e-3:
                hint = (
                    f": they were multiplied by 1 / (1 - fraction) = {ratio:.3g}, as dropout "
                    "does; masking noise leaves the kept entries as they are"
                )
            raise ExerciseFailed(f"value: {what} changed the entries it kept{hint}")
        again = call(mask_noise, x, fraction, torch.Generator().manual_seed(3), what=what)
        other = call(mask_noise, x, fraction, torch.Generator().manual_seed(4), what=what)
        if not torch.equal(got, again) or torch.equal(got, other):
            raise ExerciseFailed(
                f"randomness: {what} does not follow the generator: draw with "
                "torch.rand(x.shape, generator=generator), so that one seed gives one mask"
            )
    passed(
        "mask_noise",
        "It zeroes the right fraction, keeps the rest unchanged and follows the generator.",
    )
