"""Bayesian VAN on the 2D Ising model in the energy regime: no data, only E(s).

Point training minimizes the variational free energy F_q (REINFORCE with a baseline). Its result
starts NUTS chains on the generalized posterior prior(theta) exp(-n_eff beta (F_q - F)). Every
posterior draw's F_q lies above the exact F (Gibbs-Bogoliubov), and reweighting removes the gap.

    python examples/van_ising_energy.py --tiny
"""

import argparse

import pymc_boltzmann as pmb


def main(tiny=False):
    L = 3
    ising = pmb.energies.Ising2D(L=L)
    beta = 0.3

    def factory(name):
        return pmb.networks.MADE(name, n_sites=ising.n_sites, hidden=(8,), z2=True)

    params, history = pmb.training.fit_energy(
        factory("q"), ising, beta, steps=200 if tiny else 1000, random_seed=0, progressbar=not tiny
    )
    model, q = pmb.models.energy_model(factory, ising, beta, n_eff=200.0, random_seed=1)
    with model:
        idata = pmb.sample(
            draws=30 if tiny else 300,
            tune=30 if tiny else 300,
            chains=2,
            max_tree_depth=5,
            initvals=q.to_initvals(params),
            random_seed=2,
            progressbar=not tiny,
        )

    result = pmb.reweight(idata, q, ising, beta, samples_per_draw=300 if tiny else 2000, random_seed=3)
    f_q = result["posterior"]["variational_free_energy"]
    exact_f = -ising.exact_log_partition(beta) / beta
    print(f"F_q over the posterior: min {float(f_q.min()):.5f}, exact F {exact_f:.5f}")
    print(pmb.summary(result)[["raw", "reweighted", "mcse", "exact", "z_score"]])
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="few training steps and draws, for a quick check")
    main(parser.parse_args().tiny)
