"""ESS per second of a function-space quantity: pmb.sample NUTS vs PyMC's NUTS vs hand-written NumPyro.

The posterior is the data regime of a small MADE (or, if MADE is missing, independent spins)
on configurations of the 4 x 4 Ising model, drawn exactly by enumerating all 2^16 states.
The monitored quantity is the mean log density of held-out configurations, a function of
the weights that hidden-unit permutations leave unchanged. All three samplers run in this
process, one after another, and the wall time of each includes compilation, because a
user pays for it on every new model. The JSON goes to benchmarks/results/nuts_ess.json.

Usage: python benchmarks/bench_nuts_ess.py [--draws 500] [--tune 500] [--chains 4]
"""

import argparse
import json
import os
import pathlib
import platform
import tempfile
import time

import arviz as az
import jax
import jax.numpy as jnp
import numpy as np
import pymc as pm
import pytensor.tensor as pt
import xarray as xr

import pymc_boltzmann as pmb

QUANTITY = "held_out_log_q"
RESULTS = pathlib.Path(__file__).parent / "results" / "nuts_ess.json"


def exact_ising_sample(L, beta, n_samples, seed):
    """Draw configurations of the L x L Ising model exactly, by enumerating all 2^(L^2) states."""
    ising = pmb.energies.Ising2D(L=L)
    n_sites = ising.n_sites
    codes = np.arange(2**n_sites)
    states = np.where((codes[:, None] >> np.arange(n_sites)) & 1, 1.0, -1.0)
    energies = np.asarray(ising.energy_fn(jnp.asarray(states)))
    log_weights = -beta * energies
    probabilities = np.exp(log_weights - log_weights.max())
    probabilities /= probabilities.sum()
    rng = np.random.default_rng(seed)
    return states[rng.choice(len(states), size=n_samples, p=probabilities)]


def make_network(name, n_sites, hidden):
    networks = pmb.networks
    if hasattr(networks, "MADE"):
        return networks.MADE(name, n_sites=n_sites, hidden=hidden)
    return networks.MeanFieldSpins(name, n_sites=n_sites)


def build_model(train, held_out, hidden, likelihood):
    """Build the data-regime model; ``likelihood="potential"`` adds sum_i ln q(x_i) as a potential."""
    with pm.Model() as model:
        q = make_network("q", train.shape[1], hidden)
        if likelihood == "observe":
            q.observe("x", train)
        else:
            data = pt.specify_shape(pm.Data("x_data", train), train.shape)
            pm.Potential("x_log_likelihood", q.log_q_pt(data).sum())
        q.deterministic(QUANTITY, lambda params: q.log_q(params, held_out).mean())
    return model, q


def ess_per_second(values, seconds):
    """Bulk ESS of draws ``(chain, draw)`` and that ESS divided by the wall time."""
    ess = float(az.ess(xr.DataArray(np.asarray(values), dims=("chain", "draw"))))
    return {"ess_bulk": ess, "wall_seconds": seconds, "ess_per_second": ess / seconds}


def run_pmb(model, args):
    start = time.perf_counter()
    idata = pmb.sample(
        model, kernel="nuts", draws=args.draws, tune=args.tune, chains=args.chains,
        random_seed=args.seed, progressbar=False,
    )
    seconds = time.perf_counter() - start
    stats = idata.sample_stats
    result = ess_per_second(idata.posterior[QUANTITY].values, seconds)
    result["mean"] = float(idata.posterior[QUANTITY].mean())
    result["divergences"] = int(stats["diverging"].sum())
    result["mean_tree_depth"] = float(stats["tree_depth"].mean())
    return result


def run_pymc(model, args):
    start = time.perf_counter()
    with model:
        idata = pm.sample(
            draws=args.draws, tune=args.tune, chains=args.chains, cores=1,
            random_seed=args.seed, nuts_sampler="pymc", progressbar=False,
            compute_convergence_checks=False,
        )
    seconds = time.perf_counter() - start
    result = ess_per_second(idata.posterior[QUANTITY].values, seconds)
    result["mean"] = float(idata.posterior[QUANTITY].mean())
    result["divergences"] = int(idata.sample_stats["diverging"].sum())
    return result


