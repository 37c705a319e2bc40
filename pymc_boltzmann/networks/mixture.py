"""Discretely indexed mixture of diagonal Gaussians, for multimodal continuous targets."""

import math

import jax
import jax.numpy as jnp

from pymc_boltzmann._checks import check_positive_int
from pymc_boltzmann.networks.base import Network, WeightSpec

_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)


class GaussianMixtureDensity(Network):
    r"""Mixture of K diagonal Gaussians with softmax weights.

    .. math::

        q_\theta(x) = \sum_{k=1}^{K} \pi_k \prod_i \mathcal{N}\big(x_i; \mu_{ki}, e^{2\rho_{ki}}\big),
        \qquad \pi = \operatorname{softmax}(\alpha)

    with weights ``logits`` (alpha, shape ``(K,)``), ``locs`` (mu, ``(K, n_sites)``) and
    ``log_scales`` (rho, ``(K, n_sites)``). Sampling draws the component k from pi, then x
    from that Gaussian. The likelihood is invariant under relabelling the components, so their
    posterior is multimodal in weight space; monitor function-space quantities instead.

    Parameters
    ----------
    name : str
        Prefix of the PyMC variable names.
    n_sites : int
        Number of real variables.
    n_components : int
        Number of mixture components K.
    prior : callable, optional
        Weight prior factory, see :class:`~pymc_boltzmann.networks.base.Network`; the default
        is Normal(0, 1) for every array.

    Examples
    --------
    >>> with pm.Model() as model:
    ...     q = pmb.networks.GaussianMixtureDensity("q", n_sites=2, n_components=3)
    ...     q.observe("x", data)
    """

    sample_space = "real"
    # The component index is drawn at random, so samples are not a differentiable function of
    # the mixture weights. Training therefore uses the score-function (REINFORCE) gradient, and
    # the energy regime estimates F_q by importance sampling from a reference set.
    reparameterized = False

    def __init__(self, name, n_sites, n_components, prior=None):
        n_sites = check_positive_int("n_sites", n_sites)
        self.n_components = check_positive_int("n_components", n_components)
        shape = (self.n_components, n_sites)
        self._specs = {
            "logits": WeightSpec(shape=(self.n_components,), fan_in=1),
            "locs": WeightSpec(shape=shape, fan_in=1),
            "log_scales": WeightSpec(shape=shape, fan_in=1),
        }
        super().__init__(name, n_sites, prior=prior)

    @property
    def weight_specs(self):
        return self._specs

    def component_log_densities(self, params, x):
        """Return ln N(x; mu_k, diag e^{2 rho_k}) of shape ``(..., K)``."""
        log_scales = params["log_scales"]
        standardized = (x[..., None, :] - params["locs"]) * jnp.exp(-log_scales)
        return jnp.sum(-0.5 * standardized**2 - log_scales - _LOG_SQRT_2PI, axis=-1)

    def log_q(self, params, x):
        log_weights = jax.nn.log_softmax(params["logits"])
        return jax.nn.logsumexp(log_weights + self.component_log_densities(params, x), axis=-1)

    def sample(self, params, key, n):
        key_component, key_normal = jax.random.split(key)
        components = jax.random.categorical(key_component, params["logits"], shape=(n,))
        z = jax.random.normal(key_normal, (n, self.n_sites))
        x = params["locs"][components] + jnp.exp(params["log_scales"][components]) * z
        return x, self.log_q(params, x)
