r"""Neural Markov chain Monte Carlo: independence Metropolis-Hastings with the network as proposal.

A proposal x' drawn from q independently of the current state x is accepted with probability

.. math::

    \alpha = \min\left(1, \frac{p(x')\, q(x)}{p(x)\, q(x')}\right) = \min\left(1, \frac{w(x')}{w(x)}\right),

so only the log weights ln w = -beta E - ln q enter, Z cancels, and the chain samples p exactly
in the limit of long chains whenever q covers the support of p.
"""

import arviz  # noqa: F401  (registers the ``azstats`` accessor on xarray objects)
import numpy as np
import xarray as xr

from pymc_boltzmann.reweighting.estimators import fluctuation_jackknife


def independence_metropolis(log_weight, rng):
    """Run one independence Metropolis chain per row of a stream of proposals.

    Parameters
    ----------
    log_weight : numpy.ndarray
        Log weights of the proposals, shape ``(n_chains, n_steps)``; proposal t of chain c is
        ``log_weight[c, t]`` and the chain starts at proposal 0.
    rng : numpy.random.Generator
        Source of the uniform numbers of the accept step.

    Returns
    -------
    state : numpy.ndarray
        Index of the proposal each chain sits on after every step, shape ``(n_chains, n_steps)``.
    acceptance_rate : numpy.ndarray
        Fraction of accepted proposals per chain (steps 1 to n_steps - 1).
    """
    n_chains, n_steps = log_weight.shape
    log_u = np.log(rng.uniform(size=(n_chains, n_steps)))
    state = np.zeros((n_chains, n_steps), dtype=np.int64)
    current = np.zeros(n_chains, dtype=np.int64)
    rows = np.arange(n_chains)
    accepted = np.zeros(n_chains)
    for t in range(1, n_steps):
        with np.errstate(invalid="ignore"):
            accept = log_u[:, t] < log_weight[:, t] - log_weight[rows, current]
        # A chain stuck where p has no mass (ln w = -inf) moves to any proposal with finite ln w.
        accept |= np.isneginf(log_weight[rows, current]) & np.isfinite(log_weight[:, t])
        current = np.where(accept, t, current)
        accepted += accept
        state[:, t] = current
    return state, accepted / max(n_steps - 1, 1)


def chain_estimates(system, beta, observables):
    r"""Return NMCMC estimates with standard errors from the effective sample size.

    For each observable, ESS comes from ArviZ (``azstats.ess`` with ``method="mean"`` over the
    chain and draw dimensions), the integrated autocorrelation time is tau = N / ESS for N
    states in total, and SE = sd / sqrt(ESS). Fluctuation observables use a jackknife over
    contiguous blocks of the concatenated chains.

    Parameters
    ----------
    observables : dict of str to numpy.ndarray
        Observables along the chains, shape ``(n_chains, n_steps)``.

    Returns
    -------
    estimates : dict
        Name to ``(value, se)``.
    ess, tau : dict
        Name to ESS and to integrated autocorrelation time.
    """
    estimates, ess, tau = {}, {}, {}
    n_total = next(iter(observables.values())).size
    for name, values in observables.items():
        data = xr.DataArray(values, dims=("chain", "draw"))
        if np.ptp(values) == 0:
            # A constant chain carries no information on its autocorrelation.
            ess[name] = np.nan
        else:
            ess[name] = float(data.azstats.ess(sample_dims=["chain", "draw"], method="mean"))
        tau[name] = n_total / ess[name]
        estimates[name] = (float(values.mean()), float(values.std(ddof=1) / np.sqrt(ess[name])))

    flat = {name: values.reshape(-1) for name, values in observables.items()}
    uniform = np.full(n_total, -np.log(n_total))
    for name, (value, se) in fluctuation_jackknife(system, beta, uniform, flat, contiguous=True).items():
        estimates[name] = (float(value), float(se))
    return estimates, ess, tau
