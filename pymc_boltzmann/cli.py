"""The ``pymc-boltzmann`` command: exact references, the main run, and rebuilding a saved report.

Exit status: 0 on success, 2 for invalid arguments (with the message), 1 for a failed run
(with the stage and the cause), 130 when interrupted with Ctrl-C.
"""

import argparse
import logging
import sys

from pymc_boltzmann.config import KERNELS, NETWORKS, REGIMES, SYSTEMS, ConfigError, RunConfig

logger = logging.getLogger("pymc_boltzmann")

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def _add_system_options(parser, defaults):
    group = parser.add_argument_group("system")
    group.add_argument("--L", type=int, default=defaults.L, help="linear lattice size (ising, phi4); sites = L * L")
    group.add_argument("--n", type=int, default=defaults.n, help="number of spins of the SK spin glass")
    group.add_argument("--dim", type=int, default=defaults.dim, help="dimension of the double well (many-well is 32)")
    group.add_argument("--J", type=float, default=defaults.J, help="Ising coupling J (negative: antiferromagnet)")
    group.add_argument("--h", type=float, default=defaults.h, help="Ising external field h")
    group.add_argument("--m2", type=float, default=defaults.m2, help="phi^4 bare mass squared m^2")
    group.add_argument("--lam", type=float, default=defaults.lam, help="phi^4 quartic coupling lambda (term lambda phi^4 / 4!)")
    group.add_argument(
        "--beta",
        default=defaults.beta,
        help="inverse temperature 1/(k_B T) in units of 1/J; 'critical' is Onsager's ln(1+sqrt 2)/2 "
        "(Ising only); default: critical for Ising, 1 otherwise",
    )
    group.add_argument("--seed", type=int, default=defaults.seed, help="random seed (SK couplings, data, sampling)")


