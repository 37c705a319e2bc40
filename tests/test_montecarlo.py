"""Statistical and input checks of the reference Monte Carlo samplers.

Every reference value comes from exact enumeration of all states, one-dimensional quadrature
or a Gaussian closed form. Every tolerance is 4 standard errors of the Monte Carlo estimate,
and the standard error comes from ArviZ's effective sample size of the draws.
"""

import logging
import math

import arviz_stats
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.integrate

from pymc_boltzmann.energies import BoltzmannSystem, Ising2D
from pymc_boltzmann.montecarlo import integrated_autocorrelation_time, reference_sample

BETA_CRITICAL = math.log1p(math.sqrt(2.0)) / 2.0
CHAINS = 8


class DenseSpinGlass(BoltzmannSystem):
    """E(s) = -sum_{i<j} J_ij s_i s_j with fixed Gaussian couplings, a stand-in for a generic spin system."""

    sample_space = "spin"

    def __init__(self, n, seed):
        couplings = np.random.default_rng(seed).normal(0.0, 1.0 / math.sqrt(n), (n, n))
        self.couplings = np.triu(couplings, 1)
        self.n_sites = n
        self.shape = (n,)

    def energy_fn(self, x):
        return -jnp.einsum("...i,ij,...j->...", x, self.couplings, x)

    def observables_fn(self, x):
        return {"energy": self.energy_fn(x)}


class DoubleWell2D(BoltzmannSystem):
    """E(x) = -4 x_1^2 + x_1^4 + x_2^2 / 2: a quartic double well and a standard Gaussian coordinate."""

    sample_space = "real"
    n_sites = 2
    shape = (2,)

    def energy_fn(self, x):
        return -4.0 * x[..., 0] ** 2 + x[..., 0] ** 4 + 0.5 * x[..., 1] ** 2

    def observables_fn(self, x):
        return {"energy": self.energy_fn(x)}


class CorrelatedGaussian(BoltzmannSystem):
    """E(x) = x^T A x / 2, so that x ~ Normal(0, A^-1 / beta)."""

    sample_space = "real"
    n_sites = 3
    shape = (3,)
    precision = np.array([[2.0, 0.5, 0.0], [0.5, 1.0, 0.3], [0.0, 0.3, 4.0]])

    def energy_fn(self, x):
        return 0.5 * jnp.einsum("...i,ij,...j->...", x, self.precision, x)

    def observables_fn(self, x):
        return {"energy": self.energy_fn(x)}


class OccupationNumberSystem(CorrelatedGaussian):
    """A system whose sample space (occupation numbers) no reference sampler supports."""

    sample_space = "occupation"


def all_spin_states(n_sites):
    """Return every configuration of n_sites spins, shape (2^n_sites, n_sites)."""
    bits = (np.arange(2**n_sites)[:, None] >> np.arange(n_sites)) & 1
    return (2 * bits - 1).astype(np.float64)


def enumerate_expectations(energies, states, beta):
    """Return exact Boltzmann averages of E per site, |M| per site and M per site over all states."""
    weights = np.exp(-beta * (energies - energies.min()))
    weights /= weights.sum()
    magnetization = states.mean(axis=1)
    return {
        "energy_per_site": float(weights @ energies) / states.shape[1],
        "abs_magnetization": float(weights @ np.abs(magnetization)),
        "magnetization": float(weights @ magnetization),
    }


def ising_enumeration(L, beta, J=1.0, h=0.0, boundary="periodic"):
    """Exact expectations of an L x L Ising lattice by summing over all 2^(L^2) states with NumPy."""
    states = all_spin_states(L * L)
    lattice = states.reshape(-1, L, L)
    if boundary == "periodic":
        bonds = np.sum(lattice * np.roll(lattice, -1, axis=2) + lattice * np.roll(lattice, -1, axis=1), axis=(1, 2))
    else:
        horizontal = np.sum(lattice[:, :, :-1] * lattice[:, :, 1:], axis=(1, 2))
        vertical = np.sum(lattice[:, :-1, :] * lattice[:, 1:, :], axis=(1, 2))
        bonds = horizontal + vertical
    energies = -J * bonds - h * states.sum(axis=1)
    return enumerate_expectations(energies, states, beta)


