r"""Deterministic estimators of the variational free energy F_q and of the mean energy under q.

Every estimator is a pure JAX function of the network weights, deterministic and differentiable,
so that it can enter a PyMC log density sampled with NUTS. With

.. math::

    F_q(\theta) = \frac{1}{\beta} \mathbb{E}_{q_\theta}[\ln q_\theta(x) + \beta E(x)]
                = \langle E \rangle_{q_\theta} - \frac{1}{\beta} H(q_\theta) \ge F,

three estimators are provided:

``"exact"``
    Sum over all 2^n configurations of a spin system, for n_sites up to
    :data:`MAX_ENUMERATION_SITES`. No error.
``"reparameterized"``
    Average over draws x_m = T_theta(z_m) of the network, with base draws z_m fixed for the whole
    run (the network's ``sample`` called with one fixed key). Unbiased for each fixed theta, with
    a Monte Carlo error of order sd(ln q + beta E) / (beta sqrt(M)) that is frozen into the
    estimate, so the same theta always gives the same value. Needs a network whose ``sample`` is
    a differentiable function of the weights for a fixed key (flows, Gaussians).
``"snis"``
    Self-normalized importance sampling from a fixed reference set x_1..x_M with known (possibly
    unnormalized) log density ln r(x_m):

    .. math::

        \tilde w_m(\theta) = \frac{q_\theta(x_m) / r(x_m)}{\sum_k q_\theta(x_k) / r(x_k)}, \qquad
        \hat F_q(\theta) = \sum_m \tilde w_m(\theta)
            \left[\frac{\ln q_\theta(x_m)}{\beta} + E(x_m)\right].

    It is consistent as M grows, with a bias of order 1/M. It only evaluates q_theta on the
    reference configurations, so where q_theta puts its mass on configurations that r does not
    cover, the estimate is wrong. It can then fall far below F, because the weights pick the
    few reference configurations that are least improbable under q_theta while ln q_theta is
    very negative on all of them. It therefore needs a reference that covers q_theta, for
    example draws from a point estimate q0 trained with
    :func:`pymc_boltzmann.training.fit_energy`, or Boltzmann samples with ln r = -beta E (the
    unknown ln Z cancels in the normalization). The estimator also returns
    ``"reference_ess_fraction"``, (sum w)^2 / (M sum w^2): where it is far below 1, a few
    reference configurations carry the estimate and it is unreliable.
"""

import dataclasses
import logging

import jax
import jax.numpy as jnp
import numpy as np

from pymc_boltzmann._checks import check_positive_int

logger = logging.getLogger(__name__)

MAX_ENUMERATION_SITES = 16
"""Largest spin system whose 2^n configurations the ``"exact"`` estimator sums over."""

ESTIMATORS = ("auto", "exact", "reparameterized", "snis")


def enumerate_spins(n_sites):
    """Return all 2^n_sites spin configurations as a JAX array of shape ``(2**n_sites, n_sites)``.

    Configuration k has spin i equal to -1 where bit i of k is set, so row 0 is all +1.
    """
    codes = jnp.arange(2**n_sites, dtype=jnp.int64)[:, None]
    bits = (codes >> jnp.arange(n_sites, dtype=jnp.int64)) & 1
    return 1.0 - 2.0 * bits.astype(jnp.float64)


