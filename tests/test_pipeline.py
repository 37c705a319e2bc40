"""The main job end to end: a reduced default run, its saved folder, and `report` on it."""

import json

import numpy as np
import pytest

from pymc_boltzmann import cli, exact
from pymc_boltzmann.config import RunConfig

# The built-in default (Ising at beta_c, MADE, data regime, NUTS, reweighting) on a 3 x 3
# lattice with few draws, so that it runs in about a minute on 2 cores.
REDUCED = (
    "--L", "3",
    "--hidden", "8",
    "--n-data", "500",
    "--train-steps", "300",
    "--draws", "40",
    "--tune", "60",
    "--chains", "2",
    "--samples-per-draw", "400",
    "--quiet",
)


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("runs") / "ising3"
    status = cli.main(["run", *REDUCED, "--output", str(folder)])
    assert status == 0
    return folder


def test_run_writes_every_output(finished_run):
    names = sorted(path.name for path in finished_run.iterdir())
    assert names == ["config.json", "plots", "report.json", "results.nc", "summary.txt"]
    plots = sorted(path.name for path in (finished_run / "plots").iterdir())
    assert "free_energy_posterior.png" in plots
    assert "log_weights.png" in plots
    assert not finished_run.with_name("ising3.partial").exists()


def test_run_free_energy_matches_kaufman(finished_run):
    report = json.loads((finished_run / "report.json").read_text())
    row = report["estimates"]["free_energy_per_site"]
    beta = RunConfig().resolved_beta()
    # Kaufman's closed form for the periodic 3 x 3 lattice at h = 0, independent of the run.
    kaufman = -float(exact.kaufman_log_partition(3, beta)) / (beta * 9)
    assert row["exact"] == pytest.approx(kaufman, rel=1e-12)
    assert abs(row["reweighted"] - kaufman) < 4 * row["mcse"]


def test_run_report_records_stages_and_diagnostics(finished_run):
    report = json.loads((finished_run / "report.json").read_text())
    assert set(report["timings_s"]) == {"data", "training", "sampling", "reweighting"}
    assert report["config"]["L"] == 3
    assert "variational_free_energy" in report["posterior_diagnostics"]
    assert np.isfinite(report["posterior_diagnostics"]["variational_free_energy"]["rhat"])
    assert isinstance(report["posterior_diagnostics"]["converged"], bool)


def test_report_rebuilds_same_json(finished_run, capsys):
    before = json.loads((finished_run / "report.json").read_text())
    status = cli.main(["report", str(finished_run)])
    assert status == 0
    after = json.loads((finished_run / "report.json").read_text())
    assert after == before
    assert "free_energy_per_site" in capsys.readouterr().out


def test_report_on_incomplete_folder_exits_2(tmp_path, capsys):
    status = cli.main(["report", str(tmp_path)])
    assert status == 2
    assert "config.json is missing" in capsys.readouterr().err


def test_mixture_network_on_double_well(tmp_path):
    folder = tmp_path / "well"
    tiny = ("--draws", "20", "--tune", "30", "--chains", "2", "--samples-per-draw", "300",
            "--n-data", "300", "--train-steps", "200", "--quiet")
    status = cli.main(["run", "--system", "double-well", "--network", "mixture", *tiny, "--output", str(folder)])
    assert status == 0
    report = json.loads((folder / "report.json").read_text())
    row = report["estimates"]["log_partition"]
    # The exact value is the quadrature of the quartic factor times the Gaussian factor.
    assert row["exact"] == pytest.approx(exact.quartic_moments(0.0, -4.0, 1.0)[0] + 0.5 * np.log(2 * np.pi))
    assert np.isfinite(row["reweighted"])


def test_force_replaces_finished_run_only_on_success(finished_run, tmp_path, capsys):
    copy = tmp_path / "copy"
    copy.mkdir()
    (copy / "keep.txt").write_text("earlier results")
    status = cli.main(["run", *REDUCED, "--output", str(copy), "--force", "--draws", "0"])
    assert status == 2
    assert (copy / "keep.txt").read_text() == "earlier results"
