r"""Importance sampling estimators of ln Z, free energies and observables, each with a standard error.

Every function works along the last axis of its inputs (the samples of one proposal), so the
same code gives per-draw estimates (one row per posterior draw) and pooled estimates (one row).
"""

import numpy as np
from scipy.special import logsumexp

from pymc_boltzmann.reweighting.psis import normalize_log_weights, smooth_log_weights

# Number of blocks of the jackknife that gives standard errors of fluctuation observables.
JACKKNIFE_BLOCKS = 20


def log_partition_nis(log_weight):
    r"""Estimate ln Z from raw log weights, with its O(1/M) bias corrected, and a standard error.

    .. math::

        \widehat{\ln Z} = \ln \frac{1}{M} \sum_m w_m + \frac{\hat v}{2M}, \qquad
        \hat v = \frac{\widehat{\mathrm{Var}}(w)}{\bar w^2}, \qquad
        \mathrm{SE} = \sqrt{\hat v / M}

    The logarithm of the unbiased mean weight is biased low by v / (2M) (Jensen's inequality,
    second-order delta method); the correction removes that term. The standard error is the
    first-order delta method.

    Returns
    -------
    log_partition, se : numpy.ndarray
        Shape ``log_weight.shape[:-1]``. A row whose weights are all -inf gives -inf and NaN.
    """
    n = log_weight.shape[-1]
    with np.errstate(invalid="ignore", divide="ignore"):
        shift = np.max(log_weight, axis=-1, keepdims=True)
        relative = np.exp(log_weight - shift)
        mean = relative.mean(axis=-1)
        relative_variance = relative.var(axis=-1, ddof=1) / mean**2
        plain = logsumexp(log_weight, axis=-1) - np.log(n)
        corrected = np.where(np.isfinite(plain), plain + relative_variance / (2 * n), plain)
        se = np.sqrt(relative_variance / n)
    return corrected, se


def variational_free_energy(log_weight, beta):
    r"""Return F_q = -E_q[ln w] / beta = E_q[ln q + beta E] / beta and its standard error.

    F_q is an upper bound of F (Gibbs inequality), so -beta F_q is a lower bound of ln Z.
    """
    n = log_weight.shape[-1]
    with np.errstate(invalid="ignore"):
        value = -log_weight.mean(axis=-1) / beta
        se = log_weight.std(axis=-1, ddof=1) / np.sqrt(n) / beta
    return value, se


def importance_ess(log_weight):
    r"""Return the importance effective sample size (sum w)^2 / sum w^2 along the last axis."""
    normalized = normalize_log_weights(log_weight)
    with np.errstate(invalid="ignore"):
        return 1.0 / np.exp(logsumexp(2.0 * normalized, axis=-1))


def self_normalized(normalized_log_weight, observables):
    r"""Return self-normalized expectations and their delta-method standard errors.

    .. math::

        \hat O = \sum_m \tilde w_m O_m, \qquad
        \mathrm{SE}^2 = \sum_m \tilde w_m^2 (O_m - \hat O)^2, \qquad
        \tilde w_m = w_m / \sum_k w_k
    """
    weights = np.exp(normalized_log_weight)
    estimates = {}
    for name, values in observables.items():
        mean = np.sum(weights * values, axis=-1)
        se = np.sqrt(np.sum(weights**2 * (values - mean[..., None]) ** 2, axis=-1))
        estimates[name] = (mean, se)
    return estimates


def block_sums(values, n_blocks, contiguous):
    """Sum ``values`` over blocks of the last axis; return shape ``(..., n_blocks)``.

    Interleaved blocks (sample m in block m mod B) suit independent samples drawn in groups, such
    as the components of a mixture. Contiguous blocks suit a Markov chain.
    """
    n = values.shape[-1]
    if contiguous:
        block = np.arange(n) * n_blocks // n
    else:
        block = np.arange(n) % n_blocks
    return np.stack([values[..., block == b].sum(axis=-1) for b in range(n_blocks)], axis=-1)


