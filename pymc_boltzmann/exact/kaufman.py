"""Exact 2D Ising references: Kaufman's finite-lattice partition function and Onsager's solution.

Kaufman, B. (1949). Crystal statistics. II. Partition function evaluated by spinor analysis.
Physical Review 76, 1232. Onsager, L. (1944). Crystal statistics. I. A two-dimensional model
with an order-disorder transition. Physical Review 65, 117.
"""

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
from scipy import integrate

from pymc_boltzmann._checks import check_beta, check_finite_real, check_lattice_size

CATALAN = 0.915965594177219015054603514932384110774


def ising_critical_beta(J=1.0):
    """Return Onsager's critical inverse temperature ln(1 + sqrt 2) / (2 |J|) of the square lattice."""
    J = _check_coupling(J)
    return math.log1p(math.sqrt(2.0)) / (2.0 * abs(J))


def _check_coupling(J):
    J = check_finite_real("J", J)
    if J == 0.0:
        raise ValueError(
            "J=0.0 is invalid for this reference: expected a nonzero coupling. Without "
            "coupling the spins are independent and ln Z = N ln 2."
        )
    return J


def _log_2cosh(x):
    x = jnp.abs(x)
    return x + jnp.log1p(jnp.exp(-2.0 * x))


def _log_tanh(x):
    # Valid for x > 0: ln tanh x = ln(1 - e^{-2x}) - ln(1 + e^{-2x}), accurate for large x.
    e = jnp.exp(-2.0 * x)
    return jnp.log(-jnp.expm1(-2.0 * x)) - jnp.log1p(e)


def _log_one_minus_exp(s):
    # ln(1 - e^s) for s <= 0, with -inf at s = 0 and a gradient that stays finite there.
    negative = s < 0.0
    s_safe = jnp.where(negative, s, -1.0)
    return jnp.where(negative, jnp.log(-jnp.expm1(s_safe)), -jnp.inf)


def kaufman_log_partition_fn(L, K):
    r"""Return ln Z of the periodic L x L Ising model at h = 0 as a pure JAX function of K = beta J > 0.

    Kaufman's result, with gamma_l defined by cosh(gamma_l) = cosh(2K) coth(2K) - cos(pi l / L)
    for l >= 1 and gamma_0 = 2K + ln tanh K (negative below the critical point), reads

    .. math::

        Z = \tfrac12 (2 \sinh 2K)^{N/2} \Big[\prod_r 2\cosh\tfrac{L\gamma_{2r+1}}{2}
            + \prod_r 2\sinh\tfrac{L\gamma_{2r+1}}{2} + \prod_r 2\cosh\tfrac{L\gamma_{2r}}{2}
            + \prod_r 2\sinh\tfrac{L\gamma_{2r}}{2}\Big], \quad r = 0, \dots, L - 1.

    The products are evaluated as sums of logarithms. Only the factor 2 sinh(L gamma_0 / 2) can
    be negative, so the two even-l products are combined as
    e^{a} (P_c + P_s) + e^{-a} (P_c - P_s) with a = L gamma_0 / 2 and P_c, P_s the cosh and sinh
    products over l = 2, 4, ..., 2L - 2. Both coefficients are positive, which keeps the
    expression and its K derivatives smooth through the critical point, where gamma_0 = 0.

    ``L`` is a Python int; ``K`` may be a JAX tracer, so the function can be differentiated.
    """
    n_sites = L * L
    K = jnp.asarray(K, dtype=jnp.float64)
    two_K = 2.0 * K

    # ln(2 sinh 2K), written so that it neither overflows nor loses digits at large K.
    log_prefactor = 0.5 * n_sites * (two_K + jnp.log(-jnp.expm1(-2.0 * two_K)))

    l = np.arange(1, 2 * L)
    cosh_gamma = jnp.cosh(two_K) / jnp.tanh(two_K) - np.cos(np.pi * l / L)
    gamma = jnp.arccosh(cosh_gamma)
    half = 0.5 * L * gamma

    odd = half[0::2]
    even = half[1::2]

    log_cosh_odd = jnp.sum(_log_2cosh(odd))
    log_tanh_odd = jnp.sum(_log_tanh(odd))
    log_odd = log_cosh_odd + jnp.log1p(jnp.exp(log_tanh_odd))

    a = 0.5 * L * (two_K + jnp.log(jnp.tanh(K)))
    log_cosh_even = jnp.sum(_log_2cosh(even))
    log_tanh_even = jnp.sum(_log_tanh(even))
    log_sum = log_cosh_even + jnp.log1p(jnp.exp(log_tanh_even))
    log_difference = log_cosh_even + _log_one_minus_exp(log_tanh_even)
    log_even = jnp.logaddexp(a + log_sum, -a + log_difference)

    return -math.log(2.0) + log_prefactor + jnp.logaddexp(log_odd, log_even)


