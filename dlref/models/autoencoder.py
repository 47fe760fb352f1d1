r"""Autoencoders: an MLP and a convolutional autoencoder, denoising, and a variational autoencoder.

Explained on the page [Autoencoders](../../architectures/autoencoders.md).

An autoencoder is an encoder $f$ and a decoder $g$ trained so that the reconstruction
$\hat x = g(f(x))$ of an input $x \in \mathbb{R}^{n_0}$ is close to $x$. The **code**
$z = f(x) \in \mathbb{R}^{d_z}$ passes through a bottleneck, $d_z < n_0$, so the pair must keep
what matters about $x$ and drop the rest. ``MLPAutoencoder`` and ``ConvAutoencoder`` are such
pairs. The loss is a reconstruction error per sample (``reconstruction_error``), summed over the
$n_0$ features and averaged over the batch:

$$
\begin{aligned}
\ell_\text{MSE}(\hat x, x) &= \textstyle\sum_j (\hat x_j - x_j)^2, \\
\ell_\text{BCE}(\hat x, x) &= -\textstyle\sum_j \big[x_j \log \hat x_j \\
&\qquad + (1 - x_j) \log(1 - \hat x_j)\big].
\end{aligned}
$$

Their batch means equal ``F.mse_loss(x_hat, x, reduction="sum") / B`` and
``F.binary_cross_entropy(x_hat, x, reduction="sum") / B``; each logarithm is clamped at $-100$
as PyTorch does, so a pixel predicted exactly 0 or 1 costs at most 100, not infinity.

**Denoising** (Vincent et al., 2008). ``corrupt`` makes a noisy copy $\tilde x$: Gaussian noise
$\tilde x = x + s\,\varepsilon$ with $\varepsilon \sim \mathcal{N}(0, I)$ and $s$ = ``level``, or
masking noise that sets each entry to 0 with probability ``level``. A denoising autoencoder is
trained on $\ell(g(f(\tilde x)), x)$: the input is noisy, the target clean, so copying does not
help and it has to learn what digits look like.

**Variational autoencoder** (Kingma and Welling, 2013). The encoder of a ``VAE`` outputs a
diagonal Gaussian $q(z \mid x) = \mathcal{N}(\mu, \operatorname{diag} \sigma^2)$, as $\mu$ and
$\log \sigma^2$. ``reparameterize`` samples its code as

$$
\begin{aligned}
z &= \mu + \sigma \odot \varepsilon, \quad \varepsilon \sim \mathcal{N}(0, I),
\end{aligned}
$$

so the randomness sits in $\varepsilon$ and gradients reach $\mu$ and
$\log \sigma^2$: $\partial z / \partial \mu = 1$,
$\partial z / \partial \log \sigma^2 = \tfrac{1}{2} \sigma \odot \varepsilon$ (what
``torch.distributions.Normal(mu, sigma).rsample()`` does). ``elbo_loss`` is the negative
evidence lower bound, averaged over the batch, with a weight $\beta$ on the KL term ($\beta = 1$
for the ELBO itself, other values for the $\beta$-VAE):

$$
\begin{aligned}
\mathcal{L} &= \ell_\text{BCE}(g(z), x) \\
&\quad + \beta\, \mathrm{KL}\big(q(z \mid x) \,\|\, \mathcal{N}(0, I)\big).
\end{aligned}
$$

With BCE, $\ell$ is the negative log-likelihood of Bernoulli pixels with means $g(z)$; MSE is a
Gaussian decoder of variance $\tfrac{1}{2}$, up to a constant. ``gaussian_kl`` computes the KL
in closed form, in general between $q$ and $p = \mathcal{N}(\mu_p, \operatorname{diag}
\sigma_p^2)$:

$$
\begin{aligned}
\mathrm{KL}(q \,\|\, p) = \tfrac{1}{2} \textstyle\sum_j \Big[
&\frac{\sigma_j^2 + (\mu_j - \mu_{p,j})^2}{\sigma_{p,j}^2} \\
&- 1 - \log \frac{\sigma_j^2}{\sigma_{p,j}^2}\Big],
\end{aligned}
$$

which against the prior $\mathcal{N}(0, I)$ (its default) is
$\tfrac{1}{2} \sum_j (\mu_j^2 + \sigma_j^2 - 1 - \log \sigma_j^2)$, zero exactly when
$q = \mathcal{N}(0, I)$. It equals ``torch.distributions.kl_divergence`` between the two
``Normal`` distributions, summed over the last dimension (tested, values and gradients).

**Training.** ``train_autoencoder`` runs Adam on random batches (or the full batch), corrupting
the inputs when asked and always scoring against the clean ones; a ``VAE`` gets ``elbo_loss``.
One generator seeded with ``seed`` draws the batches, the noise and the VAE's $\varepsilon$, so
a run repeats exactly on the CPU. A loss that turns NaN or infinite stops the run at once with
``dlref.train.TrainingDiverged``, which names the step and says what to try. A plain
autoencoder also trains with ``dlref.train.fit``, whose targets may be any tensor:
``fit(model, TensorDataset(x, x), loss_fn=nn.MSELoss(), ...)``; this loop is for what ``fit``
does not do (fresh noise, the VAE's loss, full batches without a ``DataLoader``'s per-sample
cost).

Arguments are checked at the edges with ``dlref.checks``: a wrong shape, type or value raises
``ValueError`` or ``TypeError`` with a message ``<caller> expects <wanted>, got <got>``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from dlref import checks
from dlref.train import TrainingDiverged, _hint

__all__ = [
    "VAE",
    "ConvAutoencoder",
    "MLPAutoencoder",
    "corrupt",
    "elbo_loss",
    "gaussian_kl",
    "reconstruction_error",
    "reparameterize",
    "train_autoencoder",
]

_NOISES = ("gaussian", "mask")
_RECONSTRUCTIONS = ("mse", "bce")


def _widths(caller: str, name: str, widths: object, *, allow_empty: bool) -> tuple[int, ...]:
    """Check a sequence of layer widths such as ``(128, 64)`` and return it as a tuple."""
    if isinstance(widths, int | str) or not isinstance(widths, Sequence):
        raise TypeError(
            f"{caller} expects {name} as a sequence of widths such as (128,), got {widths!r}"
        )
    if not widths and not allow_empty:
        raise ValueError(f"{caller} expects at least one width in {name}, got {widths!r}")
    for width in widths:
        checks.integer(caller, f"each of {name}", width, 1)
    return tuple(widths)


def _check_rows(caller: str, name: str, x: object, width: int) -> None:
    """Check that ``x`` is a batch of rows of ``width`` features, shape ``(B, width)``."""
    checks.floating_tensor(caller, x, name)
    checks.shape(caller, name, x, (None, width), f"(B, {width})")


def _mirror_mlp(widths: Sequence[int]) -> list[nn.Module]:
    """``Linear``-``ReLU`` pairs through ``widths``; no activation after the last ``Linear``."""
    layers: list[nn.Module] = []
    for n_in, n_out in zip(widths[:-1], widths[1:], strict=True):
        layers += [nn.Linear(n_in, n_out), nn.ReLU()]
    return layers[:-1]  # the last Linear stays affine: a code, or the pre-sigmoid output


class MLPAutoencoder(nn.Module):
    r"""An encoder and a decoder, each an ``nn.Sequential`` of ``Linear`` and ``ReLU`` layers.

    The encoder maps $n_0$ = ``in_features`` through the ``hidden`` widths to the code of size
    $d_z$ = ``latent_dim`` (the last layer affine, no activation); the decoder goes back through
    the same widths in reverse order, ending in a sigmoid when ``sigmoid_output`` is true (for
    inputs in $[0, 1]$, such as the digits). With ``hidden=()`` and ``sigmoid_output=False``
    the model is **linear**, $\hat x = (x W_1^\top + b_1) W_2^\top + b_2$; trained with the MSE,
    it spans the same subspace as the first $d_z$ principal components (Baldi and Hornik, 1989).

    Args:
        in_features: Features of one input, $n_0$ (64 for the flattened 8x8 digits).
        hidden: Widths of the encoder's hidden layers, e.g. ``(128,)``; the decoder mirrors
            them. Empty for a single affine map each way.
        latent_dim: Size of the code, $d_z$.
        sigmoid_output: Whether the decoder ends in ``nn.Sigmoid``.

    Raises:
        TypeError: If a size is not an integer or ``hidden`` is not a sequence of integers.
        ValueError: If a size is not positive; ``encode``, ``decode`` for an input of the
            wrong shape.

    Examples:
        >>> import torch
        >>> from dlref.models.autoencoder import MLPAutoencoder
        >>> model = MLPAutoencoder(64, hidden=(128,), latent_dim=2)
        >>> model.encode(torch.zeros(5, 64)).shape, model(torch.zeros(5, 64)).shape
        (torch.Size([5, 2]), torch.Size([5, 64]))
    """

    # --8<-- [start:mlp-autoencoder]
    def __init__(
        self,
        in_features: int = 64,
        hidden: Sequence[int] = (128,),
        latent_dim: int = 2,
        sigmoid_output: bool = True,
    ) -> None:
        super().__init__()
        _check_autoencoder_args("MLPAutoencoder", in_features, hidden, latent_dim)
        widths = [in_features, *hidden, latent_dim]  # e.g. 64 -> 128 -> 2
        self.encoder = nn.Sequential(*_mirror_mlp(widths))  # (B, n_0) -> (B, d_z)
        decoder = _mirror_mlp(widths[::-1])  # (B, d_z) -> (B, n_0), the mirror image
        self.decoder = nn.Sequential(*decoder, *([nn.Sigmoid()] if sigmoid_output else []))
        self.in_features, self.latent_dim = in_features, latent_dim

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """The code z = f(x): (B, in_features) -> (B, latent_dim)."""
        _check_rows("MLPAutoencoder.encode", "x", x, self.in_features)
        return self.encoder(x)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """The reconstruction g(z): (B, latent_dim) -> (B, in_features)."""
        _check_rows("MLPAutoencoder.decode", "z", z, self.latent_dim)
        return self.decoder(z)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """g(f(x)), of the shape of x."""
        return self.decode(self.encode(x))

    # --8<-- [end:mlp-autoencoder]


def _check_autoencoder_args(
    caller: str, in_features: object, hidden: object, latent_dim: object
) -> None:
    """Check the sizes an MLP autoencoder or a VAE is built from."""
    checks.integer(caller, "in_features", in_features, 1)
    _widths(caller, "hidden", hidden, allow_empty=True)
    checks.integer(caller, "latent_dim", latent_dim, 1)


class ConvAutoencoder(nn.Module):
    r"""Strided convolutions down to a code, transposed convolutions back up.

    Each encoder block is ``nn.Conv2d(c_in, c_out, 3, stride=2, padding=1)`` and a ReLU, which
    halves an even side $n$: $\lfloor (n + 2 - 3) / 2 \rfloor + 1 = n / 2$. A ``Linear`` layer
    maps the last feature map to the code. The decoder mirrors it: a ``Linear`` layer and
    ``nn.Unflatten`` back to a feature map, then per block
    ``nn.ConvTranspose2d(c_out, c_in, 3, stride=2, padding=1, output_padding=1)``, which doubles
    the side, $(n - 1) \cdot 2 - 2 + 3 + 1 = 2n$, with a ReLU between blocks and a sigmoid at
    the end (pixels in $(0, 1)$).

    Args:
        in_channels: Channels of the images (1 for grey).
        image_size: Side of the square images, divisible by $2^n$ for $n$ blocks.
        channels: Output channels of each encoder block, e.g. ``(16, 32)``.
        latent_dim: Size of the code, $d_z$.

    Raises:
        TypeError: If a size is not an integer or ``channels`` is not a sequence of integers.
        ValueError: If a size is not positive, ``channels`` is empty, or ``image_size`` is not
            divisible by $2^n$; ``encode``, ``decode`` for an input of the wrong shape.

    Examples:
        >>> import torch
        >>> from dlref.models.autoencoder import ConvAutoencoder
        >>> model = ConvAutoencoder(1, 8, channels=(16, 32), latent_dim=8)
        >>> model.encode(torch.zeros(5, 1, 8, 8)).shape, model(torch.zeros(5, 1, 8, 8)).shape
        (torch.Size([5, 8]), torch.Size([5, 1, 8, 8]))
    """

    # --8<-- [start:conv-autoencoder]
    def __init__(
        self,
        in_channels: int = 1,
        image_size: int = 8,
        channels: Sequence[int] = (16, 32),
        latent_dim: int = 8,
    ) -> None:
        super().__init__()
        channels = _check_conv_args(in_channels, image_size, channels, latent_dim)
        side = image_size // 2 ** len(channels)  # each stride-2 conv halves the side: 8 -> 4 -> 2
        down, up = [], []
        for c_in, c_out in zip((in_channels, *channels[:-1]), channels, strict=True):
            down += [nn.Conv2d(c_in, c_out, 3, stride=2, padding=1), nn.ReLU()]  # n -> n / 2
            up = [nn.ConvTranspose2d(c_out, c_in, 3, 2, 1, output_padding=1), nn.ReLU(), *up]
        self.encoder = nn.Sequential(
            *down,  # (B, C, s, s) -> (B, channels[-1], side, side)
            nn.Flatten(),  # -> (B, channels[-1] * side * side)
            nn.Linear(channels[-1] * side * side, latent_dim),  # -> (B, d_z)
        )
        self.decoder = nn.Sequential(
            nn.Linear(latent_dim, channels[-1] * side * side),
            nn.ReLU(),
            nn.Unflatten(1, (channels[-1], side, side)),  # -> (B, channels[-1], side, side)
            *up[:-1],  # each transposed conv doubles the side: 2 -> 4 -> 8
            nn.Sigmoid(),  # -> (B, C, s, s), pixels in (0, 1)
        )
        self.image_shape = (in_channels, image_size, image_size)
        self.latent_dim = latent_dim

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """The code z = f(x): (B, C, s, s) -> (B, latent_dim)."""
        _check_images("ConvAutoencoder.encode", x, self.image_shape)
        return self.encoder(x)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """The reconstruction g(z): (B, latent_dim) -> (B, C, s, s)."""
        _check_rows("ConvAutoencoder.decode", "z", z, self.latent_dim)
        return self.decoder(z)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """g(f(x)), of the shape of x."""
        return self.decode(self.encode(x))

    # --8<-- [end:conv-autoencoder]


def _check_images(caller: str, x: object, image_shape: tuple[int, int, int]) -> None:
    """Check that ``x`` is a batch of images of shape ``(B, C, s, s)``."""
    checks.floating_tensor(caller, x)
    checks.shape(caller, "x", x, (None, *image_shape), "(B, {}, {}, {})".format(*image_shape))


def _check_conv_args(
    in_channels: object, image_size: object, channels: object, latent_dim: object
) -> tuple[int, ...]:
    """Check the sizes a ``ConvAutoencoder`` is built from; return ``channels`` as a tuple."""
    checks.integer("ConvAutoencoder", "in_channels", in_channels, 1)
    checks.integer("ConvAutoencoder", "image_size", image_size, 1)
    widths = _widths("ConvAutoencoder", "channels", channels, allow_empty=False)
    checks.integer("ConvAutoencoder", "latent_dim", latent_dim, 1)
    if image_size % 2 ** len(widths):
        raise ValueError(
            f"ConvAutoencoder expects image_size divisible by {2 ** len(widths)} for "
            f"{len(widths)} blocks (each halves the side), got {image_size}"
        )
    return widths


# --8<-- [start:corrupt]
def corrupt(
    x: torch.Tensor, noise: str, level: float, generator: torch.Generator | None = None
) -> torch.Tensor:
    """A corrupted copy of x: Gaussian noise of std ``level``, or a fraction ``level`` masked."""
    _check_corrupt_args(x, noise, level, generator)
    if noise == "gaussian":  # x~ = x + level * eps, eps ~ N(0, I)
        eps = torch.randn(x.shape, generator=generator, dtype=x.dtype, device=x.device)
        return x + level * eps
    keep = torch.rand(x.shape, generator=generator, dtype=x.dtype, device=x.device) >= level
    return x * keep  # masking noise: each entry set to 0 with probability level


# --8<-- [end:corrupt]


def _check_corrupt_args(x: object, noise: object, level: object, generator: object) -> None:
    """Check the arguments of ``corrupt``."""
    checks.floating_tensor("corrupt", x)
    checks.one_of("corrupt", "noise", noise, _NOISES)
    checks.number(
        "corrupt", "level", level, 0, 1 if noise == "mask" else float("inf"), closed_high=True
    )
    _check_generator("corrupt", generator)


def _check_generator(caller: str, generator: object) -> None:
    """Raise ``TypeError`` unless ``generator`` is None or a ``torch.Generator``."""
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(
            f"{caller} expects generator to be a torch.Generator or None, "
            f"got {type(generator).__name__}"
        )


# --8<-- [start:reconstruction-error]
def reconstruction_error(x_hat: torch.Tensor, x: torch.Tensor, kind: str = "mse") -> torch.Tensor:
    """Per-sample error, summed over all but the batch dimension: (B, ...) -> (B,)."""
    _check_pair("reconstruction_error", x_hat, x, kind)
    if kind == "mse":
        error = (x_hat - x) ** 2  # sum_j (x^_j - x_j)^2
    else:  # BCE: -[x log x^ + (1 - x) log(1 - x^)], each log clamped at -100 as torch does
        log_p, log_q = torch.log(x_hat).clamp(min=-100), torch.log1p(-x_hat).clamp(min=-100)
        error = -(x * log_p + (1 - x) * log_q)
    return error.flatten(1).sum(dim=1)  # (B,)


# --8<-- [end:reconstruction-error]


def _check_pair(caller: str, x_hat: object, x: object, kind: object) -> None:
    """Check a reconstruction, its target and the kind of error."""
    checks.floating_tensor(caller, x_hat, "x_hat")
    checks.floating_tensor(caller, x, "x")
    if x.dim() == 0:
        raise ValueError(f"{caller} expects x with a batch dimension, got shape ()")
    checks.shape(caller, "x_hat", x_hat, tuple(x.shape), f"{tuple(x.shape)} like x")
    checks.one_of(caller, "kind", kind, _RECONSTRUCTIONS)


# --8<-- [start:gaussian-kl]
def gaussian_kl(
    mu: torch.Tensor,
    logvar: torch.Tensor,
    mu_p: torch.Tensor | None = None,
    logvar_p: torch.Tensor | None = None,
) -> torch.Tensor:
    """KL(N(mu, e^logvar) || N(mu_p, e^logvar_p)) summed over the last dim; N(0, I) by default."""
    mu_p, logvar_p = _check_gaussians(mu, logvar, mu_p, logvar_p)
    var_ratio = torch.exp(logvar - logvar_p)  # sigma^2 / sigma_p^2
    mahalanobis = (mu - mu_p) ** 2 * torch.exp(-logvar_p)  # (mu - mu_p)^2 / sigma_p^2
    kl = 0.5 * (var_ratio + mahalanobis - 1 - (logvar - logvar_p))  # one term per dimension
    return kl.sum(dim=-1)  # (B, d_z) -> (B,)


# --8<-- [end:gaussian-kl]


def _check_gaussians(
    mu: object, logvar: object, mu_p: object, logvar_p: object
) -> tuple[torch.Tensor, torch.Tensor]:
    """Check the parameters of two diagonal Gaussians; fill in the standard normal's."""
    checks.floating_tensor("gaussian_kl", mu, "mu")
    checks.floating_tensor("gaussian_kl", logvar, "logvar")
    if mu.dim() == 0:
        raise ValueError("gaussian_kl expects mu of shape (*, d_z), got ()")
    checks.shape("gaussian_kl", "logvar", logvar, tuple(mu.shape), f"{tuple(mu.shape)} like mu")
    filled = []
    for name, value in (("mu_p", mu_p), ("logvar_p", logvar_p)):
        if value is None:
            value = torch.zeros((), dtype=mu.dtype, device=mu.device)
        checks.floating_tensor("gaussian_kl", value, name)
        try:
            fits = torch.broadcast_shapes(value.shape, mu.shape) == mu.shape
        except RuntimeError:
            fits = False
        if not fits:
            raise ValueError(
                f"gaussian_kl expects {name} broadcastable to {tuple(mu.shape)}, "
                f"got {tuple(value.shape)}"
            )
        filled.append(value)
    return filled[0], filled[1]


