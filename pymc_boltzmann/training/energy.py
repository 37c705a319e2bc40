r"""Variational free energy minimization: training a network from the energy alone (reverse KL)."""

import numbers

import jax
import jax.numpy as jnp
import numpy as np

from pymc_boltzmann._checks import check_beta, check_positive_int
from pymc_boltzmann.models._build import check_system_matches
from pymc_boltzmann.models.free_energy import is_reparameterized
from pymc_boltzmann.training.optimize import (
    check_clip_norm,
    check_learning_rate,
    history_dataset,
    initial_params,
    minimize,
    split_restarts,
)


def fit_energy(network, system, beta, *, steps=2000, batch_size=256, learning_rate=1e-2,
               anneal_steps=None, initial_beta=None, clip_norm=10.0, restarts=1, initial=None,
               random_seed=None, progressbar=True):
    r"""Minimize the variational free energy F_q of a network with Adam.

    .. math::

        \beta F_q(\theta) = \mathbb{E}_{q_\theta}[f_\theta(x)], \qquad
        f_\theta(x) = \ln q_\theta(x) + \beta E(x) .

    The gradient is estimated on ``batch_size`` draws x_b from q_theta at every step:

    - spin networks (discrete x) use REINFORCE with the batch mean as baseline,
      grad = B / (B - 1) * mean_b[(f(x_b) - mean f) grad ln q_theta(x_b)]; the factor
      B / (B - 1) removes the bias of a baseline that contains the sample itself;
    - real-valued networks whose ``sample`` is reparameterized differentiate
      mean_b f_theta(x_b(theta)) through the draws.

    The inverse temperature is annealed linearly from ``initial_beta`` to ``beta`` over the
    first ``anneal_steps`` steps, which keeps the network from collapsing onto one mode of p
    early in training.

    Parameters
    ----------
    network : Network
        The network; it may be created outside a model.
    system : BoltzmannSystem
        The system; its sample space and number of sites must match the network's.
    beta : float
        Target inverse temperature, positive.
    steps : int
        Number of Adam steps.
    batch_size : int
        Draws from q per step, at least 2.
    learning_rate : float or callable
        Adam step size, or a schedule ``step -> step size`` (a JAX-traceable function).
    anneal_steps : int, optional
        Length of the annealing, 0 for none. Defaults to a quarter of ``steps``.
    initial_beta : float, optional
        Inverse temperature at step 0. Defaults to ``beta / 10``.
    clip_norm : float or None
        Gradients whose global Euclidean norm exceeds ``clip_norm`` are scaled down to it.
    restarts : int
        Number of independent runs from different random initial weights; several restarts
        find several local minima of F_q, which can initialize several chains.
    initial : dict of str to array, optional
        Initial weights for every restart instead of random ones.
    random_seed : int, optional
        Seed of the initial weights and of the draws.
    progressbar : bool
        Show a tqdm progress bar.

    Returns
    -------
    params : dict or list of dict
        Trained weights keyed like ``network.weight_specs``; a list of ``restarts`` dicts when
        ``restarts > 1``. ``network.to_initvals(params)`` turns them into initial values for
        ``pmb.sample``.
    history : xarray.Dataset
        Estimates on each step's batch: ``loss`` (mean f at the annealed beta),
        ``variational_free_energy`` (F_q at the target beta, whole system), ``ess_fraction``
        (importance ESS of the weights exp(-beta E - ln q) divided by the batch size),
        ``beta`` (annealed) and ``grad_norm`` (before clipping). Dims are ``("step",)``, with
        a leading ``"restart"`` dim when ``restarts > 1``.

    Examples
    --------
    >>> ising = pmb.energies.Ising2D(L=4)
    >>> q = pmb.networks.MeanFieldSpins("q", n_sites=16)
    >>> params, history = pmb.training.fit_energy(q, ising, beta=0.3, steps=1000)
    >>> with pm.Model():
    ...     ...
    ...     idata = pmb.sample(initvals=q.to_initvals(params))
    """
    check_system_matches(network, system)
    beta = check_beta(beta)
    steps = check_positive_int("steps", steps)
    batch_size = check_positive_int("batch_size", batch_size, minimum=2)
    learning_rate = check_learning_rate(learning_rate)
    clip_norm = check_clip_norm(clip_norm)
    anneal_steps = steps // 4 if anneal_steps is None else check_positive_int("anneal_steps", anneal_steps, minimum=0)
    initial_beta = beta / 10 if initial_beta is None else check_beta(initial_beta, name="initial_beta")
    if initial_beta > beta:
        raise ValueError(
            f"initial_beta={initial_beta!r} is invalid: expected at most beta={beta!r}, because "
            "annealing goes from high temperature (small beta) to the target."
        )

    key_init, key_run = jax.random.split(jax.random.key(np.random.default_rng(random_seed).integers(2**31)))
    start = initial_params(network, key_init, restarts, initial)
    schedule = _beta_schedule(beta, initial_beta, anneal_steps)
    objective = _make_objective(network, system, beta, batch_size, schedule)

    params, trace = minimize(objective, start, (), steps=steps, learning_rate=learning_rate,
                             clip_norm=clip_norm, key=key_run, progressbar=progressbar,
                             description="fit_energy")

    attrs = {"regime": "energy", "beta": beta, "batch_size": batch_size,
             "anneal_steps": anneal_steps, "initial_beta": initial_beta,
             "gradient": "reparameterization" if is_reparameterized(network) else "REINFORCE"}
    if isinstance(learning_rate, numbers.Real):
        attrs["learning_rate"] = learning_rate
    n_restarts = len(trace["loss"])
    return split_restarts(params, n_restarts), history_dataset(trace, n_restarts, attrs)


