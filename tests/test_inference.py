"""Tests of pymc_boltzmann.inference: kernels against closed-form posteriors, output, bad input."""

import logging

import arviz as az
import numpy as np
import pymc as pm
import pytensor.tensor as pt
import pytest
import scipy.integrate
import scipy.optimize
import scipy.special
import xarray as xr

import pymc_boltzmann as pmb
from pymc_boltzmann.inference import build_target
from pymc_boltzmann.inference.diagnostics import log_sampler_problems
from pymc_boltzmann.inference.stats import to_arviz_stats

EXACT_KERNELS = ("nuts", "hmc", "mala", "rmh")
N_DATA = 20
PRIOR_SD = 1.0
NOISE_SD = 1.0


def _gaussian_data():
    return np.random.default_rng(11).normal(0.7, NOISE_SD, N_DATA)


def _gaussian_model(y):
    """y_i ~ Normal(mu, 1), mu ~ Normal(0, 1), with y in a pm.Data container."""
    with pm.Model(coords={"obs_id": np.arange(len(y)), "offset": np.arange(3)}) as model:
        data = pm.Data("y", y, dims="obs_id")
        mu = pm.Normal("mu", 0.0, PRIOR_SD)
        pm.Normal("obs", mu, NOISE_SD, observed=data, dims="obs_id")
        pm.Deterministic("shifted_mu", mu + pt.arange(3), dims="offset")
    return model


def _gaussian_posterior(y):
    # Conjugate Normal-Normal update: precision adds, mean is precision-weighted.
    precision = 1.0 / PRIOR_SD**2 + len(y) / NOISE_SD**2
    return np.sum(y) / NOISE_SD**2 / precision, 1.0 / precision


def _logistic_data():
    rng = np.random.default_rng(5)
    x = rng.normal(size=30)
    y = (rng.random(30) < scipy.special.expit(1.2 * x)).astype(float)
    return x, y


def _logistic_model(x, y):
    """y_i ~ Bernoulli(sigmoid(w x_i)), w ~ Normal(0, 1)."""
    with pm.Model() as model:
        covariate = pm.Data("x", x)
        outcome = pm.Data("y", y)
        w = pm.Normal("w", 0.0, 1.0)
        pm.Bernoulli("obs", logit_p=w * covariate, observed=outcome)
    return model


def _logistic_posterior(x, y):
    """Posterior mean and variance of w by adaptive quadrature of the unnormalized density."""

    def log_density(w):
        logits = w * x
        return -0.5 * w**2 + np.sum(y * logits - np.logaddexp(0.0, logits))

    mode = scipy.optimize.minimize_scalar(lambda w: -log_density(w)).x
    offset = log_density(mode)

    def moment(k):
        return scipy.integrate.quad(
            lambda w: w**k * np.exp(log_density(w) - offset), -np.inf, np.inf, epsabs=1e-12
        )[0]

    norm = moment(0)
    mean = moment(1) / norm
    return mean, moment(2) / norm - mean**2


def _mean_and_mcse(values):
    """Mean of draws ``(chain, draw)`` and its Monte Carlo standard error, sd / sqrt(ESS)."""
    array = xr.DataArray(np.asarray(values), dims=("chain", "draw"))
    ess = float(az.ess(array))
    return float(array.mean()), float(array.std()) / np.sqrt(ess)


def _assert_mean_and_variance(draws, mean, variance, n_se=4.0):
    """Check E[w] and E[(w - mean)^2] against their exact values within n_se MCSE."""
    estimate, mcse = _mean_and_mcse(draws)
    assert abs(estimate - mean) < n_se * mcse, (estimate, mean, mcse)
    estimate, mcse = _mean_and_mcse((draws - mean) ** 2)
    assert abs(estimate - variance) < n_se * mcse, (estimate, variance, mcse)


@pytest.fixture(scope="module")
def gaussian_model():
    return _gaussian_model(_gaussian_data())


def _sample_gaussian(model, kernel):
    return pmb.sample(
        model, kernel=kernel, draws=600, tune=400, chains=2, random_seed=3, progressbar=False
    )


@pytest.fixture(scope="module")
def nuts_idata(gaussian_model):
    # One NUTS run shared by the tests of the output, because compiling NUTS takes seconds.
    return _sample_gaussian(gaussian_model, "nuts")


