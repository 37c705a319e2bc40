"""The scripts in examples/ run at their --tiny sizes and give answers consistent with exact values."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def load_example(name):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_van_ising_data_free_energy(capsys):
    table = load_example("van_ising_data").main(tiny=True)
    row = table.loc["free_energy_per_site"]
    # The exact column is Kaufman's / the enumeration's F / N of the 3 x 3 lattice.
    assert abs(row["reweighted"] - row["exact"]) < 4 * row["mcse"]
    assert "free_energy_per_site" in capsys.readouterr().out


def test_van_ising_energy_gibbs_bound():
    result = load_example("van_ising_energy").main(tiny=True)
    beta = 0.3
    f_q = np.asarray(result["reweighting_draws"]["variational_free_energy"])
    f_q_se = np.asarray(result["reweighting_draws"]["variational_free_energy_se"])
    import pymc_boltzmann as pmb

    # Gibbs-Bogoliubov: F_q >= F for every draw; F from the 3 x 3 enumeration.
    exact_f = -pmb.energies.Ising2D(L=3).exact_log_partition(beta) / beta
    assert np.all(f_q + 4 * f_q_se >= exact_f)


def test_realnvp_phi4_gaussian_log_partition():
    table = load_example("realnvp_phi4_nmcmc").main(tiny=True)
    row = table.loc["log_partition"]
    # At lam = 0 the exact value is the Gaussian log-determinant formula.
    assert abs(row["reweighted"] - row["exact"]) < 4 * row["mcse"]


def test_double_well_mixture_log_partition():
    row = load_example("double_well_mixture").main(tiny=True)
    # The exact value is the quadrature of the quartic factor times the Gaussian factor.
    assert abs(row["reweighted"] - row["exact"]) < 4 * row["mcse"]
