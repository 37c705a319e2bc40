"""Boltzmann systems: energies, sample spaces, observables and exact references."""

from pymc_boltzmann.energies.base import BoltzmannSystem
from pymc_boltzmann.energies.ising import Ising2D

__all__ = ["BoltzmannSystem", "Ising2D"]
