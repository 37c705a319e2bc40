"""Continuous double-well benchmark densities: the double well and the many-well."""

import math

import jax.numpy as jnp
import numpy as np

from pymc_boltzmann._checks import check_beta, check_finite_real, check_positive_int
from pymc_boltzmann.energies.base import BoltzmannSystem
from pymc_boltzmann.exact.quadrature import quartic_moments, sample_quartic


def _continuous_observables(energy, x):
    return {
        "energy": energy,
        "x1": x[..., 0],
        "x1_sq": x[..., 0] ** 2,
        "mean_coordinate": jnp.mean(x, axis=-1),
    }


def _quartic_pair_moments(a, b, c, beta):
    """Return ln Z_1 and <V>, <V^2>, <x>, <x^2> of the quartic coordinate with V = a x + b x^2 + c x^4."""

    def potential(x):
        return a * x + b * x**2 + c * x**4

    log_partition, (energy, energy_sq, x1, x1_sq) = quartic_moments(
        a, b, c, beta, [potential, lambda x: potential(x) ** 2, lambda x: x, lambda x: x * x]
    )
    return log_partition, energy, energy_sq, x1, x1_sq


class DoubleWell(BoltzmannSystem):
    r"""Double well in one coordinate, Gaussian in the others.

    .. math::

        E(x) = a x_1 + b x_1^2 + c x_1^4 + \sum_{k=2}^{d} \frac{x_k^2}{2}

    With the defaults a = 0, b = -4, c = 1 the wells sit at x_1 = +-sqrt 2, separated by a
    barrier of height 4. Continuous systems use beta = 1 by convention; beta is accepted
    everywhere and multiplies E.

    Exact references: ln Z, <E>, <E^2>, <x_1>, <x_1^2> by one-dimensional adaptive quadrature of
    the quartic coordinate; the Gaussian coordinates contribute (d - 1)/2 ln(2 pi / beta).

    Parameters
    ----------
    dim : int
        Dimension d, at least 1.
    a, b, c : float
        Coefficients of the quartic coordinate; c > 0, or c = 0 with b > 0.

    Examples
    --------
    >>> import pymc_boltzmann as pmb
    >>> well = pmb.energies.DoubleWell(dim=2)
    >>> round(well.exact_log_partition(1.0), 6)
    5.21194
    """

    name = "double_well"
    sample_space = "real"

    def __init__(self, dim, a=0.0, b=-4.0, c=1.0):
        self.dim = check_positive_int("dim", dim)
        self.a = check_finite_real("a", a)
        self.b = check_finite_real("b", b)
        self.c = check_finite_real("c", c)
        if not (self.c > 0.0 or (self.c == 0.0 and self.b > 0.0)):
            raise ValueError(
                f"c={self.c} with b={self.b} is invalid: expected c > 0 (or c = 0 with b > 0), "
                "because exp(-E) is not normalizable otherwise. Pass a positive c."
            )
        self.n_sites = self.dim
        self.shape = (self.dim,)

    def energy_fn(self, x):
        x1 = x[..., 0]
        quartic = self.a * x1 + self.b * x1**2 + self.c * x1**4
        return quartic + 0.5 * jnp.sum(x[..., 1:] ** 2, axis=-1)

    def observables_fn(self, x):
        """Return the energy, x_1, x_1^2 and the mean coordinate (1/d) sum_k x_k."""
        return _continuous_observables(self.energy_fn(x), x)

    def exact_log_partition(self, beta=1.0):
        """Return ln Z by quadrature of the quartic coordinate plus the Gaussian ones."""
        beta = check_beta(beta)
        log_partition, *_ = _quartic_pair_moments(self.a, self.b, self.c, beta)
        return log_partition + 0.5 * (self.dim - 1) * math.log(2.0 * math.pi / beta)

    def exact_expectations(self, beta=1.0):
        """Return exact <E>, <E^2>, <x_1>, <x_1^2> and <mean coordinate> by quadrature."""
        beta = check_beta(beta)
        _, energy, energy_sq, x1, x1_sq = _quartic_pair_moments(self.a, self.b, self.c, beta)

        # Each Gaussian coordinate adds x_k^2 / 2 with mean 1 / (2 beta) and variance 1 / (2 beta^2),
        # independently of x_1.
        n_gaussian = self.dim - 1
        gaussian_mean = n_gaussian / (2.0 * beta)
        gaussian_variance = n_gaussian / (2.0 * beta**2)
        return {
            "energy": energy + gaussian_mean,
            "energy_sq": energy_sq + 2.0 * energy * gaussian_mean + gaussian_variance + gaussian_mean**2,
            "x1": x1,
            "x1_sq": x1_sq,
            "mean_coordinate": x1 / self.dim,
        }

    def reference_sample(self, beta, n_samples, *, random_seed=None, **kwargs):
        """Draw ``n_samples`` independent configurations from p exactly.

        x_1 is drawn by inverse-transform sampling of its quartic factor and the other
        coordinates from their Gaussians (see :func:`_sample_quartic_and_gaussian`). Extra
        keyword arguments of the Monte Carlo samplers are ignored.
        """
        return _sample_quartic_and_gaussian(self, beta, n_samples, random_seed, quartic_columns=slice(0, 1))

    def __repr__(self):
        return f"DoubleWell(dim={self.dim}, a={self.a}, b={self.b}, c={self.c})"


