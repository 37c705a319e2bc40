"""Tests of the Bayesian surrogate energy and of Monte Carlo with it: posterior predictive, penalty, report."""

import math

import numpy as np
import pytest
from scipy import special, stats

from pymc_boltzmann.energies.alloy import BinaryAlloy
from pymc_boltzmann.surrogate import (
    SurrogateEnergy,
    SurrogatePosterior,
    compare_simulations,
    estimated_variance_penalty,
    fit_surrogate,
    noisy_mc,
    penalty_log_ratio,
    plot_comparison,
    posterior_predictive_mc,
    surrogate_mc,
)

COUPLINGS = (1.0, -0.5, 0.25)
OBSERVABLES = ("energy_per_site", "sro_1", "sro_2", "sro_3")


@pytest.fixture(scope="module")
def alloy():
    return BinaryAlloy(5, n_a=12, couplings=COUPLINGS)


@pytest.fixture(scope="module")
def exact_posterior(alloy):
    """Three identical draws of weights that reproduce the alloy energy exactly."""
    surrogate = SurrogateEnergy(L=5, hidden=2)
    return SurrogatePosterior.point_mass(surrogate, surrogate.cluster_expansion_params(COUPLINGS), 3)


@pytest.fixture(scope="module")
def fitted(alloy):
    """A NUTS fit to 200 configurations whose energies carry Gaussian noise of sd 1, and 200 held out."""
    rng = np.random.default_rng(5)
    x = alloy.random_configurations(400, random_seed=4)
    energies = np.asarray(alloy.energy(x)) + rng.standard_normal(400)
    surrogate = SurrogateEnergy(L=5, hidden=2)
    posterior = fit_surrogate(
        surrogate, x[:200], energies[:200], x_test=x[200:], e_test=energies[200:],
        draws=150, tune=150, chains=2, random_seed=6,
    )
    return posterior, x[200:], energies[200:]


def test_cluster_expansion_weights_reproduce_energy(alloy):
    surrogate = SurrogateEnergy(L=5, hidden=3)
    params = surrogate.cluster_expansion_params(COUPLINGS)
    x = alloy.random_configurations(6, random_seed=1)
    np.testing.assert_allclose(np.asarray(surrogate.energy(params, x)), np.asarray(alloy.energy(x)), rtol=1e-12)


def test_identical_draws_reproduce_enumeration(alloy, exact_posterior):
    beta = 0.4
    exact = alloy.exact_expectations(beta)  # exact enumeration of the C(25, 12) states
    result = posterior_predictive_mc(alloy, exact_posterior, beta, n_chains=8, n_sweeps=400, random_seed=2)

    for key in OBSERVABLES:
        assert result.epistemic_sd[key] == 0.0, key
        assert abs(result.mean[key] - exact[key]) < 4 * result.total_sd[key], key
    assert all(result.covers(exact, z=4.0).values())


def test_penalty_removes_noise_bias(alloy):
    # beta * noise_sd = 1.2: without the penalty the chain samples a much hotter system.
    beta, noise_sd = 0.4, 3.0
    exact = alloy.exact_expectations(beta)
    runs = {"n_chains": 16, "n_sweeps": 300, "n_tune": 100, "random_seed": 7}
    penalized = noisy_mc(alloy, beta, noise_sd, penalty=True, **runs)
    plain = noisy_mc(alloy, beta, noise_sd, penalty=False, **runs)

    for key in OBSERVABLES:
        assert abs(penalized.mean[key] - exact[key]) < 4 * penalized.total_sd[key], key
    assert plain.mean["energy_per_site"] - exact["energy_per_site"] > 10 * plain.total_sd["energy_per_site"]


@pytest.mark.parametrize("n_estimates", [3, 8])
@pytest.mark.parametrize("sigma_sq", [0.3, 1.0])
def test_estimated_variance_penalty_is_unbiased(n_estimates, sigma_sq):
    # Detailed balance needs E[exp(-u(chi^2))] = exp(-sigma^2 / 2) for chi^2 ~ sigma^2 Chi2(nu) / nu
    # with nu = n - 1. That chi^2 is Gamma(nu / 2, scale 2 sigma^2 / nu), integrated here by
    # Gauss-Laguerre quadrature. Beyond the first zero of 0F1 the move is rejected instead of
    # taking a negative weight, which costs at most the probability of that tail.
    nu = n_estimates - 1
    scale = 2.0 * sigma_sq / nu
    nodes, weights = special.roots_genlaguerre(80, nu / 2.0 - 1.0)
    penalty = np.asarray(estimated_variance_penalty(scale * nodes, n_estimates))
    expectation = np.sum(weights * np.exp(-penalty)) / special.gamma(nu / 2.0)

    grid = np.linspace(0.0, 50.0, 50_001)
    first_zero = grid[np.argmax(~np.isfinite(np.asarray(estimated_variance_penalty(grid, n_estimates))))]
    tail = stats.gamma(nu / 2.0, scale=scale).sf(first_zero)
    assert abs(expectation - math.exp(-sigma_sq / 2.0)) <= tail + 1e-9


