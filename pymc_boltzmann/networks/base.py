"""The interface every generative network implements, and its bridge into a PyMC model."""

import abc
import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np
import pymc as pm
import pytensor.tensor as pt

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
    # A Python float that float32 represents exactly (such as 0.5) becomes a float32 constant
    # in PyTensor, and ln(sigma) then loses digits, so sigma is passed as a float64 array.
    sigma = np.float64(1.0 / math.sqrt(max(fan_in, 1)))
    return pm.Normal(name, mu=np.float64(0.0), sigma=sigma, shape=shape, dims=dims)


def _check_prior(prior):
    """Return ``prior`` after checking it is a factory rather than a distribution class."""
    if isinstance(prior, type) and issubclass(prior, pm.Distribution):
        raise TypeError(
            f"prior={prior.__name__} is a distribution class, not a prior factory: expected a "
            "callable prior(name, *, shape, dims, fan_in) that returns a PyMC random variable. "
            f"Wrap it like this: prior=lambda name, **kw: pm.{prior.__name__}(name, ..., "
            "shape=kw['shape'], dims=kw['dims'])."
        )
    if not callable(prior):
        raise TypeError(
            f"prior={prior!r} is not callable: expected a factory "
            "prior(name, *, shape, dims, fan_in) that returns a PyMC random variable."
        )
    return prior


