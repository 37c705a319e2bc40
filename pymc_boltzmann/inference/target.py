"""The log density of a PyMC model as JAX functions that take the model's data as arguments."""

import dataclasses
import logging

import jax

# Start JAX's backends before PyMC's JAX module is imported: importing pymc.sampling.jax
# (PyMC 6.4) rewrites XLA_FLAGS to ask for 100 host devices, which takes effect only if
# no JAX backend exists yet. Starting them here keeps the device count the user set.
jax.devices()

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import pytensor.tensor as pt  # noqa: E402
from jax.flatten_util import ravel_pytree  # noqa: E402
from pymc.sampling.jax import get_jaxified_graph  # noqa: E402
from pymc.util import get_default_varnames  # noqa: E402
from pytensor.graph.replace import clone_replace  # noqa: E402

logger = logging.getLogger(__name__)


@dataclasses.dataclass
class ModelTarget:
    """JAX functions of one PyMC model, with its data containers as explicit inputs.

    Every function takes ``position``, a flat vector of the model's unconstrained value
    variables (the order of ``value_var_names``), and ``data``, a tuple of arrays in the
    order of ``data_names``. Data never enters a compiled function as a constant, so a large
    data set does not slow XLA compilation and new data needs no new model.

    Attributes
    ----------
    value_var_names : list of str
        Names of the unconstrained value variables, for example ``"sigma_log__"``.
    unravel : callable
        Maps a flat position to the list of value-variable arrays.
    n_dim : int
        Length of the flat position.
    data_names, data_values : list of str, tuple of numpy.ndarray
        The model's ``pm.Data`` containers and their current values.
    logdensity : callable
        ``logdensity(position, data)``: ln p(theta, y) in the unconstrained space, Jacobian
        terms of the transforms included.
    log_prior : callable
        ``log_prior(position, data)``: ln p(theta) plus potentials, without observed terms.
    loglik_per_datum : callable or None
        ``loglik_per_datum(position, data) -> (n_data,)``: ln p(y_i | theta) summed over all
        axes of the observed variables but the first. None when the model has no observed
        variables.
    loglik_minibatch : callable or None
        ``loglik_minibatch(position, data, indices) -> (n,)``: the same for the data rows in
        ``indices``.
    n_data : int or None
        Number of data rows N along the first axis of every observed variable.
    minibatch_inputs_sliced : bool
        True when ``loglik_minibatch`` feeds only the selected rows to the likelihood; False
        when the likelihood graph fixes the data shape, so every minibatch costs a full pass.
    posterior_fn : callable
        ``posterior_fn(position, data) -> dict``: the free variables in their constrained
        space and the model's deterministics.
    posterior_names : list of str
        Keys of the dict that ``posterior_fn`` returns.
    """

    value_var_names: list
    unravel: object
    n_dim: int
    data_names: list
    data_values: tuple
    logdensity: object
    log_prior: object
    loglik_per_datum: object
    loglik_minibatch: object
    n_data: object
    minibatch_inputs_sliced: bool
    posterior_fn: object
    posterior_names: list


def _jaxify(model, outputs, data_inputs):
    """Compile PyTensor outputs into a JAX function of (value variables..., data...)."""
    replacements = dict(zip(model.data_vars, data_inputs))
    outputs = clone_replace(list(outputs), replace=replacements)
    return get_jaxified_graph(inputs=list(model.value_vars) + list(data_inputs), outputs=outputs)


def _symbolic_data_inputs(model):
    # Free shapes, so that a minibatch of rows can be fed where the graph allows it.
    return [
        pt.tensor(name=variable.name, dtype=variable.dtype, shape=(None,) * variable.ndim)
        for variable in model.data_vars
    ]


def _first_axis_lengths(model):
    """Return the length of the first axis of each observed variable, or None for a scalar."""
    lengths = []
    for rv in model.observed_RVs:
        value = model.rvs_to_values[rv]
        if value.type.ndim == 0:
            return None
        length = value.type.shape[0]
        if length is None:
            # The observed value is a graph of data containers (a cast, for example).
            length = int(value.shape[0].eval())
        lengths.append(length)
    return lengths


