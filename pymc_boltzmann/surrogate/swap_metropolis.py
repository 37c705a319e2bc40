"""Swap-move (Kawasaki) Metropolis for fixed-composition lattices, with exact or noisy energy differences.

A move picks one A site (s = +1) and one B site (s = -1) uniformly at random and exchanges them,
so the proposal is symmetric and conserves the composition. The acceptance rule reads only a
log acceptance ratio ``log_ratio_fn(params, key, x, x_new)``: exact energies give
-beta (E(x_new) - E(x)); noisy energy differences add the penalty of Ceperley and Dewing,
"The penalty method for random walks with uncertain energies", J. Chem. Phys. 110, 9812 (1999).
Chains, and posterior draws of a surrogate energy, are vectorized with ``jax.vmap``.
"""

import logging
import math

import arviz as az
import jax
import jax.numpy as jnp
import numpy as np

from pymc_boltzmann._checks import check_beta, check_positive_int

logger = logging.getLogger(__name__)

# Number of terms of the hypergeometric series 0F1 in the estimated-variance penalty. With 60
# terms the penalty matches scipy.special.hyp0f1 to 1e-13 for n <= 128 samples and chi^2 <= 4.
HYPERGEOMETRIC_TERMS = 60


def propose_swap(key, x):
    """Return ``x`` with one uniformly chosen A site (+1) and one B site (-1) exchanged."""
    key_a, key_b = jax.random.split(key)
    site_a = jax.random.categorical(key_a, jnp.where(x > 0, 0.0, -jnp.inf))
    site_b = jax.random.categorical(key_b, jnp.where(x < 0, 0.0, -jnp.inf))
    return x.at[site_a].set(-1.0).at[site_b].set(1.0)


def known_variance_penalty(beta, variance):
    r"""Return the penalty beta^2 s^2 / 2 for an energy difference with Gaussian noise of known variance s^2.

    Accepting with min(1, exp(-beta dE_est - beta^2 s^2 / 2)) satisfies detailed balance with
    respect to exp(-beta E) of the mean energy when dE_est ~ Normal(dE, s^2), because
    E[exp(-beta dE_est)] = exp(-beta dE + beta^2 s^2 / 2).
    """
    return 0.5 * beta**2 * variance


def estimated_variance_penalty(chi2, n_estimates):
    r"""Return the penalty for a noise variance estimated from ``n_estimates`` Gaussian samples.

    With delta the mean of n samples of beta dE and chi^2 the unbiased estimate of its variance
    (sample variance of the samples divided by n), the penalty u(chi^2) must satisfy
    E[exp(-u(chi^2))] = exp(-sigma^2 / 2) over chi^2 ~ sigma^2 Chi2(nu) / nu with nu = n - 1.
    Matching the moments E[chi^{2k}] term by term gives

    .. math::

        u(\chi^2) = -\ln {}_0F_1\!\left(; \frac{\nu}{2}; -\frac{\nu \chi^2}{4}\right)
                  = \frac{\chi^2}{2} + \frac{\chi^4}{4 (n + 1)} + \frac{\chi^6}{3 (n + 1)(n + 3)} + \dots

    whose first terms are Ceperley and Dewing's series. 0F1 has its first zero at
    chi^2 = j^2 / nu, with j the first zero of the Bessel function J_{nu/2 - 1} (chi^2 = 2.47
    for n = 2, growing with n). Beyond it no penalty restores detailed balance, and the move is
    rejected (u = +inf).

    Parameters
    ----------
    chi2 : array_like
        Estimated variance of the mean of beta dE, in units of (k_B T)^2.
    n_estimates : int
        Number of independent samples behind the estimate, at least 2.
    """
    nu = n_estimates - 1.0
    b = 0.5 * nu
    z = -0.25 * nu * chi2

    def add_term(k, carry):
        term, total = carry
        term = term * z / (k * (b + k - 1.0))
        return term, total + term

    _, series = jax.lax.fori_loop(1, HYPERGEOMETRIC_TERMS, add_term, (jnp.ones_like(z), jnp.ones_like(z)))
    return jnp.where(series > 0.0, -jnp.log(jnp.where(series > 0.0, series, 1.0)), jnp.inf)


