"""The Sherrington-Kirkpatrick spin glass with Gaussian couplings."""

import functools

import jax.numpy as jnp
import numpy as np

from pymc_boltzmann._checks import check_beta, check_positive_int
from pymc_boltzmann.energies._spin import spin_fluctuations, spin_observables
from pymc_boltzmann.energies.base import BoltzmannSystem
from pymc_boltzmann.exact import enumeration


class SherringtonKirkpatrick(BoltzmannSystem):
    r"""Sherrington-Kirkpatrick spin glass of n fully connected spins s_i in {-1, +1}.

    .. math::

        E(s) = -\sum_{i<j} J_{ij} s_i s_j, \qquad J_{ij} \sim \mathcal N(0, 1/n)

    The couplings are drawn once, from ``numpy.random.default_rng(random_seed)``, and stored
    as the symmetric matrix ``couplings`` with zero diagonal, so E(s) = -s^T J s / 2.

    Exact references come from enumerating all 2^n states (n <= 20); the table of energies is
    computed on first use and kept on the instance (8 MiB at n = 20).

    Parameters
    ----------
    n : int
        Number of spins, at least 2.
    random_seed : int or numpy.random.Generator, optional
        Seed of the couplings. The same seed gives the same instance.

    Examples
    --------
    >>> import pymc_boltzmann as pmb
    >>> sk = pmb.energies.SherringtonKirkpatrick(n=10, random_seed=0)
    >>> sk.couplings.shape
    (10, 10)
    """

    name = "sk"
    sample_space = "spin"

    def __init__(self, n, random_seed=None):
        self.n = check_positive_int("n", n, minimum=2)
        self.random_seed = random_seed
        self.n_sites = self.n
        self.shape = (self.n,)

        rng = np.random.default_rng(random_seed)
        upper = np.triu(rng.normal(0.0, 1.0 / np.sqrt(self.n), size=(self.n, self.n)), k=1)
        self.couplings = upper + upper.T
        self.couplings.flags.writeable = False

    def energy_fn(self, x):
        couplings = jnp.asarray(self.couplings)
        return -0.5 * jnp.einsum("...i,ij,...j->...", x, couplings, x)

    def observables_fn(self, x):
        """Return energy per site, E^2, magnetization per site m, |m| and m^2."""
        return spin_observables(self.energy_fn(x), x, self.n_sites)

    def fluctuation_observables(self, expectations, beta):
        """Return the susceptibility beta N (<m^2> - <|m|>^2) and the specific heat per site."""
        return spin_fluctuations(expectations, beta, self.n_sites)

    @functools.cached_property
    def _enumerated_states(self):
        if self.n > enumeration.MAX_SPIN_GLASS_SITES:
            raise NotImplementedError(
                f"No exact reference for n={self.n}: exact enumeration covers n <= "
                f"{enumeration.MAX_SPIN_GLASS_SITES} spins (2^n states). Use reference_sample."
            )
        return enumeration.spin_glass_energies(self.couplings)

    def _moments(self, beta):
        energies, magnetizations = self._enumerated_states
        return enumeration.boltzmann_moments(energies, magnetizations, check_beta(beta), self.n_sites)

    def exact_log_partition(self, beta):
        """Return ln Z by enumerating all 2^n states (n <= 20)."""
        return self._moments(beta)["log_partition"]

    def exact_expectations(self, beta):
        """Return exact expectations of the observables, the susceptibility and the specific heat."""
        beta = check_beta(beta)
        moments = self._moments(beta)
        del moments["log_partition"]
        return {**moments, **self.fluctuation_observables(moments, beta)}

    def exact_ground_state_energy(self):
        """Return the minimum energy over all 2^n states."""
        energies, _ = self._enumerated_states
        return float(energies.min())

    def __repr__(self):
        return f"SherringtonKirkpatrick(n={self.n}, random_seed={self.random_seed!r})"
