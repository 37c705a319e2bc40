"""Shared invariants of every generative network, checked over one registry of small instances."""

import itertools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pymc as pm
import pytest
from scipy import integrate, stats

from pymc_boltzmann.networks import (
    MADE,
    DiagonalGaussian,
    GaussianMixtureDensity,
    MeanFieldSpins,
    RealNVP,
)

# Spin networks on a 3 x 3 lattice (N = 9), small enough to enumerate all 2^9 states.
SPIN_NETWORKS = {
    "made": lambda name: MADE(name, n_sites=9, hidden=(12,)),
    "made_linear": lambda name: MADE(name, n_sites=9, hidden=()),
    "made_z2": lambda name: MADE(name, n_sites=9, hidden=(12,), z2=True),
    "made_residual_z2": lambda name: MADE(name, n_sites=9, hidden=(9, 9), residual=True, z2=True),
    "mean_field_spins": lambda name: MeanFieldSpins(name, n_sites=9),
}

# Real networks in one and two dimensions, small enough to integrate by quadrature.
REAL_NETWORKS_1D = {
    "diagonal_gaussian_1d": lambda name: DiagonalGaussian(name, n_sites=1),
    "mixture_1d": lambda name: GaussianMixtureDensity(name, n_sites=1, n_components=3),
    "realnvp_1d": lambda name: RealNVP(name, shape=(1,), n_layers=2, hidden=(4,)),
}
REAL_NETWORKS_2D = {
    "diagonal_gaussian_2d": lambda name: DiagonalGaussian(name, n_sites=2),
    "mixture_2d": lambda name: GaussianMixtureDensity(name, n_sites=2, n_components=3),
    "realnvp_vector_2d": lambda name: RealNVP(name, shape=(2,), hidden=(4,)),
    "realnvp_conv_1x2": lambda name: RealNVP(name, shape=(1, 2), hidden=(3,)),
    "realnvp_mlp_2x1": lambda name: RealNVP(name, shape=(2, 1), hidden=(3,), conv=False),
}
FLOWS = {
    "realnvp_conv_4x4": lambda name: RealNVP(name, shape=(4, 4), hidden=(4, 4)),
    "realnvp_mlp_3x3": lambda name: RealNVP(name, shape=(3, 3), hidden=(6,), conv=False),
    "realnvp_vector_5": lambda name: RealNVP(name, shape=(5,), n_layers=3, hidden=(6,)),
    "realnvp_1d": REAL_NETWORKS_1D["realnvp_1d"],
}
MADES = {key: factory for key, factory in SPIN_NETWORKS.items() if key.startswith("made")}
ALL_NETWORKS = {**SPIN_NETWORKS, **REAL_NETWORKS_1D, **REAL_NETWORKS_2D, **FLOWS}

# The vmap check compiles every network four times, so the default run covers one network of
# each kind and the rest of the registry runs with `-m slow`.
DEFAULT_COMPILED = (
    "made_z2",
    "mean_field_spins",
    "diagonal_gaussian_2d",
    "mixture_2d",
    "realnvp_conv_1x2",
    "realnvp_vector_2d",
)


def registry_cases(registry, default_keys=None):
    """Return pytest parameters for ``registry``, marking keys outside ``default_keys`` slow."""
    cases = []
    for key in registry:
        slow = default_keys is not None and key not in default_keys
        cases.append(pytest.param(key, id=key, marks=[pytest.mark.slow] if slow else []))
    return cases


# Real networks get weights of scale 0.5 so their densities fit inside the quadrature box.
REAL_WEIGHT_SCALE = 0.5
QUADRATURE_HALF_WIDTH = 25.0

# Every state of a 3 x 3 lattice, row-major.
ALL_SPIN_STATES = np.array(list(itertools.product([-1.0, 1.0], repeat=9)))


def make_params(network, seed=0):
    scale = 1.0 if network.sample_space == "spin" else REAL_WEIGHT_SCALE
    return network.init_params(jax.random.key(seed), scale=scale)


def make_data(network, n, seed=0):
    rng = np.random.default_rng(seed)
    if network.sample_space == "spin":
        return rng.choice([-1.0, 1.0], size=(n, network.n_sites))
    return rng.normal(size=(n, network.n_sites))


def state_indices(x):
    """Return the row of ``ALL_SPIN_STATES`` holding each configuration (binary, +1 -> 1)."""
    bits = (np.asarray(x) > 0).astype(int)
    return bits @ (2 ** np.arange(x.shape[-1] - 1, -1, -1))


