"""ln Z of lattice phi^4 theory by thermodynamic integration from the free field."""

import logging
from typing import NamedTuple

import numpy as np

from pymc_boltzmann._checks import check_beta, check_finite_real, check_positive_int
from pymc_boltzmann.exact.gaussian import gaussian_log_partition

logger = logging.getLogger(__name__)

N_BATCHES = 20


class LogPartitionEstimate(NamedTuple):
    """A Monte Carlo estimate of ln Z with its standard error."""

    value: float
    stderr: float


def _batch_mean_error(values):
    """Return the mean and its standard error from batch means, robust to residual autocorrelation."""
    n_batches = min(N_BATCHES, values.size)
    batches = np.array_split(values, n_batches)
    means = np.array([batch.mean() for batch in batches])
    return float(values.mean()), float(means.std(ddof=1) / np.sqrt(n_batches))


def _integrate_leg(start, stop, n_nodes, derivative):
    """Integrate d ln Z / d t from ``start`` to ``stop`` with Gauss-Legendre nodes.

    ``derivative(t)`` returns the Monte Carlo estimate of the integrand at t and its standard
    error. Estimates at different nodes are independent, so their variances add with the
    squared quadrature weights.
    """
    nodes, weights = np.polynomial.legendre.leggauss(n_nodes)
    half_width = 0.5 * (stop - start)
    value, variance = 0.0, 0.0
    for node, weight in zip(nodes, weights):
        mean, stderr = derivative(start + half_width * (node + 1.0))
        value += half_width * weight * mean
        variance += (half_width * weight * stderr) ** 2
    return value, variance


def _default_sampler():
    from pymc_boltzmann.montecarlo import reference_sample

    return reference_sample


def phi4_log_partition(system, beta=1.0, *, n_nodes=8, n_samples=2_000, m2_reference=1.0, sampler=None, random_seed=None, **sampler_kwargs):
    r"""Estimate ln Z of lattice phi^4 theory by thermodynamic integration from the free field.

    The path starts at the free field (m2_ref, 0), where ln Z is a log-determinant, raises the
    quartic coupling to lam at fixed m2_ref, then moves the mass to m2 at fixed lam:

    .. math::

        \ln Z(m^2, \lambda) = \ln Z_0(m^2_\mathrm{ref})
            - \frac{\beta}{4!} \int_0^\lambda \Big\langle \sum_x \phi_x^4 \Big\rangle_{m^2_\mathrm{ref}, \lambda'} d\lambda'
            - \frac{\beta}{2} \int_{m^2_\mathrm{ref}}^{m^2} \Big\langle \sum_x \phi_x^2 \Big\rangle_{\mu, \lambda} d\mu

    with m2_ref = m2 when m2 > 0 (the second leg then vanishes), so m2 <= 0 is reachable at
    lam > 0. Each integral uses ``n_nodes`` Gauss-Legendre nodes. At each node ``n_samples``
    configurations are drawn from the reference sampler and the expectation gets a batch-means
    standard error.

    Parameters
    ----------
    system : Phi4
        The theory (L, m2, lam).
    beta : float
        Inverse temperature multiplying the action.
    n_nodes : int
        Gauss-Legendre nodes per leg of the path.
    n_samples : int
        Configurations per node.
    m2_reference : float
        Mass of the free-field starting point when m2 <= 0; must be positive.
    sampler : callable, optional
        ``sampler(system, beta, n_samples, random_seed=..., **sampler_kwargs)`` returning
        configurations of shape (n_samples, n_sites). Defaults to
        :func:`pymc_boltzmann.montecarlo.reference_sample`.
    random_seed : int, optional
        Seed from which one independent seed per node is derived.

    Returns
    -------
    LogPartitionEstimate
        ``(value, stderr)``. The standard error covers the Monte Carlo error only; the
        quadrature error of the path integrals is not included. For smooth integrands it is
        small at 8 nodes, and doubling ``n_nodes`` checks it. A path through a phase
        transition (m2 well below 0) needs more nodes.
    """
    from pymc_boltzmann.energies.phi4 import Phi4

    beta = check_beta(beta)
    if system.lam == 0.0:
        return LogPartitionEstimate(gaussian_log_partition(system.L, system.m2, beta), 0.0)
    n_nodes = check_positive_int("n_nodes", n_nodes)
    n_samples = check_positive_int("n_samples", n_samples, minimum=2)
    m2_reference = check_finite_real("m2_reference", m2_reference)
    if system.m2 > 0.0:
        m2_reference = system.m2
    elif m2_reference <= 0.0:
        raise ValueError(
            f"m2_reference={m2_reference} is invalid: expected a positive mass for the free-field "
            "starting point of the integration. Pass m2_reference=1.0."
        )
    sampler = _default_sampler() if sampler is None else sampler
    seeds = iter(np.random.SeedSequence(random_seed).generate_state(2 * n_nodes))

    def sample(m2, lam):
        theory = Phi4(system.L, m2=m2, lam=lam)
        samples = sampler(theory, beta, n_samples, random_seed=int(next(seeds)), **sampler_kwargs)
        return np.asarray(samples, dtype=np.float64)

    def quartic_derivative(lam):
        mean, stderr = _batch_mean_error(np.sum(sample(m2_reference, lam) ** 4, axis=-1))
        return -beta * mean / 24.0, beta * stderr / 24.0

    def mass_derivative(m2):
        mean, stderr = _batch_mean_error(np.sum(sample(m2, system.lam) ** 2, axis=-1))
        return -beta * mean / 2.0, beta * stderr / 2.0

    value = gaussian_log_partition(system.L, m2_reference, beta)
    quartic_value, quartic_variance = _integrate_leg(0.0, system.lam, n_nodes, quartic_derivative)
    value += quartic_value
    variance = quartic_variance
    if system.m2 != m2_reference:
        mass_value, mass_variance = _integrate_leg(m2_reference, system.m2, n_nodes, mass_derivative)
        value += mass_value
        variance += mass_variance

    estimate = LogPartitionEstimate(float(value), float(np.sqrt(variance)))
    logger.info("phi^4 ln Z by thermodynamic integration: %.6f +- %.6f (%d nodes per leg, %d samples per node)", estimate.value, estimate.stderr, n_nodes, n_samples)
    return estimate
