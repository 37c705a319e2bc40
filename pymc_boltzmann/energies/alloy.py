"""A binary alloy on a periodic square lattice at fixed composition, with a pair cluster expansion."""

import functools
import math
import numbers

import jax.numpy as jnp
import numpy as np
from scipy.special import logsumexp

from pymc_boltzmann._checks import check_beta, check_finite_real, check_lattice_size
from pymc_boltzmann.energies.base import BoltzmannSystem

# One offset (row, column) per unordered pair direction of each neighbour shell of the square
# lattice: rolling by the offset and by its negative gives the same pairs, so each pair is counted
# once. Every shell has four neighbours per site, hence two pairs per site.
SHELL_OFFSETS = (
    ((0, 1), (1, 0)),  # first shell, distance 1
    ((1, 1), (1, -1)),  # second shell, distance sqrt(2)
    ((0, 2), (2, 0)),  # third shell, distance 2
)
COORDINATION = 4

# Largest lattice enumerated exactly: 2^25 bit patterns are scanned in chunks.
MAX_ENUMERATED_SITES = 25
ENUMERATION_CHUNK = 1 << 21


class BinaryAlloy(BoltzmannSystem):
    r"""Binary alloy A_c B_(1-c) on a periodic L x L square lattice at fixed composition.

    Site occupations are spins: s_i = +1 for an A atom and s_i = -1 for a B atom, so
    ``sample_space`` is ``"spin"`` and n_A = (N + sum_i s_i) / 2 is fixed. The energy is a pair
    cluster expansion over the first three neighbour shells,

    .. math::

        E(s) = E_0 + \sum_{k=1}^{3} J_k P_k(s), \qquad
        P_k(s) = \sum_{\langle i j \rangle_k} s_i s_j ,

    where the sum runs over the 2N unordered pairs of shell k (distances 1, sqrt 2 and 2, four
    neighbours per site each). J_k > 0 favours unlike neighbours (ordering), J_k < 0 like
    neighbours (clustering). Monte Carlo moves swap an A and a B atom, which conserves the
    composition (Kawasaki dynamics).

    The Warren-Cowley short-range order parameter of shell k is

    .. math::

        \alpha_k = 1 - \frac{P(B \mid A)_k}{c_B}, \qquad
        P(B \mid A)_k = \frac{N^{AB}_k}{4 N_A}, \qquad N^{AB}_k = N - P_k / 2 ,

    with N^AB_k the number of A-B pairs in shell k. alpha_k is 0 for a random alloy, negative
    with ordering and positive with clustering.

    NOTE: for L < 5 the third shell wraps (for L = 4 both neighbours along an axis are one site,
    for L = 3 they are first-shell neighbours), so ``sro_3`` is not a third-shell quantity there.

    Parameters
    ----------
    L : int
        Linear lattice size: at least 3, and at least 5 when J3 != 0, because for L = 4 the two
        third-shell neighbours along an axis are the same site.
    concentration : float, optional
        Fraction c_A of A atoms, in (0, 1), with c_A N an integer. Give this or ``n_a``.
    n_a : int, optional
        Number of A atoms, 1 <= n_a <= N - 1.
    couplings : sequence of float
        (J1,), (J1, J2) or (J1, J2, J3); missing shells have J = 0.
    constant : float
        Energy offset E_0.

    Examples
    --------
    >>> import pymc_boltzmann as pmb
    >>> alloy = pmb.energies.BinaryAlloy(L=5, n_a=12, couplings=(1.0, -0.5, 0.25))
    >>> x = alloy.random_configurations(4, random_seed=0)
    >>> alloy.energy(x).shape
    (4,)
    """

    name = "binary_alloy"
    sample_space = "spin"

    def __init__(self, L, concentration=None, *, n_a=None, couplings=(1.0, 0.0, 0.0), constant=0.0):
        self.L = check_lattice_size("L", L, minimum=3)
        self.shape = (self.L, self.L)
        self.n_sites = self.L * self.L
        self.couplings = _check_couplings(couplings)
        self.constant = check_finite_real("constant", constant)
        if self.couplings[2] != 0.0 and self.L < 5:
            raise ValueError(
                f"L={self.L} is invalid with a third-shell coupling J3={self.couplings[2]}: the third "
                "shell lies at distance 2 along an axis, which wraps onto the same site for L < 5. "
                "Use L >= 5 or set J3 = 0."
            )
        self.n_a = _resolve_composition(self.n_sites, concentration, n_a)
        self.n_b = self.n_sites - self.n_a

    @property
    def concentration(self):
        """Fraction c_A = n_A / N of A atoms."""
        return self.n_a / self.n_sites

    # ---- energy and observables ----------------------------------------------------------

    def shell_pair_sums(self, x):
        """Return P_k(s) = sum over pairs of shell k of s_i s_j, shape ``(..., 3)``, pure JAX."""
        lattice = x.reshape(x.shape[:-1] + self.shape)
        sums = []
        for offsets in SHELL_OFFSETS:
            total = 0.0
            for dy, dx in offsets:
                neighbour = jnp.roll(lattice, (-dy, -dx), axis=(-2, -1))
                total = total + jnp.sum(lattice * neighbour, axis=(-2, -1))
            sums.append(total)
        return jnp.stack(sums, axis=-1)

    def energy_fn(self, x):
        return self.constant + self.shell_pair_sums(x) @ jnp.asarray(self.couplings)

    def short_range_order(self, pair_sums):
        """Return the Warren-Cowley alpha_k from pair sums P_k (array ``(..., 3)``); works on NumPy and JAX."""
        c_b = self.n_b / self.n_sites
        ab_pairs = self.n_sites - pair_sums / 2.0
        return 1.0 - ab_pairs / (COORDINATION * self.n_a * c_b)

    def observables_fn(self, x):
        """Return energy per site, E^2 and the Warren-Cowley ``sro_1``, ``sro_2``, ``sro_3``."""
        pair_sums = self.shell_pair_sums(x)
        energy = self.constant + pair_sums @ jnp.asarray(self.couplings)
        alpha = self.short_range_order(pair_sums)
        return {
            "energy_per_site": energy / self.n_sites,
            "energy_sq": energy**2,
            "sro_1": alpha[..., 0],
            "sro_2": alpha[..., 1],
            "sro_3": alpha[..., 2],
        }

    def fluctuation_observables(self, expectations, beta):
        r"""Return the specific heat per site c = beta^2 (<E^2> - <E>^2) / N."""
        mean_energy = expectations["energy_per_site"] * self.n_sites
        return {"specific_heat": beta**2 * (expectations["energy_sq"] - mean_energy**2) / self.n_sites}

    def validate(self, x, name="x"):
        """Check spins and shape as the base class does, then check the composition n_A of every configuration."""
        array = super().validate(x, name=name)
        if not isinstance(array, np.ndarray):
            return array
        n_a = np.rint((self.n_sites + array.sum(axis=-1)) / 2).astype(int)
        wrong = n_a != self.n_a
        if np.any(wrong):
            raise ValueError(
                f"{name} contains {int(wrong.sum())} configurations whose number of A atoms "
                f"(s = +1) is not n_a={self.n_a}, e.g. {int(n_a[wrong].flat[0])}. This alloy has "
                "a fixed composition: draw configurations with random_configurations()."
            )
        return array

    def random_configurations(self, n, random_seed=None):
        """Return ``n`` configurations with n_A atoms of type A placed uniformly at random, shape ``(n, N)``."""
        rng = np.random.default_rng(random_seed)
        base = np.concatenate([np.ones(self.n_a), -np.ones(self.n_b)])
        return rng.permuted(np.broadcast_to(base, (n, self.n_sites)), axis=-1)

    # ---- exact enumeration -------------------------------------------------------------

    def density_of_states(self):
        """Return the exact joint density of states of the pair sums at fixed composition.

        Every configuration with n_A atoms of type A is visited once, in chunks of bit patterns,
        and counted by its pair sums (P_1, P_2, P_3). The energy is linear in the pair sums, so
        one table serves every beta and every choice of couplings.

        Returns
        -------
        pair_sums : numpy.ndarray
            Distinct pair-sum vectors, shape ``(n_levels, 3)``.
        counts : numpy.ndarray
            Number of configurations with each vector, shape ``(n_levels,)``; sums to C(N, n_A).

        Raises
        ------
        NotImplementedError
            If N > 25, where the number of configurations is too large to enumerate.
        """
        if self.n_sites > MAX_ENUMERATED_SITES:
            raise NotImplementedError(
                f"exact enumeration is limited to N <= {MAX_ENUMERATED_SITES} sites, but this alloy "
                f"has N={self.n_sites}. Use reference_sample() for larger lattices."
            )
        return _enumerate_pair_sums(self.L, self.n_a)

    def _log_boltzmann_levels(self, beta):
        beta = check_beta(beta)
        pair_sums, counts = self.density_of_states()
        energies = self.constant + pair_sums @ np.asarray(self.couplings)
        return pair_sums, energies, np.log(counts) - beta * energies

    def exact_log_partition(self, beta):
        """Return ln Z = ln sum_s exp(-beta E(s)) over all configurations at fixed composition."""
        _, _, log_weights = self._log_boltzmann_levels(beta)
        return float(logsumexp(log_weights))

    def exact_expectations(self, beta):
        """Return exact <E>/N, <E^2>, <alpha_k> and the specific heat per site by enumeration."""
        pair_sums, energies, log_weights = self._log_boltzmann_levels(beta)
        probabilities = np.exp(log_weights - logsumexp(log_weights))
        alpha = self.short_range_order(pair_sums)
        expectations = {
            "energy_per_site": float(probabilities @ energies) / self.n_sites,
            "energy_sq": float(probabilities @ energies**2),
            "sro_1": float(probabilities @ alpha[:, 0]),
            "sro_2": float(probabilities @ alpha[:, 1]),
            "sro_3": float(probabilities @ alpha[:, 2]),
        }
        expectations.update(self.fluctuation_observables(expectations, beta))
        return expectations

    # ---- reference Monte Carlo ---------------------------------------------------------

    def reference_sample(self, beta, n_samples, *, random_seed=None, n_chains=16, n_tune=200, max_thin=1000):
        """Draw decorrelated configurations with swap-move (Kawasaki) Metropolis chains.

        A pilot run measures the effective sample size (ArviZ) of the energy. The production
        run then keeps every ``thin``-th sweep, with ``thin`` the pilot's number of sweeps per
        effective sample. One sweep is N attempted swaps.

        Parameters
        ----------
        beta : float
            Inverse temperature.
        n_samples : int
            Number of configurations returned.
        random_seed : int, optional
            Seed of the chains.
        n_chains : int
            Chains run in parallel (vectorized).
        n_tune : int
            Burn-in sweeps of every chain.
        max_thin : int
            Upper bound of the thinning interval in sweeps.

        Returns
        -------
        numpy.ndarray
            Configurations of shape ``(n_samples, n_sites)``, spins in {-1, +1}.
        """
        from pymc_boltzmann.surrogate.swap_metropolis import sample_configurations

        return sample_configurations(
            self,
            self.energy_fn,
            beta,
            n_samples,
            random_seed=random_seed,
            n_chains=n_chains,
            n_tune=n_tune,
            max_thin=max_thin,
        )

    def __repr__(self):
        return f"BinaryAlloy(L={self.L}, n_a={self.n_a}, couplings={self.couplings}, constant={self.constant})"


