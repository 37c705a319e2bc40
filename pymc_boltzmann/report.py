"""The report of a run: exact references, the JSON document, and the printed table."""

import logging
import math

import numpy as np

logger = logging.getLogger(__name__)


def _reference(function, *args):
    """Call ``function``; return ``(value, None)`` or ``(None, reason)`` when it is not implemented."""
    try:
        return function(*args), None
    except NotImplementedError as error:
        return None, str(error)


def exact_references(config):
    """Collect every exact reference of the system named by ``config`` at its beta.

    Returns
    -------
    dict
        ``system``, ``beta``, ``log_partition``, ``free_energy_per_site``, ``expectations``
        and, for the Ising model, ``critical_beta`` and ``onsager_free_energy_per_site`` of
        the infinite lattice; ``unavailable`` maps each missing reference to the reason.
    """
    from pymc_boltzmann.pipeline import build_system

    system = build_system(config)
    beta = config.resolved_beta()
    references = {"system": repr(system), "beta": beta, "unavailable": {}}

    log_partition, reason = _reference(system.exact_log_partition, beta)
    references["log_partition"] = _as_float(log_partition)
    if reason:
        references["unavailable"]["log_partition"] = reason
    if log_partition is not None:
        references["free_energy_per_site"] = _as_float(-_as_float(log_partition) / (beta * system.n_sites))

    expectations, reason = _reference(system.exact_expectations, beta)
    references["expectations"] = {k: _as_float(v) for k, v in (expectations or {}).items()}
    if reason:
        references["unavailable"]["expectations"] = reason

    if config.system == "ising":
        references["critical_beta"] = system.critical_beta
        onsager, reason = _reference(system.onsager_free_energy_per_site, beta)
        references["onsager_free_energy_per_site"] = _as_float(onsager)
        if reason:
            references["unavailable"]["onsager_free_energy_per_site"] = reason
    return references


def _as_float(value):
    if value is None:
        return None
    if isinstance(value, tuple):
        value = value[0]
    return float(np.asarray(value))


def format_exact(references):
    """Format the output of :func:`exact_references` as aligned text lines."""
    lines = [f"{references['system']} at beta = {references['beta']:.12g}"]
    rows = [("ln Z", references.get("log_partition")), ("F / N", references.get("free_energy_per_site"))]
    rows += [(f"<{name}>", value) for name, value in references["expectations"].items()]
    if "critical_beta" in references:
        rows.append(("beta_c (infinite lattice)", references["critical_beta"]))
        rows.append(("F / N (Onsager, infinite lattice)", references.get("onsager_free_energy_per_site")))
    width = max(len(label) for label, _ in rows)
    for label, value in rows:
        text = "n/a" if value is None else f"{value:.13g}"
        lines.append(f"  {label:<{width}}  {text}")
    for name, reason in references["unavailable"].items():
        lines.append(f"  {name}: not available ({reason})")
    return "\n".join(lines)


def _posterior_diagnostics(result, regime):
    """Return divergences and R-hat/ESS of the function-space quantities of the posterior."""
    import arviz as az

    diagnostics = {}
    if "sample_stats" in result.children and "diverging" in result["sample_stats"]:
        diagnostics["divergences"] = int(np.asarray(result["sample_stats"]["diverging"]).sum())
    posterior = result["posterior"].to_dataset()
    function_space = [
        name
        for name in ("variational_free_energy", "mean_energy", "heldout_log_likelihood", "reference_ess_fraction")
        if name in posterior
    ]
    for name in function_space:
        values = posterior[[name]]
        diagnostics[name] = {
            "mean": float(values[name].mean()),
            "sd": float(values[name].std()),
            "rhat": float(np.asarray(az.rhat(values)[name])),
            "ess_bulk": float(np.asarray(az.ess(values)[name])),
        }
    diagnostics["converged"] = _check_convergence(diagnostics)
    if regime == "energy":
        # In the data regime the estimate of F_q is recorded for diagnostics only and does not
        # shape the posterior, so a poorly covered reference set does not bias it there.
        _log_reference_coverage(posterior)
    return diagnostics


# R-hat above this value on a function-space quantity means the chains disagree. ArviZ's
# stricter 1.01 suits final results; 1.05 flags the clearly unconverged short runs.
MAX_RHAT = 1.05


