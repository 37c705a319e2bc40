"""Command line: argument errors, exit codes, exact references and the output folder rules."""

import json
import math
import os
import stat

import pytest

from pymc_boltzmann import cli
from pymc_boltzmann.config import ConfigError, RunConfig, load_toml, make_config


def run_cli(capsys, *argv):
    status = cli.main(list(argv))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("run", "--system", "potts"), "invalid choice: 'potts'"),
        (("run", "--L", "1"), "L=1 is invalid"),
        (("run", "--beta", "-1"), "beta=-1.0 is invalid"),
        (("run", "--beta", "hot"), "beta='hot' is invalid"),
        (("run", "--draws", "0"), "draws=0 is invalid"),
        (("run", "--samples-per-draw", "1"), "samples_per_draw=1 is invalid"),
        (("run", "--system", "phi4", "--network", "made"), "does not match system='phi4'"),
        (("run", "--system", "sk", "--beta", "critical"), "only defined for the Ising model"),
        (("run", "--hidden", "16,0"), "hidden='16,0' is invalid"),
        (("run", "--kernel", "sgld"), "kernel='sgld' needs --step-size"),
        (("run", "--step-size", "-0.1"), "step_size=-0.1 is invalid"),
        (("run", "--n-data", "1"), "n_data=1 is invalid"),
        (("run", "--config", "."), "is a folder"),
    ],
)
def test_bad_option_exits_2(capsys, tmp_path, monkeypatch, argv, message):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as raised:
        status = cli.main(list(argv))
        raise SystemExit(status)
    captured = capsys.readouterr()
    assert raised.value.code == 2
    assert message in captured.err
    assert list(tmp_path.iterdir()) == []


def test_unwritable_output_exits_2(capsys, tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    status, _, err = run_cli(capsys, "run", "--output", str(blocker / "run"))
    assert status == 2
    assert "is a file, not a folder" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_file"]


def test_existing_output_needs_force(capsys, tmp_path):
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / "keep.txt").write_text("earlier results")
    status, _, err = run_cli(capsys, "run", "--output", str(folder))
    assert status == 2
    assert "already exists; pass --force" in err
    assert (folder / "keep.txt").read_text() == "earlier results"


def test_config_file_values_and_precedence(tmp_path):
    path = tmp_path / "run.toml"
    path.write_text('[run]\nsystem = "ising"\nL = 3\nbeta = 0.3\nsamples-per-draw = 50\n')
    values = load_toml(path)
    config = make_config(values)
    assert config.L == 3
    assert config.samples_per_draw == 50
    assert config.resolved_beta() == 0.3


def test_config_rejects_unknown_key(tmp_path):
    path = tmp_path / "run.toml"
    path.write_text("temperature = 2.0\n")
    with pytest.raises(ConfigError, match=r"unknown options \['temperature'\]"):
        make_config(load_toml(path))


def test_config_file_missing():
    with pytest.raises(ConfigError, match="was not found"):
        load_toml("/nonexistent/run.toml")


def test_default_beta_is_onsager_critical_point():
    # Onsager (1944): sinh(2 beta_c J) = 1, so beta_c = ln(1 + sqrt 2) / 2 for J = 1.
    assert RunConfig().resolved_beta() == pytest.approx(math.log(1 + math.sqrt(2)) / 2, rel=1e-15)


def test_config_rejects_keys_outside_run_table(tmp_path):
    path = tmp_path / "run.toml"
    path.write_text("L = 3\n[run]\nL = 4\n")
    with pytest.raises(ConfigError, match=r"options \['L'\] outside its \[run\] table"):
        load_toml(path)


def test_report_on_corrupt_config_exits_1(capsys, tmp_path):
    for name in ("config.json", "report.json", "results.nc"):
        (tmp_path / name).write_text("{not json")
    status, _, err = run_cli(capsys, "report", str(tmp_path))
    assert status == 1
    assert "is corrupt" in err


def test_report_on_missing_folder_says_not_found(capsys, tmp_path):
    status, _, err = run_cli(capsys, "report", str(tmp_path / "absent"))
    assert status == 2
    assert "was not found" in err


def test_atomic_write_uses_umask_mode(tmp_path):
    from pymc_boltzmann._io import write_json

    previous = os.umask(0o022)
    try:
        write_json(tmp_path / "report.json", {"a": 1})
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "report.json").stat().st_mode) == 0o644
    assert json.loads((tmp_path / "report.json").read_text()) == {"a": 1}


def test_convergence_check_flags_rhat_and_divergences(caplog):
    from pymc_boltzmann.report import MAX_RHAT, _check_convergence

    good = {"divergences": 0, "variational_free_energy": {"rhat": 1.0}}
    bad_rhat = {"divergences": 0, "variational_free_energy": {"rhat": MAX_RHAT + 0.5}}
    nan_rhat = {"divergences": 0, "mean_energy": {"rhat": float("nan")}}
    divergent = {"divergences": 3, "variational_free_energy": {"rhat": 1.0}}
    assert _check_convergence(good) is True
    assert _check_convergence(bad_rhat) is False
    assert _check_convergence(nan_rhat) is False
    assert _check_convergence(divergent) is False
    assert "R-hat of variational_free_energy is 1.550" in caplog.text
    assert "3 divergent transitions" in caplog.text