class ManyWell(BoltzmannSystem):
    r"""Many-well density: d / 2 independent copies of a two-dimensional double well.

    For each pair (y_1, y_2) = (x_{2i}, x_{2i+1}) the unnormalized log density is
    -y_1^4 + 6 y_1^2 + 0.5 y_1 - 0.5 y_2^2, so

    .. math::

        E(x) = \sum_{i=0}^{d/2 - 1} \Big( x_{2i}^4 - 6 x_{2i}^2 - \tfrac12 x_{2i}
            + \tfrac12 x_{2i+1}^2 \Big)

    With d = 32 it has 2^16 modes. This is the many-well target of Midgley et al., Flow
    annealed importance sampling bootstrap (arXiv:2111.11510), whose reference code
    (fab-torch, ``DoubleWellEnergy.log_Z_2D``) gives ln Z_pair = ln(11784.50927) + ln(2 pi) / 2
    per pair, so ln Z = 164.6957 for d = 32 at beta = 1.
    beta is accepted and multiplies E.

    Parameters
    ----------
    dim : int
        Even dimension d, at least 2.

    Examples
    --------
    >>> import pymc_boltzmann as pmb
    >>> round(pmb.energies.ManyWell(dim=32).exact_log_partition(1.0), 4)
    164.6957
    """

    name = "many_well"
    sample_space = "real"
    a, b, c = -0.5, -6.0, 1.0

    def __init__(self, dim=32):
        self.dim = check_positive_int("dim", dim, minimum=2)
        if self.dim % 2:
            raise ValueError(
                f"dim={self.dim} is invalid: expected an even dimension, because the many-well "
                "is a product of two-dimensional double wells. Pass dim=32."
            )
        self.n_pairs = self.dim // 2
        self.n_sites = self.dim
        self.shape = (self.dim,)

    def energy_fn(self, x):
        pairs = x.reshape(x.shape[:-1] + (self.n_pairs, 2))
        y1, y2 = pairs[..., 0], pairs[..., 1]
        quartic = self.a * y1 + self.b * y1**2 + self.c * y1**4
        return jnp.sum(quartic + 0.5 * y2**2, axis=-1)

    def observables_fn(self, x):
        """Return the energy, x_1, x_1^2 and the mean coordinate (1/d) sum_k x_k."""
        return _continuous_observables(self.energy_fn(x), x)

    def exact_log_partition(self, beta=1.0):
        """Return ln Z = (d/2) [ln Z_quartic + ln(2 pi / beta) / 2], with ln Z_quartic by quadrature."""
        beta = check_beta(beta)
        log_quartic, *_ = _quartic_pair_moments(self.a, self.b, self.c, beta)
        return self.n_pairs * (log_quartic + 0.5 * math.log(2.0 * math.pi / beta))

    def exact_expectations(self, beta=1.0):
        """Return exact <E>, <E^2>, <x_1>, <x_1^2> and <mean coordinate> by quadrature."""
        beta = check_beta(beta)
        _, energy, energy_sq, x1, x1_sq = _quartic_pair_moments(self.a, self.b, self.c, beta)

        # One pair's energy has mean <V> + 1/(2 beta) and variance Var(V) + 1/(2 beta^2); the
        # pairs are independent.
        pair_mean = energy + 0.5 / beta
        pair_variance = energy_sq - energy**2 + 0.5 / beta**2
        total_mean = self.n_pairs * pair_mean
        return {
            "energy": total_mean,
            "energy_sq": self.n_pairs * pair_variance + total_mean**2,
            "x1": x1,
            "x1_sq": x1_sq,
            "mean_coordinate": x1 / 2.0,
        }

    def reference_sample(self, beta, n_samples, *, random_seed=None, **kwargs):
        """Draw ``n_samples`` independent configurations from p exactly.

        Every y_1 coordinate is drawn by inverse-transform sampling of its quartic factor and
        every y_2 from its Gaussian (see :func:`_sample_quartic_and_gaussian`). Extra keyword
        arguments of the Monte Carlo samplers are ignored.
        """
        return _sample_quartic_and_gaussian(self, beta, n_samples, random_seed, quartic_columns=slice(0, None, 2))

    def __repr__(self):
        return f"ManyWell(dim={self.dim})"


def _sample_quartic_and_gaussian(system, beta, n_samples, random_seed, quartic_columns):
    """Draw exact samples of a density that factorizes into quartic and unit Gaussian coordinates.

    The coordinates in ``quartic_columns`` follow exp(-beta (a x + b x^2 + c x^4)) and are drawn
    by inverse-transform sampling on a grid (:func:`sample_quartic`). The others follow
    exp(-beta x^2 / 2) and are drawn directly. Independent draws need no thinning, whereas a
    Markov chain takes thousands of steps to cross the barriers between wells.
    """
    beta = check_beta(beta)
    n_samples = check_positive_int("n_samples", n_samples)
    rng = np.random.default_rng(random_seed)

    x = rng.normal(scale=1.0 / math.sqrt(beta), size=(n_samples, system.n_sites))
    n_quartic = len(range(system.n_sites)[quartic_columns])
    x[:, quartic_columns] = sample_quartic(system.a, system.b, system.c, beta, (n_samples, n_quartic), rng)
    return x