@pytest.mark.parametrize("key", SPIN_NETWORKS)
def test_spin_network_normalized(key):
    network = SPIN_NETWORKS[key]("q")
    params = make_params(network)

    total = float(jnp.exp(jax.jit(network.log_q)(params, ALL_SPIN_STATES)).sum())

    # Exact enumeration of all 2^9 states: a normalized q sums to 1.
    assert abs(total - 1.0) < 1e-10


@pytest.mark.parametrize("key", REAL_NETWORKS_1D)
def test_real_network_normalized_1d(key):
    network = REAL_NETWORKS_1D[key]("q")
    params = make_params(network)

    log_q = jax.jit(network.log_q)

    def density(value):
        return math.exp(float(log_q(params, jnp.array([value]))))

    total, error = integrate.quad(density, -np.inf, np.inf, limit=200, epsabs=1e-13, epsrel=1e-13)

    assert error < 1e-10
    assert abs(total - 1.0) < 1e-10


@pytest.mark.parametrize("key", REAL_NETWORKS_2D)
def test_real_network_normalized_2d(key):
    network = REAL_NETWORKS_2D[key]("q")
    params = make_params(network)
    grid = np.linspace(-QUADRATURE_HALF_WIDTH, QUADRATURE_HALF_WIDTH, 1001)
    first, second = np.meshgrid(grid, grid, indexing="ij")
    points = jnp.stack([first.ravel(), second.ravel()], axis=-1)

    density = np.exp(np.asarray(jax.jit(network.log_q)(params, points))).reshape(first.shape)
    total = integrate.simpson(integrate.simpson(density, x=grid), x=grid)

    # Simpson's rule on a smooth density that vanishes at the box edges.
    assert abs(total - 1.0) < 1e-6


@pytest.mark.parametrize("key", MADES)
def test_made_autoregressive_jacobian(key):
    network = MADES[key]("q")
    params = make_params(network)
    x = jax.random.normal(jax.random.key(5), (network.n_sites,))

    jacobian = np.asarray(jax.jit(jax.jacobian(network.logits, argnums=1))(params, x))
    upper = np.triu_indices(network.n_sites)
    lower = np.tril_indices(network.n_sites, k=-1)

    # Logit i may depend on inputs 0..i-1 only.
    assert np.all(jacobian[upper] == 0.0)
    # Every allowed input is connected through some hidden unit.
    assert np.all(jacobian[lower] != 0.0)


@pytest.mark.parametrize("key", MADES)
def test_made_fast_sampler_matches_naive(key):
    network = MADES[key]("q")
    params = make_params(network)

    x_fast, log_q_fast = jax.jit(network.sample, static_argnums=2)(params, jax.random.key(3), 200)
    x_naive, log_q_naive = jax.jit(network.sample_naive, static_argnums=2)(params, jax.random.key(3), 200)

    assert np.array_equal(np.asarray(x_fast), np.asarray(x_naive))
    np.testing.assert_allclose(log_q_fast, log_q_naive, rtol=0, atol=1e-12)


def test_made_widths_rounded_to_degrees():
    network = MADE("q", n_sites=9, hidden=(12, 9))

    assert network.units_per_degree == (2, 1)
    assert network.hidden == (18, 9)
    assert network.depth == 3


def test_made_linear_weight_count():
    network = MADE("q", n_sites=9, hidden=())

    # Depth 1: one weight per pair j < i, N (N - 1) / 2 = 36, plus N = 9 biases.
    assert network.n_weights == 45


@pytest.mark.parametrize("key", SPIN_NETWORKS)
def test_spin_sampling_chi_square(key):
    network = SPIN_NETWORKS[key]("q")
    params = make_params(network, seed=1)
    n_samples = 20_000

    log_q_fn = jax.jit(network.log_q)

    x, log_q = jax.jit(network.sample, static_argnums=2)(params, jax.random.key(11), n_samples)
    counts = np.bincount(state_indices(np.asarray(x)), minlength=512)
    expected = n_samples * np.exp(np.asarray(log_q_fn(params, ALL_SPIN_STATES)))

    # Pool the states with expected count below 5, where the chi-square approximation fails.
    rare = expected < 5.0
    observed, expected_pooled = counts[~rare], expected[~rare]
    if rare.any():
        observed = np.append(observed, counts[rare].sum())
        expected_pooled = np.append(expected_pooled, expected[rare].sum())
    _, p_value = stats.chisquare(observed, expected_pooled)

    np.testing.assert_allclose(log_q, log_q_fn(params, x), rtol=0, atol=1e-12)
    # False-failure rate 1e-3 if the sampler draws from q.
    assert p_value > 1e-3


