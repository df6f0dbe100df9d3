"""Account spells: the one place where an account's ages at risk are derived.

Every stage that needs "which ages was account ``i`` at risk, and did it default at the
last one" (cells, vintage curves, the score models' passes over account-months, forecasts,
Kaplan–Meier) reads it from :class:`Spells`, built once from ``Portfolio.loans``.

Convention: vintage ``v`` is the origination period code; age ``a = t - v``; account ``i``
is at risk at ages ``first_age .. last_age`` (both inclusive) and defaults at ``last_age``
iff ``defaulted``; it leaves by another exit (payoff or closure, a competing risk) at
``last_age`` iff ``exited``; otherwise it is censored there (still open at the end of the
data, or marked ``censored``). ``first_age`` is 1 unless the account entered late (left
truncation).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

#: Values of ``Portfolio.loans["exit"]``: how each account's observation ends.
EXIT_VALUES = ("default", "payoff", "closed", "censored")
#: The exits that compete with default (attrition).
NON_DEFAULT_EXITS = ("payoff", "closed")


def _frozen(values, dtype) -> np.ndarray:
    arr = np.ascontiguousarray(values, dtype=dtype)
    arr.setflags(write=False)
    return arr


@dataclass(frozen=True, eq=False)
class Spells:
    """One at-risk spell per account on the age scale (arrays aligned with ``loans``).

    Parameters
    ----------
    vintage : numpy.ndarray of int64
        Origination period code ``v``.
    first_age : numpy.ndarray of int64
        First age at risk (``first_month - v``; 1 without delayed entry).
    last_age : numpy.ndarray of int64
        Last age observed (``last_month - v``): the age of default, exit or censoring.
    defaulted : numpy.ndarray of bool
        Whether the account defaulted at ``last_age``.
    exited : numpy.ndarray of bool, optional
        Whether the account left by a non-default exit (``exit`` ``"payoff"`` or
        ``"closed"``) at ``last_age``; never together with ``defaulted``. Default: all
        ``False`` (every non-default end is censoring).

    Examples
    --------
    >>> import pandas as pd
    >>> from apcfair.portfolio import Portfolio
    >>> df = pd.DataFrame({"account_id": [1, 2, 3], "origination": ["2019-01", "2019-02", "2019-02"],
    ...                    "last_month": ["2019-04", "2019-03", "2019-04"], "default": [1, 0, 0]})
    >>> s = Portfolio.from_loans(df).spells()
    >>> s.first_age.tolist(), s.last_age.tolist(), s.defaulted.tolist(), s.exited.tolist()
    ([1, 1, 1], [3, 1, 2], [True, False, False], [False, True, False])
    >>> s.n_account_months
    6
    """

    vintage: np.ndarray
    first_age: np.ndarray
    last_age: np.ndarray
    defaulted: np.ndarray
    exited: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.exited is None:
            object.__setattr__(self, "exited", np.zeros(len(self.defaulted), dtype=bool))
        object.__setattr__(self, "vintage", _frozen(self.vintage, np.int64))
        object.__setattr__(self, "first_age", _frozen(self.first_age, np.int64))
        object.__setattr__(self, "last_age", _frozen(self.last_age, np.int64))
        object.__setattr__(self, "defaulted", _frozen(self.defaulted, bool))
        object.__setattr__(self, "exited", _frozen(self.exited, bool))
        n = {len(self.vintage), len(self.first_age), len(self.last_age), len(self.defaulted),
             len(self.exited)}
        if len(n) != 1:
            raise ValueError(f"Spells arrays must have one length; got lengths {sorted(n)}")
        if (self.defaulted & self.exited).any():
            raise ValueError(f"{int((self.defaulted & self.exited).sum())} spells both default and exit "
                             "otherwise at last_age; an account has one exit")

    @classmethod
    def from_loans(cls, loans: pd.DataFrame) -> Spells:
        """Spells from a ``Portfolio.loans``-like table (``vintage``, ``first_month``,
        ``last_month``, ``default`` as period codes / 0-1, optional ``exit``: an account
        exits otherwise where ``exit`` is ``"payoff"`` or ``"closed"``)."""
        v = loans["vintage"].to_numpy(np.int64)
        exited = loans["exit"].isin(NON_DEFAULT_EXITS).to_numpy() if "exit" in loans else None
        return cls(
            vintage=v,
            first_age=loans["first_month"].to_numpy(np.int64) - v,
            last_age=loans["last_month"].to_numpy(np.int64) - v,
            defaulted=loans["default"].to_numpy().astype(bool),
            exited=exited,
        )

    def __len__(self) -> int:
        return len(self.vintage)

    @property
    def entry_age(self) -> np.ndarray:
        """Age just before the first at-risk age (``first_age - 1``): left truncation for
        survival fitters, which count a subject at risk at times ``> entry``."""
        return self.first_age - 1

    @property
    def first_period(self) -> np.ndarray:
        """Period code of the first at-risk month."""
        return self.vintage + self.first_age

    @property
    def last_period(self) -> np.ndarray:
        """Period code of the last observed month."""
        return self.vintage + self.last_age

    @property
    def n_months(self) -> np.ndarray:
        """Account-months at risk per account (0 for an empty spell)."""
        return np.maximum(self.last_age - self.first_age + 1, 0)

    @property
    def n_account_months(self) -> int:
        """Total account-months at risk."""
        return int(self.n_months.sum())

    def take(self, index) -> Spells:
        """The spells of a subset of accounts (boolean mask or integer positions)."""
        return Spells(self.vintage[index], self.first_age[index], self.last_age[index],
                      self.defaulted[index], self.exited[index])
