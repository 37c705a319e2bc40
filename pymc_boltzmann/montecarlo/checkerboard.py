"""Checkerboard (sublattice-parallel) single-spin-flip Metropolis for the Ising model in a field."""

import jax
import jax.numpy as jnp

from pymc_boltzmann._checks import check_beta
from pymc_boltzmann.montecarlo._lattice import greedy_colouring, ising_neighbours
from pymc_boltzmann.montecarlo.kernel import make_kernel
from pymc_boltzmann.montecarlo._spin import SpinState, flip_all_spins


def checkerboard_metropolis(system, beta, *, global_flip=True):
    r"""Build the checkerboard Metropolis kernel for an :class:`~pymc_boltzmann.energies.Ising2D` lattice.

    The sites are split into colour classes with no bond inside a class (two colours, or three
    for periodic lattices of odd L). One step is a sweep: for each class in turn, every spin of
    the class proposes a flip at once and accepts it with the Metropolis probability

    .. math::

        \min(1, e^{-\beta \Delta E_i}), \qquad
        \Delta E_i = 2 s_i \Big(\sum_{j \sim i} J_{ij} s_j + h\Big).

    Spins of one class do not interact, so the parallel update is a product of independent
    single-spin Metropolis updates, each in detailed balance with p(s) = exp(-beta E(s)) / Z.
    The sweep composes them and keeps p invariant. Any field h and either boundary works.

    With ``global_flip`` the sweep ends, with probability 1/2, with the proposal s -> -s of
    every spin, accepted with probability min(1, exp(-beta (E(-s) - E(s)))). The proposal is
    its own inverse, so the move is in detailed balance with p too. At h = 0 it is accepted
    whenever proposed and samples both magnetized states of the ordered phase, between which
    local flips rarely move.

    Parameters
    ----------
    system : Ising2D
        Lattice, periodic or open, any J and h.
    beta : float
        Inverse temperature, positive.
    global_flip : bool
        Append the global spin flip move to every sweep.

    Returns
    -------
    MarkovKernel
        ``step`` returns the fraction of accepted flips in the sweep as its statistic.
    """
    beta = check_beta(beta)
    neighbours, couplings = ising_neighbours(system)
    colour_masks = [jnp.asarray(mask) for mask in greedy_colouring(neighbours, couplings)]
    neighbours = jnp.asarray(neighbours)
    couplings = jnp.asarray(couplings)
    field = system.h
    n_sites = system.n_sites

    def init(position):
        return SpinState(position, system.energy_fn(position))

    def step(rng_key, state):
        spins = state.position
        accepted = jnp.zeros((), dtype=jnp.float64)
        uniforms = jax.random.uniform(rng_key, (len(colour_masks) * n_sites + 1,), dtype=jnp.float64)
        colour_log_uniforms = jnp.log(uniforms[:-1]).reshape(len(colour_masks), n_sites)
        for log_uniform, mask in zip(colour_log_uniforms, colour_masks):
            local_field = jnp.sum(couplings * spins[neighbours], axis=1) + field
            delta_energy = 2.0 * spins * local_field
            flip = mask & (log_uniform < -beta * delta_energy)
            spins = jnp.where(flip, -spins, spins)
            accepted = accepted + jnp.sum(flip)
        state = SpinState(spins, system.energy_fn(spins))
        if global_flip:
            state = flip_all_spins(uniforms[-1], state, system.energy_fn, beta)
        return state, accepted / n_sites

    return make_kernel("checkerboard", init, step, "acceptance_rate")
