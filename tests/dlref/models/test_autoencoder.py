"""dlref.models.autoencoder against torch: shapes, the Gaussian KL and the reparameterisation
against torch.distributions (values and gradients, float64), the ELBO against F's losses,
state_dict round trips, determinism with a seed, and every error message.
"""

import re

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.distributions import Normal, kl_divergence

from dlref.models.autoencoder import (
    VAE,
    ConvAutoencoder,
    MLPAutoencoder,
    corrupt,
    elbo_loss,
    gaussian_kl,
    reconstruction_error,
    reparameterize,
    train_autoencoder,
)
from dlref.train import TrainingDiverged
from tests.dlref.compare import F64, TOL

# --- shapes and layouts ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("hidden", "latent_dim", "sigmoid_output"),
    [((128,), 2, True), ((32, 16), 4, True), ((), 3, False)],
)
def test_mlp_autoencoder_shapes_and_layers(hidden, latent_dim, sigmoid_output):
    model = MLPAutoencoder(64, hidden, latent_dim, sigmoid_output)
    x = torch.rand(5, 64)
    assert model.encode(x).shape == (5, latent_dim)
    assert model.decode(torch.randn(5, latent_dim)).shape == (5, 64)
    assert model(x).shape == (5, 64)
    linears = [m for m in model.encoder if isinstance(m, nn.Linear)]
    assert [m.out_features for m in linears] == [*hidden, latent_dim]
    assert isinstance(model.encoder[-1], nn.Linear)  # the code is affine, no activation
    decoder_linears = [m for m in model.decoder if isinstance(m, nn.Linear)]
    assert [m.out_features for m in decoder_linears] == [*hidden[::-1], 64]
    assert isinstance(model.decoder[-1], nn.Sigmoid) == sigmoid_output
    if sigmoid_output:
        assert ((model(x) > 0) & (model(x) < 1)).all()


def test_linear_autoencoder_is_two_affine_maps():
    model = MLPAutoencoder(64, (), 4, sigmoid_output=False).double()
    assert [type(m) for m in model.encoder] == [nn.Linear]
    assert [type(m) for m in model.decoder] == [nn.Linear]
    x = torch.randn(7, 64, dtype=F64)
    w1, b1 = model.encoder[0].weight, model.encoder[0].bias
    w2, b2 = model.decoder[0].weight, model.decoder[0].bias
    torch.testing.assert_close(model(x), (x @ w1.T + b1) @ w2.T + b2, **TOL)


@pytest.mark.parametrize(
    ("in_channels", "image_size", "channels", "sides"),
    [(1, 8, (16, 32), [4, 2]), (3, 16, (4, 8, 6), [8, 4, 2]), (2, 4, (5,), [2])],
)
def test_conv_autoencoder_halves_then_doubles_the_side(in_channels, image_size, channels, sides):
    model = ConvAutoencoder(in_channels, image_size, channels, latent_dim=6)
    x = torch.rand(3, in_channels, image_size, image_size)
    h = x
    for conv_block, side, c in zip(range(len(channels)), sides, channels, strict=True):
        h = model.encoder[2 * conv_block + 1](model.encoder[2 * conv_block](h))
        assert h.shape == (3, c, side, side)
    assert model.encode(x).shape == (3, 6)
    out = model(x)
    assert out.shape == x.shape
    assert ((out > 0) & (out < 1)).all()
    transposed = [m for m in model.decoder if isinstance(m, nn.ConvTranspose2d)]
    assert [m.out_channels for m in transposed] == [*channels[::-1][1:], in_channels]


def test_vae_shapes_and_sample():
    model = VAE(64, (32,), 3)
    x = torch.rand(5, 64)
    x_hat, mu, logvar = model(x)
    assert x_hat.shape == (5, 64) and mu.shape == (5, 3) and logvar.shape == (5, 3)
    assert ((x_hat > 0) & (x_hat < 1)).all()
    assert model.sample(7).shape == (7, 64)
    assert not model.sample(2).requires_grad
    no_hidden = VAE(10, (), 2)
    assert no_hidden(torch.rand(4, 10))[0].shape == (4, 10)


