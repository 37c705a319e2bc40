"""Exact references: Kaufman against enumeration, Onsager, free field, quadrature, thermodynamic integration."""

import itertools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.special import logsumexp

from pymc_boltzmann import exact
from pymc_boltzmann.energies import DoubleWell, Ising2D, ManyWell, Phi4, SherringtonKirkpatrick
from pymc_boltzmann.exact.thermodynamic_integration import phi4_log_partition

BETA_C = math.log1p(math.sqrt(2.0)) / 2.0
# Below beta_c the sign of gamma_0 in Kaufman's formula matters; at and above it does not.
BETAS = (0.1, 0.3, BETA_C, 0.6, 2.0)


def all_spin_states(n_sites):
    return np.array(list(itertools.product((-1.0, 1.0), repeat=n_sites)))


def brute_force_moments(system, beta):
    """ln Z and moments summed over every state with the JAX energy, for cross-checks."""
    states = all_spin_states(system.n_sites)
    energies = np.asarray(system.energy_fn(jnp.asarray(states)))
    log_weights = -beta * energies
    log_partition = logsumexp(log_weights)
    probabilities = np.exp(log_weights - log_partition)
    m = states.mean(axis=1)
    return {
        "log_partition": log_partition,
        "energy_per_site": probabilities @ energies / system.n_sites,
        "energy_sq": probabilities @ energies**2,
        "magnetization": probabilities @ m,
        "abs_magnetization": probabilities @ np.abs(m),
        "magnetization_sq": probabilities @ m**2,
    }


# --- 2D Ising: Kaufman, enumeration, Onsager -------------------------------------------------


@pytest.mark.parametrize("L", [2, 3, 4, 5])
@pytest.mark.parametrize("beta", BETAS)
def test_kaufman_log_partition_matches_enumeration(L, beta):
    enumerated = exact.ising_enumeration(L, beta)["log_partition"]
    assert abs(exact.kaufman_log_partition(L, beta) - enumerated) < 1e-10


@pytest.mark.parametrize("L", [2, 3, 4])
@pytest.mark.parametrize("beta", BETAS)
def test_kaufman_energy_and_specific_heat_match_enumeration(L, beta):
    enumerated = exact.ising_enumeration(L, beta)
    n = L * L
    mean_energy = enumerated["energy_per_site"] * n
    variance = enumerated["energy_sq"] - mean_energy**2
    assert abs(exact.kaufman_mean_energy(L, beta) - mean_energy) < 1e-10 * max(1.0, abs(mean_energy))
    assert abs(exact.kaufman_energy_variance(L, beta) - variance) < 1e-8 * max(1.0, variance)
    assert abs(exact.kaufman_specific_heat(L, beta) - beta**2 * variance / n) < 1e-8


def test_kaufman_antiferromagnet_even_lattice_matches_enumeration():
    for beta in (0.3, 0.6):
        enumerated = exact.ising_enumeration(4, beta, J=-1.0)["log_partition"]
        assert abs(exact.kaufman_log_partition(4, beta, J=-1.0) - enumerated) < 1e-10


def test_kaufman_antiferromagnet_odd_lattice_raises():
    with pytest.raises(NotImplementedError, match="odd lattice"):
        exact.kaufman_log_partition(3, 0.4, J=-1.0)


def test_kaufman_large_lattice_finite():
    # With 2 N satisfied bonds in the two ground states, ln Z lies between ln 2 + 2 N beta and
    # N ln 2 + 2 N beta (every state weighs at most e^{2 N beta}).
    n = 64 * 64
    log_partition = exact.kaufman_log_partition(64, 1.0)
    assert math.isfinite(log_partition)
    assert math.log(2.0) + 2 * n < log_partition < n * math.log(2.0) + 2 * n
    assert math.isfinite(exact.kaufman_specific_heat(64, 1.0))


def test_onsager_free_energy_at_critical_point():
    # Closed form at beta_c: -beta_c f = ln(2)/2 + 2 G / pi (G: Catalan's constant), which gives
    # f = -2.1096511446082 per site.
    assert abs(exact.onsager_free_energy_per_site(BETA_C) - (-2.1096511446082)) < 1e-12
    closed_form = -exact.onsager_critical_log_partition_per_site() / BETA_C
    assert abs(exact.onsager_free_energy_per_site(BETA_C) - closed_form) < 1e-12


