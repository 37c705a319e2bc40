"""Tests of the reweighting estimators against exact enumeration, quadrature and closed forms."""

import itertools
import logging
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import xarray as xr
from scipy import integrate
from scipy.special import logsumexp

import pymc_boltzmann as pmb
from pymc_boltzmann.energies import DoubleWell, GaussianMixture, Ising2D
from pymc_boltzmann.networks import MADE, DiagonalGaussian, GaussianMixtureDensity, MeanFieldSpins
from pymc_boltzmann.reweighting import khat_threshold, mode_coverage, smooth_log_weights, summary_to_dict
from pymc_boltzmann.reweighting.estimators import log_partition_nis
from pymc_boltzmann.reweighting.nmcmc import independence_metropolis

BETA_C = math.log1p(math.sqrt(2.0)) / 2.0


# ----------------------------------------------------------------------------------------------
# Exact references and cheap posteriors
# ----------------------------------------------------------------------------------------------


def enumerate_ising(ising, beta):
    """Return every state of a small Ising lattice, its Boltzmann probabilities and exact moments.

    The 2^N states are listed explicitly, so ln Z and every expectation are exact sums.
    """
    states = np.array(list(itertools.product([-1.0, 1.0], repeat=ising.n_sites)))
    energy = np.asarray(ising.energy_fn(jnp.asarray(states)))
    log_p = -beta * energy
    log_partition = logsumexp(log_p)
    p = np.exp(log_p - log_partition)
    m = states.mean(axis=1)
    exact = {
        "log_partition": log_partition,
        "free_energy_per_site": -log_partition / (beta * ising.n_sites),
        "energy_per_site": np.sum(p * energy) / ising.n_sites,
        "abs_magnetization": np.sum(p * np.abs(m)),
        "magnetization_sq": np.sum(p * m**2),
    }
    return states, p, exact


def exact_sample(states, p, n, seed):
    """Draw ``n`` exact Boltzmann configurations from the enumerated distribution."""
    rng = np.random.default_rng(seed)
    return states[rng.choice(states.shape[0], size=n, p=p)]


def fit_maximum_likelihood(network, data, *, steps=1500, learning_rate=0.02, seed=0):
    """Fit a network to data by full-batch Adam on the mean negative log likelihood."""
    data = jnp.asarray(data)

    def loss(params):
        return -jnp.mean(network.log_q(params, data))

    def adam_step(step, state):
        params, first, second = state
        g = jax.grad(loss)(params)
        first = jax.tree.map(lambda m, gi: 0.9 * m + 0.1 * gi, first, g)
        second = jax.tree.map(lambda v, gi: 0.999 * v + 0.001 * gi**2, second, g)
        count = step + 1.0
        params = jax.tree.map(
            lambda p, m, v: p - learning_rate * (m / (1 - 0.9**count)) / (jnp.sqrt(v / (1 - 0.999**count)) + 1e-8),
            params,
            first,
            second,
        )
        return params, first, second

    params = network.init_params(jax.random.key(seed), scale=0.1)
    zeros = jax.tree.map(jnp.zeros_like, params)
    params, _, _ = jax.jit(lambda state: jax.lax.fori_loop(0, steps, adam_step, state))((params, zeros, zeros))
    return {key: np.asarray(value) for key, value in params.items()}


def posterior_datatree(network, params, *, chains=2, draws=4, scale=0.0, seed=0):
    """Build a DataTree whose posterior group contains perturbed copies of ``params``.

    Each draw is ``params + scale * Normal(0, 1)`` noise, which replaces a weight
    posterior concentrated around a point estimate.
    """
    rng = np.random.default_rng(seed)
    variables = {}
    for key, value in params.items():
        name = network.var_names[key]
        dims = ("chain", "draw") + tuple(f"{name}_dim_{axis}" for axis in range(np.ndim(value)))
        noise = scale * rng.standard_normal((chains, draws) + np.shape(value))
        variables[name] = (dims, np.asarray(value)[None, None] + noise)
    posterior = xr.Dataset(variables, coords={"chain": np.arange(chains), "draw": np.arange(draws)})
    return xr.DataTree.from_dict({"posterior": posterior})


