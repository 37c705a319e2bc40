"""Fit a surrogate energy with NUTS and store its weight posterior as stacked draws for vmapped use."""

import dataclasses
import logging
import math

import arviz as az
import jax
import jax.numpy as jnp
import numpy as np
import pymc as pm
import xarray as xr

from pymc_boltzmann._checks import check_positive_int

logger = logging.getLogger(__name__)


@dataclasses.dataclass
class SurrogatePosterior:
    """Posterior draws theta_s of a :class:`~pymc_boltzmann.surrogate.network.SurrogateEnergy`.

    Attributes
    ----------
    surrogate : SurrogateEnergy
        The network whose weights the draws are.
    params : dict of str to jax.Array
        Weights keyed like ``surrogate.weight_shapes``, each with a leading draw axis of length
        ``n_draws`` (chains and draws of the sampler stacked).
    noise_sd : numpy.ndarray
        Observation-noise standard deviation sigma_s of every draw, shape ``(n_draws,)``.
    heldout_rmse : numpy.ndarray or None
        Root-mean-square error of E_theta_s on the held-out set for every draw.
    idata : xarray.DataTree or None
        The sampler output; its posterior group contains ``heldout_rmse`` with dims (chain, draw).
    """

    surrogate: object
    params: dict
    noise_sd: np.ndarray
    heldout_rmse: np.ndarray | None = None
    idata: object = None

    def __post_init__(self):
        self.noise_sd = np.asarray(self.noise_sd, dtype=np.float64).reshape(-1)
        bad = ~np.isfinite(self.noise_sd) | (self.noise_sd < 0.0)
        if bad.any():
            raise ValueError(
                f"noise_sd contains {int(bad.sum())} invalid values (first {float(self.noise_sd[bad][0])!r}): "
                "expected finite non-negative standard deviations of the observation noise."
            )
        sizes = {key: int(np.shape(value)[0]) for key, value in self.params.items()}
        if any(size != self.noise_sd.shape[0] for size in sizes.values()):
            raise ValueError(
                f"params have leading draw axes {sizes} but noise_sd has {self.noise_sd.shape[0]} draws: "
                "expected one noise sd per posterior draw."
            )

    @property
    def n_draws(self):
        """Number of posterior draws."""
        return int(np.shape(self.noise_sd)[0])

    @classmethod
    def point_mass(cls, surrogate, params, n_draws, noise_sd=0.0):
        """Return a posterior of ``n_draws`` identical draws of ``params`` (no epistemic uncertainty)."""
        n_draws = check_positive_int("n_draws", n_draws)
        stacked = {key: jnp.broadcast_to(jnp.asarray(value), (n_draws,) + jnp.shape(value)) for key, value in params.items()}
        return cls(surrogate, stacked, np.full(n_draws, float(noise_sd)))

    def subset(self, n_draws):
        """Return a posterior of ``n_draws`` draws evenly spaced over the stacked chains and draws."""
        n_draws = check_positive_int("n_draws", n_draws)
        if n_draws > self.n_draws:
            raise ValueError(f"n_draws={n_draws} is invalid: this posterior has only {self.n_draws} draws.")
        index = np.linspace(0, self.n_draws - 1, n_draws).round().astype(int)
        return SurrogatePosterior(
            self.surrogate,
            {key: value[index] for key, value in self.params.items()},
            self.noise_sd[index],
            None if self.heldout_rmse is None else self.heldout_rmse[index],
            self.idata,
        )

    def energy(self, x):
        """Return E_theta_s(x) for every draw, shape ``(n_draws, ...)`` for ``x`` of shape ``(..., n_sites)``."""
        return self.surrogate.energy(self.params, x)

    def mean_energy_fn(self, x):
        """Return the posterior mean energy (1/S) sum_s E_theta_s(x); pure JAX."""
        energies = jax.vmap(lambda p: self.surrogate.energy_fn(p, x))(self.params)
        return jnp.mean(energies, axis=0)

    def predictive_interval(self, x, prob=0.9, random_seed=None):
        """Return the central ``prob`` interval of the posterior predictive of the energy of ``x``.

        The predictive draws are E_theta_s(x) + sigma_s eps_s with eps_s ~ Normal(0, 1), one per
        posterior draw. The interval ends are their (1 - prob)/2 and (1 + prob)/2 quantiles.
        """
        if not 0.0 < prob < 1.0:
            raise ValueError(f"prob={prob!r} is invalid: expected a probability strictly between 0 and 1.")
        energies = np.asarray(self.energy(x))
        noise = np.random.default_rng(random_seed).standard_normal(energies.shape)
        predictive = energies + self.noise_sd.reshape((-1,) + (1,) * (energies.ndim - 1)) * noise
        lower, upper = np.quantile(predictive, [(1.0 - prob) / 2.0, (1.0 + prob) / 2.0], axis=0)
        return lower, upper

    def coverage(self, x, energies, prob=0.9, random_seed=None):
        """Return the fraction of ``energies`` inside their central ``prob`` predictive intervals."""
        lower, upper = self.predictive_interval(x, prob, random_seed=random_seed)
        energies = np.asarray(energies, dtype=np.float64)
        return float(np.mean((energies >= lower) & (energies <= upper)))

    def rmse(self, x, energies):
        """Return the root-mean-square error of E_theta_s on labelled ``(x, energies)`` for every draw."""
        residual = np.asarray(self.energy(x)) - np.asarray(energies, dtype=np.float64)
        return np.sqrt(np.mean(residual**2, axis=-1))


