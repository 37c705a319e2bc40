"""Argument checks shared by every subpackage: each raises with the value, the expectation and a fix."""

import math
import numbers

import numpy as np


def check_lattice_size(name, value, minimum=2):
    """Return ``value`` as an int after checking it is an integer of at least ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(
            f"{name}={value!r} is invalid: expected an integer lattice size of at least {minimum}. "
            f"Pass a whole number such as {name}=4."
        )
    if value < minimum:
        raise ValueError(
            f"{name}={value} is invalid: expected a lattice size of at least {minimum}. "
            f"Use {name}={minimum} or larger."
        )
    return int(value)


def check_positive_int(name, value, minimum=1):
    """Return ``value`` as an int after checking it is an integer of at least ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(
            f"{name}={value!r} is invalid: expected an integer of at least {minimum}. "
            f"Pass {name}={minimum} or larger."
        )
    return int(value)


def check_beta(value, name="beta"):
    """Return the inverse temperature as a float after checking it is finite and positive."""
    try:
        beta = float(value)
    except (TypeError, ValueError):
        raise ValueError(
            f"{name}={value!r} is invalid: expected a finite positive inverse temperature. "
            f"Pass a number such as {name}=0.44."
        ) from None
    if not math.isfinite(beta) or beta <= 0.0:
        raise ValueError(
            f"{name}={value!r} is invalid: expected a finite positive inverse temperature "
            f"(beta = 1 / (k_B T) > 0). Pass a number such as {name}=0.44."
        )
    return beta


def check_finite_real(name, value):
    """Return ``value`` as a float after checking it is a finite real number."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name}={value!r} is invalid: expected a finite real number.") from None
    if not math.isfinite(number):
        raise ValueError(f"{name}={value!r} is invalid: expected a finite real number.")
    return number


def check_configurations(x, n_sites, sample_space, name="x"):
    """Check a batch of configurations of shape ``(..., n_sites)`` and return it as an array.

    Parameters
    ----------
    x : array_like
        Configurations, the last axis running over the sites in row-major lattice order.
    n_sites : int
        Number of degrees of freedom of one configuration.
    sample_space : {"spin", "real"}
        ``"spin"`` requires every entry to be -1 or +1; ``"real"`` requires finite values.
    name : str
        Argument name used in the error messages.

    Raises
    ------
    ValueError
        If the last axis is not ``n_sites`` long, an entry is NaN or infinite, or a spin is not
        in {-1, +1}.
    """
    array = np.asarray(x)
    if array.ndim == 0 or array.shape[-1] != n_sites:
        raise ValueError(
            f"{name} has shape {array.shape}, expected (..., {n_sites}) with one entry per site. "
            "Flatten each lattice configuration in row-major order before passing it."
        )
    if not np.issubdtype(array.dtype, np.number):
        raise ValueError(f"{name} has dtype {array.dtype}, expected a numeric array.")
    finite = np.isfinite(array)
    if not finite.all():
        bad = np.argwhere(~finite)[:5].tolist()
        raise ValueError(
            f"{name} contains {int((~finite).sum())} non-finite values (first indices {bad}). "
            "Remove or repair those configurations."
        )
    if sample_space == "spin":
        is_spin = (array == 1) | (array == -1)
        if not is_spin.all():
            bad_values = np.unique(array[~is_spin])[:5].tolist()
            raise ValueError(
                f"{name} contains values {bad_values} that are not spins: expected every entry "
                "in {-1, +1}. Map occupation numbers n in {0, 1} to spins with s = 2 n - 1."
            )
    return array