# --8<-- [start:reparameterize]
def reparameterize(
    mu: torch.Tensor,
    logvar: torch.Tensor,
    eps: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """A sample z = mu + sigma * eps of N(mu, sigma^2), differentiable in mu and logvar."""
    eps = _check_reparameterize_args(mu, logvar, eps, generator)
    sigma = torch.exp(0.5 * logvar)  # sigma = e^{logvar / 2} > 0, whatever logvar is
    return mu + sigma * eps  # the noise eps ~ N(0, I) carries all the randomness


# --8<-- [end:reparameterize]


def _check_reparameterize_args(
    mu: object, logvar: object, eps: object, generator: object
) -> torch.Tensor:
    """Check the arguments of ``reparameterize``; draw ``eps`` if it is None."""
    checks.floating_tensor("reparameterize", mu, "mu")
    checks.floating_tensor("reparameterize", logvar, "logvar")
    shown = f"{tuple(mu.shape)} like mu"
    checks.shape("reparameterize", "logvar", logvar, tuple(mu.shape), shown)
    _check_generator("reparameterize", generator)
    if eps is None:
        return torch.randn(mu.shape, generator=generator, dtype=mu.dtype, device=mu.device)
    checks.floating_tensor("reparameterize", eps, "eps")
    checks.shape("reparameterize", "eps", eps, tuple(mu.shape), shown)
    return eps


class VAE(nn.Module):
    r"""A variational autoencoder with an MLP encoder and decoder (Kingma and Welling, 2013).

    The encoder (a shared ``trunk`` of ``Linear`` and ``ReLU`` layers, then two ``Linear``
    heads) maps $x$ to the mean $\mu$ and the log-variance $\log \sigma^2$ of a diagonal
    Gaussian $q(z \mid x)$; predicting $\log \sigma^2$ keeps $\sigma^2 = e^{\log \sigma^2}$
    positive without a constraint. ``forward`` draws $z = \mu + \sigma \odot \varepsilon$
    ([`reparameterize`][dlref.models.autoencoder.reparameterize]) and decodes it through the
    mirrored widths to Bernoulli means in $(0, 1)$; train it with
    [`elbo_loss`][dlref.models.autoencoder.elbo_loss]. ``sample`` decodes codes drawn from the
    prior $\mathcal{N}(0, I)$.

    Args:
        in_features: Features of one input, $n_0$ (64 for the flattened 8x8 digits).
        hidden: Widths of the encoder's hidden layers; the decoder mirrors them.
        latent_dim: Size of the code, $d_z$.

    Raises:
        TypeError: If a size is not an integer or ``hidden`` is not a sequence of integers.
        ValueError: If a size is not positive; ``encode``, ``decode``, ``forward`` for an input
            of the wrong shape, ``sample`` for ``n < 1``.

    Examples:
        >>> import torch
        >>> from dlref.models.autoencoder import VAE
        >>> model = VAE(64, hidden=(256,), latent_dim=2)
        >>> x_hat, mu, logvar = model(torch.zeros(5, 64))
        >>> x_hat.shape, mu.shape, logvar.shape
        (torch.Size([5, 64]), torch.Size([5, 2]), torch.Size([5, 2]))
    """

    # --8<-- [start:vae]
    def __init__(
        self, in_features: int = 64, hidden: Sequence[int] = (256,), latent_dim: int = 2
    ) -> None:
        super().__init__()
        _check_autoencoder_args("VAE", in_features, hidden, latent_dim)
        widths = [in_features, *hidden]
        self.trunk = nn.Sequential(*_mirror_mlp(widths), *([nn.ReLU()] if hidden else []))
        self.mu = nn.Linear(widths[-1], latent_dim)  # (B, hidden[-1]) -> (B, d_z)
        self.logvar = nn.Linear(widths[-1], latent_dim)  # log sigma^2, any real number
        self.decoder = nn.Sequential(*_mirror_mlp([latent_dim, *widths[::-1]]), nn.Sigmoid())
        self.in_features, self.latent_dim = in_features, latent_dim

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The parameters of q(z | x): (B, in_features) -> (mu, logvar), each (B, latent_dim)."""
        _check_rows("VAE.encode", "x", x, self.in_features)
        h = self.trunk(x)  # (B, hidden[-1])
        return self.mu(h), self.logvar(h)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Pixel means g(z) in (0, 1): (B, latent_dim) -> (B, in_features)."""
        _check_rows("VAE.decode", "z", z, self.latent_dim)
        return self.decoder(z)

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None) -> tuple:
        """(x_hat, mu, logvar): the decoded sample z of q(z | x) and q's parameters."""
        mu, logvar = self.encode(x)  # (B, d_z) each
        z = reparameterize(mu, logvar, generator=generator)  # (B, d_z)
        return self.decode(z), mu, logvar

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """n new samples' pixel means: decode z ~ N(0, I)."""
        checks.integer("VAE.sample", "n", n, 1)
        device = self.mu.weight.device
        z = torch.randn(n, self.latent_dim, generator=generator, device=device)  # (n, d_z)
        return self.decode(z.to(self.mu.weight.dtype))  # (n, in_features)

    # --8<-- [end:vae]