# ----------------------------------------------------------------------------------------------
# Reference ln Z of the continuous systems
# ----------------------------------------------------------------------------------------------


def double_well_log_partition(dim, beta=1.0, a=0.0, b=-4.0, c=1.0):
    """Return ln Z of E(x) = a x_1 + b x_1^2 + c x_1^4 + sum_{k>1} x_k^2 / 2 by quadrature.

    One-dimensional adaptive quadrature in x_1, times (2 pi / beta)^((d - 1) / 2) for the
    Gaussian coordinates.
    """

    def density(t):
        return math.exp(-beta * (a * t + b * t**2 + c * t**4))

    one_dim, _ = integrate.quad(density, -np.inf, np.inf, epsabs=1e-13, epsrel=1e-12)
    return math.log(one_dim) + 0.5 * (dim - 1) * math.log(2 * math.pi / beta)


# ----------------------------------------------------------------------------------------------
# Ising 4 x 4 at beta_c with a MADE fitted to exact samples
# ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ising_critical():
    ising = Ising2D(L=4)
    states, p, exact = enumerate_ising(ising, BETA_C)
    data = exact_sample(states, p, 2000, seed=11)
    network = MADE("q", n_sites=ising.n_sites, hidden=(16,), z2=True)
    params = fit_maximum_likelihood(network, data)
    idata = posterior_datatree(network, params, chains=2, draws=4, scale=0.02, seed=3)
    result = pmb.reweight(
        idata, network, ising, BETA_C, samples_per_draw=2000, random_seed=5, nmcmc_steps=2000, nmcmc_chains=4
    )
    return result, exact


@pytest.mark.parametrize("quantity", ["free_energy_per_site", "energy_per_site", "abs_magnetization"])
def test_ising_reweighted_matches_enumeration(ising_critical, quantity):
    result, exact = ising_critical
    table = pmb.summary(result, exact=False)
    error = table.loc[quantity, "reweighted"] - exact[quantity]
    assert table.loc[quantity, "reliable"]
    assert abs(error) < 4 * table.loc[quantity, "mcse"], (quantity, error, table.loc[quantity, "mcse"])


def test_ising_per_draw_variational_bound(ising_critical):
    result, exact = ising_critical
    draws = result["reweighting_draws"]
    free_energy_q = draws["variational_free_energy_per_site"].values
    se = draws["variational_free_energy_per_site_se"].values
    # Gibbs inequality: F_q >= F for every normalized q, so no draw may fall below F by more
    # than its own Monte Carlo error.
    assert np.all(free_energy_q - exact["free_energy_per_site"] > -4 * se)


def test_ising_nmcmc_energy_matches_enumeration(ising_critical):
    result, exact = ising_critical
    table = pmb.summary(result)
    error = table.loc["energy_per_site", "nmcmc"] - exact["energy_per_site"]
    assert 0.0 < result["reweighting_estimates"].attrs["nmcmc_acceptance_rate"] <= 1.0
    assert abs(error) < 4 * table.loc["energy_per_site", "nmcmc_mcse"]


def test_ising_result_groups_and_dims(ising_critical):
    result, _ = ising_critical
    samples = result["reweighting"]
    assert "posterior" in result.children
    for name in ("log_q", "energy", "log_weight", "energy_per_site", "abs_magnetization"):
        assert samples[name].dims == ("chain", "draw", "sample")
    assert samples["log_weight"].shape == (2, 4, 2000)
    np.testing.assert_allclose(
        samples["log_weight"].values, -BETA_C * samples["energy"].values - samples["log_q"].values
    )


def test_summary_bias_and_exact_columns(ising_critical):
    result, exact = ising_critical
    table = pmb.summary(result)
    np.testing.assert_allclose(table["bias"], table["raw"] - table["reweighted"])
    assert {"exact", "z_score", "epistemic_sd", "khat", "ess"} <= set(table.columns)
    assert "exact" not in pmb.summary(result, exact=False).columns
    report = summary_to_dict(result)
    assert set(report) == {"summary", "diagnostics", "settings"}
    assert report["settings"]["samples_per_draw"] == 2000


