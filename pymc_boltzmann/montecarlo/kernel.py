"""The Markov kernel interface shared by the reference samplers, and the chain runner that drives it."""

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

# Kept draws are produced in blocks of this many per compiled call, so one compiled block serves
# any number of draws and a progress bar can advance between blocks.
BLOCK_LENGTH = 100


class MarkovKernel(NamedTuple):
    """A Markov transition kernel acting on one chain, in the init/step form of BlackJAX.

    Every state has a ``position`` field (the configuration, shape ``(n_sites,)``) and an
    ``energy`` field (E of that configuration, a scalar).

    Attributes
    ----------
    name : str
        Algorithm name, used in diagnostics.
    init : callable
        ``init(position) -> state`` for one configuration of shape ``(n_sites,)``.
    step : callable
        ``step(rng_key, state) -> (state, statistic)``: one Monte Carlo step that leaves the
        Boltzmann distribution invariant; ``statistic`` is a scalar named by ``statistic_name``.
    statistic_name : str
        Name of the per-step statistic, for example ``"acceptance_rate"``.
    warmup_step : callable
        Step used during burn-in; it may adapt tuning parameters stored in the state, so it
        need not leave the distribution invariant.
    end_warmup : callable
        ``end_warmup(state) -> state`` fixes the tuning parameters after burn-in.
    """

    name: str
    init: Callable
    step: Callable
    statistic_name: str
    warmup_step: Callable
    end_warmup: Callable


def make_kernel(name, init, step, statistic_name, warmup_step=None, end_warmup=None):
    """Build a :class:`MarkovKernel`; without adaptation, burn-in uses the plain step."""
    return MarkovKernel(
        name=name,
        init=init,
        step=step,
        statistic_name=statistic_name,
        warmup_step=step if warmup_step is None else warmup_step,
        end_warmup=(lambda state: state) if end_warmup is None else end_warmup,
    )


def scalar_observables(state):
    """Return E, mean_i x_i and |mean_i x_i| of one state: the series whose autocorrelation is measured."""
    mean = jnp.mean(state.position)
    return jnp.stack([state.energy, mean, jnp.abs(mean)])


N_OBSERVABLES = 3


def accept_global_flip(uniform, energy, flipped_energy, beta):
    """Decide the move x -> -x: proposed with probability 1/2, then accepted with the Metropolis rule.

    Proposing the flip only half of the time matters for systems with E(-x) = E(x): an
    always-accepted flip at every step alternates the sign, and thinning by an even number of
    steps would undo it. One uniform serves both decisions, because 2 u is uniform on (0, 1)
    given u < 1/2.
    """
    proposed = uniform < 0.5
    return proposed & (jnp.log(2.0 * uniform) < -beta * (flipped_energy - energy))


def _build_block(step_fn, block_length, n_sites):
    """Compile a vmapped run that keeps up to ``block_length`` configurations, every ``thin`` steps.

    ``n_kept`` and ``thin`` are run-time integers, so burn-in, pilot and production runs of any
    length share one compilation.
    """

    def run_block(state, rng_key, n_kept, thin):
        def advance(step_index, carry):
            state, statistic_sum, draw_key = carry
            state, statistic = step_fn(jax.random.fold_in(draw_key, step_index), state)
            return state, statistic_sum + statistic, draw_key

        def keep(draw_index, carry):
            state, statistic_sum, positions, observables = carry
            draw_key = jax.random.fold_in(rng_key, draw_index)
            state, statistic_sum, _ = jax.lax.fori_loop(0, thin, advance, (state, statistic_sum, draw_key))
            positions = positions.at[draw_index].set(state.position)
            observables = observables.at[draw_index].set(scalar_observables(state))
            return state, statistic_sum, positions, observables

        initial = (
            state,
            jnp.zeros((), dtype=jnp.float64),
            jnp.zeros((block_length, n_sites), dtype=jnp.float64),
            jnp.zeros((block_length, N_OBSERVABLES), dtype=jnp.float64),
        )
        state, statistic_sum, positions, observables = jax.lax.fori_loop(0, n_kept, keep, initial)
        return state, positions, observables, statistic_sum

    return jax.jit(jax.vmap(run_block, in_axes=(0, 0, None, None)))


