"""The two-dimensional Ising model on an L x L square lattice."""

import jax.numpy as jnp

from pymc_boltzmann._checks import check_beta, check_finite_real, check_lattice_size
from pymc_boltzmann.energies._spin import spin_fluctuations, spin_observables
from pymc_boltzmann.energies.base import BoltzmannSystem
from pymc_boltzmann.exact import enumeration, kaufman

BOUNDARIES = ("periodic", "open")


class Ising2D(BoltzmannSystem):
    r"""Ising model on an L x L square lattice with spins s_i in {-1, +1}.

    .. math::

        E(s) = -J \sum_i (s_i s_{i+\hat x} + s_i s_{i+\hat y}) - h \sum_i s_i

    Each bond is counted once, through the right and down neighbours of every site. With
    periodic boundaries and L = 2 the right and left neighbours coincide, so every pair is
    counted twice; this is the convention of Kaufman's exact partition function. With open
    boundaries, bonds that would cross the edge are absent.

    Exact references: for L <= 5 every quantity comes from enumerating all 2^(L^2) states into
    a density of states (any J, h and boundary). For larger periodic lattices at h = 0, ln Z,
    the mean energy and the specific heat come from Kaufman's formula and its beta derivatives;
    J < 0 is mapped onto |J| there, which needs even L.

    Parameters
    ----------
    L : int
        Linear lattice size, at least 2.
    J : float
        Coupling; J > 0 is ferromagnetic, J < 0 antiferromagnetic.
    h : float
        External field.
    boundary : {"periodic", "open"}
        Boundary conditions.

    Examples
    --------
    >>> import numpy as np
    >>> import pymc_boltzmann as pmb
    >>> ising = pmb.energies.Ising2D(L=4)
    >>> float(ising.energy(-np.ones(16)))    # all spins aligned: 2 N bonds of -J
    -32.0
    >>> round(ising.exact_log_partition(ising.critical_beta), 6)
    15.521915
    """

    name = "ising"
    sample_space = "spin"

    def __init__(self, L, J=1.0, h=0.0, boundary="periodic"):
        self.L = check_lattice_size("L", L)
        self.J = check_finite_real("J", J)
        self.h = check_finite_real("h", h)
        if boundary not in BOUNDARIES:
            raise ValueError(
                f"boundary={boundary!r} is invalid: expected one of {BOUNDARIES}."
            )
        self.boundary = boundary
        self.shape = (self.L, self.L)
        self.n_sites = self.L * self.L

    @property
    def critical_beta(self):
        """Onsager's critical inverse temperature ln(1 + sqrt 2) / (2 |J|) of the infinite lattice."""
        return kaufman.ising_critical_beta(self.J)

    def _bond_sum(self, x):
        lattice = x.reshape(x.shape[:-1] + self.shape)
        if self.boundary == "periodic":
            right = jnp.roll(lattice, -1, axis=-1)
            down = jnp.roll(lattice, -1, axis=-2)
            return jnp.sum(lattice * right + lattice * down, axis=(-2, -1))
        horizontal = jnp.sum(lattice[..., :, :-1] * lattice[..., :, 1:], axis=(-2, -1))
        vertical = jnp.sum(lattice[..., :-1, :] * lattice[..., 1:, :], axis=(-2, -1))
        return horizontal + vertical

    def energy_fn(self, x):
        return -self.J * self._bond_sum(x) - self.h * jnp.sum(x, axis=-1)

    def observables_fn(self, x):
        """Return energy per site, magnetization per site, |M| per site and M^2 per site^2.

        ``magnetization`` is m = (1/N) sum_i s_i, ``abs_magnetization`` is |m| and
        ``magnetization_sq`` is m^2; ``energy_sq`` is E^2, used for the specific heat.
        """
        return spin_observables(self.energy_fn(x), x, self.n_sites)

    def fluctuation_observables(self, expectations, beta):
        r"""Return the susceptibility and the specific heat per site from fluctuations.

        .. math::

            \chi = \beta N (\langle m^2 \rangle - \langle |m| \rangle^2), \qquad
            c = \beta^2 (\langle E^2 \rangle - \langle E \rangle^2) / N

        The susceptibility uses |m| as is standard on finite lattices at h = 0, where
        <m> vanishes by symmetry.
        """
        return spin_fluctuations(expectations, beta, self.n_sites)

    def _uses_enumeration(self):
        return self.L <= enumeration.MAX_ISING_L

    def _check_kaufman_scope(self):
        if self.h != 0.0:
            raise NotImplementedError(
                f"No exact reference for L={self.L} at h={self.h}: Kaufman's formula is valid only "
                f"at h = 0, and exact enumeration only up to L = {enumeration.MAX_ISING_L}."
            )
        if self.boundary != "periodic":
            raise NotImplementedError(
                f"No exact reference for L={self.L} with open boundaries: Kaufman's formula "
                f"is valid only for periodic boundaries, and exact enumeration only up to "
                f"L = {enumeration.MAX_ISING_L}."
            )
        if self.J == 0.0:
            raise NotImplementedError(
                "J=0.0 has no Kaufman reference: the spins are independent, so use "
                "ln Z = N ln(2 cosh(beta h)) directly."
            )

    def exact_log_partition(self, beta):
        """Return the exact ln Z: enumeration for L <= 5, Kaufman's formula otherwise.

        Raises
        ------
        NotImplementedError
            For L > 5 with h != 0, open boundaries, or J < 0 with odd L, which Kaufman's
            formula does not cover.
        """
        beta = check_beta(beta)
        if self._uses_enumeration():
            return enumeration.ising_enumeration(self.L, beta, self.J, self.h, self.boundary)["log_partition"]
        self._check_kaufman_scope()
        return kaufman.kaufman_log_partition(self.L, beta, self.J)

    def exact_expectations(self, beta):
        """Return exact expectations keyed like :meth:`observables_fn`, with fluctuation quantities.

        For L <= 5 (enumeration) every observable, the susceptibility and the specific heat are
        returned. For larger periodic lattices at h = 0 only ``energy_per_site``,
        ``energy_sq`` and ``specific_heat`` are known exactly (from Kaufman's ln Z).
        """
        beta = check_beta(beta)
        if self._uses_enumeration():
            moments = enumeration.ising_enumeration(self.L, beta, self.J, self.h, self.boundary)
            del moments["log_partition"]
            return {**moments, **self.fluctuation_observables(moments, beta)}

        self._check_kaufman_scope()
        mean_energy = kaufman.kaufman_mean_energy(self.L, beta, self.J)
        variance = kaufman.kaufman_energy_variance(self.L, beta, self.J)
        return {
            "energy_per_site": mean_energy / self.n_sites,
            "energy_sq": variance + mean_energy**2,
            "specific_heat": beta**2 * variance / self.n_sites,
        }

    def onsager_free_energy_per_site(self, beta):
        """Return the free energy per site of the infinite lattice at this coupling (Onsager, h = 0)."""
        if self.h != 0.0:
            raise NotImplementedError(
                f"Onsager's solution is valid only at h = 0, got h={self.h}. Use exact enumeration "
                "(L <= 5) or reference_sample in a field."
            )
        return kaufman.onsager_free_energy_per_site(beta, self.J)

    def __repr__(self):
        return f"Ising2D(L={self.L}, J={self.J}, h={self.h}, boundary={self.boundary!r})"
