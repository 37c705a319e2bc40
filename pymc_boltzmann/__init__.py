"""Bayesian deep generative models of Boltzmann-Gibbs distributions, built on PyMC and JAX.

Physics quantities are computed in float64: importing this package switches JAX to 64-bit
floats, because log partition functions of lattices with hundreds of sites lose digits in
float32.
"""

import importlib

import jax

jax.config.update("jax_enable_x64", True)

__version__ = "0.1.0"

_SUBMODULES = (
    "energies",
    "exact",
    "montecarlo",
    "networks",
    "models",
    "training",
    "inference",
    "reweighting",
    "surrogate",
    "report",
    "plots",
    "cli",
)

# Top-level names resolved lazily, so that importing the package stays cheap and one
# subpackage can be imported without loading all the others.
_ATTRIBUTES = {
    "sample": "inference",
    "reweight": "reweighting",
    "summary": "reweighting",
}


def __getattr__(name):
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    if name in _ATTRIBUTES:
        module = importlib.import_module(f"{__name__}.{_ATTRIBUTES[name]}")
        return getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted([*globals(), *_SUBMODULES, *_ATTRIBUTES])
