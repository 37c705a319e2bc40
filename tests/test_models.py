"""Tests of the PyMC models of network weights: the ``energy`` and ``data`` regimes and the F_q estimators."""

import itertools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pymc as pm
import pytest
import scipy.special
import scipy.stats

import pymc_boltzmann as pmb
from pymc_boltzmann.energies.base import BoltzmannSystem
from pymc_boltzmann.models import ReferenceSet, build_estimator, data_model, energy_model, exact_free_energy

L = 3
N_SITES = L * L


def mean_field_terms(logits, beta, lattice_size=L):
    """Return (F_q, <E>_q) of independent spins with q(s_i = +1) = sigmoid(a_i), periodic Ising, J = 1.

    Closed form: <E> = -sum over the 2N bonds of m_i m_j with m_i = tanh(a_i / 2), and
    H = sum_i h(m_i) with h(m) = -sum_{s = +-1} (1 + s m)/2 ln((1 + s m)/2); for L >= 3 the
    two spins of every bond are distinct and independent under q.
    """
    m = np.tanh(np.asarray(logits) / 2).reshape(lattice_size, lattice_size)
    mean_energy = -(np.sum(m * np.roll(m, -1, axis=1)) + np.sum(m * np.roll(m, -1, axis=0)))
    p = (1 + m) / 2
    entropy = -np.sum(p * np.log(p) + (1 - p) * np.log(1 - p))
    return mean_energy - entropy / beta, mean_energy


def enumerated_free_energy(system, beta):
    """Return -ln Z / beta by summing exp(-beta E) over all 2^N states with NumPy."""
    states = np.array(list(itertools.product([1.0, -1.0], repeat=system.n_sites)))
    return -scipy.special.logsumexp(-beta * np.asarray(system.energy(states))) / beta


class Harmonic(BoltzmannSystem):
    """E(x) = sum_i x_i^2 / 2 on R^n, so that at beta = 1, ln Z = (n / 2) ln(2 pi)."""

    sample_space = "real"

    def __init__(self, n_sites):
        self.n_sites = n_sites
        self.shape = (n_sites,)

    def energy_fn(self, x):
        return 0.5 * jnp.sum(x**2, axis=-1)

    def observables_fn(self, x):
        return {"energy": self.energy_fn(x)}

    def exact_log_partition(self, beta):
        return 0.5 * self.n_sites * math.log(2 * math.pi / beta)


@pytest.fixture(scope="module")
def ising():
    return pmb.energies.Ising2D(L=L)


@pytest.fixture(scope="module")
def mean_field():
    return pmb.networks.MeanFieldSpins("q", n_sites=N_SITES)


def mean_field_factory(name):
    return pmb.networks.MeanFieldSpins(name, n_sites=N_SITES)


# -- estimators ------------------------------------------------------------------------------