@pytest.mark.parametrize("kernel", EXACT_KERNELS)
def test_kernel_recovers_conjugate_gaussian(gaussian_model, nuts_idata, kernel):
    mean, variance = _gaussian_posterior(_gaussian_data())
    idata = nuts_idata if kernel == "nuts" else _sample_gaussian(gaussian_model, kernel)
    _assert_mean_and_variance(idata.posterior["mu"].values, mean, variance)


@pytest.mark.parametrize(
    "kernel", [pytest.param(k, marks=pytest.mark.slow) if k != "nuts" else k for k in EXACT_KERNELS]
)
def test_kernel_recovers_logistic_posterior(kernel):
    x, y = _logistic_data()
    mean, variance = _logistic_posterior(x, y)
    idata = pmb.sample(
        _logistic_model(x, y), kernel=kernel, draws=600, tune=400, chains=2, random_seed=4,
        progressbar=False,
    )
    _assert_mean_and_variance(idata.posterior["w"].values, mean, variance)


def test_sgld_full_data_matches_ula_variance(gaussian_model):
    # With all rows, SGLD is the unadjusted Langevin algorithm. On a Gaussian posterior of
    # precision P it is the AR(1) chain x' = x - (h P / 2)(x - m) + sqrt(h) xi, whose
    # stationary law is Normal(m, 1 / (P (1 - h P / 4))): the O(h) bias in closed form.
    mean, variance = _gaussian_posterior(_gaussian_data())
    step_size = 0.04
    precision = 1.0 / variance
    ula_variance = 1.0 / (precision * (1.0 - step_size * precision / 4.0))
    idata = pmb.sample(
        gaussian_model, kernel="sgld", step_size=step_size, draws=3000, tune=200, chains=2,
        random_seed=5, progressbar=False,
    )
    _assert_mean_and_variance(idata.posterior["mu"].values, mean, ula_variance)
    assert ula_variance > 1.2 * variance


def test_penalty_mh_recovers_gaussian_mean_and_variance():
    # The penalty is exact when the minibatch estimate of the log-likelihood difference is
    # Normal. Here d_i = (mu' - mu)(y_i - (mu + mu') / 2) is linear in Gaussian data, so the
    # mean of 50 of 200 rows is close to Normal and the bias is below the Monte Carlo error.
    y = np.random.default_rng(12).normal(0.7, NOISE_SD, 200)
    mean, variance = _gaussian_posterior(y)
    idata = pmb.sample(
        _gaussian_model(y), kernel="penalty_mh", minibatch_size=50, draws=3000, tune=1000,
        chains=2, random_seed=6, progressbar=False,
    )
    _assert_mean_and_variance(idata.posterior["mu"].values, mean, variance)
    assert float(idata.sample_stats["penalty"].mean()) > 0.0


def test_seeded_runs_are_bit_identical(gaussian_model):
    runs = [
        pmb.sample(
            gaussian_model, kernel="rmh", draws=50, tune=50, chains=2, random_seed=7,
            progressbar=progressbar,
        )
        for progressbar in (False, True)
    ]
    first = runs[0].posterior["mu"].values
    assert np.array_equal(first, runs[1].posterior["mu"].values)
    assert np.array_equal(runs[0].sample_stats["step_size"].values, runs[1].sample_stats["step_size"].values)
    assert not np.array_equal(first[0], first[1])


def test_nuts_agrees_with_pymc_numpyro(gaussian_model, nuts_idata):
    idata = nuts_idata
    with gaussian_model:
        reference = pm.sample(
            draws=600, tune=400, chains=2, random_seed=10, nuts_sampler="numpyro",
            nuts={"chain_method": "vectorized"}, progressbar=False, compute_convergence_checks=False,
        )
    ours, ours_se = _mean_and_mcse(idata.posterior["mu"].values)
    theirs, theirs_se = _mean_and_mcse(reference.posterior["mu"].values)
    assert abs(ours - theirs) < 4.0 * np.hypot(ours_se, theirs_se)
    ours, ours_se = _mean_and_mcse((idata.posterior["mu"].values - ours) ** 2)
    theirs, theirs_se = _mean_and_mcse((reference.posterior["mu"].values - theirs) ** 2)
    assert abs(ours - theirs) < 4.0 * np.hypot(ours_se, theirs_se)