# ----------------------------------------------------------------------------------------------
# Continuous systems
# ----------------------------------------------------------------------------------------------


def test_double_well_log_partition_matches_quadrature():
    system = DoubleWell(dim=2)
    exact = double_well_log_partition(dim=2)
    network = GaussianMixtureDensity("q", n_sites=2, n_components=2)
    params = {
        "logits": np.zeros(2),
        "locs": np.array([[-1.4, 0.0], [1.4, 0.0]]),
        "log_scales": np.log(np.full((2, 2), [0.45, 1.0])),
    }
    idata = posterior_datatree(network, params, chains=2, draws=3, scale=0.05, seed=1)
    result = pmb.reweight(idata, network, system, 1.0, samples_per_draw=1000, random_seed=2, nmcmc_steps=0)
    table = pmb.summary(result)
    error = table.loc["log_partition", "reweighted"] - exact
    assert table.loc["log_partition", "exact"] == pytest.approx(exact, abs=1e-8)
    assert abs(error) < 4 * table.loc["log_partition", "mcse"]


def test_gaussian_mixture_log_partition_matches_closed_form():
    system = GaussianMixture(means=[[-2.0, 0.0], [2.0, 1.0]], sigmas=0.7, weights=[0.3, 0.7])
    network = DiagonalGaussian("q", n_sites=2)
    params = {"loc": np.array([0.5, 0.5]), "log_scale": np.log(np.array([2.3, 1.2]))}
    idata = posterior_datatree(network, params, chains=1, draws=4, scale=0.05, seed=4)
    result = pmb.reweight(idata, network, system, 1.0, samples_per_draw=2000, random_seed=3, nmcmc_steps=0)
    table = pmb.summary(result)
    # E = -ln of a normalized mixture density, so Z = 1 at beta = 1.
    exact = 0.0
    error = table.loc["log_partition", "reweighted"] - exact
    assert abs(error) < 4 * table.loc["log_partition", "mcse"]


def test_log_partition_interval_coverage():
    system = DoubleWell(dim=2)
    network = DiagonalGaussian("q", n_sites=2)
    params = {"loc": np.zeros(2), "log_scale": np.log(np.array([1.6, 1.1]))}
    idata = posterior_datatree(network, params, chains=1, draws=1)
    exact = double_well_log_partition(dim=2)
    covered = 0
    for seed in range(20):
        result = pmb.reweight(idata, network, system, 1.0, samples_per_draw=500, random_seed=seed, nmcmc_steps=0)
        table = pmb.summary(result)
        lower = table.loc["log_partition", "reweighted"] - 1.96 * table.loc["log_partition", "mcse"]
        upper = table.loc["log_partition", "reweighted"] + 1.96 * table.loc["log_partition", "mcse"]
        covered += lower <= exact <= upper
    # A 95% interval misses in 1 run of 20 on average. Under Binomial(20, 0.95), 16 or more
    # covering intervals occur with probability 0.997.
    assert covered >= 16, covered


# ----------------------------------------------------------------------------------------------
# A deliberately poor proposal
# ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ordered_ising_mean_field():
    ising = Ising2D(L=4)
    states, p, exact = enumerate_ising(ising, 1.0)
    data = exact_sample(states, p, 2000, seed=7)
    network = MeanFieldSpins("q", n_sites=ising.n_sites)
    # Maximum likelihood for independent spins matches each site magnetization,
    # tanh(a_i / 2) = mean s_i, which is close to 0 because p sits in both ordered states.
    site_mean = np.clip(data.mean(axis=0), -0.999, 0.999)
    params = {"logits": 2.0 * np.arctanh(site_mean)}
    idata = posterior_datatree(network, params, chains=1, draws=2, scale=0.01, seed=0)
    return ising, network, idata, exact


