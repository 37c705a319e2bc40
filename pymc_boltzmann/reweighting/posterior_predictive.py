"""Reweighting of a network's posterior predictive against the true energy: :func:`reweight`."""

import logging

import jax
import numpy as np
import xarray as xr

from pymc_boltzmann._checks import check_beta, check_positive_int
from pymc_boltzmann.reweighting import checks
from pymc_boltzmann.reweighting.draws import draw_configurations, flatten_draws, select_draws
from pymc_boltzmann.reweighting.estimators import estimate_all
from pymc_boltzmann.reweighting.mixture import log_mixture_density
from pymc_boltzmann.reweighting.nmcmc import chain_estimates, independence_metropolis
from pymc_boltzmann.reweighting.psis import khat_threshold

logger = logging.getLogger(__name__)

# Default number of posterior draws in the posterior predictive mixture: every pooled sample is
# scored under each of them, so the cost grows as pooled_draws^2 * samples_per_draw.
DEFAULT_POOLED_DRAWS = 64

SAMPLE_GROUP = "reweighting"
CONFIGURATION_GROUP = "reweighting_configurations"
DRAW_GROUP = "reweighting_draws"
ESTIMATE_GROUP = "reweighting_estimates"
NMCMC_GROUP = "reweighting_nmcmc"


