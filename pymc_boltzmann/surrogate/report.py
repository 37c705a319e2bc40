"""Comparison of exact-energy, plain surrogate, posterior-predictive and penalty Monte Carlo runs."""

import math
import os
import tempfile

import numpy as np
import pandas as pd

from pymc_boltzmann.surrogate.montecarlo import (
    OBSERVABLES,
    exact_mc,
    penalty_mc,
    posterior_predictive_mc,
    surrogate_mc,
)

COLUMNS = (
    "method", "observable", "mean", "aleatoric_sd", "epistemic_sd", "total_sd", "reference",
    "reference_se", "bias", "z_score", "covered", "enumeration", "acceptance_rate",
)


def compare_simulations(system, posterior, beta, *, n_chains=16, n_sweeps=2000, n_tune=200, pp_chains=8,
                        pp_sweeps=1000, penalty_rules=("posterior_draw",), random_seed=0, z=1.96):
    """Run the four kinds of simulation and tabulate every observable against the exact-energy run.

    The reference of every row is the swap Metropolis run with the system's own energy
    (``exact_energy``), with its Monte Carlo error ``reference_se``. ``bias`` is mean - reference,
    ``z_score`` is bias / sqrt(total_sd^2 + reference_se^2), and ``covered`` is whether
    |z_score| <= ``z``. ``enumeration`` is the exact expectation where the system can enumerate
    its states (NaN otherwise); the ``exact_energy`` row is compared with it.

    Parameters
    ----------
    system : BinaryAlloy
        The lattice system with the true energy.
    posterior : SurrogatePosterior
        Posterior draws of the surrogate energy.
    beta : float
        Inverse temperature.
    n_chains, n_sweeps, n_tune : int
        Chains, recorded sweeps and burn-in sweeps of each single simulation.
    pp_chains, pp_sweeps : int
        Chains and recorded sweeps of each per-draw simulation of the posterior-predictive run.
    penalty_rules : sequence of str
        Rules of :func:`~pymc_boltzmann.surrogate.montecarlo.penalty_log_ratio` to run.
    random_seed : int
        Seed of every run.
    z : float
        Half-width of the coverage interval in standard deviations (1.96 for 95 %).

    Returns
    -------
    pandas.DataFrame
        One row per method and observable, with the columns of ``COLUMNS``.
    """
    single = {"n_chains": n_chains, "n_sweeps": n_sweeps, "n_tune": n_tune, "random_seed": random_seed}
    reference = exact_mc(system, beta, **single)
    estimates = [
        reference,
        surrogate_mc(system, posterior, beta, **single),
        posterior_predictive_mc(
            system, posterior, beta, n_chains=pp_chains, n_sweeps=pp_sweeps, n_tune=n_tune, random_seed=random_seed
        ),
    ]
    estimates += [penalty_mc(system, posterior, beta, rule=rule, **single) for rule in penalty_rules]

    enumeration = _enumerated_expectations(system, beta)
    rows = []
    for estimate in estimates:
        is_reference = estimate is reference
        target = enumeration if is_reference else reference.mean
        target_se = dict.fromkeys(OBSERVABLES, 0.0) if is_reference else reference.aleatoric_sd
        rows += _rows(estimate, target, target_se, enumeration, z)
    return pd.DataFrame(rows, columns=list(COLUMNS))


def _enumerated_expectations(system, beta):
    try:
        exact = system.exact_expectations(beta)
    except NotImplementedError:
        return dict.fromkeys(OBSERVABLES, math.nan)
    return {key: exact[key] for key in OBSERVABLES}


def _rows(estimate, reference, reference_se, enumeration, z):
    rows = []
    total = estimate.total_sd
    for key in OBSERVABLES:
        bias = estimate.mean[key] - reference[key]
        scale = math.hypot(total[key], reference_se[key])
        if scale > 0.0:
            z_score = bias / scale
        else:
            z_score = 0.0 if bias == 0.0 else math.copysign(math.inf, bias)
        rows.append({
            "method": estimate.method,
            "observable": key,
            "mean": estimate.mean[key],
            "aleatoric_sd": estimate.aleatoric_sd[key],
            "epistemic_sd": estimate.epistemic_sd[key],
            "total_sd": total[key],
            "reference": reference[key],
            "reference_se": reference_se[key],
            "bias": bias,
            "z_score": z_score,
            "covered": bool(abs(z_score) <= z) if math.isfinite(reference[key]) else None,
            "enumeration": enumeration[key],
            "acceptance_rate": estimate.acceptance_rate,
        })
    return rows


def plot_comparison(table, path, z=1.96):
    """Plot every observable's estimates with +-z total_sd error bars against the reference; write a PNG.

    The file is written to a temporary file in the same folder and renamed, so a reader never
    sees a partial image. Returns the path.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    observables = list(dict.fromkeys(table["observable"]))
    figure, axes = plt.subplots(1, len(observables), figsize=(3.2 * len(observables), 3.4), squeeze=False)
    for axis, key in zip(axes[0], observables):
        rows = table[table["observable"] == key]
        positions = np.arange(len(rows))
        axis.errorbar(positions, rows["mean"], yerr=z * rows["total_sd"], fmt="o", capsize=3)
        reference = rows[rows["method"] != "exact_energy"]["reference"]
        if len(reference):
            axis.axhline(reference.iloc[0], color="black", lw=0.8, ls="--", label="exact-energy MC")
        axis.set_xticks(positions, rows["method"], rotation=60, ha="right", fontsize=7)
        axis.set_title(key)
    axes[0][0].legend(fontsize=7)
    figure.tight_layout()

    folder = os.path.dirname(os.path.abspath(path))
    handle, temporary = tempfile.mkstemp(suffix=".png", dir=folder)
    os.close(handle)
    try:
        figure.savefig(temporary, dpi=120)
        os.replace(temporary, path)
    finally:
        plt.close(figure)
        if os.path.exists(temporary):
            os.remove(temporary)
    return path
