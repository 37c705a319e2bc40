"""PyMC models of network weights in the two regimes: ``data`` (observed configurations) and ``energy``."""

from pymc_boltzmann.models.data import data_model
from pymc_boltzmann.models.energy import energy_model
from pymc_boltzmann.models.free_energy import (
    MAX_ENUMERATION_SITES,
    FreeEnergyEstimator,
    ReferenceSet,
    build_estimator,
    exact_free_energy,
)

__all__ = [
    "MAX_ENUMERATION_SITES",
    "FreeEnergyEstimator",
    "ReferenceSet",
    "build_estimator",
    "data_model",
    "energy_model",
    "exact_free_energy",
]