def reweight(
    idata,
    network,
    system,
    beta,
    *,
    samples_per_draw=1000,
    random_seed=None,
    thin=1,
    max_draws=None,
    chunk_size=None,
    pooled_draws=None,
    psis=True,
    nmcmc_steps=1000,
    nmcmc_chains=4,
    nmcmc_proposal="q_bar",
    store_configurations=False,
    configuration_thin=10,
    exact=True,
    progressbar=False,
):
    r"""Reweight the posterior predictive of a network against the Boltzmann distribution.

    For every posterior draw s (after thinning), M configurations x_sm ~ q_theta_s are drawn in
    vmapped JAX calls and scored with ln q, the energy E and the log weight
    ln w = -beta E - ln q. From these come, each with a standard error:

    - per draw: the variational free energy F_q = -E_q[ln w] / beta >= F, the NIS estimate
      ln Z_s = ln((1/M) sum_m w_sm) + v_s / (2M) (bias-corrected, v_s the relative variance of
      the weights), F = -ln Z / beta, self-normalized observables with Pareto-smoothed weights,
      fluctuation observables, the importance ESS and the Pareto k-hat;
    - pooled: the same with the posterior predictive mixture
      q_bar(x) = (1/K) sum_k q_theta_k(x) over a random subset of K draws as proposal; the
      samples of those K draws are the mixture's samples, and each is scored under all K;
    - NMCMC: independence Metropolis chains with q_bar (or each subset draw's q) as proposal;
    - bias = raw estimate under q (no reweighting, averaged over draws) minus the pooled
      reweighted estimate, next to the epistemic spread (sd over draws of the raw estimates).

    Parameters
    ----------
    idata : xarray.DataTree
        Posterior of the network weights, with a ``posterior`` group of dims (chain, draw, ...).
    network : Network
        The network whose weights were sampled.
    system : BoltzmannSystem
        The system defining E(x); its sample space and n_sites must match the network's.
    beta : float
        Inverse temperature.
    samples_per_draw : int
        M, configurations per posterior draw; at least 2.
    random_seed : int, optional
        Seed of the configurations, of the subset of pooled draws and of the NMCMC chains.
    thin : int
        Use every ``thin``-th posterior draw.
    max_draws : int, optional
        Use at most this many draws per chain, evenly spaced after thinning.
    chunk_size : int, optional
        Maximum number of configurations in one JAX call. By default a call contains at most 2^24
        configuration entries (configurations times sites).
    pooled_draws : int, optional
        K, number of draws in the posterior predictive mixture (default min(S, 64)).
    psis : bool
        Use Pareto-smoothed weights for self-normalized observables (ln Z uses raw weights).
    nmcmc_steps : int
        Proposals per NMCMC chain; 0 skips NMCMC.
    nmcmc_chains : int
        Number of NMCMC chains with the ``"q_bar"`` proposal (with ``"q"`` there is one chain
        per pooled draw).
    nmcmc_proposal : {"q_bar", "q"}
        Proposal of the independence Metropolis chains.
    store_configurations : bool
        Store every ``configuration_thin``-th configuration of every draw (int8 spins, float32
        fields) in the ``reweighting_configurations`` group.
    configuration_thin : int
        Stride over the samples of a draw for stored configurations.
    exact : bool
        Look up the system's exact references for the summary. Set False to skip them where
        computing them is expensive (enumeration of a 5 x 5 lattice takes minutes).
    progressbar : bool
        Show a progress bar over the JAX calls.

    Returns
    -------
    xarray.DataTree
        The input groups plus these:

        - ``reweighting``: per-sample ``log_q``, ``energy``, ``log_weight`` and observables,
          dims (chain, draw, sample);
        - ``reweighting_draws``: per-draw estimates, dims (chain, draw);
        - ``reweighting_estimates``: pooled estimates, raw estimates, bias and diagnostics
          along the dim ``quantity``, which :func:`summary` tabulates;
        - ``reweighting_nmcmc``: NMCMC traces, dims (chain, draw), acceptance rates and
          autocorrelation times, when ``nmcmc_steps > 0``;
        - ``reweighting_configurations``: stored configurations, on request.

    Raises
    ------
    ValueError
        If an argument is invalid, the network and the system do not match, the posterior
        lacks the network's weights, ln q or E is NaN, or every log weight is -inf.
    """
    beta = check_beta(beta)
    samples_per_draw = check_positive_int("samples_per_draw", samples_per_draw, minimum=2)
    thin = check_positive_int("thin", thin)
    max_draws = checks.check_optional_int("max_draws", max_draws)
    chunk_size = checks.check_optional_int("chunk_size", chunk_size)
    pooled_draws = checks.check_optional_int("pooled_draws", pooled_draws)
    nmcmc_steps = checks.check_nmcmc_steps(nmcmc_steps)
    nmcmc_chains = check_positive_int("nmcmc_chains", nmcmc_chains)
    nmcmc_proposal = checks.check_nmcmc_proposal(nmcmc_proposal)
    configuration_thin = check_positive_int("configuration_thin", configuration_thin)
    checks.check_compatible(network, system)

    params = checks.posterior_params(idata, network)
    params, draw_index = select_draws(params, thin, max_draws)
    posterior = idata["posterior"]
    chain_coords = posterior["chain"].values if "chain" in posterior.coords else np.arange(posterior.sizes["chain"])
    draw_coords = (posterior["draw"].values if "draw" in posterior.coords else np.arange(posterior.sizes["draw"]))[draw_index]
    shape = (len(chain_coords), len(draw_coords))
    flat = flatten_draws(params)
    n_draws = shape[0] * shape[1]

    rng = np.random.default_rng(random_seed)
    key = jax.random.key(int(rng.integers(2**31)))
    n_pooled = min(n_draws, DEFAULT_POOLED_DRAWS if pooled_draws is None else pooled_draws)
    subset = np.sort(rng.choice(n_draws, size=n_pooled, replace=False))

    drawn = draw_configurations(
        network,
        system,
        flat,
        jax.random.fold_in(key, 0),
        samples_per_draw,
        chunk_size=chunk_size,
        keep_draws=subset,
        configuration_stride=configuration_thin if store_configurations else None,
        progressbar=progressbar,
    )
    checks.check_finite_scores(drawn["log_q"], drawn["energy"], chain_coords, draw_coords)
    log_weight = -beta * drawn["energy"] - drawn["log_q"]
    empty_draws = checks.check_some_weight_finite(log_weight, chain_coords, draw_coords)
    if empty_draws.any():
        logger.warning(
            "every log weight is -inf in %d of %d posterior draws, first at %s: their NIS "
            "ln Z is -inf and their self-normalized estimates are NaN. The network of those "
            "draws never lands where p has mass.",
            int(empty_draws.sum()),
            n_draws,
            checks.describe_positions(np.isneginf(log_weight) & empty_draws[:, None], chain_coords, draw_coords, limit=1),
        )

    per_draw = estimate_all(system, beta, log_weight, drawn["observables"], psis=psis)
    pooled = _pooled_estimates(network, system, beta, flat, subset, drawn, chunk_size, psis)
    nmcmc = None
    if nmcmc_steps > 0:
        nmcmc = _run_nmcmc(
            network, system, beta, flat, subset, jax.random.fold_in(key, 1), rng,
            nmcmc_steps, nmcmc_chains, nmcmc_proposal, chunk_size,
        )

    threshold_draw = khat_threshold(samples_per_draw)
    threshold_pooled = khat_threshold(n_pooled * samples_per_draw)
    _log_khat(per_draw["khat"], threshold_draw, "per-draw NIS estimates (proposal q_theta of each posterior draw)")
    _log_khat(np.atleast_1d(pooled["khat"]), threshold_pooled, f"pooled NIS estimates (posterior predictive mixture of {n_pooled} draws)")

    coords = {"chain": chain_coords, "draw": draw_coords}
    attrs = {
        "beta": beta,
        "samples_per_draw": samples_per_draw,
        "n_sites": system.n_sites,
        "system": repr(system),
        "network": network.name,
        "psis": int(psis),
    }
    groups = {name: idata[name].to_dataset() for name in idata.children}
    groups[SAMPLE_GROUP] = _sample_dataset(drawn, log_weight, shape, coords, attrs)
    groups[DRAW_GROUP] = _draw_dataset(per_draw, shape, coords, threshold_draw, attrs)
    groups[ESTIMATE_GROUP] = _estimate_dataset(
        per_draw, pooled, nmcmc, exact_references(system, beta) if exact else {},
        threshold_pooled, n_pooled, subset, shape, coords, attrs,
    )
    if nmcmc is not None:
        groups[NMCMC_GROUP] = _nmcmc_dataset(nmcmc, attrs)
    if store_configurations:
        groups[CONFIGURATION_GROUP] = _configuration_dataset(drawn["configurations"], shape, coords, configuration_thin, attrs)
    return xr.DataTree.from_dict(groups)