@pytest.mark.parametrize("key", REAL_NETWORKS_1D)
def test_real_sampling_kolmogorov_smirnov(key):
    network = REAL_NETWORKS_1D[key]("q")
    params = make_params(network, seed=1)
    grid = np.linspace(-QUADRATURE_HALF_WIDTH, QUADRATURE_HALF_WIDTH, 200_001)
    log_q_fn = jax.jit(network.log_q)
    density = np.exp(np.asarray(log_q_fn(params, grid[:, None])))
    cdf_values = integrate.cumulative_trapezoid(density, grid, initial=0.0)

    x, log_q = jax.jit(network.sample, static_argnums=2)(params, jax.random.key(12), 5_000)
    _, p_value = stats.kstest(np.asarray(x)[:, 0], lambda v: np.interp(v, grid, cdf_values))

    np.testing.assert_allclose(log_q, log_q_fn(params, x), rtol=0, atol=1e-10)
    # False-failure rate 1e-3 if the sampler draws from q.
    assert p_value > 1e-3


@pytest.mark.parametrize("key", FLOWS)
def test_flow_inverse_and_log_det(key):
    network = FLOWS[key]("q")
    params = make_params(network)
    z = jax.random.normal(jax.random.key(4), (network.n_sites,))

    x, log_det = jax.jit(network.forward)(params, z)
    z_back, log_det_inverse = jax.jit(network.inverse)(params, x)
    jacobian = jax.jit(jax.jacobian(lambda p, v: network.forward(p, v)[0], argnums=1))(params, z)
    _, log_abs_det = jnp.linalg.slogdet(jacobian)

    np.testing.assert_allclose(z_back, z, rtol=0, atol=1e-12)
    np.testing.assert_allclose(log_det, log_abs_det, rtol=0, atol=1e-10)
    np.testing.assert_allclose(log_det_inverse, -log_det, rtol=0, atol=1e-12)


@pytest.mark.parametrize("key", FLOWS)
def test_flow_batch_shape_kept(key):
    network = FLOWS[key]("q")
    params = make_params(network)
    z = jax.random.normal(jax.random.key(4), (2, 3, network.n_sites))

    forward = jax.jit(network.forward)

    x, log_det = forward(params, z)
    single = [forward(params, z[i, j])[1] for i in range(2) for j in range(3)]

    assert x.shape == z.shape
    assert log_det.shape == (2, 3)
    np.testing.assert_allclose(np.ravel(log_det), np.array(single), rtol=0, atol=1e-12)


def test_flow_scales_bounded():
    network = RealNVP("q", shape=(4, 4), n_layers=4, hidden=(4,), max_scale=1.5)
    params = network.init_params(jax.random.key(0), scale=100.0)
    z = jax.random.normal(jax.random.key(1), (10, network.n_sites))

    x, log_det = network.forward(params, z)

    # Each layer rescales the 8 sites of one checkerboard sublattice, each by at most
    # exp(max_scale), so |ln det| <= 4 layers * 8 sites * 1.5.
    assert np.all(np.isfinite(np.asarray(x)))
    assert np.all(np.abs(np.asarray(log_det)) <= 4 * 8 * 1.5 + 1e-9)


