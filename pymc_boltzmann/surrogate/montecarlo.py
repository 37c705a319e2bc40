"""Monte Carlo with a Bayesian surrogate energy: exact, plain surrogate, posterior-predictive and penalty runs.

Every run is swap-move Metropolis at fixed composition (:mod:`.swap_metropolis`). The recorded
observables are the energy per site under the energy that drives the chain, and the
Warren-Cowley short-range order of the system (``sro_1``, ``sro_2``, ``sro_3``), which depends on
the configuration only.
"""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from pymc_boltzmann._checks import check_beta, check_positive_int
from pymc_boltzmann.surrogate import swap_metropolis as swap

OBSERVABLES = ("energy_per_site", "sro_1", "sro_2", "sro_3")
PENALTY_RULES = ("posterior_draw", "estimated_variance", "uncertainty_penalized")


@dataclasses.dataclass
class MonteCarloEstimate:
    """Estimates of the observables from one simulation, or from one simulation per posterior draw.

    Attributes
    ----------
    method : str
        Name of the simulation.
    mean : dict of str to float
        Estimate of every observable (for several draws, the mean over draws).
    aleatoric_sd : dict of str to float
        Monte Carlo standard error: of the single simulation, or the root mean square of the
        per-draw standard errors, sqrt(mean_s se_s^2).
    epistemic_sd : dict of str to float
        Standard deviation of the per-draw estimates across posterior draws; 0 for one simulation.
    acceptance_rate : float
        Mean fraction of accepted swaps.
    per_draw_mean, per_draw_se : dict of str to numpy.ndarray or None
        Per-draw estimates <O>_s and their Monte Carlo errors, shape ``(n_draws,)``.
    """

    method: str
    mean: dict
    aleatoric_sd: dict
    epistemic_sd: dict
    acceptance_rate: float
    per_draw_mean: dict | None = None
    per_draw_se: dict | None = None

    @property
    def total_sd(self):
        r"""Total standard deviation by the law of total variance, sqrt(aleatoric^2 + epistemic^2).

        Var(O) = E_theta[Var(O | theta)] + Var_theta(E[O | theta]): the first term is the mean
        within-draw Monte Carlo variance, the second the between-draw variance.
        """
        return {key: float(np.hypot(self.aleatoric_sd[key], self.epistemic_sd[key])) for key in self.mean}

    def covers(self, reference, z=1.96, reference_se=None):
        """Return, per observable, whether |mean - reference| <= z sqrt(total_sd^2 + reference_se^2)."""
        reference_se = reference_se or {}
        total = self.total_sd
        return {
            key: bool(abs(self.mean[key] - reference[key]) <= z * np.hypot(total[key], reference_se.get(key, 0.0)))
            for key in self.mean
        }


def _record_fn(system, energy_fn):
    def record(x):
        alpha = system.short_range_order(system.shell_pair_sums(x))
        return jnp.stack([energy_fn(x) / system.n_sites, alpha[0], alpha[1], alpha[2]])

    return record


def _single_run(method, system, log_ratio, record, key, n_chains, n_sweeps, n_tune):
    key_init, key_run = jax.random.split(key)
    x0 = swap.initial_configurations(system.n_sites, system.n_a, n_chains, key_init)
    records, acceptance = swap.run_chains(log_ratio, record, None, x0, key_run, n_tune=n_tune, n_records=n_sweeps)
    mean, se, _ = swap.estimate_mean(records)
    return MonteCarloEstimate(
        method,
        dict(zip(OBSERVABLES, mean.tolist())),
        dict(zip(OBSERVABLES, se.tolist())),
        dict.fromkeys(OBSERVABLES, 0.0),
        float(jnp.mean(acceptance)),
    )


def _check_run_sizes(beta, n_chains, n_sweeps, n_tune):
    beta = check_beta(beta)
    n_chains = check_positive_int("n_chains", n_chains, minimum=2)
    n_sweeps = check_positive_int("n_sweeps", n_sweeps, minimum=4)
    n_tune = check_positive_int("n_tune", n_tune, minimum=0)
    return beta, n_chains, n_sweeps, n_tune


def _check_surrogate_matches(system, posterior):
    if posterior.surrogate.n_sites != system.n_sites:
        raise ValueError(
            f"the surrogate takes {posterior.surrogate.n_sites} sites (L={posterior.surrogate.L}) but the "
            f"system has {system.n_sites} (L={system.L}). Build SurrogateEnergy(L={system.L}) and fit it "
            "to configurations of this system."
        )


def exact_mc(system, beta, *, n_chains=16, n_sweeps=2000, n_tune=200, random_seed=0):
    """Run swap Metropolis with the system's own energy; the reference for the surrogate runs.

    Each of ``n_chains`` chains does ``n_tune`` burn-in sweeps and then records the observables
    after each of ``n_sweeps`` sweeps. The standard error comes from the ESS across chains.
    """
    beta, n_chains, n_sweeps, n_tune = _check_run_sizes(beta, n_chains, n_sweeps, n_tune)
    log_ratio = swap.exact_log_ratio(lambda _, x: system.energy_fn(x), beta)
    record = _record_fn(system, system.energy_fn)
    key = jax.random.key(random_seed)
    return _single_run("exact_energy", system, log_ratio, record, key, n_chains, n_sweeps, n_tune)