def _pooled_estimates(network, system, beta, flat, subset, drawn, chunk_size, psis):
    """Reweight the samples of the subset draws with the mixture q_bar of those draws."""
    x = np.concatenate([drawn["kept_configurations"][int(s)] for s in subset], axis=0)
    params = {key: value[subset] for key, value in flat.items()}
    log_q_bar = log_mixture_density(network, params, x, chunk_size=chunk_size)
    energy = drawn["energy"][subset].reshape(-1)
    log_weight = -beta * energy - log_q_bar
    observables = {name: values[subset].reshape(1, -1) for name, values in drawn["observables"].items()}
    result = estimate_all(system, beta, log_weight[None, :], observables, psis=psis)
    return {
        "estimates": {name: (v[0], se[0]) for name, (v, se) in result["estimates"].items()},
        "ess": float(result["ess"][0]),
        "max_weight": float(result["max_weight"][0]),
        "khat": float(result["khat"][0]),
        "log_q_bar": log_q_bar,
    }


def _nmcmc_proposals(network, system, beta, flat, subset, key, rng, n_steps, n_chains, proposal, chunk_size):
    """Draw the proposal streams of the NMCMC chains; return log weights and observables."""
    params = {name: value[subset] for name, value in flat.items()}
    n_components = subset.size
    if proposal == "q":
        drawn = draw_configurations(network, system, params, key, n_steps, chunk_size=chunk_size)
        return -beta * drawn["energy"] - drawn["log_q"], drawn["observables"]

    # An iid stream from q_bar: multinomial counts over the components, that many samples from
    # each, in random order.
    total = n_chains * n_steps
    counts = rng.multinomial(total, np.full(n_components, 1.0 / n_components))
    drawn = draw_configurations(
        network, system, params, key, max(int(counts.max()), 2), chunk_size=chunk_size, keep_draws=range(n_components)
    )
    pick = np.concatenate([k * drawn["energy"].shape[1] + np.arange(c) for k, c in enumerate(counts)])
    order = rng.permutation(pick)
    x = np.concatenate([drawn["kept_configurations"][k] for k in range(n_components)], axis=0)[order]
    log_q_bar = log_mixture_density(network, params, x, chunk_size=chunk_size)
    energy = drawn["energy"].reshape(-1)[order]
    log_weight = (-beta * energy - log_q_bar).reshape(n_chains, n_steps)
    observables = {name: v.reshape(-1)[order].reshape(n_chains, n_steps) for name, v in drawn["observables"].items()}
    return log_weight, observables


