"""Exact references of the free (Gaussian) scalar field on a periodic L x L lattice."""

import math

import numpy as np

from pymc_boltzmann._checks import check_beta, check_finite_real, check_lattice_size


def check_gaussian_mass(m2):
    """Return m2 as a float after checking that the free field with this mass is normalizable."""
    m2 = check_finite_real("m2", m2)
    if m2 <= 0.0:
        raise ValueError(
            f"m2={m2} is invalid at zero quartic coupling: expected m2 > 0, because the periodic "
            "lattice Laplacian has a zero mode (the constant field), so exp(-S) is not "
            "normalizable for m2 <= 0. Pass a positive m2 or a positive quartic coupling lam."
        )
    return m2


def laplacian_eigenvalues(L):
    r"""Return the eigenvalues of minus the periodic lattice Laplacian on L x L, shape (L, L).

    .. math::

        \lambda(k_1, k_2) = 4 \sin^2(\pi k_1 / L) + 4 \sin^2(\pi k_2 / L),
        \qquad k_1, k_2 = 0, \dots, L - 1

    The eigenvectors are the plane waves exp(2 pi i (k_1 x_1 + k_2 x_2) / L).
    """
    L = check_lattice_size("L", L)
    one_dimensional = 4.0 * np.sin(np.pi * np.arange(L) / L) ** 2
    return one_dimensional[:, None] + one_dimensional[None, :]


def gaussian_log_partition(L, m2, beta=1.0):
    r"""Return ln Z of the free field with action beta * S, S = phi^T (-Laplacian + m2) phi / 2.

    .. math::

        \ln Z = \frac{N}{2} \ln\frac{2\pi}{\beta} - \frac12 \sum_k \ln(\lambda_k + m^2)

    with lambda_k from :func:`laplacian_eigenvalues`, N = L^2.

    Raises
    ------
    ValueError
        If m2 <= 0, where the zero mode of the Laplacian makes Z infinite.
    """
    m2 = check_gaussian_mass(m2)
    beta = check_beta(beta)
    eigenvalues = laplacian_eigenvalues(L)
    n_sites = eigenvalues.size
    return 0.5 * n_sites * math.log(2.0 * math.pi / beta) - 0.5 * float(np.sum(np.log(eigenvalues + m2)))


def gaussian_two_point_function(L, m2, beta=1.0):
    r"""Return G(x) = <phi_0 phi_x> of the free field as an (L, L) array indexed by the separation x.

    .. math::

        G(x) = \frac{1}{\beta N} \sum_k \frac{e^{i k \cdot x}}{\lambda_k + m^2}

    It is connected, since <phi> = 0, and sum_x G(x) = 1 / (beta m2) is the susceptibility.
    """
    m2 = check_gaussian_mass(m2)
    beta = check_beta(beta)
    propagator = 1.0 / (beta * (laplacian_eigenvalues(L) + m2))
    return np.real(np.fft.ifft2(propagator))