def initial_positions(rng_key, sample_space, chains, n_sites):
    """Draw random starting configurations: uniform spins or standard normal real fields."""
    if sample_space == "spin":
        return jax.random.choice(rng_key, jnp.array([-1.0, 1.0]), shape=(chains, n_sites))
    return jax.random.normal(rng_key, (chains, n_sites), dtype=jnp.float64)


class ChainRunner:
    """Run several independent chains of one kernel in lockstep, vectorized with ``jax.vmap``.

    Parameters
    ----------
    kernel : MarkovKernel
        Transition kernel for one chain.
    positions : array, shape (chains, n_sites)
        Starting configurations.
    rng_key : jax.Array
        Key from which every later step key is split.
    """

    def __init__(self, kernel, positions, rng_key):
        self.kernel = kernel
        self.state = jax.vmap(kernel.init)(jnp.asarray(positions, dtype=jnp.float64))
        self.chains, self.n_sites = (int(size) for size in positions.shape)
        self.rng_key = rng_key
        self.steps_done = 0
        self.statistic_sum = 0.0
        self.statistic_steps = 0
        self._blocks = {}

    def _block(self, warmup):
        step_fn = self.kernel.warmup_step if warmup else self.kernel.step
        # Kernels without adaptation use one step function for both phases: share the compilation.
        if step_fn not in self._blocks:
            self._blocks[step_fn] = _build_block(step_fn, BLOCK_LENGTH, self.n_sites)
        return self._blocks[step_fn]

    def _run(self, n_kept, thin, warmup=False, progress=None):
        positions, observables = [], []
        for first in range(0, n_kept, BLOCK_LENGTH):
            block_kept = min(BLOCK_LENGTH, n_kept - first)
            self.rng_key, block_key = jax.random.split(self.rng_key)
            chain_keys = jax.random.split(block_key, self.chains)
            self.state, block_positions, block_observables, statistic_sum = self._block(warmup)(
                self.state, chain_keys, block_kept, thin
            )
            positions.append(np.asarray(block_positions)[:, :block_kept])
            observables.append(np.asarray(block_observables)[:, :block_kept])
            self.steps_done += block_kept * thin
            if not warmup:
                self.statistic_sum += float(jnp.sum(statistic_sum))
                self.statistic_steps += block_kept * thin * self.chains
            if progress is not None:
                progress.update(block_kept)
        return np.concatenate(positions, axis=1), np.concatenate(observables, axis=1)

    def burn_in(self, n_steps):
        """Advance every chain by ``n_steps`` warm-up steps, then fix the kernel's tuning."""
        if n_steps > 0:
            self._run(1, n_steps, warmup=True)
        self.state = jax.vmap(self.kernel.end_warmup)(self.state)

    def trace(self, n_steps):
        """Advance by ``n_steps`` steps; return the observables of every step, shape (chains, n_steps, 3)."""
        _, observables = self._run(n_steps, 1)
        return observables

    def draw(self, n_draws, thin, progressbar=False):
        """Keep every ``thin``-th configuration until each chain has ``n_draws``.

        Returns
        -------
        positions : numpy.ndarray, shape (chains, n_draws, n_sites)
        observables : numpy.ndarray, shape (chains, n_draws, 3)
            E, mean_i x_i and |mean_i x_i| of each kept configuration.
        """
        progress = None
        if progressbar:
            from tqdm.auto import tqdm

            progress = tqdm(total=n_draws, desc=f"{self.kernel.name} draws per chain")
        try:
            return self._run(n_draws, thin, progress=progress)
        finally:
            if progress is not None:
                progress.close()

    @property
    def mean_statistic(self):
        """Mean of the kernel's per-step statistic over every step after burn-in."""
        if self.statistic_steps == 0:
            return float("nan")
        return self.statistic_sum / self.statistic_steps
