"""Configurations drawn from the network at every posterior draw, with log_q, energy and observables."""

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np

# Default bound on the number of configuration entries (configurations times sites) in one JAX
# call. 2^24 float64 values are 128 MiB, before the network's activations.
DEFAULT_MAX_ENTRIES = 2**24


def select_draws(params, thin, max_draws):
    """Thin the draw axis of every weight array and keep at most ``max_draws`` draws per chain.

    Parameters
    ----------
    params : dict of str to numpy.ndarray
        Weights of shape ``(chain, draw, *shape)``.
    thin : int
        Keep every ``thin``-th draw.
    max_draws : int or None
        Maximum number of draws per chain after thinning, taken evenly spaced.

    Returns
    -------
    params : dict
        The selected weights, still ``(chain, draw, *shape)``.
    draw_index : numpy.ndarray
        Positions of the kept draws in the input draw axis.
    """
    n_draws = next(iter(params.values())).shape[1]
    draw_index = np.arange(0, n_draws, thin)
    if max_draws is not None and draw_index.size > max_draws:
        keep = np.round(np.linspace(0, draw_index.size - 1, max_draws)).astype(int)
        draw_index = draw_index[keep]
    return {key: value[:, draw_index] for key, value in params.items()}, draw_index


def flatten_draws(params):
    """Merge the chain and draw axes: ``(chain, draw, *shape)`` to ``(chain * draw, *shape)``."""
    return {key: value.reshape((-1,) + value.shape[2:]) for key, value in params.items()}


