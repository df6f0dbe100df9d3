"""The output writers: one function per stage result, every file named from :mod:`apcfair.layout`.

The command line (:mod:`apcfair.cli`) and ``apcfair demo`` write results only through
these functions, and the HTML report (:func:`apcfair.report.write_report`) reads the same
names back, so each file is named in one place. A writer takes a result object and a
folder (usually the temporary folder of :func:`apcfair._io.atomic_output_dir`) and returns
the paths it wrote. The file names are product contracts: see :mod:`apcfair.layout`.

Examples
--------
>>> import tempfile
>>> from pathlib import Path
>>> from data_synth import SynthConfig, generate_portfolio
>>> from apcfair import load_portfolio
>>> portfolio = load_portfolio(generate_portfolio(SynthConfig(n_accounts=300, seed=1)).loans)
>>> folder = Path(tempfile.mkdtemp())
>>> paths = write_vintage_outputs(portfolio, folder)
>>> sorted(p.name for p in paths)
['cells.csv', 'lineage.json', 'vintage_cumulative_default.png', 'vintage_cumulative_incidence.png', 'vintage_curves.csv', 'vintage_monthly_pd.png']
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from apcfair import layout
from apcfair._io import write_json
from apcfair.plots import (
    plot_cumulative_default_curves,
    plot_cumulative_incidence_curves,
    plot_monthly_pd_curves,
)
from apcfair.portfolio import (
    cumulative_default_curves,
    cumulative_incidence_curves,
    monthly_pd_curves,
)

if TYPE_CHECKING:
    from apcfair.apc import APCResult
    from apcfair.audit import AuditResult
    from apcfair.forecast import MacroResult, ScenarioProjection, StressResult
    from apcfair.portfolio import Cells, Portfolio
    from apcfair.unbiased import UnbiasedResult

#: Resolution of every PNG the commands write.
DPI = 110


#: Every file :func:`write_audit_outputs` can write (its default).
AUDIT_FILES = (layout.AUDIT_JSON, layout.AUDIT_HTML, layout.AUDIT_FAIRNESS_PLOT, layout.AUDIT_GAPS_PLOT)
#: Every file :func:`write_stress_outputs` can write (its default; the macro-fit plot only
#: with a macro result).
STRESS_FILES = (layout.STRESS_JSON, layout.STRESS_MONTHS, layout.ACCOUNT_CUMULATIVE_PD, layout.FAN_CHART_PLOT,
                layout.FAN_CHART_BY_SCENARIO_PLOT, layout.ENVIRONMENT_SCENARIOS_PLOT, layout.MACRO_MODEL_TXT,
                layout.MACRO_MODEL_FIT_PLOT)

#: ``macro_model.txt`` when the environment is continued by the random walk.
_RANDOM_WALK_NOTE = ("No macro data given (--macro/--scenarios): the environment H(t) is continued by the APC "
                     "engine's random walk (scenario 'random_walk').\n")


def save_figure(plot, path: str | Path, *, dpi: int = DPI) -> Path:
    """Save the figure holding ``plot`` to ``path`` and close it.

    Parameters
    ----------
    plot : matplotlib Figure, Axes or array of Axes
        What a ``plot_*`` method returned.
    path : path
        The PNG file.
    dpi : int
        Resolution.

    Returns
    -------
    Path
        ``path``.
    """
    import matplotlib.pyplot as plt  # heavy: only when a figure is written
    import numpy as np

    if hasattr(plot, "savefig"):
        fig = plot
    elif hasattr(plot, "figure"):
        fig = plot.figure
    else:
        fig = np.ravel(plot)[0].figure
    fig.savefig(path, dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    return Path(path)


def _check_files(files: Collection[str], allowed: Collection[str], writer: str) -> None:
    unknown = sorted(set(files) - set(allowed))
    if unknown:
        raise ValueError(f"{writer}: files={unknown} are not among its outputs; allowed: {', '.join(allowed)}")


def write_vintage_outputs(portfolio: Portfolio, folder: str | Path, cells: Cells | None = None) -> list[Path]:
    """``cells.csv``, ``lineage.json``, ``vintage_curves.csv`` and the three vintage-curve plots of ``portfolio``.

    ``vintage_curves.csv`` (:func:`~apcfair.portfolio.cumulative_incidence_curves`) holds,
    per vintage year and age, the cumulative incidence of default with payoff competing
    (``cif_default``, Aalen–Johansen) and of payoff/closure (``cif_attrition``), each with
    bands, beside ``km_cum_default`` = 1 - Kaplan–Meier with payoff censored;
    ``vintage_cumulative_incidence.png`` plots them.

    Parameters
    ----------
    portfolio : Portfolio
        The validated portfolio.
    folder : path
        Output folder.
    cells : Cells, optional
        ``portfolio.cells()`` when already aggregated.

    Returns
    -------
    list of Path
        The files written.
    """
    folder = Path(folder)
    cells = portfolio.cells() if cells is None else cells
    cells.to_csv(folder / layout.CELLS)
    written = [folder / layout.CELLS, write_json(folder / layout.LINEAGE, {
        **cells.lineage.to_dict(), "portfolio": portfolio.describe(), "cells": cells.n_cells})]
    written.append(save_figure(plot_monthly_pd_curves(monthly_pd_curves(cells)),
                               folder / layout.VINTAGE_MONTHLY_PD_PLOT))
    written.append(save_figure(plot_cumulative_default_curves(cumulative_default_curves(portfolio)),
                               folder / layout.VINTAGE_CUMULATIVE_PLOT))
    incidence = cumulative_incidence_curves(portfolio)
    incidence.to_csv(folder / layout.VINTAGE_CURVES, index=False)
    written.append(folder / layout.VINTAGE_CURVES)
    written.append(save_figure(plot_cumulative_incidence_curves(incidence), folder / layout.VINTAGE_INCIDENCE_PLOT))
    return written


def write_apc_outputs(result: APCResult, folder: str | Path, *, attrition: APCResult | None = None,
                      attrition_note: str | None = None) -> list[Path]:
    """``apc.json``, ``apc_result.nc``, ``apc_idata.nc``, ``apc_summary.txt`` and three PNG plots.

    ``apc_result.nc`` and ``apc_idata.nc`` are netCDF4; ``apc_idata.nc`` is the posterior as
    ArviZ InferenceData (``az.from_netcdf`` reads it).

    With an ``attrition`` fit (:func:`apcfair.apc.attrition.fit_attrition`), ``apc.json``
    gains the ``attrition`` block (:func:`apcfair.apc.attrition.attrition_json`; the
    default model's keys unchanged), ``apc_attrition_result.nc`` holds that fit and its
    summary follows the default model's in ``apc_summary.txt``. ``attrition_note`` (why
    there is no attrition model, e.g. no payoffs in the data) is written as
    ``"attrition": null`` with ``attrition_note``.

    Returns
    -------
    list of Path
        The files written.
    """
    folder = Path(folder)
    # the draws x cells log-likelihood once: model comparison (WAIC) and the idata's log_likelihood
    pointwise = result.pointwise_loglik()
    result.model_comparison(pointwise=pointwise)  # kept on the result: to_json_dict reuses it
    content = result.to_json_dict()
    if attrition is not None:
        from apcfair.apc.attrition import attrition_json

        content["attrition"] = attrition_json(attrition)
    elif attrition_note is not None:
        content["attrition"], content["attrition_note"] = None, attrition_note
    written = [write_json(folder / layout.APC_JSON, content)]
    result.save(folder / layout.APC_RESULT)
    written.append(folder / layout.APC_RESULT)
    if attrition is not None:
        written.append(attrition.save(folder / layout.APC_ATTRITION_RESULT))
    # uncompressed: zlib took 90% of the write for 5% smaller files (draws do not compress)
    result.to_inference_data(pointwise=pointwise).to_netcdf(str(folder / layout.APC_IDATA), engine="h5netcdf",
                                                            compress=False)
    del pointwise
    written.append(folder / layout.APC_IDATA)
    summary = result.summary() + "\n"
    if attrition is not None:
        summary += ("\nAttrition model: exits other than default (payoff, closure); 'defaults' below count those "
                    "exits\n" + attrition.summary() + "\n")
        summary += "".join(f"Note: {note}\n" for note in attrition.diagnostics.get("notes", []))
    elif attrition_note is not None:
        summary += f"\nAttrition model: {attrition_note}\n"
    (folder / layout.APC_SUMMARY).write_text(summary)
    written.append(folder / layout.APC_SUMMARY)
    for name, plot in ((layout.APC_COMPONENTS_PLOT, result.plot_components),
                       (layout.APC_FITTED_CURVES_PLOT, result.plot_fitted_vintage_curves),
                       (layout.APC_RESIDUALS_PLOT, result.plot_residual_heatmap)):
        written.append(save_figure(plot(), folder / name))
    return written


def write_unbiased_outputs(result: UnbiasedResult, folder: str | Path) -> list[Path]:
    """``comparison.json``, ``cost_of_fairness.json``, forecasts, account scores, coefficient
    tables, ``dependence.csv``, ``unbiased_summary.txt``, three PNG plots and the fitted
    models (``unbiased_result.json``: bins, coefficients or trees, offsets, settings; JSON,
    never pickle; what ``apcfair score --model`` reads).

    ``account_scores.parquet`` holds the logit scores relative to the APC offset, one column
    per model (e.g. for ``apcfair stress --scores``). ``forecasts.parquet`` carries each
    column's definition in its Parquet metadata.

    Returns
    -------
    list of Path
        The files written.
    """
    from apcfair.unbiased.result import write_forecasts

    folder = Path(folder)
    written = [
        write_json(folder / layout.COMPARISON, result.comparison_records()),
        write_json(folder / layout.COST_OF_FAIRNESS, {
            "cost_of_fairness": result.cost_of_fairness, "costs": result.costs,
            "calibrating_constant": result.calibrating_constant,
            "restricted_centre": result.restricted_centre, "settings": result.settings,
            "timings": result.timings, "lineage": result.lineage, "provenance": result.provenance,
            "apc_identification": result.apc_result.identification["text"]}),
        write_forecasts(result.forecast_table, folder / layout.FORECASTS),  # model by model
        write_json(folder / layout.UNBIASED_RESULT_JSON, result.to_model_json_dict()),
    ]
    result.account_scores.to_parquet(folder / layout.ACCOUNT_SCORES, index=False)
    written.append(folder / layout.ACCOUNT_SCORES)
    csvs = [(layout.COEFFICIENTS.format(name=name), table) for name, table in result.coefficient_tables.items()]
    for name, table in [*csvs, (layout.DEPENDENCE_CSV, result.dependence_table)]:
        table.to_csv(folder / name, index=False)
        written.append(folder / name)
    (folder / layout.UNBIASED_SUMMARY).write_text(result.summary() + "\n")
    written.append(folder / layout.UNBIASED_SUMMARY)
    for name, plot in ((layout.ROC_PLOT, result.plot_roc), (layout.DEPENDENCE_PLOT, result.plot_dependence),
                       (layout.CALIBRATION_PLOT, result.plot_calibration)):
        written.append(save_figure(plot(), folder / name))
    return written


def write_proxy_outputs(data, restricted, credit, folder: str | Path, **kwargs) -> list[Path]:
    """``proxy_correlations.csv``: the proxy diagnostic (paper's Table 1) of ``data``.

    Pearson correlation of each restricted input with each credit input, its interval and
    p-value, one row per pair (:func:`apcfair.unbiased.proxy.proxy_correlations`, whose
    keyword arguments ``kwargs`` are passed on; columns defined in its ``DEFINITIONS``).

    Returns
    -------
    list of Path
        The file written.
    """
    from apcfair.unbiased.proxy import proxy_correlations

    path = Path(folder) / layout.PROXY_CORRELATIONS
    proxy_correlations(data, restricted, credit, **kwargs).to_csv(path, index=False)
    return [path]


def write_audit_outputs(result: AuditResult, folder: str | Path, *, files: Collection[str] = AUDIT_FILES,
                        title: str | None = None, extra: Mapping[str, Any] | None = None,
                        dpi: int = DPI) -> list[Path]:
    """``audit.json``, ``audit.html`` and the two audit plots (those named in ``files``).

    Parameters
    ----------
    result : AuditResult
        The audit.
    folder : path
        Output folder.
    files : collection of str
        Which of :data:`AUDIT_FILES` to write (default all). A plot that cannot be drawn
        for this audit is left out.
    title : str, optional
        Title of ``audit.html`` (default: the result's own).
    extra : mapping, optional
        Keys added to ``audit.json`` (e.g. the command's input).
    dpi : int
        Resolution of the plots.

    Returns
    -------
    list of Path
        The files written.
    """
    _check_files(files, AUDIT_FILES, "write_audit_outputs")
    folder = Path(folder)
    written = []
    if layout.AUDIT_JSON in files:
        written.append(write_json(folder / layout.AUDIT_JSON, {**result.to_json_dict(), **(extra or {})}))
    if layout.AUDIT_HTML in files:
        html = result.to_html() if title is None else result.to_html(title=title)
        (folder / layout.AUDIT_HTML).write_text(html, encoding="utf-8")
        written.append(folder / layout.AUDIT_HTML)
    for name, plot in ((layout.AUDIT_FAIRNESS_PLOT, result.plot_fairness),
                       (layout.AUDIT_GAPS_PLOT, result.plot_gaps)):
        if name in files:
            try:
                figure = plot()
            except Exception:  # noqa: BLE001 - an extra plot must never sink the run
                continue
            written.append(save_figure(figure, folder / name, dpi=dpi))
    return written


def write_stress_outputs(result: StressResult, folder: str | Path, *, projection: ScenarioProjection,
                         macro: MacroResult | None = None, files: Collection[str] = STRESS_FILES,
                         extra: Mapping[str, Any] | None = None, dpi: int = DPI) -> list[Path]:
    """``stress.json``, the monthly table, account cumulative PDs, fan charts, the
    environment scenarios and the macro model (those named in ``files``).

    Parameters
    ----------
    result : StressResult
        The stress test.
    folder : path
        Output folder.
    projection : ScenarioProjection
        The environment paths the stress test used (``environment_scenarios.png``).
    macro : MacroResult, optional
        The fitted macro model of the environment; without it ``macro_model.txt`` says that
        the environment was continued by its random walk.
    files : collection of str
        Which of :data:`STRESS_FILES` to write (default all).
    extra : mapping, optional
        Keys added to ``stress.json`` (e.g. where the account scores came from).
    dpi : int
        Resolution of the plots.

    Returns
    -------
    list of Path
        The files written.
    """
    _check_files(files, STRESS_FILES, "write_stress_outputs")
    folder = Path(folder)
    written = []

    def want(name: str) -> bool:
        return name in files

    if want(layout.STRESS_JSON):
        written.append(write_json(folder / layout.STRESS_JSON, {**result.to_json_dict(), **(extra or {})}))
    if want(layout.STRESS_MONTHS):
        result.table().to_csv(folder / layout.STRESS_MONTHS, index=False)
        written.append(folder / layout.STRESS_MONTHS)
    if want(layout.ACCOUNT_CUMULATIVE_PD):
        result.account_pd.to_parquet(folder / layout.ACCOUNT_CUMULATIVE_PD, index=False)
        written.append(folder / layout.ACCOUNT_CUMULATIVE_PD)
    plots = [(layout.FAN_CHART_PLOT, result.plot_fan_chart),
             (layout.FAN_CHART_BY_SCENARIO_PLOT, result.plot_fan_charts),
             (layout.ENVIRONMENT_SCENARIOS_PLOT, projection.plot)]
    if macro is not None:
        plots.append((layout.MACRO_MODEL_FIT_PLOT, macro.plot_fit))
    for name, plot in plots:
        if want(name):
            written.append(save_figure(plot(), folder / name, dpi=dpi))
    if want(layout.MACRO_MODEL_TXT):
        text = (macro.summary() if macro is not None
                else _RANDOM_WALK_NOTE + projection.notes.get("method", ""))
        (folder / layout.MACRO_MODEL_TXT).write_text(text + "\n")
        written.append(folder / layout.MACRO_MODEL_TXT)
    return written


def write_results(results: Mapping[str, Any], folder: str | Path) -> Path:
    """``results.json``: the headline numbers of a whole run (``apcfair demo``)."""
    return write_json(Path(folder) / layout.RESULTS_JSON, results)