def test_poor_proposal_flagged_unreliable(ordered_ising_mean_field, caplog):
    ising, network, idata, exact = ordered_ising_mean_field
    with caplog.at_level(logging.WARNING, logger="pymc_boltzmann.reweighting"):
        result = pmb.reweight(idata, network, ising, 1.0, samples_per_draw=500, random_seed=1, nmcmc_steps=0)
    table = pmb.summary(result, exact=False)
    khat = table.loc["log_partition", "khat"]
    assert np.isnan(khat) or khat > khat_threshold(1000)
    assert not table.loc["log_partition", "reliable"]
    assert "pooled NIS estimates" in caplog.text
    assert "k-hat" in caplog.text


def test_poor_proposal_mode_coverage(ordered_ising_mean_field):
    ising, network, idata, exact = ordered_ising_mean_field
    result = pmb.reweight(idata, network, ising, 1.0, samples_per_draw=500, random_seed=1, nmcmc_steps=0)
    coverage = mode_coverage(result)
    raw_abs_m = pmb.summary(result).loc["abs_magnetization", "raw"]
    print(f"mode coverage of the mean-field proposal at beta = 1: {coverage}, raw <|m|> = {raw_abs_m:.3f}, "
          f"exact <|m|> = {exact['abs_magnetization']:.3f}")
    assert coverage["positive"] + coverage["negative"] + coverage["zero"] == pytest.approx(1.0)
    # Both signs appear, but the proposal sits between the ordered states instead of in them.
    assert coverage["positive"] > 0.25
    assert coverage["negative"] > 0.25
    assert raw_abs_m < exact["abs_magnetization"] - 0.5


# ----------------------------------------------------------------------------------------------
# Estimator units
# ----------------------------------------------------------------------------------------------


def test_log_partition_nis_lognormal_weights():
    # ln w ~ Normal(mu, s^2) has E[w] = exp(mu + s^2 / 2) (log-normal mean), so ln Z = mu + s^2 / 2.
    rng = np.random.default_rng(0)
    mu, s = -3.0, 1.0
    log_weight = mu + s * rng.standard_normal((200, 400))
    estimate, se = log_partition_nis(log_weight)
    z = (estimate - (mu + s**2 / 2)) / se
    assert abs(z.mean()) < 4 / math.sqrt(200) + 0.15
    assert np.all(np.isfinite(se))


def test_psis_keeps_weight_order_and_normalizes():
    rng = np.random.default_rng(1)
    log_weight = 2.0 * rng.standard_normal((3, 800))
    smoothed, khat = smooth_log_weights(log_weight)
    np.testing.assert_allclose(logsumexp(smoothed, axis=-1), 0.0, atol=1e-10)
    # The largest raw weight stays the largest smoothed weight, so the sign convention holds.
    assert np.all(np.argmax(smoothed, axis=-1) == np.argmax(log_weight, axis=-1))
    assert khat.shape == (3,)


def test_psis_constant_weights_give_nan_khat():
    smoothed, khat = smooth_log_weights(np.zeros((1, 200)))
    assert np.isnan(khat[0])
    np.testing.assert_allclose(smoothed, -math.log(200))


def test_khat_threshold_values():
    assert khat_threshold(100) == pytest.approx(0.5)
    assert khat_threshold(10_000) == pytest.approx(0.7)


def test_independence_metropolis_rejects_lower_weights():
    # A proposal with lower weight than the current state is accepted with probability w' / w.
    # Here that is exp(-50), so the chain stays at the first state until the weight rises.
    log_weight = np.array([[0.0, -50.0, -50.0, 10.0]])
    state, acceptance = independence_metropolis(log_weight, np.random.default_rng(0))
    np.testing.assert_array_equal(state[0], [0, 0, 0, 3])
    assert acceptance[0] == pytest.approx(1 / 3)


