"""The Newton Hessian ``D' diag(w) D`` by dense BLAS chunks equals the sparse product (issue 19)."""

import numpy as np
import pytest
import scipy.sparse as sp

from apcfair.scoring._engine import weighted_gram


def _sparse_product(D, w):
    """The Hessian as computed before issue 19 (a copy): the sparse product."""
    return np.asarray((D.T @ sp.csr_matrix(D.multiply(w[:, None]))).todense())


@pytest.mark.parametrize(("n", "p", "density"), [(20_000, 40, 0.2),     # dense chunks (binned attributes)
                                                 (3_000, 400, 0.01),    # wide and sparse: the sparse product
                                                 (1, 3, 1.0)])
def test_weighted_gram_equals_the_sparse_product(n, p, density):
    rng = np.random.default_rng(0)
    D = sp.random(n, p, density=density, random_state=1, format="csr")
    w = rng.random(n)
    w[::7] = 0.0                                     # zero weights (p(1 - p) underflowing) are fine
    ref = _sparse_product(D, w)
    got = weighted_gram(D, w)
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-13 * np.abs(ref).max())
    if p <= 12 * max(D.nnz / n, 1.0):
        np.testing.assert_array_equal(got, got.T)     # the dense path is exactly symmetric
