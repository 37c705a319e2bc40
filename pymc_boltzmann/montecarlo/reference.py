"""Decorrelated Boltzmann samples from a reference Monte Carlo sampler chosen for each system."""

import logging
import math
import numbers
import time

import jax
import numpy as np

from pymc_boltzmann._checks import check_beta, check_positive_int
from pymc_boltzmann.energies.base import SAMPLE_SPACES
from pymc_boltzmann.energies.ising import Ising2D
from pymc_boltzmann.montecarlo.autocorrelation import integrated_autocorrelation_time
from pymc_boltzmann.montecarlo.checkerboard import checkerboard_metropolis
from pymc_boltzmann.montecarlo.hmc import hmc
from pymc_boltzmann.montecarlo.kernel import ChainRunner, initial_positions
from pymc_boltzmann.montecarlo.metropolis import metropolis_spins
from pymc_boltzmann.montecarlo.wolff import wolff_ising

logger = logging.getLogger(__name__)

KERNELS = {
    "wolff": wolff_ising,
    "checkerboard": checkerboard_metropolis,
    "metropolis": metropolis_spins,
    "hmc": hmc,
}

DEFAULT_BURN_IN = 500

# The pilot run that measures tau lasts at least PILOT_MIN_STEPS steps per chain. It is
# extended until it covers PILOT_LENGTH_IN_TAU times tau, but never beyond PILOT_MAX_STEPS.
# With a summation window of about 5 tau, the relative variance of the tau estimate is about
# 2 (2 window + 1) / (chains * length), so 100 tau with 4 chains gives roughly 20% error.
PILOT_MIN_STEPS = 500
PILOT_MAX_STEPS = 100_000
PILOT_LENGTH_IN_TAU = 100

# Thinned draws whose own integrated autocorrelation time exceeds this are reported as still
# correlated. Fewer kept draws than THINNED_CHECK_MIN_DRAWS (all chains together) give too
# noisy an estimate for the check.
THINNED_TAU_WARNING = 1.5
THINNED_CHECK_MIN_DRAWS = 100


def _observable_names(sample_space):
    if sample_space == "spin":
        return ("energy", "magnetization", "abs_magnetization")
    return ("energy", "mean", "abs_mean")


def default_method(system):
    """Return the name of the reference sampler used for ``system``.

    The Wolff algorithm for the Ising model at h = 0, checkerboard Metropolis for the Ising
    model in a field, single-spin-flip Metropolis for other spin systems, HMC for real-valued
    systems.
    """
    sample_space = getattr(system, "sample_space", None)
    if sample_space not in SAMPLE_SPACES:
        raise ValueError(
            f"system.sample_space={sample_space!r} is invalid: expected one of {SAMPLE_SPACES}. "
            "Set sample_space to 'spin' for x in {-1, +1}^n or 'real' for x in R^n."
        )
    if isinstance(system, Ising2D):
        return "wolff" if system.h == 0.0 else "checkerboard"
    return "metropolis" if sample_space == "spin" else "hmc"


def _rng_key(random_seed):
    if isinstance(random_seed, np.random.Generator):
        random_seed = int(random_seed.integers(2**63))
    elif random_seed is None:
        random_seed = int(np.random.default_rng().integers(2**63))
    elif isinstance(random_seed, bool) or not isinstance(random_seed, numbers.Integral):
        raise ValueError(
            f"random_seed={random_seed!r} is invalid: expected an integer, a numpy Generator or None."
        )
    return jax.random.key(int(random_seed) % 2**63)


def _check_arguments(system, method, thin, burn_in):
    method = default_method(system) if method is None else method
    if method not in KERNELS:
        raise ValueError(f"method={method!r} is invalid: expected one of {tuple(KERNELS)} or None.")
    if thin is not None:
        thin = check_positive_int("thin", thin)
    burn_in = DEFAULT_BURN_IN if burn_in is None else check_positive_int("burn_in", burn_in, minimum=0)
    return method, thin, burn_in


def _autocorrelation_times(trace, names):
    return {name: integrated_autocorrelation_time(trace[..., k]) for k, name in enumerate(names)}