def build_parser():
    """Return the argument parser of the ``pymc-boltzmann`` command."""
    parser = argparse.ArgumentParser(
        prog="pymc-boltzmann",
        description="Bayesian generative models of Boltzmann distributions: exact references, "
        "weight posteriors by JAX MCMC, and reweighted physical estimates.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    exact = commands.add_parser("exact", help="print the exact references of a system")
    exact.add_argument("system", choices=SYSTEMS, help="the Boltzmann system")
    exact_defaults = RunConfig(beta=1.0)
    _add_system_options(exact, exact_defaults)
    exact.set_defaults(L=16, beta=None)

    run = commands.add_parser(
        "run",
        help="fit a Bayesian generative model and report reweighted estimates",
        description="Run the whole job: reference data (or the energy alone), point training, "
        "the weight posterior, posterior-predictive reweighting and the report. With no "
        "options it runs the 2D Ising model at the critical point on an 8 x 8 lattice.",
    )
    run.add_argument("--config", metavar="FILE", help="TOML file with the same options (command line wins)")
    run.add_argument("--system", choices=SYSTEMS, help="the Boltzmann system (default ising)")
    _add_system_options(run, RunConfig())
    model = run.add_argument_group("model and sampler")
    model.add_argument(
        "--network", choices=NETWORKS, help="generative network q_theta (default: made for spins, realnvp for fields)"
    )
    model.add_argument("--hidden", help="hidden layer widths, comma-separated (default 64)")
    model.add_argument("--regime", choices=REGIMES, help="data: likelihood of reference data; energy: Gibbs posterior from E alone")
    model.add_argument("--n-eff", dest="n_eff", type=float, help="energy regime: effective sample size n_eff of the Gibbs posterior")
    model.add_argument("--n-data", dest="n_data", type=int, help="data regime: number of reference configurations")
    model.add_argument("--train-steps", dest="train_steps", type=int, help="optimizer steps of the point estimate that starts the chains")
    model.add_argument("--kernel", choices=KERNELS, help="MCMC kernel for the weights (default nuts)")
    model.add_argument("--draws", type=int, help="posterior draws per chain")
    model.add_argument("--tune", type=int, help="tuning steps per chain (discarded)")
    model.add_argument("--chains", type=int, help="number of chains, vectorized on one device")
    model.add_argument("--max-tree-depth", dest="max_tree_depth", type=int, help="NUTS maximum tree depth (2^depth gradients per draw at most)")
    model.add_argument("--target-accept", dest="target_accept", type=float, help="target acceptance rate of step-size adaptation")
    model.add_argument(
        "--step-size", dest="step_size", type=float, help="fixed integrator step size (needed by sgld; others adapt it)"
    )
    model.add_argument("--samples-per-draw", dest="samples_per_draw", type=int, help="configurations drawn from q for each posterior draw")
    out = run.add_argument_group("output")
    out.add_argument("--output", "-o", help="output folder (default ./pymc_boltzmann_run)")
    out.add_argument("--force", action="store_true", default=None, help="replace an existing output folder once the new run has finished")
    out.add_argument("--quiet", action="store_true", help="log warnings only, no progress bars")
    # Defaults live in RunConfig, so that a TOML file can fill what the command line leaves out.
    run_defaults = RunConfig()
    for action in run._actions:
        if action.dest in ("help", "config", "quiet"):
            continue
        action.default = None
        default = getattr(run_defaults, action.dest, None)
        if action.help and default is not None and default is not False and "default" not in action.help:
            action.help += f" (default: {default})"

    report = commands.add_parser("report", help="rebuild the table, JSON report and plots of a saved run")
    report.add_argument("folder", help="output folder of a finished `pymc-boltzmann run`")
    return parser


def _configure_logging(quiet):
    logging.basicConfig(
        level=logging.WARNING if quiet else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    # JAX logs at INFO level each accelerator backend it fails to find, which is noise on a CPU.
    logging.getLogger("jax").setLevel(logging.WARNING)


def _run_options(arguments):
    from pymc_boltzmann.config import load_toml

    values = load_toml(arguments.config) if arguments.config else {}
    for key, value in vars(arguments).items():
        if key in ("command", "config", "quiet") or value is None:
            continue
        values[key] = value
    if "beta" in values and values["beta"] not in ("critical", "default"):
        try:
            values["beta"] = float(values["beta"])
        except (TypeError, ValueError):
            raise ConfigError(
                f"beta={values['beta']!r} is invalid: expected a positive number or 'critical'."
            ) from None
    return values


def _command_exact(arguments):
    from pymc_boltzmann.config import make_config
    from pymc_boltzmann.report import exact_references, format_exact

    values = {key: getattr(arguments, key) for key in ("system", "L", "n", "dim", "J", "h", "m2", "lam", "seed")}
    values["beta"] = arguments.beta if arguments.beta is not None else "default"
    if values["beta"] not in ("critical", "default"):
        try:
            values["beta"] = float(values["beta"])
        except ValueError:
            raise ConfigError(f"beta={values['beta']!r} is invalid: expected a positive number or 'critical'.") from None
    config = make_config(values)
    print(format_exact(exact_references(config)))
    return EXIT_OK


def _command_run(arguments):
    from pymc_boltzmann.config import make_config
    from pymc_boltzmann.pipeline import check_output_folder, run_pipeline

    config = make_config(_run_options(arguments))
    check_output_folder(config.output, config.force)
    table = run_pipeline(config, progressbar=not arguments.quiet)
    print(table)
    return EXIT_OK


def _command_report(arguments):
    from pymc_boltzmann.pipeline import rebuild_report

    print(rebuild_report(arguments.folder))
    return EXIT_OK


def main(argv=None):
    """Run the command line with ``argv`` (default ``sys.argv[1:]``) and return the exit status."""
    parser = build_parser()
    arguments = parser.parse_args(argv)
    if arguments.command is None:
        parser.print_help()
        return EXIT_USAGE
    _configure_logging(getattr(arguments, "quiet", False))
    commands = {"exact": _command_exact, "run": _command_run, "report": _command_report}
    from pymc_boltzmann.pipeline import RunFailed

    try:
        return commands[arguments.command](arguments)
    except ConfigError as error:
        print(f"pymc-boltzmann {arguments.command}: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except RunFailed as error:
        print(f"pymc-boltzmann {arguments.command}: {error}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print(
            "pymc-boltzmann: interrupted; an earlier output folder is untouched, and what this run "
            "wrote so far is in the output folder's .partial sibling.",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
