"""Exact enumeration of small spin systems: Ising density of states and spin-glass energy tables.

States are the integers 0 .. 2^N - 1, bit k set meaning s_k = +1 at site k (row-major order).
They are processed in chunks of vectorized NumPy bit operations, so no array contains all
2^N states with one entry per site, and no Python loop runs over states.
"""

import functools
from typing import NamedTuple

import numpy as np
from scipy.special import logsumexp

from pymc_boltzmann._checks import check_beta, check_finite_real, check_lattice_size

MAX_ISING_L = 5
MAX_SPIN_GLASS_SITES = 20
CHUNK_BITS = 20


class DensityOfStates(NamedTuple):
    """Number of Ising configurations for each pair of bond sum and magnetization.

    Attributes
    ----------
    bond_sums : numpy.ndarray
        B = sum over bonds of s_i s_j, so that E = -J B - h M.
    magnetizations : numpy.ndarray
        M = sum_i s_i.
    counts : numpy.ndarray
        g(B, M), the number of configurations with that bond sum and magnetization (int64).
    """

    bond_sums: np.ndarray
    magnetizations: np.ndarray
    counts: np.ndarray


def _state_chunks(n_sites):
    chunk_size = 1 << min(n_sites, CHUNK_BITS)
    for start in range(0, 1 << n_sites, chunk_size):
        yield np.arange(start, start + chunk_size, dtype=np.uint64)


