"""Initial positions of the chains: the model's initial point or user values, with a Gaussian jitter."""

import math

import numpy as np
from jax.flatten_util import ravel_pytree
from pymc.initial_point import make_initial_point_fn


def _check_initvals(initvals, chains):
    """Return one dict of initial values (or None) per chain."""
    if initvals is None or isinstance(initvals, dict):
        return [initvals] * chains
    if not isinstance(initvals, (list, tuple)) or not all(
        item is None or isinstance(item, dict) for item in initvals
    ):
        raise TypeError(
            f"initvals of type {type(initvals).__name__} is invalid: expected a dict "
            "{variable name: array} shared by every chain, or a list of such dicts, one per chain."
        )
    if len(initvals) != chains:
        raise ValueError(
            f"initvals is a list of {len(initvals)} dicts but chains={chains}: pass one dict per "
            f"chain, or set chains={len(initvals)}."
        )
    return list(initvals)


def _check_names(model, initvals):
    known = {variable.name for variable in model.free_RVs}
    unknown = sorted(set(initvals) - known)
    if unknown:
        raise ValueError(
            f"initvals names variables {unknown} that are not free variables of the model; "
            f"the free variables are {sorted(known)}."
        )


def initial_positions(model, target, chains, initvals, jitter, rng):
    """Return the flat unconstrained starting positions of all chains, shape ``(chains, n_dim)``.

    Each chain starts at the model's initial point (PyMC's support point of each prior) with
    the values in ``initvals`` replacing it where given, mapped to the unconstrained space
    through the variables' transforms. Independent Normal(0, jitter) noise is then added to
    every unconstrained coordinate, so that chains started from one trained point estimate
    still explore separately. With ``jitter=0`` every chain starts exactly at its initial values.
    """
    per_chain = _check_initvals(initvals, chains)
    # Chains that share one dict share one compiled initial-point function.
    flat_by_dict = {}
    for overrides in per_chain:
        if id(overrides) not in flat_by_dict:
            flat_by_dict[id(overrides)] = _flat_initial_point(model, target, overrides)
    positions = np.stack([flat_by_dict[id(overrides)] for overrides in per_chain])
    if jitter:
        positions = positions + jitter * rng.standard_normal(positions.shape)
    return positions


def _flat_initial_point(model, target, overrides):
    if overrides:
        _check_names(model, overrides)
    point_fn = make_initial_point_fn(model=model, overrides=overrides, jitter_rvs=set())
    point = point_fn(None)
    values = [np.asarray(point[name], dtype=float) for name in target.value_var_names]
    flat, _ = ravel_pytree(values)
    return np.asarray(flat)


def check_finite_start(model, target, positions):
    """Raise when the log density is not finite at a chain's starting position.

    The message names the variables whose log density terms are not finite there, computed
    with ``model.point_logps``.
    """
    import jax

    values = jax.vmap(target.logdensity, in_axes=(0, None))(positions, target.data_values)
    values = np.asarray(values)
    bad_chains = np.flatnonzero(~np.isfinite(values))
    if bad_chains.size == 0:
        return

    chain = int(bad_chains[0])
    point = dict(
        zip(target.value_var_names, (np.asarray(v) for v in target.unravel(positions[chain])))
    )
    terms = model.point_logps(point)
    bad_terms = {name: value for name, value in terms.items() if not math.isfinite(value)}
    raise ValueError(
        f"the log density is {values[chain]} at the initial point of chain {chain} "
        f"({bad_chains.size} of {len(values)} chains have a non-finite start); the terms of "
        f"{sorted(bad_terms) or 'no single variable'} are not finite there "
        f"({bad_terms}). Pass initvals inside the support of those variables, or check the "
        "data for values outside the likelihood's support."
    )