@pytest.mark.parametrize("beta", [0.3, 0.6])
def test_kaufman_approaches_onsager_away_from_criticality(beta):
    # Off criticality the correlation length is a few sites, so the finite-size correction on
    # a 64 x 64 torus is exponentially small, except that below T_c the finite lattice has two
    # ordered states, which adds ln 2 to ln Z.
    degeneracy = math.log(2.0) if beta > BETA_C else 0.0
    per_site = (exact.kaufman_log_partition(64, beta) - degeneracy) / 64**2
    assert abs(per_site - exact.onsager_log_partition_per_site(beta)) < 1e-9


def test_critical_beta_value():
    # Onsager: sinh(2 beta_c J) = 1.
    assert abs(math.sinh(2.0 * exact.ising_critical_beta()) - 1.0) < 1e-14
    assert Ising2D(L=4, J=2.0).critical_beta == pytest.approx(BETA_C / 2.0, rel=1e-14)


@pytest.mark.parametrize("L", [2, 3])
@pytest.mark.parametrize("boundary", ["periodic", "open"])
def test_density_of_states_matches_brute_force(L, boundary):
    system = Ising2D(L=L, J=0.7, h=0.3, boundary=boundary)
    for beta in (0.2, 1.1):
        expected = brute_force_moments(system, beta)
        got = exact.ising_enumeration(L, beta, J=0.7, h=0.3, boundary=boundary)
        for key, value in expected.items():
            assert got[key] == pytest.approx(value, rel=1e-12, abs=1e-12), key


def test_density_of_states_five_by_five():
    density = exact.ising_density_of_states(5)
    assert density.counts.sum() == 2**25
    # Two ground states (all up, all down) with all 50 bonds satisfied.
    assert density.counts[density.bond_sums == 50].sum() == 2
    # Flipping every spin maps M to -M.
    for bond_sum, magnetization, count in zip(density.bond_sums, density.magnetizations, density.counts):
        mirror = (density.bond_sums == bond_sum) & (density.magnetizations == -magnetization)
        assert density.counts[mirror].sum() == count


def test_ising_exact_expectations_small_lattice():
    system = Ising2D(L=3)
    expected = brute_force_moments(system, 0.4)
    got = system.exact_expectations(0.4)
    for key, value in expected.items():
        if key != "log_partition":
            assert got[key] == pytest.approx(value, rel=1e-12, abs=1e-14), key
    variance = expected["magnetization_sq"] - expected["abs_magnetization"] ** 2
    assert got["susceptibility"] == pytest.approx(0.4 * 9 * variance, rel=1e-12)


def test_ising_exact_expectations_large_lattice_energy_only():
    system = Ising2D(L=6)
    got = system.exact_expectations(0.3)
    assert set(got) == {"energy_per_site", "energy_sq", "specific_heat"}
    assert got["energy_per_site"] == pytest.approx(exact.kaufman_mean_energy(6, 0.3) / 36, rel=1e-14)


def test_ising_out_of_scope_raises():
    with pytest.raises(NotImplementedError, match="h = 0"):
        Ising2D(L=8, h=0.1).exact_log_partition(0.4)
    with pytest.raises(NotImplementedError, match="periodic"):
        Ising2D(L=8, boundary="open").exact_log_partition(0.4)
    with pytest.raises(NotImplementedError, match="odd lattice"):
        Ising2D(L=7, J=-1.0).exact_log_partition(0.4)
    with pytest.raises(NotImplementedError, match="h = 0"):
        Ising2D(L=8, h=0.1).onsager_free_energy_per_site(0.4)


def test_ising_exact_log_partition_dispatch():
    # L <= 5 uses enumeration, larger lattices Kaufman's formula.
    assert Ising2D(L=4).exact_log_partition(0.3) == pytest.approx(exact.kaufman_log_partition(4, 0.3), abs=1e-10)
    assert Ising2D(L=6).exact_log_partition(0.3) == exact.kaufman_log_partition(6, 0.3)
    f = Ising2D(L=6).exact_free_energy_per_site(0.3)
    assert f == pytest.approx(-exact.kaufman_log_partition(6, 0.3) / (0.3 * 36), rel=1e-14)


