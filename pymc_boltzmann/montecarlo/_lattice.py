"""Neighbour tables and site colourings of the square lattice used by the Ising samplers."""

import numpy as np

from pymc_boltzmann.energies.ising import Ising2D


def ising_neighbours(system):
    """Return the neighbour table and bond couplings of an :class:`Ising2D` lattice.

    Every site has four slots (right, left, down, up). A slot whose bond is absent (open
    boundaries) points at the site itself with coupling 0. With periodic boundaries and L = 2
    the right and left slots hold the same site: the energy counts that pair twice, so the two
    slots are two bonds, each of coupling J.

    Returns
    -------
    neighbours : numpy.ndarray of int, shape (n_sites, 4)
    couplings : numpy.ndarray of float, shape (n_sites, 4)
    """
    if not isinstance(system, Ising2D):
        raise ValueError(
            f"system={system!r} is invalid: this sampler needs an Ising2D lattice. "
            "Use method='metropolis' for other spin systems."
        )
    L = system.L
    row, column = np.divmod(np.arange(L * L), L)
    offsets = ((0, 1), (0, -1), (1, 0), (-1, 0))
    neighbours = np.empty((L * L, 4), dtype=np.int64)
    couplings = np.empty((L * L, 4), dtype=np.float64)
    for slot, (d_row, d_column) in enumerate(offsets):
        target_row, target_column = row + d_row, column + d_column
        if system.boundary == "periodic":
            inside = np.ones(L * L, dtype=bool)
        else:
            inside = (target_row >= 0) & (target_row < L) & (target_column >= 0) & (target_column < L)
        target = (target_row % L) * L + target_column % L
        neighbours[:, slot] = np.where(inside, target, np.arange(L * L))
        couplings[:, slot] = np.where(inside, system.J, 0.0)
    return neighbours, couplings


def greedy_colouring(neighbours, couplings):
    """Colour the sites so that no two coupled sites share a colour.

    A two-colour checkerboard fails for periodic lattices of odd L, because the first and last
    columns are neighbours of the same parity. The greedy colouring then uses a third colour.

    Returns
    -------
    list of numpy.ndarray of bool
        One mask of shape (n_sites,) per colour.
    """
    n_sites = neighbours.shape[0]
    colours = np.full(n_sites, -1)
    for site in range(n_sites):
        coupled = neighbours[site][couplings[site] != 0.0]
        neighbour_colours = set(colours[coupled[coupled != site]].tolist())
        colours[site] = next(c for c in range(5) if c not in neighbour_colours)
    return [colours == c for c in range(colours.max() + 1)]