def _check_prior_variable(model, variable, var_name, shape):
    """Check that a prior factory returned a free random variable of ``model`` with ``shape``."""
    if not any(variable is free for free in model.free_RVs):
        raise TypeError(
            f"prior returned {variable!r} for {var_name!r}, which is not a free random variable "
            "of the current model: expected a PyMC distribution created inside the factory with "
            "the name it receives, such as pm.Normal(name, mu=0.0, sigma=1.0, shape=kw['shape'])."
        )
    actual = tuple(int(size) for size in variable.shape.eval())
    if actual != tuple(shape):
        raise ValueError(
            f"prior returned {var_name!r} with shape {actual}, expected {tuple(shape)}. Pass "
            "shape=kw['shape'] (and dims=kw['dims']) on to the distribution in the prior factory."
        )


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
        self.prior = default_prior if prior is None else _check_prior(prior)
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
            variable = self._call_prior(var_name, spec, dims)
            _check_prior_variable(model, variable, var_name, spec.shape)
            self.weights[key] = variable

    def _call_prior(self, var_name, spec, dims):
        try:
            return self.prior(var_name, shape=spec.shape, dims=dims, fan_in=spec.fan_in)
        except TypeError as error:
            raise TypeError(
                f"prior {self.prior!r} failed for {var_name!r} with {error}: expected a factory "
                "prior(name, *, shape, dims, fan_in) that returns a PyMC random variable. Wrap a "
                "distribution like this: prior=lambda name, **kw: pm.Laplace(name, mu=0.0, b=0.5, "
                "shape=kw['shape'], dims=kw['dims'])."
            ) from error

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

        keys = list(self._params_pt())

        def log_q_of_flat(flat, configurations):
            return self.log_q(self._unpack(keys, flat), configurations)

        return wrap_jax(log_q_of_flat)(self._pack_pt(keys, [self.weights[k] for k in keys]), x)

    def _params_pt(self):
        """Return this network's PyMC weights, or raise if it was created outside a model."""
        if not self.weights:
            raise RuntimeError(
                f"network {self.name!r} has no PyMC weights: create it inside a "
                "`with pm.Model():` block to use it in a PyMC graph."
            )
        return dict(self.weights)

    def observe(self, name, data):
        """Add observed configurations to the current model, with likelihood prod_i q_theta(x_i).

        The data are stored as ``pm.Data(f"{name}_data", data)`` and the observed variable
        ``name`` is a ``pm.CustomDist`` whose log density is :meth:`log_q` (through
        :func:`pytensor.wrap_jax`), one value per configuration. So ``model.compile_logp()`` is
        the log prior plus sum_i ln q_theta(x_i), and ``pm.compute_log_likelihood`` gives the
        pointwise log-likelihood that ArviZ's LOO reads. Posterior predictive draws call
        :meth:`sample`.

        NOTE: PyMC 6.4 differentiates the log density one weight variable at a time, so a
        PyTensor gradient (``model.compile_dlogp()``, PyMC's own NUTS) compiles one JAX
        vector-Jacobian product per weight array. ``pm.sample(nuts_sampler="numpyro")``
        differentiates the whole log density in JAX and compiles it once.

        Parameters
        ----------
        name : str
            Name of the observed variable.
        data : array_like
            Configurations of shape ``(n_configurations, n_sites)``.

        Returns
        -------
        TensorVariable
            The observed variable.

        Raises
        ------
        ValueError
            If ``data`` is not two-dimensional, has the wrong number of sites, contains
            non-finite values or, for spin networks, entries other than -1 and +1.
        RuntimeError
            If the network was created outside a model.
        """
        params = self._params_pt()
        data = self._check_data(data, name)
        stored = pm.Data(f"{name}_data", data)
        keys = list(params)
        return pm.CustomDist(
            name,
            *params.values(),
            logp=self._make_custom_logp(keys),
            random=self._make_custom_random(keys),
            signature=self._custom_signature(keys),
            observed=stored,
        )

    def deterministic(self, name, fn, dims=None):
        """Record a function of the weights as ``pm.Deterministic(name, ...)``.

        ``fn(params)`` takes the weights as a dict of JAX arrays keyed like
        :attr:`weight_specs` and returns a JAX array; it enters the PyMC graph through
        :func:`pytensor.wrap_jax`, so every posterior draw stores its value and ArviZ can run
        R-hat and ESS on it. Function-space quantities such as the mean log density of held-out
        configurations are the ones to monitor, because weight-space diagnostics are spoiled
        by the permutation symmetry of hidden units.

        Parameters
        ----------
        name : str
            Name of the deterministic variable.
        fn : callable
            Pure JAX function of the weights dict; constants such as held-out data are closed
            over.
        dims : str or tuple of str, optional
            Dimension names of the result, as for ``pm.Deterministic``.

        Returns
        -------
        TensorVariable

        Examples
        --------
        >>> with pm.Model():
        ...     q = pmb.networks.MADE("q", n_sites=16, hidden=(32,))
        ...     q.observe("x", train)
        ...     q.deterministic("held_out_log_q", lambda p: q.log_q(p, held_out).mean())
        """
        if not callable(fn):
            raise TypeError(
                f"fn={fn!r} is not callable: expected a function fn(params) of the weights dict "
                "that returns a JAX array."
            )
        from pytensor import wrap_jax

        params = self._params_pt()
        keys = list(params)

        def fn_of_flat(flat):
            return fn(self._unpack(keys, flat))

        value = wrap_jax(fn_of_flat)(self._pack_pt(keys, [params[key] for key in keys]))
        return pm.Deterministic(name, value, dims=dims)

    def _check_data(self, data, name):
        array = self.validate(data, name=f"data of {name!r}")
        if array.ndim != 2:
            raise ValueError(
                f"data of {name!r} has shape {array.shape}, expected (n_configurations, "
                f"{self.n_sites}). Reshape it to one flattened configuration per row."
            )
        return np.asarray(array, dtype=np.float64)

    def _custom_signature(self, keys):
        # One gufunc signature for all weights, so that PyMC keeps them as core (non-batched)
        # inputs and the observed variable has one entry per configuration. The support size
        # is written as a number because no weight has an axis of length n_sites in general.
        inputs = []
        for index, key in enumerate(keys):
            ndim = len(self.weight_specs[key].shape)
            inputs.append("(" + ",".join(f"w{index}_{axis}" for axis in range(ndim)) + ")")
        return ",".join(inputs) + f"->({self.n_sites})"

    def _core_params(self, keys, values):
        # CustomDist broadcasts every parameter to the batch rank of the observed variable by
        # adding leading axes of length 1. Dropping them recovers the weight shapes.
        return [
            values[index].reshape(self.weight_specs[key].shape) for index, key in enumerate(keys)
        ]

    def _pack_pt(self, keys, values):
        # The weights enter the wrapped JAX function as one flat vector, so the function and
        # the vector-Jacobian products PyTensor derives from it have one weight argument for
        # any architecture. _unpack restores the dict that log_q expects.
        flat = [pt.reshape(value, (-1,)) for value in values]
        return pt.specify_shape(pt.concatenate(flat), (self.n_weights,))

    def _unpack(self, keys, flat):
        params = {}
        offset = 0
        for key in keys:
            shape = self.weight_specs[key].shape
            size = int(np.prod(shape))
            params[key] = flat[offset : offset + size].reshape(shape)
            offset += size
        return params

    def _make_custom_logp(self, keys):
        from pytensor import wrap_jax

        def log_q_of_flat(flat, configurations):
            return self.log_q(self._unpack(keys, flat), configurations)

        def logp(value, *values):
            value = pt.specify_shape(value, (None, self.n_sites))
            flat = self._pack_pt(keys, self._core_params(keys, values))
            return wrap_jax(log_q_of_flat)(flat, value)

        return logp

    def _make_custom_random(self, keys):
        def random(*values, rng=None, size=None):
            params = {
                key: jnp.asarray(np.reshape(values[index], self.weight_specs[key].shape))
                for index, key in enumerate(keys)
            }
            batch_shape = () if size is None else tuple(size)
            n = int(np.prod(batch_shape))
            seed = np.random.default_rng(rng).integers(2**31)
            x, _ = self.sample(params, jax.random.key(seed), n)
            return np.asarray(x).reshape(*batch_shape, self.n_sites)

        return random

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