def noisy_mc(system, beta, noise_sd, *, penalty=True, n_chains=16, n_sweeps=2000, n_tune=200, random_seed=0):
    """Run swap Metropolis whose energy differences carry Gaussian noise of known sd ``noise_sd``.

    With ``penalty`` the acceptance is min(1, exp(-beta dE_est - beta^2 noise_sd^2 / 2)), which
    samples exp(-beta E) exactly (Ceperley and Dewing). Without it, the plain rule
    min(1, exp(-beta dE_est)) samples a distribution biased towards higher energies.
    """
    beta, n_chains, n_sweeps, n_tune = _check_run_sizes(beta, n_chains, n_sweeps, n_tune)
    log_ratio = swap.noisy_log_ratio(lambda _, x: system.energy_fn(x), beta, noise_sd, penalty=penalty)
    record = _record_fn(system, system.energy_fn)
    method = "noisy_penalty" if penalty else "noisy_plain"
    return _single_run(method, system, log_ratio, record, jax.random.key(random_seed), n_chains, n_sweeps, n_tune)


def surrogate_mc(system, posterior, beta, *, n_chains=16, n_sweeps=2000, n_tune=200, random_seed=0):
    """Run swap Metropolis with the posterior mean energy (1/S) sum_s E_theta_s(x).

    This is the plain surrogate simulation: one energy, so its error bars are Monte Carlo errors
    only and carry no epistemic uncertainty of the surrogate.
    """
    beta, n_chains, n_sweeps, n_tune = _check_run_sizes(beta, n_chains, n_sweeps, n_tune)
    _check_surrogate_matches(system, posterior)
    log_ratio = swap.exact_log_ratio(lambda _, x: posterior.mean_energy_fn(x), beta)
    record = _record_fn(system, posterior.mean_energy_fn)
    key = jax.random.key(random_seed)
    return _single_run("surrogate_mean", system, log_ratio, record, key, n_chains, n_sweeps, n_tune)


def posterior_predictive_mc(system, posterior, beta, *, n_chains=8, n_sweeps=1000, n_tune=200, random_seed=0,
                            common_random_numbers=True):
    r"""Run one swap Metropolis simulation per posterior draw theta_s, vectorized over draws.

    Each draw gives <O>_s with its Monte Carlo error se_s (ESS across its chains). The report is

    .. math::

        \bar O = \frac{1}{S} \sum_s \langle O \rangle_s, \quad
        \sigma^2_{\mathrm{epi}} = \frac{1}{S - 1} \sum_s (\langle O \rangle_s - \bar O)^2, \quad
        \sigma^2_{\mathrm{ale}} = \frac{1}{S} \sum_s se_s^2, \quad
        \sigma^2_{\mathrm{tot}} = \sigma^2_{\mathrm{epi}} + \sigma^2_{\mathrm{ale}}

    (law of total variance). With ``common_random_numbers`` every draw runs from the same initial
    configurations and random stream, so identical draws give identical simulations
    (sigma_epi = 0) and the spread between draws reflects the weights, not independent Monte Carlo
    noise. With independent streams sigma^2_epi also contains the Monte Carlo variance once
    more, which overstates the epistemic part by about sigma^2_ale.
    """
    beta, n_chains, n_sweeps, n_tune = _check_run_sizes(beta, n_chains, n_sweeps, n_tune)
    _check_surrogate_matches(system, posterior)
    energy_fn = posterior.surrogate.energy_fn
    log_ratio = swap.exact_log_ratio(energy_fn, beta)
    key_init, key_run = jax.random.split(jax.random.key(random_seed))
    x0 = swap.initial_configurations(system.n_sites, system.n_a, n_chains, key_init)

    def run_draw(params, key):
        record = _record_fn(system, lambda x: energy_fn(params, x))
        return swap.run_chains(log_ratio, record, params, x0, key, n_tune=n_tune, n_records=n_sweeps)

    if common_random_numbers:
        keys = jnp.broadcast_to(key_run, (posterior.n_draws,))
    else:
        keys = jax.random.split(key_run, posterior.n_draws)
    records, acceptance = jax.jit(jax.vmap(run_draw))(posterior.params, keys)

    # records: (draw, chain, sweep, observable) -> per-draw estimates with the draw as a trailing axis
    mean_s, se_s, _ = swap.estimate_mean(np.moveaxis(np.asarray(records), 0, -2))
    return _combine_draws("posterior_predictive", mean_s, se_s, float(jnp.mean(acceptance)))


