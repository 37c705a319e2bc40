"""RealNVP flow on lattice phi^4 theory, with neural MCMC (independence Metropolis) on top.

The flow is trained on reference HMC configurations (data regime) and its weight posterior is
drawn with NUTS. The posterior predictive mixture then serves as an importance sampler and as
the proposal of an independence Metropolis chain, which is asymptotically exact.

    python examples/realnvp_phi4_nmcmc.py --tiny
"""

import argparse

import pymc_boltzmann as pmb


def main(tiny=False):
    # At lam = 0 the theory is Gaussian, so ln Z is a log-determinant to compare with.
    phi4 = pmb.energies.Phi4(L=3 if tiny else 6, m2=1.0, lam=0.0)
    beta = 1.0
    data = phi4.reference_sample(beta, 300 if tiny else 2000, random_seed=1)

    def factory(name):
        return pmb.networks.RealNVP(name, shape=phi4.shape, n_layers=2, hidden=(8,))

    model, q = pmb.models.data_model(factory, data, random_seed=2)
    with model:
        idata = pmb.sample(
            draws=20 if tiny else 200, tune=20 if tiny else 200, chains=2, max_tree_depth=4, random_seed=3,
            progressbar=not tiny,
        )

    result = pmb.reweight(idata, q, phi4, beta, samples_per_draw=200 if tiny else 2000, nmcmc_steps=500, random_seed=4)
    table = pmb.summary(result)
    print(table[["reweighted", "mcse", "nmcmc", "nmcmc_mcse", "exact"]])
    print("NMCMC acceptance rate:", float(result["reweighting_nmcmc"]["acceptance_rate"].mean()))
    return table


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="3 x 3 lattice and few draws, for a quick check")
    main(parser.parse_args().tiny)
