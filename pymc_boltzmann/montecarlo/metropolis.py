"""Single-spin-flip Metropolis for any spin system, with energy differences from its energy function."""

import jax
import jax.numpy as jnp

from pymc_boltzmann._checks import check_beta
from pymc_boltzmann.montecarlo.kernel import make_kernel
from pymc_boltzmann.montecarlo._spin import SpinState, flip_all_spins


def metropolis_spins(system, beta, *, global_flip=True):
    r"""Build a single-spin-flip Metropolis kernel that needs only ``system.energy_fn``.

    One step is a sweep over the sites in lattice order. At site i the flip s_i -> -s_i is
    proposed, its energy E' is evaluated with ``system.energy_fn``, and the flip is accepted
    with probability

    .. math::

        \min(1, e^{-\beta (E' - E)}).

    Each single-site update is in detailed balance with p(s) = exp(-beta E(s)) / Z, and the
    sweep composes them, so p is invariant. Every proposal costs one energy evaluation, which
    is O(n^2) for a dense spin glass, so a sweep costs O(n^3) there. Lattice models with local
    couplings have faster samplers (:func:`wolff_ising`, :func:`checkerboard_metropolis`).

    With ``global_flip`` the sweep ends, with probability 1/2, with the proposal s -> -s of
    every spin, accepted with probability min(1, exp(-beta (E(-s) - E(s)))). This move is in
    detailed balance with p because the proposal is its own inverse. For systems with
    E(-s) = E(s), such as spin glasses without a field, it is accepted whenever proposed and
    mixes the two mirror halves of the state space.

    NOTE: the kernel samples all of {-1, +1}^n. A system with a conserved quantity, such as an
    alloy at fixed composition, needs exchange moves instead.

    Parameters
    ----------
    system : BoltzmannSystem
        System with ``sample_space == "spin"``.
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
    if system.sample_space != "spin":
        raise ValueError(
            f"system.sample_space={system.sample_space!r} is invalid for spin-flip Metropolis: "
            "expected 'spin'. Use method='hmc' for real-valued systems."
        )
    n_sites = system.n_sites

    def init(position):
        return SpinState(position, system.energy_fn(position))

    def try_flip(carry, site_and_log_uniform):
        spins, energy, accepted = carry
        site, log_uniform = site_and_log_uniform
        proposal = spins.at[site].multiply(-1.0)
        proposal_energy = system.energy_fn(proposal)
        accept = log_uniform < -beta * (proposal_energy - energy)
        spins = jnp.where(accept, proposal, spins)
        energy = jnp.where(accept, proposal_energy, energy)
        return (spins, energy, accepted + accept), None

    def step(rng_key, state):
        uniforms = jax.random.uniform(rng_key, (n_sites + 1,), dtype=jnp.float64)
        initial = (state.position, state.energy, jnp.zeros((), dtype=jnp.float64))
        sites = jnp.arange(n_sites)
        (spins, energy, accepted), _ = jax.lax.scan(try_flip, initial, (sites, jnp.log(uniforms[:-1])))
        state = SpinState(spins, energy)
        if global_flip:
            state = flip_all_spins(uniforms[-1], state, system.energy_fn, beta)
        return state, accepted / n_sites

    return make_kernel("metropolis", init, step, "acceptance_rate")
