"""The autoencoders page's exercise checks refuse stubs and typical mistakes, with a hint.

The page's own run proves that its solutions pass; here every check meets blank stubs and
plausible wrong answers, and each hint must name what differs.
"""

import pytest
import torch

from dlref.exercises import (
    ExerciseFailed,
    check_gaussian_kl,
    check_mask_noise,
    check_reparameterize,
)
from dlref.models import autoencoder

# --- gaussian_kl -----------------------------------------------------------------------------


def kl_right(mu, logvar):
    return 0.5 * (mu**2 + logvar.exp() - 1 - logvar).sum(-1)


def test_gaussian_kl_passes_the_formula_and_dlref(capsys):
    check_gaussian_kl(kl_right)
    check_gaussian_kl(autoencoder.gaussian_kl)
    assert capsys.readouterr().out.count("Correct: gaussian_kl") == 2


def stub_kl(mu, logvar): ...


def stub_kl_raising(mu, logvar):
    raise NotImplementedError


@pytest.mark.parametrize(
    ("answer", "match"),
    [
        (stub_kl, r"returned None: replace the stub"),
        (stub_kl_raising, r"still raises NotImplementedError"),
        (lambda m, lv: (m**2 + lv.exp() - 1 - lv).sum(-1), r"leaving out the 1/2"),
        (lambda m, lv: 0.5 * (m**2 + lv.exp() - 1 - lv).mean(-1), r"a mean over the code"),
        (
            lambda m, lv: 0.5 * (m**2 + (0.5 * lv).exp() - 1 - lv).sum(-1),
            r"sigma = e\^\(logvar / 2\) where sigma\^2 = e\^logvar belongs",
        ),
        (lambda m, lv: 0.5 * (m**2 + lv.exp() - 1 + lv).sum(-1), r"a \+ log\(sigma\^2\)"),
        (lambda m, lv: 0.5 * (m**2 + lv.exp() - lv).sum(-1), r"forgetting the - 1"),
        (lambda m, lv: 0.5 * (m**2 + lv.exp() - 1 - lv).sum(), r"returned a scalar, expected"),
        (lambda m, lv: 0.5 * (m**2 + lv.exp() - 1 - lv), r"shape \(4, 2\), expected \(4,\)"),
        (
            lambda m, lv: torch.tensor(kl_right(m, lv).tolist(), dtype=torch.float64),
            r"does not require grad",
        ),
        (lambda m, lv: 0.5 * (m.abs() + lv.exp() - 1 - lv).sum(-1), r"value of gaussian_kl"),
    ],
)
def test_gaussian_kl_names_the_mistake(answer, match):
    with pytest.raises(ExerciseFailed, match=match):
        check_gaussian_kl(answer)


# --- reparameterize --------------------------------------------------------------------------


def reparameterize_right(mu, logvar, eps):
    return mu + torch.exp(0.5 * logvar) * eps


def test_reparameterize_passes_the_formula_and_dlref(capsys):
    check_reparameterize(reparameterize_right)
    check_reparameterize(autoencoder.reparameterize)
    assert capsys.readouterr().out.count("Correct: reparameterize") == 2


@pytest.mark.parametrize(
    ("answer", "match"),
    [
        (lambda m, lv, e: None, r"returned None: replace the stub"),
        (lambda m, lv, e: m + lv.exp() * e, r"scaling eps by the variance"),
        (lambda m, lv, e: m + lv * e, r"scaling eps by logvar itself"),
        (lambda m, lv, e: m * 1.0, r"the mean without noise"),
        (lambda m, lv, e: m + e, r"adding the noise unscaled"),
        (
            lambda m, lv, e: m + torch.exp(0.5 * lv) * torch.randn_like(e),
            r"with the eps you are given",
        ),
        (lambda m, lv, e: (m + torch.exp(0.5 * lv) * e).detach(), r"does not require grad"),
        (lambda m, lv, e: m.detach() + torch.exp(0.5 * lv) * e, r"does not depend on mu"),
        (lambda m, lv, e: (m + torch.exp(0.5 * lv) * e)[:2], r"shape"),
    ],
)
def test_reparameterize_names_the_mistake(answer, match):
    with pytest.raises(ExerciseFailed, match=match):
        check_reparameterize(answer)


# --- mask_noise ------------------------------------------------------------------------------


def mask_right(x, fraction, generator):
    return x * (torch.rand(x.shape, generator=generator) >= fraction)


def test_mask_noise_passes_the_solution_and_dlref(capsys):
    check_mask_noise(mask_right)
    check_mask_noise(lambda x, p, g: autoencoder.corrupt(x, "mask", p, g))
    assert capsys.readouterr().out.count("Correct: mask_noise") == 2


def mask_in_place(x, fraction, generator):
    x[torch.rand(x.shape, generator=generator) < fraction] = 0
    return x


@pytest.mark.parametrize(
    ("answer", "match"),
    [
        (lambda x, p, g: None, r"returned None: replace the stub"),
        (
            lambda x, p, g: x * (torch.rand(x.shape, generator=g) < p),
            r"zeroed 75.0% of the entries, expected about 25%: that is 1 - fraction",
        ),
        (
            lambda x, p, g: x * (torch.rand(x.shape, generator=g) >= p) / (1 - p),
            r"changed the entries it kept: they were multiplied by 1 / \(1 - fraction\)",
        ),
        (lambda x, p, g: torch.nn.functional.dropout(x, p), r"changed the entries it kept"),
        (lambda x, p, g: x * (torch.rand(x.shape) >= p), r"does not follow the generator"),
        (mask_in_place, r"changed x itself"),
        (lambda x, p, g: x.clone(), r"zeroed 0.0% of the entries"),
        (lambda x, p, g: x.flatten(), r"shape: .* has shape \(200000,\)"),
        (lambda x, p, g: [0.0], r"expected a torch.Tensor, got list"),
    ],
)
def test_mask_noise_names_the_mistake(answer, match):
    with pytest.raises(ExerciseFailed, match=match):
        check_mask_noise(answer)