def mean_and_standard_error(values, chains=CHAINS):
    """Return the sample mean and its standard error std / sqrt(ESS) of draws in draw-major order."""
    values = np.asarray(values, dtype=np.float64)
    by_chain = values.reshape(-1, chains).T
    ess = float(arviz_stats.ess(by_chain, method="mean", chain_axis=0, draw_axis=1))
    effective = min(ess, values.size)
    return values.mean(), values.std(ddof=1) / math.sqrt(effective)


def assert_within_four_standard_errors(values, exact, label):
    mean, standard_error = mean_and_standard_error(values)
    assert abs(mean - exact) < 4.0 * standard_error, (
        f"{label}: Monte Carlo {mean:.5f} +- {standard_error:.5f}, exact {exact:.5f}"
    )


@pytest.fixture(scope="module")
def critical_run():
    ising = Ising2D(L=4)
    samples, diagnostics = reference_sample(
        ising, BETA_CRITICAL, 4000, random_seed=11, chains=CHAINS, return_diagnostics=True
    )
    return ising, samples, diagnostics


def test_wolff_energy_at_critical_beta(critical_run):
    ising, samples, diagnostics = critical_run
    exact = ising_enumeration(4, BETA_CRITICAL)
    energy_per_site = np.asarray(ising.energy(samples)) / ising.n_sites

    assert diagnostics["method"] == "wolff"
    assert samples.shape == (4000, 16)
    assert samples.dtype == np.float64
    assert_within_four_standard_errors(energy_per_site, exact["energy_per_site"], "<E>/N")


def test_wolff_abs_magnetization_at_critical_beta(critical_run):
    _, samples, _ = critical_run
    exact = ising_enumeration(4, BETA_CRITICAL)

    assert_within_four_standard_errors(np.abs(samples.mean(axis=1)), exact["abs_magnetization"], "<|M|>/N")


def test_thinning_follows_autocorrelation(critical_run):
    _, _, diagnostics = critical_run
    tau = diagnostics["tau"]

    assert set(tau) == {"energy", "magnetization", "abs_magnetization"}
    assert diagnostics["thin"] == max(1, math.ceil(2.0 * max(tau.values())))
    assert diagnostics["pilot_steps"] >= 100 * max(tau.values())
    # Draws 2 tau apart are nearly independent, so their own autocorrelation time is close to 1.
    for value in diagnostics["tau_thinned"].values():
        assert value < 1.5
    assert diagnostics["acceptance_rate"] == 1.0
    assert 1.0 <= diagnostics["mean_cluster_size"] <= 16.0
    assert diagnostics["wall_time"] > 0.0


def test_autocorrelation_times_are_logged(caplog):
    ising = Ising2D(L=2)
    with caplog.at_level(logging.INFO, logger="pymc_boltzmann.montecarlo"):
        reference_sample(ising, 0.4, 40, random_seed=2, chains=4, burn_in=10)

    messages = [record.getMessage() for record in caplog.records]
    assert any("integrated autocorrelation times energy=" in message for message in messages)
    assert any("abs_magnetization=" in message for message in messages)


def test_wolff_high_temperature():
    ising = Ising2D(L=4)
    samples = reference_sample(ising, 0.3, 4000, random_seed=5, chains=CHAINS)
    exact = ising_enumeration(4, 0.3)

    energy_per_site = np.asarray(ising.energy(samples)) / ising.n_sites
    assert_within_four_standard_errors(energy_per_site, exact["energy_per_site"], "<E>/N")
    assert_within_four_standard_errors(np.abs(samples.mean(axis=1)), exact["abs_magnetization"], "<|M|>/N")