# --8<-- [start:elbo]
def elbo_loss(
    x_hat: torch.Tensor,
    x: torch.Tensor,
    mu: torch.Tensor,
    logvar: torch.Tensor,
    reconstruction: str = "bce",
    beta: float = 1.0,
) -> torch.Tensor:
    """The negative ELBO, mean over the batch: reconstruction error + beta * KL(q || N(0, I))."""
    _check_elbo_args(x, mu, beta)
    error = reconstruction_error(x_hat, x, reconstruction)  # (B,), summed over pixels
    kl = gaussian_kl(mu, logvar)  # (B,), summed over the d_z code dimensions
    return (error + beta * kl).mean()  # a scalar


# --8<-- [end:elbo]


def _check_elbo_args(x: object, mu: object, beta: object) -> None:
    """Check that ``mu`` has one row per sample of ``x`` and that ``beta`` is >= 0."""
    checks.floating_tensor("elbo_loss", x, "x")
    checks.floating_tensor("elbo_loss", mu, "mu")
    if x.dim() == 0:
        raise ValueError("elbo_loss expects x with a batch dimension, got shape ()")
    checks.shape("elbo_loss", "mu", mu, (x.shape[0], None), f"({x.shape[0]}, d_z)")
    checks.number("elbo_loss", "beta", beta, 0)