def test_vae_forward_is_decode_of_the_reparameterised_mean_and_logvar():
    torch.manual_seed(0)
    model = VAE(64, (32,), 3).double()
    x = torch.rand(6, 64, dtype=F64)
    x_hat, mu, logvar = model(x, generator=torch.Generator().manual_seed(5))
    eps = torch.randn(6, 3, generator=torch.Generator().manual_seed(5), dtype=F64)
    torch.testing.assert_close(x_hat, model.decode(mu + torch.exp(0.5 * logvar) * eps), **TOL)
    torch.testing.assert_close((mu, logvar), model.encode(x), **TOL)


@pytest.mark.parametrize(
    "make",
    [
        lambda: MLPAutoencoder(64, (32,), 2),
        lambda: ConvAutoencoder(1, 8, (4, 8), 5),
        lambda: VAE(64, (32,), 2),
    ],
    ids=["mlp", "conv", "vae"],
)
def test_state_dict_loads_into_a_fresh_model(make):
    torch.manual_seed(0)
    trained = make()
    torch.manual_seed(1)
    fresh = make()
    fresh.load_state_dict(trained.state_dict())  # strict: same keys and shapes
    for name, tensor in trained.state_dict().items():
        assert torch.equal(fresh.state_dict()[name], tensor)
    x = torch.rand(3, 1, 8, 8) if isinstance(trained, ConvAutoencoder) else torch.rand(3, 64)
    if isinstance(trained, VAE):
        torch.testing.assert_close(fresh.encode(x), trained.encode(x))
    else:
        torch.testing.assert_close(fresh(x), trained(x))


# --- the KL divergence, the reparameterisation and the ELBO against torch --------------------


def _leaves(*tensors):
    return [t.detach().clone().requires_grad_() for t in tensors]


def test_kl_to_standard_normal_matches_torch_distributions_values_and_grads():
    generator = torch.Generator().manual_seed(0)
    mu = 2 * torch.randn(6, 5, generator=generator, dtype=F64)
    logvar = 3 * torch.randn(6, 5, generator=generator, dtype=F64)  # variances e^-9 .. e^9
    upstream = torch.randn(6, generator=generator, dtype=F64)
    mu1, logvar1 = _leaves(mu, logvar)
    ours = gaussian_kl(mu1, logvar1)
    mu2, logvar2 = _leaves(mu, logvar)
    q = Normal(mu2, torch.exp(0.5 * logvar2))
    prior = Normal(torch.zeros_like(mu2), torch.ones_like(mu2))
    theirs = kl_divergence(q, prior).sum(dim=-1)  # (6,)
    assert ours.shape == (6,)
    torch.testing.assert_close(ours, theirs, **TOL)
    ours_grads = torch.autograd.grad(ours, [mu1, logvar1], upstream)
    theirs_grads = torch.autograd.grad(theirs, [mu2, logvar2], upstream)
    torch.testing.assert_close(ours_grads, theirs_grads, **TOL)
    # The textbook form: 1/2 sum(mu^2 + sigma^2 - 1 - log sigma^2).
    textbook = 0.5 * (mu**2 + logvar.exp() - 1 - logvar).sum(-1)
    torch.testing.assert_close(ours.detach(), textbook, **TOL)


def test_kl_between_two_diagonal_gaussians_matches_torch_values_and_grads():
    generator = torch.Generator().manual_seed(1)
    shape = (3, 4, 5)  # extra leading dims: the sum is over the last only
    params = [torch.randn(shape, generator=generator, dtype=F64) for _ in range(4)]
    upstream = torch.randn(shape[:-1], generator=generator, dtype=F64)
    ours_leaves = _leaves(*params)
    ours = gaussian_kl(*ours_leaves)
    theirs_leaves = _leaves(*params)
    mu, logvar, mu_p, logvar_p = theirs_leaves
    theirs = kl_divergence(
        Normal(mu, torch.exp(0.5 * logvar)), Normal(mu_p, torch.exp(0.5 * logvar_p))
    ).sum(-1)
    assert ours.shape == shape[:-1]
    torch.testing.assert_close(ours, theirs, **TOL)
    torch.testing.assert_close(
        torch.autograd.grad(ours, ours_leaves, upstream),
        torch.autograd.grad(theirs, theirs_leaves, upstream),
        **TOL,
    )