def build_target(model):
    """Build the :class:`ModelTarget` of a PyMC model.

    Parameters
    ----------
    model : pymc.Model
        A model with at least one free variable.

    Raises
    ------
    ValueError
        If the model has no free random variables.
    """
    if not model.free_RVs:
        raise ValueError(
            "the model has no free random variables, so there is no posterior to sample. "
            "Add at least one prior, such as pm.Normal('theta', 0, 1), or create the network "
            "inside the `with pm.Model():` block."
        )

    data_names = [variable.name for variable in model.data_vars]
    data_values = tuple(np.asarray(variable.get_value()) for variable in model.data_vars)
    inputs = _symbolic_data_inputs(model)
    n_values = len(model.value_vars)

    logp_graph = _jaxify(model, [model.logp()], inputs)
    prior_vars = list(model.free_RVs) + list(model.potentials)
    prior_graph = _jaxify(model, [model.logp(vars=prior_vars)], inputs)

    initial = model.initial_point()
    value_var_names = [variable.name for variable in model.value_vars]
    flat, unravel = ravel_pytree([np.asarray(initial[name], dtype=float) for name in value_var_names])

    def logdensity(position, data):
        return logp_graph(*unravel(position), *data)[0]

    def log_prior(position, data):
        return prior_graph(*unravel(position), *data)[0]

    loglik_per_datum, loglik_minibatch, n_data, sliced = _build_likelihood(
        model, inputs, data_values, unravel, flat
    )
    posterior_fn, posterior_names = _build_posterior_fn(model, inputs, unravel, n_values)

    return ModelTarget(
        value_var_names=value_var_names,
        unravel=unravel,
        n_dim=int(flat.size),
        data_names=data_names,
        data_values=data_values,
        logdensity=logdensity,
        log_prior=log_prior,
        loglik_per_datum=loglik_per_datum,
        loglik_minibatch=loglik_minibatch,
        n_data=n_data,
        minibatch_inputs_sliced=sliced,
        posterior_fn=posterior_fn,
        posterior_names=posterior_names,
    )


def _build_likelihood(model, inputs, data_values, unravel, flat):
    """Build the per-datum log-likelihood and its minibatch version."""
    lengths = _first_axis_lengths(model)
    if not model.observed_RVs or not lengths or len(set(lengths)) != 1:
        if model.observed_RVs:
            logger.info(
                "observed variables have first axes of lengths %s, not one common length: "
                "the minibatch kernels use the full data set.",
                lengths,
            )
        return None, None, None, False
    n_data = lengths[0]

    elementwise = model.logp(vars=list(model.observed_RVs), sum=False)
    graph = _jaxify(model, elementwise, inputs)

    def loglik_per_datum(position, data):
        terms = graph(*unravel(position), *data)
        return sum(jnp.reshape(term, (n_data, -1)).sum(axis=1) for term in terms)

    row_inputs = [
        jnp.ndim(value) > 0 and jnp.shape(value)[0] == n_data for value in data_values
    ]

    def loglik_sliced(position, data, indices):
        rows = tuple(d[indices] if is_row else d for d, is_row in zip(data, row_inputs))
        terms = graph(*unravel(position), *rows)
        return sum(jnp.reshape(term, (indices.shape[0], -1)).sum(axis=1) for term in terms)

    def loglik_gathered(position, data, indices):
        return loglik_per_datum(position, data)[indices]

    sliced = _slicing_traces(loglik_sliced, flat, data_values, n_data)
    if not sliced:
        logger.info(
            "the likelihood graph fixes the shape of its data (for example through "
            "pt.specify_shape), so each minibatch log-likelihood evaluates all %d data rows "
            "and selects the minibatch afterwards.",
            n_data,
        )
    return loglik_per_datum, loglik_sliced if sliced else loglik_gathered, n_data, sliced


def _slicing_traces(loglik_sliced, flat, data_values, n_data):
    """Return True when the likelihood traces with fewer data rows than the model holds."""
    n_rows = max(1, n_data // 2)
    indices = jax.ShapeDtypeStruct((n_rows,), jnp.int32)
    try:
        shape = jax.eval_shape(loglik_sliced, flat, data_values, indices).shape
    except (ValueError, TypeError, IndexError):
        return False
    return shape == (n_rows,)


def _build_posterior_fn(model, inputs, unravel, n_values):
    """Build the function from a position to the constrained free variables and deterministics."""
    outputs = list(get_default_varnames(model.unobserved_value_vars, include_transformed=False))
    names = [variable.name for variable in outputs]
    graph = _jaxify(model, outputs, inputs)

    def posterior_fn(position, data):
        return dict(zip(names, graph(*unravel(position), *data)))

    return posterior_fn, names