@pytest.mark.parametrize(
    ("L", "J", "boundary", "beta"),
    [
        (3, -1.0, "open", 0.5),  # antiferromagnet without periodic wrap: satisfied bonds are antiparallel
        (2, 1.0, "periodic", 0.4),  # L = 2 counts every pair twice, so each pair carries coupling 2J
    ],
)
def test_wolff_small_lattices(L, J, boundary, beta):
    ising = Ising2D(L=L, J=J, boundary=boundary)
    samples = reference_sample(ising, beta, 2000, random_seed=7, chains=CHAINS, burn_in=100)
    exact = ising_enumeration(L, beta, J=J, boundary=boundary)

    energy_per_site = np.asarray(ising.energy(samples)) / ising.n_sites
    assert_within_four_standard_errors(energy_per_site, exact["energy_per_site"], "<E>/N")
    assert_within_four_standard_errors(np.abs(samples.mean(axis=1)), exact["abs_magnetization"], "<|M|>/N")


def test_checkerboard_in_field():
    # Periodic 3 x 3 needs three colours, because columns 0 and 2 are neighbours of equal parity.
    ising = Ising2D(L=3, h=0.3)
    samples, diagnostics = reference_sample(
        ising, 0.4, 4000, random_seed=3, chains=CHAINS, burn_in=100, return_diagnostics=True
    )
    exact = ising_enumeration(3, 0.4, h=0.3)

    assert diagnostics["method"] == "checkerboard"
    assert 0.0 < diagnostics["acceptance_rate"] < 1.0
    energy_per_site = np.asarray(ising.energy(samples)) / ising.n_sites
    assert_within_four_standard_errors(energy_per_site, exact["energy_per_site"], "<E>/N")
    assert_within_four_standard_errors(samples.mean(axis=1), exact["magnetization"], "<M>/N")


def test_metropolis_dense_spin_glass():
    glass = DenseSpinGlass(8, seed=4)
    beta = 1.5
    samples, diagnostics = reference_sample(
        glass, beta, 4000, random_seed=9, chains=CHAINS, burn_in=100, return_diagnostics=True
    )
    states = all_spin_states(8)
    exact = enumerate_expectations(np.asarray(glass.energy_fn(states)), states, beta)

    assert diagnostics["method"] == "metropolis"
    energy_per_site = np.asarray(glass.energy(samples)) / glass.n_sites
    assert_within_four_standard_errors(energy_per_site, exact["energy_per_site"], "<E>/n")
    assert_within_four_standard_errors(np.abs(samples.mean(axis=1)), exact["abs_magnetization"], "<|m|>")
    # E(-s) = E(s) without a field, so the mirror halves carry equal weight and <m> = 0.
    assert_within_four_standard_errors(samples.mean(axis=1), 0.0, "<m>")


def test_hmc_double_well():
    samples, diagnostics = reference_sample(
        DoubleWell2D(), 1.0, 4000, random_seed=1, chains=CHAINS, burn_in=300, return_diagnostics=True
    )
    weight = lambda y: np.exp(4.0 * y**2 - y**4)  # noqa: E731
    norm = scipy.integrate.quad(weight, -np.inf, np.inf)[0]
    second_moment = scipy.integrate.quad(lambda y: y**2 * weight(y), -np.inf, np.inf)[0] / norm

    assert diagnostics["method"] == "hmc"
    assert 0.6 < diagnostics["acceptance_rate"] < 0.98
    # <x_1^2> by quadrature of exp(4 y^2 - y^4); the Gaussian coordinate has <x_2^2> = 1.
    assert_within_four_standard_errors(samples[:, 0] ** 2, second_moment, "<x_1^2>")
    # E is even in x_1, so both wells carry weight 1/2 and <x_1> = 0.
    assert_within_four_standard_errors(samples[:, 0], 0.0, "<x_1>")
    assert_within_four_standard_errors(samples[:, 1] ** 2, 1.0, "<x_2^2>")


def test_hmc_gaussian_covariance_trace():
    beta = 2.0
    system = CorrelatedGaussian()
    samples = reference_sample(system, beta, 4000, random_seed=4, chains=CHAINS, burn_in=300)
    # x ~ Normal(0, A^-1 / beta), so E|x|^2 = trace(A^-1) / beta.
    exact_trace = np.trace(np.linalg.inv(system.precision)) / beta

    assert_within_four_standard_errors(np.sum(samples**2, axis=1), exact_trace, "E|x|^2")