def test_chunking_keeps_draw_samples():
    ising = Ising2D(L=3)
    network = MeanFieldSpins("q", n_sites=9)
    idata = posterior_datatree(network, {"logits": np.zeros(9)}, chains=2, draws=3, scale=0.5, seed=2)
    kwargs = dict(samples_per_draw=40, random_seed=4, nmcmc_steps=0, pooled_draws=2)
    whole = pmb.reweight(idata, network, ising, 0.3, chunk_size=1000, **kwargs)
    one_draw_per_call = pmb.reweight(idata, network, ising, 0.3, chunk_size=40, **kwargs)
    np.testing.assert_array_equal(whole["reweighting"]["log_q"].values, one_draw_per_call["reweighting"]["log_q"].values)


def test_stored_configurations_are_compact():
    ising = Ising2D(L=3)
    network = MeanFieldSpins("q", n_sites=9)
    idata = posterior_datatree(network, {"logits": np.zeros(9)}, chains=1, draws=2)
    result = pmb.reweight(
        idata, network, ising, 0.3, samples_per_draw=50, random_seed=0, nmcmc_steps=0,
        store_configurations=True, configuration_thin=10,
    )
    stored = result["reweighting_configurations"]["x"]
    assert stored.dtype == np.int8
    assert stored.dims == ("chain", "draw", "stored_sample", "site")
    assert stored.shape == (1, 2, 5, 9)
    energy = np.asarray(ising.energy(stored.values.astype(float)))
    np.testing.assert_array_equal(energy, result["reweighting"]["energy"].values[:, :, ::10])


def test_thin_and_max_draws_select_draws():
    ising = Ising2D(L=3)
    network = MeanFieldSpins("q", n_sites=9)
    idata = posterior_datatree(network, {"logits": np.zeros(9)}, chains=2, draws=10)
    result = pmb.reweight(idata, network, ising, 0.3, samples_per_draw=10, thin=2, max_draws=3, nmcmc_steps=0)
    np.testing.assert_array_equal(result["reweighting_draws"]["draw"].values, [0, 4, 8])


# ----------------------------------------------------------------------------------------------
# Bad input
# ----------------------------------------------------------------------------------------------


@pytest.fixture
def small_spin_setup():
    ising = Ising2D(L=3)
    network = MeanFieldSpins("q", n_sites=9)
    idata = posterior_datatree(network, {"logits": np.zeros(9)}, chains=1, draws=2)
    return ising, network, idata


def test_rejects_one_sample_per_draw(small_spin_setup):
    ising, network, idata = small_spin_setup
    with pytest.raises(ValueError, match="samples_per_draw=1 is invalid: expected an integer of at least 2"):
        pmb.reweight(idata, network, ising, 0.3, samples_per_draw=1)


class _ForbiddenEverywhere(Ising2D):
    """An Ising lattice whose energy is +inf for every configuration, so p has no mass where q samples."""

    def energy_fn(self, x):
        return jnp.full(x.shape[:-1], jnp.inf)


class _NaNWhenFirstSpinUp(Ising2D):
    """An Ising lattice whose energy is NaN whenever the first spin is +1."""

    def energy_fn(self, x):
        return jnp.where(x[..., 0] > 0, jnp.nan, super().energy_fn(x))


def test_rejects_all_weights_neg_inf(small_spin_setup):
    _, network, idata = small_spin_setup
    with pytest.raises(ValueError, match="every log weight is -inf"):
        pmb.reweight(idata, network, _ForbiddenEverywhere(L=3), 0.3, samples_per_draw=20)


def test_rejects_nan_energy_naming_draws(small_spin_setup):
    _, network, idata = small_spin_setup
    with pytest.raises(ValueError, match=r"energy is NaN .* in 2 posterior draws, first at \(chain=0, draw=0, sample="):
        pmb.reweight(idata, network, _NaNWhenFirstSpinUp(L=3), 0.3, samples_per_draw=20)


def test_rejects_nan_log_q_naming_draws(small_spin_setup):
    ising, network, _ = small_spin_setup
    logits = np.zeros((1, 2, 9))
    logits[0, 1, 0] = np.nan
    posterior = xr.Dataset({"q_logits": (("chain", "draw", "q_logits_dim_0"), logits)})
    idata = xr.DataTree.from_dict({"posterior": posterior})
    with pytest.raises(ValueError, match=r"log_q is NaN or \+inf .* in 1 posterior draws, first at \(chain=0, draw=1"):
        pmb.reweight(idata, network, ising, 0.3, samples_per_draw=20)


