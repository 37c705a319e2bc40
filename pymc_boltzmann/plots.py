"""PNG figures of a run: F_q posterior, log-weight distributions, NMCMC traces, rank plots."""

import logging
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from pymc_boltzmann._io import save_figure  # noqa: E402

logger = logging.getLogger(__name__)

FUNCTION_SPACE = ("variational_free_energy", "mean_energy", "heldout_log_likelihood")


def plot_free_energy_posterior(result, report):
    """Histogram of the per-draw variational free energy per site F_q / N beside the exact F / N.

    Every F_q is an upper bound of F (Gibbs-Bogoliubov inequality), so the histogram should lie
    to the right of the exact line. The reweighted pooled estimate is drawn with its MCSE.
    """
    draws = result["reweighting_draws"]
    values = np.asarray(draws["variational_free_energy_per_site"]).ravel()
    figure, axes = plt.subplots(figsize=(6, 4))
    axes.hist(values, bins=min(40, max(5, values.size // 5)), color="tab:blue", alpha=0.7, label="F_q / N, posterior draws")
    row = report["estimates"].get("free_energy_per_site", {})
    if row.get("exact") is not None:
        axes.axvline(row["exact"], color="black", linestyle="--", label="exact F / N")
    if row.get("reweighted") is not None:
        mcse = row.get("mcse") or 0.0
        axes.axvspan(row["reweighted"] - 2 * mcse, row["reweighted"] + 2 * mcse, color="tab:orange", alpha=0.3)
        axes.axvline(row["reweighted"], color="tab:orange", label="reweighted F / N (± 2 MCSE)")
    axes.set_xlabel("free energy per site")
    axes.set_ylabel("posterior draws")
    axes.legend(fontsize=8)
    return figure


def plot_log_weights(result, max_draws=6):
    """Distribution of ln w - max ln w for a few posterior draws, with each draw's Pareto k-hat."""
    samples = result["reweighting"]
    draws = result["reweighting_draws"]
    log_weight = np.asarray(samples["log_weight"].transpose("chain", "draw", "sample"))
    khat = np.asarray(draws["khat"])
    flat = log_weight.reshape(-1, log_weight.shape[-1])
    flat_khat = khat.ravel()
    chosen = np.linspace(0, flat.shape[0] - 1, min(max_draws, flat.shape[0])).astype(int)
    figure, axes = plt.subplots(figsize=(6, 4))
    for index in chosen:
        finite = flat[index][np.isfinite(flat[index])]
        axes.hist(finite - finite.max(), bins=40, histtype="step", label=f"draw {index}: k-hat {flat_khat[index]:.2f}")
    threshold = draws.attrs.get("khat_threshold")
    title = "log importance weights" + (f" (k-hat threshold {threshold:.2f})" if threshold is not None else "")
    axes.set_title(title)
    axes.set_xlabel("ln w - max ln w")
    axes.set_ylabel("samples")
    axes.legend(fontsize=7)
    return figure


def plot_nmcmc_trace(result, quantity="energy_per_site"):
    """Trace of one observable along the independence Metropolis (NMCMC) chains."""
    chains = result["reweighting_nmcmc"]
    if quantity not in chains:
        quantity = next(name for name in chains.data_vars if chains[name].dims == ("chain", "draw"))
    figure, axes = plt.subplots(figsize=(7, 3))
    for chain in chains["chain"].values:
        rate = float(chains["acceptance_rate"].sel(chain=chain))
        axes.plot(np.asarray(chains[quantity].sel(chain=chain)), linewidth=0.6, label=f"chain {chain}: acceptance {rate:.2f}")
    axes.set_xlabel("NMCMC step")
    axes.set_ylabel(quantity)
    axes.legend(fontsize=7)
    return figure


def plot_function_space_rank(result):
    """ArviZ rank plot of the function-space quantities recorded per posterior draw.

    Ranks of hidden-unit weights are meaningless (permutation and sign symmetries), so only
    quantities such as the variational free energy are shown. Flat rank histograms across
    chains mean the chains agree.
    """
    import arviz as az

    names = [name for name in FUNCTION_SPACE if name in result["posterior"]]
    if not names:
        return None
    plt.close("all")
    az.plot_rank(result, var_names=names, backend="matplotlib")
    return plt.gcf()


def write_all(result, system, beta, report, folder):
    """Write every plot of a run as PNG files into ``folder / "plots"``."""
    folder = Path(folder) / "plots"
    figures = {
        "free_energy_posterior.png": lambda: plot_free_energy_posterior(result, report),
        "log_weights.png": lambda: plot_log_weights(result),
        "nmcmc_trace.png": lambda: plot_nmcmc_trace(result),
        "function_space_rank.png": lambda: plot_function_space_rank(result),
    }
    for name, make in figures.items():
        try:
            figure = make()
        except (KeyError, ValueError, StopIteration) as error:
            logger.warning("plot %s skipped: the result has no data for it (%s)", name, error)
            continue
        if figure is None:
            continue
        save_figure(figure, folder / name)
        plt.close(figure)
