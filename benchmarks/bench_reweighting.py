"""Throughput of the reweighting pass: sample + log_q + energy for many posterior draws at once.

For a MADE on L x L Ising lattices, the script times the jitted, vmapped call that
``pmb.reweight`` makes: draw configurations from q_theta_s and score them with ln q and E. It
varies the number of posterior draws batched in one call, with the same number of
configurations per draw. The baseline is one draw per call, measured in the same run, so the
reported speed-up is a ratio on the same machine. Peak memory is the process's maximum
resident set size (``resource.getrusage``), plus the device's peak bytes where JAX reports them.

Run ``python benchmarks/bench_reweighting.py --sizes 8 16 --draws 1 4 16`` for a quick pass;
the defaults are L = 8, 16, 32 and 1 to 64 draws per call. Results go to
``benchmarks/results/reweighting.json`` (written to a temporary file and renamed).
"""

import argparse
import json
import os
import platform
import resource
import sys
import tempfile
import time

import jax
import jax.numpy as jnp
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import pymc_boltzmann  # noqa: E402,F401  (switches JAX to float64)
from pymc_boltzmann.energies import Ising2D  # noqa: E402
from pymc_boltzmann.networks import MADE  # noqa: E402
from pymc_boltzmann.reweighting.draws import make_sampler  # noqa: E402

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results", "reweighting.json")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[8, 16, 32], help="linear lattice sizes L")
    parser.add_argument("--draws", type=int, nargs="+", default=[1, 4, 16, 64], help="posterior draws per JAX call")
    parser.add_argument("--samples", type=int, default=256, help="configurations per posterior draw in one call")
    parser.add_argument("--hidden", type=int, default=1, help="hidden units per site of the one-layer MADE")
    parser.add_argument("--repeats", type=int, default=3, help="timed calls per setting (the best is kept)")
    parser.add_argument("--output", default=RESULTS, help="path of the JSON results")
    return parser.parse_args(argv)


def peak_rss_mib():
    """Return the maximum resident set size of this process so far, in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def device_peak_mib():
    """Return the device's peak allocated memory in MiB, or None where JAX does not report it."""
    stats = jax.devices()[0].memory_stats()
    if not stats or "peak_bytes_in_use" not in stats:
        return None
    return stats["peak_bytes_in_use"] / 2**20


def time_setting(L, n_draws, n_samples, hidden, repeats):
    """Time one vmapped sample + log_q + energy call; return configurations per second and times."""
    ising = Ising2D(L=L)
    network = MADE("q", n_sites=ising.n_sites, hidden=(hidden * ising.n_sites,), z2=True)
    keys = jax.random.split(jax.random.key(0), n_draws)
    params = jax.vmap(lambda k: network.init_params(k, scale=0.5))(keys)
    sampler = make_sampler(network, ising, n_samples)

    start = time.perf_counter()
    jax.block_until_ready(sampler(params, keys))
    compile_seconds = time.perf_counter() - start

    best = np.inf
    for repeat in range(repeats):
        call_keys = jax.random.split(jax.random.key(repeat + 1), n_draws)
        start = time.perf_counter()
        jax.block_until_ready(sampler(params, call_keys))
        best = min(best, time.perf_counter() - start)
    return {
        "L": L,
        "n_sites": ising.n_sites,
        "draws_per_call": n_draws,
        "samples_per_draw": n_samples,
        "n_weights": network.n_weights,
        "seconds_per_call": best,
        "compile_seconds": compile_seconds,
        "configurations_per_second": n_draws * n_samples / best,
        "peak_rss_mib": peak_rss_mib(),
        "device_peak_mib": device_peak_mib(),
    }


def write_atomic(path, payload):
    """Write JSON to a temporary file in the target folder and rename it over ``path``."""
    folder = os.path.dirname(path)
    os.makedirs(folder, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=folder, suffix=".tmp")
    with os.fdopen(handle, "w") as stream:
        json.dump(payload, stream, indent=2)
    os.replace(temporary, path)


def main(argv=None):
    args = parse_args(argv)
    rows = []
    for L in args.sizes:
        baseline = None
        for n_draws in sorted(args.draws):
            row = time_setting(L, n_draws, args.samples, args.hidden, args.repeats)
            if baseline is None:
                baseline = row["configurations_per_second"]
                row["baseline_draws_per_call"] = n_draws
            row["speedup_over_baseline"] = row["configurations_per_second"] / baseline
            rows.append(row)
            print(
                f"L={L:3d} draws/call={n_draws:4d} configurations/s={row['configurations_per_second']:12.0f} "
                f"speed-up={row['speedup_over_baseline']:5.2f} peak RSS={row['peak_rss_mib']:8.1f} MiB",
                flush=True,
            )
    payload = {
        "benchmark": "reweighting sample + log_q + energy, vmapped over posterior draws",
        "network": f"MADE, one hidden layer of {args.hidden} x n_sites tanh units, z2=True",
        "baseline": "the smallest draws_per_call of the same L, measured in the same run",
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor(),
            "cpu_count": os.cpu_count(),
            "jax_backend": jax.default_backend(),
            "device": str(jax.devices()[0]),
        },
        "results": rows,
    }
    write_atomic(args.output, payload)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
