"""Options of a command-line run: defaults, TOML loading, validation, and the objects they build."""

import dataclasses
import math
import tomllib
from pathlib import Path

from pymc_boltzmann._checks import check_beta, check_lattice_size, check_positive_int

SYSTEMS = ("ising", "sk", "phi4", "double-well", "many-well")
NETWORKS = ("made", "mean-field", "realnvp", "diagonal-gaussian", "mixture")
REGIMES = ("data", "energy")
KERNELS = ("nuts", "hmc", "mala", "rmh", "sgld", "penalty_mh")

SPIN_SYSTEMS = ("ising", "sk")
MIN_DATA = 10
DEFAULT_NETWORKS = {
    "ising": "made",
    "sk": "made",
    "phi4": "realnvp",
    "double-well": "realnvp",
    "many-well": "realnvp",
}
SPIN_NETWORKS = ("made", "mean-field")


class ConfigError(ValueError):
    """An option value that is invalid; the command line turns it into exit status 2."""


@dataclasses.dataclass
class RunConfig:
    """Every option of ``pymc-boltzmann run``, with the built-in default run as defaults.

    The default is the 2D Ising model at Onsager's critical point on an 8 x 8 periodic lattice.
    A MADE network (one hidden layer of 64 units) is fitted to 4000 reference Monte Carlo
    configurations. Two NUTS chains run 300 tuning steps and 300 draws with tree depth capped
    at 5, and reweighting draws 2000 configurations per posterior draw. The whole run took
    about 5.5 minutes on 2 CPU cores, with R-hat below 1.01 and pooled Pareto k-hat below 0.7.
    """

    system: str = "ising"
    L: int = 8
    n: int = 10
    dim: int = 2
    J: float = 1.0
    h: float = 0.0
    m2: float = 1.0
    lam: float = 0.0
    beta: str | float = "default"
    network: str = "default"
    hidden: tuple = (64,)
    regime: str = "data"
    n_eff: float = 1000.0
    n_data: int = 4000
    train_steps: int = 2000
    kernel: str = "nuts"
    draws: int = 300
    tune: int = 300
    chains: int = 2
    max_tree_depth: int = 5
    target_accept: float = 0.8
    step_size: float | None = None
    samples_per_draw: int = 2000
    seed: int = 0
    output: str = "pymc_boltzmann_run"
    force: bool = False

    def resolved_beta(self):
        """Return beta as a float.

        ``"critical"`` is Onsager's ln(1 + sqrt 2) / (2 |J|) for the Ising model; ``"default"``
        is that for Ising and 1 for every other system, whose energies are in units of k_B T.
        """
        if self.beta == "default":
            return self.resolved_beta_for("critical" if self.system == "ising" else 1.0)
        return self.resolved_beta_for(self.beta)

    def resolved_beta_for(self, beta):
        """Return ``beta`` (a number or ``"critical"``) as a checked float for this system."""
        if beta == "critical":
            if self.system != "ising":
                raise ConfigError(
                    f"beta='critical' is only defined for the Ising model, not system={self.system!r}. "
                    "Pass a number, for example --beta 1."
                )
            if self.J == 0.0:
                raise ConfigError("beta='critical' needs a nonzero coupling J; pass --J 1 or a numeric --beta.")
            return math.log1p(math.sqrt(2.0)) / (2.0 * abs(self.J))
        try:
            return check_beta(beta)
        except ValueError as error:
            raise ConfigError(str(error)) from None

    def to_dict(self):
        """Return the options as a JSON- and TOML-friendly dict."""
        values = dataclasses.asdict(self)
        values["hidden"] = list(self.hidden)
        return values


def parse_hidden(value):
    """Parse hidden layer widths from ``"16,16"``, an int or a list into a tuple of positive ints."""
    if isinstance(value, str):
        parts = [part for part in value.replace(" ", "").split(",") if part]
    elif isinstance(value, int):
        parts = [value]
    else:
        parts = list(value)
    try:
        widths = tuple(int(part) for part in parts)
    except (TypeError, ValueError):
        raise ConfigError(
            f"hidden={value!r} is invalid: expected comma-separated positive layer widths such as 16,16."
        ) from None
    if not widths or min(widths) < 1:
        raise ConfigError(
            f"hidden={value!r} is invalid: expected at least one layer width, each at least 1, such as 16,16."
        )
    return widths


