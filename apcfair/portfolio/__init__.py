"""Portfolios: the data contract, validation, lineage, cells and vintage curves."""

from apcfair.portfolio._time import format_period, period_to_timestamp, to_period_code
from apcfair.portfolio.cells import Cells, aggregate_cells
from apcfair.portfolio.lineage import Lineage
from apcfair.portfolio.portfolio import Portfolio, detect_format, load_portfolio, read_table
from apcfair.portfolio.vintage import cumulative_default_curves, monthly_pd_curves

__all__ = [
    "Cells",
    "Lineage",
    "Portfolio",
    "aggregate_cells",
    "cumulative_default_curves",
    "detect_format",
    "format_period",
    "load_portfolio",
    "monthly_pd_curves",
    "period_to_timestamp",
    "read_table",
    "to_period_code",
]