def test_rejects_posterior_without_weights(small_spin_setup):
    ising, network, _ = small_spin_setup
    idata = xr.DataTree.from_dict({"posterior": xr.Dataset({"mu": (("chain", "draw"), np.zeros((1, 3)))})})
    with pytest.raises(ValueError, match=r"the posterior has no weight variables \['q_logits'\] of network 'q'"):
        pmb.reweight(idata, network, ising, 0.3)


def test_rejects_datatree_without_posterior(small_spin_setup):
    ising, network, _ = small_spin_setup
    with pytest.raises(ValueError, match="idata has no 'posterior' group"):
        pmb.reweight(xr.DataTree(), network, ising, 0.3)


def test_rejects_sample_space_mismatch(small_spin_setup):
    _, network, idata = small_spin_setup
    with pytest.raises(ValueError, match="generates 'spin' configurations but .* has sample space 'real'"):
        pmb.reweight(idata, network, DoubleWell(dim=9), 1.0)


def test_rejects_n_sites_mismatch(small_spin_setup):
    _, network, idata = small_spin_setup
    with pytest.raises(ValueError, match="has n_sites=9 but .* has n_sites=16"):
        pmb.reweight(idata, network, Ising2D(L=4), 0.3)


def test_rejects_unknown_nmcmc_proposal(small_spin_setup):
    ising, network, idata = small_spin_setup
    with pytest.raises(ValueError, match="nmcmc_proposal='p' is invalid"):
        pmb.reweight(idata, network, ising, 0.3, nmcmc_proposal="p")


def test_summary_rejects_plain_posterior(small_spin_setup):
    _, _, idata = small_spin_setup
    with pytest.raises(ValueError, match="result has no 'reweighting_estimates' group"):
        pmb.summary(idata)


def test_rejects_single_nmcmc_step(small_spin_setup):
    ising, network, idata = small_spin_setup
    with pytest.raises(ValueError, match="nmcmc_steps=1 is invalid: a chain needs at least 2 proposals"):
        pmb.reweight(idata, network, ising, 0.3, nmcmc_steps=1)


def test_psis_keeps_neg_inf_weights():
    rng = np.random.default_rng(2)
    log_weight = rng.standard_normal((2, 300))
    log_weight[1, :10] = -np.inf
    smoothed, khat = smooth_log_weights(log_weight)
    assert np.all(np.isneginf(smoothed[1, :10]))
    np.testing.assert_allclose(logsumexp(smoothed, axis=-1), 0.0, atol=1e-10)
    assert np.all(np.isfinite(khat))


@pytest.mark.slow
def test_numpyro_posterior_reweights_to_enumeration():
    import pymc as pm

    ising = Ising2D(L=3)
    beta = 0.3
    states, p, exact = enumerate_ising(ising, beta)
    data = exact_sample(states, p, 500, seed=21)
    with pm.Model():
        network = MADE("q", n_sites=ising.n_sites, hidden=(9,), z2=True)
        # The likelihood sum_i ln q(x_i) as a potential, through the network's PyTensor bridge.
        pm.Potential("log_likelihood", network.log_q_pt(pm.math.constant(data)).sum())
        idata = pm.sample(
            draws=100, tune=200, chains=2, nuts_sampler="numpyro", random_seed=4, progressbar=False,
            nuts={"chain_method": "vectorized"},
        )
    result = pmb.reweight(idata, network, ising, beta, samples_per_draw=500, random_seed=6, max_draws=20, nmcmc_steps=0)
    table = pmb.summary(result, exact=False)
    assert table.loc["free_energy_per_site", "epistemic_sd"] > 0
    for quantity in ("free_energy_per_site", "energy_per_site", "abs_magnetization"):
        error = table.loc[quantity, "reweighted"] - exact[quantity]
        assert abs(error) < 4 * table.loc[quantity, "mcse"], (quantity, error)
