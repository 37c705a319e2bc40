"""Masked autoregressive network for Ising spins (MADE, Germain et al. 2015; VAN, Wu et al. 2019)."""

import math
import numbers

import jax
import jax.numpy as jnp
import numpy as np

from pymc_boltzmann._checks import check_positive_int
from pymc_boltzmann.networks.base import Network, WeightSpec


def check_hidden(hidden, allow_empty=True):
    """Return ``hidden`` as a tuple of positive ints, or raise naming the invalid width."""
    if isinstance(hidden, numbers.Integral) and not isinstance(hidden, bool):
        hidden = (hidden,)
    try:
        widths = tuple(hidden)
    except TypeError:
        raise ValueError(
            f"hidden={hidden!r} is invalid: expected a tuple of hidden layer widths such as "
            "hidden=(64,) or hidden=(64, 64)."
        ) from None
    if not widths and not allow_empty:
        raise ValueError(
            "hidden=() is invalid: this network needs at least one hidden layer. "
            "Pass a width such as hidden=(32,)."
        )
    for width in widths:
        if isinstance(width, bool) or not isinstance(width, numbers.Integral) or width < 1:
            raise ValueError(
                f"hidden={widths!r} is invalid: every hidden layer needs an integer width of at "
                f"least 1, got {width!r}. Remove the layer or give it a positive width."
            )
    return tuple(int(width) for width in widths)


