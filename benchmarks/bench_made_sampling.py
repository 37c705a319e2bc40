"""Time MADE sampling: incremental sampler against rerunning the network per site and one log_q.

Three jitted functions are timed on the same weights and batch, after a warm-up call, taking
the best of ``--repeats`` runs (each ends with ``block_until_ready``):

- ``fast``: :meth:`MADE.sample` (each hidden unit computed once) returning x and ln q;
- ``naive``: :meth:`MADE.sample_naive` (the whole network rerun for every site, then ln q);
- ``log_q``: one batched :meth:`MADE.log_q` on the sampled configurations.

The pass criterion is ``naive / fast >= 10``. The ratio ``fast / log_q`` is reported against a
goal of 3. Its limit is about 1, because a sampler has to compute ln q as well. The default size is an L x L
Ising lattice with L = 16 and a network of depth 3 with hidden widths 4N, the size used for the
2D Ising model in the variational autoregressive network literature. The JSON result is written
atomically to ``benchmarks/results/made_sampling.json``.

Usage::

    python benchmarks/bench_made_sampling.py --L 16 --batch 1000 --repeats 3
"""

import argparse
import json
import os
import pathlib
import platform
import tempfile
import time

import jax

import pymc_boltzmann  # noqa: F401  (switches JAX to float64)
from pymc_boltzmann.networks.made import MADE

RESULTS = pathlib.Path(__file__).resolve().parent / "results" / "made_sampling.json"


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--L", type=int, default=16, help="linear lattice size; N = L * L sites")
    parser.add_argument("--batch", type=int, default=1000, help="configurations per call")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per function (best is kept)")
    parser.add_argument("--width-factor", type=int, default=4, help="hidden width in units of N")
    parser.add_argument("--output", type=pathlib.Path, default=RESULTS, help="JSON result path")
    return parser.parse_args(argv)


def best_time(fn, repeats):
    """Return the best wall time in seconds of ``fn()`` after one warm-up call."""
    jax.block_until_ready(fn())
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(fn())
        times.append(time.perf_counter() - start)
    return min(times)


def write_atomic(path, payload):
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    with os.fdopen(handle, "w") as stream:
        json.dump(payload, stream, indent=2)
        stream.write("\n")
    os.chmod(temporary, 0o644)
    os.replace(temporary, path)


def main(argv=None):
    args = parse_args(argv)
    n_sites = args.L * args.L
    width = args.width_factor * n_sites
    network = MADE("q", n_sites=n_sites, hidden=(width, width))
    params = network.init_params(jax.random.key(0))
    key = jax.random.key(1)

    fast = jax.jit(lambda p, k: network.sample(p, k, args.batch))
    naive = jax.jit(lambda p, k: network.sample_naive(p, k, args.batch))
    log_q = jax.jit(network.log_q)
    x, _ = fast(params, key)

    seconds = {
        "fast": best_time(lambda: fast(params, key), args.repeats),
        "naive": best_time(lambda: naive(params, key), args.repeats),
        "log_q": best_time(lambda: log_q(params, x), args.repeats),
    }
    ratio_naive_fast = seconds["naive"] / seconds["fast"]
    ratio_fast_log_q = seconds["fast"] / seconds["log_q"]
    payload = {
        "benchmark": "made_sampling",
        "L": args.L,
        "n_sites": n_sites,
        "hidden": list(network.hidden),
        "depth": network.depth,
        "n_weights": network.n_weights,
        "batch": args.batch,
        "repeats": args.repeats,
        "seconds": seconds,
        "ratio_naive_over_fast": ratio_naive_fast,
        "ratio_fast_over_log_q": ratio_fast_log_q,
        "pass_naive_over_fast_at_least_10": ratio_naive_fast >= 10.0,
        "goal_fast_over_log_q_at_most_3": ratio_fast_log_q <= 3.0,
        "backend": jax.default_backend(),
        "devices": [str(device) for device in jax.devices()],
        "cpu_count": os.cpu_count(),
        "machine": platform.machine(),
        "jax_version": jax.__version__,
    }
    write_atomic(args.output, payload)
    print(json.dumps(payload, indent=2))
    return payload


if __name__ == "__main__":
    main()