def test_exact_estimator_matches_closed_form(ising, mean_field):
    beta = 0.4
    logits = np.random.default_rng(0).normal(size=N_SITES)
    estimate = build_estimator(mean_field, ising, beta)
    estimates = estimate({"logits": jnp.asarray(logits)})
    free_energy_q, mean_energy = estimates["variational_free_energy"], estimates["mean_energy"]
    expected_free_energy, expected_energy = mean_field_terms(logits, beta)
    assert estimate.method == "exact"
    np.testing.assert_allclose(free_energy_q, expected_free_energy, rtol=1e-12)
    np.testing.assert_allclose(mean_energy, expected_energy, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("beta", [0.1, 0.44, 1.0])
def test_exact_free_energy_matches_enumeration(ising, beta):
    np.testing.assert_allclose(exact_free_energy(ising, beta), enumerated_free_energy(ising, beta), rtol=1e-10)


def test_snis_estimator_within_standard_errors(ising, mean_field):
    # Reference drawn from q0; at theta = theta0 the weights are uniform and the estimate is a
    # plain mean (standard error sd / sqrt(M)); at a moved theta1 the delta-method standard
    # error of a self-normalized estimate is sqrt(sum_m w_m^2 (f_m - F_hat)^2).
    beta, n_reference = 0.3, 4000
    theta0 = {"logits": jnp.full(N_SITES, 0.4)}
    theta1 = {"logits": jnp.full(N_SITES, 0.6)}
    reference = ReferenceSet.from_network(mean_field, theta0, n_reference, random_seed=11)
    estimate = build_estimator(mean_field, ising, beta, estimator="snis", reference=reference)

    # At theta0 every weight is 1 / M, so the reference ESS fraction is exactly 1.
    np.testing.assert_allclose(estimate(theta0)["reference_ess_fraction"], 1.0, rtol=1e-12)
    assert estimate(theta1)["reference_ess_fraction"] < 1.0

    for theta in (theta0, theta1):
        free_energy_q = estimate(theta)["variational_free_energy"]
        log_q = np.asarray(mean_field.log_q(theta, reference.x))
        weights = scipy.special.softmax(log_q - reference.log_density)
        f = log_q / beta + np.asarray(ising.energy(reference.x))
        standard_error = np.sqrt(np.sum(weights**2 * (f - float(free_energy_q)) ** 2))
        expected, _ = mean_field_terms(np.asarray(theta["logits"]), beta)
        assert abs(float(free_energy_q) - expected) < 4 * standard_error


def test_snis_estimator_from_boltzmann_sample(ising, mean_field):
    # Exact draws from p by inverse transform over the 512 enumerated states; with
    # ln r = -beta E the weights are proportional to q / p, and the estimate is consistent.
    beta, n_reference = 0.3, 4000
    states = np.array(list(itertools.product([1.0, -1.0], repeat=N_SITES)))
    probabilities = scipy.special.softmax(-beta * np.asarray(ising.energy(states)))
    draws = states[np.random.default_rng(5).choice(len(states), n_reference, p=probabilities)]
    reference = ReferenceSet.from_boltzmann_sample(ising, beta, draws)
    np.testing.assert_allclose(reference.log_density, -beta * np.asarray(ising.energy(draws)))

    theta = {"logits": jnp.full(N_SITES, 0.2)}
    estimate = build_estimator(mean_field, ising, beta, estimator="snis", reference=reference)
    free_energy_q = estimate(theta)["variational_free_energy"]
    log_q = np.asarray(mean_field.log_q(theta, draws))
    weights = scipy.special.softmax(log_q - reference.log_density)
    f = log_q / beta + np.asarray(ising.energy(draws))
    standard_error = np.sqrt(np.sum(weights**2 * (f - float(free_energy_q)) ** 2))
    assert abs(float(free_energy_q) - mean_field_terms(np.asarray(theta["logits"]), beta)[0]) < 4 * standard_error


def test_reparameterized_estimator_is_fixed_and_unbiased():
    # F_q of a diagonal Gaussian under E = |x|^2 / 2 at beta = 1:
    # sum_i [(mu_i^2 + e^{2 rho_i}) / 2 - rho_i - (1 + ln 2 pi) / 2].
    system = Harmonic(4)
    network = pmb.networks.DiagonalGaussian("q", n_sites=4)
    params = {"loc": jnp.array([0.5, -0.2, 0.0, 1.0]), "log_scale": jnp.array([0.1, -0.3, 0.2, 0.0])}
    estimate = build_estimator(network, system, 1.0, n_base_samples=2000, random_seed=4)
    first = estimate(params)["variational_free_energy"]
    second = estimate(params)["variational_free_energy"]
    assert estimate.method == "reparameterized"
    assert float(first) == float(second)

    loc, log_scale = np.asarray(params["loc"]), np.asarray(params["log_scale"])
    expected = np.sum((loc**2 + np.exp(2 * log_scale)) / 2 - log_scale - (1 + np.log(2 * np.pi)) / 2)
    x, log_q = network.sample(params, estimate_key_of(4), 2000)
    f = np.asarray(log_q) + np.asarray(system.energy_fn(x))
    assert abs(float(first) - expected) < 4 * np.std(f) / np.sqrt(2000)

    gradient = jax.grad(lambda p: estimate(p)["variational_free_energy"])(params)
    assert all(np.all(np.isfinite(g)) for g in gradient.values())


def estimate_key_of(random_seed):
    """Return the fixed key that build_estimator derives from random_seed for its base draws."""
    return jax.random.key(np.random.default_rng(random_seed).integers(2**31))


def test_estimator_choice_errors(ising):
    large = pmb.networks.MeanFieldSpins("q", n_sites=25)
    ising_5 = pmb.energies.Ising2D(L=5)
    with pytest.raises(ValueError, match="no deterministic free energy estimator fits network 'q'"):
        build_estimator(large, ising_5, 0.3)
    with pytest.raises(ValueError, match="estimator='exact' needs a spin network with at most 16 sites"):
        build_estimator(large, ising_5, 0.3, estimator="exact")
    with pytest.raises(ValueError, match="estimator='reparameterized' needs a network whose sample is differentiable"):
        build_estimator(large, ising_5, 0.3, estimator="reparameterized")
    with pytest.raises(ValueError, match="estimator='snis' needs reference=ReferenceSet"):
        build_estimator(large, ising_5, 0.3, estimator="snis")
    with pytest.raises(ValueError, match="estimator='importance' is invalid"):
        build_estimator(large, ising_5, 0.3, estimator="importance")
    with pytest.raises(TypeError, match="reference=ndarray is invalid: expected a ReferenceSet"):
        build_estimator(large, ising_5, 0.3, estimator="snis", reference=np.ones((4, 25)))


def test_reference_set_rejects_bad_shapes():
    with pytest.raises(ValueError, match=r"reference log_density has shape \(3,\), expected \(4,\)"):
        ReferenceSet(np.ones((4, 9)), np.zeros(3))
    with pytest.raises(ValueError, match=r"reference configurations have shape \(9,\)"):
        ReferenceSet(np.ones(9), np.zeros(1))
    with pytest.raises(ValueError, match="reference log_density contains non-finite values"):
        ReferenceSet(np.ones((2, 9)), np.array([0.0, np.inf]))


# -- energy regime ---------------------------------------------------------------------------


def test_energy_model_logp_is_prior_plus_gibbs_term(ising):
    beta, n_eff = 0.3, 40.0
    model, network = energy_model(mean_field_factory, ising, beta, n_eff=n_eff)
    logits = np.random.default_rng(1).normal(size=N_SITES)

    # Default prior of MeanFieldSpins: Normal(0, 1 / sqrt(fan_in)) with fan_in = 1.
    prior = np.sum(scipy.stats.norm.logpdf(logits))
    free_energy_q, _ = mean_field_terms(logits, beta)
    gibbs = -n_eff * beta * (free_energy_q - enumerated_free_energy(ising, beta))
    logp = model.compile_logp()({"q_logits": logits})
    np.testing.assert_allclose(logp, prior + gibbs, rtol=1e-10)


def test_energy_model_offset_leaves_gradient_unchanged(ising):
    beta, n_eff = 0.3, 40.0
    exact_model, _ = energy_model(mean_field_factory, ising, beta, n_eff=n_eff)
    shifted_model, _ = energy_model(mean_field_factory, ising, beta, n_eff=n_eff, free_energy=0.0)
    point = {"q_logits": np.linspace(-1, 1, N_SITES)}

    difference = exact_model.compile_logp()(point) - shifted_model.compile_logp()(point)
    np.testing.assert_allclose(difference, n_eff * beta * exact_free_energy(ising, beta), rtol=1e-10)
    np.testing.assert_allclose(exact_model.compile_dlogp()(point), shifted_model.compile_dlogp()(point), rtol=1e-12)


def test_energy_model_draws_obey_gibbs_inequality(ising):
    beta = 0.3
    model, _ = energy_model(mean_field_factory, ising, beta, n_eff=20.0)
    with model:
        idata = pm.sample(nuts_sampler="numpyro", chains=1, draws=150, tune=150, random_seed=3,
                          progressbar=False, nuts={"max_tree_depth": 6}, compute_convergence_checks=False)

    posterior = idata["posterior"]
    free_energy_q = posterior["variational_free_energy"].values.ravel()
    exact = enumerated_free_energy(ising, beta)
    assert np.all(free_energy_q >= exact)

    logits = posterior["q_logits"].values.reshape(-1, N_SITES)
    for draw in (0, 75, 149):
        expected_free_energy, expected_energy = mean_field_terms(logits[draw], beta)
        np.testing.assert_allclose(free_energy_q[draw], expected_free_energy, rtol=1e-10)
        np.testing.assert_allclose(posterior["mean_energy"].values.ravel()[draw], expected_energy, rtol=1e-10, atol=1e-10)


def test_energy_model_snis_stores_reference_as_data():
    ising = pmb.energies.Ising2D(L=5)
    network = pmb.networks.MeanFieldSpins("q", n_sites=25)
    reference = ReferenceSet.from_network(network, {"logits": jnp.zeros(25)}, 500, random_seed=0)
    model, _ = energy_model(pmb.networks.MeanFieldSpins, ising, 0.3, n_eff=10,
                            network_kwargs={"n_sites": 25}, reference=reference)
    assert {"q_reference_x", "q_reference_log_density"} <= {v.name for v in model.data_vars}
    assert "reference_ess_fraction" in model.named_vars
    np.testing.assert_array_equal(model["q_reference_x"].get_value(), reference.x)

    # At logits 0 the weights are uniform, so F_q is the plain mean of ln q / beta + E.
    point = {"q_logits": np.zeros(25)}
    value = model.compile_fn(model["variational_free_energy"], inputs=model.free_RVs)(point)
    expected = np.mean(-25 * np.log(2) / 0.3 + np.asarray(ising.energy(reference.x)))
    np.testing.assert_allclose(value, expected, rtol=1e-10)


def test_energy_model_reparameterized_gaussian():
    system = Harmonic(2)
    model, _ = energy_model(pmb.networks.DiagonalGaussian, system, 1.0, n_eff=5.0,
                            network_kwargs={"n_sites": 2}, n_base_samples=500, random_seed=0)
    point = {"q_loc": np.zeros(2), "q_log_scale": np.zeros(2)}
    logp = model.compile_logp()(point)
    dlogp = model.compile_dlogp()(point)
    assert np.isfinite(logp)
    assert np.all(np.isfinite(dlogp))
    assert not {v.name for v in model.data_vars}


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_eff": 0.0}, "n_eff=0.0 is invalid"),
        ({"n_eff": -5}, "n_eff=-5 is invalid"),
        ({"n_eff": float("nan")}, "n_eff=nan is invalid"),
        ({"beta": 0.0}, "beta=0.0 is invalid"),
        ({"beta": -1.0}, "beta=-1.0 is invalid"),
    ],
)
def test_energy_model_bad_numbers(ising, kwargs, match):
    arguments = {"beta": 0.3, "n_eff": 10.0} | kwargs
    with pytest.raises(ValueError, match=match):
        energy_model(mean_field_factory, ising, **arguments)


