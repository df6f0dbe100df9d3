"""apcfair: Bayesian age-period-cohort vintage models, unbiased-by-design credit scoring,
fairness audit and stress testing for credit risk."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("apcfair")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0+unknown"

__all__ = ["Cells", "Lineage", "Portfolio", "__version__", "load_portfolio"]


def __getattr__(name: str):
    # the portfolio names are imported on first use, so that `apcfair --help` (which imports
    # this package) does not pay for pandas and pyarrow
    if name in {"Cells", "Lineage", "Portfolio", "load_portfolio"}:
        from apcfair import portfolio

        return getattr(portfolio, name)
    raise AttributeError(f"module 'apcfair' has no attribute {name!r}")


def __dir__():
    return sorted({*globals(), *__all__})
