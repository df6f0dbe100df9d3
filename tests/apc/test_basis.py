import numpy as np
import pytest

from apcfair.apc.basis import difference_matrix, function_basis, second_differences, split_linear


@pytest.mark.parametrize("order", [1, 2])
@pytest.mark.parametrize("n", [3, 7, 40])
def test_nonlinear_basis_is_orthonormal_and_orthogonal_to_linear(n, order):
    b = function_basis(n, order)
    N = b.nonlinear
    assert N.shape == (n, n - 2)
    np.testing.assert_allclose(N.T @ N, np.eye(n - 2), atol=1e-10)
    np.testing.assert_allclose(N.T @ np.ones(n), 0, atol=1e-10)
    np.testing.assert_allclose(N.T @ b.linear, 0, atol=1e-10)
    assert abs(b.linear.mean()) < 1e-12


def test_rw2_prior_is_diagonal_in_the_basis():
    b = function_basis(30, 2)
    D = difference_matrix(30, 2)
    K = D.T @ D
    M = b.nonlinear.T @ K @ b.nonlinear
    np.testing.assert_allclose(M, np.diag(b.eigenvalues), atol=1e-9)
    assert (b.eigenvalues > 0).all()


def test_split_linear_reconstructs_and_second_differences_ignore_trends(rng):
    x = rng.normal(size=(3, 25))
    mean, slope, rest = split_linear(x)
    idx = np.arange(25) - 12
    np.testing.assert_allclose(mean[:, None] + slope[:, None] * idx + rest, x)
    np.testing.assert_allclose(second_differences(x + 0.3 * idx), second_differences(x), atol=1e-12)


def test_too_short_grid_is_rejected():
    with pytest.raises(ValueError, match="at least 3"):
        function_basis(2, 2)
