"""Affine coupling flow for real variables (RealNVP, Dinh, Sohl-Dickstein and Bengio 2017)."""

import math
import numbers

import jax
import jax.numpy as jnp
import numpy as np

from pymc_boltzmann._checks import check_finite_real, check_positive_int
from pymc_boltzmann.networks.base import Network, WeightSpec
from pymc_boltzmann.networks.made import check_hidden

_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)


def _check_shape(shape):
    if isinstance(shape, numbers.Integral) and not isinstance(shape, bool):
        shape = (shape,)
    try:
        shape = tuple(shape)
    except TypeError:
        shape = None
    valid = shape is not None and len(shape) in (1, 2) and all(
        isinstance(size, numbers.Integral) and not isinstance(size, bool) and size >= 1
        for size in shape
    )
    if not valid:
        raise ValueError(
            f"shape={shape!r} is invalid: expected a vector length such as shape=(8,) or a "
            "lattice shape such as shape=(8, 8), with positive integer sizes."
        )
    return tuple(int(size) for size in shape)


def _frozen_masks(shape, n_layers):
    """Return ``(n_layers, n_sites)`` indicators of the sites each coupling layer conditions on.

    Lattices alternate the two checkerboard sublattices, (i + j) even and odd. Vectors alternate
    the first ceil(n / 2) entries and the rest, and the first layer transforms the first half.
    """
    if len(shape) == 2:
        rows, cols = np.indices(shape)
        first = ((rows + cols) % 2 == 0).ravel()
    else:
        first = np.arange(shape[0]) < math.ceil(shape[0] / 2)
    return np.stack([~first if layer % 2 == 0 else first for layer in range(n_layers)]).astype(float)


def _periodic_conv(x, kernel, bias):
    """Convolve ``x`` of shape ``(B, L1, L2, C)`` with periodic boundaries ('same' output size)."""
    pad = kernel.shape[0] // 2
    padded = jnp.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)), mode="wrap")
    out = jax.lax.conv_general_dilated(
        padded, kernel, (1, 1), "VALID", dimension_numbers=("NHWC", "HWIO", "NHWC")
    )
    return out + bias


