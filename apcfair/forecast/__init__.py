"""Forecasts and stress tests: macro models of the environment, scenarios, PD paths, backtests."""

from apcfair.forecast.backtest import (
    BacktestResult,
    RollingBacktestResult,
    macro_backtest,
    rolling_backtest,
    truncate_portfolio,
)
from apcfair.forecast.macro import MacroModel, MacroResult
from apcfair.forecast.scenarios import (
    ScenarioProjection,
    random_walk_projection,
    read_macro_history,
    read_scenarios,
)
from apcfair.forecast.stress import StressResult, StressTest

__all__ = [
    "BacktestResult",
    "MacroModel",
    "MacroResult",
    "RollingBacktestResult",
    "ScenarioProjection",
    "StressResult",
    "StressTest",
    "macro_backtest",
    "random_walk_projection",
    "read_macro_history",
    "read_scenarios",
    "rolling_backtest",
    "truncate_portfolio",
]
