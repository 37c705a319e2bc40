"""Exact references: Kaufman and Onsager for the 2D Ising model, enumeration, Gaussian and quadrature results."""

from pymc_boltzmann.exact.enumeration import (
    DensityOfStates,
    boltzmann_moments,
    ising_density_of_states,
    ising_enumeration,
    spin_glass_energies,
)
from pymc_boltzmann.exact.gaussian import (
    gaussian_log_partition,
    gaussian_two_point_function,
    laplacian_eigenvalues,
)
from pymc_boltzmann.exact.kaufman import (
    ising_critical_beta,
    kaufman_energy_variance,
    kaufman_log_partition,
    kaufman_mean_energy,
    kaufman_specific_heat,
    onsager_critical_log_partition_per_site,
    onsager_free_energy_per_site,
    onsager_log_partition_per_site,
)
from pymc_boltzmann.exact.quadrature import quartic_moments
from pymc_boltzmann.exact.thermodynamic_integration import phi4_log_partition

__all__ = [
    "DensityOfStates",
    "boltzmann_moments",
    "gaussian_log_partition",
    "gaussian_two_point_function",
    "ising_critical_beta",
    "ising_density_of_states",
    "ising_enumeration",
    "kaufman_energy_variance",
    "kaufman_log_partition",
    "kaufman_mean_energy",
    "kaufman_specific_heat",
    "laplacian_eigenvalues",
    "onsager_critical_log_partition_per_site",
    "onsager_free_energy_per_site",
    "onsager_log_partition_per_site",
    "phi4_log_partition",
    "quartic_moments",
    "spin_glass_energies",
]
