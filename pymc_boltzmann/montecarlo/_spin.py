"""The state of a spin chain and the global spin flip move shared by the spin samplers."""

from typing import NamedTuple

import jax
import jax.numpy as jnp

from pymc_boltzmann.montecarlo.kernel import accept_global_flip


class SpinState(NamedTuple):
    """State of a spin chain.

    Attributes
    ----------
    position : jax.Array, shape (n_sites,)
        Spins in {-1, +1} as float64.
    energy : jax.Array, scalar
        E(position).
    """

    position: jax.Array
    energy: jax.Array


def flip_all_spins(uniform, state, energy_fn, beta):
    """Apply the global spin flip move s -> -s of :func:`accept_global_flip` to a spin state."""
    flipped = -state.position
    flipped_energy = energy_fn(flipped)
    accept = accept_global_flip(uniform, state.energy, flipped_energy, beta)
    position = jnp.where(accept, flipped, state.position)
    return SpinState(position, jnp.where(accept, flipped_energy, state.energy))
