"""Option literals checked in one place.

Every string option of the public API is declared here as a ``Literal`` alias and
validated with :func:`check_option`, so the error always names the parameter, the
value given and what is allowed.
"""

from __future__ import annotations

from typing import Literal, get_args

Frequency = Literal["M", "Q"]
OnInvalid = Literal["raise", "exclude"]
InputFormat = Literal["auto", "loans", "panel"]
Likelihood = Literal["binomial", "poisson"]
Engine = Literal["laplace", "nuts", "ml"]
HyperMethod = Literal["grid", "eb", "fixed"]
RWOrder = Literal[1, 2]
TrendAssumption = Literal["no_period_trend", "no_vintage_trend", "fixed_period_slope"]
Polarity = Literal["pd", "approval"]
# how a date column is read (see apcfair.portfolio.periods.DATE_FORMATS); a strftime
# pattern such as "%d.%m.%Y" is accepted too
DateFormat = Literal["auto", "iso", "yyyymm", "yyyymmdd", "quarter", "dd/mm/yyyy", "mm/dd/yyyy",
                     "month-name", "code", "excel", "unix", "unix_ms"]


def check_option(name: str, value, alias) -> None:
    """Raise ``ValueError`` unless ``value`` is one of the values of ``alias``.

    Parameters
    ----------
    name : str
        Parameter name, used in the message.
    value : object
        The value given by the user.
    alias : typing.Literal
        The ``Literal`` alias listing the allowed values.
    """
    allowed = get_args(alias)
    if value not in allowed:
        raise ValueError(
            f"{name}={value!r} is not allowed; choose one of {', '.join(map(repr, allowed))}."
        )
