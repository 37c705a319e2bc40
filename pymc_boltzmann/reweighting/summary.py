"""Tables of reweighted estimates: :func:`summary` and its JSON form :func:`summary_to_dict`."""

import math

import numpy as np

from pymc_boltzmann.reweighting.posterior_predictive import DRAW_GROUP, ESTIMATE_GROUP, NMCMC_GROUP, SAMPLE_GROUP

COLUMNS = (
    "raw",
    "epistemic_sd",
    "reweighted",
    "mcse",
    "ess",
    "khat",
    "reliable",
    "exact",
    "z_score",
    "bias",
    "nmcmc",
    "nmcmc_mcse",
    "nmcmc_ess",
)


def _estimates(result):
    if ESTIMATE_GROUP not in result.children:
        raise ValueError(
            f"result has no {ESTIMATE_GROUP!r} group (groups: {sorted(result.children)}). "
            "Pass the DataTree returned by pmb.reweight."
        )
    return result[ESTIMATE_GROUP].to_dataset()


def summary(result, *, exact=True):
    """Tabulate the reweighted estimates, one row per quantity, in the spirit of ``az.summary``.

    The table is a pandas DataFrame because that is what ``az.summary`` returns and it prints
    as a readable table. ``DataFrame.to_json`` or :func:`summary_to_dict` turn it into a
    report, and the full data stay in the DataTree.

    Parameters
    ----------
    result : xarray.DataTree
        The output of :func:`pymc_boltzmann.reweight`.
    exact : bool
        Include the columns ``exact`` and ``z_score``. Quantities without an exact reference
        have NaN there.

    Returns
    -------
    pandas.DataFrame
        Index: quantity (``free_energy_per_site``, ``log_partition``, ``energy_per_site``,
        ``abs_magnetization``, ``susceptibility``, ...). Columns:

        - ``raw``: mean over posterior draws of the estimate under q without reweighting (for
          ln Z and F, the variational bound -beta F_q and F_q);
        - ``epistemic_sd``: standard deviation over posterior draws of that raw estimate;
        - ``reweighted``: importance sampling estimate with the posterior predictive mixture
          q_bar as proposal (PSIS-smoothed weights for observables, bias-corrected ln Z);
        - ``mcse``: its Monte Carlo standard error;
        - ``ess`` and ``khat``: importance effective sample size and Pareto k-hat of the
          pooled weights;
        - ``reliable``: k-hat at or below min(1 - 1/log10(N), 0.7) for N pooled samples
          (False when k-hat is NaN);
        - ``exact``: the system's exact value; ``z_score`` = (reweighted - exact) / mcse;
        - ``bias``: raw - reweighted, the bias of the generative model;
        - ``nmcmc``, ``nmcmc_mcse``, ``nmcmc_ess``: independence Metropolis estimate, its
          standard error sd / sqrt(ESS) and the ArviZ ESS of its chains.
    """
    estimates = _estimates(result)
    frame = estimates[[c for c in COLUMNS if c in estimates and c != "z_score"]].to_dataframe()
    frame["z_score"] = (frame["reweighted"] - frame["exact"]) / frame["mcse"]
    frame["reliable"] = frame["reliable"].astype(bool)
    columns = [c for c in COLUMNS if c in frame]
    if not exact:
        columns = [c for c in columns if c not in ("exact", "z_score")]
    return frame[columns]


def _json_number(value):
    """Return a float, an int, a bool or None (for NaN and infinities), so JSON stays standard."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    value = float(value)
    return value if math.isfinite(value) else None


def mode_coverage(result):
    """Return the fraction of proposal samples with positive, negative and zero magnetization.

    A network that reproduces a Z2-symmetric ordered phase puts about half of its samples in
    each sign. A network stuck in one mode puts nearly all of them in one. Returns None when
    the system has no ``magnetization`` observable.
    """
    if SAMPLE_GROUP not in result.children or "magnetization" not in result[SAMPLE_GROUP]:
        return None
    m = result[SAMPLE_GROUP]["magnetization"].values
    return {
        "positive": float(np.mean(m > 0)),
        "negative": float(np.mean(m < 0)),
        "zero": float(np.mean(m == 0)),
    }


def summary_to_dict(result):
    """Return the summary table and the diagnostics as a JSON-serializable dict.

    NaN and infinite values become None. The keys are ``summary`` (quantity to a dict of the
    columns of :func:`summary`), ``diagnostics`` (k-hat threshold, pooled and per-draw k-hat,
    ESS, NMCMC acceptance rate and autocorrelation times, mode coverage) and ``settings``.
    """
    table = summary(result)
    rows = {
        quantity: {column: _json_number(value) for column, value in row.items()}
        for quantity, row in table.iterrows()
    }
    attrs = dict(result[ESTIMATE_GROUP].attrs)
    settings_keys = ("beta", "samples_per_draw", "n_sites", "system", "network", "psis", "pooled_draws", "n_draws")
    settings = {k: attrs[k] if isinstance(attrs[k], str) else _json_number(attrs[k]) for k in settings_keys if k in attrs}
    diagnostics = {
        k: v if isinstance(v, str) else _json_number(v)
        for k, v in attrs.items()
        if k not in settings_keys
    }
    if NMCMC_GROUP in result.children:
        nmcmc = result[NMCMC_GROUP]
        diagnostics["nmcmc_tau"] = {
            str(q): _json_number(t) for q, t in zip(nmcmc["quantity"].values, nmcmc["tau"].values)
        }
    if DRAW_GROUP in result.children:
        draw_khat = result[DRAW_GROUP]["khat"].values
        # Every k-hat is NaN when no draw has enough distinct weights to fit a tail.
        finite = draw_khat[np.isfinite(draw_khat)]
        diagnostics["draw_khat_median"] = _json_number(np.median(finite)) if finite.size else None
    diagnostics["mode_coverage"] = mode_coverage(result)
    return {"summary": rows, "diagnostics": diagnostics, "settings": settings}
