"""Importance reweighting of a network's posterior predictive against the true energy, with diagnostics."""

from pymc_boltzmann.reweighting.posterior_predictive import exact_references, reweight
from pymc_boltzmann.reweighting.psis import khat_threshold, smooth_log_weights
from pymc_boltzmann.reweighting.summary import mode_coverage, summary, summary_to_dict

__all__ = [
    "exact_references",
    "khat_threshold",
    "mode_coverage",
    "reweight",
    "smooth_log_weights",
    "summary",
    "summary_to_dict",
]