def test_kl_is_zero_for_equal_distributions_and_broadcasts_the_prior():
    mu = torch.randn(4, 3, dtype=F64)
    logvar = torch.randn(4, 3, dtype=F64)
    torch.testing.assert_close(gaussian_kl(mu, logvar, mu, logvar), torch.zeros(4, dtype=F64))
    torch.testing.assert_close(gaussian_kl(torch.zeros(2, 3), torch.zeros(2, 3)), torch.zeros(2))
    prior_mu, prior_logvar = torch.full((3,), 0.5, dtype=F64), torch.full((3,), -1.0, dtype=F64)
    broadcast = gaussian_kl(mu, logvar, prior_mu, prior_logvar)
    expanded = gaussian_kl(mu, logvar, prior_mu.expand(4, 3), prior_logvar.expand(4, 3))
    torch.testing.assert_close(broadcast, expanded, **TOL)
    assert (gaussian_kl(mu, logvar) > 0).all()


def test_reparameterisation_matches_rsample_values_and_grads():
    generator = torch.Generator().manual_seed(2)
    mu = torch.randn(8, 3, generator=generator, dtype=F64)
    logvar = torch.randn(8, 3, generator=generator, dtype=F64)
    upstream = torch.randn(8, 3, generator=generator, dtype=F64)
    mu1, logvar1 = _leaves(mu, logvar)
    ours = reparameterize(mu1, logvar1, generator=torch.Generator().manual_seed(7))
    mu2, logvar2 = _leaves(mu, logvar)
    torch.manual_seed(7)  # rsample draws from the global generator: the same noise
    theirs = Normal(mu2, torch.exp(0.5 * logvar2)).rsample()
    torch.testing.assert_close(ours, theirs, **TOL)
    torch.testing.assert_close(
        torch.autograd.grad(ours, [mu1, logvar1], upstream),
        torch.autograd.grad(theirs, [mu2, logvar2], upstream),
        **TOL,
    )
    # The gradients by hand: dz/dmu = 1, dz/dlogvar = sigma * eps / 2.
    eps = (ours.detach() - mu) / torch.exp(0.5 * logvar)
    d_mu, d_logvar = torch.autograd.grad(
        reparameterize(mu1, logvar1, eps), [mu1, logvar1], upstream
    )
    torch.testing.assert_close(d_mu, upstream, **TOL)
    torch.testing.assert_close(d_logvar, upstream * 0.5 * torch.exp(0.5 * logvar) * eps, **TOL)


