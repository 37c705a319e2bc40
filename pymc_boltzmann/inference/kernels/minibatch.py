"""Kernels that estimate the log-likelihood on minibatches: SGLD and penalty Metropolis-Hastings.

SGLD follows Welling and Teh (ICML 2011). The penalty method is that of Ceperley and Dewing
(J. Chem. Phys. 110, 9812, 1999), applied to data subsampling as in Kawasaki and Holzmann
(arXiv:2210.09141).
"""

from typing import NamedTuple

import jax
import jax.numpy as jnp

from pymc_boltzmann.inference.adaptation import Adaptation
from pymc_boltzmann.inference.kernels.base import Kernel


def _minibatch_size(target, settings, kernel_name, minimum):
    """Return the number of data rows n per minibatch, checked against the data size N."""
    n_data = target.n_data
    size = settings.minibatch_size
    if n_data is None:
        return None
    if size is None:
        return n_data
    if size < minimum or size > n_data:
        raise ValueError(
            f"minibatch_size={size} is invalid for kernel={kernel_name!r}: expected an integer "
            f"between {minimum} and the number of data rows, {n_data}."
        )
    return int(size)


def _draw_minibatch(rng_key, n_data, size):
    # Rows without replacement, so that a minibatch of all N rows is the full data set.
    return jax.random.choice(rng_key, n_data, (size,), replace=False)


class SGLDState(NamedTuple):
    """State of one SGLD chain: ``position``, the flat unconstrained position."""

    position: jax.Array


class SGLDKernel(Kernel):
    r"""Stochastic-gradient Langevin dynamics with a fixed step size.

    .. math::

        \theta' = \theta + \frac{\epsilon}{2} \nabla_\theta \Big[\ln p(\theta)
            + \frac{N}{n} \sum_{i \in B} \ln p(y_i \mid \theta)\Big] + \sqrt{\epsilon}\, \xi,
        \qquad \xi \sim \mathcal N(0, I)

    for a minibatch B of n of the N data rows, drawn without replacement at every step.
    There is no accept/reject step, so the stationary distribution differs from the
    posterior by O(epsilon) (and by the extra gradient noise when n < N). With n = N this is
    the unadjusted Langevin algorithm. The tuning transitions run with the same step size
    and are discarded as burn-in.

    Info fields: ``logdensity`` (the minibatch estimate of ln p at the start of the
    transition), ``step_size``.
    """

    name = "sgld"
    default_target_accept = None
    uses_minibatch = True

    def __init__(self, target, settings):
        super().__init__(target, settings)
        if settings.step_size is None:
            raise ValueError(
                "kernel='sgld' needs step_size: SGLD has no accept/reject step to adapt it "
                "against, and its bias grows with the step size. Pass step_size=..., for "
                "example a tenth of the step size that kernel='mala' reports in "
                "sample_stats.step_size."
            )
        self.minibatch_size = _minibatch_size(target, settings, self.name, 1)

    def _estimate(self, position, data, indices):
        target = self.target
        log_prior = target.log_prior(position, data)
        loglik = target.loglik_minibatch(position, data, indices)
        return log_prior + (target.n_data / indices.shape[0]) * jnp.sum(loglik)

    def init(self, rng_key, position, data):
        del rng_key, data
        return SGLDState(position)

    def step(self, rng_key, state, data, iteration):
        del iteration
        key_batch, key_noise = jax.random.split(rng_key)
        step_size = jnp.asarray(self.settings.step_size, dtype=float)
        position = state.position

        if self.minibatch_size is None:
            value, gradient = jax.value_and_grad(self.target.logdensity)(position, data)
        else:
            indices = _draw_minibatch(key_batch, self.target.n_data, self.minibatch_size)
            value, gradient = jax.value_and_grad(self._estimate)(position, data, indices)

        noise = jax.random.normal(key_noise, position.shape)
        position = position + 0.5 * step_size * gradient + jnp.sqrt(step_size) * noise
        return SGLDState(position), {"logdensity": value, "step_size": step_size}


class PenaltyState(NamedTuple):
    """State of one penalty-MH chain.

    Attributes
    ----------
    position : array
        Flat unconstrained position.
    adaptation : AdaptationState
        Random-walk step size and diagonal scale in use.
    """

    position: jax.Array
    adaptation: tuple


