"""``sample``: posterior draws of a PyMC model from a JAX kernel, returned as a DataTree."""

import logging
import numbers
import time

import jax
import numpy as np
import pymc as pm

from pymc_boltzmann._checks import check_positive_int
from pymc_boltzmann.inference.diagnostics import log_penalty, log_sampler_problems
from pymc_boltzmann.inference.initial import check_finite_start, initial_positions
from pymc_boltzmann.inference.kernels import KERNELS
from pymc_boltzmann.inference.kernels.base import KernelSettings
from pymc_boltzmann.inference.output import build_datatree
from pymc_boltzmann.inference.runner import evaluate_posterior, resolve_chain_method, run_chains
from pymc_boltzmann.inference.stats import to_arviz_stats
from pymc_boltzmann.inference.target import build_target

logger = logging.getLogger(__name__)


def _check_kernel(kernel):
    if kernel not in KERNELS:
        raise ValueError(
            f"kernel={kernel!r} is not a known kernel: expected one of {sorted(KERNELS)}."
        )
    return KERNELS[kernel]


def _check_probability(name, value):
    if not isinstance(value, numbers.Real) or not 0.0 < value < 1.0:
        raise ValueError(f"{name}={value!r} is invalid: expected a number strictly between 0 and 1.")
    return float(value)


def _check_step_size(step_size):
    if step_size is None:
        return None
    if not isinstance(step_size, numbers.Real) or not np.isfinite(step_size) or step_size <= 0:
        raise ValueError(f"step_size={step_size!r} is invalid: expected a finite positive number.")
    return float(step_size)


def _seed_key(random_seed):
    """Return a JAX key and a NumPy generator, both derived from ``random_seed``."""
    if random_seed is None:
        random_seed = int(np.random.SeedSequence().generate_state(1)[0])
    if isinstance(random_seed, bool) or not isinstance(random_seed, numbers.Integral):
        raise ValueError(
            f"random_seed={random_seed!r} is invalid: expected an integer or None."
        )
    sequence = np.random.SeedSequence(int(random_seed))
    jax_seed, numpy_seed = sequence.spawn(2)
    key = jax.random.key(int(jax_seed.generate_state(1)[0]))
    return key, np.random.default_rng(numpy_seed)