class RealNVP(Network):
    r"""Affine coupling flow x = f_theta(z) with a standard normal base, z ~ Normal(0, I).

    Coupling layer k splits the sites with a fixed mask m_k (1 = conditioning site) and updates
    the others,

    .. math::

        y = m_k \odot x + (1 - m_k) \odot \big(x\, e^{s_k(m_k \odot x)} + t_k(m_k \odot x)\big),
        \qquad
        \ln q_\theta(x) = \sum_i \ln \mathcal{N}(z_i; 0, 1) - \sum_k \sum_i (1 - m_k)_i\, s_{k,i}.

    The log-determinant is exact because each layer's Jacobian is triangular. The log-scales
    are bounded, s = max_scale * tanh(s_raw / max_scale), so no layer can scale by more than
    exp(max_scale) and training cannot overflow. Lattices of shape ``(L1, L2)`` alternate the
    checkerboard sublattices and compute (s, t) with periodic ``kernel_size x kernel_size``
    convolutions (translation-equivariant) or with an MLP; vectors alternate halves with an MLP.
    Hidden layers use tanh.

    Parameters
    ----------
    name : str
        Prefix of the PyMC variable names; layer k has weights ``c{k}_w{j}`` and ``c{k}_b{j}``.
    shape : int or tuple of int
        ``(n,)`` for a vector, ``(L1, L2)`` for a lattice field (flattened row-major).
    n_layers : int
        Number of coupling layers.
    hidden : tuple of int
        Hidden widths of the conditioner (channels for convolutions, units for an MLP).
    conv : bool, optional
        Use periodic convolutions; defaults to True for lattices. Vectors need ``conv=False``.
    max_scale : float
        Bound on the absolute log-scale of each site in each layer.
    kernel_size : int
        Odd side length of the convolution kernels.
    prior : callable, optional
        Weight prior factory, see :class:`~pymc_boltzmann.networks.base.Network`.

    Examples
    --------
    >>> import pymc as pm
    >>> import pymc_boltzmann as pmb
    >>> with pm.Model() as model:
    ...     q = pmb.networks.RealNVP("q", shape=(4, 4), n_layers=4, hidden=(8,))
    ...     q.observe("phi", fields)       # fields of shape (n, 16)
    """

    sample_space = "real"

    def __init__(
        self,
        name,
        shape,
        n_layers=4,
        hidden=(32,),
        conv=None,
        max_scale=2.0,
        kernel_size=3,
        prior=None,
    ):
        self.shape = _check_shape(shape)
        self.n_layers = check_positive_int("n_layers", n_layers)
        self.hidden = check_hidden(hidden, allow_empty=False)
        self.conv = self._check_conv(conv)
        self.max_scale = check_finite_real("max_scale", max_scale)
        if self.max_scale <= 0.0:
            raise ValueError(f"max_scale={max_scale!r} is invalid: expected a positive bound such as 2.0.")
        self.kernel_size = check_positive_int("kernel_size", kernel_size)
        if self.kernel_size % 2 == 0:
            raise ValueError(f"kernel_size={kernel_size} is invalid: expected an odd size such as 3.")
        n_sites = int(np.prod(self.shape))
        self._masks = _frozen_masks(self.shape, self.n_layers)
        self._specs = self._build_specs(n_sites)
        super().__init__(name, n_sites, prior=prior)

    def _check_conv(self, conv):
        if conv is None:
            return len(self.shape) == 2
        if conv and len(self.shape) != 2:
            raise ValueError(
                f"conv=True with shape={self.shape} is invalid: periodic convolutions need a "
                "lattice shape (L1, L2). Pass conv=False for vectors."
            )
        return bool(conv)

    @property
    def weight_specs(self):
        return self._specs

    def _build_specs(self, n_sites):
        specs = {}
        for layer in range(self.n_layers):
            if self.conv:
                sizes = (1, *self.hidden, 2)
                area = self.kernel_size**2
                for j, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
                    shape = (self.kernel_size, self.kernel_size, n_in, n_out)
                    specs[f"c{layer}_w{j}"] = WeightSpec(shape=shape, fan_in=area * n_in)
                    specs[f"c{layer}_b{j}"] = WeightSpec(shape=(n_out,), fan_in=1)
            else:
                sizes = (n_sites, *self.hidden, 2 * n_sites)
                n_conditioning = max(1, int(self._masks[layer].sum()))
                for j, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
                    fan_in = n_conditioning if j == 0 else n_in
                    specs[f"c{layer}_w{j}"] = WeightSpec(shape=(n_in, n_out), fan_in=fan_in)
                    specs[f"c{layer}_b{j}"] = WeightSpec(shape=(n_out,), fan_in=1)
        return specs

    def _conditioner(self, params, layer, x):
        """Return the bounded log-scale and shift of layer ``layer``, each ``(B, n_sites)``."""
        frozen = self._masks[layer]
        n_linear = len(self.hidden) + 1
        if self.conv:
            h = (x * frozen).reshape(-1, *self.shape, 1)
            for j in range(n_linear):
                h = _periodic_conv(h, params[f"c{layer}_w{j}"], params[f"c{layer}_b{j}"])
                h = jnp.tanh(h) if j < n_linear - 1 else h
            raw_scale, shift = h[..., 0].reshape(-1, self.n_sites), h[..., 1].reshape(-1, self.n_sites)
        else:
            h = x * frozen
            for j in range(n_linear):
                h = h @ params[f"c{layer}_w{j}"] + params[f"c{layer}_b{j}"]
                h = jnp.tanh(h) if j < n_linear - 1 else h
            raw_scale, shift = h[:, : self.n_sites], h[:, self.n_sites :]
        log_scale = self.max_scale * jnp.tanh(raw_scale / self.max_scale)
        return (1.0 - frozen) * log_scale, (1.0 - frozen) * shift

    def forward(self, params, z):
        """Map base draws ``z`` ``(..., n_sites)`` to ``(x, ln|det dx/dz|)``."""
        batch_shape = z.shape[:-1]
        x = z.reshape(-1, self.n_sites)
        log_det = jnp.zeros(x.shape[0])
        for layer in range(self.n_layers):
            log_scale, shift = self._conditioner(params, layer, x)
            x = x * jnp.exp(log_scale) + shift
            log_det = log_det + log_scale.sum(axis=-1)
        return x.reshape(*batch_shape, self.n_sites), log_det.reshape(batch_shape)

    def inverse(self, params, x):
        """Map configurations ``x`` ``(..., n_sites)`` to ``(z, ln|det dz/dx|)``."""
        batch_shape = x.shape[:-1]
        z = x.reshape(-1, self.n_sites)
        log_det = jnp.zeros(z.shape[0])
        for layer in reversed(range(self.n_layers)):
            log_scale, shift = self._conditioner(params, layer, z)
            z = (z - shift) * jnp.exp(-log_scale)
            log_det = log_det - log_scale.sum(axis=-1)
        return z.reshape(*batch_shape, self.n_sites), log_det.reshape(batch_shape)

    def log_q(self, params, x):
        z, log_det = self.inverse(params, x)
        return jnp.sum(-0.5 * z**2 - _LOG_SQRT_2PI, axis=-1) + log_det

    def sample(self, params, key, n):
        z = jax.random.normal(key, (n, self.n_sites))
        x, log_det = self.forward(params, z)
        return x, jnp.sum(-0.5 * z**2 - _LOG_SQRT_2PI, axis=-1) - log_det
