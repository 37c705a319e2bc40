"""Bayesian surrogate energies inside Monte Carlo: aleatoric plus epistemic uncertainty.

The weights of a neural-network regression E_theta(x) of a lattice energy are sampled with
NUTS. Swap-move Metropolis then runs once per posterior draw (vectorized), so every observable
comes with its Monte Carlo (aleatoric) error and the spread between draws (epistemic). The law
of total variance combines the two. Noisy energy differences are handled with the penalty method of Ceperley
and Dewing.
"""

from pymc_boltzmann.surrogate.montecarlo import (
    MonteCarloEstimate,
    exact_mc,
    noisy_mc,
    penalty_log_ratio,
    penalty_mc,
    posterior_predictive_mc,
    surrogate_mc,
)
from pymc_boltzmann.surrogate.network import SurrogateEnergy, environment_features
from pymc_boltzmann.surrogate.posterior import SurrogatePosterior, fit_surrogate
from pymc_boltzmann.surrogate.report import compare_simulations, plot_comparison
from pymc_boltzmann.surrogate.swap_metropolis import estimated_variance_penalty, known_variance_penalty

__all__ = [
    "MonteCarloEstimate",
    "SurrogateEnergy",
    "SurrogatePosterior",
    "compare_simulations",
    "environment_features",
    "estimated_variance_penalty",
    "exact_mc",
    "fit_surrogate",
    "known_variance_penalty",
    "noisy_mc",
    "penalty_log_ratio",
    "penalty_mc",
    "plot_comparison",
    "posterior_predictive_mc",
    "surrogate_mc",
]