@dataclasses.dataclass(frozen=True)
class ReferenceSet:
    """A fixed set of configurations and their log density, the proposal of the ``"snis"`` estimator.

    Attributes
    ----------
    x : numpy.ndarray
        Configurations of shape ``(M, n_sites)``.
    log_density : numpy.ndarray
        ln r(x_m) of shape ``(M,)``, up to one additive constant shared by all entries.
    """

    x: np.ndarray
    log_density: np.ndarray

    def __post_init__(self):
        x = np.asarray(self.x, dtype=np.float64)
        log_density = np.asarray(self.log_density, dtype=np.float64)
        if x.ndim != 2 or x.shape[0] < 1:
            raise ValueError(
                f"reference configurations have shape {x.shape}, expected (M, n_sites) with M >= 1."
            )
        if log_density.shape != (x.shape[0],):
            raise ValueError(
                f"reference log_density has shape {log_density.shape}, expected ({x.shape[0]},): "
                "one log density per reference configuration."
            )
        if not np.isfinite(log_density).all():
            raise ValueError(
                "reference log_density contains non-finite values: every reference configuration "
                "needs a finite log density under the distribution it was drawn from."
            )
        object.__setattr__(self, "x", x)
        object.__setattr__(self, "log_density", log_density)

    @classmethod
    def from_network(cls, network, params, n_samples, *, random_seed=None):
        """Draw ``n_samples`` configurations from a network with weights ``params`` (for example a point estimate)."""
        n_samples = check_positive_int("n_samples", n_samples)
        key = jax.random.key(np.random.default_rng(random_seed).integers(2**31))
        x, log_q = network.sample(params, key, n_samples)
        return cls(np.asarray(x), np.asarray(log_q))

    @classmethod
    def from_boltzmann_sample(cls, system, beta, x):
        """Use configurations drawn from p (for example training data) with ln r = -beta E(x).

        ln Z is unknown but cancels in the self-normalized weights.
        """
        energy = np.asarray(system.energy(x))
        return cls(np.asarray(x), -beta * energy)


@dataclasses.dataclass(frozen=True)
class FreeEnergyEstimator:
    """A deterministic estimator of (F_q, mean energy) as a pure JAX function of the weights.

    Attributes
    ----------
    method : {"exact", "reparameterized", "snis"}
        Which estimator, see the module documentation.
    inputs : dict of str to numpy.ndarray
        Fixed arrays the estimator reads, such as the reference set of ``"snis"``. A PyMC model
        stores them as ``pm.Data`` so that they reach the compiled log density as arguments.
    fn : callable
        ``fn(params, inputs) -> dict`` of JAX scalars: ``"variational_free_energy"`` (in energy
        units, for the whole system, not per site) and ``"mean_energy"``, plus
        ``"reference_ess_fraction"`` for ``"snis"``.
    """

    method: str
    inputs: dict
    fn: object

    def __call__(self, params, inputs=None):
        return self.fn(params, self.inputs if inputs is None else inputs)


def _exact_estimator(network, system, beta):
    n_sites = network.n_sites

    def estimate(params, inputs):
        states = enumerate_spins(n_sites)
        log_q = network.log_q(params, states)
        energy = system.energy_fn(states)
        q = jnp.exp(log_q)
        return {"variational_free_energy": jnp.sum(q * (log_q / beta + energy)),
                "mean_energy": jnp.sum(q * energy)}

    return FreeEnergyEstimator("exact", {}, estimate)


def _reparameterized_estimator(network, system, beta, n_base_samples, key):
    def estimate(params, inputs):
        x, log_q = network.sample(params, key, n_base_samples)
        energy = system.energy_fn(x)
        return {"variational_free_energy": jnp.mean(log_q / beta + energy),
                "mean_energy": jnp.mean(energy)}

    return FreeEnergyEstimator("reparameterized", {}, estimate)


def _snis_estimator(network, system, beta, reference):
    def estimate(params, inputs):
        x = inputs["reference_x"]
        log_q = network.log_q(params, x)
        energy = system.energy_fn(x)
        weights = jax.nn.softmax(log_q - inputs["reference_log_density"])
        return {
            "variational_free_energy": jnp.sum(weights * (log_q / beta + energy)),
            "mean_energy": jnp.sum(weights * energy),
            "reference_ess_fraction": 1.0 / (jnp.sum(weights**2) * weights.shape[0]),
        }

    inputs = {"reference_x": reference.x, "reference_log_density": reference.log_density}
    return FreeEnergyEstimator("snis", inputs, estimate)


def is_reparameterized(network):
    """Return whether ``network.sample`` is differentiable in the weights for a fixed key.

    Real-valued networks are taken to be reparameterized unless they set the class attribute
    ``reparameterized = False`` (a mixture whose component is drawn at random, for instance).
    """
    return network.sample_space == "real" and getattr(network, "reparameterized", True)


