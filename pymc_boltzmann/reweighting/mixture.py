r"""The posterior predictive mixture q_bar(x) = (1/K) sum_k q_theta_k(x) over a set of posterior draws."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
from scipy.special import logsumexp

from pymc_boltzmann.reweighting.draws import DEFAULT_MAX_ENTRIES


@functools.lru_cache(maxsize=16)
def component_log_density_fn(network):
    """Return a jitted ``(params, x) -> ln q_theta_k(x)`` of shape ``(K, n)`` for stacked weights."""
    return jax.jit(lambda params, x: jax.vmap(lambda p: network.log_q(p, x))(params))


def log_mixture_density(network, params, x, *, chunk_size=None):
    r"""Return ln q_bar(x) = logsumexp_k ln q_theta_k(x) - ln K for configurations ``x``.

    Every configuration is scored under every one of the K draws, which costs K evaluations of
    ln q per configuration. Configurations are processed in chunks, so one JAX call contains at
    most ``chunk_size`` configurations times K.

    Parameters
    ----------
    network : Network
        The generative network.
    params : dict of str to array
        Weights of the K mixture components, with a leading axis of length K.
    x : numpy.ndarray
        Configurations of shape ``(N, n_sites)``.
    chunk_size : int, optional
        Maximum number of (configuration, component) pairs per JAX call.

    Returns
    -------
    numpy.ndarray
        ln q_bar of shape ``(N,)``.
    """
    n_components = next(iter(params.values())).shape[0]
    n, n_sites = x.shape
    if chunk_size is None:
        chunk_size = max(1, DEFAULT_MAX_ENTRIES // n_sites)
    rows = int(max(1, min(n, chunk_size // n_components)))
    params = {key: jnp.asarray(value) for key, value in params.items()}
    log_q_components = component_log_density_fn(network)

    out = np.empty(n)
    for start in range(0, n, rows):
        index = np.arange(start, min(start + rows, n))
        # Pad the last chunk to the full size so the jitted function compiles only once.
        chunk = jnp.asarray(x[np.resize(index, rows)])
        values = np.asarray(log_q_components(params, chunk))[:, : index.size]
        out[index] = logsumexp(values, axis=0) - np.log(n_components)
    return out
