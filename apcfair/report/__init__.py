"""Self-contained HTML model report assembled from an output folder."""

from apcfair.report.html import write_report

__all__ = ["write_report"]