def _check_couplings(couplings):
    try:
        values = [float(value) for value in couplings]
    except (TypeError, ValueError):
        raise ValueError(
            f"couplings={couplings!r} is invalid: expected a sequence (J1, J2, J3) of up to three "
            "finite real numbers."
        ) from None
    if not 1 <= len(values) <= len(SHELL_OFFSETS) or not all(math.isfinite(v) for v in values):
        raise ValueError(
            f"couplings={couplings!r} is invalid: expected one to three finite pair interactions "
            "(J1, J2, J3) for the first three neighbour shells."
        )
    return tuple(values + [0.0] * (len(SHELL_OFFSETS) - len(values)))


def _resolve_composition(n_sites, concentration, n_a):
    if (concentration is None) == (n_a is None):
        raise ValueError(
            f"got concentration={concentration!r} and n_a={n_a!r}: expected exactly one of them. "
            "Pass the fraction of A atoms or their number."
        )
    if n_a is not None:
        if isinstance(n_a, bool) or not isinstance(n_a, numbers.Integral) or not 0 < n_a < n_sites:
            raise ValueError(
                f"n_a={n_a!r} is invalid: expected an integer number of A atoms between 1 and "
                f"{n_sites - 1} for N={n_sites} sites."
            )
        return int(n_a)

    c = check_finite_real("concentration", concentration)
    if not 0.0 < c < 1.0:
        raise ValueError(
            f"concentration={concentration!r} is invalid: expected a fraction of A atoms strictly "
            "between 0 and 1."
        )
    exact = c * n_sites
    count = round(exact)
    if abs(exact - count) > 1e-9 or not 0 < count < n_sites:
        below = max(1, math.floor(exact))
        above = min(n_sites - 1, math.ceil(exact))
        raise ValueError(
            f"concentration={concentration!r} is not realizable on N={n_sites} sites: c N = {exact:g} "
            f"is not an integer. The nearest realizable concentrations are {below}/{n_sites} = "
            f"{below / n_sites:g} and {above}/{n_sites} = {above / n_sites:g}; or pass n_a."
        )
    return int(count)


