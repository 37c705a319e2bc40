"""Posterior sampling of PyMC models with JAX kernels (NumPyro NUTS, BlackJAX, minibatch MCMC)."""

from pymc_boltzmann.inference.kernels import KERNELS
from pymc_boltzmann.inference.sampling import sample
from pymc_boltzmann.inference.target import ModelTarget, build_target

__all__ = ["KERNELS", "ModelTarget", "build_target", "sample"]