def _check_convergence(diagnostics):
    """Return whether the weight posterior looks converged, logging each problem found.

    The ``reliable`` column of the summary judges the importance weights only. An
    unconverged posterior makes the raw estimates and the epistemic spread untrustworthy
    even when k-hat is small.
    """
    converged = True
    divergences = diagnostics.get("divergences", 0)
    if divergences:
        converged = False
        logger.warning(
            "%d divergent transitions in the weight posterior (threshold 0): raise --target-accept "
            "or --tune, or use a smaller network.",
            divergences,
        )
    for name, values in diagnostics.items():
        if isinstance(values, dict) and not values["rhat"] <= MAX_RHAT:
            converged = False
            logger.warning(
                "R-hat of %s is %.3f (threshold %.2f): the chains disagree, so the epistemic spread "
                "and the raw estimates are unreliable. Run more --tune and --draws.",
                name,
                values["rhat"],
                MAX_RHAT,
            )
    return converged


# Below this importance ESS fraction of the fixed reference set, the self-normalized estimate of
# F_q that drives an energy-regime posterior is dominated by a few configurations.
MIN_REFERENCE_ESS_FRACTION = 0.1


def _log_reference_coverage(posterior):
    if "reference_ess_fraction" not in posterior:
        return
    smallest = float(posterior["reference_ess_fraction"].min())
    if smallest < MIN_REFERENCE_ESS_FRACTION:
        logger.warning(
            "the importance ESS fraction of the reference set falls to %.3g in some posterior draws "
            "(threshold %.2g): the estimate of F_q there rests on a few configurations and can be far "
            "too low, which pulls the energy-regime posterior away from the minimum of the true F_q. "
            "Lower --n-eff, train the point estimate longer, or use the data regime.",
            smallest,
            MIN_REFERENCE_ESS_FRACTION,
        )


def build_report(result, system, beta, config, timings):
    """Build the JSON-serializable report of a run from its result DataTree.

    Returns
    -------
    dict
        ``config``, ``system``, ``beta``, ``estimates`` (one entry per observable with the raw
        mean, epistemic sd, reweighted value, MCSE, ESS, k-hat, reliability, exact value and
        z-score), ``posterior_diagnostics`` and ``timings_s`` (wall time of each stage).
    """
    from pymc_boltzmann import reweighting

    reweighted = reweighting.summary_to_dict(result)
    return {
        "config": config.to_dict(),
        "system": repr(system),
        "beta": beta,
        "estimates": reweighted["summary"],
        "reweighting_diagnostics": reweighted["diagnostics"],
        "posterior_diagnostics": _posterior_diagnostics(result, config.regime),
        "timings_s": {name: float(seconds) for name, seconds in timings.items()},
    }


def _json_value(value):
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    try:
        number = float(value)
    except (TypeError, ValueError):
        return value
    return None if math.isnan(number) else number


COLUMNS = ("raw", "epistemic_sd", "reweighted", "mcse", "ess", "khat", "exact", "z_score")


def format_table(report):
    """Format the estimates of a report as a fixed-width table."""
    header = f"{'observable':<24}" + "".join(f"{column:>14}" for column in COLUMNS) + "  reliable"
    lines = [f"{report['system']} at beta = {report['beta']:.10g}", header, "-" * len(header)]
    for observable, row in report["estimates"].items():
        cells = []
        for column in COLUMNS:
            value = row.get(column)
            cells.append(f"{'':>14}" if value is None else f"{value:>14.6g}")
        reliable = row.get("reliable")
        lines.append(f"{observable:<24}" + "".join(cells) + f"  {'' if reliable is None else ('yes' if reliable else 'NO')}")
    diagnostics = report.get("posterior_diagnostics", {})
    if "divergences" in diagnostics:
        lines.append(f"divergences: {diagnostics['divergences']}")
    if "converged" in diagnostics:
        lines.append(f"weight posterior converged (R-hat <= {MAX_RHAT}, no divergences): {'yes' if diagnostics['converged'] else 'NO'}")
    for name, values in diagnostics.items():
        if isinstance(values, dict):
            lines.append(f"{name}: mean {values['mean']:.6g}, sd {values['sd']:.3g}, R-hat {values['rhat']:.3f}, ESS {values['ess_bulk']:.0f}")
    return "\n".join(lines)


def write_plots(result, system, beta, report, folder):
    """Write the PNG plots of a run into ``folder / "plots"``; failures are logged, not raised."""
    from pymc_boltzmann import plots

    try:
        plots.write_all(result, system, beta, report, folder)
    except Exception:
        logger.exception("writing the plots failed; the JSON report and results are complete")
