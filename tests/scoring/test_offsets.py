"""OffsetTable: evaluation, extrapolation, construction errors, serialisation."""

import numpy as np
import pandas as pd
import pytest

from apcfair.errors import DataValidationError
from apcfair.offsets import OffsetTable


def test_evaluates_sum_of_lifecycle_and_environment():
    tab = OffsetTable(1, [-6.0, -5.0, -4.0], 100, [0.5, -0.5])
    got = tab(np.array([1, 2, 3]), np.array([100, 101, 100]))
    np.testing.assert_allclose(got, [-5.5, -5.5, -3.5])


def test_holds_first_and_last_values_outside_the_table():
    tab = OffsetTable(2, [1.0, 2.0], 10, [0.0, 10.0])
    np.testing.assert_allclose(tab.lifecycle_at([0, 1, 2, 3, 50]), [1, 1, 1, 2, 2])
    np.testing.assert_allclose(tab.environment_at([5, 10, 11, 99]), [0, 0, 10, 10])
    assert (tab.age_max, tab.period_max) == (3, 11)


def test_zeros_constant_and_shift():
    assert np.all(OffsetTable.zeros()([1, 5, 9], [24000, 1, 30000]) == 0)
    np.testing.assert_allclose(OffsetTable.constant(-2.5)([1, 70], [5, 24000]), -2.5)
    tab = OffsetTable(1, [1.0, 2.0], 0, [0.0])
    np.testing.assert_allclose(tab.shifted(1.0)([1, 2], [0, 0]), [2.0, 3.0])


def test_arrays_are_copied_and_read_only():
    life = np.array([1.0, 2.0])
    tab = OffsetTable(1, life, 0, [0.0])
    life[0] = 99
    assert tab.lifecycle[0] == 1.0
    with pytest.raises(ValueError):
        tab.lifecycle[0] = 5.0


def test_from_series_and_gaps():
    tab = OffsetTable.from_series(pd.Series([0.1, 0.2], index=[1, 2]), {500: 1.0, 501: 2.0})
    assert tab.age_min == 1 and tab.period_min == 500
    np.testing.assert_allclose(tab([2], [501]), [2.2])
    with pytest.raises(DataValidationError, match="missing value"):
        OffsetTable.from_series({1: 0.1, 3: 0.3})


def test_rejects_non_finite_and_bad_shapes():
    with pytest.raises(DataValidationError, match="lifecycle has 1 non-finite"):
        OffsetTable(1, [0.0, np.nan], 0, [0.0])
    with pytest.raises(ValueError, match="1-D"):
        OffsetTable(1, np.zeros((2, 2)), 0, [0.0])
    with pytest.raises(ValueError, match="non-empty"):
        OffsetTable(1, [0.0], 0, [])


def test_dict_roundtrip():
    tab = OffsetTable(1, [-6.0, -5.5], 24_000, [0.1, 0.2, 0.3])
    back = OffsetTable.from_dict(tab.to_dict())
    assert back.equals(tab)
    assert not back.equals(tab.shifted(1e-9))
