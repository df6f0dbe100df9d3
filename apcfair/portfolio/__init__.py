"""Portfolios: the data contract, validation, lineage, cells and vintage curves."""

from apcfair.portfolio.cell_table import CellTable, read_cell_table
from apcfair.portfolio.cells import Cells, aggregate_cells
from apcfair.portfolio.lineage import Lineage
from apcfair.portfolio.periods import format_period, period_to_timestamp, to_period_code
from apcfair.portfolio.portfolio import Portfolio, detect_format, load_portfolio, read_table
from apcfair.portfolio.spells import Spells
from apcfair.portfolio.survival import aalen_johansen, kaplan_meier, kaplan_meier_at
from apcfair.portfolio.vintage import (
    cumulative_default_curves,
    cumulative_incidence_curves,
    monthly_pd_curves,
)

__all__ = [
    "CellTable",
    "Cells",
    "Lineage",
    "Portfolio",
    "Spells",
    "aalen_johansen",
    "aggregate_cells",
    "cumulative_default_curves",
    "cumulative_incidence_curves",
    "detect_format",
    "format_period",
    "kaplan_meier",
    "kaplan_meier_at",
    "load_portfolio",
    "monthly_pd_curves",
    "period_to_timestamp",
    "read_cell_table",
    "read_table",
    "to_period_code",
]