def test_estimated_variance_penalty_matches_scipy():
    # Closed form u = -ln 0F1(; nu / 2; -nu chi^2 / 4), evaluated with scipy.special.hyp0f1.
    for n in (2, 8, 128):
        for chi2 in (0.1, 1.0, 2.0):
            expected = -math.log(special.hyp0f1((n - 1) / 2, -(n - 1) * chi2 / 4))
            assert float(estimated_variance_penalty(chi2, n)) == pytest.approx(expected, rel=1e-12)


def test_estimated_variance_penalty_series():
    # Ceperley and Dewing's expansion: u = chi^2/2 + chi^4/(4(n+1)) + chi^6/(3(n+1)(n+3)) + O(chi^8).
    n, chi2 = 5, 0.05
    series = chi2 / 2 + chi2**2 / (4 * (n + 1)) + chi2**3 / (3 * (n + 1) * (n + 3))
    assert float(estimated_variance_penalty(chi2, n)) == pytest.approx(series, abs=chi2**4)


def test_predictive_interval_covers_heldout(fitted):
    posterior, x_test, e_test = fitted
    coverage = posterior.coverage(x_test, e_test, prob=0.9, random_seed=0)
    # Binomial standard error of a coverage fraction over 200 held-out energies.
    tolerance = 4 * math.sqrt(0.9 * 0.1 / len(e_test))
    assert abs(coverage - 0.9) < tolerance


def test_heldout_rmse_recorded_per_draw(fitted):
    posterior, x_test, e_test = fitted
    stored = posterior.idata["posterior"]["heldout_rmse"]

    assert stored.dims == ("chain", "draw")
    assert stored.shape == (2, 150)
    np.testing.assert_allclose(stored.values.reshape(-1), posterior.rmse(x_test, e_test), rtol=1e-12)


def test_surrogate_size_mismatch(alloy, exact_posterior):
    small = SurrogateEnergy(L=4, hidden=2)
    posterior = SurrogatePosterior.point_mass(small, small.cluster_expansion_params((1.0, 0.0)), 2)
    with pytest.raises(ValueError, match=r"the surrogate takes 16 sites \(L=4\) but the system has 25 \(L=5\)"):
        surrogate_mc(alloy, posterior, 0.4)
    with pytest.raises(ValueError, match=r"x has shape \(25,\), but this surrogate was built for an L=4 lattice"):
        small.energy(small.cluster_expansion_params((1.0, 0.0)), np.ones(25))


def test_negative_variances_rejected(exact_posterior, alloy):
    surrogate = exact_posterior.surrogate
    params = surrogate.cluster_expansion_params(COUPLINGS)
    with pytest.raises(ValueError, match=r"noise_sd contains 1 invalid values \(first -1.0\)"):
        SurrogatePosterior.point_mass(surrogate, params, 1, noise_sd=-1.0)
    with pytest.raises(ValueError, match=r"noise_sd=-0.5 is invalid: expected a finite non-negative"):
        noisy_mc(alloy, 0.4, -0.5)
    with pytest.raises(ValueError, match=r"n_estimates=1 is invalid"):
        penalty_log_ratio(exact_posterior, 0.4, rule="estimated_variance", n_estimates=1)
    with pytest.raises(ValueError, match=r"rule='mean' is invalid"):
        penalty_log_ratio(exact_posterior, 0.4, rule="mean")


def test_observe_rejects_energy_shape():
    import pymc as pm

    surrogate = SurrogateEnergy(L=5, hidden=1)
    x = BinaryAlloy(5, n_a=12).random_configurations(4, random_seed=0)
    with pm.Model():
        surrogate.register()
        with pytest.raises(ValueError, match=r"energies has shape \(3,\) and x has shape \(4, 25\)"):
            surrogate.observe("energy", x, np.zeros(3))


@pytest.mark.slow
def test_comparison_report_with_exact_surrogate(alloy, exact_posterior, tmp_path):
    table = compare_simulations(
        alloy, exact_posterior, 0.4, n_sweeps=400, pp_sweeps=300,
        penalty_rules=("posterior_draw", "estimated_variance", "uncertainty_penalized"),
    )
    # An exact, certain surrogate: every method samples the true Boltzmann distribution.
    assert set(table["method"]) == {
        "exact_energy", "surrogate_mean", "posterior_predictive", "penalty_posterior_draw",
        "penalty_estimated_variance", "penalty_uncertainty_penalized",
    }
    assert (table["z_score"].abs() < 4).all()
    assert (table["epistemic_sd"] == 0.0).all()
    path = plot_comparison(table, str(tmp_path / "comparison.png"))
    assert (tmp_path / "comparison.png").stat().st_size > 0
    assert path.endswith("comparison.png")


@pytest.mark.slow
def test_example_runs_tiny(tmp_path):
    import importlib.util
    import pathlib

    script = pathlib.Path(__file__).resolve().parents[1] / "examples" / "surrogate_alloy.py"
    spec = importlib.util.spec_from_file_location("surrogate_alloy", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    table = module.main(["--tiny", "--plot", str(tmp_path / "plot.png")])

    exact_rows = table[table["method"] == "exact_energy"]
    assert (exact_rows["z_score"].abs() < 4).all()
    assert (tmp_path / "plot.png").exists()