def _longest_time(tau):
    finite = [value for value in tau.values() if math.isfinite(value)]
    missing = [name for name, value in tau.items() if not math.isfinite(value)]
    if missing:
        logger.warning(
            "ArviZ could not estimate the integrated autocorrelation time of %s, so the thinning "
            "ignores it. Pass thin explicitly if these observables matter.",
            ", ".join(missing),
        )
    return max(finite, default=1.0)


def _measure_autocorrelation(runner, names):
    traces = [runner.trace(PILOT_MIN_STEPS)]
    while True:
        trace = np.concatenate(traces, axis=1)
        tau = _autocorrelation_times(trace, names)
        longest = _longest_time(tau)
        n_steps = trace.shape[1]
        if n_steps >= PILOT_LENGTH_IN_TAU * longest:
            return tau, longest, n_steps
        if n_steps >= PILOT_MAX_STEPS:
            logger.warning(
                "The pilot run of %d steps per chain is shorter than %d autocorrelation times "
                "(tau = %.1f steps), so tau and the thinning derived from it are underestimated. "
                "Pass a larger thin explicitly or use a faster sampler for this system.",
                n_steps,
                PILOT_LENGTH_IN_TAU,
                longest,
            )
            return tau, longest, n_steps
        target = min(PILOT_MAX_STEPS, max(2 * n_steps, math.ceil(PILOT_LENGTH_IN_TAU * longest)))
        traces.append(runner.trace(target - n_steps))


def _diagnose_thinned(observables, names, thin):
    n_chains, n_draws = observables.shape[:2]
    if n_draws < 4 or n_chains * n_draws < THINNED_CHECK_MIN_DRAWS:
        return {name: float("nan") for name in names}
    tau_thinned = _autocorrelation_times(observables, names)
    for name, value in tau_thinned.items():
        if value > THINNED_TAU_WARNING:
            logger.warning(
                "The thinned draws are still correlated: the integrated autocorrelation time of "
                "%s is %.2f draws, above %.1f. Pass thin=%d or more, or a longer burn_in.",
                name,
                value,
                THINNED_TAU_WARNING,
                math.ceil(thin * value),
            )
    return tau_thinned


def _sampler_statistics(method, runner):
    statistics = {"total_steps": runner.steps_done}
    if method == "wolff":
        statistics["acceptance_rate"] = 1.0
        statistics["mean_cluster_size"] = runner.mean_statistic
    else:
        statistics["acceptance_rate"] = runner.mean_statistic
    if method == "hmc":
        statistics["step_size"] = float(np.mean(np.exp(np.asarray(runner.state.log_step_size))))
    return statistics