class MADE(Network):
    r"""Autoregressive network over spins s in {-1, +1}^N with exact normalization.

    The conditional of site i given the sites before it is a Bernoulli distribution with a
    logit computed by a masked feed-forward network,

    .. math::

        q'_\theta(s) = \prod_{i=1}^{N} \sigma\big(s_i\, a_i(s_{<i})\big), \qquad
        \sigma(t) = \frac{1}{1 + e^{-t}},

    so that q'(s_i = +1 | s_{<i}) = sigma(a_i) and the sum over all 2^N states is 1. With
    ``z2=True`` the density is symmetrized for models invariant under a global spin flip:
    q(s) = (q'(s) + q'(-s)) / 2, which stays normalized.

    **Degrees and masks.** Site i (1-based) has input degree i and output degree i. A hidden
    layer of requested width h has ``u = ceil(h / N)`` units per degree, ``u N`` units in all,
    ordered by degree: unit k has degree ``m(k) = floor(k / u)`` in {0, ..., N - 1}. A unit of
    degree m depends on the sites 1..m only. A weight from a unit of degree ``d_in`` to a
    hidden unit of degree ``d_out`` exists when ``d_out >= d_in``. A weight into the output of
    site i exists when ``i > d_in``. Only the allowed weights are parameters: each layer
    ``l`` stores them as one flat vector ``w{l}`` (row-major order of the allowed entries of
    its ``(n_out, n_in)`` matrix) and a bias ``b{l}``. Hidden layers use tanh. With
    ``hidden=()`` the network is the linear autoregressive model a_i = b_i + sum_{j<i} W_ij s_j.
    With ``residual=True`` hidden layer l > 1 computes h_l = h_{l-1} + tanh(W_l h_{l-1} + b_l);
    the skip connection joins units of the same degree, which keeps the autoregressive order,
    and it needs all hidden layers to have the same width.

    **Sampling.** :meth:`sample` draws site by site in one ``lax.scan`` whose step has a fixed
    shape: after site t is set, the ``u`` units of degree t of every hidden layer are computed
    (their inputs are all known) and their contribution is added to the output logits, which
    only sites after t read. Every unit is computed once, so a draw costs about one forward
    pass. :meth:`sample_naive` reruns the whole network for every site (N forward passes) and
    draws the same configurations from the same key.

    Parameters
    ----------
    name : str
        Prefix of the PyMC variable names.
    n_sites : int
        Number of spins N.
    hidden : tuple of int
        Requested widths of the hidden layers; each is rounded up to a multiple of N.
        ``()`` gives the linear autoregressive model (depth 1).
    residual : bool
        Add skip connections between consecutive hidden layers (needs at least two hidden
        layers of equal width).
    z2 : bool
        Symmetrize under the global flip s -> -s.
    prior : callable, optional
        Weight prior factory, see :class:`~pymc_boltzmann.networks.base.Network`. The default
        scale of ``w{l}`` uses the mean number of allowed inputs per unit as fan-in.

    Examples
    --------
    >>> import pymc as pm
    >>> import pymc_boltzmann as pmb
    >>> ising = pmb.energies.Ising2D(4)
    >>> data = ising.reference_sample(0.3, 200, random_seed=1)
    >>> with pm.Model() as model:
    ...     q = pmb.networks.MADE("q", n_sites=ising.n_sites, hidden=(16,), z2=True)
    ...     q.observe("x", data)
    ...     idata = pm.sample(nuts_sampler="numpyro", draws=100, tune=100, chains=1)
    """

    sample_space = "spin"

    def __init__(self, name, n_sites, hidden=(64,), residual=False, z2=False, prior=None):
        n_sites = check_positive_int("n_sites", n_sites)
        widths = check_hidden(hidden)
        self.residual = bool(residual)
        self.z2 = bool(z2)
        if self.residual:
            _check_residual_widths(widths)
        self.units_per_degree = tuple(math.ceil(width / n_sites) for width in widths)
        self.hidden = tuple(units * n_sites for units in self.units_per_degree)
        self._masks = _layer_masks(n_sites, self.units_per_degree)
        self._indices = [np.nonzero(mask) for mask in self._masks]
        self._specs = self._build_specs()
        super().__init__(name, n_sites, prior=prior)

    @property
    def weight_specs(self):
        return self._specs

    @property
    def depth(self):
        """Number of masked linear layers (hidden layers plus the output layer)."""
        return len(self._masks)

    def _build_specs(self):
        specs = {}
        for layer, mask in enumerate(self._masks):
            n_out = mask.shape[0]
            n_allowed = int(mask.sum())
            mean_fan_in = max(1, round(n_allowed / n_out))
            specs[f"w{layer}"] = WeightSpec(shape=(n_allowed,), fan_in=mean_fan_in)
            specs[f"b{layer}"] = WeightSpec(shape=(n_out,), fan_in=1)
        return specs

    def dense_weights(self, params):
        """Return the masked weight matrices ``[(W_l, b_l), ...]``, W_l of shape ``(n_out, n_in)``."""
        layers = []
        for layer, mask in enumerate(self._masks):
            rows, cols = self._indices[layer]
            matrix = jnp.zeros(mask.shape).at[rows, cols].set(params[f"w{layer}"])
            layers.append((matrix, params[f"b{layer}"]))
        return layers

    def logits(self, params, x):
        """Return the conditional logits a_i(x_{<i}) of q' for inputs of shape ``(..., n_sites)``.

        Entry i depends only on entries 0..i-1 of ``x``; real-valued inputs are accepted, which
        is what a Jacobian check of the autoregressive order needs.
        """
        layers = self.dense_weights(params)
        activation = x
        for index, (matrix, bias) in enumerate(layers[:-1]):
            update = jnp.tanh(activation @ matrix.T + bias)
            activation = activation + update if self.residual and index > 0 else update
        matrix, bias = layers[-1]
        return activation @ matrix.T + bias

    def log_q_unsymmetrized(self, params, x):
        """Return ln q'(x), the autoregressive density before Z2 symmetrization."""
        return jnp.sum(jax.nn.log_sigmoid(x * self.logits(params, x)), axis=-1)

    def log_q(self, params, x):
        log_q_direct = self.log_q_unsymmetrized(params, x)
        if not self.z2:
            return log_q_direct
        log_q_flipped = self.log_q_unsymmetrized(params, -x)
        return jnp.logaddexp(log_q_direct, log_q_flipped) - math.log(2.0)

    def _uniforms(self, key, n):
        key_sites, key_flip = jax.random.split(key)
        uniforms = jax.random.uniform(key_sites, (n, self.n_sites))
        flips = jax.random.bernoulli(key_flip, 0.5, (n,))
        return uniforms, flips

    def _finish_sample(self, params, x, log_q_direct, flips):
        if not self.z2:
            return x, log_q_direct
        log_q_flipped = self.log_q_unsymmetrized(params, -x)
        log_q = jnp.logaddexp(log_q_direct, log_q_flipped) - math.log(2.0)
        return jnp.where(flips[:, None], -x, x), log_q

    def sample(self, params, key, n):
        """Draw ``n`` configurations with one incremental pass; return ``(x, log_q)``."""
        # NumPy weights (a trained point estimate, a posterior draw) cannot be indexed by the
        # traced site counter of the scan, so they become JAX arrays first.
        params = jax.tree.map(jnp.asarray, params)
        uniforms, flips = self._uniforms(key, n)
        if self.hidden:
            x, log_q_direct = _sample_incremental(self, params, uniforms)
        else:
            x, log_q_direct = _sample_linear(self, params, uniforms)
        return self._finish_sample(params, x, log_q_direct, flips)

    def sample_naive(self, params, key, n):
        """Draw ``n`` configurations rerunning the network for every site; return ``(x, log_q)``.

        Uses the same random numbers as :meth:`sample`, so the same key gives the same
        configurations; the cost is N forward passes instead of about one.
        """
        uniforms, flips = self._uniforms(key, n)

        def set_site(x, site):
            logit = self.logits(params, x)[:, site]
            spin = jnp.where(uniforms[:, site] < jax.nn.sigmoid(logit), 1.0, -1.0)
            return x.at[:, site].set(spin), None

        x, _ = jax.lax.scan(set_site, jnp.zeros((n, self.n_sites)), jnp.arange(self.n_sites))
        return self._finish_sample(params, x, self.log_q_unsymmetrized(params, x), flips)


