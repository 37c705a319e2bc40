r"""The ``data`` regime: the likelihood of observed configurations under the network (forward KL)."""

import logging
import math

import numpy as np
import pymc as pm
import pytensor.tensor as pt
from pytensor import wrap_jax

from pymc_boltzmann._checks import check_beta
from pymc_boltzmann.models._build import check_data, check_system_matches, create_network, store_inputs
from pymc_boltzmann.models.free_energy import MAX_ENUMERATION_SITES, ReferenceSet, build_estimator

logger = logging.getLogger(__name__)


def data_model(network_factory, data, *, heldout=None, holdout_fraction=0.2, system=None,
               beta=None, estimator="auto", reference=None, n_base_samples=1024,
               observed_name="x", name="q", network_kwargs=None, random_seed=None):
    r"""Build a PyMC model whose likelihood is the network's density of observed configurations.

    .. math::

        \pi(\theta \mid x_{1:N}) \propto \mathrm{prior}(\theta) \prod_{i=1}^N q_\theta(x_i)

    For N draws from p, ln of the likelihood is -N [KL(p || q_theta) + H(p)] up to Monte Carlo
    error, so the posterior concentrates on the minimizers of the forward KL divergence.

    The training configurations are stored as ``pm.Data(f"{observed_name}_data")`` through
    :meth:`Network.observe`, so a sampler can pass them to the compiled log density as an
    argument.

    Parameters
    ----------
    network_factory : Network class or callable
        ``factory(name) -> Network``, called inside the model, for example
        ``lambda name: pmb.networks.MADE(name, n_sites=16, hidden=(8,))``; or a Network class,
        called as ``cls(name, **network_kwargs)``.
    data : array_like
        Observed configurations of shape ``(n_data, n_sites)``.
    heldout : array_like, optional
        Held-out configurations. Defaults to a random ``holdout_fraction`` of ``data``, which
        is then left out of the likelihood.
    holdout_fraction : float
        Fraction of ``data`` held out when ``heldout`` is not given, in [0, 1). With 0 and no
        ``heldout`` the model records no held-out log likelihood.
    system : BoltzmannSystem, optional
        With ``beta``, adds the function-space deterministics ``"variational_free_energy"`` and
        ``"mean_energy"`` under q.
    beta : float, optional
        Inverse temperature of the data; required with ``system``.
    estimator : {"auto", "exact", "reparameterized", "snis"}
        Estimator of F_q, see :mod:`pymc_boltzmann.models.free_energy`.
    reference : ReferenceSet, optional
        Fixed reference set of the ``"snis"`` estimator. For large spin systems it defaults to
        the training configurations with ln r = -beta E, which assumes they are draws from p
        at ``beta``.
    n_base_samples : int
        Number of fixed base draws of the reparameterized estimator.
    observed_name : str
        Name of the observed variable.
    name : str
        Prefix of the network's variable names.
    network_kwargs : dict, optional
        Keyword arguments of a Network class passed as ``network_factory``.
    random_seed : int, optional
        Seed of the held-out split and of the fixed base draws.

    Returns
    -------
    model : pymc.Model
        With the network's weights, the observed variable, and the deterministics
        ``"heldout_log_likelihood"`` (mean ln q over the held-out configurations) and, with a
        system, ``"variational_free_energy"`` and ``"mean_energy"`` (and
        ``"reference_ess_fraction"`` with the ``"snis"`` estimator).
    network : Network
        The network created inside the model.

    Examples
    --------
    >>> ising = pmb.energies.Ising2D(L=4)
    >>> data = ising.reference_sample(0.3, 500, random_seed=1)
    >>> model, q = pmb.models.data_model(
    ...     lambda name: pmb.networks.MADE(name, n_sites=16, hidden=(8,)), data,
    ...     system=ising, beta=0.3,
    ... )
    >>> idata = pmb.sample(model=model, draws=200, tune=200, chains=2)
    """
    if system is not None and beta is None:
        raise ValueError(
            "beta is missing: with system= the model records F_q and the mean energy at an "
            "inverse temperature. Pass the beta at which the data were drawn."
        )
    beta = None if beta is None else check_beta(beta)
    rng = np.random.default_rng(random_seed)

    with pm.Model() as model:
        network = create_network(network_factory, name, network_kwargs)
        if system is not None:
            check_system_matches(network, system)
        train, heldout = _split_data(network, data, heldout, holdout_fraction, rng)
        network.observe(observed_name, train)

        if heldout is not None:
            heldout_data = pm.Data(f"{observed_name}_heldout", heldout)
            log_q = network.log_q_pt(pt.specify_shape(heldout_data, heldout.shape))
            pm.Deterministic("heldout_log_likelihood", pt.mean(log_q))

        if system is not None:
            if (reference is None and network.sample_space == "spin"
                    and network.n_sites > MAX_ENUMERATION_SITES):
                reference = ReferenceSet.from_boltzmann_sample(system, beta, train)
            estimate = build_estimator(network, system, beta, estimator=estimator,
                                       n_base_samples=n_base_samples, reference=reference,
                                       random_seed=rng.integers(2**31))
            inputs = store_inputs(estimate.inputs, name)
            for quantity, value in wrap_jax(estimate.fn)(network.weights, inputs).items():
                pm.Deterministic(quantity, value)

    return model, network


def _split_data(network, data, heldout, holdout_fraction, rng):
    data = check_data(network, data, "data")
    if heldout is not None:
        return data, check_data(network, heldout, "heldout")

    fraction = float(holdout_fraction)
    if not (math.isfinite(fraction) and 0.0 <= fraction < 1.0):
        raise ValueError(
            f"holdout_fraction={holdout_fraction!r} is invalid: expected a number in [0, 1). "
            "Pass for example holdout_fraction=0.2, or 0 to hold out nothing."
        )
    if fraction == 0.0:
        logger.info("holdout_fraction=0 and no heldout data: the model records no held-out log likelihood.")
        return data, None

    n_data = data.shape[0]
    n_heldout = int(round(fraction * n_data))
    if n_heldout < 1 or n_heldout >= n_data:
        raise ValueError(
            f"holdout_fraction={holdout_fraction!r} of {n_data} configurations leaves "
            f"{n_heldout} held out and {n_data - n_heldout} for training: both need at least "
            "one. Pass more data, another fraction, or heldout= explicitly."
        )
    order = rng.permutation(n_data)
    return data[order[n_heldout:]], data[order[:n_heldout]]