def test_seeded_runs_are_reproducible():
    glass = DenseSpinGlass(4, seed=0)
    first = reference_sample(glass, 1.0, 64, random_seed=21, chains=4, thin=2, burn_in=10)
    again = glass.reference_sample(1.0, 64, random_seed=21, chains=4, thin=2, burn_in=10, progressbar=True)
    other = reference_sample(glass, 1.0, 64, random_seed=22, chains=4, thin=2, burn_in=10)

    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)


def test_autocorrelation_time_of_ar1_process():
    # An AR(1) series x_t = rho x_{t-1} + noise has tau_int = (1 + rho) / (1 - rho) = 9 at rho = 0.8.
    rho, chains, draws = 0.8, 4, 20_000
    rng = np.random.default_rng(0)
    noise = rng.normal(size=(chains, draws)) * math.sqrt(1.0 - rho**2)
    series = np.empty((chains, draws))
    series[:, 0] = rng.normal(size=chains)
    for t in range(1, draws):
        series[:, t] = rho * series[:, t - 1] + noise[:, t]

    # Relative standard error of tau from a window of about 5 tau over 80 000 draws is about 5%.
    assert integrated_autocorrelation_time(series) == pytest.approx(9.0, rel=0.2)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_samples": 0}, r"n_samples=0 is invalid: expected an integer of at least 1"),
        ({"beta": -1.0}, r"beta=-1.0 is invalid: expected a finite positive inverse temperature"),
        ({"beta": float("nan")}, r"beta=nan is invalid"),
        ({"chains": 0}, r"chains=0 is invalid"),
        ({"thin": 0}, r"thin=0 is invalid"),
        ({"burn_in": -5}, r"burn_in=-5 is invalid"),
        ({"method": "gibbs"}, r"method='gibbs' is invalid: expected one of \('wolff'"),
        ({"method": "hmc"}, r"sample_space='spin' is invalid for HMC: expected 'real'"),
        ({"random_seed": 1.5}, r"random_seed=1.5 is invalid"),
    ],
)
def test_invalid_arguments(kwargs, message):
    arguments = {"beta": 0.4, "n_samples": 10, **kwargs}
    with pytest.raises(ValueError, match=message):
        reference_sample(Ising2D(L=2), arguments.pop("beta"), arguments.pop("n_samples"), **arguments)


def test_autocorrelation_time_rejects_short_trace():
    with pytest.raises(ValueError, match=r"trace has shape \(2, 3\), expected \(chains, draws\) with at least 4 draws"):
        integrated_autocorrelation_time(np.zeros((2, 3)))


def test_unknown_sample_space():
    message = r"system.sample_space='occupation' is invalid: expected one of \('spin', 'real'\)"
    with pytest.raises(ValueError, match=message):
        reference_sample(OccupationNumberSystem(), 1.0, 10)


def test_hmc_rejects_step_size():
    with pytest.raises(ValueError, match=r"step_size=-0.1 is invalid: expected a finite positive number"):
        reference_sample(CorrelatedGaussian(), 1.0, 10, sampler_kwargs={"step_size": -0.1})


def test_wolff_rejects_field():
    with pytest.raises(ValueError, match=r"system.h=0.5 is invalid for the Wolff algorithm"):
        reference_sample(Ising2D(L=2, h=0.5), 0.4, 10, method="wolff")


def test_metropolis_rejects_real_system():
    with pytest.raises(ValueError, match=r"sample_space='real' is invalid for spin-flip Metropolis"):
        reference_sample(CorrelatedGaussian(), 1.0, 10, method="metropolis")


@pytest.mark.slow
@pytest.mark.parametrize("method", ["wolff", "checkerboard"])
def test_larger_lattice_matches_kaufman(method):
    # Kaufman's finite-lattice ln Z and its beta derivative give the exact <E> of the periodic 16 x 16 lattice.
    ising = Ising2D(L=16)
    samples = reference_sample(ising, ising.critical_beta, 4000, random_seed=0, chains=CHAINS, method=method)
    exact_energy = ising.exact_expectations(ising.critical_beta)["energy_per_site"]

    energy_per_site = np.asarray(ising.energy(samples)) / ising.n_sites
    assert_within_four_standard_errors(energy_per_site, exact_energy, "<E>/N")
