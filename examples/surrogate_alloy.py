"""Bayesian surrogate energy of a binary alloy inside Monte Carlo: four simulations compared.

A 5 x 5 alloy with first- to third-shell pair interactions plays the expensive energy. A neural
surrogate is fitted with NUTS to a few hundred noisy labelled configurations, and the short-range
order is then computed with the true energy, the posterior mean surrogate, one simulation per
posterior draw, and the penalty method. The table goes to stdout and a plot to a PNG.

Run ``python examples/surrogate_alloy.py`` (a few minutes on a laptop CPU) or
``python examples/surrogate_alloy.py --tiny`` (small sizes for continuous integration).
"""

import argparse
import os
import time

import numpy as np
import pandas as pd

import pymc_boltzmann  # noqa: F401  (float64 JAX)
from pymc_boltzmann.energies.alloy import BinaryAlloy
from pymc_boltzmann.surrogate import SurrogateEnergy, compare_simulations, fit_surrogate, plot_comparison

SIZES = {
    "full": {"n_train": 300, "n_test": 200, "draws": 300, "tune": 300, "n_draws_mc": 32, "n_sweeps": 2000,
             "pp_sweeps": 1000, "temperature_factors": (1.0, 0.5),
             "penalty_rules": ("posterior_draw", "uncertainty_penalized")},
    "tiny": {"n_train": 120, "n_test": 60, "draws": 40, "tune": 60, "n_draws_mc": 4, "n_sweeps": 200,
             "pp_sweeps": 100, "temperature_factors": (1.0,), "penalty_rules": ("posterior_draw",)},
}


def labelled_configurations(alloy, betas, n, label_noise, random_seed):
    """Return configurations drawn in equal parts at each of ``betas`` and at random, and noisy energies."""
    rng = np.random.default_rng(random_seed)
    part = n // (len(betas) + 1)
    parts = [
        alloy.reference_sample(beta, part, random_seed=random_seed + i) for i, beta in enumerate(betas)
    ]
    parts.append(alloy.random_configurations(n - part * len(betas), random_seed=random_seed + len(betas)))
    x = np.concatenate(parts)
    x = x[rng.permutation(len(x))]
    energies = np.asarray(alloy.energy(x)) + label_noise * rng.standard_normal(len(x))
    return x, energies


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="small sizes that finish in well under a minute")
    parser.add_argument("--beta", type=float, default=0.4, help="inverse temperature (1 / energy unit)")
    parser.add_argument("--label-noise", type=float, default=1.0, help="sd of the noise on training energies")
    parser.add_argument("--plot", default="surrogate_alloy.png", help="path of the PNG written")
    args = parser.parse_args(argv)
    sizes = SIZES["tiny" if args.tiny or os.environ.get("PMB_EXAMPLE_TINY") else "full"]
    start = time.perf_counter()

    alloy = BinaryAlloy(L=5, n_a=12, couplings=(1.0, -0.5, 0.25))
    n_labelled = sizes["n_train"] + sizes["n_test"]
    betas = [factor * args.beta for factor in sizes["temperature_factors"]]
    x, energies = labelled_configurations(alloy, betas, n_labelled, args.label_noise, random_seed=1)
    x_train, x_test = x[: sizes["n_train"]], x[sizes["n_train"]:]
    e_train, e_test = energies[: sizes["n_train"]], energies[sizes["n_train"]:]

    surrogate = SurrogateEnergy(L=alloy.L, hidden=4)
    posterior = fit_surrogate(
        surrogate, x_train, e_train, x_test=x_test, e_test=e_test,
        draws=sizes["draws"], tune=sizes["tune"], chains=2, random_seed=2,
    )
    print(f"held-out RMSE per draw: mean {posterior.heldout_rmse.mean():.3f}, "
          f"sd {posterior.heldout_rmse.std():.3f} (label noise sd {args.label_noise})")
    print(f"90% predictive interval coverage of held-out energies: {posterior.coverage(x_test, e_test, 0.9):.3f}")

    table = compare_simulations(
        alloy, posterior.subset(sizes["n_draws_mc"]), args.beta,
        n_sweeps=sizes["n_sweeps"], pp_sweeps=sizes["pp_sweeps"],
        penalty_rules=sizes["penalty_rules"], random_seed=3,
    )
    with pd.option_context("display.width", 200, "display.max_columns", 20, "display.precision", 4):
        print(table.drop(columns=["reference_se", "acceptance_rate"]).to_string(index=False))
    plot_comparison(table, args.plot)
    print(f"plot written to {args.plot}; total time {time.perf_counter() - start:.0f} s")
    return table


if __name__ == "__main__":
    main()