def test_datatree_groups_and_stats(nuts_idata):
    assert set(nuts_idata.children) == {"posterior", "sample_stats", "observed_data"}
    stats = nuts_idata["sample_stats"]
    for name in ("diverging", "acceptance_rate", "step_size", "lp", "tree_depth", "n_steps", "energy"):
        assert name in stats, name
    assert stats["diverging"].dtype == bool
    assert nuts_idata["posterior"].attrs["kernel"] == "nuts"
    assert "numpyro_version" in nuts_idata["posterior"].attrs


def test_lp_is_log_density(gaussian_model, nuts_idata):
    target = build_target(gaussian_model)
    mu = nuts_idata.posterior["mu"].values[0, :5]
    expected = [float(target.logdensity(np.array([m]), target.data_values)) for m in mu]
    np.testing.assert_allclose(nuts_idata.sample_stats["lp"].values[0, :5], expected, rtol=1e-10)


def test_deterministics_in_posterior_with_dims(nuts_idata):
    shifted = nuts_idata.posterior["shifted_mu"]
    assert shifted.dims == ("chain", "draw", "offset")
    np.testing.assert_allclose(
        shifted.values, nuts_idata.posterior["mu"].values[..., None] + np.arange(3)
    )


def test_arviz_reads_datatree(nuts_idata):
    summary = az.summary(nuts_idata)
    assert "mu" in summary.index
    ess = az.ess(nuts_idata)
    rhat = az.rhat(nuts_idata)
    assert float(ess["mu"]) > 100
    assert abs(float(rhat["mu"]) - 1.0) < 0.05
    assert "obs" in nuts_idata["observed_data"]


def test_data_is_an_input_not_a_constant(gaussian_model):
    target = build_target(gaussian_model)
    position = np.array([0.3])
    shifted = (target.data_values[0] + 1.0,)
    mean, variance = 0.3, NOISE_SD**2
    # ln N(y + 1 | mu, 1) differs from ln N(y | mu, 1) by -sum(y + 1 - mu)^2/2 + sum(y - mu)^2/2.
    y = target.data_values[0]
    expected = -0.5 * np.sum((y + 1.0 - mean) ** 2 - (y - mean) ** 2) / variance
    difference = target.logdensity(position, shifted) - target.logdensity(position, target.data_values)
    np.testing.assert_allclose(float(difference), expected, rtol=1e-12)


def test_minibatch_loglik_matches_full_rows(gaussian_model):
    target = build_target(gaussian_model)
    position = np.array([0.2])
    full = np.asarray(target.loglik_per_datum(position, target.data_values))
    indices = np.array([3, 7, 11])
    batch = np.asarray(target.loglik_minibatch(position, target.data_values, indices))
    np.testing.assert_allclose(batch, full[indices], rtol=1e-12)
    assert target.minibatch_inputs_sliced
    assert target.n_data == N_DATA


def test_divergences_are_logged(caplog):
    # Leapfrog on Normal(0, 0.01^2) is unstable for step sizes above 2 * 0.01, so a fixed
    # step size of 1 (no tuning) makes every trajectory's energy error diverge.
    with pm.Model() as model:
        pm.Normal("x", 0.0, 0.01)
    with caplog.at_level(logging.WARNING, logger="pymc_boltzmann.inference.diagnostics"):
        idata = pmb.sample(
            model, kernel="hmc", step_size=1.0, draws=20, tune=0, chains=2, random_seed=1,
            progressbar=False,
        )
    n_divergent = int(idata.sample_stats["diverging"].sum())
    assert n_divergent == 40
    assert "kernel='hmc': 40 of 40 draws after tuning are divergent" in caplog.text
    assert "raise target_accept from 0.8 to 0.9" in caplog.text


def test_max_tree_depth_saturation_is_logged(caplog):
    stats = {
        "step_size": np.ones((2, 5)),
        "diverging": np.zeros((2, 5), dtype=bool),
        "reached_max_treedepth": np.array([[True, False, False, True, False]] * 2),
    }
    with caplog.at_level(logging.WARNING, logger="pymc_boltzmann.inference.diagnostics"):
        counts = log_sampler_problems(stats, "nuts", 0.8, 6)
    assert counts == {"divergences": 0, "max_tree_depth_hits": 4}
    assert "4 of 10 draws reached the maximum tree depth 6" in caplog.text
    assert "raise max_tree_depth to 8" in caplog.text