def test_energy_model_mismatched_system():
    with pytest.raises(ValueError, match=r"does not match network 'q' \(spin sample space, 9 sites\)"):
        energy_model(mean_field_factory, pmb.energies.Ising2D(L=4), 0.3)
    with pytest.raises(ValueError, match=r"does not match network 'q' \(spin sample space, 2 sites\)"):
        energy_model(pmb.networks.MeanFieldSpins, Harmonic(2), 1.0, network_kwargs={"n_sites": 2})


def test_energy_model_bad_factory(ising):
    with pytest.raises(TypeError, match="network_factory=3 is invalid"):
        energy_model(3, ising, 0.3)
    with pytest.raises(TypeError, match="network_factory returned str"):
        energy_model(lambda name: "q", ising, 0.3)
    with pytest.raises(TypeError, match="network_kwargs is only used with a Network class"):
        energy_model(mean_field_factory, ising, 0.3, network_kwargs={"n_sites": 9})


# -- data regime -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def spin_data():
    rng = np.random.default_rng(2)
    return np.where(rng.random((50, N_SITES)) < 0.7, 1.0, -1.0)


def test_data_model_logp_is_prior_plus_likelihood(spin_data):
    train, heldout = spin_data[:40], spin_data[40:]
    model, network = data_model(mean_field_factory, train, heldout=heldout)
    logits = np.random.default_rng(3).normal(size=N_SITES)

    log_q_train = np.sum(-np.logaddexp(0.0, -logits * train))  # ln sigmoid(a s) summed
    prior = np.sum(scipy.stats.norm.logpdf(logits))
    np.testing.assert_allclose(model.compile_logp()({"q_logits": logits}), prior + log_q_train, rtol=1e-10)

    heldout_value = model.compile_fn(model["heldout_log_likelihood"], inputs=model.free_RVs)({"q_logits": logits})
    expected = np.mean(np.sum(-np.logaddexp(0.0, -logits * heldout), axis=1))
    np.testing.assert_allclose(heldout_value, expected, rtol=1e-10)


