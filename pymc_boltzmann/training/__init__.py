"""Point estimates of network weights: maximum likelihood on data and variational free energy minimization."""

from pymc_boltzmann.training.data import fit_data
from pymc_boltzmann.training.energy import fit_energy

__all__ = ["fit_data", "fit_energy"]