def exact_log_ratio(energy_fn, beta):
    """Return ``log_ratio_fn(params, key, x, x_new) = -beta (E(x_new) - E(x))`` for ``energy_fn(params, x)``."""
    beta = check_beta(beta)

    def log_ratio(params, key, x, x_new):
        return -beta * (energy_fn(params, x_new) - energy_fn(params, x))

    return log_ratio


def noisy_log_ratio(energy_fn, beta, noise_sd, *, penalty=True):
    """Return a log acceptance ratio whose energy difference carries Gaussian noise of sd ``noise_sd``.

    The estimate is dE + noise_sd * Normal(0, 1), a fresh draw per move. With ``penalty`` the
    known-variance penalty beta^2 noise_sd^2 / 2 is subtracted, so the chain samples
    exp(-beta E). Without it the chain is biased towards higher energies.
    """
    beta = check_beta(beta)
    noise_sd = float(noise_sd)
    if not math.isfinite(noise_sd) or noise_sd < 0.0:
        raise ValueError(
            f"noise_sd={noise_sd!r} is invalid: expected a finite non-negative standard deviation "
            "of the energy-difference noise."
        )
    shift = known_variance_penalty(beta, noise_sd**2) if penalty else 0.0

    def log_ratio(params, key, x, x_new):
        delta = energy_fn(params, x_new) - energy_fn(params, x)
        delta = delta + noise_sd * jax.random.normal(key, dtype=jnp.float64)
        return -beta * delta - shift

    return log_ratio


def simulate_chain(log_ratio_fn, record_fn, params, x0, key, *, n_tune, n_records, sweeps_per_record=1):
    """Run one swap-move Metropolis chain and return its records and acceptance rate.

    One sweep is ``n_sites`` attempted swaps. After ``n_tune`` burn-in sweeps, ``record_fn(x)``
    is stored every ``sweeps_per_record`` sweeps. Pure JAX: vmap it over chains and over
    posterior draws (``params`` with a leading draw axis).

    Returns
    -------
    records : pytree
        ``record_fn`` outputs stacked along a leading axis of length ``n_records``.
    acceptance_rate : jax.Array
        Fraction of accepted swaps after burn-in.
    """
    n_sites = x0.shape[-1]

    def step(_, carry):
        x, key, accepted = carry
        key, key_move, key_ratio, key_accept = jax.random.split(key, 4)
        x_new = propose_swap(key_move, x)
        log_ratio = log_ratio_fn(params, key_ratio, x, x_new)
        accept = jnp.log(jax.random.uniform(key_accept, dtype=jnp.float64)) < log_ratio
        return jnp.where(accept, x_new, x), key, accepted + accept

    def sweeps(carry, n_sweeps):
        return jax.lax.fori_loop(0, n_sweeps * n_sites, step, carry)

    x, key, _ = sweeps((x0, key, 0), n_tune)

    def record(carry, _):
        carry = sweeps(carry, sweeps_per_record)
        return carry, record_fn(carry[0])

    (_, _, accepted), records = jax.lax.scan(record, (x, key, 0), None, length=n_records)
    acceptance_rate = accepted / (n_records * sweeps_per_record * n_sites)
    return records, acceptance_rate


def initial_configurations(n_sites, n_a, n_chains, key):
    """Return ``n_chains`` random configurations with ``n_a`` sites +1 and the rest -1, shape ``(n_chains, n_sites)``."""
    base = jnp.where(jnp.arange(n_sites) < n_a, 1.0, -1.0)
    keys = jax.random.split(key, n_chains)
    return jax.vmap(lambda k: jax.random.permutation(k, base))(keys)


