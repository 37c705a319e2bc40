"""The two-dimensional Ising model on an L x L square lattice."""

import math

import jax.numpy as jnp

from pymc_boltzmann._checks import check_finite_real, check_lattice_size
from pymc_boltzmann.energies.base import BoltzmannSystem

BOUNDARIES = ("periodic", "open")


class Ising2D(BoltzmannSystem):
    r"""Ising model on an L x L square lattice with spins s_i in {-1, +1}.

    .. math::

        E(s) = -J \sum_i (s_i s_{i+\hat x} + s_i s_{i+\hat y}) - h \sum_i s_i

    Each bond is counted once, through the right and down neighbours of every site. With
    periodic boundaries and L = 2 the right and left neighbours coincide, so every pair is
    counted twice; this is the convention of Kaufman's exact partition function. With open
    boundaries, bonds that would cross the edge are absent.

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
    >>> import pymc_boltzmann as pmb
    >>> ising = pmb.energies.Ising2D(L=4)
    >>> float(ising.energy(-np.ones(16)))    # all spins aligned: 2 N bonds of -J
    -32.0
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
        return math.log1p(math.sqrt(2.0)) / (2.0 * abs(self.J))

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
        energy = self.energy_fn(x)
        m = jnp.mean(x, axis=-1)
        return {
            "energy_per_site": energy / self.n_sites,
            "energy_sq": energy**2,
            "magnetization": m,
            "abs_magnetization": jnp.abs(m),
            "magnetization_sq": m**2,
        }

    def fluctuation_observables(self, expectations, beta):
        r"""Return the susceptibility and the specific heat per site from fluctuations.

        .. math::

            \chi = \beta N (\langle m^2 \rangle - \langle |m| \rangle^2), \qquad
            c = \beta^2 (\langle E^2 \rangle - \langle E \rangle^2) / N

        The susceptibility uses |m| as is standard on finite lattices at h = 0, where
        <m> vanishes by symmetry.
        """
        n = self.n_sites
        mean_energy = expectations["energy_per_site"] * n
        return {
            "susceptibility": beta * n * (expectations["magnetization_sq"] - expectations["abs_magnetization"] ** 2),
            "specific_heat": beta**2 * (expectations["energy_sq"] - mean_energy**2) / n,
        }

    def __repr__(self):
        return f"Ising2D(L={self.L}, J={self.J}, h={self.h}, boundary={self.boundary!r})"
