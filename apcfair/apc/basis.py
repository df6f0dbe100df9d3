"""Random-walk priors in their eigenbasis, and the linear/nonlinear split of APC functions.

Each APC function on an equally spaced grid of ``n`` points is written as

    f = c * s + N @ theta

where ``c`` is the centred (and scaled) index, ``s`` a slope and ``N`` an ``n x (n - 2)``
orthonormal basis of the functions orthogonal to constants and linear functions
(Holford 1983). ``N`` is chosen as the eigenvectors of the projected random-walk
precision, so the random-walk prior on ``theta`` is *diagonal*: ``theta_i ~ N(0, 1 / (tau *
lambda_i))``. For a second-order random walk the projection changes nothing (its null
space is exactly the constants and linear functions); for a first-order walk the prior
is the RW1 prior restricted to the nonlinear subspace. The linear directions carry the
age-period-cohort identification problem and get no random-walk penalty.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np


def difference_matrix(n: int, order: int) -> np.ndarray:
    """``(n - order) x n`` matrix of ``order``-th differences."""
    return np.diff(np.eye(n), n=order, axis=0)


@dataclass(frozen=True)
class FunctionBasis:
    """Basis of one APC function on a grid of ``n`` equally spaced points.

    Attributes
    ----------
    n : int
        Grid size.
    centre, scale : float
        The linear column is ``(index - centre) / scale`` for grid positions
        ``index = 0 .. n - 1``.
    linear : ndarray, shape (n,)
        Centred, scaled linear column.
    nonlinear : ndarray, shape (n, n - 2)
        Orthonormal basis orthogonal to constants and to ``linear``.
    eigenvalues : ndarray, shape (n - 2,)
        Prior precision of each ``nonlinear`` coefficient at ``tau = 1``.
    """

    n: int
    order: int
    centre: float
    scale: float
    linear: np.ndarray
    nonlinear: np.ndarray
    eigenvalues: np.ndarray


@lru_cache(maxsize=64)
def function_basis(n: int, order: int = 2) -> FunctionBasis:
    """Eigenbasis of the random-walk prior of the given order on ``n`` points.

    Parameters
    ----------
    n : int
        Number of grid points (at least 3).
    order : {1, 2}
        Random-walk order.
    """
    if n < 3:
        raise ValueError(f"an APC function needs at least 3 grid points, got {n}")
    idx = np.arange(n, dtype=float)
    centre = idx.mean()
    scale = max(idx.std(), 1.0)
    lin = (idx - centre) / scale
    diff = difference_matrix(n, order)
    rw_precision = diff.T @ diff
    # project out constants and linear functions
    null_space = np.column_stack([np.ones(n) / np.sqrt(n), lin / np.linalg.norm(lin)])
    projector = np.eye(n) - null_space @ null_space.T
    projected = projector @ rw_precision @ projector
    projected = 0.5 * (projected + projected.T)
    vals, vecs = np.linalg.eigh(projected)
    # the two smallest eigenvalues belong to the null space (constant and linear)
    keep = np.argsort(vals)[2:]
    nonlinear = vecs[:, keep]
    # re-orthogonalise against the null space numerically
    nonlinear = nonlinear - null_space @ (null_space.T @ nonlinear)
    nonlinear, _ = np.linalg.qr(nonlinear)
    eigenvalues = np.einsum("ij,jk,ki->i", nonlinear.T, rw_precision, nonlinear)
    return FunctionBasis(n, order, centre, scale, lin, nonlinear, eigenvalues)


def split_linear(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Least-squares split of function values (last axis = grid) into mean, slope, rest.

    Returns ``(mean, slope_per_step, nonlinear)`` with ``nonlinear`` orthogonal to
    constants and linear functions on the grid.
    """
    values = np.asarray(values, dtype=float)
    n = values.shape[-1]
    idx = np.arange(n, dtype=float) - (n - 1) / 2
    mean = values.mean(axis=-1)
    slope = (values * idx).sum(axis=-1) / (idx**2).sum()
    rest = values - mean[..., None] - slope[..., None] * idx
    return mean, slope, rest


def second_differences(values: np.ndarray) -> np.ndarray:
    """Second differences along the last axis: identified whatever the trend allocation."""
    return np.diff(np.asarray(values, dtype=float), n=2, axis=-1)