def plan_chunks(n_draws, samples_per_draw, n_sites, chunk_size):
    """Split the work into JAX calls of at most ``chunk_size`` configurations each.

    Returns
    -------
    draws_per_call : int
        Posterior draws vmapped in one call.
    samples_per_call : int
        Configurations drawn per posterior draw in one call.
    calls_per_draw : int
        Number of calls needed to reach ``samples_per_draw`` configurations per draw; the
        last call may draw a few more, which are discarded.
    """
    if chunk_size is None:
        chunk_size = max(1, DEFAULT_MAX_ENTRIES // n_sites)
    if samples_per_draw <= chunk_size:
        draws_per_call = max(1, min(n_draws, chunk_size // samples_per_draw))
        return draws_per_call, samples_per_draw, 1
    calls_per_draw = math.ceil(samples_per_draw / chunk_size)
    samples_per_call = math.ceil(samples_per_draw / calls_per_draw)
    return 1, samples_per_call, calls_per_draw


@jax.jit
def draw_keys(base_key, draw_ids, call):
    """Return the key of call ``call`` for each posterior draw: fold_in(fold_in(base, s), call)."""
    return jax.vmap(lambda s: jax.random.fold_in(jax.random.fold_in(base_key, s), call))(draw_ids)


# Cached so that repeated reweighting of the same network and system reuses the compiled
# function. The cache keeps references to at most 16 (network, system, n) entries.
@functools.lru_cache(maxsize=16)
def make_sampler(network, system, n):
    """Return a jitted function ``(params_batch, keys) -> (x, log_q, energy, observables)``.

    One call draws ``n`` configurations for each posterior draw in the batch, with ``jax.vmap``
    over the leading axis of every weight array and of the keys. Every draw is thus sampled and
    scored by the network and by the energy in a single compiled computation.
    """

    def draw_one(params, key):
        x, log_q = network.sample(params, key, n)
        energy = system.energy_fn(x)
        observables = system.observables_fn(x)
        return x, log_q, energy, observables

    return jax.jit(jax.vmap(draw_one))


def compact_configurations(x, sample_space):
    """Store spins as int8 and real fields as float32, so stored configurations stay small."""
    if sample_space == "spin":
        return np.asarray(x, dtype=np.int8)
    return np.asarray(x, dtype=np.float32)


def draw_configurations(
    network,
    system,
    params,
    base_key,
    samples_per_draw,
    *,
    chunk_size=None,
    keep_draws=(),
    configuration_stride=None,
    progressbar=False,
):
    """Draw ``samples_per_draw`` configurations for every posterior draw.

    Parameters
    ----------
    network, system
        The generative network and the Boltzmann system.
    params : dict of str to numpy.ndarray
        Weights with one leading axis over the S posterior draws.
    base_key : jax.Array
        Key of the whole run. Draw s uses ``fold_in(base_key, s)``, so a draw's configurations do
        not depend on how the draws are batched.
    samples_per_draw : int
        M, configurations per draw.
    chunk_size : int, optional
        Maximum number of configurations in one JAX call; see :func:`plan_chunks`.
    keep_draws : sequence of int
        Draws whose full configurations are returned (the pooled proposal needs them).
    configuration_stride : int or None
        When set, every ``configuration_stride``-th configuration of every draw is returned in
        compact form (int8 spins, float32 fields).
    progressbar : bool
        Show a tqdm progress bar over the JAX calls.

    Returns
    -------
    dict
        ``log_q`` and ``energy`` of shape ``(S, M)``, ``observables`` (a dict of ``(S, M)``
        arrays), ``kept_configurations`` (dict draw index to ``(M, n_sites)`` float64 array) and
        ``configurations`` (``(S, M_stored, n_sites)`` or None).
    """
    n_draws = next(iter(params.values())).shape[0]
    draws_per_call, samples_per_call, calls_per_draw = plan_chunks(
        n_draws, samples_per_draw, system.n_sites, chunk_size
    )
    sampler = make_sampler(network, system, samples_per_call)
    keep_draws = set(int(s) for s in keep_draws)

    log_q = np.empty((n_draws, samples_per_draw))
    energy = np.empty((n_draws, samples_per_draw))
    observables = {}
    kept_configurations = {}
    configurations = None
    if configuration_stride is not None:
        n_stored = len(range(0, samples_per_draw, configuration_stride))
        dtype = np.int8 if system.sample_space == "spin" else np.float32
        configurations = np.empty((n_draws, n_stored, system.n_sites), dtype=dtype)

    starts = range(0, n_draws, draws_per_call)
    if progressbar:
        from tqdm.auto import tqdm

        starts = tqdm(starts, desc="reweighting", unit="batch")

    for start in starts:
        draw_ids = np.arange(start, min(start + draws_per_call, n_draws))
        # Pad the last batch to the full batch size so the jitted sampler compiles only once.
        padded = np.resize(draw_ids, draws_per_call)
        batch = {key: jnp.asarray(value[padded]) for key, value in params.items()}
        pieces = []
        for call in range(calls_per_draw):
            keys = draw_keys(base_key, jnp.asarray(padded), call)
            pieces.append(jax.device_get(sampler(batch, keys)))

        x = np.concatenate([p[0] for p in pieces], axis=1)[: draw_ids.size, :samples_per_draw]
        log_q[draw_ids] = np.concatenate([p[1] for p in pieces], axis=1)[: draw_ids.size, :samples_per_draw]
        energy[draw_ids] = np.concatenate([p[2] for p in pieces], axis=1)[: draw_ids.size, :samples_per_draw]
        for name in pieces[0][3]:
            values = np.concatenate([p[3][name] for p in pieces], axis=1)
            if name not in observables:
                observables[name] = np.empty((n_draws, samples_per_draw))
            observables[name][draw_ids] = values[: draw_ids.size, :samples_per_draw]

        for row, s in enumerate(draw_ids):
            if int(s) in keep_draws:
                kept_configurations[int(s)] = np.asarray(x[row], dtype=np.float64)
        if configurations is not None:
            configurations[draw_ids] = compact_configurations(
                x[:, ::configuration_stride], system.sample_space
            )

    return {
        "log_q": log_q,
        "energy": energy,
        "observables": observables,
        "kept_configurations": kept_configurations,
        "configurations": configurations,
    }
