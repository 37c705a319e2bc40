"""Boltzmann systems: energies, sample spaces, observables and exact references."""

from pymc_boltzmann.energies.alloy import BinaryAlloy
from pymc_boltzmann.energies.base import BoltzmannSystem
from pymc_boltzmann.energies.ising import Ising2D
from pymc_boltzmann.energies.mixture import GaussianMixture
from pymc_boltzmann.energies.phi4 import Phi4
from pymc_boltzmann.energies.spin_glass import SherringtonKirkpatrick
from pymc_boltzmann.energies.wells import DoubleWell, ManyWell

__all__ = [
    "BinaryAlloy",
    "BoltzmannSystem",
    "DoubleWell",
    "GaussianMixture",
    "Ising2D",
    "ManyWell",
    "Phi4",
    "SherringtonKirkpatrick",
]