def sample(
    model=None,
    *,
    kernel="nuts",
    draws=1000,
    tune=1000,
    chains=4,
    random_seed=None,
    initvals=None,
    jitter=0.1,
    target_accept=None,
    max_tree_depth=10,
    step_size=None,
    minibatch_size=None,
    chain_method="vectorized",
    progressbar=True,
    **kernel_kwargs,
):
    """Draw from the posterior of a PyMC model with a kernel compiled to JAX.

    The model's log density is compiled from its PyTensor graph with every ``pm.Data``
    container as an argument of the compiled function, so a large data set is not baked into
    the program as a constant. All chains run in one program: vectorized with ``jax.vmap``
    on one device, or sharded along the chain axis across devices.

    Parameters
    ----------
    model : pymc.Model, optional
        The model; taken from the ``with pm.Model():`` context when omitted.
    kernel : {"nuts", "hmc", "mala", "rmh", "sgld", "penalty_mh"}
        ``nuts``: NumPyro's No-U-Turn Sampler. ``hmc``: BlackJAX static HMC.
        ``mala``: Metropolis-adjusted Langevin. ``rmh``: Gaussian random-walk Metropolis.
        ``sgld``: stochastic-gradient Langevin on minibatches, biased by O(step_size)
        (unadjusted Langevin with the full data). ``penalty_mh``: random-walk
        Metropolis-Hastings on minibatches with the Ceperley-Dewing noise penalty, unbiased
        only when the minibatch estimate is close to Gaussian.
    draws, tune : int
        Draws kept per chain (at least 1) and tuning transitions discarded before them.
    chains : int
        Number of chains, at least 1.
    random_seed : int, optional
        Seed; the same seed and arguments give bit-identical draws on the same device setup.
    initvals : dict or list of dict, optional
        ``{variable name: value}`` in the variable's constrained space (for example
        ``network.to_initvals(trained_params)``), shared by every chain, or one dict per
        chain (several trained restarts start chains in several modes). Missing variables
        start at the model's initial point.
    jitter : float
        Standard deviation of the Normal noise added to every unconstrained coordinate of the
        starting points; 0 starts the chains exactly at their initial values.
    target_accept : float, optional
        Target acceptance rate of the step-size adaptation. Default per kernel: 0.8 for
        ``nuts`` and ``hmc``, 0.574 for ``mala``, 0.234 for ``rmh`` and ``penalty_mh``.
    max_tree_depth : int
        Maximum NUTS tree depth (at most 2**max_tree_depth - 1 leapfrog steps per draw).
    step_size : float, optional
        Initial step size of the adaptive kernels; the fixed step size of ``sgld`` (required).
    minibatch_size : int, optional
        Data rows per minibatch for ``sgld`` and ``penalty_mh``; None uses all N rows.
    chain_method : {"vectorized", "sharded", "parallel", "auto"}
        ``vectorized``: all chains on one device. ``sharded`` (or ``parallel``): chains split
        across ``jax.devices()``. ``auto``: sharded when several devices are present.
    progressbar : bool
        Show a progress bar. Both settings give the same draws.
    **kernel_kwargs
        Options of the kernel: ``dense_mass`` and ``find_heuristic_step_size`` for ``nuts``,
        ``num_integration_steps`` for ``hmc``.

    Returns
    -------
    xarray.DataTree
        ``posterior`` (free variables in their constrained space and deterministics, with the
        model's dims), ``sample_stats`` (ArviZ names: ``diverging``, ``acceptance_rate``,
        ``step_size``, ``lp``, ``tree_depth``, ``n_steps``, ``energy`` where they apply),
        ``observed_data`` when the model has observed variables. Attributes record the
        kernel, the sampling time and library versions.

    Raises
    ------
    ValueError
        For an unknown kernel, draws or chains below 1, a model without free variables, data
        whose shape does not fit the model, or a non-finite log density at a starting point.

    Examples
    --------
    >>> with pm.Model() as model:
    ...     y = pm.Data("y", np.array([0.3, -0.1, 0.8]))
    ...     mu = pm.Normal("mu", 0.0, 1.0)
    ...     pm.Normal("obs", mu, 1.0, observed=y)
    ...     idata = pmb.sample(draws=500, tune=500, chains=4, random_seed=1)
    """
    kernel_class = _check_kernel(kernel)
    draws = check_positive_int("draws", draws)
    chains = check_positive_int("chains", chains)
    tune = check_positive_int("tune", tune, minimum=0)
    max_tree_depth = check_positive_int("max_tree_depth", max_tree_depth)
    if target_accept is None:
        target_accept = kernel_class.default_target_accept or 0.8
    target_accept = _check_probability("target_accept", target_accept)
    step_size = _check_step_size(step_size)
    if minibatch_size is not None:
        minibatch_size = check_positive_int("minibatch_size", minibatch_size)
    if not isinstance(jitter, numbers.Real) or not jitter >= 0:
        raise ValueError(f"jitter={jitter!r} is invalid: expected a number of at least 0.")
    method = resolve_chain_method(chain_method, chains)
    model = pm.modelcontext(model)

    target = build_target(model)
    key, rng = _seed_key(random_seed)
    positions = initial_positions(model, target, chains, initvals, jitter, rng)
    _check_data_fits(model, target, positions)
    check_finite_start(model, target, positions)

    settings = KernelSettings(
        tune=tune,
        target_accept=target_accept,
        max_tree_depth=max_tree_depth,
        step_size=step_size,
        minibatch_size=minibatch_size,
        options=dict(kernel_kwargs),
    )
    sampler = kernel_class(target, settings)

    start = time.perf_counter()
    flat_draws, info = run_chains(
        sampler, key, positions, target.data_values, tune, draws, method, progressbar
    )
    sampling_time = time.perf_counter() - start
    posterior = evaluate_posterior(target, flat_draws, target.data_values)

    stats = to_arviz_stats(info, max_tree_depth if kernel == "nuts" else None)
    log_sampler_problems(stats, kernel, target_accept, max_tree_depth)
    log_penalty(stats, kernel)
    attrs = {
        "kernel": kernel,
        "sampling_time": sampling_time,  # seconds, JIT compilation included
        "tuning_steps": tune,
        "chain_method": method,
        "target_accept": target_accept,
        "minibatch_inputs_sliced": int(target.minibatch_inputs_sliced),
    }
    return build_datatree(model, posterior, stats, attrs)


def _check_data_fits(model, target, positions):
    """Evaluate the log density once, turning a shape mismatch into an error naming the data."""
    try:
        jax.eval_shape(target.logdensity, positions[0], target.data_values)
    except (ValueError, TypeError, IndexError) as error:
        shapes = {name: value.shape for name, value in zip(target.data_names, target.data_values)}
        observed = {rv.name: tuple(rv.type.shape) for rv in model.observed_RVs}
        raise ValueError(
            f"the model's data do not fit its variables: data shapes {shapes}, observed "
            f"variable shapes {observed} (None = any length). Set data of the shape the model "
            f"was built with, or rebuild the model for the new data. JAX reported: {error}"
        ) from error
