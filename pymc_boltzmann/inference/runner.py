"""Run many chains of one kernel: vectorized on one device, or sharded across devices."""

import math

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import NamedSharding, PartitionSpec

CHAIN_METHODS = ("vectorized", "sharded", "parallel", "auto")


def resolve_chain_method(chain_method, chains):
    """Return ``"vectorized"`` or ``"sharded"`` for the requested method and the devices present.

    ``"parallel"`` is a synonym of ``"sharded"``. ``"auto"`` shards when JAX has more than
    one device and the chains divide evenly among them.
    """
    if chain_method not in CHAIN_METHODS:
        raise ValueError(
            f"chain_method={chain_method!r} is invalid: expected one of {CHAIN_METHODS}."
        )
    n_devices = jax.device_count()
    if chain_method == "auto":
        return "sharded" if n_devices > 1 and chains % n_devices == 0 else "vectorized"
    if chain_method in ("sharded", "parallel"):
        if chains % n_devices != 0:
            raise ValueError(
                f"chains={chains} cannot be sharded evenly across {n_devices} devices: pass a "
                f"multiple of {n_devices}, or chain_method='vectorized'."
            )
        return "sharded"
    return "vectorized"


def _chunk_length(tune, draws, progressbar):
    """Return a chunk length that divides both tune and draws, so one program serves all chunks."""
    common = math.gcd(tune, draws)
    if not progressbar:
        return common
    max_length = max(1, (tune + draws) // 20)
    return max(d for d in range(1, common + 1) if common % d == 0 and d <= max_length)


def _place(tree, sharding):
    if sharding is None:
        return tree
    return jax.device_put(tree, sharding)


def run_chains(kernel, rng_key, positions, data, tune, draws, chain_method, progressbar):
    """Run ``tune + draws`` transitions of every chain and return the draws after tuning.

    Parameters
    ----------
    kernel : Kernel
        The kernel, already built for the target.
    rng_key : jax.Array
        Key from which every chain's keys are split.
    positions : numpy.ndarray
        Initial flat positions, shape ``(chains, n_dim)``.
    data : tuple of arrays
        The model's data, passed to every compiled call as an argument.
    chain_method : {"vectorized", "sharded"}
        With ``"sharded"`` the chain axis of every array is split across all devices.

    Returns
    -------
    positions : numpy.ndarray, shape (chains, draws, n_dim)
    info : dict of numpy.ndarray, each of shape (chains, draws)
    """
    chains = positions.shape[0]
    total = tune + draws
    chain_keys = jax.random.split(rng_key, chains)
    init_keys = jax.vmap(lambda key: jax.random.fold_in(key, 0))(chain_keys)
    step_keys = jax.vmap(lambda key: jax.random.split(jax.random.fold_in(key, 1), total))(chain_keys)

    chain_sharding = data_sharding = None
    if chain_method == "sharded":
        # Auto axes let XLA propagate the chain sharding through vmap and scan.
        mesh = jax.make_mesh(
            (jax.device_count(),), ("chain",), axis_types=(jax.sharding.AxisType.Auto,)
        )
        chain_sharding = NamedSharding(mesh, PartitionSpec("chain"))
        data_sharding = NamedSharding(mesh, PartitionSpec())

    data = _place(tuple(jnp.asarray(d) for d in data), data_sharding)
    init = jax.jit(jax.vmap(kernel.init, in_axes=(0, 0, None)))
    states = init(_place(init_keys, chain_sharding), _place(jnp.asarray(positions), chain_sharding), data)

    def run_chunk(states, keys, iterations, data):
        def one_chain(state, chain_step_keys):
            def transition(state, inputs):
                key, iteration = inputs
                state, info = kernel.step(key, state, data, iteration)
                return state, (kernel.position(state), info)

            return jax.lax.scan(transition, state, (chain_step_keys, iterations))

        return jax.vmap(one_chain)(states, keys)

    run_chunk = jax.jit(run_chunk)
    length = _chunk_length(tune, draws, progressbar)
    bar = _progress_bar(total, kernel.name) if progressbar else None

    kept_positions, kept_info = [], []
    for start in range(0, total, length):
        iterations = jnp.arange(start, start + length)
        keys = _place(step_keys[:, start : start + length], chain_sharding)
        states, (chunk_positions, chunk_info) = run_chunk(states, keys, iterations, data)
        if start >= tune:
            kept_positions.append(np.asarray(chunk_positions))
            kept_info.append(jax.tree.map(np.asarray, chunk_info))
        if bar is not None:
            bar.update(length)
    if bar is not None:
        bar.close()

    positions = np.concatenate(kept_positions, axis=1)
    info = {name: np.concatenate([chunk[name] for chunk in kept_info], axis=1) for name in kept_info[0]}
    return positions, info


def _progress_bar(total, kernel_name):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=f"{kernel_name}: tuning and sampling", unit="step")


# Draws evaluated per compiled call. Deterministics such as an enumerated free energy touch
# every configuration of a small lattice (2^16 for 4 x 4). Evaluating all chains and draws in
# one vmapped call can then need tens of GB, and blocks of draws keep the peak bounded.
POSTERIOR_BLOCK_SIZE = 16


def evaluate_posterior(target, positions, data, block_size=POSTERIOR_BLOCK_SIZE):
    """Map flat draws ``(chains, draws, n_dim)`` to the posterior variables, as numpy arrays.

    The draws are evaluated ``block_size`` at a time with ``jax.lax.map``, so memory grows with
    the block, not with the number of draws.
    """
    n_chains, n_draws, n_dim = positions.shape
    data = tuple(jnp.asarray(d) for d in data)
    flat = jnp.asarray(positions).reshape(n_chains * n_draws, n_dim)

    def evaluate(position):
        return target.posterior_fn(position, data)

    values = jax.jit(lambda xs: jax.lax.map(evaluate, xs, batch_size=block_size))(flat)
    return {
        name: np.asarray(value).reshape((n_chains, n_draws) + value.shape[1:])
        for name, value in values.items()
    }