def fluctuation_jackknife(system, beta, normalized_log_weight, observables, *, contiguous=False):
    r"""Return the system's fluctuation observables and their block-jackknife standard errors.

    Fluctuation observables (susceptibility, specific heat) are nonlinear in expectations, so
    their error comes from a jackknife over B blocks: with theta_b the estimate without block b,
    SE^2 = (B - 1) / B * sum_b (theta_b - mean theta)^2.
    """
    n = normalized_log_weight.shape[-1]
    n_blocks = min(JACKKNIFE_BLOCKS, n)
    weights = np.exp(normalized_log_weight)
    full = {name: np.sum(weights * values, axis=-1) for name, values in observables.items()}
    point = system.fluctuation_observables(full, beta)
    if not point:
        return {}

    weight_blocks = block_sums(weights, n_blocks, contiguous)
    total = weight_blocks.sum(axis=-1, keepdims=True)
    leave_one_out = {}
    with np.errstate(invalid="ignore", divide="ignore"):
        for name, values in observables.items():
            weighted = block_sums(weights * values, n_blocks, contiguous)
            leave_one_out[name] = (weighted.sum(axis=-1, keepdims=True) - weighted) / (total - weight_blocks)
    replicates = system.fluctuation_observables(leave_one_out, beta)

    estimates = {}
    for name, value in point.items():
        theta = np.asarray(replicates[name])
        spread = np.sum((theta - theta.mean(axis=-1, keepdims=True)) ** 2, axis=-1)
        estimates[name] = (np.asarray(value), np.sqrt((n_blocks - 1) / n_blocks * spread))
    return estimates


def raw_estimates(system, beta, observables):
    """Return unweighted means under q of the observables and of the fluctuation observables."""
    means = {name: values.mean(axis=-1) for name, values in observables.items()}
    means.update({name: np.asarray(v) for name, v in system.fluctuation_observables(means, beta).items()})
    return means


def estimate_all(system, beta, log_weight, observables, *, psis=True):
    """Compute every reweighted estimate of one or many proposals along the last axis.

    Parameters
    ----------
    system : BoltzmannSystem
        Supplies the fluctuation observables.
    beta : float
        Inverse temperature.
    log_weight : numpy.ndarray
        Raw log weights of shape ``(..., M)``.
    observables : dict of str to numpy.ndarray
        Per-sample observables of shape ``(..., M)``.
    psis : bool
        Use Pareto-smoothed weights for self-normalized observables; ln Z always uses raw weights.

    Returns
    -------
    dict
        ``estimates`` (name to ``(value, se)``), ``raw`` (name to unweighted value), ``ess``,
        ``max_weight`` (the largest self-normalized raw weight) and ``khat`` (computed even when
        ``psis`` is False, as a diagnostic).
    """
    n_sites = system.n_sites
    log_partition, log_partition_se = log_partition_nis(log_weight)
    free_energy_q, free_energy_q_se = variational_free_energy(log_weight, beta)
    smoothed, khat = smooth_log_weights(log_weight)
    normalized = smoothed if psis else normalize_log_weights(log_weight)

    estimates = {
        "log_partition": (log_partition, log_partition_se),
        "free_energy": (-log_partition / beta, log_partition_se / beta),
        "free_energy_per_site": (-log_partition / (beta * n_sites), log_partition_se / (beta * n_sites)),
        "variational_free_energy": (free_energy_q, free_energy_q_se),
        "variational_free_energy_per_site": (free_energy_q / n_sites, free_energy_q_se / n_sites),
    }
    estimates.update(self_normalized(normalized, observables))
    estimates.update(fluctuation_jackknife(system, beta, normalized, observables))

    raw = {
        "log_partition": -beta * free_energy_q,
        "free_energy": free_energy_q,
        "free_energy_per_site": free_energy_q / n_sites,
    }
    raw.update(raw_estimates(system, beta, observables))
    with np.errstate(invalid="ignore"):
        max_weight = np.exp(np.max(normalize_log_weights(log_weight), axis=-1))
    return {
        "estimates": estimates,
        "raw": raw,
        "ess": importance_ess(log_weight),
        "max_weight": max_weight,
        "khat": khat,
    }
