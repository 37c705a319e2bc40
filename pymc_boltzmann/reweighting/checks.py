"""Checks of the arguments of :func:`pymc_boltzmann.reweight` and of the values it computes."""

import numpy as np

from pymc_boltzmann._checks import check_positive_int

NMCMC_PROPOSALS = ("q_bar", "q")


def check_compatible(network, system):
    """Raise if the network does not generate configurations of the system."""
    if network.sample_space != system.sample_space:
        raise ValueError(
            f"network {network.name!r} generates {network.sample_space!r} configurations but "
            f"{system!r} has sample space {system.sample_space!r}. Use a network for "
            f"{system.sample_space!r} configurations (spins: MeanFieldSpins or MADE; real "
            "fields: DiagonalGaussian or RealNVP)."
        )
    if network.n_sites != system.n_sites:
        raise ValueError(
            f"network {network.name!r} has n_sites={network.n_sites} but {system!r} has "
            f"n_sites={system.n_sites}. Build the network with n_sites=system.n_sites."
        )


def check_optional_int(name, value, minimum=1):
    """Return None or ``value`` checked as an integer of at least ``minimum``."""
    if value is None:
        return None
    return check_positive_int(name, value, minimum=minimum)


def check_nmcmc_steps(value):
    """Return the NMCMC chain length after checking it is 0 (no chains) or at least 2."""
    steps = check_positive_int("nmcmc_steps", value, minimum=0)
    if steps == 1:
        raise ValueError(
            "nmcmc_steps=1 is invalid: a chain needs at least 2 proposals to make one "
            "Metropolis step. Pass nmcmc_steps=0 to skip NMCMC or 2 or more to run it."
        )
    return steps


def check_nmcmc_proposal(value):
    """Return the NMCMC proposal name after checking it is one of the supported ones."""
    if value not in NMCMC_PROPOSALS:
        raise ValueError(
            f"nmcmc_proposal={value!r} is invalid: expected one of {NMCMC_PROPOSALS} "
            "(the posterior predictive mixture or each posterior draw's network)."
        )
    return value


def posterior_params(idata, network):
    """Return the network's weights of every posterior draw as ``(chain, draw, *shape)`` arrays."""
    children = getattr(idata, "children", None)
    if children is None or "posterior" not in children:
        raise ValueError(
            f"idata has no 'posterior' group (groups: {sorted(children or [])}). Pass the "
            "DataTree returned by pmb.sample or pm.sample."
        )
    posterior = idata["posterior"]
    missing = [name for name in network.var_names.values() if name not in posterior]
    if missing:
        raise ValueError(
            f"the posterior has no weight variables {missing} of network {network.name!r}; it "
            f"has {sorted(posterior.data_vars)}. Pass the DataTree sampled from a model that "
            "contains this network, or the network that model was built with."
        )
    for key, name in network.var_names.items():
        expected = tuple(network.weight_specs[key].shape)
        got = tuple(posterior[name].sizes[d] for d in posterior[name].dims if d not in ("chain", "draw"))
        if got != expected:
            raise ValueError(
                f"posterior variable {name!r} has shape {got} per draw, expected {expected} for "
                f"network {network.name!r}. Build the network with the architecture the "
                "posterior was sampled with."
            )
    return network.params_from_posterior(posterior)


def describe_positions(mask, chain_coords, draw_coords, limit=5):
    """Name the (chain, draw) coordinates and sample indices where ``mask`` of shape (S, M) is true."""
    n_draws = len(draw_coords)
    positions = []
    for s, m in np.argwhere(mask)[:limit]:
        chain = chain_coords[s // n_draws]
        draw = draw_coords[s % n_draws]
        positions.append(f"(chain={chain}, draw={draw}, sample={m})")
    return ", ".join(positions)


def check_finite_scores(log_q, energy, chain_coords, draw_coords):
    """Raise when ln q or E is NaN, or ln q is +inf, naming the draws and samples affected."""
    for name, values, bad in (
        ("log_q", log_q, np.isnan(log_q) | np.isposinf(log_q)),
        ("energy", energy, np.isnan(energy)),
    ):
        if bad.any():
            raise ValueError(
                f"{name} is NaN or +inf for {int(bad.sum())} of {values.size} samples in "
                f"{int(bad.any(axis=1).sum())} posterior draws, first at "
                f"{describe_positions(bad, chain_coords, draw_coords)}. Those draws' weights "
                "give a network that cannot be evaluated there: check the posterior for "
                "diverging draws, or drop them with thin/max_draws."
            )


def check_some_weight_finite(log_weight, chain_coords, draw_coords):
    """Raise when every log weight is -inf; return the mask of draws whose weights all are."""
    all_neginf = np.all(np.isneginf(log_weight), axis=1)
    if all_neginf.all():
        raise ValueError(
            f"every log weight is -inf ({log_weight.size} samples): the network never drew a "
            "configuration where p has mass (E = +inf everywhere it sampled). Train the network "
            "on this system, or use a proposal whose support covers that of p."
        )
    return all_neginf
