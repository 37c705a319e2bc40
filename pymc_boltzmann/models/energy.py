r"""The ``energy`` regime: a generalized (Gibbs) posterior over the weights from the energy alone."""

import logging

import pymc as pm
from pytensor import wrap_jax

from pymc_boltzmann._checks import check_beta
from pymc_boltzmann.models._build import check_n_eff, check_system_matches, create_network, store_inputs
from pymc_boltzmann.models.free_energy import build_estimator, exact_free_energy

logger = logging.getLogger(__name__)


def energy_model(network_factory, system, beta, *, n_eff=1000.0, estimator="auto",
                 n_base_samples=1024, reference=None, free_energy=None, name="q",
                 network_kwargs=None, random_seed=None):
    r"""Build a PyMC model whose posterior over the network weights is the generalized posterior.

    .. math::

        \pi(\theta) \propto \mathrm{prior}(\theta)\,
            \exp\!\left[-n_\mathrm{eff}\, \beta \left(F_q(\theta) - F\right)\right]
            = \mathrm{prior}(\theta)\, \exp\!\left[-n_\mathrm{eff}\,
              \mathrm{KL}(q_\theta \,\|\, p)\right],

    where F_q is the variational free energy and F = -ln Z / beta, so that
    beta (F_q - F) is the reverse Kullback-Leibler divergence, which is at least 0.

    ``n_eff`` is the number of independent Boltzmann samples the energy is taken to be worth.
    The log likelihood of N samples from p in the ``data`` regime is
    -N [KL(p || q_theta) + H(p)], so n_eff = N gives the reverse KL the weight that N data
    points give the forward KL: posterior widths shrink like 1 / sqrt(n_eff) near a minimum of
    F_q, the posterior tends to the prior as n_eff -> 0 and to a point mass on the minimizers
    of F_q as n_eff -> infinity.

    NOTE: with the ``"snis"`` estimator the potential also rewards weights where the estimate
    is biased low, so a wide posterior can leave the region that the reference set covers.
    Check that the recorded ``"reference_ess_fraction"`` stays well above 1 / M for every draw.

    Parameters
    ----------
    network_factory : Network class or callable
        ``factory(name) -> Network``, called inside the model, for example
        ``lambda name: pmb.networks.MADE(name, n_sites=16, hidden=(8,))``; or a Network class,
        called as ``cls(name, **network_kwargs)``.
    system : BoltzmannSystem
        The system; its sample space and number of sites must match the network's.
    beta : float
        Inverse temperature, positive.
    n_eff : float
        Effective number of samples, positive.
    estimator : {"auto", "exact", "reparameterized", "snis"}
        Estimator of F_q, see :mod:`pymc_boltzmann.models.free_energy`: exact enumeration for
        spin systems of at most 16 sites, fixed base draws for reparameterized networks, and
        self-normalized importance sampling from ``reference`` otherwise.
    n_base_samples : int
        Number of base draws, fixed for the whole run, of the reparameterized estimator.
    reference : ReferenceSet, optional
        Fixed reference set of the ``"snis"`` estimator, for example draws from a point
        estimate trained with :func:`pymc_boltzmann.training.fit_energy`.
    free_energy : float, optional
        F subtracted from F_q. Defaults to the exact F where the system has one (or is small
        enough to enumerate) and to 0 otherwise. A constant offset multiplies the posterior
        density by a constant, so it changes the log density values but not the posterior.
    name : str
        Prefix of the network's variable names.
    network_kwargs : dict, optional
        Keyword arguments of a Network class passed as ``network_factory``.
    random_seed : int, optional
        Seed of the fixed base draws.

    Returns
    -------
    model : pymc.Model
        With the network's weights, a potential ``"gibbs_potential"`` equal to
        -n_eff beta (F_q - F), and the deterministics ``"variational_free_energy"`` (F_q of the
        whole system) and ``"mean_energy"`` (E under q), plus ``"reference_ess_fraction"``
        with the ``"snis"`` estimator.
    network : Network
        The network created inside the model.

    Examples
    --------
    >>> ising = pmb.energies.Ising2D(L=3)
    >>> model, q = pmb.models.energy_model(
    ...     lambda name: pmb.networks.MeanFieldSpins(name, n_sites=9), ising, beta=0.3, n_eff=100
    ... )
    >>> idata = pmb.sample(model=model, draws=200, tune=200, chains=2)
    """
    beta = check_beta(beta)
    n_eff = check_n_eff(n_eff)

    with pm.Model() as model:
        network = create_network(network_factory, name, network_kwargs)
        check_system_matches(network, system)
        estimate = build_estimator(network, system, beta, estimator=estimator,
                                   n_base_samples=n_base_samples, reference=reference,
                                   random_seed=random_seed)
        offset = _free_energy_offset(system, beta, free_energy)

        inputs = store_inputs(estimate.inputs, name)
        estimates = wrap_jax(estimate.fn)(network.weights, inputs)
        for quantity, value in estimates.items():
            pm.Deterministic(quantity, value)
        free_energy_q = estimates["variational_free_energy"]
        pm.Potential("gibbs_potential", -n_eff * beta * (free_energy_q - offset))

    return model, network


def _free_energy_offset(system, beta, free_energy):
    if free_energy is not None:
        return float(free_energy)

    exact = exact_free_energy(system, beta)
    if exact is None:
        logger.info(
            "no exact free energy for %r at beta=%g: the Gibbs potential uses F = 0, which shifts "
            "the log density by a constant and leaves the posterior unchanged; pass free_energy= "
            "to make the potential equal -n_eff KL(q || p).",
            system, beta,
        )
        return 0.0
    return exact