def _ising_masks(L):
    """Return bit masks of the sites in the last column and in the last row."""
    sites = np.arange(L * L)
    last_column = int(sum(1 << int(k) for k in sites[sites % L == L - 1]))
    last_row = int(sum(1 << int(k) for k in sites[sites // L == L - 1]))
    return last_column, last_row


def _unsatisfied_bonds(states, L, boundary):
    """Count the bonds with s_i != s_j for each state, with the bond convention of Ising2D."""
    n_sites = L * L
    all_sites = (1 << n_sites) - 1
    last_column, last_row = _ising_masks(L)
    u = np.uint64

    # The right neighbour of site k is bit k + 1, except in the last column where it wraps to
    # bit k - (L - 1). The down neighbour is bit k + L, except in the last row where it wraps
    # to bit k - (L - 1) L.
    right = ((states >> u(1)) & u(all_sites & ~last_column)) | ((states << u(L - 1)) & u(last_column))
    down = ((states >> u(L)) & u(all_sites & ~last_row)) | ((states << u((L - 1) * L)) & u(last_row))
    right_mask, down_mask = all_sites, all_sites
    if boundary == "open":
        right_mask &= ~last_column
        down_mask &= ~last_row

    horizontal = np.bitwise_count((states ^ right) & u(right_mask))
    vertical = np.bitwise_count((states ^ down) & u(down_mask))
    return horizontal.astype(np.int64) + vertical.astype(np.int64)


def _ising_bond_count(L, boundary):
    return 2 * L * L if boundary == "periodic" else 2 * L * (L - 1)


@functools.lru_cache(maxsize=None)
def _ising_density_of_states(L, boundary):
    n_sites = L * L
    n_bonds = _ising_bond_count(L, boundary)
    counts = np.zeros((n_bonds + 1) * (n_sites + 1), dtype=np.int64)

    for states in _state_chunks(n_sites):
        unsatisfied = _unsatisfied_bonds(states, L, boundary)
        up_spins = np.bitwise_count(states).astype(np.int64)
        counts += np.bincount(unsatisfied * (n_sites + 1) + up_spins, minlength=counts.size)

    unsatisfied, up_spins = np.divmod(np.flatnonzero(counts), n_sites + 1)
    result = DensityOfStates(
        bond_sums=n_bonds - 2 * unsatisfied,
        magnetizations=2 * up_spins - n_sites,
        counts=counts[counts > 0],
    )
    for array in result:
        array.flags.writeable = False
    return result


def ising_density_of_states(L, boundary="periodic"):
    """Return the density of states g(B, M) of the L x L Ising model by exact enumeration.

    The bond sum B and magnetization M do not depend on J or h, so one enumeration serves
    every coupling, field and temperature. Results are cached in memory per ``(L, boundary)``.
    Enumerating 5 x 5 (2^25 states) takes a few seconds.

    Parameters
    ----------
    L : int
        Linear lattice size, 2 to 5.
    boundary : {"periodic", "open"}
        Boundary conditions, with the bond convention of :class:`~pymc_boltzmann.energies.Ising2D`
        (for periodic L = 2 every pair is counted twice).

    Returns
    -------
    DensityOfStates
        Read-only arrays of the occupied (B, M) pairs and their counts, which sum to 2^(L^2).
    """
    L = check_lattice_size("L", L)
    if L > MAX_ISING_L:
        raise ValueError(
            f"L={L} is too large for exact enumeration: expected L <= {MAX_ISING_L}, because "
            f"an L x L lattice has 2^(L^2) = 2^{L * L} states. Use Kaufman's formula "
            "(periodic, h = 0) or a Monte Carlo reference for larger lattices."
        )
    if boundary not in ("periodic", "open"):
        raise ValueError(f"boundary={boundary!r} is invalid: expected 'periodic' or 'open'.")
    return _ising_density_of_states(L, boundary)


def boltzmann_moments(energies, magnetizations, beta, n_sites, log_counts=None):
    """Return ln Z and exact Boltzmann expectations from an enumerated table of states.

    Parameters
    ----------
    energies, magnetizations : numpy.ndarray
        Energy E and total magnetization M of each table entry.
    beta : float
        Inverse temperature.
    n_sites : int
        Number of spins N, used for the per-site quantities.
    log_counts : numpy.ndarray, optional
        Logarithm of the number of states of each entry (a density of states); 0 by default.

    Returns
    -------
    dict
        ``log_partition``, ``energy_per_site`` (<E> / N), ``energy_sq`` (<E^2>),
        ``magnetization`` (<m>), ``abs_magnetization`` (<|m|>) and ``magnetization_sq``
        (<m^2>), with m = M / N.
    """
    log_weights = -beta * energies
    if log_counts is not None:
        log_weights = log_weights + log_counts
    log_partition = logsumexp(log_weights)
    probabilities = np.exp(log_weights - log_partition)
    m = magnetizations / n_sites

    def expect(values):
        return float(np.dot(probabilities, values))

    return {
        "log_partition": float(log_partition),
        "energy_per_site": expect(energies) / n_sites,
        "energy_sq": expect(energies**2),
        "magnetization": expect(m),
        "abs_magnetization": expect(np.abs(m)),
        "magnetization_sq": expect(m**2),
    }


def ising_enumeration(L, beta, J=1.0, h=0.0, boundary="periodic"):
    """Return ln Z and exact expectations of the L x L Ising model from its density of states.

    E = -J B - h M as in :class:`~pymc_boltzmann.energies.Ising2D`; see
    :func:`boltzmann_moments` for the keys of the returned dict.
    """
    beta = check_beta(beta)
    J = check_finite_real("J", J)
    h = check_finite_real("h", h)
    density = ising_density_of_states(L, boundary)
    energies = -J * density.bond_sums - h * density.magnetizations
    return boltzmann_moments(energies, density.magnetizations, beta, L * L, np.log(density.counts))


def _spin_chunk(states, n_sites):
    bits = (states[:, None] >> np.arange(n_sites, dtype=np.uint64)) & np.uint64(1)
    return 2.0 * bits.astype(np.float64) - 1.0


def spin_glass_energies(couplings, fields=None):
    """Return the energy and magnetization of every state of a spin glass with pairwise couplings.

    E(s) = -(1/2) s^T J s - h^T s for a symmetric coupling matrix J with zero diagonal, which is
    -sum_{i<j} J_ij s_i s_j - sum_i h_i s_i.

    Parameters
    ----------
    couplings : array_like
        Symmetric (n, n) matrix with zero diagonal, n <= 20.
    fields : array_like, optional
        Local fields h of shape (n,).

    Returns
    -------
    energies : numpy.ndarray
        E of the 2^n states, state index k having s_i = +1 where bit i of k is set.
    magnetizations : numpy.ndarray
        M = sum_i s_i of the same states (int8).
    """
    couplings = np.asarray(couplings, dtype=np.float64)
    n_sites = couplings.shape[0]
    if n_sites > MAX_SPIN_GLASS_SITES:
        raise ValueError(
            f"n={n_sites} is too large for exact enumeration: expected n <= "
            f"{MAX_SPIN_GLASS_SITES}, because the table of 2^n energies grows as "
            f"8 * 2^n bytes. Use a Monte Carlo reference for larger systems."
        )
    fields = np.zeros(n_sites) if fields is None else np.asarray(fields, dtype=np.float64)

    energies = np.empty(1 << n_sites)
    magnetizations = np.empty(1 << n_sites, dtype=np.int8)
    for states in _state_chunks(n_sites):
        spins = _spin_chunk(states, n_sites)
        chunk = slice(int(states[0]), int(states[-1]) + 1)
        energies[chunk] = -0.5 * np.einsum("bi,ij,bj->b", spins, couplings, spins) - spins @ fields
        magnetizations[chunk] = 2 * np.bitwise_count(states).astype(np.int8) - n_sites
    return energies, magnetizations

