"""Energies of the Boltzmann systems: formulas, JAX and PyTensor use, and bad input."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
from scipy import stats

from pymc_boltzmann import exact
from pymc_boltzmann.energies import (
    DoubleWell,
    GaussianMixture,
    Ising2D,
    ManyWell,
    Phi4,
    SherringtonKirkpatrick,
)

SYSTEMS = {
    "ising": lambda: Ising2D(L=3, J=1.0, h=0.2),
    "ising_open": lambda: Ising2D(L=3, boundary="open"),
    "sk": lambda: SherringtonKirkpatrick(n=6, random_seed=0),
    "phi4": lambda: Phi4(L=3, m2=-1.0, lam=2.0),
    "double_well": lambda: DoubleWell(dim=3),
    "many_well": lambda: ManyWell(dim=4),
    "mixture": lambda: GaussianMixture(means=[[0.0, 1.0], [2.0, -1.0]], sigmas=[0.5, 1.5], weights=[1.0, 3.0]),
}


def random_configurations(system, n, seed=0):
    rng = np.random.default_rng(seed)
    if system.sample_space == "spin":
        return rng.choice([-1.0, 1.0], size=(n, system.n_sites))
    return rng.normal(size=(n, system.n_sites))


# --- formulas -------------------------------------------------------------------------------


def test_ising_energy_reference_configurations():
    system = Ising2D(L=4, J=1.5, h=0.5)
    up = np.ones(16)
    checkerboard = np.array([(-1.0) ** (i + j) for i in range(4) for j in range(4)])
    # All up: 2 N satisfied bonds and field energy -h N. Checkerboard: 2 N broken bonds, M = 0.
    assert float(system.energy(up)) == pytest.approx(-1.5 * 32 - 0.5 * 16)
    assert float(system.energy(checkerboard)) == pytest.approx(1.5 * 32)


def test_ising_open_boundary_bond_count():
    # An open L x L lattice has 2 L (L - 1) bonds.
    assert float(Ising2D(L=4, boundary="open").energy(np.ones(16))) == -24.0


def test_ising_two_by_two_counts_pairs_twice():
    # Periodic L = 2: the right and left neighbours coincide, so each of the 4 pairs counts twice.
    spins = np.array([1.0, -1.0, 1.0, 1.0])
    pair_sum = spins[0] * spins[1] + spins[2] * spins[3] + spins[0] * spins[2] + spins[1] * spins[3]
    assert float(Ising2D(L=2).energy(spins)) == -2.0 * pair_sum


def test_ising_observables():
    system = Ising2D(L=3)
    x = random_configurations(system, 5)
    observables = system.observables(x)
    m = x.mean(axis=1)
    np.testing.assert_allclose(observables["magnetization"], m)
    np.testing.assert_allclose(observables["abs_magnetization"], np.abs(m))
    np.testing.assert_allclose(observables["magnetization_sq"], m**2)
    np.testing.assert_allclose(observables["energy_per_site"], np.asarray(system.energy(x)) / 9)


def test_sk_energy_matches_pair_sum():
    system = SherringtonKirkpatrick(n=6, random_seed=4)
    x = random_configurations(system, 3)
    couplings = system.couplings
    expected = [-sum(couplings[i, j] * s[i] * s[j] for i in range(6) for j in range(i + 1, 6)) for s in x]
    np.testing.assert_allclose(system.energy(x), expected, rtol=1e-12)


def test_sk_couplings_distribution():
    system = SherringtonKirkpatrick(n=400, random_seed=1)
    upper = system.couplings[np.triu_indices(400, k=1)]
    np.testing.assert_array_equal(system.couplings, system.couplings.T)
    assert np.all(np.diag(system.couplings) == 0.0)
    # Sample variance of 79 800 draws of Normal(0, 1/n) has relative standard error sqrt(2/79 800).
    assert abs(upper.var() * 400 - 1.0) < 4 * math.sqrt(2.0 / upper.size)
    np.testing.assert_array_equal(SherringtonKirkpatrick(n=400, random_seed=1).couplings, system.couplings)


def test_phi4_energy_matches_site_sum():
    system = Phi4(L=3, m2=-0.5, lam=1.2)
    phi = random_configurations(system, 2)
    for row, config in zip(np.asarray(system.energy(phi)), phi):
        lattice = config.reshape(3, 3)
        expected = 0.0
        for i in range(3):
            for j in range(3):
                expected += 0.5 * (lattice[(i + 1) % 3, j] - lattice[i, j]) ** 2
                expected += 0.5 * (lattice[i, (j + 1) % 3] - lattice[i, j]) ** 2
                expected += -0.25 * lattice[i, j] ** 2 + 1.2 / 24 * lattice[i, j] ** 4
        assert row == pytest.approx(expected, rel=1e-12)


def test_phi4_from_hopping_matches_hopping_action():
    kappa, l, L = 0.3, 0.02, 4
    system = Phi4.from_hopping(L, kappa=kappa, l=l)
    assert system.hopping == (kappa, l)
    p = random_configurations(system, 3, seed=2)
    lattice = p.reshape(3, L, L)
    hopping_sum = sum(np.sum(lattice * np.roll(lattice, -1, axis=axis), axis=(1, 2)) for axis in (1, 2))
    hopping_action = -2 * kappa * hopping_sum + np.sum((1 - 2 * l) * p**2 + l * p**4, axis=1)
    np.testing.assert_allclose(system.energy(math.sqrt(2 * kappa) * p), hopping_action, rtol=1e-12)


def test_phi4_two_point_function():
    system = Phi4(L=4, m2=1.0, lam=0.5)
    phi = random_configurations(system, 2)
    two_point = np.asarray(system.two_point_function(phi))
    lattice = phi.reshape(2, 4, 4)
    shifted = np.roll(lattice, shift=(-1, -2), axis=(1, 2))
    assert two_point.shape == (2, 4, 4)
    np.testing.assert_allclose(two_point[:, 1, 2], np.mean(lattice * shifted, axis=(1, 2)), rtol=1e-12)
    # Summed over separations it is N m^2.
    np.testing.assert_allclose(two_point.sum(axis=(1, 2)), 16 * phi.mean(axis=1) ** 2, rtol=1e-12)


def test_phi4_interacting_has_no_closed_form():
    with pytest.raises(NotImplementedError, match="log_partition_estimate"):
        Phi4(L=3, m2=1.0, lam=1.0).exact_log_partition(1.0)
    with pytest.raises(NotImplementedError, match="reference_sample"):
        Phi4(L=3, m2=1.0, lam=1.0).exact_expectations(1.0)


def test_double_well_and_many_well_energies():
    x = np.array([[1.3, -0.4, 2.0, 0.7]])
    double_well = DoubleWell(dim=4, a=0.2, b=-4.0, c=1.0)
    expected = 0.2 * 1.3 - 4.0 * 1.3**2 + 1.3**4 + 0.5 * (0.4**2 + 2.0**2 + 0.7**2)
    assert float(double_well.energy(x)[0]) == pytest.approx(expected, rel=1e-14)

    def pair_log_density(y1, y2):
        return -(y1**4) + 6 * y1**2 + 0.5 * y1 - 0.5 * y2**2

    many_well = ManyWell(dim=4)
    expected = -(pair_log_density(1.3, -0.4) + pair_log_density(2.0, 0.7))
    assert float(many_well.energy(x)[0]) == pytest.approx(expected, rel=1e-14)
    assert float(many_well.observables(x)["mean_coordinate"][0]) == pytest.approx(np.mean(x), rel=1e-14)


def test_gaussian_mixture_energy_is_negative_log_density():
    system = SYSTEMS["mixture"]()
    x = random_configurations(system, 4)
    # Weights 1 : 3 normalize to 0.25, 0.75; sigmas (0.5, 1.5) are isotropic.
    density = 0.25 * stats.multivariate_normal([0.0, 1.0], 0.25 * np.eye(2)).pdf(x) + 0.75 * stats.multivariate_normal(
        [2.0, -1.0], 2.25 * np.eye(2)
    ).pdf(x)
    np.testing.assert_allclose(system.energy(x), -np.log(density), rtol=1e-12)


def test_gaussian_mixture_normalized():
    system = GaussianMixture(means=[[-1.0, 0.0], [1.5, 0.5]], sigmas=[[0.4, 0.8], [0.6, 0.3]])
    axis = np.linspace(-7.0, 7.0, 701)
    grid = np.stack(np.meshgrid(axis, axis, indexing="ij"), axis=-1).reshape(-1, 2)
    density = np.exp(-np.asarray(system.energy_fn(jnp.asarray(grid))))
    spacing = axis[1] - axis[0]
    assert density.sum() * spacing**2 == pytest.approx(math.exp(system.exact_log_partition(1.0)), rel=1e-9)
    expectations = system.exact_expectations(1.0)
    assert expectations["x1"] == pytest.approx(density @ grid[:, 0] * spacing**2, abs=1e-9)
    assert expectations["x1_sq"] == pytest.approx(density @ grid[:, 0] ** 2 * spacing**2, rel=1e-9)


def test_gaussian_mixture_single_component_tempered():
    system = GaussianMixture(means=[[0.5]], sigmas=0.7)
    beta = 2.5
    axis = np.linspace(-6.0, 7.0, 4001)
    log_density = -beta * np.asarray(system.energy_fn(jnp.asarray(axis[:, None])))
    integral = np.exp(log_density).sum() * (axis[1] - axis[0])
    assert system.exact_log_partition(beta) == pytest.approx(math.log(integral), rel=1e-10)
    with pytest.raises(NotImplementedError, match="beta=2.5"):
        SYSTEMS["mixture"]().exact_log_partition(2.5)


# --- JAX and PyTensor -----------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(SYSTEMS))
def test_energy_under_jit_and_vmap(name):
    system = SYSTEMS[name]()
    x = jnp.asarray(random_configurations(system, 5))
    expected = np.asarray(system.energy(x))
    np.testing.assert_allclose(jax.jit(system.energy_fn)(x), expected, rtol=1e-12)
    np.testing.assert_allclose(jax.vmap(system.energy_fn)(x), expected, rtol=1e-12)
    observables = jax.jit(system.observables_fn)(x)
    for value in observables.values():
        assert value.shape == (5,)


@pytest.mark.parametrize("name", ["phi4", "double_well", "many_well", "mixture"])
def test_energy_gradient_matches_finite_differences(name):
    system = SYSTEMS[name]()
    x = jnp.asarray(random_configurations(system, 1)[0])
    gradient = np.asarray(jax.grad(system.energy_fn)(x))
    step = 1e-6
    for i in range(system.n_sites):
        shift = np.zeros(system.n_sites)
        shift[i] = step
        difference = (system.energy_fn(x + shift) - system.energy_fn(x - shift)) / (2 * step)
        assert gradient[i] == pytest.approx(float(difference), rel=1e-6, abs=1e-6)


@pytest.mark.parametrize("name", sorted(SYSTEMS))
def test_energy_pt_matches_energy_fn(name):
    system = SYSTEMS[name]()
    x_value = random_configurations(system, 3)
    x = pt.tensor("x", shape=x_value.shape, dtype="float64")
    energy = system.energy_pt(x)
    gradient = pytensor.grad(energy.sum(), x)
    function = pytensor.function([x], [energy, gradient])
    energy_value, gradient_value = function(x_value)
    np.testing.assert_allclose(energy_value, system.energy(x_value), rtol=1e-12)
    expected_gradient = jax.grad(lambda y: system.energy_fn(y).sum())(jnp.asarray(x_value))
    np.testing.assert_allclose(gradient_value, expected_gradient, rtol=1e-12, atol=1e-12)


# --- bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize("factory", [lambda L: Ising2D(L=L), lambda L: Phi4(L=L, m2=1.0, lam=0.0)])
def test_lattice_size_below_two(factory):
    with pytest.raises(ValueError, match=r"L=1 is invalid: expected a lattice size of at least 2"):
        factory(1)
    with pytest.raises(ValueError, match=r"L=2.5 is invalid: expected an integer lattice size"):
        factory(2.5)


@pytest.mark.parametrize("beta", [0.0, -1.0, float("nan"), float("inf")])
@pytest.mark.parametrize("name", ["ising", "sk", "double_well", "many_well"])
def test_invalid_beta(name, beta):
    with pytest.raises(ValueError, match=r"beta=.* is invalid: expected a finite positive inverse temperature"):
        SYSTEMS[name]().exact_log_partition(beta)


def test_invalid_beta_in_exact_functions():
    with pytest.raises(ValueError, match=r"beta=nan is invalid"):
        exact.kaufman_log_partition(8, float("nan"))
    with pytest.raises(ValueError, match=r"beta=-0.4 is invalid"):
        exact.onsager_free_energy_per_site(-0.4)
    with pytest.raises(ValueError, match=r"beta=0 is invalid"):
        Phi4(L=3, m2=1.0, lam=0.0).exact_log_partition(0)


@pytest.mark.parametrize("name", sorted(SYSTEMS))
def test_wrong_shape(name):
    system = SYSTEMS[name]()
    bad = np.ones((2, system.n_sites + 1))
    with pytest.raises(ValueError, match=rf"x has shape \(2, {system.n_sites + 1}\), expected \(\.\.\., {system.n_sites}\)"):
        system.energy(bad)


def test_spins_not_plus_minus_one():
    with pytest.raises(ValueError, match=r"x contains values \[0.0\] that are not spins: expected every entry in \{-1, \+1\}"):
        Ising2D(L=2).energy(np.array([1.0, 0.0, -1.0, 1.0]))
    with pytest.raises(ValueError, match=r"that are not spins"):
        SherringtonKirkpatrick(n=3, random_seed=0).observables(np.array([1.0, 2.0, -1.0]))


@pytest.mark.parametrize("name", ["phi4", "double_well", "mixture"])
def test_nan_field(name):
    system = SYSTEMS[name]()
    x = np.zeros(system.n_sites)
    x[1] = np.nan
    with pytest.raises(ValueError, match=r"x contains 1 non-finite values \(first indices \[\[1\]\]\)"):
        system.energy(x)


def test_phi4_nonpositive_mass_at_zero_coupling():
    message = r"m2=0.0 is invalid at zero quartic coupling: expected m2 > 0, because the periodic lattice Laplacian has a zero mode"
    with pytest.raises(ValueError, match=message):
        Phi4(L=4, m2=0.0, lam=0.0)
    with pytest.raises(ValueError, match=r"m2=-1.0 is invalid at zero quartic coupling"):
        exact.gaussian_log_partition(4, -1.0)
    # With a positive quartic coupling a negative m2 is a valid double-well theory.
    assert Phi4(L=4, m2=-1.0, lam=1.0).m2 == -1.0


def test_phi4_invalid_couplings():
    with pytest.raises(ValueError, match=r"lam=-0.5 is invalid: expected a quartic coupling lam >= 0"):
        Phi4(L=4, m2=1.0, lam=-0.5)
    with pytest.raises(ValueError, match=r"m2=nan is invalid: expected a finite real number"):
        Phi4(L=4, m2=float("nan"), lam=1.0)
    with pytest.raises(ValueError, match=r"kappa=-0.1 is invalid: expected a hopping parameter kappa > 0"):
        Phi4.from_hopping(4, kappa=-0.1, l=0.02)
    with pytest.raises(ValueError, match=r"l=-0.02 is invalid"):
        Phi4.from_hopping(4, kappa=0.3, l=-0.02)


def test_invalid_system_parameters():
    with pytest.raises(ValueError, match=r"boundary='twisted' is invalid"):
        Ising2D(L=4, boundary="twisted")
    with pytest.raises(ValueError, match=r"h=nan is invalid: expected a finite real number"):
        Ising2D(L=4, h=float("nan"))
    with pytest.raises(ValueError, match=r"n=1 is invalid: expected an integer of at least 2"):
        SherringtonKirkpatrick(n=1)
    with pytest.raises(ValueError, match=r"dim=5 is invalid: expected an even dimension"):
        ManyWell(dim=5)
    with pytest.raises(ValueError, match=r"c=-1.0 with b=-4.0 is invalid: expected c > 0"):
        DoubleWell(dim=2, c=-1.0)


def test_invalid_gaussian_mixture():
    with pytest.raises(ValueError, match=r"means has shape \(2,\), expected \(K, d\)"):
        GaussianMixture(means=[0.0, 1.0])
    with pytest.raises(ValueError, match=r"sigmas has shape \(3,\), expected a scalar, \(2,\) or \(2, 2\)"):
        GaussianMixture(means=[[0.0, 1.0], [1.0, 0.0]], sigmas=[1.0, 1.0, 1.0])
    with pytest.raises(ValueError, match=r"sigmas contains values <= 0"):
        GaussianMixture(means=[[0.0]], sigmas=0.0)
    with pytest.raises(ValueError, match=r"weights=\[1.0, -1.0\] is invalid: expected 2 positive numbers"):
        GaussianMixture(means=[[0.0], [1.0]], weights=[1.0, -1.0])
    with pytest.raises(ValueError, match=r"means contains non-finite values"):
        GaussianMixture(means=[[np.nan]])


@pytest.mark.parametrize("system", [DoubleWell(dim=3), ManyWell(dim=32)], ids=["double_well", "many_well"])
def test_exact_reference_sample_matches_quadrature(system):
    x = system.reference_sample(1.0, 20_000, random_seed=5)
    observables = {name: np.asarray(value) for name, value in system.observables(x).items()}
    # Reference: the quadrature expectations of exact_expectations; draws are independent,
    # so the standard error is sd / sqrt(n).
    for name, exact_value in system.exact_expectations(1.0).items():
        if name not in observables:
            continue
        values = observables[name]
        standard_error = values.std(ddof=1) / np.sqrt(values.size)
        assert abs(values.mean() - exact_value) < 4 * standard_error, name