@functools.lru_cache(maxsize=8)
def _enumerate_pair_sums(L, n_a):
    n_sites = L * L
    shells = len(SHELL_OFFSETS)
    span = 4 * n_sites + 1  # P_k runs over -2N..2N
    histogram = np.zeros(span**shells, dtype=np.int64)
    shifts = np.arange(n_sites, dtype=np.uint32)

    for start in range(0, 1 << n_sites, ENUMERATION_CHUNK):
        patterns = np.arange(start, min(start + ENUMERATION_CHUNK, 1 << n_sites), dtype=np.uint32)
        patterns = patterns[np.bitwise_count(patterns) == n_a]
        if patterns.size == 0:
            continue

        spins = ((patterns[:, None] >> shifts) & 1).astype(np.int8) * 2 - 1
        lattice = spins.reshape(-1, L, L)
        index = np.zeros(patterns.size, dtype=np.int64)
        for offsets in SHELL_OFFSETS:
            pair_sum = np.zeros(patterns.size, dtype=np.int64)
            for dy, dx in offsets:
                neighbour = np.roll(lattice, (-dy, -dx), axis=(1, 2))
                pair_sum += np.sum(lattice * neighbour, axis=(1, 2), dtype=np.int64)
            index = index * span + (pair_sum + 2 * n_sites)

        histogram += np.bincount(index, minlength=histogram.size)

    levels = np.flatnonzero(histogram)
    pair_sums = np.stack(np.unravel_index(levels, (span,) * shells), axis=-1) - 2 * n_sites
    return pair_sums.astype(np.float64), histogram[levels].astype(np.float64)
