"""The stages of a command-line run and the output folder they fill.

A run writes into ``OUTPUT.partial`` and renames it to ``OUTPUT`` only when every stage has
finished, so an interrupted or failed run never touches the results of an earlier run. The
files of completed stages stay in ``OUTPUT.partial`` for inspection.
"""

import contextlib
import json
import logging
import os
import shutil
import tempfile
import time
import uuid
from pathlib import Path

from pymc_boltzmann._io import save_datatree, write_json, write_text
from pymc_boltzmann.config import ConfigError, make_config

logger = logging.getLogger(__name__)

RESULTS_FILE = "results.nc"
REPORT_FILE = "report.json"
CONFIG_FILE = "config.json"
TABLE_FILE = "summary.txt"
REFERENCE_SET_SIZE = 4096


class RunFailed(RuntimeError):
    """A stage of a run raised; the message names the stage and the cause."""

    def __init__(self, stage, cause):
        super().__init__(f"run failed in stage {stage!r}: {type(cause).__name__}: {cause}")
        self.stage = stage
        self.cause = cause


def build_system(config):
    """Create the Boltzmann system named by ``config.system``."""
    from pymc_boltzmann import energies

    builders = {
        "ising": lambda: energies.Ising2D(L=config.L, J=config.J, h=config.h),
        "sk": lambda: energies.SherringtonKirkpatrick(n=config.n, random_seed=config.seed),
        "phi4": lambda: energies.Phi4(L=config.L, m2=config.m2, lam=config.lam),
        "double-well": lambda: energies.DoubleWell(dim=config.dim),
        "many-well": lambda: energies.ManyWell(dim=32),
    }
    try:
        return builders[config.system]()
    except ValueError as error:
        raise ConfigError(str(error)) from None


def build_network_factory(config, system):
    """Return ``factory(name) -> Network`` for ``config.network`` sized for ``system``."""
    from pymc_boltzmann import networks

    hidden = tuple(config.hidden)
    factories = {
        "made": lambda name: networks.MADE(name, n_sites=system.n_sites, hidden=hidden, z2=config.h == 0.0),
        "mean-field": lambda name: networks.MeanFieldSpins(name, n_sites=system.n_sites),
        "realnvp": lambda name: networks.RealNVP(name, shape=system.shape, hidden=hidden),
        "diagonal-gaussian": lambda name: networks.DiagonalGaussian(name, n_sites=system.n_sites),
        "mixture": lambda name: networks.GaussianMixtureDensity(name, n_sites=system.n_sites, n_components=2),
    }
    return factories[config.network]


