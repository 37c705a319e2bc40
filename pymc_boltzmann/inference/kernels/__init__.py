"""Markov kernels on a model's unconstrained log density, by name."""

from pymc_boltzmann.inference.kernels.hamiltonian import HMCKernel, MALAKernel, RMHKernel
from pymc_boltzmann.inference.kernels.minibatch import PenaltyMHKernel, SGLDKernel
from pymc_boltzmann.inference.kernels.nuts import NUTSKernel

KERNELS = {
    kernel.name: kernel
    for kernel in (NUTSKernel, HMCKernel, MALAKernel, RMHKernel, SGLDKernel, PenaltyMHKernel)
}

__all__ = ["KERNELS"]
