"""apcfair: Bayesian age-period-cohort vintage models, unbiased-by-design credit scoring,
fairness audit and stress testing for credit risk."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("apcfair")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0+unknown"

from apcfair.portfolio import Cells, Lineage, Portfolio, load_portfolio

__all__ = ["Cells", "Lineage", "Portfolio", "__version__", "load_portfolio"]
