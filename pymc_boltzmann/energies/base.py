"""The interface every Boltzmann system implements: energy, sample space, observables, references."""

import abc

import jax
import jax.numpy as jnp

from pymc_boltzmann._checks import check_configurations

SAMPLE_SPACES = ("spin", "real")


class BoltzmannSystem(abc.ABC):
    """A system with Boltzmann-Gibbs distribution p(x) = exp(-beta E(x)) / Z.

    Configurations are flat arrays of shape ``(..., n_sites)``: a lattice configuration is
    flattened in row-major (C) order, so site ``(i, j)`` of an ``L x L`` lattice is entry
    ``i * L + j``. Every method taking configurations accepts any number of leading batch axes.

    Subclasses implement :meth:`energy_fn` (pure JAX, batched) and :meth:`observables_fn`;
    the rest of the interface has defaults that raise :class:`NotImplementedError` where the
    system has no such reference.

    Attributes
    ----------
    n_sites : int
        Number of degrees of freedom of one configuration.
    shape : tuple of int
        Lattice or vector shape of one configuration before flattening.
    sample_space : {"spin", "real"}
        ``"spin"`` for x in {-1, +1}^n_sites, ``"real"`` for x in R^n_sites.
    """

    n_sites: int
    shape: tuple
    sample_space: str
    name: str = "system"

    @abc.abstractmethod
    def energy_fn(self, x):
        """Return E(x) for configurations ``x`` of shape ``(..., n_sites)`` as a JAX array ``(...)``.

        Pure JAX without input checks, so it can be jitted, vmapped and differentiated.
        """

    @abc.abstractmethod
    def observables_fn(self, x):
        """Return a dict of per-configuration observables, each a JAX array of shape ``(...)``.

        Pure JAX without input checks. Expectations of these under p are what estimators
        report; fluctuation quantities (susceptibility, specific heat) come from
        :meth:`fluctuation_observables`.
        """

    def energy(self, x):
        """Return the energy E(x) of configurations ``x`` of shape ``(..., n_sites)``.

        Checks the input (shape, finiteness, spins in {-1, +1}) and calls :meth:`energy_fn`.
        Inside jitted code or a gradient, call :meth:`energy_fn` directly.
        """
        x = self.validate(x)
        return self.energy_fn(jnp.asarray(x, dtype=jnp.float64))

    def observables(self, x):
        """Return the per-configuration observables of ``x`` after checking the input."""
        x = self.validate(x)
        return self.observables_fn(jnp.asarray(x, dtype=jnp.float64))

    def energy_pt(self, x):
        """Return E(x) as a PyTensor expression, for use inside a PyMC model.

        ``x`` is a PyTensor variable of shape ``(..., n_sites)`` with a fully known shape. The
        JAX energy is wrapped with :func:`pytensor.wrap_jax`, so the graph has the same values
        and gradients as :meth:`energy_fn`.
        """
        from pytensor import wrap_jax

        return wrap_jax(self.energy_fn)(x)

    def validate(self, x, name="x"):
        """Check configurations ``x`` against this system and return them as a NumPy array.

        Raises
        ------
        ValueError
            If the last axis does not have ``n_sites`` entries, an entry is not finite, or a
            spin is not in {-1, +1}.
        """
        if isinstance(x, jax.core.Tracer):
            return x
        return check_configurations(x, self.n_sites, self.sample_space, name=name)

    def fluctuation_observables(self, expectations, beta):
        """Return fluctuation quantities computed from expectations of per-configuration observables.

        Parameters
        ----------
        expectations : dict of str to float or array
            Expectations under p of the entries of :meth:`observables_fn`.
        beta : float
            Inverse temperature.

        Returns
        -------
        dict
            Empty by default; lattice systems add the susceptibility and the specific heat.
        """
        return {}

    def exact_log_partition(self, beta):
        """Return ln Z at inverse temperature ``beta``, or raise NotImplementedError."""
        raise NotImplementedError(f"{type(self).__name__} has no exact ln Z reference.")

    def exact_free_energy_per_site(self, beta):
        """Return the exact free energy per site f = -ln Z / (beta n_sites)."""
        return -self.exact_log_partition(beta) / (beta * self.n_sites)

    def exact_expectations(self, beta):
        """Return a dict of exact expectations of the observables, or raise NotImplementedError."""
        raise NotImplementedError(f"{type(self).__name__} has no exact expectation values.")

    def reference_sample(self, beta, n_samples, *, random_seed=None, **kwargs):
        """Draw ``n_samples`` decorrelated configurations from p with a reference Monte Carlo sampler.

        Dispatches to :func:`pymc_boltzmann.montecarlo.reference_sample`, which picks the
        algorithm for the system and thins the chain by its integrated autocorrelation time.

        Returns
        -------
        numpy.ndarray
            Configurations of shape ``(n_samples, n_sites)``.
        """
        from pymc_boltzmann.montecarlo import reference_sample

        return reference_sample(self, beta, n_samples, random_seed=random_seed, **kwargs)

    def __repr__(self):
        return f"{type(self).__name__}(n_sites={self.n_sites}, shape={self.shape})"
