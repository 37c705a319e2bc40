"""Pareto smoothed importance sampling (PSIS) of log importance weights through ArviZ."""

import math

import arviz  # noqa: F401  (registers the ``azstats`` accessor on xarray objects)
import numpy as np
import xarray as xr
from scipy.special import logsumexp


def khat_threshold(n_samples):
    """Return the Pareto k-hat above which an estimate from ``n_samples`` weights is unreliable.

    The threshold is min(1 - 1 / log10(n), 0.7), the sample-size dependent bound that ArviZ 1.3
    uses in ``arviz_stats.loo``; it is 0.5 at n = 100 and 0.7 from n = 2154 on.
    """
    if n_samples <= 10:
        # 1 - 1/log10(n) is not positive for n <= 10: no k-hat is small enough.
        return -math.inf
    return min(1.0 - 1.0 / math.log10(n_samples), 0.7)


def normalize_log_weights(log_weight):
    """Return log weights shifted along the last axis so that their logsumexp is 0."""
    with np.errstate(invalid="ignore"):
        return log_weight - logsumexp(log_weight, axis=-1, keepdims=True)


def _psis_row(log_weight):
    """Smooth one row of log weights; return raw normalized weights and NaN k-hat on failure."""
    finite = np.isfinite(log_weight)
    smoothed = np.full_like(log_weight, -np.inf)
    if finite.sum() < 5:
        return normalize_log_weights(log_weight), np.nan
    # ArviZ 1.3 (arviz_stats.base.diagnostics._psislw) treats its input as a log-likelihood and
    # smooths the ratios exp(-input), so the log weights go in with their sign flipped.
    data = xr.DataArray(-log_weight[finite], dims=("sample",))
    try:
        smoothed_finite, khat = data.azstats.psislw(dim="sample")
    except ValueError:
        # ArviZ raises this when all tail weights are equal, so there are too few distinct weights to fit.
        return normalize_log_weights(log_weight), np.nan
    smoothed[finite] = smoothed_finite.values
    return smoothed, float(khat)


def smooth_log_weights(log_weight):
    """Pareto-smooth log weights along the last axis.

    Parameters
    ----------
    log_weight : numpy.ndarray
        Log importance weights ln w = -beta E - ln q of shape ``(..., n_samples)``. Entries of
        -inf (configurations where p has no mass) are kept at -inf.

    Returns
    -------
    smoothed : numpy.ndarray
        Smoothed log weights, normalized so that their logsumexp along the last axis is 0.
    khat : numpy.ndarray
        Pareto k-hat of shape ``(...)``; NaN when the tail has too few distinct weights to fit.
    """
    log_weight = np.asarray(log_weight, dtype=np.float64)
    rows = log_weight.reshape(-1, log_weight.shape[-1])
    smoothed = np.empty_like(rows)
    khat = np.empty(rows.shape[0])

    # One ArviZ call for all rows without -inf, and row by row only where that call fails.
    finite_rows = np.flatnonzero(np.isfinite(rows).all(axis=1))
    remaining = np.setdiff1d(np.arange(rows.shape[0]), finite_rows)
    if finite_rows.size and rows.shape[1] >= 5:
        data = xr.DataArray(-rows[finite_rows], dims=("row", "sample"))
        try:
            smoothed_finite, khat_finite = data.azstats.psislw(dim="sample")
            smoothed[finite_rows] = smoothed_finite.transpose("row", "sample").values
            khat[finite_rows] = khat_finite.values
        except ValueError:
            remaining = np.arange(rows.shape[0])
    else:
        remaining = np.arange(rows.shape[0])

    for i in remaining:
        smoothed[i], khat[i] = _psis_row(rows[i])
    return smoothed.reshape(log_weight.shape), khat.reshape(log_weight.shape[:-1])
