"""Lattice phi^4 scalar field theory on a periodic L x L lattice."""

import math

import jax.numpy as jnp
import numpy as np

from pymc_boltzmann._checks import check_beta, check_finite_real, check_lattice_size
from pymc_boltzmann.energies.base import BoltzmannSystem
from pymc_boltzmann.exact import gaussian


def _check_quartic_coupling(lam):
    lam = check_finite_real("lam", lam)
    if lam < 0.0:
        raise ValueError(
            f"lam={lam} is invalid: expected a quartic coupling lam >= 0, because exp(-S) is "
            "not normalizable for lam < 0. Pass lam=0 for the free field or a positive value."
        )
    return lam


class Phi4(BoltzmannSystem):
    r"""Real scalar field phi_x with quartic self-interaction on a periodic L x L lattice.

    .. math::

        S(\phi) = \sum_x \Big[ \sum_{\mu=1}^{2} \frac{(\phi_{x+\hat\mu} - \phi_x)^2}{2}
            + \frac{m^2}{2} \phi_x^2 + \frac{\lambda}{4!} \phi_x^4 \Big]

    The action is the energy, E = S, at beta = 1; other values of beta multiply the action.
    At lam = 0 the field is Gaussian and ln Z is a log-determinant, which needs m2 > 0. At
    lam > 0, m2 may be negative (the double-well regime with a broken-symmetry phase).

    Parameters
    ----------
    L : int
        Linear lattice size, at least 2.
    m2 : float
        Bare mass squared.
    lam : float
        Quartic coupling, lam >= 0.

    Examples
    --------
    >>> import pymc_boltzmann as pmb
    >>> field = pmb.energies.Phi4(L=4, m2=1.0, lam=0.0)
    >>> round(field.exact_log_partition(1.0), 6)
    2.687046
    """

    name = "phi4"
    sample_space = "real"

    def __init__(self, L, m2, lam):
        self.L = check_lattice_size("L", L)
        self.lam = _check_quartic_coupling(lam)
        self.m2 = gaussian.check_gaussian_mass(m2) if self.lam == 0.0 else check_finite_real("m2", m2)
        self.shape = (self.L, self.L)
        self.n_sites = self.L * self.L
        self.hopping = None

    @classmethod
    def from_hopping(cls, L, kappa, l):
        r"""Create the theory from the hopping-parameter form common in lattice field theory.

        .. math::

            S(p) = \sum_x \Big[ -2\kappa \sum_\mu p_x p_{x+\hat\mu} + (1 - 2l) p_x^2 + l p_x^4 \Big]

        The substitution phi = sqrt(2 kappa) p gives this class's action with
        m2 = (1 - 2 l) / kappa - 4 and lam = 6 l / kappa^2. Configurations and ln Z refer to
        phi, and ln Z in the p variables is ln Z - (N / 2) ln(2 kappa).

        Parameters
        ----------
        kappa : float
            Hopping parameter, kappa > 0.
        l : float
            Quartic coupling of the hopping form, l >= 0.
        """
        kappa = check_finite_real("kappa", kappa)
        if kappa <= 0.0:
            raise ValueError(f"kappa={kappa} is invalid: expected a hopping parameter kappa > 0.")
        l = check_finite_real("l", l)
        if l < 0.0:
            raise ValueError(f"l={l} is invalid: expected a quartic coupling l >= 0.")
        system = cls(L, m2=(1.0 - 2.0 * l) / kappa - 4.0, lam=6.0 * l / kappa**2)
        system.hopping = (kappa, l)
        return system

    def energy_fn(self, x):
        lattice = x.reshape(x.shape[:-1] + self.shape)
        kinetic = 0.0
        for axis in (-1, -2):
            kinetic = kinetic + 0.5 * jnp.sum((jnp.roll(lattice, -1, axis=axis) - lattice) ** 2, axis=(-2, -1))
        potential = jnp.sum(0.5 * self.m2 * x**2 + self.lam / 24.0 * x**4, axis=-1)
        return kinetic + potential

    def observables_fn(self, x):
        """Return the action, the mean field m = (1/N) sum_x phi_x, |m| and m^2."""
        m = jnp.mean(x, axis=-1)
        return {
            "energy": self.energy_fn(x),
            "magnetization": m,
            "abs_magnetization": jnp.abs(m),
            "magnetization_sq": m**2,
        }

    def fluctuation_observables(self, expectations, beta):
        r"""Return the susceptibility chi = N (<m^2> - <m>^2) = sum_x G_c(x), the connected two-point sum."""
        variance = expectations["magnetization_sq"] - expectations["magnetization"] ** 2
        return {"susceptibility": self.n_sites * variance}

    def two_point_function(self, x):
        r"""Return the translation-averaged two-point function of configurations, shape (..., L, L).

        .. math::

            G(x; \phi) = \frac1N \sum_y \phi_y \phi_{y+x}

        computed with FFTs. Its expectation is G(x) = <phi_0 phi_x>, which is already connected
        because <phi> = 0 by the phi -> -phi symmetry of the action on any finite lattice.
        Summed over x it gives N m^2.
        """
        lattice = jnp.asarray(x).reshape(jnp.shape(x)[:-1] + self.shape)
        spectrum = jnp.fft.fft2(lattice)
        return jnp.real(jnp.fft.ifft2(spectrum * jnp.conj(spectrum))) / self.n_sites

    def _check_gaussian(self, quantity):
        if self.lam != 0.0:
            raise NotImplementedError(
                f"No closed-form {quantity} at lam={self.lam}: only the free field (lam = 0) is "
                "exactly solvable. Use log_partition_estimate for ln Z (thermodynamic "
                "integration) and reference_sample for expectations."
            )

    def exact_log_partition(self, beta=1.0):
        """Return ln Z of the free field, (N/2) ln(2 pi / beta) - (1/2) ln det(-Laplacian + m2)."""
        self._check_gaussian("ln Z")
        return gaussian.gaussian_log_partition(self.L, self.m2, beta)

    def exact_expectations(self, beta=1.0):
        """Return the free-field expectations: <S> = N / (2 beta) by equipartition, <m> = 0 and
        <m^2> = 1 / (beta m2 N), <|m|> = sqrt(2 <m^2> / pi) (m is Gaussian), and the susceptibility.
        """
        self._check_gaussian("expectations")
        beta = check_beta(beta)
        n = self.n_sites
        magnetization_sq = 1.0 / (beta * self.m2 * n)
        expectations = {
            "energy": n / (2.0 * beta),
            "energy_sq": n / (2.0 * beta**2) + (n / (2.0 * beta)) ** 2,
            "magnetization": 0.0,
            "abs_magnetization": math.sqrt(2.0 * magnetization_sq / math.pi),
            "magnetization_sq": magnetization_sq,
        }
        return {**expectations, **self.fluctuation_observables(expectations, beta)}

    def exact_two_point_function(self, beta=1.0):
        """Return the free-field G(x) as an (L, L) array; see :func:`~pymc_boltzmann.exact.gaussian_two_point_function`."""
        self._check_gaussian("two-point function")
        return np.asarray(gaussian.gaussian_two_point_function(self.L, self.m2, beta))

    def log_partition_estimate(self, beta=1.0, **kwargs):
        """Return (ln Z, standard error) by thermodynamic integration from the free field.

        Keyword arguments go to :func:`~pymc_boltzmann.exact.phi4_log_partition`. At lam = 0
        the exact value is returned with standard error 0.
        """
        from pymc_boltzmann.exact.thermodynamic_integration import phi4_log_partition

        return phi4_log_partition(self, beta, **kwargs)

    def __repr__(self):
        return f"Phi4(L={self.L}, m2={self.m2}, lam={self.lam})"
