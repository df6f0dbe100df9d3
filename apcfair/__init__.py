"""apcfair: Bayesian age-period-cohort vintage models, unbiased-by-design credit scoring,
fairness audit and stress testing for credit risk."""

__all__ = ["Cells", "Lineage", "Portfolio", "__version__", "load_portfolio"]


def __getattr__(name: str):
    # imported on first use, so that `import apcfair` and `apcfair --help` stay light: the
    # portfolio names need pandas and pyarrow, the version needs importlib.metadata (~0.1-0.3 s)
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            value = version("apcfair")
        except PackageNotFoundError:  # pragma: no cover - running from a source tree
            value = "0.0.0+unknown"
        globals()["__version__"] = value
        return value
    if name in {"Cells", "Lineage", "Portfolio", "load_portfolio"}:
        from apcfair import portfolio

        return getattr(portfolio, name)
    raise AttributeError(f"module 'apcfair' has no attribute {name!r}")


def __dir__():
    return sorted({*globals(), *__all__})
