"""A Gaussian mixture as a Boltzmann density with a known normalization."""

import math

import jax.numpy as jnp
import numpy as np
from jax.scipy.special import logsumexp

from pymc_boltzmann._checks import check_beta
from pymc_boltzmann.energies.base import BoltzmannSystem


def _as_finite_array(name, value):
    array = np.asarray(value, dtype=np.float64)
    if not np.isfinite(array).all():
        raise ValueError(f"{name} contains non-finite values: expected finite real numbers.")
    return array


class GaussianMixture(BoltzmannSystem):
    r"""Mixture of K Gaussians with isotropic or diagonal covariances, as an energy.

    .. math::

        E(x) = -\ln \sum_{k=1}^K w_k \, \mathcal N(x; \mu_k, \mathrm{diag}(\sigma_k^2))

    so that p(x) = exp(-E(x)) is the normalized mixture density and Z = 1 at beta = 1.
    Another beta gives the tempered density (sum_k w_k N_k(x))^beta / Z(beta), which is not a
    mixture: beta < 1 flattens it and beta > 1 sharpens the modes. Its ln Z has a closed form
    only for one component, ln Z = sum_i [(1 - beta)/2 ln(2 pi sigma_i^2)] - (d/2) ln beta.

    Parameters
    ----------
    means : array_like
        Component means, shape (K, d).
    sigmas : float or array_like
        Standard deviations: a scalar, shape (K,) for isotropic components or (K, d) for diagonal
        ones. All positive.
    weights : array_like, optional
        Mixture weights, shape (K,), positive; normalized to sum to 1. Equal weights by default.

    Examples
    --------
    >>> import pymc_boltzmann as pmb
    >>> mixture = pmb.energies.GaussianMixture(means=[[-2.0, 0.0], [2.0, 0.0]], sigmas=0.5)
    >>> mixture.exact_log_partition(1.0)
    0.0
    """

    name = "gaussian_mixture"
    sample_space = "real"

    def __init__(self, means, sigmas=1.0, weights=None):
        means = _as_finite_array("means", means)
        if means.ndim != 2 or means.shape[0] < 1 or means.shape[1] < 1:
            raise ValueError(
                f"means has shape {means.shape}, expected (K, d) with one row per component. "
                "Wrap a single mean as [[...]]."
            )
        n_components, dim = means.shape
        sigmas = _as_finite_array("sigmas", sigmas)
        if sigmas.ndim == 1 and sigmas.shape == (n_components,):
            sigmas = sigmas[:, None]
        try:
            sigmas = np.broadcast_to(sigmas, (n_components, dim)).copy()
        except ValueError:
            raise ValueError(
                f"sigmas has shape {sigmas.shape}, expected a scalar, ({n_components},) or "
                f"({n_components}, {dim})."
            ) from None
        if (sigmas <= 0.0).any():
            raise ValueError(f"sigmas contains values <= 0: expected positive standard deviations, got {sigmas.min()}.")

        weights = np.full(n_components, 1.0 / n_components) if weights is None else _as_finite_array("weights", weights)
        if weights.shape != (n_components,) or (weights <= 0.0).any():
            raise ValueError(
                f"weights={weights.tolist()} is invalid: expected {n_components} positive numbers, "
                "one per component. They are normalized to sum to 1."
            )

        self.means = means
        self.sigmas = sigmas
        self.weights = weights / weights.sum()
        self.n_components = n_components
        self.dim = dim
        self.n_sites = dim
        self.shape = (dim,)

    def energy_fn(self, x):
        means, sigmas = jnp.asarray(self.means), jnp.asarray(self.sigmas)
        standardized = (x[..., None, :] - means) / sigmas
        log_normal = -0.5 * jnp.sum(standardized**2, axis=-1) - jnp.sum(jnp.log(sigmas), axis=-1) - 0.5 * self.dim * math.log(2.0 * math.pi)
        return -logsumexp(log_normal + jnp.log(jnp.asarray(self.weights)), axis=-1)

    def observables_fn(self, x):
        """Return the energy, x_1, x_1^2 and the mean coordinate (1/d) sum_k x_k."""
        return {
            "energy": self.energy_fn(x),
            "x1": x[..., 0],
            "x1_sq": x[..., 0] ** 2,
            "mean_coordinate": jnp.mean(x, axis=-1),
        }

    def _check_closed_form(self, beta, quantity):
        if beta != 1.0 and self.n_components > 1:
            raise NotImplementedError(
                f"No closed-form {quantity} at beta={beta} for {self.n_components} components: the "
                "power of a sum of Gaussians has no closed-form integral. Use beta=1."
            )

    def exact_log_partition(self, beta=1.0):
        """Return ln Z: 0 at beta = 1; for one component the Gaussian integral at any beta."""
        beta = check_beta(beta)
        self._check_closed_form(beta, "ln Z")
        if beta == 1.0:
            return 0.0
        log_variances = np.log(2.0 * math.pi * self.sigmas[0] ** 2)
        return float(np.sum(0.5 * (1.0 - beta) * log_variances) - 0.5 * self.dim * math.log(beta))

    def exact_expectations(self, beta=1.0):
        """Return <x_1>, <x_1^2> and the mean coordinate; <E> only for one component.

        For K > 1, <E> is the entropy of the mixture, which has no closed form, so ``energy``
        is absent from the dict.
        """
        beta = check_beta(beta)
        self._check_closed_form(beta, "expectations")
        variances = self.sigmas**2 / beta
        expectations = {
            "x1": float(self.weights @ self.means[:, 0]),
            "x1_sq": float(self.weights @ (self.means[:, 0] ** 2 + variances[:, 0])),
            "mean_coordinate": float(self.weights @ self.means.mean(axis=1)),
        }
        if self.n_components == 1:
            log_normalization = float(np.sum(np.log(self.sigmas[0])) + 0.5 * self.dim * math.log(2.0 * math.pi))
            expectations["energy"] = 0.5 * self.dim / beta + log_normalization
        return expectations

    def __repr__(self):
        return f"GaussianMixture(n_components={self.n_components}, dim={self.dim})"
