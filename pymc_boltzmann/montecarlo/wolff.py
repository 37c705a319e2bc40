"""Wolff single-cluster algorithm for the zero-field Ising model (Wolff 1989, Phys. Rev. Lett. 62, 361)."""

import jax
import jax.numpy as jnp

from pymc_boltzmann._checks import check_beta
from pymc_boltzmann.montecarlo._lattice import ising_neighbours
from pymc_boltzmann.montecarlo._spin import SpinState
from pymc_boltzmann.montecarlo.kernel import make_kernel


def wolff_ising(system, beta, *, global_flip=True):
    r"""Build the Wolff cluster kernel for an :class:`~pymc_boltzmann.energies.Ising2D` lattice at h = 0.

    One step picks a seed site uniformly, grows a cluster from it and flips every spin of the
    cluster. A bond between sites i and j with coupling J_ij joins the cluster when it is
    satisfied (J_ij s_i s_j > 0), with probability

    .. math::

        p_{ij} = 1 - \exp(-2 \beta |J_{ij}|).

    A bond is tested only in the growth iteration right after one of its ends joins, while
    the other end is still outside, so it is tested at most once. The cluster is therefore the
    connected component of the seed in the Fortuin-Kasteleyn random bond graph. The ratio of
    the probabilities of proposing a cluster flip and its reverse equals exp(-beta (E' - E)),
    because only the satisfied bonds on the cluster boundary differ, so every flip is accepted
    and detailed balance holds for p(s) = exp(-beta E(s)) / Z. Growth runs in a
    ``jax.lax.while_loop`` over a frontier mask, one lattice layer per iteration, so all
    arrays have a fixed shape.

    With ``global_flip`` every step ends, with probability 1/2, by flipping all spins, which
    leaves p invariant at h = 0 because E(-s) = E(s). Without it, clusters that span most of
    the lattice flip the sign of M at nearly every step, so M is anticorrelated at odd lags
    and correlated at even lags, and thinning by an even number of steps would keep that
    correlation.

    Parameters
    ----------
    system : Ising2D
        Lattice with h = 0, periodic or open boundaries, any sign of J.
    beta : float
        Inverse temperature, positive.
    global_flip : bool
        Flip all spins with probability 1/2 after every cluster flip.

    Returns
    -------
    MarkovKernel
        ``step`` returns the cluster size (number of flipped spins) as its statistic.
    """
    beta = check_beta(beta)
    neighbours, couplings = ising_neighbours(system)
    if system.h != 0.0:
        raise ValueError(
            f"system.h={system.h} is invalid for the Wolff algorithm: cluster flips leave the "
            "distribution invariant only at h = 0. Use method='checkerboard' for h != 0."
        )
    neighbours = jnp.asarray(neighbours)
    couplings = jnp.asarray(couplings)
    bond_probability = -jnp.expm1(-2.0 * beta * jnp.abs(couplings))
    n_sites = system.n_sites

    def init(position):
        return SpinState(position, system.energy_fn(position))

    def step(rng_key, state):
        spins = state.position
        satisfied = couplings * spins[:, None] * spins[neighbours] > 0.0
        # Slot (j, k) is tested only in the iteration right after site neighbours[j, k] joins,
        # and only while j is outside, so one uniform per slot and step suffices. Two extra
        # uniforms pick the seed site and the global flip, because one random call compiles faster.
        uniforms = jax.random.uniform(rng_key, (4 * n_sites + 2,), dtype=jnp.float64)
        active = satisfied & (uniforms[: 4 * n_sites].reshape(n_sites, 4) < bond_probability)

        seed = jnp.minimum(jnp.floor(uniforms[-2] * n_sites).astype(jnp.int32), n_sites - 1)
        cluster = jnp.zeros(n_sites, dtype=bool).at[seed].set(True)

        def grow(carry):
            cluster, frontier = carry
            # Each site outside the cluster tests its own bonds to the frontier, so a bond is
            # tested at most once, right after the first of its ends enters the cluster.
            joins = ~cluster & jnp.any(frontier[neighbours] & active, axis=1)
            return cluster | joins, joins

        cluster, _ = jax.lax.while_loop(lambda carry: jnp.any(carry[1]), grow, (cluster, cluster))
        flipped = jnp.where(cluster, -spins, spins)
        if global_flip:
            flipped = jnp.where(uniforms[-1] < 0.5, -flipped, flipped)
        cluster_size = jnp.sum(cluster).astype(jnp.float64)
        return SpinState(flipped, system.energy_fn(flipped)), cluster_size

    return make_kernel("wolff", init, step, "mean_cluster_size")
