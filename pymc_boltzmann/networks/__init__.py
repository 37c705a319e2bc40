"""Generative networks q_theta whose weights are PyMC random variables."""

from pymc_boltzmann.networks.base import Network, WeightSpec, default_prior
from pymc_boltzmann.networks.meanfield import MeanFieldSpins

__all__ = ["MeanFieldSpins", "Network", "WeightSpec", "default_prior"]
