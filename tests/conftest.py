"""Shared pytest configuration: JAX on the CPU in float64, and a quiet PyTensor."""

import os

os.environ.setdefault("JAX_PLATFORMS", "cpu")

import pymc_boltzmann  # noqa: E402,F401  (switches JAX to float64 before any test imports jax)
