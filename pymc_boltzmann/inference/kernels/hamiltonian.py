"""Hamiltonian Monte Carlo, MALA and random-walk Metropolis from BlackJAX, with adapted step sizes."""

from typing import NamedTuple

import jax
import jax.numpy as jnp
from blackjax.mcmc import hmc, mala, random_walk

from pymc_boltzmann.inference.adaptation import Adaptation
from pymc_boltzmann.inference.kernels.base import Kernel


class AdaptiveState(NamedTuple):
    """State of one chain of an adaptive BlackJAX kernel.

    Attributes
    ----------
    kernel : NamedTuple
        BlackJAX's state (``position``, ``logdensity`` and, for gradient kernels,
        ``logdensity_grad``).
    adaptation : AdaptationState
        Step size and diagonal inverse mass matrix in use.
    """

    kernel: tuple
    adaptation: tuple

    @property
    def position(self):
        return self.kernel.position


class _AdaptiveKernel(Kernel):
    adapt_scale = True

    def __init__(self, target, settings):
        super().__init__(target, settings)
        self.adaptation = Adaptation(settings.tune, settings.target_accept, self.adapt_scale)

    def initial_step_size(self):
        return self.settings.step_size if self.settings.step_size is not None else 0.1

    def _logdensity(self, data):
        logdensity = self.target.logdensity
        return lambda position: logdensity(position, data)

    def init(self, rng_key, position, data):
        del rng_key
        kernel_state = self._blackjax_init(position, self._logdensity(data))
        adaptation = self.adaptation.init(self.target.n_dim, self.initial_step_size())
        return AdaptiveState(kernel_state, adaptation)

    def step(self, rng_key, state, data, iteration):
        adaptation = state.adaptation
        kernel_state, info = self._transition(rng_key, state.kernel, self._logdensity(data), adaptation)
        new_adaptation = self.adaptation.update(
            adaptation, iteration, kernel_state.position, info["acceptance_rate"]
        )
        info["step_size"] = adaptation.step_size
        info["logdensity"] = kernel_state.logdensity
        return AdaptiveState(kernel_state, new_adaptation), info


class HMCKernel(_AdaptiveKernel):
    """Static-path HMC (BlackJAX ``hmc``) with a diagonal mass matrix adapted during tuning.

    Info fields: ``acceptance_rate``, ``is_divergent``, ``energy``, ``num_integration_steps``,
    ``logdensity``, ``step_size``. Option: ``num_integration_steps`` (leapfrog steps per
    transition, default 16).
    """

    name = "hmc"
    default_target_accept = 0.8
    option_names = ("num_integration_steps",)

    def __init__(self, target, settings):
        super().__init__(target, settings)
        self.num_integration_steps = int(settings.options.get("num_integration_steps", 16))
        self._kernel = hmc.build_kernel()

    def _blackjax_init(self, position, logdensity_fn):
        return hmc.init(position, logdensity_fn)

    def _transition(self, rng_key, kernel_state, logdensity_fn, adaptation):
        kernel_state, info = self._kernel(
            rng_key,
            kernel_state,
            logdensity_fn,
            adaptation.step_size,
            adaptation.inverse_mass_matrix,
            self.num_integration_steps,
        )
        stats = {
            "acceptance_rate": info.acceptance_rate,
            "is_divergent": info.is_divergent,
            "energy": info.energy,
            "num_integration_steps": jnp.asarray(info.num_integration_steps),
        }
        return kernel_state, stats


class MALAKernel(_AdaptiveKernel):
    """Metropolis-adjusted Langevin algorithm (BlackJAX ``mala``) with dual-averaged step size.

    BlackJAX's MALA has no preconditioner, so only the step size adapts. The default target
    acceptance 0.574 is the optimum of Roberts and Rosenthal (JRSS B 60, 1998) for
    high-dimensional product targets. Info fields: ``acceptance_rate``, ``is_accepted``,
    ``logdensity``, ``step_size``.
    """

    name = "mala"
    default_target_accept = 0.574
    adapt_scale = False

    def __init__(self, target, settings):
        super().__init__(target, settings)
        self._kernel = mala.build_kernel()

    def _blackjax_init(self, position, logdensity_fn):
        return mala.init(position, logdensity_fn)

    def _transition(self, rng_key, kernel_state, logdensity_fn, adaptation):
        kernel_state, info = self._kernel(rng_key, kernel_state, logdensity_fn, adaptation.step_size)
        return kernel_state, {"acceptance_rate": info.acceptance_rate, "is_accepted": info.is_accepted}


class RMHKernel(_AdaptiveKernel):
    """Gaussian random-walk Metropolis (BlackJAX additive-step ``rmh``), the Brownian kernel.

    The proposal is x' = x + step_size * sqrt(M^-1) * xi with xi ~ Normal(0, I): the step size
    follows dual averaging and the diagonal M^-1 is the posterior variance estimated during
    tuning. The default target acceptance 0.234 is the optimum of Roberts, Gelman and Gilks
    (Ann. Appl. Probab. 7, 1997). The default initial step size is 2.38 / sqrt(n_dim).
    Info fields: ``acceptance_rate``, ``is_accepted``, ``logdensity``, ``step_size``.
    """

    name = "rmh"
    default_target_accept = 0.234

    def __init__(self, target, settings):
        super().__init__(target, settings)
        self._kernel = random_walk.build_additive_step()

    def initial_step_size(self):
        if self.settings.step_size is not None:
            return self.settings.step_size
        return 2.38 / jnp.sqrt(self.target.n_dim)

    def _blackjax_init(self, position, logdensity_fn):
        return random_walk.init(position, logdensity_fn)

    def _transition(self, rng_key, kernel_state, logdensity_fn, adaptation):
        scale = adaptation.step_size * jnp.sqrt(adaptation.inverse_mass_matrix)

        def random_step(key, position):
            return scale * jax.random.normal(key, jnp.shape(position))

        kernel_state, info = self._kernel(rng_key, kernel_state, logdensity_fn, random_step)
        return kernel_state, {"acceptance_rate": info.acceptance_rate, "is_accepted": info.is_accepted}
