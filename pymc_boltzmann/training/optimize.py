"""The optimization loop shared by point training: Adam with global-norm gradient clipping, restarts and a progress bar."""

import logging
import math
import numbers

import jax
import jax.numpy as jnp
import numpy as np
import xarray as xr
from numpyro.optim import Adam
from tqdm.auto import tqdm

from pymc_boltzmann._checks import check_positive_int

logger = logging.getLogger(__name__)

N_PROGRESS_UPDATES = 50
"""Number of jitted chunks the steps are split into, so the progress bar moves during training."""


def check_learning_rate(learning_rate):
    """Return a float learning rate after checking it, or a callable schedule unchanged."""
    if callable(learning_rate):
        return learning_rate
    if (isinstance(learning_rate, numbers.Real) and math.isfinite(learning_rate)
            and learning_rate > 0):
        return float(learning_rate)
    raise ValueError(
        f"learning_rate={learning_rate!r} is invalid: expected a finite positive number or a "
        "schedule step -> step size. Pass for example learning_rate=1e-2."
    )


def check_clip_norm(clip_norm):
    """Return clip_norm as a float after checking it is positive, or None (no clipping)."""
    if clip_norm is None:
        return None
    if isinstance(clip_norm, numbers.Real) and math.isfinite(clip_norm) and clip_norm > 0:
        return float(clip_norm)
    raise ValueError(
        f"clip_norm={clip_norm!r} is invalid: expected a finite positive gradient norm or None "
        "for no clipping. Pass for example clip_norm=10.0."
    )


def clip_by_global_norm(grads, clip_norm):
    """Scale the gradient pytree down to a Euclidean norm of at most ``clip_norm``.

    Returns the scaled gradients and the norm before scaling.
    """
    norm = jnp.sqrt(sum(jnp.sum(g**2) for g in jax.tree.leaves(grads)))
    if clip_norm is None:
        return grads, norm
    scale = jnp.minimum(1.0, clip_norm / jnp.maximum(norm, 1e-300))
    return jax.tree.map(lambda g: g * scale, grads), norm


def minimize(objective, initial_params, operands, *, steps, learning_rate, clip_norm, key,
             progressbar, description):
    """Minimize ``objective`` with Adam from several initial points at once.

    Parameters
    ----------
    objective : callable
        ``objective(params, key, step, operands) -> (surrogate, aux)``; the gradient of the
        scalar ``surrogate`` drives Adam and ``aux`` is a dict of per-step scalars to record
        (it must contain ``"loss"``).
    initial_params : dict of str to array
        Initial weights with a leading restart axis.
    operands : pytree
        Arrays passed to every step as arguments (the data), so they are not compiled in.
    steps : int
        Number of Adam steps.
    learning_rate : float or callable
        Adam step size, or a schedule ``step -> step size``.
    clip_norm : float or None
        Maximum global norm of the gradient.
    key : jax.Array
        Random key; each restart and step gets its own.
    progressbar : bool
        Show a tqdm progress bar.
    description : str
        Label of the progress bar.

    Returns
    -------
    params : dict of str to numpy.ndarray
        Final weights with the leading restart axis.
    trace : dict of str to numpy.ndarray
        Per-step records of shape ``(restarts, steps)``: the entries of ``aux`` and
        ``grad_norm`` (before clipping).
    """
    optimizer = Adam(learning_rate)
    n_restarts = jax.tree.leaves(initial_params)[0].shape[0]
    state = jax.vmap(optimizer.init)(initial_params)
    step_keys = jax.random.split(key, (n_restarts, steps))

    @jax.jit
    def run_chunk(opt_states, keys, step_numbers, operands_):
        # The operands arrive as an argument, so large data sets are not compiled in as constants.
        def one_step(opt_state, inputs):
            step_key, step = inputs
            params = optimizer.get_params(opt_state)
            grads, aux = jax.grad(objective, has_aux=True)(params, step_key, step, operands_)
            grads, aux["grad_norm"] = clip_by_global_norm(grads, clip_norm)
            return optimizer.update(grads, opt_state), aux

        def run_one(opt_state, restart_keys):
            return jax.lax.scan(one_step, opt_state, (restart_keys, step_numbers))

        return jax.vmap(run_one)(opt_states, keys)

    traces = []
    chunk = _chunk_length(steps)
    with tqdm(total=steps, desc=description, disable=not progressbar) as bar:
        for start in range(0, steps, chunk):
            stop = min(start + chunk, steps)
            state, aux = run_chunk(state, step_keys[:, start:stop], jnp.arange(start, stop), operands)
            traces.append(jax.device_get(aux))
            bar.update(stop - start)
            bar.set_postfix(loss=f"{float(np.mean(aux['loss'][:, -1])):.4g}")

    params = jax.device_get(jax.vmap(optimizer.get_params)(state))
    trace = {name: np.concatenate([t[name] for t in traces], axis=1) for name in traces[0]}
    _log_non_finite_loss(trace["loss"], description)
    return {key_: np.asarray(value) for key_, value in params.items()}, trace


def _log_non_finite_loss(loss, description):
    n_bad = int(np.sum(~np.isfinite(loss)))
    if n_bad:
        logger.warning(
            "%s: the loss was not finite at %d of %d steps, so the weights may be invalid. "
            "Lower learning_rate, set clip_norm, or start from other initial weights.",
            description, n_bad, loss.size,
        )


def _chunk_length(steps):
    # Equal chunks compile once; the length is the largest divisor of steps that still gives
    # about N_PROGRESS_UPDATES updates of the progress bar.
    target = math.ceil(steps / N_PROGRESS_UPDATES)
    return max(d for d in range(1, target + 1) if steps % d == 0)


def split_restarts(params, restarts):
    """Return a dict of weights for one restart, or a list of dicts for several."""
    per_restart = [{key: value[r] for key, value in params.items()} for r in range(restarts)]
    return per_restart[0] if restarts == 1 else per_restart


def history_dataset(trace, restarts, attrs):
    """Build the training history as an xarray Dataset with dims ``("step",)``, or ``("restart", "step")``."""
    steps = next(iter(trace.values())).shape[1]
    coords = {"step": np.arange(steps)}
    if restarts == 1:
        data_vars = {name: (("step",), values[0]) for name, values in trace.items()}
    else:
        coords["restart"] = np.arange(restarts)
        data_vars = {name: (("restart", "step"), values) for name, values in trace.items()}
    return xr.Dataset(data_vars, coords=coords, attrs=attrs)


def initial_params(network, key, restarts, initial):
    """Stack ``restarts`` initial weight dicts: ``initial`` for all of them if given, else draws from ``init_params``."""
    restarts = check_positive_int("restarts", restarts)
    if initial is not None:
        missing = set(network.weight_specs) - set(initial)
        if missing:
            raise ValueError(
                f"initial lacks the weights {sorted(missing)} of network {network.name!r}. "
                f"Pass a dict with the keys {list(network.weight_specs)}."
            )
        return {key_: jnp.broadcast_to(jnp.asarray(initial[key_], dtype=jnp.float64),
                                       (restarts, *spec.shape))
                for key_, spec in network.weight_specs.items()}
    keys = jax.random.split(key, restarts)
    return jax.vmap(network.init_params)(keys)
