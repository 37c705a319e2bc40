"""Steps shared by the model builders: creating the network, checking it against the system, storing arrays."""

import math

import numpy as np
import pymc as pm

from pymc_boltzmann.networks.base import Network


def create_network(network_factory, name, network_kwargs):
    """Call the factory inside the current model and check that it returns a Network.

    ``network_factory`` is either a Network subclass, called as ``cls(name, **network_kwargs)``,
    or a callable ``factory(name)``.
    """
    if isinstance(network_factory, type) and issubclass(network_factory, Network):
        network = network_factory(name, **(network_kwargs or {}))
    elif callable(network_factory):
        if network_kwargs:
            raise TypeError(
                "network_kwargs is only used with a Network class; with a factory function, "
                "bind the arguments in the function, e.g. lambda name: MADE(name, n_sites=16)."
            )
        network = network_factory(name)
    else:
        raise TypeError(
            f"network_factory={network_factory!r} is invalid: expected a Network class or a "
            "callable factory(name) -> Network, e.g. lambda name: MeanFieldSpins(name, n_sites=9)."
        )
    if not isinstance(network, Network):
        raise TypeError(
            f"network_factory returned {type(network).__name__}, expected a "
            "pymc_boltzmann.networks.Network."
        )
    return network


def check_system_matches(network, system):
    """Raise ValueError unless the system and the network share the number of sites and sample space."""
    if system.n_sites != network.n_sites or system.sample_space != network.sample_space:
        raise ValueError(
            f"system {system!r} ({system.sample_space} sample space, {system.n_sites} sites) does "
            f"not match network {network.name!r} ({network.sample_space} sample space, "
            f"{network.n_sites} sites). Build the network with n_sites={system.n_sites} and a "
            f"{system.sample_space} sample space."
        )


def check_n_eff(n_eff):
    """Return n_eff as a float after checking it is finite and positive."""
    try:
        value = float(n_eff)
    except (TypeError, ValueError):
        value = math.nan
    if not math.isfinite(value) or value <= 0.0:
        raise ValueError(
            f"n_eff={n_eff!r} is invalid: expected a finite positive effective number of samples. "
            "Pass for example n_eff=1000; larger values concentrate the posterior more."
        )
    return value


def check_data(network, data, name):
    """Check observed configurations of shape ``(n_data, n_sites)`` and return them as float64."""
    array = network.validate(data, name=name)
    if array.ndim != 2 or array.shape[0] < 1:
        raise ValueError(
            f"{name} has shape {array.shape}, expected (n_data, {network.n_sites}) with at least "
            "one configuration per row."
        )
    return np.asarray(array, dtype=np.float64)


def store_inputs(inputs, prefix):
    """Store each fixed estimator input as ``pm.Data`` named ``f"{prefix}_{key}"``; return the variables."""
    return {key: pm.Data(f"{prefix}_{key}", value) for key, value in inputs.items()}
