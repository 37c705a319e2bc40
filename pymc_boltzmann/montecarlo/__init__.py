"""Reference Monte Carlo samplers that draw decorrelated Boltzmann data from each system.

:func:`reference_sample` picks the sampler for a system, measures the integrated
autocorrelation time of its observables with ArviZ's ESS and thins the chains by it. The
individual kernels (:func:`wolff_ising`, :func:`checkerboard_metropolis`,
:func:`metropolis_spins`, :func:`hmc`) follow BlackJAX's ``init``/``step`` form.
"""

from pymc_boltzmann.montecarlo._spin import SpinState
from pymc_boltzmann.montecarlo.autocorrelation import integrated_autocorrelation_time
from pymc_boltzmann.montecarlo.checkerboard import checkerboard_metropolis
from pymc_boltzmann.montecarlo.hmc import HMCState, hmc
from pymc_boltzmann.montecarlo.kernel import ChainRunner, MarkovKernel
from pymc_boltzmann.montecarlo.metropolis import metropolis_spins
from pymc_boltzmann.montecarlo.reference import default_method, reference_sample
from pymc_boltzmann.montecarlo.wolff import wolff_ising

__all__ = [
    "ChainRunner",
    "HMCState",
    "MarkovKernel",
    "SpinState",
    "checkerboard_metropolis",
    "default_method",
    "hmc",
    "integrated_autocorrelation_time",
    "metropolis_spins",
    "reference_sample",
    "wolff_ising",
]
