"""Tests of point training: maximum likelihood on data and variational free energy minimization."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pymc as pm
import pytest
import scipy.optimize
import xarray as xr

import pymc_boltzmann as pmb
from pymc_boltzmann.training import fit_data, fit_energy

L = 3
N_SITES = L * L
J = 1.0


def mean_field_free_energy(logits, beta):
    """Return F_q of independent spins with q(s_i = +1) = sigmoid(a_i) on the periodic L x L Ising lattice.

    Closed form: <E> = -J sum over the 2N bonds of m_i m_j with m_i = tanh(a_i / 2), and
    H = sum_i h(m_i) with h(m) = -sum_{s = +-1} (1 + s m)/2 ln((1 + s m)/2). For L >= 3 the
    right and down neighbours of a site are distinct sites, so each bond joins two independent
    spins.
    """
    m = np.tanh(np.asarray(logits) / 2).reshape(L, L)
    bonds = np.sum(m * np.roll(m, -1, axis=1)) + np.sum(m * np.roll(m, -1, axis=0))
    p = (1 + m) / 2
    entropy = -np.sum(p * np.log(p) + (1 - p) * np.log(1 - p))
    return -J * bonds - entropy / beta


def uniform_mean_field_minimum(beta):
    """Return (m, F) at the minimum of F_MF(m) / N = -2 J m^2 - h(m) / beta.

    Stationarity gives m = tanh(4 beta J m), whose only root is 0 for beta <= 1/4 and which has a
    positive root (and its mirror -m) above; the positive root is the minimum there.
    """
    if 4 * beta * J <= 1:
        m = 0.0
    else:
        m = scipy.optimize.brentq(lambda x: x - np.tanh(4 * beta * J * x), 1e-6, 1.0)
    logit = 2 * np.arctanh(m)
    return m, mean_field_free_energy(np.full(N_SITES, logit), beta)


def all_spin_states(n_sites):
    return np.array(list(itertools.product([1.0, -1.0], repeat=n_sites)))


def reinforce_gradient_sd(logits, beta, batch_size):
    """Return the standard deviation of each component of the batch REINFORCE gradient of beta F_q.

    At a stationary point the per-sample gradient g_i(x) = (f(x) - E_q f) s_i sigmoid(-a_i s_i),
    with f = ln q + beta E, has mean 0, so its variance is E_q[g_i^2]; enumeration over all
    2^N states gives it exactly.
    """
    states = all_spin_states(N_SITES)
    ising = pmb.energies.Ising2D(L=L)
    log_q = np.sum(-np.logaddexp(0.0, -logits * states), axis=1)
    q = np.exp(log_q)
    f = log_q + beta * np.asarray(ising.energy(states))
    score = states / (1 + np.exp(logits * states))
    g = (f - np.sum(q * f))[:, None] * score
    return np.sqrt(np.sum(q[:, None] * g**2, axis=0) / batch_size)


# Adam step size: 0.05 for fast progress, then a small constant for the last FINAL_STEPS steps so
# that the weights reach the stationary spread set by this final step size.
FINAL_LEARNING_RATE = 2e-3
FINAL_STEPS = 1000
ENERGY_STEPS = 2000
ENERGY_BATCH = 512


def two_stage_learning_rate(step):
    return jnp.where(step < ENERGY_STEPS - FINAL_STEPS, 0.05, FINAL_LEARNING_RATE)


@pytest.fixture(scope="module")
def ising():
    return pmb.energies.Ising2D(L=L)


@pytest.fixture(scope="module")
def network():
    return pmb.networks.MeanFieldSpins("q", n_sites=N_SITES)


@pytest.fixture(scope="module")
def spin_data():
    rng = np.random.default_rng(7)
    up_probability = np.linspace(0.15, 0.85, N_SITES)
    return np.where(rng.random((300, N_SITES)) < up_probability, 1.0, -1.0)


@pytest.mark.parametrize("beta", [0.15, 0.5])
def test_fit_energy_reaches_mean_field_minimum(ising, network, beta):
    params, history = fit_energy(network, ising, beta, steps=ENERGY_STEPS, batch_size=ENERGY_BATCH,
                                 learning_rate=two_stage_learning_rate, random_seed=3,
                                 progressbar=False)
    m_star, f_star = uniform_mean_field_minimum(beta)
    logits = np.asarray(params["logits"])
    gap = mean_field_free_energy(logits, beta) - f_star

    # Near a minimum with curvature h_i, Adam divides the noisy gradient by its sd sigma_i, so a
    # weight moves like an Ornstein-Uhlenbeck process with drift -lr h_i delta / sigma_i and
    # unit-variance kicks of size lr. Its stationary variance is lr sigma_i / (2 h_i), which
    # makes the expected excess of beta F_q equal to sum_i lr sigma_i / 4. The tolerance is 4
    # times that expectation.
    sigma = reinforce_gradient_sd(np.full(N_SITES, 2 * np.arctanh(m_star)), beta, ENERGY_BATCH)
    tolerance = 4 * np.sum(FINAL_LEARNING_RATE * sigma / 4) / beta
    assert gap >= -1e-9  # the closed form is the minimum over independent spins
    assert gap <= tolerance

    magnetization = np.tanh(logits / 2)
    if m_star > 0:
        # Above beta = 1/4 the minimum is at +m* or at -m*: every site takes the same sign.
        assert np.all(np.sign(magnetization) == np.sign(magnetization[0]))


def test_fit_energy_reparameterized_gaussian_reaches_p():
    # E(x) = |x|^2 / 2 at beta = 1 makes p a standard normal, so a diagonal Gaussian reaches
    # F_q = F at loc = 0, log_scale = 0, where beta F_q = sum_i [(mu_i^2 + e^{2 rho_i}) / 2 - rho_i]
    # - (n / 2) ln(2 pi) has curvatures h = 1 (loc) and 2 (log_scale). The per-draw gradients
    # there are z (loc) and z^2 - 1 (log_scale), of sd 1 and sqrt 2, so with the OU argument of
    # the Ising test the expected excess of beta F_q is sum_i lr sigma_i / 4.
    n_sites, batch = 3, 256
    system = StandardNormalEnergy(n_sites)
    gaussian = pmb.networks.DiagonalGaussian("q", n_sites=n_sites)
    params, history = fit_energy(gaussian, system, 1.0, steps=ENERGY_STEPS, batch_size=batch,
                                 learning_rate=two_stage_learning_rate, random_seed=4,
                                 progressbar=False)
    loc, log_scale = np.asarray(params["loc"]), np.asarray(params["log_scale"])
    gap = np.sum((loc**2 + np.exp(2 * log_scale)) / 2 - log_scale - 0.5)

    sigma = np.concatenate([np.full(n_sites, 1.0), np.full(n_sites, np.sqrt(2.0))]) / np.sqrt(batch)
    tolerance = 4 * np.sum(FINAL_LEARNING_RATE * sigma / 4)
    assert history.attrs["gradient"] == "reparameterization"
    assert gap <= tolerance


class StandardNormalEnergy(pmb.energies.BoltzmannSystem):
    """E(x) = |x|^2 / 2 on R^n."""

    sample_space = "real"

    def __init__(self, n_sites):
        self.n_sites = n_sites
        self.shape = (n_sites,)

    def energy_fn(self, x):
        return 0.5 * jnp.sum(x**2, axis=-1)

    def observables_fn(self, x):
        return {"energy": self.energy_fn(x)}


def test_fit_energy_history_variables(ising, network):
    params, history = fit_energy(network, ising, 0.3, steps=200, batch_size=64, random_seed=0,
                                 progressbar=False)
    assert isinstance(history, xr.Dataset)
    for name in ("loss", "variational_free_energy", "ess_fraction", "beta", "grad_norm"):
        assert history[name].dims == ("step",)
        assert history[name].shape == (200,)
    assert np.all((history["ess_fraction"] > 0) & (history["ess_fraction"] <= 1 + 1e-12))
    assert history.attrs["gradient"] == "REINFORCE"


def test_fit_energy_anneals_beta(ising, network):
    _, history = fit_energy(network, ising, 0.4, steps=100, batch_size=16, anneal_steps=50,
                            initial_beta=0.1, random_seed=0, progressbar=False)
    beta = history["beta"].values
    np.testing.assert_allclose(beta[0], 0.1)
    np.testing.assert_allclose(beta[25], 0.1 + 0.3 * 25 / 50)
    np.testing.assert_allclose(beta[50:], 0.4)


def test_fit_energy_recorded_free_energy(ising, network):
    # Each recorded F_q is a batch mean of ln q / beta + E with standard error
    # sd_q(ln q / beta + E) / sqrt(B). The last one must agree with the exact F_q of the final
    # weights within 4 standard errors, because the last step moves the weights by far less.
    beta, batch = 0.3, 256
    params, history = fit_energy(network, ising, beta, steps=600, batch_size=batch,
                                 learning_rate=lambda step: 0.05 * 0.995**step, random_seed=5,
                                 progressbar=False)
    states = all_spin_states(N_SITES)
    logits = np.asarray(params["logits"])
    log_q = np.sum(-np.logaddexp(0.0, -logits * states), axis=1)
    f = log_q / beta + np.asarray(ising.energy(states))
    q = np.exp(log_q)
    sd = np.sqrt(np.sum(q * (f - np.sum(q * f)) ** 2))
    last = history["variational_free_energy"].values[-1]
    assert abs(last - mean_field_free_energy(logits, beta)) <= 4 * sd / np.sqrt(batch)


def test_fit_data_recovers_maximum_likelihood_logits(network, spin_data):
    params, history = fit_data(network, spin_data, steps=800, learning_rate=0.05, batch_size=None,
                               random_seed=0, progressbar=False)
    m = spin_data.mean(axis=0)
    expected = np.log((1 + m) / (1 - m))  # q(s_i = +1) = sigmoid(a_i) matched to (1 + m_i) / 2

    # The loss is strictly convex in each logit with curvature (1 - m_i^2) / 4 at the optimum,
    # so a logit with residual gradient g_i is within |g_i| / curvature of it, up to second order.
    gradient = jax.grad(lambda p: -jnp.mean(network.log_q(p, spin_data)))(params)["logits"]
    curvature = (1 - m**2) / 4
    assert np.max(np.abs(gradient)) < 1e-6
    np.testing.assert_allclose(params["logits"], expected, atol=float(np.max(2 * np.abs(gradient) / curvature)) + 1e-9)
    assert history["loss"].values[-1] <= history["loss"].values[0]
    np.testing.assert_allclose(history["log_likelihood"].values, -history["loss"].values)


def test_fit_data_minibatch_converges_near_maximum_likelihood(network, spin_data):
    # Minibatch noise leaves an optimization error, which must be small next to the statistical
    # error of the maximum-likelihood logits themselves, 1 / sqrt(n_data (1 - m_i^2) / 4) (the
    # inverse square root of the Fisher information of n_data spins).
    params, _ = fit_data(network, spin_data, steps=1500, batch_size=100,
                         learning_rate=lambda step: 0.05 * 0.995**step, random_seed=1,
                         progressbar=False)
    m = spin_data.mean(axis=0)
    expected = np.log((1 + m) / (1 - m))
    standard_error = 1 / np.sqrt(len(spin_data) * (1 - m**2) / 4)
    assert np.all(np.abs(params["logits"] - expected) < standard_error)


def test_fit_data_weight_decay_shrinks_logits(network, spin_data):
    plain, _ = fit_data(network, spin_data, steps=600, learning_rate=0.05, batch_size=None,
                        random_seed=0, progressbar=False)
    decayed, _ = fit_data(network, spin_data, steps=600, learning_rate=0.05, batch_size=None,
                          weight_decay=1.0, random_seed=0, progressbar=False)
    # The stationarity condition -d mean ln q / da_i + lambda a_i = 0 has a root of smaller |a_i|.
    assert np.all(np.abs(decayed["logits"]) < np.abs(plain["logits"]))
    m = spin_data.mean(axis=0)
    residual = (m - np.tanh(decayed["logits"] / 2)) / 2 - 1.0 * decayed["logits"]
    np.testing.assert_allclose(residual, 0.0, atol=1e-6)


def test_restarts_return_one_dict_each(ising, network):
    params, history = fit_energy(network, ising, 0.3, steps=50, batch_size=16, restarts=3,
                                 random_seed=0, progressbar=False)
    assert isinstance(params, list) and len(params) == 3
    assert history["loss"].dims == ("restart", "step")
    assert not np.allclose(params[0]["logits"], params[1]["logits"])


def test_point_estimate_initializes_energy_model(ising):
    q = pmb.networks.MeanFieldSpins("q", n_sites=N_SITES)
    params, _ = fit_energy(q, ising, 0.5, steps=300, batch_size=128, random_seed=2,
                           progressbar=False)
    model, network = pmb.models.energy_model(pmb.networks.MeanFieldSpins, ising, 0.5, n_eff=50,
                                             network_kwargs={"n_sites": N_SITES})
    initvals = network.to_initvals(params)
    assert set(initvals) == {v.name for v in model.free_RVs}

    point = model.initial_point()
    point.update(initvals)
    trained = model.compile_logp()(point)
    at_zero = model.compile_logp()(model.initial_point())
    assert np.isfinite(trained)
    assert trained > at_zero

    # The Deterministic F_q at the trained weights equals the closed form.
    value = model.compile_fn(model["variational_free_energy"], inputs=model.free_RVs)(point)
    np.testing.assert_allclose(value, mean_field_free_energy(params["logits"], 0.5), rtol=1e-10)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"steps": 0}, "steps=0 is invalid"),
        ({"learning_rate": -1.0}, "learning_rate=-1.0 is invalid"),
        ({"clip_norm": 0.0}, "clip_norm=0.0 is invalid"),
        ({"batch_size": 1}, "batch_size=1 is invalid"),
        ({"restarts": 0}, "restarts=0 is invalid"),
        ({"initial_beta": 2.0}, "initial_beta=2.0 is invalid"),
        ({"anneal_steps": -1}, "anneal_steps=-1 is invalid"),
        ({"initial": {"bias": np.zeros(9)}}, "initial lacks the weights"),
    ],
)
def test_fit_energy_bad_arguments(ising, network, kwargs, match):
    with pytest.raises(ValueError, match=match):
        fit_energy(network, ising, 0.3, progressbar=False, **kwargs)


def test_fit_energy_bad_beta_and_system(ising, network):
    with pytest.raises(ValueError, match="beta=-0.3 is invalid"):
        fit_energy(network, ising, -0.3, progressbar=False)
    with pytest.raises(ValueError, match="does not match network 'q'"):
        fit_energy(network, pmb.energies.Ising2D(L=4), 0.3, progressbar=False)


@pytest.mark.parametrize(
    ("data", "kwargs", "match"),
    [
        (np.ones((10, 8)), {}, r"data has shape \(10, 8\), expected \(\.\.\., 9\)"),
        (np.zeros((10, 9)), {}, "are not spins"),
        (np.ones(9), {}, r"data has shape \(9,\), expected \(n_data, 9\)"),
        (np.ones((10, 9)), {"weight_decay": -1.0}, "weight_decay=-1.0 is invalid"),
        (np.ones((10, 9)), {"batch_size": 0}, "batch_size=0 is invalid"),
    ],
)
def test_fit_data_bad_arguments(network, data, kwargs, match):
    with pytest.raises(ValueError, match=match):
        fit_data(network, data, progressbar=False, **kwargs)


def test_non_finite_loss_is_logged(network, spin_data, caplog):
    # Infinite logits give q(s_i = -1) = 0, so every configuration with a down spin has ln q = -inf.
    with caplog.at_level("WARNING", logger="pymc_boltzmann.training.optimize"):
        fit_data(network, spin_data, steps=5, initial={"logits": np.full(N_SITES, np.inf)},
                 progressbar=False)
    assert "the loss was not finite at 5 of 5 steps" in caplog.text
