"""A Bayesian neural-network surrogate energy built from local-environment features of a lattice."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pymc as pm

from pymc_boltzmann._checks import check_configurations, check_lattice_size, check_positive_int
from pymc_boltzmann.energies.alloy import SHELL_OFFSETS


def environment_features(x, L):
    r"""Return the local-environment features f_ik = s_i m_ik / 4 of configurations ``x``.

    m_ik is the sum of the four neighbour spins of site i in shell k, for the first three shells
    of the periodic square lattice. So f_ik in [-1, 1] is the fraction of like minus unlike
    neighbours. Pure JAX: ``x`` has shape ``(..., L * L)`` and the result ``(..., L * L, 3)``.
    """
    lattice = x.reshape(x.shape[:-1] + (L, L))
    features = []
    for offsets in SHELL_OFFSETS:
        neighbour_sum = 0.0
        for dy, dx in offsets:
            neighbour_sum = neighbour_sum + jnp.roll(lattice, (-dy, -dx), axis=(-2, -1))
            neighbour_sum = neighbour_sum + jnp.roll(lattice, (dy, dx), axis=(-2, -1))
        features.append((lattice * neighbour_sum / 4.0).reshape(x.shape))
    return jnp.stack(features, axis=-1)


class SurrogateEnergy:
    r"""Site-additive neural-network regression of a lattice energy.

    .. math::

        E_\theta(x) = \sum_{i=1}^{N} \left[ b + f_i^\top w
            + v^\top \tanh(W^\top f_i + c) \right]

    with f_i the three local-environment features of site i (:func:`environment_features`).
    The linear part can represent any pair cluster expansion up to the third shell exactly
    (E = E_0 + 2 sum_k J_k sum_i f_ik); the hidden layer of width ``hidden`` adds non-linear
    many-body terms. Weights are keyed ``bias`` (b), ``linear`` (w, shape (3,)), ``hidden_w``
    (W, shape (3, hidden)), ``hidden_b`` (c, shape (hidden,)) and ``readout`` (v, shape (hidden,)).

    Parameters
    ----------
    L : int
        Linear size of the periodic square lattice; inputs have ``L * L`` sites.
    hidden : int
        Width of the hidden layer; 0 gives the linear (cluster-expansion) model.
    name : str
        Prefix of the PyMC variable names.

    Examples
    --------
    >>> import pymc as pm
    >>> surrogate = SurrogateEnergy(L=5, hidden=4)
    >>> with pm.Model() as model:
    ...     surrogate.register(prior_scale=1.0)            # weights as PyMC random variables
    ...     surrogate.observe("energy", x_train, e_train)  # Gaussian likelihood, noise sd RV
    """

    n_features = len(SHELL_OFFSETS)

    def __init__(self, L, hidden=4, name="surrogate"):
        self.L = check_lattice_size("L", L, minimum=3)
        self.n_sites = self.L * self.L
        self.hidden = check_positive_int("hidden", hidden, minimum=0)
        self.name = name
        self._variables = None

    @property
    def weight_shapes(self):
        """Dict of weight key to array shape."""
        shapes = {"bias": (), "linear": (self.n_features,)}
        if self.hidden:
            shapes.update(
                hidden_w=(self.n_features, self.hidden),
                hidden_b=(self.hidden,),
                readout=(self.hidden,),
            )
        return shapes

    @property
    def var_names(self):
        """PyMC names of the weights and of the noise standard deviation."""
        return [f"{self.name}_{key}" for key in self.weight_shapes] + [f"{self.name}_sigma"]

    def validate(self, x, name="x"):
        """Check that configurations ``x`` are spins with ``L * L`` sites on the last axis."""
        if isinstance(x, jax.core.Tracer):
            return x
        array = np.asarray(x)
        if array.ndim == 0 or array.shape[-1] != self.n_sites:
            raise ValueError(
                f"{name} has shape {array.shape}, but this surrogate was built for an L={self.L} "
                f"lattice: expected (..., {self.n_sites}). Build SurrogateEnergy with the L of the "
                "system whose configurations it evaluates."
            )
        return check_configurations(array, self.n_sites, "spin", name=name)

    def energy_from_features(self, params, features):
        """Return E_theta from precomputed features of shape ``(..., n_sites, 3)``; pure JAX."""
        site_energy = params["bias"] + features @ params["linear"]
        if self.hidden:
            hidden = jnp.tanh(features @ params["hidden_w"] + params["hidden_b"])
            site_energy = site_energy + hidden @ params["readout"]
        return jnp.sum(site_energy, axis=-1)

    def energy_fn(self, params, x):
        """Return E_theta(x) for configurations of shape ``(..., n_sites)``; pure JAX, vmappable over ``params``."""
        return self.energy_from_features(params, environment_features(x, self.L))

    def energy(self, params, x):
        """Return E_theta(x) after checking ``x``; ``params`` values may carry leading draw axes."""
        x = jnp.asarray(self.validate(x), dtype=jnp.float64)
        draw_shape = np.shape(params["bias"])
        flat = {
            key: jnp.reshape(jnp.asarray(params[key]), (-1,) + shape)
            for key, shape in self.weight_shapes.items()
        }
        energies = jax.vmap(lambda p: self.energy_fn(p, x))(flat)
        return energies.reshape(draw_shape + energies.shape[1:])

    def cluster_expansion_params(self, couplings, constant=0.0):
        """Return weights that reproduce E = E_0 + sum_k J_k P_k exactly (hidden readout set to 0)."""
        params = {
            "bias": jnp.asarray(constant / self.n_sites),
            "linear": 2.0 * jnp.asarray(couplings, dtype=jnp.float64),
        }
        if self.hidden:
            params.update(
                hidden_w=jnp.zeros((self.n_features, self.hidden)),
                hidden_b=jnp.zeros(self.hidden),
                readout=jnp.zeros(self.hidden),
            )
        return params

    def register(self, prior_scale=1.0, noise_scale=1.0):
        """Create the weights and the noise sd as random variables of the current PyMC model.

        Every weight has the prior Normal(0, prior_scale); the observation-noise standard
        deviation sigma has HalfNormal(noise_scale). Returns the dict of weight variables.
        """
        for argument, value in (("prior_scale", prior_scale), ("noise_scale", noise_scale)):
            if not (math.isfinite(float(value)) and float(value) > 0.0):
                raise ValueError(f"{argument}={value!r} is invalid: expected a finite positive prior scale.")
        weights = {
            key: pm.Normal(f"{self.name}_{key}", mu=0.0, sigma=prior_scale, shape=shape)
            for key, shape in self.weight_shapes.items()
        }
        sigma = pm.HalfNormal(f"{self.name}_sigma", sigma=noise_scale)
        self._variables = (weights, sigma)
        return weights

    def observe(self, name, x, energies):
        r"""Add the likelihood energies_n ~ Normal(E_theta(x_n), sigma) of labelled configurations.

        The features of ``x`` are computed once and enter the graph as a constant through
        :func:`pytensor.wrap_jax`, so the likelihood has the same values and gradients as
        :meth:`energy_fn`.
        """
        from pytensor import wrap_jax

        if self._variables is None:
            raise RuntimeError(
                "observe() needs the weights as random variables: call register() inside the same "
                "`with pm.Model():` block first."
            )
        x = self.validate(x)
        energies = np.asarray(energies, dtype=np.float64)
        if energies.shape != x.shape[:-1] or x.ndim != 2:
            raise ValueError(
                f"energies has shape {energies.shape} and x has shape {x.shape}: expected x of shape "
                f"(n, {self.n_sites}) and one energy per configuration, shape (n,)."
            )
        features = environment_features(jnp.asarray(x, dtype=jnp.float64), self.L)
        weights, sigma = self._variables

        mean = wrap_jax(lambda params: self.energy_from_features(params, features))(weights)
        return pm.Normal(name, mu=mean, sigma=sigma, observed=energies)