def test_data_model_stores_data_as_containers(spin_data):
    model, _ = data_model(mean_field_factory, spin_data, holdout_fraction=0.2, random_seed=0)
    names = {v.name for v in model.data_vars}
    assert {"x_data", "x_heldout"} <= names
    train = model["x_data"].get_value()
    heldout = model["x_heldout"].get_value()
    assert train.shape == (40, N_SITES)
    assert heldout.shape == (10, N_SITES)
    # The split is a partition of the rows: both parts together, sorted, are the sorted data.
    combined = np.concatenate([train, heldout])
    np.testing.assert_array_equal(sorted_rows(combined), sorted_rows(spin_data))


def sorted_rows(array):
    return array[np.lexsort(array.T[::-1])]


def test_data_model_with_system_records_free_energy(ising, spin_data):
    model, _ = data_model(mean_field_factory, spin_data, system=ising, beta=0.3, random_seed=0)
    logits = np.random.default_rng(4).normal(size=N_SITES)
    function = model.compile_fn([model["variational_free_energy"], model["mean_energy"]], inputs=model.free_RVs)
    free_energy_q, mean_energy = function({"q_logits": logits})
    expected_free_energy, expected_energy = mean_field_terms(logits, 0.3)
    np.testing.assert_allclose(free_energy_q, expected_free_energy, rtol=1e-10)
    np.testing.assert_allclose(mean_energy, expected_energy, rtol=1e-10, atol=1e-12)


