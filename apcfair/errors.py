"""Exceptions raised by apcfair."""

from __future__ import annotations


class ApcfairError(Exception):
    """Base class for apcfair's errors."""


class DataValidationError(ApcfairError, ValueError):
    """Input data violate the data contract.

    The message names the column, the number of offending rows, a few examples and
    the fix. ``problems`` holds one message per problem found.
    """

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        if len(self.problems) == 1:
            msg = self.problems[0]
        else:
            msg = f"{len(self.problems)} problems in the input data:\n" + "\n".join(
                f"  - {p}" for p in self.problems
            )
        super().__init__(msg)


class FitError(ApcfairError, RuntimeError):
    """A model fit failed (did not converge, singular, non-finite) on data that passed validation.

    The message says what failed and what to try; the command line exits with code 5.
    """


class NotFittedError(ApcfairError, AttributeError):
    """An estimator was used before ``fit``."""