def test_reparameterisation_with_given_noise_and_its_distribution():
    mu, logvar = (
        torch.tensor([[1.0, -2.0]]),
        torch.tensor([[0.0, 2 * torch.log(torch.tensor(3.0))]]),
    )
    eps = torch.tensor([[0.5, -1.0]])
    torch.testing.assert_close(reparameterize(mu, logvar, eps), torch.tensor([[1.5, -5.0]]))
    many_mu, many_logvar = mu.expand(200_000, 2), logvar.expand(200_000, 2)
    z = reparameterize(many_mu, many_logvar, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(z.mean(0), mu[0], atol=0.03, rtol=0)
    torch.testing.assert_close(z.std(0), torch.tensor([1.0, 3.0]), atol=0.03, rtol=0)


def _probabilities_and_targets(shape, seed):
    generator = torch.Generator().manual_seed(seed)
    x_hat = torch.rand(shape, generator=generator, dtype=F64) * 0.98 + 0.01
    x = torch.rand(shape, generator=generator, dtype=F64)
    return x_hat, x


@pytest.mark.parametrize("shape", [(6, 64), (4, 1, 8, 8)])
def test_reconstruction_error_matches_functional_losses_summed_per_sample(shape):
    x_hat, x = _probabilities_and_targets(shape, 3)
    b = shape[0]
    mse = reconstruction_error(x_hat, x, "mse")
    bce = reconstruction_error(x_hat, x, "bce")
    assert mse.shape == bce.shape == (b,)
    torch.testing.assert_close(mse.mean(), F.mse_loss(x_hat, x, reduction="sum") / b, **TOL)
    torch.testing.assert_close(
        bce.mean(), F.binary_cross_entropy(x_hat, x, reduction="sum") / b, **TOL
    )
    per_sample = F.binary_cross_entropy(x_hat, x, reduction="none").flatten(1).sum(1)
    torch.testing.assert_close(bce, per_sample, **TOL)
    # Gradients with respect to the reconstruction agree too.
    leaf1, leaf2 = _leaves(x_hat, x_hat)
    ours = torch.autograd.grad(reconstruction_error(leaf1, x, "bce").mean(), leaf1)
    theirs = torch.autograd.grad(F.binary_cross_entropy(leaf2, x, reduction="sum") / b, leaf2)
    torch.testing.assert_close(ours, theirs, **TOL)


def test_bce_clamps_its_logarithms_like_torch():
    x_hat = torch.tensor([[0.0, 1.0, 0.0, 1.0]], dtype=F64)
    x = torch.tensor([[1.0, 0.0, 0.0, 1.0]], dtype=F64)
    ours = reconstruction_error(x_hat, x, "bce")
    torch.testing.assert_close(ours, torch.tensor([200.0], dtype=F64))
    torch.testing.assert_close(ours.sum(), F.binary_cross_entropy(x_hat, x, reduction="sum"))


@pytest.mark.parametrize(("reconstruction", "beta"), [("bce", 1.0), ("mse", 1.0), ("bce", 0.25)])
def test_elbo_equals_the_hand_computed_sum(reconstruction, beta):
    x_hat, x = _probabilities_and_targets((5, 64), 4)
    generator = torch.Generator().manual_seed(5)
    mu = torch.randn(5, 2, generator=generator, dtype=F64)
    logvar = torch.randn(5, 2, generator=generator, dtype=F64)
    ours = elbo_loss(x_hat, x, mu, logvar, reconstruction, beta)
    if reconstruction == "bce":
        error = F.binary_cross_entropy(x_hat, x, reduction="sum")  # summed over batch and pixels
    else:
        error = F.mse_loss(x_hat, x, reduction="sum")
    q = Normal(mu, torch.exp(0.5 * logvar))
    kl = kl_divergence(q, Normal(torch.zeros_like(mu), torch.ones_like(mu))).sum()
    expected = (error + beta * kl) / 5  # the sum over the batch, divided by B
    assert ours.dim() == 0
    torch.testing.assert_close(ours, expected, **TOL)


# --- corruption, training and determinism ----------------------------------------------------


def test_gaussian_corruption_adds_scaled_standard_noise():
    x = torch.rand(4, 64, dtype=F64)
    noisy = corrupt(x, "gaussian", 0.3, torch.Generator().manual_seed(0))
    eps = torch.randn(4, 64, generator=torch.Generator().manual_seed(0), dtype=F64)
    torch.testing.assert_close(noisy, x + 0.3 * eps, **TOL)
    assert torch.equal(corrupt(x, "gaussian", 0.0), x)


def test_masking_corruption_zeros_about_the_given_fraction():
    x = torch.rand(200, 500) + 0.5  # no zeros before masking
    masked = corrupt(x, "mask", 0.3, torch.Generator().manual_seed(0))
    zeroed = masked == 0
    assert abs(zeroed.float().mean().item() - 0.3) < 0.01
    assert torch.equal(masked[~zeroed], x[~zeroed])  # the rest are left as they were
    assert torch.equal(corrupt(x, "mask", 0.0), x)
    assert (corrupt(x, "mask", 1.0) == 0).all()


def test_corruption_repeats_with_the_same_generator_seed():
    x = torch.rand(3, 64)
    for noise in ("gaussian", "mask"):
        first = corrupt(x, noise, 0.5, torch.Generator().manual_seed(9))
        second = corrupt(x, noise, 0.5, torch.Generator().manual_seed(9))
        assert torch.equal(first, second)


def _digits_like(n=64):
    generator = torch.Generator().manual_seed(0)
    return torch.rand(n, 64, generator=generator)


@pytest.mark.parametrize(
    ("make", "kwargs"),
    [
        (lambda: MLPAutoencoder(64, (16,), 2), {}),
        (lambda: MLPAutoencoder(64, (16,), 2), {"noise": "gaussian", "noise_level": 0.3}),
        (lambda: MLPAutoencoder(64, (16,), 2), {"noise": "mask", "noise_level": 0.5}),
        (lambda: VAE(64, (16,), 2), {"loss": "bce"}),
    ],
    ids=["ae", "gaussian-dae", "mask-dae", "vae"],
)
def test_training_is_deterministic_with_a_seed_and_lowers_the_loss(make, kwargs):
    x = _digits_like()
    runs = []
    for _ in range(2):
        torch.manual_seed(0)
        model = make()
        losses = train_autoencoder(model, x, steps=60, lr=1e-2, batch_size=16, seed=3, **kwargs)
        runs.append((losses, model.state_dict()))
        assert not model.training  # left in eval mode
    assert runs[0][0] == runs[1][0]
    for name, tensor in runs[0][1].items():
        assert torch.equal(tensor, runs[1][1][name])
    losses = runs[0][0]
    assert len(losses) == 60
    assert sum(losses[-10:]) < sum(losses[:10])


def test_training_scores_against_the_clean_inputs():
    """With masking noise of level 1 every input is zero: the best output is the mean image."""
    x = _digits_like(32)
    torch.manual_seed(0)
    model = MLPAutoencoder(64, (8,), 2, sigmoid_output=False)
    train_autoencoder(model, x, steps=300, lr=3e-2, noise="mask", noise_level=1.0, seed=0)
    with torch.no_grad():
        out = model(torch.zeros(1, 64))[0]
    torch.testing.assert_close(out, x.mean(0), atol=2e-3, rtol=0)


def test_full_batch_training_with_bce_on_the_conv_autoencoder():
    x = _digits_like(16).reshape(16, 1, 8, 8)
    torch.manual_seed(0)
    model = ConvAutoencoder(1, 8, (4, 8), 3)
    losses = train_autoencoder(model, x, steps=30, lr=1e-2, loss="bce", seed=0)
    assert losses[-1] < losses[0]


def test_a_loss_that_turns_nan_stops_training_naming_the_step():
    x = _digits_like(8)
    x[3, 5] = float("nan")  # one bad pixel: the full-batch loss is NaN at the first step
    model = MLPAutoencoder(64, (8,), 2)
    message = (
        "training diverged: the loss is nan at step 0. Try: clean the inputs: this batch holds "
        "1 NaN or infinite values; lower the learning rate (it is 0.001)"
    )
    with pytest.raises(TrainingDiverged, match=re.escape(message)) as info:
        train_autoencoder(model, x, steps=5, seed=0)
    assert info.value.epoch is None and info.value.batch_index == 0


# --- errors ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("build", "error", "message"),
    [
        (lambda: MLPAutoencoder(0), ValueError, "MLPAutoencoder expects in_features >= 1, got 0"),
        (
            lambda: MLPAutoencoder(64.0),
            TypeError,
            "MLPAutoencoder expects in_features to be an int, got float 64.0",
        ),
        (
            lambda: MLPAutoencoder(64, 128),
            TypeError,
            "MLPAutoencoder expects hidden as a sequence of widths such as (128,), got 128",
        ),
        (
            lambda: MLPAutoencoder(64, (128, 0)),
            ValueError,
            "MLPAutoencoder expects each of hidden >= 1, got 0",
        ),
        (
            lambda: MLPAutoencoder(64, (128,), latent_dim=True),
            TypeError,
            "MLPAutoencoder expects latent_dim to be an int, got bool True",
        ),
        (lambda: VAE(64, (256,), 0), ValueError, "VAE expects latent_dim >= 1, got 0"),
        (
            lambda: VAE(64, "256"),
            TypeError,
            "VAE expects hidden as a sequence of widths such as (128,), got '256'",
        ),
        (
            lambda: ConvAutoencoder(1, 8, ()),
            ValueError,
            "ConvAutoencoder expects at least one width in channels, got ()",
        ),
        (
            lambda: ConvAutoencoder(1, 6, (16, 32)),
            ValueError,
            "ConvAutoencoder expects image_size divisible by 4 for 2 blocks (each halves the "
            "side), got 6",
        ),
        (
            lambda: ConvAutoencoder(0),
            ValueError,
            "ConvAutoencoder expects in_channels >= 1, got 0",
        ),
        (
            lambda: ConvAutoencoder(1, 8, (16, 32), latent_dim=-1),
            ValueError,
            "ConvAutoencoder expects latent_dim >= 1, got -1",
        ),
    ],
)
def test_constructor_errors(build, error, message):
    with pytest.raises(error, match=re.escape(message)):
        build()


