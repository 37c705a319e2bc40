"""Maximum-likelihood (or maximum a posteriori with weight decay) training of a network on observed configurations."""

import math
import numbers

import jax
import jax.numpy as jnp
import numpy as np

from pymc_boltzmann._checks import check_positive_int
from pymc_boltzmann.models._build import check_data
from pymc_boltzmann.training.optimize import (
    check_clip_norm,
    check_learning_rate,
    history_dataset,
    initial_params,
    minimize,
    split_restarts,
)


def fit_data(network, data, *, steps=2000, learning_rate=1e-2, batch_size=256, clip_norm=10.0,
             weight_decay=0.0, restarts=1, initial=None, random_seed=None, progressbar=True):
    r"""Fit the weights to observed configurations by maximum likelihood with Adam.

    Each step minimizes, on a minibatch B drawn with replacement,

    .. math::

        L(\theta) = -\frac{1}{|B|} \sum_{i \in B} \ln q_\theta(x_i)
                    + \frac{\lambda}{2} \lVert \theta \rVert^2 ,

    with lambda = ``weight_decay``. With lambda = 1 / (N sigma^2) the minimizer is the maximum
    a posteriori estimate under a Normal(0, sigma) prior on every weight and N configurations.

    Parameters
    ----------
    network : Network
        The network; it may be created outside a model.
    data : array_like
        Configurations of shape ``(n_data, n_sites)``.
    steps : int
        Number of Adam steps.
    learning_rate : float or callable
        Adam step size, or a schedule ``step -> step size`` (a JAX-traceable function).
    batch_size : int or None
        Minibatch size; None or at least ``n_data`` uses the full data set at every step, which
        makes the gradient exact.
    clip_norm : float or None
        Gradients whose global Euclidean norm exceeds ``clip_norm`` are scaled down to it.
    weight_decay : float
        Coefficient lambda of the L2 penalty, at least 0.
    restarts : int
        Number of independent runs from different random initial weights.
    initial : dict of str to array, optional
        Initial weights for every restart instead of random ones.
    random_seed : int, optional
        Seed of the initial weights and of the minibatches.
    progressbar : bool
        Show a tqdm progress bar.

    Returns
    -------
    params : dict or list of dict
        Trained weights keyed like ``network.weight_specs``; a list of ``restarts`` dicts when
        ``restarts > 1``. ``network.to_initvals(params)`` turns them into initial values for
        ``pmb.sample``.
    history : xarray.Dataset
        Values at each step: ``loss`` (the minimized L), ``log_likelihood`` (mean ln q over the
        batch) and ``grad_norm`` (before clipping). Dims are ``("step",)``, with a leading
        ``"restart"`` dim when ``restarts > 1``.
    """
    data = check_data(network, data, "data")
    steps = check_positive_int("steps", steps)
    learning_rate = check_learning_rate(learning_rate)
    clip_norm = check_clip_norm(clip_norm)
    weight_decay = _check_weight_decay(weight_decay)
    n_data = data.shape[0]
    batch_size = n_data if batch_size is None else min(check_positive_int("batch_size", batch_size), n_data)

    key_init, key_run = jax.random.split(jax.random.key(np.random.default_rng(random_seed).integers(2**31)))
    start = initial_params(network, key_init, restarts, initial)
    objective = _make_objective(network, n_data, batch_size, weight_decay)

    params, trace = minimize(objective, start, jnp.asarray(data), steps=steps,
                             learning_rate=learning_rate, clip_norm=clip_norm, key=key_run,
                             progressbar=progressbar, description="fit_data")

    attrs = {"regime": "data", "n_data": n_data, "batch_size": batch_size, "weight_decay": weight_decay}
    if not callable(learning_rate):
        attrs["learning_rate"] = learning_rate
    return split_restarts(params, len(trace["loss"])), history_dataset(trace, len(trace["loss"]), attrs)


def _make_objective(network, n_data, batch_size, weight_decay):
    full_batch = batch_size == n_data

    def objective(params, key, step, data):
        batch = data if full_batch else data[jax.random.randint(key, (batch_size,), 0, n_data)]
        log_likelihood = jnp.mean(network.log_q(params, batch))
        penalty = 0.5 * weight_decay * sum(jnp.sum(w**2) for w in jax.tree.leaves(params))
        loss = -log_likelihood + penalty
        return loss, {"loss": loss, "log_likelihood": log_likelihood}

    return objective


def _check_weight_decay(weight_decay):
    if isinstance(weight_decay, numbers.Real) and math.isfinite(weight_decay) and weight_decay >= 0:
        return float(weight_decay)
    raise ValueError(
        f"weight_decay={weight_decay!r} is invalid: expected a finite number of at least 0. "
        "Pass 0 for plain maximum likelihood."
    )