@pytest.mark.parametrize("key", registry_cases(ALL_NETWORKS, DEFAULT_COMPILED))
def test_vmap_over_weight_draws(key):
    network = ALL_NETWORKS[key]("q")
    scale = 1.0 if network.sample_space == "spin" else REAL_WEIGHT_SCALE
    keys = jax.random.split(jax.random.key(7), 64)
    draws = jax.vmap(lambda k: network.init_params(k, scale=scale))(keys)
    x = make_data(network, 5)

    log_q = jax.jit(network.log_q)
    sample = jax.jit(lambda p: network.sample(p, jax.random.key(2), 3)[0])

    batched = jax.jit(jax.vmap(network.log_q, in_axes=(0, None)))(draws, x)
    looped = [log_q(jax.tree.map(lambda w: w[s], draws), x) for s in range(64)]
    batched_x = jax.jit(jax.vmap(sample))(draws)
    looped_x = [sample(jax.tree.map(lambda w: w[s], draws)) for s in range(64)]

    np.testing.assert_allclose(batched, np.stack(looped), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(batched_x, np.stack(looped_x), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("key", ALL_NETWORKS)
def test_model_logp_is_prior_plus_log_q(key):
    with pm.Model() as model:
        network = ALL_NETWORKS[key]("q")
        data = make_data(network, 7)
        network.observe("x", data)
    params = make_params(network, seed=3)

    logp = model.compile_logp()(network.to_initvals(params))

    # Default prior: independent Normal(0, 1 / sqrt(fan_in)) on every weight.
    prior = sum(
        stats.norm.logpdf(np.asarray(params[k]), scale=1.0 / math.sqrt(spec.fan_in)).sum()
        for k, spec in network.weight_specs.items()
    )
    log_likelihood = float(jax.jit(network.log_q)(params, data).sum())
    assert model.observed_RVs[0].name == "x"
    np.testing.assert_allclose(logp, prior + log_likelihood, rtol=1e-12)


def test_model_gradient_matches_jax():
    with pm.Model() as model:
        network = MADE("q", n_sites=9, hidden=(9,), z2=True)
        data = make_data(network, 7)
        network.observe("x", data)
    params = make_params(network, seed=3)

    gradient = model.compile_dlogp()(network.to_initvals(params))

    def joint(p):
        prior = sum(
            jnp.sum(-0.5 * p[k] ** 2 * spec.fan_in) for k, spec in network.weight_specs.items()
        )
        return prior + network.log_q(p, data).sum()

    expected = jax.jit(jax.grad(joint))(params)
    key_of_variable = {var: k for k, var in network.var_names.items()}
    order = [key_of_variable[value.name] for value in model.value_vars]
    flat_expected = np.concatenate([np.ravel(expected[k]) for k in order])
    np.testing.assert_allclose(gradient, flat_expected, rtol=1e-10, atol=1e-10)


def test_observe_stores_data_and_shape():
    data = make_data(MeanFieldSpins("q", n_sites=9), 6)
    with pm.Model() as model:
        network = MADE("q", n_sites=9, hidden=(9,))
        observed = network.observe("x", data)

    np.testing.assert_array_equal(model["x_data"].get_value(), data)
    assert tuple(observed.shape.eval()) == (6, 9)


def test_observe_rejects_wrong_size():
    with pm.Model():
        network = MADE("q", n_sites=9, hidden=(9,))
        with pytest.raises(ValueError, match=r"shape \(4, 8\), expected \(\.\.\., 9\)"):
            network.observe("x", np.ones((4, 8)))


def test_observe_rejects_single_configuration():
    with pm.Model():
        network = MADE("q", n_sites=9, hidden=(9,))
        with pytest.raises(ValueError, match=r"shape \(9,\), expected \(n_configurations, 9\)"):
            network.observe("x", np.ones(9))


def test_observe_rejects_non_spins():
    with pm.Model():
        network = MADE("q", n_sites=9, hidden=(9,))
        with pytest.raises(ValueError, match=r"values \[0\.0\] that are not spins"):
            network.observe("x", np.zeros((3, 9)))


def test_observe_rejects_non_finite():
    data = np.zeros((3, 2))
    data[1, 0] = np.nan
    with pm.Model():
        network = DiagonalGaussian("q", n_sites=2)
        with pytest.raises(ValueError, match="contains 1 non-finite values"):
            network.observe("x", data)


def test_observe_outside_model_rejected():
    network = MADE("q", n_sites=9, hidden=(9,))

    with pytest.raises(RuntimeError, match="create it inside a `with pm.Model\\(\\):` block"):
        network.observe("x", np.ones((2, 9)))


def test_prior_distribution_class_rejected():
    with pm.Model():
        with pytest.raises(TypeError, match="prior=Normal is a distribution class"):
            MeanFieldSpins("q", n_sites=4, prior=pm.Normal)


def test_prior_not_callable_rejected():
    with pm.Model():
        with pytest.raises(TypeError, match="prior=1.0 is not callable"):
            MeanFieldSpins("q", n_sites=4, prior=1.0)


def test_prior_returning_constant_rejected():
    with pm.Model():
        with pytest.raises(TypeError, match="not a free random variable of the current model"):
            MeanFieldSpins("q", n_sites=4, prior=lambda name, **kw: np.zeros(kw["shape"]))


def test_prior_with_wrong_signature_rejected():
    with pm.Model():
        with pytest.raises(TypeError, match="prior\\(name, \\*, shape, dims, fan_in\\)"):
            MeanFieldSpins("q", n_sites=4, prior=lambda name: pm.Normal(name))


def test_prior_ignoring_shape_rejected():
    with pm.Model():
        with pytest.raises(ValueError, match=r"'q_logits' with shape \(\), expected \(4,\)"):
            MeanFieldSpins("q", n_sites=4, prior=lambda name, **kw: pm.Normal(name))


def test_custom_prior_used():
    def laplace(name, *, shape, dims, fan_in):
        return pm.Laplace(name, mu=0.0, b=np.float64(0.5), shape=shape, dims=dims)

    with pm.Model() as model:
        network = MeanFieldSpins("q", n_sites=4, prior=laplace)
    logits = np.array([0.1, -0.2, 0.3, 0.0])

    logp = model.compile_logp()({"q_logits": logits})

    np.testing.assert_allclose(logp, stats.laplace.logpdf(logits, scale=0.5).sum(), rtol=1e-12)


@pytest.mark.parametrize(
    ("factory", "message"),
    [
        (lambda: MADE("q", n_sites=9, hidden=(0,)), r"hidden=\(0,\) is invalid: .* got 0"),
        (lambda: MADE("q", n_sites=9, hidden=(8, -1)), r"width of at least 1, got -1"),
        (lambda: MADE("q", n_sites=9, hidden=None), r"hidden=None is invalid"),
        (lambda: MADE("q", n_sites=0), r"n_sites=0 is invalid"),
        (lambda: MADE("q", n_sites=9, hidden=(9,), residual=True), r"at least two are needed"),
        (lambda: MADE("q", n_sites=9, hidden=(9, 18), residual=True), r"the same width"),
        (lambda: RealNVP("q", shape=(4, 4), n_layers=0), r"n_layers=0 is invalid"),
        (lambda: RealNVP("q", shape=(4, 4), hidden=()), r"at least one hidden layer"),
        (lambda: RealNVP("q", shape=(4, 4), hidden=(0,)), r"width of at least 1, got 0"),
        (lambda: RealNVP("q", shape=(4,), conv=True), r"Pass conv=False for vectors"),
        (lambda: RealNVP("q", shape=(2, 2, 2)), r"shape=\(2, 2, 2\) is invalid"),
        (lambda: RealNVP("q", shape=(4, 4), max_scale=0.0), r"max_scale=0.0 is invalid"),
        (lambda: RealNVP("q", shape=(4, 4), kernel_size=2), r"kernel_size=2 is invalid"),
        (lambda: GaussianMixtureDensity("q", n_sites=2, n_components=0), r"n_components=0"),
        (lambda: DiagonalGaussian("q", n_sites=-1), r"n_sites=-1 is invalid"),
    ],
)
def test_invalid_architecture_rejected(factory, message):
    with pytest.raises(ValueError, match=message):
        factory()


def test_deterministic_rejects_non_callable():
    with pm.Model():
        network = MeanFieldSpins("q", n_sites=4)
        with pytest.raises(TypeError, match="fn=3 is not callable"):
            network.deterministic("held_out", 3)


def test_nuts_posterior_of_made():
    rng = np.random.default_rng(0)
    train = rng.choice([-1.0, 1.0], size=(8, 4))
    held_out = rng.choice([-1.0, 1.0], size=(5, 4))
    with pm.Model() as model:
        network = MADE("q", n_sites=4, hidden=(4,), z2=True)
        network.observe("x", train)
        network.deterministic("held_out_log_q", lambda p: network.log_q(p, held_out).mean())
        idata = pm.sample(
            nuts_sampler="numpyro",
            draws=20,
            tune=20,
            chains=1,
            nuts={"max_tree_depth": 4},
            random_seed=1,
            progressbar=False,
            compute_convergence_checks=False,
        )
        log_likelihood = pm.compute_log_likelihood(idata, extend_inferencedata=False, progressbar=False)
    posterior = idata["posterior"]
    draws = network.params_from_posterior(idata)
    first = jax.tree.map(lambda w: jnp.asarray(w[0]), draws)
    per_draw_log_q = jax.vmap(network.log_q, in_axes=(0, None))(first, train)
    held_out_log_q = jax.vmap(lambda p: network.log_q(p, held_out).mean())(first)

    for key, var in network.var_names.items():
        assert posterior[var].shape == (1, 20, *network.weight_specs[key].shape)
    assert np.all(np.isfinite(posterior["held_out_log_q"].values))
    np.testing.assert_allclose(posterior["held_out_log_q"].values[0], held_out_log_q, atol=1e-10)
    np.testing.assert_allclose(log_likelihood["x"].values[0], per_draw_log_q, atol=1e-10)
    assert model["x"] in model.observed_RVs


def test_made_sample_accepts_numpy_weights():
    network = MADE("q", n_sites=9, hidden=(9,), z2=True)
    params = jax.tree.map(np.asarray, network.init_params(jax.random.key(0)))
    x, log_q = network.sample(params, jax.random.key(1), 5)
    # The returned log density is the network's own log_q of the drawn configurations.
    np.testing.assert_allclose(log_q, network.log_q(params, x), rtol=1e-12)