def test_enumeration_rejects_large_lattice():
    with pytest.raises(ValueError, match="L=6 is too large for exact enumeration"):
        exact.ising_density_of_states(6)


# --- Sherrington-Kirkpatrick ----------------------------------------------------------------


def test_sk_enumeration_matches_brute_force():
    system = SherringtonKirkpatrick(n=8, random_seed=3)
    for beta in (0.5, 2.0):
        expected = brute_force_moments(system, beta)
        got = system.exact_expectations(beta)
        assert system.exact_log_partition(beta) == pytest.approx(expected["log_partition"], rel=1e-13)
        for key, value in expected.items():
            if key != "log_partition":
                assert got[key] == pytest.approx(value, rel=1e-11, abs=1e-14), key


def test_sk_enumeration_twenty_spins():
    system = SherringtonKirkpatrick(n=20, random_seed=0)
    energies, magnetizations = exact.spin_glass_energies(system.couplings)
    assert energies.shape == (2**20,)

    # Spot-check table entries against the JAX energy; state k has s_i = +1 where bit i is set.
    indices = np.random.default_rng(1).integers(0, 2**20, size=200)
    spins = 2.0 * ((indices[:, None] >> np.arange(20)) & 1) - 1.0
    np.testing.assert_allclose(energies[indices], np.asarray(system.energy_fn(jnp.asarray(spins))), rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(magnetizations[indices], spins.sum(axis=1))

    # ln Z lies between the ground-state term and N ln 2 - beta E_min.
    beta = 1.0
    ground = system.exact_ground_state_energy()
    assert -beta * ground < system.exact_log_partition(beta) < 20 * math.log(2.0) - beta * ground


def test_sk_too_many_spins_has_no_reference():
    with pytest.raises(NotImplementedError, match="n <= 20"):
        SherringtonKirkpatrick(n=21, random_seed=0).exact_log_partition(1.0)


# --- free field and phi^4 -------------------------------------------------------------------


def dense_action_matrix(system):
    """The matrix A of S = phi^T A phi / 2 at lam = 0, from the Hessian of the energy."""
    return np.asarray(jax.hessian(system.energy_fn)(jnp.zeros(system.n_sites)))


@pytest.mark.parametrize("L", [2, 3, 4])
@pytest.mark.parametrize("m2", [0.1, 1.0, 3.0])
def test_gaussian_log_partition_matches_dense_determinant(L, m2):
    system = Phi4(L=L, m2=m2, lam=0.0)
    matrix = dense_action_matrix(system)
    sign, log_det = np.linalg.slogdet(matrix)
    assert sign > 0
    for beta in (1.0, 2.5):
        # Gaussian integral: ln Z = (N/2) ln(2 pi) - (1/2) ln det(beta A).
        expected = 0.5 * system.n_sites * math.log(2.0 * math.pi) - 0.5 * (log_det + system.n_sites * math.log(beta))
        assert system.exact_log_partition(beta) == pytest.approx(expected, rel=1e-12)


def test_gaussian_eigenvalue_product_formula():
    # On L = 2 the eigenvalues of -Laplacian are 0, 4, 4, 8, so det(-Laplacian + m2) is
    # m2 (m2 + 4)^2 (m2 + 8).
    m2 = 0.7
    expected = 2.0 * math.log(2.0 * math.pi) - 0.5 * math.log(m2 * (m2 + 4.0) ** 2 * (m2 + 8.0))
    assert exact.gaussian_log_partition(2, m2) == pytest.approx(expected, rel=1e-14)


def test_gaussian_two_point_function_matches_inverse_matrix():
    system = Phi4(L=4, m2=0.5, lam=0.0)
    covariance = np.linalg.inv(dense_action_matrix(system))
    two_point = system.exact_two_point_function(1.0)
    np.testing.assert_allclose(two_point.ravel(), covariance[0], rtol=1e-12)
    expectations = system.exact_expectations(1.0)
    # <m^2> = (1/N^2) sum_ij C_ij and chi = N <m^2> = 1 / m2.
    assert expectations["magnetization_sq"] == pytest.approx(covariance.sum() / 16**2, rel=1e-12)
    assert expectations["susceptibility"] == pytest.approx(1.0 / 0.5, rel=1e-12)


def test_gaussian_mean_action_equipartition():
    # <S> = tr(A C) / 2 = N / 2 with C = A^{-1} at beta = 1.
    system = Phi4(L=3, m2=2.0, lam=0.0)
    matrix = dense_action_matrix(system)
    covariance = np.linalg.inv(matrix)
    assert system.exact_expectations(1.0)["energy"] == pytest.approx(0.5 * np.trace(matrix @ covariance), rel=1e-12)


class GridPhi4:
    """phi^4 on the 2 x 2 lattice on a tensor grid: ln Z by quadrature and exact draws from the grid.

    Sites are numbered 0 = (0, 0), 1 = (0, 1), 2 = (1, 0), 3 = (1, 1). On the periodic 2 x 2
    lattice the forward and backward neighbours coincide, so each of the four nearest-neighbour
    pairs enters the action twice with weight 1/2:
    S = (p0 - p1)^2 + (p2 - p3)^2 + (p0 - p2)^2 + (p1 - p3)^2 + sum_x (m2 p_x^2 / 2 + lam p_x^4 / 24).
    """

    def __init__(self, m2, lam, half_width=6.0, n_points=41):
        # The stiffest mode has variance 1 / (8 + m2); the spacing of 0.3 resolves it to ~1e-10.
        self.axis = np.linspace(-half_width, half_width, n_points)
        self.spacing = self.axis[1] - self.axis[0]
        self.m2, self.lam = m2, lam

    def log_weights(self, m2, lam, beta=1.0):
        p = [self.axis.reshape([-1 if axis == site else 1 for axis in range(4)]) for site in range(4)]
        kinetic = (p[0] - p[1]) ** 2 + (p[2] - p[3]) ** 2 + (p[0] - p[2]) ** 2 + (p[1] - p[3]) ** 2
        potential = sum(0.5 * m2 * q**2 + lam / 24.0 * q**4 for q in p)
        return (-beta * (kinetic + potential)).ravel()

    def log_partition(self):
        # The trapezoid rule converges faster than any power for smooth, rapidly decaying integrands.
        return logsumexp(self.log_weights(self.m2, self.lam)) + 4 * math.log(self.spacing)

    def sampler(self, system, beta, n_samples, random_seed=None):
        log_weights = self.log_weights(system.m2, system.lam, beta)
        probabilities = np.exp(log_weights - logsumexp(log_weights))
        rng = np.random.default_rng(random_seed)
        flat = rng.choice(probabilities.size, size=n_samples, p=probabilities)
        return self.axis[np.stack(np.unravel_index(flat, (self.axis.size,) * 4), axis=-1)]


def test_grid_quadrature_matches_gaussian_log_partition():
    grid = GridPhi4(m2=1.0, lam=0.0)
    assert grid.log_partition() == pytest.approx(exact.gaussian_log_partition(2, 1.0), abs=1e-9)


def test_grid_action_matches_energy():
    grid = GridPhi4(m2=-1.0, lam=3.0)
    rng = np.random.default_rng(0)
    flat = rng.integers(0, grid.axis.size**4, size=50)
    points = grid.axis[np.stack(np.unravel_index(flat, (grid.axis.size,) * 4), axis=-1)]
    energies = np.asarray(Phi4(2, -1.0, 3.0).energy_fn(jnp.asarray(points)))
    np.testing.assert_allclose(-grid.log_weights(-1.0, 3.0)[flat], energies, rtol=1e-12)


@pytest.mark.parametrize(("m2", "lam"), [(1.0, 2.0), (-1.0, 3.0)])
def test_thermodynamic_integration_matches_grid_quadrature(m2, lam):
    # Draws come from the grid distribution itself, so the test isolates the integration path
    # and its quadrature; the reference is the same grid's ln Z.
    grid = GridPhi4(m2=m2, lam=lam)
    estimate = phi4_log_partition(Phi4(2, m2, lam), 1.0, n_nodes=8, n_samples=4_000, sampler=grid.sampler, random_seed=5)
    reference = grid.log_partition()
    assert estimate.stderr > 0.0
    assert abs(estimate.value - reference) < 4.0 * estimate.stderr + 1e-3


def test_thermodynamic_integration_free_field_is_exact():
    estimate = Phi4(L=4, m2=1.0, lam=0.0).log_partition_estimate(1.0)
    assert estimate.value == exact.gaussian_log_partition(4, 1.0)
    assert estimate.stderr == 0.0


@pytest.mark.slow
def test_thermodynamic_integration_with_reference_sampler():
    grid = GridPhi4(m2=1.0, lam=2.0)
    estimate = Phi4(2, 1.0, 2.0).log_partition_estimate(1.0, n_nodes=6, n_samples=4_000, random_seed=7)
    assert abs(estimate.value - grid.log_partition()) < 4.0 * estimate.stderr + 1e-3


# --- quadrature: double well and many-well --------------------------------------------------


def trapezoid_log_integral(potential, beta, half_width=8.0, n_points=200_001):
    x = np.linspace(-half_width, half_width, n_points)
    log_f = -beta * potential(x)
    return logsumexp(log_f) + math.log(x[1] - x[0]), x, np.exp(log_f - logsumexp(log_f))


def test_many_well_log_partition():
    # Midgley et al., Flow annealed importance sampling bootstrap (arXiv:2111.11510), reference
    # code fab-torch, DoubleWellEnergy.log_Z_2D: Z of the quartic coordinate is 11784.50927 and the
    # Gaussian one contributes ln(2 pi) / 2; ManyWellEnergy.log_Z multiplies by the 16 pairs.
    published = 16 * (math.log(11784.50927) + 0.5 * math.log(2.0 * math.pi))
    log_partition = ManyWell(dim=32).exact_log_partition(1.0)
    assert log_partition == pytest.approx(published, rel=1e-9)
    assert abs(log_partition - 164.6957) < 5e-5

    log_quartic, *_ = trapezoid_log_integral(lambda x: x**4 - 6 * x**2 - 0.5 * x, 1.0)
    assert log_partition == pytest.approx(16 * (log_quartic + 0.5 * math.log(2.0 * math.pi)), rel=1e-12)


@pytest.mark.parametrize("beta", [0.5, 1.0, 2.0])
def test_double_well_matches_trapezoid(beta):
    system = DoubleWell(dim=3, a=0.3, b=-4.0, c=1.0)

    def potential(x):
        return 0.3 * x - 4.0 * x**2 + x**4

    log_quartic, x, probabilities = trapezoid_log_integral(potential, beta)
    expected_log_partition = log_quartic + math.log(2.0 * math.pi / beta)
    assert system.exact_log_partition(beta) == pytest.approx(expected_log_partition, rel=1e-11)

    expectations = system.exact_expectations(beta)
    x1 = probabilities @ x
    quartic_energy = probabilities @ potential(x)
    quartic_variance = probabilities @ potential(x) ** 2 - quartic_energy**2
    # Two Gaussian coordinates, each with <x^2/2> = 1/(2 beta) and Var(x^2/2) = 1/(2 beta^2).
    energy = quartic_energy + 1.0 / beta
    assert expectations["x1"] == pytest.approx(x1, abs=1e-10)
    assert expectations["x1_sq"] == pytest.approx(probabilities @ x**2, rel=1e-10)
    assert expectations["mean_coordinate"] == pytest.approx(x1 / 3, abs=1e-10)
    assert expectations["energy"] == pytest.approx(energy, rel=1e-10)
    assert expectations["energy_sq"] == pytest.approx(quartic_variance + 1.0 / beta**2 + energy**2, rel=1e-10)


def test_many_well_expectations_match_trapezoid():
    system = ManyWell(dim=4)

    def potential(x):
        return x**4 - 6 * x**2 - 0.5 * x

    _, x, probabilities = trapezoid_log_integral(potential, 1.0)
    expectations = system.exact_expectations(1.0)
    pair_energy = probabilities @ potential(x) + 0.5
    pair_variance = probabilities @ potential(x) ** 2 - (pair_energy - 0.5) ** 2 + 0.5
    assert expectations["x1"] == pytest.approx(probabilities @ x, rel=1e-10)
    assert expectations["energy"] == pytest.approx(2 * pair_energy, rel=1e-10)
    assert expectations["energy_sq"] == pytest.approx(2 * pair_variance + (2 * pair_energy) ** 2, rel=1e-10)