def _beta_schedule(beta, initial_beta, anneal_steps):
    def schedule(step):
        if anneal_steps == 0:
            return jnp.asarray(beta)
        fraction = jnp.minimum(1.0, step / anneal_steps)
        return initial_beta + (beta - initial_beta) * fraction

    return schedule


def _make_objective(network, system, beta, batch_size, schedule):
    reparameterized = is_reparameterized(network)

    def objective(params, key, step, operands):
        beta_step = schedule(step)
        if reparameterized:
            x, log_q = network.sample(params, key, batch_size)
            energy = system.energy_fn(x)
            surrogate = jnp.mean(log_q + beta_step * energy)
        else:
            x, _ = network.sample(params, key, batch_size)
            x = jax.lax.stop_gradient(x)
            log_q = network.log_q(params, x)
            energy = system.energy_fn(x)
            surrogate = _reinforce_surrogate(log_q, beta_step * energy, batch_size)

        log_q = jax.lax.stop_gradient(log_q)
        energy = jax.lax.stop_gradient(energy)
        aux = {
            "loss": jnp.mean(log_q + beta_step * energy),
            "variational_free_energy": jnp.mean(log_q / beta + energy),
            "ess_fraction": _ess_fraction(-beta * energy - log_q),
            "beta": beta_step,
        }
        return surrogate, aux

    return objective


def _reinforce_surrogate(log_q, beta_energy, batch_size):
    # Its gradient is the score-function estimate of grad E_q[ln q + beta E]; the term
    # E_q[grad ln q] = 0 makes the dependence of f on theta drop out.
    f = jax.lax.stop_gradient(log_q + beta_energy)
    advantage = (f - jnp.mean(f)) * batch_size / (batch_size - 1)
    return jnp.mean(advantage * log_q)


def _ess_fraction(log_weights):
    """Return the importance ESS (sum w)^2 / sum w^2 divided by the number of weights."""
    log_ess = 2 * jax.scipy.special.logsumexp(log_weights) - jax.scipy.special.logsumexp(2 * log_weights)
    return jnp.exp(log_ess) / log_weights.shape[0]