def test_data_model_without_holdout_records_no_heldout(spin_data):
    model, _ = data_model(mean_field_factory, spin_data, holdout_fraction=0.0)
    assert "heldout_log_likelihood" not in model.named_vars
    assert model["x_data"].get_value().shape == spin_data.shape


@pytest.mark.parametrize(
    ("data", "kwargs", "error", "match"),
    [
        (np.ones((10, 8)), {}, ValueError, r"data has shape \(10, 8\), expected \(\.\.\., 9\)"),
        (np.zeros((10, 9)), {}, ValueError, "are not spins"),
        (np.ones(9), {}, ValueError, r"data has shape \(9,\), expected \(n_data, 9\)"),
        (np.ones((10, 9)), {"heldout": np.ones((3, 4))}, ValueError, r"heldout has shape \(3, 4\)"),
        (np.ones((10, 9)), {"holdout_fraction": 1.0}, ValueError, "holdout_fraction=1.0 is invalid"),
        (np.ones((2, 9)), {"holdout_fraction": 0.1}, ValueError, "leaves 0 held out"),
        (np.ones((10, 9)), {"system": pmb.energies.Ising2D(L=3)}, ValueError, "beta is missing"),
        (np.ones((10, 9)), {"system": pmb.energies.Ising2D(L=3), "beta": -1}, ValueError, "beta=-1 is invalid"),
        (np.ones((10, 9)), {"system": pmb.energies.Ising2D(L=4), "beta": 0.3}, ValueError, "does not match network"),
    ],
)
def test_data_model_bad_input(data, kwargs, error, match):
    with pytest.raises(error, match=match):
        data_model(mean_field_factory, data, **kwargs)
