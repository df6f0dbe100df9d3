"""Predictions shared by the score models: account score plus the fixed offsets."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import expit

from apcfair._base import check_fitted
from apcfair.offsets import OffsetTable
from apcfair.portfolio import Portfolio
from apcfair.scoring._data import (
    account_frame,
    as_source,
    check_offset,
    expand_account_months,
    per_account,
)


class OffsetPredictMixin:
    """``predict_logit``/``predict_pd`` for models with ``predict_account_score``.

    Subclasses set ``_fitted_attribute`` (the attribute that exists once fitted) and
    provide ``offset_``, ``attributes_`` and ``predict_account_score``.
    """

    _fitted_attribute = "coef_"

    def predict_logit(self, data: Portfolio | pd.DataFrame, age=None, period=None, *,
                      account_offset=None, offset: OffsetTable | None = None) -> np.ndarray:
        """Log-odds of default per account-month: ``F(a) + H(t) + r + s``.

        Parameters
        ----------
        data : Portfolio or pandas.DataFrame
            With ``age`` and ``period``: rows aligned with them (attribute columns
            needed). Without: a portfolio (or loan/panel frame) whose account-months
            are enumerated as in :func:`~apcfair.scoring.expand_account_months`.
        age, period : array-like of int, optional
            Age and period code of each row.
        account_offset : array-like of float, optional
            Extra offset: per row with ``age``/``period``, else per account.
        offset : OffsetTable, optional
            Offsets to use instead of :attr:`offset_` (e.g. a scenario for ``H``).

        Returns
        -------
        numpy.ndarray
        """
        check_fitted(self, self._fitted_attribute)
        offset = self.offset_ if offset is None else check_offset(offset)
        if age is None or period is None:
            if age is not None or period is not None:
                raise ValueError("give both age= and period=, or neither.")
            src = as_source(data)
            r = per_account(account_offset, src.n_accounts, "account_offset")
            if src.panel is None:
                rows = expand_account_months(src.loans)
                acct = rows["account"].to_numpy()
                s = self.predict_account_score(src.loans)[acct]
            else:  # panel rows carry their own (possibly time-varying) attributes
                rows = expand_account_months(src.panel.drop(columns="account"),
                                             attributes=self.attributes_)
                acct = rows["account"].to_numpy()
                s = self.predict_account_score(rows)
            return offset(rows["age"].to_numpy(), rows["period"].to_numpy()) + s + r[acct]
        frame = account_frame(as_source(data)) if isinstance(data, Portfolio) else data
        age = np.asarray(age)
        period = np.asarray(period)
        if age.shape != (len(frame),) or period.shape != (len(frame),):
            raise ValueError(f"age and period need one value per data row ({len(frame):,}); "
                             f"got {age.shape} and {period.shape}.")
        r = per_account(account_offset, len(frame), "account_offset")
        return offset(age, period) + self.predict_account_score(frame) + r

    def predict_pd(self, data: Portfolio | pd.DataFrame, age=None, period=None, *,
                   account_offset=None, offset: OffsetTable | None = None) -> np.ndarray:
        """Monthly default probability per account-month; see :meth:`predict_logit`."""
        return expit(self.predict_logit(data, age, period, account_offset=account_offset,
                                        offset=offset))