def check_output_folder(folder, force):
    """Raise :class:`ConfigError` if ``folder`` exists without ``force`` or cannot be written."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise ConfigError(f"output path {str(folder)!r} exists and is not a folder; choose another --output.")
    if folder.exists() and not force:
        raise ConfigError(
            f"output folder {str(folder)!r} already exists; pass --force to replace it once the "
            "new run has finished, or choose another --output."
        )
    ancestor = folder.resolve().parent
    while not ancestor.exists():
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise ConfigError(
            f"output folder {str(folder)!r} cannot be created: {str(ancestor)!r} is a file, not a "
            "folder. Choose another --output."
        )
    # Root passes every os.access check, so probe by creating a folder for real.
    try:
        probe = tempfile.mkdtemp(prefix=".pymc_boltzmann-probe-", dir=ancestor)
    except OSError as error:
        raise ConfigError(
            f"output folder {str(folder)!r} cannot be created: {str(ancestor)!r} is not writable "
            f"({error.strerror}). Choose a writable --output."
        ) from None
    os.rmdir(probe)


class _StageClock:
    """Time each stage, log its wall time, and wrap its errors in :class:`RunFailed`."""

    def __init__(self):
        self.timings = {}

    @contextlib.contextmanager
    def stage(self, name):
        logger.info("stage %s: started", name)
        start = time.perf_counter()
        try:
            yield
        except (KeyboardInterrupt, RunFailed, ConfigError):
            raise
        except Exception as error:
            logger.exception("stage %s failed", name)
            raise RunFailed(name, error) from error
        self.timings[name] = time.perf_counter() - start
        logger.info("stage %s: finished in %.1f s", name, self.timings[name])


def _fit_point_estimate(config, system, beta, factory, data, progressbar):
    from pymc_boltzmann import training

    network = factory("q")
    if config.regime == "data":
        params, history = training.fit_data(
            network, data, steps=config.train_steps, random_seed=config.seed + 1, progressbar=progressbar
        )
    else:
        params, history = training.fit_energy(
            network, system, beta, steps=config.train_steps, random_seed=config.seed + 1, progressbar=progressbar
        )
    return params, history


def _build_model(config, system, beta, factory, data, params):
    from pymc_boltzmann import models

    if config.regime == "data":
        # Networks whose F_q can be neither enumerated nor reparameterized estimate it by
        # importance sampling from the training data, drawn from p itself.
        reference = models.ReferenceSet.from_boltzmann_sample(system, beta, data)
        return models.data_model(
            factory, data, system=system, beta=beta, reference=reference, random_seed=config.seed + 2
        )

    # Spin systems too large to enumerate and non-reparameterized networks estimate F_q by
    # importance sampling from a fixed set drawn from the point estimate. Other models ignore it.
    reference = models.ReferenceSet.from_network(
        factory("reference"), params, REFERENCE_SET_SIZE, random_seed=config.seed + 5
    )
    return models.energy_model(
        factory, system, beta, n_eff=config.n_eff, reference=reference, random_seed=config.seed + 2
    )


def run_pipeline(config, progressbar=True):
    """Run every stage for ``config``, write the output folder, and return the summary table text."""
    from pymc_boltzmann import inference, reweighting
    from pymc_boltzmann.report import build_report, format_table, write_plots

    output = Path(config.output)
    partial = output.with_name(output.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    write_json(partial / CONFIG_FILE, config.to_dict())

    clock = _StageClock()
    system = build_system(config)
    beta = config.resolved_beta()
    factory = build_network_factory(config, system)
    logger.info("system %r at beta = %.10g, network %s, regime %s", system, beta, config.network, config.regime)

    data = None
    if config.regime == "data":
        with clock.stage("data"):
            data = system.reference_sample(beta, config.n_data, random_seed=config.seed, progressbar=progressbar)
    with clock.stage("training"):
        params, history = _fit_point_estimate(config, system, beta, factory, data, progressbar)
    with clock.stage("sampling"):
        model, network = _build_model(config, system, beta, factory, data, params)
        posterior = inference.sample(
            model,
            kernel=config.kernel,
            draws=config.draws,
            tune=config.tune,
            chains=config.chains,
            random_seed=config.seed + 3,
            initvals=network.to_initvals(params),
            max_tree_depth=config.max_tree_depth,
            target_accept=config.target_accept,
            step_size=config.step_size,
            progressbar=progressbar,
        )
    with clock.stage("reweighting"):
        result = reweighting.reweight(
            posterior,
            network,
            system,
            beta,
            samples_per_draw=config.samples_per_draw,
            random_seed=config.seed + 4,
            progressbar=progressbar,
        )
        result["training_history"] = history
        save_datatree(result, partial / RESULTS_FILE)
    with clock.stage("report"):
        report = build_report(result, system, beta, config, clock.timings)
        write_json(partial / REPORT_FILE, report)
        table = format_table(report)
        write_text(partial / TABLE_FILE, table + "\n")
        write_plots(result, system, beta, report, partial)

    _publish(partial, output)
    logger.info("results written to %s", output)
    return table


def _publish(partial, output):
    """Move the finished ``partial`` folder onto ``output``, replacing an earlier run only now."""
    if output.exists():
        retired = output.with_name(f"{output.name}.old-{uuid.uuid4().hex[:8]}")
        os.replace(output, retired)
        os.replace(partial, output)
        shutil.rmtree(retired, ignore_errors=True)
    else:
        os.replace(partial, output)


def rebuild_report(folder):
    """Rebuild the JSON report, table and plots of a saved run from its folder; return the table."""
    import xarray as xr

    from pymc_boltzmann.report import build_report, format_table, write_plots

    folder = Path(folder)
    if not folder.is_dir():
        raise ConfigError(f"output folder {str(folder)!r} was not found: pass the folder of a finished run.")
    for name in (CONFIG_FILE, RESULTS_FILE, REPORT_FILE):
        if not (folder / name).is_file():
            raise ConfigError(
                f"{str(folder)!r} is not the output folder of a finished run: {name} is missing."
            )
    try:
        config = make_config(json.loads((folder / CONFIG_FILE).read_text(encoding="utf-8")))
        previous = json.loads((folder / REPORT_FILE).read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise RunFailed("report", ValueError(f"a JSON file in {str(folder)!r} is corrupt: {error}")) from None
    system = build_system(config)
    beta = config.resolved_beta()
    try:
        result = xr.open_datatree(folder / RESULTS_FILE, engine="h5netcdf").load()
    except (OSError, ValueError) as error:
        raise RunFailed("report", OSError(f"{RESULTS_FILE} in {str(folder)!r} cannot be read: {error}")) from None
    report = build_report(result, system, beta, config, previous.get("timings_s", {}))
    write_json(folder / REPORT_FILE, report)
    table = format_table(report)
    write_text(folder / TABLE_FILE, table + "\n")
    write_plots(result, system, beta, report, folder)
    return table
