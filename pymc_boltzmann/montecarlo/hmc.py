"""Hamiltonian Monte Carlo for real-valued systems, with step-size adaptation by dual averaging.

The adaptation follows Hoffman and Gelman (2014), "The No-U-Turn Sampler", JMLR 15, 1593,
Algorithm 5.
"""

import math
import numbers
from typing import NamedTuple

import jax
import jax.numpy as jnp

from pymc_boltzmann._checks import check_beta, check_positive_int
from pymc_boltzmann.montecarlo.kernel import accept_global_flip, make_kernel

# Dual averaging constants recommended by Hoffman and Gelman (2014), section 3.2.1.
_SHRINKAGE = 0.05
_STABILIZATION = 10.0
_AVERAGING_DECAY = 0.75

# Each trajectory draws its step size uniformly within +-20% of the adapted value and its
# number of leapfrog steps uniformly from 1 to twice the nominal number minus 1. A fixed
# trajectory length near half the period of a harmonic mode maps that mode x -> -x at every
# step and leaves |x| almost unchanged, which the random length prevents.
_STEP_SIZE_JITTER = 0.2


class HMCState(NamedTuple):
    """State of one HMC chain.

    Attributes
    ----------
    position : jax.Array, shape (n_sites,)
        Configuration x.
    energy : jax.Array, scalar
        E(x).
    potential_grad : jax.Array, shape (n_sites,)
        Gradient of the potential beta * E at x.
    log_step_size : jax.Array, scalar
        Logarithm of the leapfrog step size used by the next trajectory.
    log_step_size_average : jax.Array, scalar
        Dual-averaging iterate of the log step size, used after burn-in.
    error_average : jax.Array, scalar
        Running average of (target acceptance - acceptance probability).
    iteration : jax.Array, scalar int
        Number of adaptation steps taken.
    """

    position: jax.Array
    energy: jax.Array
    potential_grad: jax.Array
    log_step_size: jax.Array
    log_step_size_average: jax.Array
    error_average: jax.Array
    iteration: jax.Array