def run_numpyro(q, train, held_out, args):
    """Sample the same posterior written directly in NumPyro: priors, a factor and a deterministic."""
    import numpyro
    import numpyro.distributions as dist
    from numpyro.infer import MCMC, NUTS

    def numpyro_model(x):
        params = {
            key: numpyro.sample(
                key,
                dist.Normal(0.0, 1.0 / np.sqrt(max(spec.fan_in, 1))).expand(spec.shape).to_event(
                    len(spec.shape)
                ),
            )
            for key, spec in q.weight_specs.items()
        }
        numpyro.factor("log_likelihood", q.log_q(params, x).sum())
        numpyro.deterministic(QUANTITY, q.log_q(params, held_out).mean())

    start = time.perf_counter()
    mcmc = MCMC(
        NUTS(numpyro_model), num_warmup=args.tune, num_samples=args.draws,
        num_chains=args.chains, chain_method="vectorized", progress_bar=False,
    )
    mcmc.run(jax.random.key(args.seed), jnp.asarray(train))
    values = np.asarray(mcmc.get_samples(group_by_chain=True)[QUANTITY])
    seconds = time.perf_counter() - start
    result = ess_per_second(values, seconds)
    result["mean"] = float(values.mean())
    result["divergences"] = int(mcmc.get_extra_fields(group_by_chain=True)["diverging"].sum())
    return result


def write_json_atomically(path, payload):
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    with os.fdopen(handle, "w") as stream:
        json.dump(payload, stream, indent=2)
    os.replace(temporary, path)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=500, help="draws per chain")
    parser.add_argument("--tune", type=int, default=500, help="tuning steps per chain")
    parser.add_argument("--chains", type=int, default=4, help="number of chains")
    parser.add_argument("--hidden", type=int, default=16, help="MADE hidden width")
    parser.add_argument("--n-train", type=int, default=500, help="training configurations")
    parser.add_argument("--beta", type=float, default=0.3, help="inverse temperature of the data")
    parser.add_argument("--seed", type=int, default=1, help="random seed")
    parser.add_argument("--skip-pymc", action="store_true", help="skip PyMC's own NUTS")
    parser.add_argument(
        "--likelihood",
        choices=("observe", "potential"),
        default="observe",
        help="add the data through network.observe or as a pm.Potential of the same value",
    )
    args = parser.parse_args()

    configurations = exact_ising_sample(4, args.beta, args.n_train + 200, args.seed)
    train, held_out = configurations[: args.n_train], configurations[args.n_train :]
    model, q = build_model(train, held_out, (args.hidden,), args.likelihood)

    results = {"pymc_boltzmann_nuts": run_pmb(model, args)}
    results["numpyro_hand_written"] = run_numpyro(q, train, held_out, args)
    if not args.skip_pymc:
        results["pymc_nuts"] = run_pymc(model, args)

    ours = results["pymc_boltzmann_nuts"]["ess_per_second"]
    ratios = {"vs_numpyro": ours / results["numpyro_hand_written"]["ess_per_second"]}
    if "pymc_nuts" in results:
        ratios["vs_pymc"] = ours / results["pymc_nuts"]["ess_per_second"]

    payload = {
        "quantity": QUANTITY,
        "network": type(q).__name__,
        "n_weights": q.n_weights,
        "settings": vars(args),
        "results": results,
        "ess_per_second_ratios": ratios,
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor(),
            "cpu_count": os.cpu_count(),
            "jax_devices": [str(device) for device in jax.devices()],
        },
    }
    write_json_atomically(RESULTS, payload)
    print(json.dumps(payload, indent=2))


if __name__ == "__main__":
    main()