def _run_nmcmc(network, system, beta, flat, subset, key, rng, n_steps, n_chains, proposal, chunk_size):
    """Run independence Metropolis chains and estimate observables with ESS-based errors."""
    log_weight, observables = _nmcmc_proposals(
        network, system, beta, flat, subset, key, rng, n_steps, n_chains, proposal, chunk_size
    )
    state, acceptance_rate = independence_metropolis(log_weight, rng)
    rows = np.arange(state.shape[0])[:, None]
    traces = {name: values[rows, state] for name, values in observables.items()}
    estimates, ess, tau = chain_estimates(system, beta, traces)
    return {
        "traces": traces,
        "acceptance_rate": acceptance_rate,
        "estimates": estimates,
        "ess": ess,
        "tau": tau,
        "proposal": proposal,
    }


def _log_khat(khat, threshold, label):
    """Log a warning naming the estimate when k-hat exceeds the threshold or is NaN."""
    khat = np.asarray(khat).reshape(-1)
    bad = ~(khat <= threshold)
    if not bad.any():
        return
    finite = khat[np.isfinite(khat)]
    largest = f"{finite.max():.2f}" if finite.size else "nan"
    logger.warning(
        "Pareto k-hat of the %s is above the reliability threshold %.2f or NaN in %d of %d "
        "proposals (largest finite k-hat %s; NaN means too few distinct weights to fit a "
        "tail): the importance weights have a heavy tail and these estimates are unreliable. "
        "Draw more samples per draw, pool more posterior draws, or train the network closer "
        "to p.",
        label,
        threshold,
        int(bad.sum()),
        khat.size,
        largest,
    )


def _sample_dataset(drawn, log_weight, shape, coords, attrs):
    dims = ("chain", "draw", "sample")
    n_samples = log_weight.shape[1]
    variables = {
        "log_q": drawn["log_q"],
        "energy": drawn["energy"],
        "log_weight": log_weight,
        **drawn["observables"],
    }
    data = {name: (dims, values.reshape(shape + (n_samples,))) for name, values in variables.items()}
    return xr.Dataset(data, coords={**coords, "sample": np.arange(n_samples)}, attrs=attrs)


def _draw_dataset(per_draw, shape, coords, threshold, attrs):
    dims = ("chain", "draw")
    data = {}
    for name, (value, se) in per_draw["estimates"].items():
        data[name] = (dims, np.reshape(value, shape))
        data[f"{name}_se"] = (dims, np.reshape(se, shape))
    for name, value in per_draw["raw"].items():
        data[f"raw_{name}"] = (dims, np.reshape(value, shape))
    data["ess"] = (dims, np.reshape(per_draw["ess"], shape))
    data["max_weight"] = (dims, np.reshape(per_draw["max_weight"], shape))
    data["khat"] = (dims, np.reshape(per_draw["khat"], shape))
    data["reliable"] = (dims, np.reshape(per_draw["khat"] <= threshold, shape))
    return xr.Dataset(data, coords=coords, attrs={**attrs, "khat_threshold": threshold})


def exact_references(system, beta):
    """Return the system's exact values keyed like the estimates; empty where it has none."""
    exact = {}
    try:
        log_partition = float(system.exact_log_partition(beta))
        exact["log_partition"] = log_partition
        exact["free_energy"] = -log_partition / beta
        exact["free_energy_per_site"] = -log_partition / (beta * system.n_sites)
    except NotImplementedError:
        pass
    try:
        exact.update({name: float(value) for name, value in system.exact_expectations(beta).items()})
    except NotImplementedError:
        pass
    return exact


