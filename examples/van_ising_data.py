"""Bayesian variational autoregressive network (VAN) on the 2D Ising model, data regime.

The weights of a MADE network get a Normal prior and the likelihood of reference Monte Carlo
configurations, and NUTS draws their posterior. Posterior-predictive reweighting turns it into
the free energy, energy and magnetization, shown next to the exact values from enumeration.

    python examples/van_ising_data.py           # 4 x 4 lattice, a few minutes on 2 cores
    python examples/van_ising_data.py --tiny    # 3 x 3 lattice, for CI
"""

import argparse

import pymc as pm

import pymc_boltzmann as pmb


def main(tiny=False):
    L, draws, samples = (3, 30, 300) if tiny else (4, 300, 2000)
    ising = pmb.energies.Ising2D(L=L)
    beta = ising.critical_beta
    data = ising.reference_sample(beta, 500 if tiny else 2000, random_seed=1)

    with pm.Model():
        q = pmb.networks.MADE("q", n_sites=ising.n_sites, hidden=(8,) if tiny else (16,), z2=True)
        q.observe("x", data)
        idata = pmb.sample(draws=draws, tune=draws, chains=2, max_tree_depth=5, random_seed=2, progressbar=not tiny)

    result = pmb.reweight(idata, q, ising, beta, samples_per_draw=samples, random_seed=3)
    table = pmb.summary(result)
    print(table[["raw", "epistemic_sd", "reweighted", "mcse", "khat", "exact", "z_score"]])
    return table


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="3 x 3 lattice and few draws, for a quick check")
    main(parser.parse_args().tiny)