def test_tree_depth_from_leapfrog_steps():
    # A tree of depth d has at most 2**d - 1 leapfrog steps.
    stats = to_arviz_stats({"num_steps": np.array([[1, 3, 7, 8, 1023]])}, max_tree_depth=10)
    np.testing.assert_array_equal(stats["tree_depth"], [[1, 2, 3, 4, 10]])
    np.testing.assert_array_equal(stats["reached_max_treedepth"], [[False] * 4 + [True]])


def test_unknown_kernel_lists_valid_names(gaussian_model):
    with pytest.raises(ValueError, match=r"kernel='gibbs' is not a known kernel.*'mala'.*'nuts'"):
        pmb.sample(gaussian_model, kernel="gibbs")


@pytest.mark.parametrize("argument", ["draws", "chains"])
def test_draws_and_chains_below_one(gaussian_model, argument):
    with pytest.raises(ValueError, match=rf"{argument}=0 is invalid: expected an integer of at least 1"):
        pmb.sample(gaussian_model, **{argument: 0})


def test_model_without_free_variables():
    with pm.Model() as model:
        pm.Data("y", np.zeros(3))
    with pytest.raises(ValueError, match="the model has no free random variables"):
        pmb.sample(model, draws=10, tune=10, progressbar=False)


def test_model_from_context(gaussian_model):
    with gaussian_model:
        idata = pmb.sample(kernel="rmh", draws=10, tune=10, chains=1, random_seed=1, progressbar=False)
    assert idata.posterior["mu"].shape == (1, 10)


def test_data_of_wrong_shape():
    with pm.Model() as model:
        data = pm.Data("y", np.zeros(20))
        mu = pm.Normal("mu", 0.0, 1.0)
        pm.Normal("obs", mu, 1.0, observed=data, shape=20)
    with model:
        pm.set_data({"y": np.zeros(7)})
    with pytest.raises(ValueError, match=r"data do not fit its variables: data shapes \{'y': \(7,\)\}"):
        pmb.sample(model, draws=10, tune=10, progressbar=False)


def test_non_finite_start_names_variable():
    with pm.Model() as model:
        mu = pm.Normal("mu", 0.0, 1.0)
        pm.Potential("wall", pt.switch(mu > 0.0, 0.0, -np.inf))
    with pytest.raises(ValueError, match=r"log density is -inf at the initial point.*\['wall'\]"):
        pmb.sample(model, initvals={"mu": -1.0}, jitter=0.0, draws=10, tune=10, progressbar=False)


def test_initvals_per_chain_start_chains_apart(gaussian_model):
    initvals = [{"mu": -3.0}, {"mu": 3.0}]
    idata = pmb.sample(
        gaussian_model, kernel="rmh", initvals=initvals, jitter=0.0, draws=3, tune=0, chains=2,
        random_seed=1, progressbar=False,
    )
    first = idata.posterior["mu"].values[:, 0]
    assert first[0] < 0.0 < first[1]


def test_initvals_list_length_must_match_chains(gaussian_model):
    with pytest.raises(ValueError, match="initvals is a list of 1 dicts but chains=2"):
        pmb.sample(gaussian_model, initvals=[{"mu": 0.0}], chains=2, progressbar=False)


def test_sgld_without_step_size(gaussian_model):
    with pytest.raises(ValueError, match="kernel='sgld' needs step_size"):
        pmb.sample(gaussian_model, kernel="sgld", draws=10, tune=10, progressbar=False)


def test_minibatch_size_above_data_size(gaussian_model):
    with pytest.raises(ValueError, match=rf"minibatch_size=50 is invalid.*{N_DATA}"):
        pmb.sample(gaussian_model, kernel="penalty_mh", minibatch_size=50, progressbar=False)


def test_unknown_kernel_option(gaussian_model):
    with pytest.raises(TypeError, match=r"kernel='mala' got unexpected keyword arguments \['dense_mass'\]"):
        pmb.sample(gaussian_model, kernel="mala", dense_mass=True, progressbar=False)