def run_chains(log_ratio_fn, record_fn, params, x0, key, *, n_tune, n_records, sweeps_per_record=1):
    """Run one chain per row of ``x0`` (shape ``(n_chains, n_sites)``) with a shared ``params``.

    Returns records with leading axes ``(n_chains, n_records)`` and the acceptance rate per chain.
    """
    keys = jax.random.split(key, x0.shape[0])
    run = jax.vmap(
        lambda x, k: simulate_chain(
            log_ratio_fn, record_fn, params, x, k,
            n_tune=n_tune, n_records=n_records, sweeps_per_record=sweeps_per_record,
        )
    )
    return jax.jit(run)(x0, keys)


def estimate_mean(trace):
    """Return the mean, Monte Carlo standard error and ESS of a trace of shape ``(n_chains, n_records, ...)``.

    The standard error is sd / sqrt(ESS), with ArviZ's rank-normalized bulk ESS across chains.
    A constant trace has zero standard error.
    """
    trace = np.asarray(trace, dtype=np.float64)
    mean = trace.mean(axis=(0, 1))
    sd = trace.std(axis=(0, 1), ddof=1)

    # ArviZ returns NaN for a constant trace, whose mean is known exactly.
    columns = trace.reshape(trace.shape[0], trace.shape[1], -1)
    varying = columns.std(axis=(0, 1)) > 0.0
    ess = np.full(columns.shape[-1], float(trace.shape[0] * trace.shape[1]))
    if varying.any():
        ess[varying] = np.asarray(az.ess(columns[..., varying]), dtype=np.float64).reshape(-1)
    ess = ess.reshape(mean.shape)
    return mean, sd / np.sqrt(ess), ess


def sample_configurations(system, energy_fn, beta, n_samples, *, random_seed=None, n_chains=16, n_tune=200,
                          max_thin=1000, n_pilot=200):
    """Draw decorrelated configurations of a fixed-composition lattice ``system`` with swap Metropolis.

    A pilot run of ``n_pilot`` sweeps per chain measures the number of sweeps per effective
    sample of the energy (ArviZ ESS). The production run then records one configuration every
    that many sweeps, at most ``max_thin``. ``energy_fn(x)`` is the energy in the acceptance rule.

    Returns
    -------
    numpy.ndarray
        Configurations of shape ``(n_samples, n_sites)``.
    """
    beta = check_beta(beta)
    n_samples = check_positive_int("n_samples", n_samples)
    n_chains = check_positive_int("n_chains", n_chains)
    log_ratio = exact_log_ratio(lambda _, x: energy_fn(x), beta)
    key = jax.random.key(0 if random_seed is None else random_seed)
    key_init, key_pilot, key_run = jax.random.split(key, 3)

    x0 = initial_configurations(system.n_sites, system.n_a, n_chains, key_init)
    energies, _ = run_chains(log_ratio, energy_fn, None, x0, key_pilot, n_tune=n_tune, n_records=n_pilot)
    ess = float(az.ess(np.asarray(energies)))
    thin = int(min(max_thin, max(1, math.ceil(n_chains * n_pilot / max(ess, 1.0)))))
    logger.debug("swap Metropolis: energy ESS %.1f of %d sweeps, thinning every %d sweeps", ess, n_chains * n_pilot, thin)

    n_per_chain = math.ceil(n_samples / n_chains)
    configurations, acceptance = run_chains(
        log_ratio, lambda x: x, None, x0, key_run,
        n_tune=n_tune, n_records=n_per_chain, sweeps_per_record=thin,
    )
    if float(jnp.mean(acceptance)) < 0.01:
        logger.warning(
            "swap Metropolis acceptance rate %.4f is below 0.01: the chains barely move at beta=%g. "
            "Increase n_tune and max_thin or lower beta.", float(jnp.mean(acceptance)), beta,
        )
    configurations = np.asarray(configurations).transpose(1, 0, 2).reshape(-1, system.n_sites)
    return configurations[:n_samples]