def _check_residual_widths(widths):
    if len(widths) < 2:
        raise ValueError(
            f"residual=True with hidden={widths!r} is invalid: skip connections join consecutive "
            "hidden layers, so at least two are needed. Pass hidden=(64, 64) or residual=False."
        )
    if len(set(widths)) != 1:
        raise ValueError(
            f"residual=True with hidden={widths!r} is invalid: skip connections need every hidden "
            "layer to have the same width. Pass equal widths such as hidden=(64, 64)."
        )


def _layer_masks(n_sites, units_per_degree):
    """Return the boolean ``(n_out, n_in)`` connectivity mask of every layer, output layer last."""
    site_degrees = np.arange(1, n_sites + 1)
    degrees_in = site_degrees
    masks = []
    for units in units_per_degree:
        degrees_out = np.repeat(np.arange(n_sites), units)
        masks.append(degrees_out[:, None] >= degrees_in[None, :])
        degrees_in = degrees_out
    masks.append(site_degrees[:, None] > degrees_in[None, :])
    return masks


def _spin_from_uniform(state, site, uniform):
    """Set ``site`` from the uniforms and its final logit; accumulate ln q'."""
    x, logits, log_q = state
    logit = jax.lax.dynamic_index_in_dim(logits, site, axis=1, keepdims=False)
    spin = jnp.where(uniform < jax.nn.sigmoid(logit), 1.0, -1.0)
    x = jax.lax.dynamic_update_index_in_dim(x, spin, site, axis=1)
    return x, logits, log_q + jax.nn.log_sigmoid(spin * logit)


def _sample_linear(network, params, uniforms):
    """Sample the depth-1 model: setting site t adds W[:, t] s_t to the logits of later sites."""
    ((matrix, bias),) = network.dense_weights(params)
    n = uniforms.shape[0]

    def step(state, site):
        x, logits, log_q = _spin_from_uniform(state, site, uniforms[:, site])
        spin = x[:, site]
        logits = logits + spin[:, None] * matrix[:, site][None, :]
        return (x, logits, log_q), None

    state = (jnp.zeros((n, network.n_sites)), jnp.broadcast_to(bias, (n, network.n_sites)), jnp.zeros(n))
    (x, _, log_q), _ = jax.lax.scan(step, state, jnp.arange(network.n_sites))
    return x, log_q


def _blocked_weights(network, params):
    """Split every layer's rows into degree groups of ``u`` units.

    Returns hidden blocks ``[(W (N, u, n_in), b (N, u)), ...]`` and the output block
    ``(N, u_last, N)``: the contribution of the last hidden layer's degree-d units to every logit.
    """
    layers = network.dense_weights(params)
    n_sites = network.n_sites
    hidden_blocks = []
    for (matrix, bias), units in zip(layers[:-1], network.units_per_degree):
        hidden_blocks.append(
            (matrix.reshape(n_sites, units, matrix.shape[1]), bias.reshape(n_sites, units))
        )
    out_matrix, out_bias = layers[-1]
    units = network.units_per_degree[-1]
    out_blocks = out_matrix.reshape(n_sites, n_sites, units).transpose(1, 2, 0)
    return hidden_blocks, out_blocks, out_bias


def _add_degree(network, blocks, state, degree):
    """Compute the hidden units of ``degree`` in every layer and add them to the logits."""
    hidden_blocks, out_blocks = blocks
    x, logits, log_q, activations = state
    layer_input = x
    new_activations = []
    for index, ((matrix, bias), units) in enumerate(zip(hidden_blocks, network.units_per_degree)):
        group = jnp.tanh(layer_input @ matrix[degree].T + bias[degree])
        if network.residual and index > 0:
            group = group + jax.lax.dynamic_slice_in_dim(layer_input, degree * units, units, axis=1)
        updated = jax.lax.dynamic_update_slice_in_dim(activations[index], group, degree * units, axis=1)
        new_activations.append(updated)
        layer_input = updated
    logits = logits + group @ out_blocks[degree]
    return x, logits, log_q, tuple(new_activations)


def _sample_incremental(network, params, uniforms):
    """Sample a MADE with hidden layers, computing each hidden unit once (see :class:`MADE`)."""
    hidden_blocks, out_blocks, out_bias = _blocked_weights(network, params)
    blocks = (hidden_blocks, out_blocks)
    n, n_sites = uniforms.shape
    activations = tuple(jnp.zeros((n, width)) for width in network.hidden)
    logits = jnp.broadcast_to(out_bias, (n, n_sites))
    state = (jnp.zeros((n, n_sites)), logits, jnp.zeros(n), activations)
    state = _add_degree(network, blocks, state, 0)

    def step(state, site):
        x, logits, log_q, activations = state
        x, logits, log_q = _spin_from_uniform((x, logits, log_q), site, uniforms[:, site])
        state = _add_degree(network, blocks, (x, logits, log_q, activations), site + 1)
        return state, None

    state, _ = jax.lax.scan(step, state, jnp.arange(n_sites - 1))
    x, logits, log_q, _ = state
    x, _, log_q = _spin_from_uniform((x, logits, log_q), n_sites - 1, uniforms[:, n_sites - 1])
    return x, log_q
