"""Tests of the binary alloy: energy, short-range order, exact enumeration, swap Monte Carlo, input checks."""

import itertools
import math

import numpy as np
import pytest
from scipy.special import logsumexp

from pymc_boltzmann.energies.alloy import BinaryAlloy

COUPLINGS = (1.0, -0.5, 0.25)


def brute_force_energy(spins, L, couplings, constant=0.0):
    """Sum J_k s_i s_j over all unordered pairs i < j by their periodic (minimum-image) distance."""
    shell_of_distance_sq = {1: 0, 2: 1, 4: 2}
    lattice = spins.reshape(L, L)
    energy = constant
    for i, j in itertools.combinations(range(L * L), 2):
        (yi, xi), (yj, xj) = divmod(i, L), divmod(j, L)
        dy = min(abs(yi - yj), L - abs(yi - yj))
        dx = min(abs(xi - xj), L - abs(xi - xj))
        shell = shell_of_distance_sq.get(dy * dy + dx * dx)
        if shell is not None:
            energy += couplings[shell] * lattice[yi, xi] * lattice[yj, xj]
    return energy


def all_configurations(n_sites, n_a):
    """Every configuration with n_a sites +1, from itertools (independent of the bit enumeration)."""
    configurations = []
    for sites in itertools.combinations(range(n_sites), n_a):
        spins = -np.ones(n_sites)
        spins[list(sites)] = 1.0
        configurations.append(spins)
    return np.array(configurations)


@pytest.mark.parametrize("L", [5, 6])
def test_energy_matches_pair_sum(L):
    alloy = BinaryAlloy(L, n_a=L * L // 2, couplings=COUPLINGS, constant=0.7)
    x = alloy.random_configurations(3, random_seed=L)
    expected = [brute_force_energy(spins, L, COUPLINGS, constant=0.7) for spins in x]
    np.testing.assert_allclose(np.asarray(alloy.energy(x)), expected, rtol=1e-12)


def test_short_range_order_counts_pairs():
    # Warren-Cowley alpha_1 = 1 - P(B | A) / c_B, with P(B | A) counted directly from the lattice.
    alloy = BinaryAlloy(5, n_a=12, couplings=COUPLINGS)
    spins = alloy.random_configurations(1, random_seed=3)[0]
    lattice = spins.reshape(5, 5)
    unlike = 0
    for dy, dx in ((0, 1), (0, -1), (1, 0), (-1, 0)):
        neighbour = np.roll(lattice, (dy, dx), axis=(0, 1))
        unlike += np.sum((lattice == 1) & (neighbour == -1))
    expected = 1.0 - (unlike / (4 * 12)) / (13 / 25)
    assert float(alloy.observables(spins)["sro_1"]) == pytest.approx(expected, rel=1e-12)


def test_enumeration_matches_brute_force_4x4():
    # Reference: direct sum over all C(16, 8) = 12870 configurations listed by itertools.
    alloy = BinaryAlloy(4, n_a=8, couplings=(0.8, -0.3))
    beta = 0.7
    x = all_configurations(16, 8)
    energies = np.asarray(alloy.energy(x))
    log_weights = -beta * energies
    probabilities = np.exp(log_weights - logsumexp(log_weights))
    observables = alloy.observables(x)
    exact = alloy.exact_expectations(beta)

    assert alloy.exact_log_partition(beta) == pytest.approx(logsumexp(log_weights), rel=1e-12)
    for key in ("energy_per_site", "sro_1", "sro_2", "sro_3"):
        assert exact[key] == pytest.approx(float(probabilities @ np.asarray(observables[key])), abs=1e-12)


def test_enumeration_5x5_counts_and_random_limit():
    # C(25, 12) = 5,200,300 states. At infinite temperature the sites are a random draw without
    # replacement, so P(B neighbour | A site) = n_B / (N - 1) and alpha_k = -1 / (N - 1).
    alloy = BinaryAlloy(5, n_a=12, couplings=COUPLINGS)
    _, counts = alloy.density_of_states()
    exact = alloy.exact_expectations(1e-12)

    assert counts.sum() == math.comb(25, 12)
    assert alloy.exact_log_partition(1e-12) == pytest.approx(math.log(math.comb(25, 12)), abs=1e-9)
    for key in ("sro_1", "sro_2", "sro_3"):
        assert exact[key] == pytest.approx(-1.0 / 24.0, abs=1e-9)


def test_reference_sample_matches_enumeration():
    alloy = BinaryAlloy(5, n_a=13, couplings=COUPLINGS)
    beta = 0.4
    x = alloy.reference_sample(beta, 1600, random_seed=11)
    exact = alloy.exact_expectations(beta)
    observables = alloy.observables(x)

    assert x.shape == (1600, 25)
    assert np.all(x.sum(axis=1) == 13 - 12)
    for key in ("energy_per_site", "sro_1", "sro_2", "sro_3"):
        values = np.asarray(observables[key])
        standard_error = values.std(ddof=1) / np.sqrt(len(values))
        assert abs(values.mean() - exact[key]) < 4 * standard_error, key


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"concentration": 0.0}, r"concentration=0.0 is invalid: expected a fraction .* strictly between 0 and 1"),
        ({"concentration": 1.2}, r"concentration=1.2 is invalid"),
        ({"concentration": 0.3}, r"concentration=0.3 is not realizable on N=25 sites: c N = 7.5 .* 7/25 = 0.28 and 8/25 = 0.32"),
        ({"n_a": 25}, r"n_a=25 is invalid: expected an integer number of A atoms between 1 and 24"),
        ({"n_a": 12, "concentration": 0.48}, r"expected exactly one of them"),
        ({"n_a": 12, "couplings": (1.0, 2.0, 3.0, 4.0)}, r"couplings=\(1.0, 2.0, 3.0, 4.0\) is invalid"),
    ],
)
def test_invalid_composition_and_couplings(kwargs, message):
    with pytest.raises(ValueError, match=message):
        BinaryAlloy(5, **kwargs)


def test_third_shell_needs_l5():
    with pytest.raises(ValueError, match=r"L=4 is invalid with a third-shell coupling J3=0.25: .* Use L >= 5"):
        BinaryAlloy(4, n_a=8, couplings=COUPLINGS)


def test_third_shell_allowed_without_j3_at_l4():
    alloy = BinaryAlloy(4, concentration=0.5, couplings=(1.0, 0.5))
    assert alloy.n_a == 8


def test_energy_rejects_wrong_composition():
    alloy = BinaryAlloy(5, n_a=12, couplings=COUPLINGS)
    with pytest.raises(ValueError, match=r"number of A atoms \(s = \+1\) is not n_a=12, e.g. 25"):
        alloy.energy(np.ones(25))