def _choose_method(network, reference):
    if network.sample_space == "spin" and network.n_sites <= MAX_ENUMERATION_SITES:
        return "exact"
    if is_reparameterized(network):
        return "reparameterized"
    if reference is not None:
        return "snis"
    raise ValueError(
        f"no deterministic free energy estimator fits network {network.name!r} "
        f"({network.sample_space} sample space, {network.n_sites} sites): exact enumeration "
        f"needs spins and n_sites <= {MAX_ENUMERATION_SITES}, and the network's sampling is not "
        "reparameterized. Pass reference=ReferenceSet.from_network(network, trained_params, "
        "n_samples) to use self-normalized importance sampling."
    )


def build_estimator(network, system, beta, *, estimator="auto", n_base_samples=1024,
                    reference=None, random_seed=None):
    """Choose and build the free energy estimator for a network and a system.

    Parameters
    ----------
    network : Network
        The generative network q_theta.
    system : BoltzmannSystem
        The system whose energy defines p.
    beta : float
        Inverse temperature.
    estimator : {"auto", "exact", "reparameterized", "snis"}
        ``"auto"`` picks ``"exact"`` for spin systems of at most :data:`MAX_ENUMERATION_SITES`
        sites, ``"reparameterized"`` for reparameterized real-valued networks, and ``"snis"``
        when a reference set is given.
    n_base_samples : int
        Number of fixed base draws of the ``"reparameterized"`` estimator.
    reference : ReferenceSet, optional
        Reference set of the ``"snis"`` estimator.
    random_seed : int, optional
        Seed of the fixed base draws.

    Returns
    -------
    FreeEnergyEstimator
    """
    if estimator not in ESTIMATORS:
        raise ValueError(f"estimator={estimator!r} is invalid: expected one of {ESTIMATORS}.")
    method = _choose_method(network, reference) if estimator == "auto" else estimator
    logger.info("F_q of network %r is estimated with the %r estimator.", network.name, method)

    if method == "exact":
        if network.sample_space != "spin" or network.n_sites > MAX_ENUMERATION_SITES:
            raise ValueError(
                f"estimator='exact' needs a spin network with at most {MAX_ENUMERATION_SITES} "
                f"sites, got a {network.sample_space} network with {network.n_sites} sites. "
                "Use estimator='snis' with a reference set, or 'reparameterized' for flows."
            )
        return _exact_estimator(network, system, beta)

    if method == "reparameterized":
        if not is_reparameterized(network):
            raise ValueError(
                f"estimator='reparameterized' needs a network whose sample is differentiable in "
                f"the weights, but {type(network).__name__} is a {network.sample_space} network "
                "without reparameterized sampling. Use estimator='snis' with a reference set."
            )
        n_base_samples = check_positive_int("n_base_samples", n_base_samples)
        key = jax.random.key(np.random.default_rng(random_seed).integers(2**31))
        return _reparameterized_estimator(network, system, beta, n_base_samples, key)

    if reference is None:
        raise ValueError(
            "estimator='snis' needs reference=ReferenceSet(...): a fixed set of configurations "
            "with their log density, for example ReferenceSet.from_network(network, "
            "trained_params, 4096)."
        )
    if not isinstance(reference, ReferenceSet):
        raise TypeError(
            f"reference={type(reference).__name__} is invalid: expected a ReferenceSet. Build one "
            "with ReferenceSet.from_network or ReferenceSet.from_boltzmann_sample."
        )
    network.validate(reference.x, name="reference.x")
    return _snis_estimator(network, system, beta, reference)


def exact_free_energy(system, beta):
    """Return the exact F = -ln Z / beta of the whole system, or None where no reference exists.

    Uses ``system.exact_log_partition`` where the system has one, and otherwise sums over all
    configurations of spin systems with at most :data:`MAX_ENUMERATION_SITES` sites.
    """
    try:
        return -float(system.exact_log_partition(beta)) / beta
    except NotImplementedError:
        pass
    if system.sample_space != "spin" or system.n_sites > MAX_ENUMERATION_SITES:
        return None
    energy = system.energy_fn(enumerate_spins(system.n_sites))
    return -float(jax.scipy.special.logsumexp(-beta * energy)) / beta