def _estimate_dataset(per_draw, pooled, nmcmc, exact, threshold, n_pooled, subset, shape, coords, attrs):
    """Tabulate pooled estimates, raw estimates, their difference and diagnostics per quantity."""
    names = [n for n in pooled["estimates"] if not n.startswith("variational_free_energy")]
    # The free energy per site leads the table, as the quantity most often quoted.
    names.sort(key=lambda name: name != "free_energy_per_site")
    reliable = bool(pooled["khat"] <= threshold)
    columns = {key: [] for key in ("raw", "epistemic_sd", "reweighted", "mcse", "ess", "khat", "reliable", "bias", "exact", "nmcmc", "nmcmc_mcse", "nmcmc_ess")}
    for name in names:
        raw = np.asarray(per_draw["raw"][name], dtype=float)
        value, se = pooled["estimates"][name]
        columns["raw"].append(float(raw.mean()))
        columns["epistemic_sd"].append(float(raw.std(ddof=1)) if raw.size > 1 else np.nan)
        columns["reweighted"].append(float(value))
        columns["mcse"].append(float(se))
        columns["ess"].append(pooled["ess"])
        columns["khat"].append(pooled["khat"])
        columns["reliable"].append(reliable)
        columns["bias"].append(float(raw.mean() - value))
        columns["exact"].append(exact.get(name, np.nan))
        in_chain = nmcmc is not None and name in nmcmc["estimates"]
        columns["nmcmc"].append(nmcmc["estimates"][name][0] if in_chain else np.nan)
        columns["nmcmc_mcse"].append(nmcmc["estimates"][name][1] if in_chain else np.nan)
        columns["nmcmc_ess"].append(nmcmc["ess"].get(name, np.nan) if in_chain else np.nan)

    data = {key: (("quantity",), np.asarray(values)) for key, values in columns.items()}
    draw_khat = np.asarray(per_draw["khat"])
    data["pooled_draw_index"] = (("pooled_draw",), subset)
    extra = {
        "khat_threshold": threshold,
        "max_weight": pooled["max_weight"],
        "pooled_draws": n_pooled,
        "n_draws": int(np.prod(shape)),
        "draw_khat_threshold": khat_threshold(attrs["samples_per_draw"]),
        "draw_khat_max": float(np.nanmax(draw_khat)) if np.isfinite(draw_khat).any() else np.nan,
        "draw_khat_nan": int(np.isnan(draw_khat).sum()),
        "draw_unreliable": int((~(draw_khat <= khat_threshold(attrs["samples_per_draw"]))).sum()),
        "draw_ess_median": float(np.median(per_draw["ess"])),
    }
    if nmcmc is not None:
        extra["nmcmc_proposal"] = nmcmc["proposal"]
        extra["nmcmc_acceptance_rate"] = float(np.mean(nmcmc["acceptance_rate"]))
    return xr.Dataset(data, coords={"quantity": names}, attrs={**attrs, **extra})


def _nmcmc_dataset(nmcmc, attrs):
    dims = ("chain", "draw")
    data = {name: (dims, values) for name, values in nmcmc["traces"].items()}
    data["acceptance_rate"] = (("chain",), nmcmc["acceptance_rate"])
    names = list(nmcmc["ess"])
    data["ess"] = (("quantity",), np.array([nmcmc["ess"][n] for n in names]))
    data["tau"] = (("quantity",), np.array([nmcmc["tau"][n] for n in names]))
    n_chains, n_steps = next(iter(nmcmc["traces"].values())).shape
    coords = {"chain": np.arange(n_chains), "draw": np.arange(n_steps), "quantity": names}
    return xr.Dataset(data, coords=coords, attrs={**attrs, "proposal": nmcmc["proposal"]})


def _configuration_dataset(configurations, shape, coords, stride, attrs):
    n_stored, n_sites = configurations.shape[1:]
    data = {"x": (("chain", "draw", "stored_sample", "site"), configurations.reshape(shape + (n_stored, n_sites)))}
    full_coords = {**coords, "stored_sample": np.arange(0, n_stored * stride, stride), "site": np.arange(n_sites)}
    return xr.Dataset(data, coords=full_coords, attrs={**attrs, "configuration_thin": stride})