MLP, CONV, VAE_ = MLPAutoencoder(64, (8,), 2), ConvAutoencoder(1, 8, (4, 8), 3), VAE(64, (8,), 2)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda: MLP(torch.zeros(5, 1, 8, 8)),
            "MLPAutoencoder.encode expects x of shape (B, 64), got (5, 1, 8, 8)",
        ),
        (
            lambda: MLP.decode(torch.zeros(5, 3)),
            "MLPAutoencoder.decode expects z of shape (B, 2), got (5, 3)",
        ),
        (
            lambda: CONV(torch.zeros(5, 64)),
            "ConvAutoencoder.encode expects x of shape (B, 1, 8, 8), got (5, 64)",
        ),
        (
            lambda: CONV.decode(torch.zeros(5)),
            "ConvAutoencoder.decode expects z of shape (B, 3), got (5,)",
        ),
        (lambda: VAE_(torch.zeros(5, 63)), "VAE.encode expects x of shape (B, 64), got (5, 63)"),
        (
            lambda: VAE_.decode(torch.zeros(5, 1)),
            "VAE.decode expects z of shape (B, 2), got (5, 1)",
        ),
        (lambda: VAE_.sample(0), "VAE.sample expects n >= 1, got 0"),
    ],
)
def test_wrong_input_shapes_say_what_came(call, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        call()


def test_integer_inputs_are_refused_with_their_dtype():
    message = "MLPAutoencoder.encode expects x to be a floating-point tensor, got dtype torch.int64"
    with pytest.raises(TypeError, match=re.escape(message)):
        MLP(torch.zeros(5, 64, dtype=torch.long))
    with pytest.raises(TypeError, match="ConvAutoencoder.encode expects x to be a torch.Tensor"):
        CONV([[0.0]])


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (
            lambda: corrupt(torch.arange(4), "gaussian", 0.1),
            TypeError,
            "corrupt expects x to be a floating-point tensor, got dtype torch.int64",
        ),
        (
            lambda: corrupt(torch.zeros(4), "salt", 0.1),
            ValueError,
            "corrupt expects noise to be one of 'gaussian', 'mask', got 'salt'",
        ),
        (
            lambda: corrupt(torch.zeros(4), "mask", 1.5),
            ValueError,
            "corrupt expects level in [0, 1], got 1.5",
        ),
        (
            lambda: corrupt(torch.zeros(4), "gaussian", -0.1),
            ValueError,
            "corrupt expects level >= 0, got -0.1",
        ),
        (
            lambda: corrupt(torch.zeros(4), "gaussian", "0.1"),
            TypeError,
            "corrupt expects level to be a number, got str '0.1'",
        ),
        (
            lambda: corrupt(torch.zeros(4), "gaussian", 0.1, generator=0),
            TypeError,
            "corrupt expects generator to be a torch.Generator or None, got int",
        ),
        (
            lambda: reconstruction_error(torch.zeros(2, 3), torch.zeros(2, 4)),
            ValueError,
            "reconstruction_error expects x_hat of shape (2, 4) like x, got (2, 3)",
        ),
        (
            lambda: reconstruction_error(torch.zeros(2, 3), torch.zeros(2, 3), "l1"),
            ValueError,
            "reconstruction_error expects kind to be one of 'mse', 'bce', got 'l1'",
        ),
        (
            lambda: reconstruction_error([0.0], torch.zeros(1)),
            TypeError,
            "reconstruction_error expects x_hat to be a torch.Tensor, got list",
        ),
        (
            lambda: reconstruction_error(torch.zeros(()), torch.zeros(())),
            ValueError,
            "reconstruction_error expects x with a batch dimension, got shape ()",
        ),
        (
            lambda: gaussian_kl(torch.zeros(2, 3), torch.zeros(2, 4)),
            ValueError,
            "gaussian_kl expects logvar of shape (2, 3) like mu, got (2, 4)",
        ),
        (
            lambda: gaussian_kl(torch.zeros(2, 3), torch.zeros(2, 3), torch.zeros(4)),
            ValueError,
            "gaussian_kl expects mu_p broadcastable to (2, 3), got (4,)",
        ),
        (
            lambda: gaussian_kl(torch.zeros(2, 3), torch.zeros(2, 3), None, torch.zeros(5, 2, 3)),
            ValueError,
            "gaussian_kl expects logvar_p broadcastable to (2, 3), got (5, 2, 3)",
        ),
        (
            lambda: gaussian_kl(torch.zeros(()), torch.zeros(())),
            ValueError,
            "gaussian_kl expects mu of shape (*, d_z), got ()",
        ),
        (
            lambda: gaussian_kl(torch.zeros(2, dtype=torch.long), torch.zeros(2)),
            TypeError,
            "gaussian_kl expects mu to be a floating-point tensor, got dtype torch.int64",
        ),
        (
            lambda: reparameterize(torch.zeros(2, 3), torch.zeros(3, 2)),
            ValueError,
            "reparameterize expects logvar of shape (2, 3) like mu, got (3, 2)",
        ),
        (
            lambda: reparameterize(torch.zeros(2, 3), torch.zeros(2, 3), torch.zeros(2)),
            ValueError,
            "reparameterize expects eps of shape (2, 3) like mu, got (2,)",
        ),
        (
            lambda: reparameterize(torch.zeros(2), torch.zeros(2), None, "seed"),
            TypeError,
            "reparameterize expects generator to be a torch.Generator or None, got str",
        ),
        (
            lambda: elbo_loss(
                torch.zeros(4, 8), torch.zeros(4, 8), torch.zeros(3, 2), torch.zeros(3, 2)
            ),
            ValueError,
            "elbo_loss expects mu of shape (4, d_z), got (3, 2)",
        ),
        (
            lambda: elbo_loss(
                torch.zeros(4, 8),
                torch.zeros(4, 8),
                torch.zeros(4, 2),
                torch.zeros(4, 2),
                beta=-1.0,
            ),
            ValueError,
            "elbo_loss expects beta >= 0, got -1.0",
        ),
        (
            lambda: elbo_loss(
                torch.zeros(4, 8), torch.zeros(4, 8), torch.zeros(4, 2), torch.zeros(4, 2), "l1"
            ),
            ValueError,
            "reconstruction_error expects kind to be one of 'mse', 'bce', got 'l1'",
        ),
    ],  # fmt: skip
)
def test_function_errors(call, error, message):
    with pytest.raises(error, match=re.escape(message)):
        call()


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"model": "ae"}, TypeError, "train_autoencoder expects model to be an nn.Module, got str"),
        (
            {"x": torch.zeros(8)},
            ValueError,
            "train_autoencoder expects x of shape (N, ...) with N >= 1, got (8,)",
        ),
        (
            {"x": torch.zeros(0, 64)},
            ValueError,
            "train_autoencoder expects x of shape (N, ...) with N >= 1, got (0, 64)",
        ),
        (
            {"x": torch.zeros(8, 64, dtype=torch.long)},
            TypeError,
            "train_autoencoder expects x to be a floating-point tensor, got dtype torch.int64",
        ),
        ({"steps": 0}, ValueError, "train_autoencoder expects steps >= 1, got 0"),
        ({"lr": 0.0}, ValueError, "train_autoencoder expects lr > 0, got 0.0"),
        ({"batch_size": 0}, ValueError, "train_autoencoder expects batch_size >= 1, got 0"),
        (
            {"noise": "salt"},
            ValueError,
            "train_autoencoder expects noise to be one of 'gaussian', 'mask', got 'salt'",
        ),
        (
            {"noise": "mask", "noise_level": 2.0},
            ValueError,
            "train_autoencoder expects noise_level in [0, 1], got 2.0",
        ),
        ({"seed": -1}, ValueError, "train_autoencoder expects seed in [0, 2**63), got -1"),
        (
            {"loss": "l1"},
            ValueError,
            "train_autoencoder expects loss to be one of 'mse', 'bce', got 'l1'",
        ),
        ({"beta": -0.5}, ValueError, "train_autoencoder expects beta >= 0, got -0.5"),
    ],  # fmt: skip
)
def test_training_errors(kwargs, error, message):
    arguments = {"model": MLPAutoencoder(64, (8,), 2), "x": torch.rand(8, 64), "steps": 1}
    arguments |= kwargs
    with pytest.raises(error, match=re.escape(message)):
        train_autoencoder(arguments.pop("model"), arguments.pop("x"), **arguments)