# --8<-- [start:train]
def train_autoencoder(
    model: nn.Module,
    x: torch.Tensor,
    *,
    steps: int,
    lr: float = 1e-3,
    batch_size: int | None = None,
    loss: str = "mse",
    noise: str | None = None,
    noise_level: float = 0.0,
    beta: float = 1.0,
    seed: int = 0,
) -> list[float]:
    """Adam on random batches of x; noisy inputs if ``noise``, always scored against clean x."""
    _check_train_args(model, x, steps, lr, batch_size, loss, noise, noise_level, beta, seed)
    generator = torch.Generator(device=x.device).manual_seed(seed)  # batches, noise, eps
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    batch = len(x) if batch_size is None else min(batch_size, len(x))
    losses = []
    model.train()
    for step in range(steps):
        rows = torch.randperm(len(x), generator=generator, device=x.device)[:batch]
        clean = x[rows]  # (B, ...) the targets
        inputs = clean if noise is None else corrupt(clean, noise, noise_level, generator)
        if isinstance(model, VAE):
            x_hat, mu, logvar = model(inputs, generator=generator)
            loss_value = elbo_loss(x_hat, clean, mu, logvar, loss, beta)
        else:
            loss_value = reconstruction_error(model(inputs), clean, loss).mean()
        losses.append(loss_value.item())
        if not math.isfinite(losses[-1]):  # stop at once, saying what to try
            raise TrainingDiverged(None, step, losses[-1], _hint(optimizer, None, inputs))
        optimizer.zero_grad(set_to_none=True)
        loss_value.backward()
        optimizer.step()
    model.eval()
    return losses


# --8<-- [end:train]


def _check_train_args(
    model: object,
    x: object,
    steps: object,
    lr: object,
    batch_size: object,
    loss: object,
    noise: object,
    noise_level: object,
    beta: object,
    seed: object,
) -> None:
    """Check the arguments of ``train_autoencoder``."""
    caller = "train_autoencoder"
    checks.module(caller, model)
    checks.floating_tensor(caller, x)
    if x.dim() < 2 or len(x) == 0:
        raise ValueError(f"{caller} expects x of shape (N, ...) with N >= 1, got {tuple(x.shape)}")
    checks.integer(caller, "steps", steps, 1)
    checks.number(caller, "lr", lr, 0, closed_low=False)
    if batch_size is not None:
        checks.integer(caller, "batch_size", batch_size, 1)
    checks.one_of(caller, "loss", loss, _RECONSTRUCTIONS)
    checks.number(caller, "beta", beta, 0)
    if noise is not None:
        checks.one_of(caller, "noise", noise, _NOISES)
        high = 1 if noise == "mask" else float("inf")
        checks.number(caller, "noise_level", noise_level, 0, high, closed_high=True)
    checks.integer(caller, "seed", seed, 0, 2**63)
