"""Generative networks q_theta whose weights are PyMC random variables."""

from pymc_boltzmann.networks.base import Network, WeightSpec, default_prior
from pymc_boltzmann.networks.made import MADE
from pymc_boltzmann.networks.meanfield import DiagonalGaussian, MeanFieldSpins
from pymc_boltzmann.networks.mixture import GaussianMixtureDensity
from pymc_boltzmann.networks.realnvp import RealNVP

__all__ = [
    "MADE",
    "DiagonalGaussian",
    "GaussianMixtureDensity",
    "MeanFieldSpins",
    "Network",
    "RealNVP",
    "WeightSpec",
    "default_prior",
]