def load_toml(path):
    """Read run options from a TOML file: top-level keys or a ``[run]`` table, dashes or underscores."""
    path = Path(path)
    try:
        with path.open("rb") as handle:
            document = tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"config file {str(path)!r} was not found.") from None
    except IsADirectoryError:
        raise ConfigError(f"config file {str(path)!r} is a folder: pass the path of a TOML file.") from None
    except OSError as error:
        raise ConfigError(f"config file {str(path)!r} cannot be read: {error.strerror}.") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"config file {str(path)!r} is not valid TOML: {error}.") from None
    if "run" in document and len(document) > 1:
        others = sorted(key for key in document if key != "run")
        raise ConfigError(
            f"config file {str(path)!r} has options {others} outside its [run] table: put every "
            "option under [run], or none of them."
        )
    table = document.get("run", document)
    return {key.replace("-", "_"): value for key, value in table.items()}


def make_config(values):
    """Build and validate a :class:`RunConfig` from a dict of option values.

    Raises
    ------
    ConfigError
        If a key is unknown or a value is out of its domain; the message names the option.
    """
    known = {field.name for field in dataclasses.fields(RunConfig)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ConfigError(f"unknown options {unknown}; valid options are {sorted(known)}.")
    config = RunConfig(**values)
    config.hidden = parse_hidden(config.hidden)
    validate_config(config)
    return config


def _check_choice(option, value, choices):
    if value not in choices:
        raise ConfigError(f"{option}={value!r} is invalid: expected one of {', '.join(choices)}.")


def _check_step_size(config):
    if config.step_size is not None and not (config.step_size > 0 and math.isfinite(config.step_size)):
        raise ConfigError(f"step_size={config.step_size!r} is invalid: expected a finite positive number.")
    if config.kernel == "sgld" and config.step_size is None:
        raise ConfigError(
            "kernel='sgld' needs --step-size: stochastic-gradient Langevin has no accept step to "
            "adapt against. Try --step-size 1e-4 and lower it if the estimates drift."
        )


def validate_config(config):
    """Check every option of ``config`` and raise :class:`ConfigError` naming the first bad one."""
    _check_choice("system", config.system, SYSTEMS)
    if config.network == "default":
        config.network = DEFAULT_NETWORKS[config.system]
    _check_choice("network", config.network, NETWORKS)
    _check_choice("regime", config.regime, REGIMES)
    _check_choice("kernel", config.kernel, KERNELS)

    try:
        check_lattice_size("L", config.L)
        check_lattice_size("n", config.n)
        check_positive_int("dim", config.dim)
        for option in ("train_steps", "draws", "chains", "max_tree_depth"):
            check_positive_int(option, getattr(config, option))
        # A fifth of the data is held out for the held-out log likelihood.
        check_positive_int("n_data", config.n_data, minimum=MIN_DATA)
        check_positive_int("tune", config.tune, minimum=0)
        check_positive_int("samples_per_draw", config.samples_per_draw, minimum=2)
        check_positive_int("seed", config.seed, minimum=0)
    except ValueError as error:
        raise ConfigError(str(error)) from None

    config.resolved_beta()
    if not 0.0 < config.target_accept < 1.0:
        raise ConfigError(f"target_accept={config.target_accept!r} is invalid: expected a value in (0, 1).")
    _check_step_size(config)
    if config.n_eff <= 0:
        raise ConfigError(f"n_eff={config.n_eff!r} is invalid: expected a positive effective sample size.")

    spin_system = config.system in SPIN_SYSTEMS
    spin_network = config.network in SPIN_NETWORKS
    if spin_system != spin_network:
        expected = SPIN_NETWORKS if spin_system else tuple(n for n in NETWORKS if n not in SPIN_NETWORKS)
        raise ConfigError(
            f"network={config.network!r} does not match system={config.system!r}: "
            f"{config.system} configurations are {'spins' if spin_system else 'real fields'}, "
            f"so use one of {', '.join(expected)}."
        )
    if config.system == "many-well":
        config.dim = 32
