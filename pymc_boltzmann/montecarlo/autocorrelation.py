"""Integrated autocorrelation times from ArviZ's effective sample size."""

import numpy as np


def integrated_autocorrelation_time(trace):
    r"""Estimate the integrated autocorrelation time of a scalar series from several chains.

    .. math::

        \tau_{\mathrm{int}} = 1 + 2 \sum_{t \ge 1} \rho(t) = \frac{n_{\mathrm{chains}} n_{\mathrm{draws}}}{\mathrm{ESS}}

    ESS is ArviZ's effective sample size of the mean (``arviz_stats.ess`` with
    ``method="mean"``: split chains and Geyer's initial monotone sequence). tau is in units of
    the steps between consecutive entries of ``trace``. The variance of a mean over the draws
    is tau times that of independent draws.

    Parameters
    ----------
    trace : array_like, shape (chains, draws)
        At least 4 draws per chain.

    Returns
    -------
    float
        tau, or NaN when ArviZ cannot estimate the ESS.
    """
    import arviz_stats

    trace = np.asarray(trace, dtype=np.float64)
    if trace.ndim != 2 or trace.shape[1] < 4:
        raise ValueError(
            f"trace has shape {trace.shape}, expected (chains, draws) with at least 4 draws. "
            "Run the chains longer before estimating the autocorrelation time."
        )
    ess = float(arviz_stats.ess(trace, method="mean", chain_axis=0, draw_axis=1))
    if not np.isfinite(ess) or ess <= 0.0:
        return float("nan")
    return trace.size / ess