def fit_surrogate(surrogate, x_train, e_train, *, x_test=None, e_test=None, draws=200, tune=200, chains=2,
                  random_seed=None, max_tree_depth=6, target_accept=0.9, prior_scale=1.0, noise_scale=1.0):
    """Sample the weight posterior of ``surrogate`` given labelled configurations with NUTS (NumPyro).

    The model is theta ~ Normal(0, prior_scale), sigma ~ HalfNormal(noise_scale),
    e_n ~ Normal(E_theta(x_n), sigma). Chains are vectorized on one device, and the tree depth is
    capped at ``max_tree_depth`` so that a fit takes seconds to minutes on a CPU.

    Parameters
    ----------
    surrogate : SurrogateEnergy
        The network architecture.
    x_train, e_train : array_like
        Configurations ``(n, n_sites)`` and their energies ``(n,)``.
    x_test, e_test : array_like, optional
        Held-out pairs; the RMSE of every draw on them is stored as ``heldout_rmse``.
    draws, tune, chains, random_seed, max_tree_depth, target_accept
        Passed on to ``pm.sample``.
    prior_scale, noise_scale : float
        Scales of the weight prior and of the noise-sd prior.

    Returns
    -------
    SurrogatePosterior
    """
    with pm.Model():
        surrogate.register(prior_scale=prior_scale, noise_scale=noise_scale)
        surrogate.observe("energy", x_train, e_train)
        idata = pm.sample(
            draws=draws,
            tune=tune,
            chains=chains,
            random_seed=random_seed,
            nuts_sampler="numpyro",
            nuts={"max_tree_depth": max_tree_depth, "target_accept": target_accept, "chain_method": "vectorized"},
            progressbar=False,
            compute_convergence_checks=False,
        )

    posterior = idata["posterior"]
    params = {
        key: jnp.asarray(posterior[f"{surrogate.name}_{key}"].values.reshape((-1,) + shape))
        for key, shape in surrogate.weight_shapes.items()
    }
    noise_sd = posterior[f"{surrogate.name}_sigma"].values.reshape(-1)
    result = SurrogatePosterior(surrogate, params, noise_sd, idata=idata)
    _log_divergences(idata)

    if x_test is not None:
        rmse = result.rmse(x_test, e_test)
        result.heldout_rmse = rmse
        idata["posterior"]["heldout_rmse"] = xr.DataArray(rmse.reshape(chains, draws), dims=("chain", "draw"))
        _log_rhat(rmse.reshape(chains, draws))
    return result


def _log_rhat(heldout_rmse, threshold=1.05):
    # Weight-space R-hat is meaningless for networks (permuted hidden units), so convergence is
    # judged on a function-space quantity: the held-out RMSE of every draw.
    if heldout_rmse.shape[0] < 2:
        return
    rhat = float(az.rhat(heldout_rmse))
    if rhat > threshold:
        logger.warning(
            "R-hat of the held-out RMSE is %.3f, above %.2f: the chains disagree on the surrogate's "
            "predictions. Increase tune and draws, or run more chains.", rhat, threshold,
        )


def _log_divergences(idata):
    diverging = int(idata["sample_stats"]["diverging"].values.sum())
    if diverging:
        total = math.prod(idata["sample_stats"]["diverging"].shape)
        logger.warning(
            "NUTS reported %d divergent transitions out of %d (threshold 0): the surrogate posterior "
            "may be biased. Raise target_accept or tune, or rescale the energies.", diverging, total,
        )
