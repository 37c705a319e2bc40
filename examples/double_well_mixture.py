"""A Gaussian mixture density fitted to a two-dimensional double well, and its reweighted ln Z.

E(x) = b x_1^2 + c x_1^4 + x_2^2 / 2 with b = -4, c = 1 has two wells at x_1 = +-sqrt(2). A
two-component mixture, fitted to HMC samples, covers both, and importance reweighting recovers
ln Z, which quadrature gives exactly.

    python examples/double_well_mixture.py --tiny
"""

import argparse

import pymc_boltzmann as pmb


def main(tiny=False):
    well = pmb.energies.DoubleWell(dim=2)
    beta = 1.0
    data = well.reference_sample(beta, 300 if tiny else 2000, random_seed=1)

    def factory(name):
        return pmb.networks.GaussianMixtureDensity(name, n_sites=well.n_sites, n_components=2)

    params, _ = pmb.training.fit_data(factory("q"), data, steps=300, random_seed=0, progressbar=False)
    model, q = pmb.models.data_model(factory, data, random_seed=2)
    with model:
        idata = pmb.sample(
            draws=30 if tiny else 300, tune=30 if tiny else 300, chains=2, max_tree_depth=5,
            initvals=q.to_initvals(params), random_seed=3, progressbar=not tiny,
        )

    result = pmb.reweight(idata, q, well, beta, samples_per_draw=300 if tiny else 2000, random_seed=4)
    row = pmb.summary(result).loc["log_partition"]
    print(f"ln Z: reweighted {row.reweighted:.4f} +- {row.mcse:.4f}, quadrature {row.exact:.4f}, k-hat {row.khat:.2f}")
    return row


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="few draws, for a quick check")
    main(parser.parse_args().tiny)