def _check_kaufman_lattice(L, J):
    L = check_lattice_size("L", L)
    J = _check_coupling(J)
    if J < 0.0 and L % 2 == 1:
        raise NotImplementedError(
            f"Kaufman's formula does not cover J={J} < 0 on an odd lattice (L={L}): the "
            "antiferromagnet maps onto the ferromagnet only on a bipartite lattice, and a "
            "periodic odd lattice is frustrated. Use exact enumeration for L <= 5."
        )
    return L, J


@functools.lru_cache(maxsize=None)
def _compiled_log_partition(L):
    """Return a jitted function of K giving ln Z and its first and second K derivatives.

    One compiled function per lattice size serves every temperature.
    """

    def log_partition(K):
        return kaufman_log_partition_fn(L, K)

    first = jax.grad(log_partition)
    second = jax.grad(first)

    def value_and_derivatives(K):
        return log_partition(K), first(K), second(K)

    return jax.jit(value_and_derivatives)


def kaufman_log_partition(L, beta, J=1.0):
    """Return ln Z of the periodic L x L Ising model at h = 0 from Kaufman's formula.

    Parameters
    ----------
    L : int
        Linear lattice size, at least 2.
    beta : float
        Inverse temperature, finite and positive.
    J : float
        Coupling. J < 0 is mapped onto |J| by flipping one sublattice, which needs even L.

    Raises
    ------
    NotImplementedError
        For J < 0 with odd L.
    """
    L, J = _check_kaufman_lattice(L, J)
    beta = check_beta(beta)
    log_partition, _, _ = _compiled_log_partition(L)(beta * abs(J))
    return float(log_partition)


def _kaufman_beta_derivatives(L, beta, J):
    """Return d ln Z / d beta and d^2 ln Z / d beta^2, from the K derivatives with K = beta |J|."""
    L, J = _check_kaufman_lattice(L, J)
    beta = check_beta(beta)
    _, first, second = _compiled_log_partition(L)(beta * abs(J))
    return abs(J) * float(first), J**2 * float(second)


def kaufman_mean_energy(L, beta, J=1.0):
    """Return the exact mean energy <E> = -d ln Z / d beta of the periodic L x L lattice at h = 0."""
    first, _ = _kaufman_beta_derivatives(L, beta, J)
    return -first


def kaufman_energy_variance(L, beta, J=1.0):
    """Return the exact energy variance <E^2> - <E>^2 = d^2 ln Z / d beta^2 at h = 0."""
    _, second = _kaufman_beta_derivatives(L, beta, J)
    return second


def kaufman_specific_heat(L, beta, J=1.0):
    """Return the exact specific heat per site c = beta^2 Var(E) / N of the periodic lattice at h = 0."""
    _, second = _kaufman_beta_derivatives(L, beta, J)
    return check_beta(beta) ** 2 * second / (L * L)


def onsager_log_partition_per_site(beta, J=1.0):
    r"""Return ln Z / N of the infinite square-lattice Ising model at h = 0 (Onsager).

    .. math::

        \frac{\ln Z}{N} = \ln(2 \cosh 2K) + \frac{1}{2\pi} \int_0^\pi
            \ln \frac{1 + \sqrt{1 - k^2 \sin^2\theta}}{2} \, d\theta,
        \qquad k = \frac{2 \sinh 2K}{\cosh^2 2K}, \quad K = \beta |J|

    The integral is evaluated with adaptive quadrature. At the critical point k = 1 and the
    integrand has a kink at theta = pi / 2, which is passed to the integrator as a break point.
    """
    beta = check_beta(beta)
    J = _check_coupling(J)
    K = beta * abs(J)
    k = 2.0 * math.sinh(2.0 * K) / math.cosh(2.0 * K) ** 2

    def integrand(theta):
        root = math.sqrt(max(0.0, 1.0 - (k * math.sin(theta)) ** 2))
        return math.log((1.0 + root) / 2.0)

    integral, _ = integrate.quad(integrand, 0.0, math.pi, points=[math.pi / 2], epsabs=1e-14, epsrel=1e-13, limit=200)
    log_2cosh = 2.0 * K + math.log1p(math.exp(-4.0 * K))
    return log_2cosh + integral / (2.0 * math.pi)


def onsager_free_energy_per_site(beta, J=1.0):
    """Return the free energy per site f = -ln Z / (beta N) of the infinite lattice at h = 0."""
    beta = check_beta(beta)
    return -onsager_log_partition_per_site(beta, J) / beta


def onsager_critical_log_partition_per_site():
    """Return ln Z / N at the critical point in closed form, ln(2) / 2 + 2 G / pi (G: Catalan's constant)."""
    return 0.5 * math.log(2.0) + 2.0 * CATALAN / math.pi