def reference_sample(
    system,
    beta,
    n_samples,
    *,
    random_seed=None,
    method=None,
    chains=4,
    thin=None,
    burn_in=None,
    sampler_kwargs=None,
    progressbar=False,
    return_diagnostics=False,
):
    r"""Draw decorrelated configurations from p(x) = exp(-beta E(x)) / Z with reference Monte Carlo.

    The sampler depends on the system (``method=None``): the Wolff cluster algorithm for the
    Ising model at h = 0 (:func:`wolff_ising`), checkerboard Metropolis for the Ising model in
    a field (:func:`checkerboard_metropolis`), single-spin-flip Metropolis through
    ``system.energy_fn`` for other spin systems (:func:`metropolis_spins`) and HMC for
    real-valued systems (:func:`hmc`). ``chains`` independent chains run vectorized with
    ``jax.vmap``.

    The run has three phases, counted in sampler steps per chain (a cluster flip, a sweep or
    an HMC trajectory):

    1. burn-in of ``burn_in`` steps, during which HMC adapts its step size;
    2. a pilot run that records E, m = mean_i x_i and |m| (the magnetization per site for
       spins) at every step and estimates their integrated autocorrelation times tau with
       ArviZ's ESS. It lasts at least 500 steps and is extended until it covers 100 tau (at
       most 100 000 steps);
    3. the production run, which keeps one configuration every ``thin`` steps, with

       .. math:: \mathrm{thin} = \max(1, \lceil 2 \tau_{\max} \rceil)

       where tau_max is the largest of the three times. For an exponentially decaying
       autocorrelation tau_int is about twice the decay time, so draws 2 tau_int apart are
       correlated by about e^{-4} = 0.02. Passing ``thin`` skips the pilot run.

    The times are logged at INFO level, and a WARNING is logged when the kept draws still have
    an integrated autocorrelation time above 1.5 draws.

    Parameters
    ----------
    system : BoltzmannSystem
        System with ``energy_fn``, ``n_sites`` and ``sample_space``.
    beta : float
        Inverse temperature, finite and positive.
    n_samples : int
        Number of configurations returned, at least 1.
    random_seed : int, numpy.random.Generator or None
        Seed of the run; equal seeds give equal samples.
    method : {"wolff", "checkerboard", "metropolis", "hmc"} or None
        Sampler; None picks it from the system as above.
    chains : int
        Number of independent chains, at least 1.
    thin : int or None
        Steps between kept configurations; None measures it as above.
    burn_in : int or None
        Burn-in steps per chain; None means 500.
    sampler_kwargs : dict or None
        Extra keyword arguments of the sampler, for example ``{"step_size": 0.05,
        "num_integration_steps": 20}`` for HMC.
    progressbar : bool
        Show a tqdm progress bar during the production run.
    return_diagnostics : bool
        Also return the diagnostics dict.

    Returns
    -------
    samples : numpy.ndarray of float64, shape (n_samples, n_sites)
        Configurations; consecutive rows come from different chains (draw-major order).
    diagnostics : dict, only when ``return_diagnostics`` is True
        Contains ``method``, ``chains``, ``burn_in``, ``pilot_steps`` and ``thin``. ``tau``
        maps each observable to its autocorrelation time in steps from the pilot run, or is
        None when ``thin`` was passed. ``tau_thinned`` maps each observable to its
        autocorrelation time in kept draws (NaN when fewer than 100 draws are kept).
        ``total_steps`` counts the steps per chain of all three phases. ``acceptance_rate``
        is 1 for Wolff cluster flips, ``mean_cluster_size`` is present for Wolff only and
        ``step_size`` (mean over chains) for HMC only. ``wall_time`` is in seconds.

    Raises
    ------
    ValueError
        If ``n_samples``, ``beta``, ``chains``, ``thin``, ``burn_in`` or ``method`` is invalid,
        or the system's sample space is neither "spin" nor "real".

    Examples
    --------
    >>> import pymc_boltzmann as pmb
    >>> ising = pmb.energies.Ising2D(L=4)
    >>> x = pmb.montecarlo.reference_sample(ising, ising.critical_beta, 1_000, random_seed=1)
    >>> x.shape
    (1000, 16)
    """
    start = time.perf_counter()
    n_samples = check_positive_int("n_samples", n_samples)
    beta = check_beta(beta)
    chains = check_positive_int("chains", chains)
    method, thin, burn_in = _check_arguments(system, method, thin, burn_in)
    names = _observable_names(system.sample_space)

    kernel = KERNELS[method](system, beta, **(sampler_kwargs or {}))
    start_key, run_key = jax.random.split(_rng_key(random_seed))
    positions = initial_positions(start_key, system.sample_space, chains, system.n_sites)
    runner = ChainRunner(kernel, positions, run_key)
    runner.burn_in(burn_in)

    tau, pilot_steps = None, 0
    if thin is None:
        tau, longest, pilot_steps = _measure_autocorrelation(runner, names)
        thin = max(1, math.ceil(2.0 * longest))
        logger.info(
            "%s on %r at beta=%g: integrated autocorrelation times %s steps; thinning by %d.",
            method,
            system,
            beta,
            ", ".join(f"{name}={value:.2f}" for name, value in tau.items()),
            thin,
        )

    n_draws = math.ceil(n_samples / chains)
    draws, observables = runner.draw(n_draws, thin, progressbar=progressbar)
    samples = np.ascontiguousarray(draws.transpose(1, 0, 2).reshape(-1, system.n_sites)[:n_samples])
    samples = samples.astype(np.float64)
    tau_thinned = _diagnose_thinned(observables, names, thin)
    if not return_diagnostics:
        return samples

    diagnostics = {
        "method": method,
        "chains": chains,
        "burn_in": burn_in,
        "pilot_steps": pilot_steps,
        "thin": thin,
        "tau": tau,
        "tau_thinned": tau_thinned,
        **_sampler_statistics(method, runner),
        "wall_time": time.perf_counter() - start,
    }
    return samples, diagnostics