def hmc(system, beta, *, step_size=0.1, num_integration_steps=10, target_acceptance=0.8, global_flip=True):
    r"""Build a Hamiltonian Monte Carlo kernel for a system with real-valued configurations.

    With potential U(x) = beta E(x) and Gaussian momenta p ~ Normal(0, I), one step draws p,
    integrates Hamilton's equations for H(x, p) = U(x) + |p|^2 / 2 with the leapfrog scheme,
    and accepts the end point with probability

    .. math::

        \min(1, e^{-(H(x', p') - H(x, p))}).

    The leapfrog map is volume preserving and reversible under p -> -p, so the move is in
    detailed balance with exp(-H), whose x-marginal is p(x) = exp(-beta E(x)) / Z. Each
    trajectory draws its step size uniformly within 20% of the current value and its number of
    leapfrog steps uniformly from 1 to 2 ``num_integration_steps`` - 1. Both are drawn
    independently of the state, which keeps detailed balance. Gradients come from
    ``jax.grad`` of ``system.energy_fn``.

    With ``global_flip`` each trajectory is followed, with probability 1/2, by the proposal
    x -> -x, accepted with probability min(1, exp(-beta (E(-x) - E(x)))). The proposal is its
    own inverse, so this move is in detailed balance with p as well. For systems with
    E(-x) = E(x) (double well with a = 0, phi^4, symmetric mixtures) it is accepted whenever
    proposed and moves between mirror modes that trajectories rarely cross.

    During burn-in (``warmup_step``) each chain adapts its step size by dual averaging so that
    the mean acceptance probability approaches ``target_acceptance``. ``end_warmup`` then
    fixes the averaged step size.

    Parameters
    ----------
    system : BoltzmannSystem
        System with ``sample_space == "real"``.
    beta : float
        Inverse temperature, positive (continuous systems use beta = 1 by convention).
    step_size : float
        Initial leapfrog step size, positive.
    num_integration_steps : int
        Mean number of leapfrog steps per trajectory.
    target_acceptance : float
        Mean acceptance probability targeted during burn-in, in (0, 1).
    global_flip : bool
        Follow every trajectory with the global sign flip move.

    Returns
    -------
    MarkovKernel
        ``step`` returns the acceptance probability of the trajectory as its statistic.
    """
    beta = check_beta(beta)
    num_integration_steps = check_positive_int("num_integration_steps", num_integration_steps)
    if system.sample_space != "real":
        raise ValueError(
            f"system.sample_space={system.sample_space!r} is invalid for HMC: expected 'real'. "
            "Use method='metropolis' for spin systems."
        )
    is_number = isinstance(step_size, numbers.Real) and not isinstance(step_size, bool)
    if not (is_number and math.isfinite(step_size) and step_size > 0):
        raise ValueError(f"step_size={step_size!r} is invalid: expected a finite positive number such as 0.1.")
    if not 0.0 < target_acceptance < 1.0:
        raise ValueError(
            f"target_acceptance={target_acceptance!r} is invalid: expected a probability in (0, 1) such as 0.8."
        )

    def potential(position):
        energy = system.energy_fn(position)
        return beta * energy, energy

    potential_and_grad = jax.value_and_grad(potential, has_aux=True)
    log_step_size_target = math.log(10.0 * step_size)

    def init(position):
        (_, energy), grad = potential_and_grad(position)
        log_step_size = jnp.asarray(math.log(step_size), dtype=jnp.float64)
        zero = jnp.zeros((), dtype=jnp.float64)
        return HMCState(position, energy, grad, log_step_size, log_step_size, zero, jnp.zeros((), jnp.int64))

    def leapfrog(position, momentum, grad, epsilon, n_steps):
        def one_step(_, carry):
            position, momentum, _, grad = carry
            position = position + epsilon * momentum
            (_, energy), grad = potential_and_grad(position)
            return position, momentum - epsilon * grad, energy, grad

        momentum = momentum - 0.5 * epsilon * grad
        carry = (position, momentum, jnp.zeros((), jnp.float64), grad)
        position, momentum, energy, grad = jax.lax.fori_loop(0, n_steps, one_step, carry)
        # The loop applied a full kick after the last drift; take half of it back.
        return position, momentum + 0.5 * epsilon * grad, energy, grad

    def flip_sign(uniform, state):
        (_, flipped_energy), flipped_grad = potential_and_grad(-state.position)
        accept = accept_global_flip(uniform, state.energy, flipped_energy, beta)
        return state._replace(
            position=jnp.where(accept, -state.position, state.position),
            energy=jnp.where(accept, flipped_energy, state.energy),
            potential_grad=jnp.where(accept, flipped_grad, state.potential_grad),
        )

    def step(rng_key, state):
        momentum_key, uniform_key = jax.random.split(rng_key)
        momentum = jax.random.normal(momentum_key, state.position.shape, dtype=jnp.float64)
        uniforms = jax.random.uniform(uniform_key, (4,), dtype=jnp.float64)
        jitter_uniform, length_uniform, accept_uniform, flip_uniform = uniforms
        epsilon = jnp.exp(state.log_step_size) * (1.0 + _STEP_SIZE_JITTER * (2.0 * jitter_uniform - 1.0))
        max_steps = 2 * num_integration_steps - 1
        n_steps = 1 + jnp.minimum(jnp.floor(length_uniform * max_steps).astype(jnp.int32), max_steps - 1)

        position, end_momentum, energy, grad = leapfrog(
            state.position, momentum, state.potential_grad, epsilon, n_steps
        )
        kinetic_change = 0.5 * (jnp.sum(end_momentum**2) - jnp.sum(momentum**2))
        hamiltonian_change = beta * (energy - state.energy) + kinetic_change
        # A diverging trajectory (NaN or infinite energy) is rejected.
        hamiltonian_change = jnp.where(jnp.isfinite(hamiltonian_change), hamiltonian_change, jnp.inf)
        acceptance = jnp.exp(jnp.minimum(0.0, -hamiltonian_change))

        accept = accept_uniform < acceptance
        new_state = state._replace(
            position=jnp.where(accept, position, state.position),
            energy=jnp.where(accept, energy, state.energy),
            potential_grad=jnp.where(accept, grad, state.potential_grad),
        )
        if global_flip:
            new_state = flip_sign(flip_uniform, new_state)
        return new_state, acceptance

    def warmup_step(rng_key, state):
        state, acceptance = step(rng_key, state)
        iteration = state.iteration + 1
        weight = 1.0 / (iteration + _STABILIZATION)
        error_average = (1.0 - weight) * state.error_average + weight * (target_acceptance - acceptance)
        log_step_size = log_step_size_target - jnp.sqrt(iteration) / _SHRINKAGE * error_average
        decay = iteration ** (-_AVERAGING_DECAY)
        log_step_size_average = decay * log_step_size + (1.0 - decay) * state.log_step_size_average
        adapted = state._replace(
            log_step_size=log_step_size,
            log_step_size_average=log_step_size_average,
            error_average=error_average,
            iteration=iteration,
        )
        return adapted, acceptance

    def end_warmup(state):
        return state._replace(log_step_size=state.log_step_size_average)

    return make_kernel("hmc", init, step, "acceptance_rate", warmup_step, end_warmup)
