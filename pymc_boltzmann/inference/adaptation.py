"""Step-size and diagonal-scale adaptation during tuning, one transition at a time.

The step size follows Nesterov's dual averaging towards a target acceptance rate (Hoffman and
Gelman, JMLR 15, 2014, section 3.2, through BlackJAX's ``dual_averaging_adaptation``). When the
kernel has a preconditioner, Welford's algorithm estimates the variance of every coordinate over
one slow window, the middle 70 % of the tuning steps. At the end of that window the inverse mass
matrix becomes the regularized estimate n / (n + 5) var + 1e-3 * 5 / (n + 5), as in Stan. Dual
averaging then restarts, centred on the current step size. After tuning, the step size is the
dual-averaging mean and no parameter changes again.
"""

from typing import NamedTuple

import jax
import jax.numpy as jnp
from blackjax.adaptation.mass_matrix import welford_algorithm
from blackjax.adaptation.step_size import dual_averaging_adaptation


class AdaptationState(NamedTuple):
    """State of the adaptation.

    Attributes
    ----------
    dual_averaging : DualAveragingAdaptationState
        BlackJAX's dual-averaging state of ln(step size).
    welford : WelfordAlgorithmState
        Running mean and sum of squared deviations of the positions in the slow window.
    step_size : float
        Step size used by the next transition.
    inverse_mass_matrix : array (n_dim,)
        Diagonal inverse mass matrix (the squared proposal scale of each coordinate).
    """

    dual_averaging: tuple
    welford: tuple
    step_size: jax.Array
    inverse_mass_matrix: jax.Array


def _select(condition, new, old):
    return jax.tree.map(lambda a, b: jnp.where(condition, a, b), new, old)


class Adaptation:
    """Dual averaging of the step size, optionally with a diagonal preconditioner.

    Parameters
    ----------
    tune : int
        Number of tuning transitions; adaptation stops after them.
    target_accept : float
        Target mean acceptance rate of dual averaging.
    adapt_scale : bool
        Whether to estimate a diagonal inverse mass matrix in the slow window.
    """

    def __init__(self, tune, target_accept, adapt_scale):
        self.tune = tune
        self.adapt_scale = adapt_scale and tune >= 20
        self.window_start = int(0.15 * tune)
        self.window_end = int(0.85 * tune)
        self._da_init, self._da_update, self._da_final = dual_averaging_adaptation(target_accept)
        self._wf_init, self._wf_update, self._wf_final = welford_algorithm(True)

    def init(self, n_dim, step_size):
        """Start the adaptation at ``step_size`` with a unit inverse mass matrix."""
        step_size = jnp.asarray(step_size, dtype=float)
        return AdaptationState(
            self._da_init(step_size),
            self._wf_init(n_dim),
            step_size,
            jnp.ones(n_dim),
        )

    def update(self, state, iteration, position, acceptance_rate):
        """Return the adaptation state after transition ``iteration`` (counted from 0)."""
        acceptance_rate = jnp.nan_to_num(acceptance_rate, nan=0.0)
        dual_averaging = self._da_update(state.dual_averaging, acceptance_rate)
        step_size = jnp.exp(dual_averaging.log_step_size)
        welford = state.welford
        inverse_mass_matrix = state.inverse_mass_matrix

        if self.adapt_scale:
            in_window = (iteration >= self.window_start) & (iteration < self.window_end)
            welford = _select(in_window, self._wf_update(welford, position), welford)
            window_closes = iteration == self.window_end - 1
            variance, count, _ = self._wf_final(welford)
            regularized = (count / (count + 5.0)) * variance + 1e-3 * (5.0 / (count + 5.0))
            inverse_mass_matrix = jnp.where(window_closes, regularized, inverse_mass_matrix)
            # BlackJAX centres a fresh dual averaging on ln(10 * step size). Centring it on the
            # current step size keeps a short final window from ending on too large a step.
            restarted = self._da_init(step_size)._replace(mu=jnp.log(step_size))
            dual_averaging = _select(window_closes, restarted, dual_averaging)

        last = iteration == self.tune - 1
        step_size = jnp.where(last, self._da_final(dual_averaging), step_size)
        new_state = AdaptationState(dual_averaging, welford, step_size, inverse_mass_matrix)
        return _select(iteration < self.tune, new_state, state)
