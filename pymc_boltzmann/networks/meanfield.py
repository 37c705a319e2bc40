"""Mean-field baselines: independent spins and a diagonal Gaussian."""

import math

import jax
import jax.numpy as jnp

from pymc_boltzmann._checks import check_positive_int
from pymc_boltzmann.networks.base import Network, WeightSpec

_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)


class MeanFieldSpins(Network):
    r"""Independent spins with one logit per site.

    .. math::

        \ln q_\theta(s) = \sum_i \ln \sigma(a_i s_i), \qquad \sigma(t) = 1 / (1 + e^{-t})

    so that q(s_i = +1) = sigma(a_i) and the magnetization of site i is tanh(a_i / 2).

    Parameters
    ----------
    name : str
        Prefix of the PyMC variable names; the logits are ``f"{name}_logits"``.
    n_sites : int
        Number of spins.
    prior : callable, optional
        Weight prior factory, see :class:`~pymc_boltzmann.networks.base.Network`.

    Examples
    --------
    >>> with pm.Model() as model:
    ...     q = pmb.networks.MeanFieldSpins("q", n_sites=16)
    ...     q.observe("x", data)
    """

    sample_space = "spin"

    def __init__(self, name, n_sites, prior=None):
        n_sites = check_positive_int("n_sites", n_sites)
        self._specs = {"logits": WeightSpec(shape=(n_sites,), fan_in=1)}
        super().__init__(name, n_sites, prior=prior)

    @property
    def weight_specs(self):
        return self._specs

    def log_q(self, params, x):
        return jnp.sum(jax.nn.log_sigmoid(params["logits"] * x), axis=-1)

    def sample(self, params, key, n):
        logits = params["logits"]
        up = jax.random.bernoulli(key, jax.nn.sigmoid(logits), shape=(n, self.n_sites))
        x = jnp.where(up, 1.0, -1.0)
        return x, self.log_q(params, x)


class DiagonalGaussian(Network):
    r"""Independent Gaussian variables with one location and one log-scale per site.

    .. math::

        \ln q_\theta(x) = \sum_i \Big[-\frac{(x_i - \mu_i)^2}{2 e^{2 \rho_i}} - \rho_i
        - \tfrac{1}{2} \ln 2\pi\Big]

    with weights ``loc`` (mu) and ``log_scale`` (rho).

    Parameters
    ----------
    name : str
        Prefix of the PyMC variable names: ``f"{name}_loc"`` and ``f"{name}_log_scale"``.
    n_sites : int
        Number of real variables.
    prior : callable, optional
        Weight prior factory, see :class:`~pymc_boltzmann.networks.base.Network`; the default
        is Normal(0, 1) for both arrays.

    Examples
    --------
    >>> with pm.Model() as model:
    ...     q = pmb.networks.DiagonalGaussian("q", n_sites=2)
    ...     q.observe("x", data)
    """

    sample_space = "real"

    def __init__(self, name, n_sites, prior=None):
        n_sites = check_positive_int("n_sites", n_sites)
        self._specs = {
            "loc": WeightSpec(shape=(n_sites,), fan_in=1),
            "log_scale": WeightSpec(shape=(n_sites,), fan_in=1),
        }
        super().__init__(name, n_sites, prior=prior)

    @property
    def weight_specs(self):
        return self._specs

    def log_q(self, params, x):
        log_scale = params["log_scale"]
        standardized = (x - params["loc"]) * jnp.exp(-log_scale)
        return jnp.sum(-0.5 * standardized**2 - log_scale - _LOG_SQRT_2PI, axis=-1)

    def sample(self, params, key, n):
        z = jax.random.normal(key, (n, self.n_sites))
        x = params["loc"] + jnp.exp(params["log_scale"]) * z
        return x, self.log_q(params, x)
