"""The interface every generative network implements, and its bridge into a PyMC model."""

import abc
import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np
import pymc as pm

from pymc_boltzmann._checks import check_configurations


@dataclasses.dataclass(frozen=True)
class WeightSpec:
    """Shape and fan-in of one weight array of a network.

    Attributes
    ----------
    shape : tuple of int
        Shape of the array.
    fan_in : int
        Number of inputs feeding each output unit; the default prior scale is 1 / sqrt(fan_in).
    """

    shape: tuple
    fan_in: int


def default_prior(name, *, shape, dims, fan_in):
    """Create the default weight prior, Normal(0, 1 / sqrt(fan_in)), inside the current model."""
    return pm.Normal(name, mu=0.0, sigma=1.0 / math.sqrt(max(fan_in, 1)), shape=shape, dims=dims)


class Network(abc.ABC):
    """A normalized generative model q_theta(x) whose weights theta can be PyMC random variables.

    The math of a network is written once, as the pure JAX functions :meth:`log_q` and
    :meth:`sample`, which take the weights as a dict of arrays. Created inside a
    ``with pm.Model():`` block, a network also registers one PyMC random variable per weight
    array, named ``f"{name}_{key}"``, with the prior given by ``prior``; :meth:`observe` adds
    the log density of observed configurations as a likelihood. Created outside a model, it
    is only the architecture, which is what point training and reweighting need.

    Parameters
    ----------
    name : str
        Prefix of the PyMC variable names.
    n_sites : int
        Number of degrees of freedom of one configuration.
    prior : callable, optional
        Factory ``prior(name, *, shape, dims, fan_in)`` returning a PyMC random variable, for
        example ``lambda name, **kw: pm.Laplace(name, mu=0, b=0.5, shape=kw["shape"],
        dims=kw["dims"])``. Defaults to Normal(0, 1 / sqrt(fan_in)).
    """

    sample_space: str

    def __init__(self, name, n_sites, prior=None):
        if not isinstance(name, str) or not name:
            raise ValueError(f"name={name!r} is invalid: expected a non-empty string.")
        self.name = name
        self.n_sites = n_sites
        self.prior = default_prior if prior is None else prior
        if not callable(self.prior):
            raise TypeError(
                f"prior={prior!r} is not callable: expected a factory "
                "prior(name, *, shape, dims, fan_in) that returns a PyMC random variable."
            )
        self.weights = {}
        model = pm.Model.get_context(error_if_none=False)
        if model is not None:
            self._register_weights(model)

    @property
    @abc.abstractmethod
    def weight_specs(self):
        """Ordered dict of weight key to :class:`WeightSpec`."""

    @abc.abstractmethod
    def log_q(self, params, x):
        """Return ln q_theta(x) for configurations of shape ``(..., n_sites)``; pure JAX."""

    @abc.abstractmethod
    def sample(self, params, key, n):
        """Draw ``n`` configurations; return ``(x, log_q)`` of shapes ``(n, n_sites)`` and ``(n,)``."""

    @property
    def var_names(self):
        """Dict of weight key to PyMC variable name."""
        return {key: f"{self.name}_{key}" for key in self.weight_specs}

    @property
    def n_weights(self):
        """Total number of scalar weights."""
        return sum(int(np.prod(spec.shape)) for spec in self.weight_specs.values())

    def _register_weights(self, model):
        for key, spec in self.weight_specs.items():
            var_name = self.var_names[key]
            dims = tuple(f"{var_name}_dim_{axis}" for axis in range(len(spec.shape)))
            for dim, size in zip(dims, spec.shape):
                if dim not in model.coords:
                    model.add_coord(dim, np.arange(size))
            variable = self.prior(var_name, shape=spec.shape, dims=dims, fan_in=spec.fan_in)
            if not isinstance(variable, pm.pytensorf.TensorVariable):
                raise TypeError(
                    f"prior returned {variable!r} for {var_name!r}: expected a PyMC random "
                    "variable created inside the model, such as pm.Normal(name, ...)."
                )
            self.weights[key] = variable

    def init_params(self, key, scale=1.0):
        """Draw weights from Normal(0, scale / sqrt(fan_in)), as a dict of JAX arrays."""
        keys = jax.random.split(key, len(self.weight_specs))
        return {
            name: scale * jax.random.normal(k, spec.shape) / math.sqrt(max(spec.fan_in, 1))
            for k, (name, spec) in zip(keys, self.weight_specs.items())
        }

    def to_initvals(self, params):
        """Map a dict of weight arrays (for example a trained point estimate) to PyMC initial values.

        Returns
        -------
        dict
            ``{variable name: numpy array}``, accepted by ``pmb.sample(initvals=...)`` and
            ``pm.sample(initvals=...)``.
        """
        return {self.var_names[key]: np.asarray(value) for key, value in params.items()}

    def validate(self, x, name="x"):
        """Check configurations against this network's size and sample space."""
        return check_configurations(x, self.n_sites, self.sample_space, name=name)

    def log_q_pt(self, x):
        """Return ln q(x) as a PyTensor expression in this network's PyMC weights."""
        from pytensor import wrap_jax

        if not self.weights:
            raise RuntimeError(
                f"network {self.name!r} has no PyMC weights: create it inside a "
                "`with pm.Model():` block to use it in a PyMC graph."
            )
        keys = list(self.weights)

        def log_q_of_list(values, configurations):
            return self.log_q(dict(zip(keys, values)), configurations)

        return wrap_jax(log_q_of_list)([self.weights[k] for k in keys], x)

    def params_from_posterior(self, posterior):
        """Return the weights of every posterior draw as a dict of arrays ``(chain, draw, *shape)``.

        Parameters
        ----------
        posterior : xarray.Dataset or xarray.DataTree
            A posterior group (or a DataTree holding one) with this network's variables.

        Raises
        ------
        KeyError
            If a weight variable is missing.
        """
        if hasattr(posterior, "children") and "posterior" in posterior.children:
            posterior = posterior["posterior"]
        missing = [v for v in self.var_names.values() if v not in posterior]
        if missing:
            raise KeyError(
                f"posterior has no variables {missing} of network {self.name!r}; it has "
                f"{sorted(posterior.data_vars)}. Pass the DataTree sampled from a model that "
                "contains this network."
            )
        return {
            key: np.asarray(posterior[var].transpose("chain", "draw", ...).values)
            for key, var in self.var_names.items()
        }