class PenaltyMHKernel(Kernel):
    r"""Random-walk Metropolis-Hastings with a minibatch log-likelihood and a noise penalty.

    For a proposal theta' = theta + step_size * sqrt(M^-1) * xi and a minibatch B of n of
    the N data rows (without replacement, shared by theta and theta'), with
    d_i = ln p(y_i | theta') - ln p(y_i | theta),

    .. math::

        \hat\Delta = \ln p(\theta') - \ln p(\theta) + N \bar d, \qquad
        \hat\sigma^2 = N^2 \Big(1 - \frac{n}{N}\Big) \frac{s_d^2}{n},

    where s_d^2 is the sample variance of the d_i. The move is accepted with probability
    min(1, exp(Delta_hat - u)), with the penalty of Ceperley and Dewing

    .. math::

        u = \frac{\hat\sigma^2}{2} + \frac{\hat\sigma^4}{4 (n + 1)}.

    If Delta_hat is Normal with known variance sigma^2, the penalty sigma^2 / 2 makes the
    chain satisfy detailed balance exactly. The second term is the leading correction for a
    variance estimated from n rows. The kernel is therefore unbiased only when the minibatch
    estimate is close to Gaussian (many rows, no heavy tails of d_i). The acceptance falls
    like exp(-sigma^2 / 2), and sigma^2 grows like N^2 / n for N rows and minibatch size n.
    The tuning transitions therefore adapt the step size to reach ``target_accept`` (default
    0.234), because a smaller step shrinks d_i and with it the penalty. With n = N the variance estimate is 0
    and the kernel is exact random-walk Metropolis.

    Info fields: ``acceptance_rate``, ``is_accepted``, ``penalty`` (u), ``step_size``.
    """

    name = "penalty_mh"
    default_target_accept = 0.234
    uses_minibatch = True

    def __init__(self, target, settings):
        super().__init__(target, settings)
        self.minibatch_size = _minibatch_size(target, settings, self.name, 2)
        self.adaptation = Adaptation(settings.tune, settings.target_accept, adapt_scale=True)

    def init(self, rng_key, position, data):
        del rng_key, data
        step_size = self.settings.step_size
        if step_size is None:
            step_size = 2.38 / jnp.sqrt(self.target.n_dim)
        return PenaltyState(position, self.adaptation.init(self.target.n_dim, step_size))

    def _log_ratio_estimate(self, position, proposal, data, rng_key):
        """Return the estimated log acceptance ratio and the penalty u."""
        target = self.target
        if self.minibatch_size is None:
            delta = target.logdensity(proposal, data) - target.logdensity(position, data)
            return delta, jnp.zeros(())

        n_data, size = target.n_data, self.minibatch_size
        indices = _draw_minibatch(rng_key, n_data, size)
        differences = target.loglik_minibatch(proposal, data, indices) - target.loglik_minibatch(
            position, data, indices
        )
        prior_delta = target.log_prior(proposal, data) - target.log_prior(position, data)
        delta = prior_delta + n_data * jnp.mean(differences)

        variance = n_data**2 * (1.0 - size / n_data) * jnp.var(differences, ddof=1) / size
        # The two terms are the start of the exact penalty -ln 0F1(; (n-1)/2; -(n-1) sigma^2 / 4)
        # for a variance estimated from n samples, which surrogate.estimated_variance_penalty
        # evaluates in full and its tests check against scipy.special.hyp0f1.
        penalty = 0.5 * variance + variance**2 / (4.0 * (size + 1.0))
        return delta, penalty

    def step(self, rng_key, state, data, iteration):
        key_move, key_batch, key_accept = jax.random.split(rng_key, 3)
        adaptation = state.adaptation
        position = state.position

        scale = adaptation.step_size * jnp.sqrt(adaptation.inverse_mass_matrix)
        proposal = position + scale * jax.random.normal(key_move, position.shape)
        delta, penalty = self._log_ratio_estimate(position, proposal, data, key_batch)

        log_accept = jnp.nan_to_num(delta - penalty, nan=-jnp.inf)
        accepted = jnp.log(jax.random.uniform(key_accept)) < log_accept
        position = jnp.where(accepted, proposal, position)
        acceptance_rate = jnp.exp(jnp.minimum(log_accept, 0.0))

        new_adaptation = self.adaptation.update(adaptation, iteration, position, acceptance_rate)
        info = {
            "acceptance_rate": acceptance_rate,
            "is_accepted": accepted,
            "penalty": penalty,
            "step_size": adaptation.step_size,
        }
        return PenaltyState(position, new_adaptation), info
