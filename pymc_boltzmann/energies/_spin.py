"""Observables shared by the spin systems: energy and magnetization moments and their fluctuations."""

import jax.numpy as jnp


def spin_observables(energy, x, n_sites):
    """Return energy per site, E^2, magnetization per site m, |m| and m^2 of spin configurations."""
    m = jnp.mean(x, axis=-1)
    return {
        "energy_per_site": energy / n_sites,
        "energy_sq": energy**2,
        "magnetization": m,
        "abs_magnetization": jnp.abs(m),
        "magnetization_sq": m**2,
    }


def spin_fluctuations(expectations, beta, n_sites):
    r"""Return the susceptibility and the specific heat per site from expectations of spin observables.

    .. math::

        \chi = \beta N (\langle m^2 \rangle - \langle |m| \rangle^2), \qquad
        c = \beta^2 (\langle E^2 \rangle - \langle E \rangle^2) / N

    The susceptibility uses |m|, as is standard on finite lattices at h = 0, where <m>
    vanishes by symmetry.
    """
    mean_energy = expectations["energy_per_site"] * n_sites
    magnetization_variance = expectations["magnetization_sq"] - expectations["abs_magnetization"] ** 2
    return {
        "susceptibility": beta * n_sites * magnetization_variance,
        "specific_heat": beta**2 * (expectations["energy_sq"] - mean_energy**2) / n_sites,
    }