def _combine_draws(method, mean_s, se_s, acceptance_rate):
    n_draws = mean_s.shape[0]
    mean = mean_s.mean(axis=0)
    epistemic = mean_s.std(axis=0, ddof=1) if n_draws > 1 else np.zeros_like(mean)
    aleatoric = np.sqrt(np.mean(se_s**2, axis=0))
    return MonteCarloEstimate(
        method,
        dict(zip(OBSERVABLES, mean.tolist())),
        dict(zip(OBSERVABLES, aleatoric.tolist())),
        dict(zip(OBSERVABLES, epistemic.tolist())),
        acceptance_rate,
        {key: mean_s[:, i] for i, key in enumerate(OBSERVABLES)},
        {key: se_s[:, i] for i, key in enumerate(OBSERVABLES)},
    )


def penalty_log_ratio(posterior, beta, rule="posterior_draw", n_estimates=4):
    r"""Return the log acceptance ratio of a penalty-method move with a noisy surrogate energy difference.

    Let dE_s = E_theta_s(x') - E_theta_s(x) over the S posterior draws, with mean dE_bar and
    variance s^2 (over draws, ddof = 0).

    - ``"posterior_draw"``: dE_est = dE_r for one draw r chosen uniformly per move, with the
      known-variance penalty: log a = -beta dE_r - beta^2 s^2 / 2. If dE_s is Gaussian across
      draws, the chain samples exp(-beta E_bar) with E_bar the posterior mean energy.
    - ``"estimated_variance"``: dE_est is the mean over ``n_estimates`` draws chosen uniformly
      with replacement per move, and the variance of that mean is estimated from the same draws.
      The penalty is Ceperley and Dewing's estimated-variance correction
      (:func:`~.swap_metropolis.estimated_variance_penalty`). Target: exp(-beta E_bar), exact in
      the Gaussian limit.
    - ``"uncertainty_penalized"``: log a = -beta dE_bar - beta^2 s^2 / 2 with no noise. The
      penalty rejects moves where the ensemble disagrees, but because it is not compensated by
      noise it does not satisfy detailed balance for exp(-beta E_bar): it biases the chain towards
      configurations where the draws agree. The comparison report measures this bias.

    None of these rules expresses the epistemic uncertainty in the result: they all aim at one
    energy, E_bar. Use :func:`posterior_predictive_mc` for that.
    """
    beta = check_beta(beta)
    if rule not in PENALTY_RULES:
        raise ValueError(f"rule={rule!r} is invalid: expected one of {PENALTY_RULES}.")
    n_estimates = check_positive_int("n_estimates", n_estimates, minimum=2)
    energy_fn = posterior.surrogate.energy_fn
    n_draws = posterior.n_draws

    def differences(params, x, x_new):
        return jax.vmap(lambda p: energy_fn(p, x_new) - energy_fn(p, x))(params)

    def log_ratio(params, key, x, x_new):
        delta = differences(params, x, x_new)
        if rule == "posterior_draw":
            chosen = delta[jax.random.randint(key, (), 0, n_draws)]
            return -beta * chosen - swap.known_variance_penalty(beta, jnp.var(delta))
        if rule == "uncertainty_penalized":
            return -beta * jnp.mean(delta) - swap.known_variance_penalty(beta, jnp.var(delta))
        samples = beta * delta[jax.random.randint(key, (n_estimates,), 0, n_draws)]
        chi2 = jnp.var(samples, ddof=1) / n_estimates
        return -jnp.mean(samples) - swap.estimated_variance_penalty(chi2, n_estimates)

    return log_ratio


def penalty_mc(system, posterior, beta, *, rule="posterior_draw", n_estimates=4, n_chains=16, n_sweeps=2000,
               n_tune=200, random_seed=0):
    """Run swap Metropolis with a noisy surrogate energy difference and the penalty method.

    See :func:`penalty_log_ratio` for the rules and their targets. The recorded energy is the
    posterior mean energy E_bar, the energy the penalty rules aim to sample.
    """
    beta, n_chains, n_sweeps, n_tune = _check_run_sizes(beta, n_chains, n_sweeps, n_tune)
    _check_surrogate_matches(system, posterior)
    log_ratio = penalty_log_ratio(posterior, beta, rule=rule, n_estimates=n_estimates)
    record = _record_fn(system, posterior.mean_energy_fn)
    key_init, key_run = jax.random.split(jax.random.key(random_seed))
    x0 = swap.initial_configurations(system.n_sites, system.n_a, n_chains, key_init)
    records, acceptance = swap.run_chains(
        log_ratio, record, posterior.params, x0, key_run, n_tune=n_tune, n_records=n_sweeps
    )
    mean, se, _ = swap.estimate_mean(records)
    return MonteCarloEstimate(
        f"penalty_{rule}",
        dict(zip(OBSERVABLES, mean.tolist())),
        dict(zip(OBSERVABLES, se.tolist())),
        dict.fromkeys(OBSERVABLES, 0.0),
        float(jnp.mean(acceptance)),
    )
