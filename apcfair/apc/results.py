"""Results of an APC fit: posterior draws of F, G, H with the identification applied."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.special import expit

from apcfair._io import to_jsonable
from apcfair._summary import Summary
from apcfair.apc._design import COMPONENTS, Parametrisation
from apcfair.apc.basis import second_differences, split_linear
from apcfair.apc.identification import (
    HOLD_WINDOW,
    allocate_trend,
    hold_level,
    identification_text,
    invariant_offset_draws,
    period_trend,
)
from apcfair.offsets import OffsetTable
from apcfair.plots import (
    plot_apc_component,
    plot_apc_components,
    plot_fitted_vintage_curves,
    plot_residual_heatmap,
)
from apcfair.portfolio.periods import format_period

_HYPER_NAMES = ("precision_lifecycle", "precision_vintage", "precision_environment", "precision_cell")
#: Values in one block of draws x cells (8 MB of float64) for passes over the draws.
_BLOCK_VALUES = 1_000_000
_LABEL_KIND = {"lifecycle": "age_grid", "vintage": "vintage_grid", "environment": "period_grid",
               "seasonal": "season"}


def _width_text(table: dict) -> str:
    """The grid widths of a cell table in words."""
    per_age = int(table.get("periods_per_age", 1))
    if per_age == 1:
        return f"width {table['width']}"
    return (f"age width {table['width'] * per_age}, period and cohort width {table['width']}: {per_age} periods "
            f"per age group, cohort index {per_age} * (I - i) + j as bamp's")


def build_result(*, par: Parametrisation, z_draws: np.ndarray, hyper_draws: dict, table: pd.DataFrame,
                 likelihood: str, identification: str, period_slope: float, engine: str,
                 credible_level: float, diagnostics: dict, lineage: dict | None, provenance: dict,
                 orders: tuple[int, int, int], cell_rate=None, mode_z=None,
                 label_map: dict | None = None) -> APCResult:
    """Turn engine draws of the latent vector into an :class:`APCResult`."""
    cell_data = par.data
    funcs = par.functions(z_draws)  # environment has no linear part here
    _, slope_lifecycle, _ = split_linear(funcs["lifecycle"])
    _, slope_vintage, _ = split_linear(funcs["vintage"])
    funcs = allocate_trend(funcs, period_trend(identification, period_slope, slope_vintage), cell_data.grid_offset,
                           cell_data.age_step)
    draws = {"intercept": funcs["intercept"], **{c: funcs[c] for c in COMPONENTS}}
    draws["slope_age_plus_period"] = slope_lifecycle  # identified: F slope + H slope
    draws["slope_vintage_plus_period"] = slope_vintage  # identified: G slope + H slope
    for name, values in hyper_draws.items():
        draws[name] = np.asarray(values, dtype=float)
    seasonal = par.seasonal_effects(z_draws)
    if seasonal is not None:
        draws["seasonal"] = seasonal
    labels = {c: cell_data.labels(c) for c in COMPONENTS}
    # fitted cell rates, block by block of cells: a block holds every draw of its cells'
    # linear predictor (never the whole draws x cells matrix; the same values per cell)
    age_pos = table["age"].to_numpy() - cell_data.age_min
    vintage_pos = table["vintage"].to_numpy() - cell_data.vintage_min
    period_pos = table["period"].to_numpy() - cell_data.period_min

    def eta(rows: slice, cols: slice) -> np.ndarray:
        return (draws["intercept"][rows, None] + draws["lifecycle"][rows][:, age_pos[cols]]
                + draws["vintage"][rows][:, vintage_pos[cols]] + draws["environment"][rows][:, period_pos[cols]])

    inverse_link = expit if likelihood == "binomial" else np.exp
    alpha = (1 - credible_level) / 2
    cells = table.copy()
    cells["observed_rate"] = cells["defaults"] / cells["at_risk"]
    n_draws, n_cells = len(draws["intercept"]), len(table)
    # cell bands from (at most) the first 400 draws: the rate is monotone in eta, so its
    # quantiles are the transformed quantiles of eta; 400 draws put the Monte Carlo error
    # of a 95% band end at about 0.1 posterior SD, and sorting all draws for every cell
    # would double the fit time on paper-scale data
    band_rows = slice(0, min(n_draws, 400))
    mean_rate, eta_lower, eta_upper = np.empty(n_cells), np.empty(n_cells), np.empty(n_cells)
    width = max(1, _BLOCK_VALUES // max(n_draws, 1))
    for start in range(0, n_cells, width):
        cols = slice(start, start + width)
        block = eta(slice(None), cols)
        mean_rate[cols] = inverse_link(block).mean(axis=0)
        eta_lower[cols], eta_upper[cols] = np.quantile(block[band_rows], [alpha, 1 - alpha], axis=0)
    cells["fitted_rate"] = mean_rate
    if mode_z is not None:
        # maximum likelihood: the fitted rate is the MLE, not an average over draws
        cells["fitted_rate"] = inverse_link(par.eta(mode_z))
    shift = 0.0
    if cell_rate is not None:
        # account offsets: a cell's rate averages its accounts, p(eta_cell + s_i); posterior
        # mean over (at most) 25 draws, each a pass over the account-months
        account_rate = np.mean([cell_rate(e) for e in eta(slice(0, min(n_draws, 25)), slice(None))], axis=0)
        cells["fitted_rate"] = account_rate
        shift = np.log(account_rate / (1 - account_rate)) - np.log(mean_rate / (1 - mean_rate))
    cells["fitted_lower"] = inverse_link(eta_lower + shift)
    cells["fitted_upper"] = inverse_link(eta_upper + shift)
    identification_info = {
        "assumption": identification,
        "period_slope": float(period_slope) if identification == "fixed_period_slope" else None,
        "text": identification_text(identification, period_slope),
    }
    settings = {"likelihood": likelihood, "rw_orders": list(orders), "engine": engine,
                "credible_level": credible_level, "freq": cell_data.freq, "grid_offset": cell_data.grid_offset,
                "age_step": cell_data.age_step, "seasonal_period": par.seasonal_period}
    if label_map is not None:
        settings["cell_table"] = label_map
    return APCResult(draws=draws, labels=labels, cells=cells, settings=settings,
                     identification=identification_info, diagnostics=diagnostics,
                     lineage=lineage, provenance=provenance)


class _PointwiseMoments:
    """Per-cell log-mean-exp and variance over draws, added block by block of draws.

    The same quantities as ArviZ's WAIC (``logsumexp(ll) - log S`` and the variance with
    ``ddof=0`` over draws), accumulated stably: a running maximum for the log-sum-exp and
    Chan et al.'s pairwise update for the variance. ``total`` sums every value.
    """

    def __init__(self, n_cells: int):
        self.count = 0
        self.total = 0.0
        self.max = np.full(n_cells, -np.inf)
        self.sum_exp = np.zeros(n_cells)
        self.mean = np.zeros(n_cells)
        self.m2 = np.zeros(n_cells)

    def add(self, block: np.ndarray) -> None:
        k = len(block)
        self.total += float(block.sum())
        new_max = np.maximum(self.max, block.max(axis=0))
        with np.errstate(invalid="ignore"):  # -inf - -inf before the first block
            rescale = np.where(np.isfinite(self.max), np.exp(self.max - new_max), 0.0)
        self.sum_exp = self.sum_exp * rescale + np.exp(block - new_max).sum(axis=0)
        self.max = new_max
        block_mean = block.mean(axis=0)
        block_m2 = ((block - block_mean) ** 2).sum(axis=0)
        delta = block_mean - self.mean
        total = self.count + k
        self.m2 = self.m2 + block_m2 + delta ** 2 * (self.count * k / total)
        self.mean = self.mean + delta * (k / total)
        self.count = total

    def log_mean_exp(self) -> np.ndarray:
        return self.max + np.log(self.sum_exp) - np.log(self.count)

    def variance(self) -> np.ndarray:
        return self.m2 / self.count


@dataclass(frozen=True)
class APCResult:
    """Posterior of the lifecycle F(a), vintage G(v) and environment H(t) functions.

    All functions are on the logit scale (log scale for Poisson), mean zero over their
    grids, with the linear trend allocated by ``identification``. ``draws`` holds the
    posterior draws; every summary is computed from them. Build one with
    :meth:`APCModel.fit` or :meth:`load`, not by hand.

    Parameters
    ----------
    draws, labels, cells, settings, identification, diagnostics, lineage, provenance
        As the attributes.

    Attributes
    ----------
    draws : dict of ndarray
        ``intercept`` (S,), ``lifecycle`` (S, n_age), ``vintage`` (S, n_vintage),
        ``environment`` (S, n_period), identified slopes and hyperparameters.
    labels : dict of ndarray
        Integer grid labels: ages, vintage codes, period codes.
    cells : pandas.DataFrame
        Cells with observed and fitted rates (posterior mean and band).
    settings, identification, diagnostics, lineage, provenance : dict
        What was fitted, how, with which assumption and library versions.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> from data_synth import SynthConfig, generate_portfolio
    >>> from apcfair import load_portfolio
    >>> from apcfair.apc import APCModel, APCResult
    >>> synth = generate_portfolio(SynthConfig(n_accounts=2000, seed=0,
    ...                                        start="2015-01", end="2019-12"))
    >>> cells = load_portfolio(synth.loans).cells()
    >>> result = APCModel(n_draws=200, random_state=0).fit(cells).result_
    >>> result.draws["lifecycle"].shape, result.draws["environment"].shape
    ((200, 59), (200, 59))
    >>> result.vintage["index"].iloc[[0, -1]].tolist()
    ['2015-01', '2019-11']
    >>> pd_curve = result.component("lifecycle", scale="pd")  # monthly PD by age
    >>> bool(pd_curve["mean"].between(0, 1).all())
    True
    >>> result.scalars()["parameter"].tolist()  # doctest: +NORMALIZE_WHITESPACE
    ['intercept', 'slope_age_plus_period', 'slope_vintage_plus_period',
     'precision_lifecycle', 'precision_vintage', 'precision_environment']
    >>> print(result.summary().splitlines()[0])
    Bayesian age-period-cohort model
    >>> result.offset_table(max_age=72)  # F(a) + H(t) for the score models
    OffsetTable(ages 1..72, periods 24181..24239)
    >>> path = result.save(pathlib.Path(tempfile.mkdtemp()) / "apc_result.nc")
    >>> APCResult.load(path)
    APCResult(engine='laplace', cells=1770, draws=200, identification='no_period_trend')
    """

    draws: dict
    labels: dict
    cells: pd.DataFrame
    settings: dict
    identification: dict
    diagnostics: dict
    lineage: dict | None = None
    provenance: dict = field(default_factory=dict)

    # -- basic accessors -------------------------------------------------------
    @property
    def freq(self) -> str:
        return self.settings["freq"]

    @property
    def credible_level(self) -> float:
        return float(self.settings["credible_level"])

    @property
    def n_draws(self) -> int:
        return len(self.draws["intercept"])

    def _q(self) -> tuple[float, float]:
        a = (1 - self.credible_level) / 2
        return a, 1 - a

    def format_labels(self, component: str, labels=None) -> list:
        """Human labels: ages as ints, vintages and periods as ``"YYYY-MM"``."""
        labels = self.labels[component] if labels is None else labels
        table = self.settings.get("cell_table")
        if table is not None:
            # cell tables: left ends in the table's own units (cohort: period - age); ages
            # step by the age width, cohorts and periods by the period width
            step = table.get("widths", {}).get(component, table["width"])
            return [int(x) * step + table["origins"][component] for x in labels]
        if component == "lifecycle":
            return [int(x) for x in labels]
        return format_period(labels, self.freq)

    def _summarise(self, draws: np.ndarray, component: str, labels=None) -> pd.DataFrame:
        lo, hi = self._q()
        labels = self.labels[component] if labels is None else labels
        return pd.DataFrame(
            {
                "index": self.format_labels(component, labels),
                "code": np.asarray(labels, dtype=np.int64),
                "mean": draws.mean(axis=0),
                "median": np.median(draws, axis=0),
                "sd": draws.std(axis=0, ddof=1),
                "lower": np.quantile(draws, lo, axis=0),
                "upper": np.quantile(draws, hi, axis=0),
            }
        )

    def component(self, name: str, scale: str = "logit") -> pd.DataFrame:
        """Posterior summary of one function.

        Parameters
        ----------
        name : {"lifecycle", "vintage", "environment"}
        scale : {"logit", "pd"}
            ``"pd"`` shows the monthly PD: ``expit(mu + F(a))`` for the lifecycle and
            ``expit(mu + mean(F) + G(v))`` (resp. H) for vintage and environment.

        Returns
        -------
        pandas.DataFrame
            ``index`` (age or "YYYY-MM"), ``code``, ``mean``, ``median``, ``sd``,
            ``lower``, ``upper``.
        """
        if name not in COMPONENTS:
            raise ValueError(f"component={name!r}; choose one of {COMPONENTS}")
        d = self.draws[name]
        if scale == "pd":
            base = self.draws["intercept"][:, None]
            if name != "lifecycle":
                base = base + self.draws["lifecycle"].mean(axis=1, keepdims=True)
            d = self._inverse_link(base + d)
        elif scale != "logit":
            raise ValueError(f"scale={scale!r}; choose 'logit' or 'pd'")
        return self._summarise(d, name)

    def _inverse_link(self, eta):
        return expit(eta) if self.settings["likelihood"] == "binomial" else np.exp(eta)

    @property
    def lifecycle(self) -> pd.DataFrame:
        """F(a) on the logit scale."""
        return self.component("lifecycle")

    @property
    def vintage(self) -> pd.DataFrame:
        """G(v) on the logit scale."""
        return self.component("vintage")

    @property
    def environment(self) -> pd.DataFrame:
        """H(t) on the logit scale."""
        return self.component("environment")

    def seasonal_effects(self) -> pd.DataFrame | None:
        """Month-of-year (or quarter-of-year) effects in H(t), mean zero; ``None`` if not fitted."""
        if "seasonal" not in self.draws:
            return None
        d = self.draws["seasonal"]
        lo, hi = self._q()
        return pd.DataFrame({"season": np.arange(1, d.shape[1] + 1), "mean": d.mean(axis=0),
                             "sd": d.std(axis=0, ddof=1), "lower": np.quantile(d, lo, axis=0),
                             "upper": np.quantile(d, hi, axis=0)})

    def _seasonal_on(self, periods) -> np.ndarray:
        """Seasonal effect draws at integer period codes, shape (S, len(periods))."""
        d = self.draws["seasonal"]
        return d[:, np.asarray(periods, dtype=np.int64) % d.shape[1]]

    def second_differences(self, name: str) -> pd.DataFrame:
        """Posterior of the second differences of a function: identified under any trend choice."""
        d = second_differences(self.draws[name])
        return self._summarise(d, name, self.labels[name][1:-1])

    def nonlinear(self, name: str) -> pd.DataFrame:
        """Posterior of the part of a function orthogonal to constants and linear trends."""
        _, _, rest = split_linear(self.draws[name])
        return self._summarise(rest, name)

    def scalars(self) -> pd.DataFrame:
        """Intercept, identified slopes and hyperparameters: mean, sd and band."""
        lo, hi = self._q()
        rows = []
        for k in ("intercept", "slope_age_plus_period", "slope_vintage_plus_period", *_HYPER_NAMES):
            if k in self.draws:
                x = np.asarray(self.draws[k], dtype=float)
                rows.append({"parameter": k, "mean": x.mean(), "sd": x.std(ddof=1) if len(x) > 1 else 0.0,
                             "lower": np.quantile(x, lo), "upper": np.quantile(x, hi)})
        return pd.DataFrame(rows)

    # -- text ---------------------------------------------------------------------
    def summary(self) -> Summary:
        """Summary of the fit: data, engine, identification, scalars, function ranges.

        Returns
        -------
        apcfair._summary.Summary
            Text (a ``str``) that renders as HTML in a notebook.
        """
        diag = self.diagnostics
        cells = self.cells
        vintages = self.format_labels("vintage")
        periods = self.format_labels("environment")
        epi = "cell_table" in self.settings
        words = ("events", "exposure", "cohorts") if epi else ("defaults", "at risk", "vintages")
        ages = self.format_labels("lifecycle")
        header = "\n".join([
            "Bayesian age-period-cohort model" if self.settings["engine"] != "ml"
            else "Age-period-cohort model (maximum likelihood)",
            "=" * 72,
            f"Likelihood: {self.settings['likelihood']} ({diag.get('likelihood_reason', 'set by the user')})",
            f"Random-walk orders (F, G, H): {self.settings['rw_orders']} (on the nonlinear parts: the linear "
            "trend is unpenalised, also for RW1" + (
                "; unlike bamp's RW1, whose precision also has to absorb the trend, an RW1 precision here "
                "measures only the wiggle around the trend, so it is larger than bamp's for a function "
                "with a trend)" if 1 in self.settings["rw_orders"] else ")"),
            f"Engine: {self.settings['engine']}   draws: {self.n_draws}   "
            f"fit time: {diag.get('fit_seconds', float('nan'))} s",
            f"Cells: {len(cells):,}   {words[0]}: {cells['defaults'].sum():,.0f}   "
            f"{words[1]}: {cells['at_risk'].sum():,.0f}",
            f"Ages {ages[0]}-{ages[-1]}, {words[2]} "
            f"{vintages[0]} to {vintages[-1]}, periods {periods[0]} to {periods[-1]}"
            + (f" (left ends, {_width_text(self.settings['cell_table'])})" if epi else ""),
        ])
        lines = []
        for name in COMPONENTS:
            comp = self.component(name)
            i_max = int(comp["mean"].idxmax())
            i_min = int(comp["mean"].idxmin())
            lines.append(
                f"{name:12s} range {comp['mean'].min():+.3f} ({comp['index'][i_min]}) to "
                f"{comp['mean'].max():+.3f} ({comp['index'][i_max]}); mean band width "
                f"{(comp['upper'] - comp['lower']).mean():.3f}"
            )
        for key in ("deviance", "df_residual", "deviance_at_mode", "max_rhat", "min_ess_bulk", "divergences"):
            if key in diag:
                lines.append(f"{key}: {diag[key]}")
        if "unequal_widths" in diag:
            uw = diag["unequal_widths"]
            lines.append(f"Unequal widths: {uw['periods_per_age_group']} periods per age group, {uw['n_cohorts']} "
                         f"cohorts (index {uw['cohort_index']}); {uw['note']}")
        lines += [f"WARNING: {w}" for w in diag.get("warnings", [])]
        blocks = [header, "Identification: " + self.identification["text"], self.scalars(), "\n".join(lines)]
        if "deviance_table" in diag:
            blocks += ["Submodel deviances (against the saturated model; Clayton & Schifflers 1987)",
                       pd.DataFrame(diag["lr_tests"])[["model", "against", "lr_statistic", "df", "p_value"]]
                       .merge(self.deviance_table()[["model", "deviance"]].rename(columns={"deviance": "deviance"}),
                              on="model")]
        return Summary.from_blocks("", blocks)

    def __repr__(self) -> str:
        return (f"APCResult(engine={self.settings['engine']!r}, cells={len(self.cells)}, "
                f"draws={self.n_draws}, identification={self.identification['assumption']!r})")

    # -- fit statistics -----------------------------------------------------------------
    def _cell_positions(self) -> dict[str, np.ndarray]:
        cells = self.cells
        return {c: cells[col].to_numpy(np.int64) - self.labels[c][0]
                for c, col in (("lifecycle", "age"), ("vintage", "vintage"), ("environment", "period"))}

    def eta_draws(self, start: int = 0, stop: int | None = None) -> np.ndarray:
        """Draws ``start:stop`` of each cell's linear predictor ``mu + F + G + H``, shape (S, cells).

        The default is every draw; a slice keeps the matrix to a block of draws.
        """
        pos = self._cell_positions()
        rows = slice(start, stop)
        return (self.draws["intercept"][rows, None] + self.draws["lifecycle"][rows][:, pos["lifecycle"]]
                + self.draws["vintage"][rows][:, pos["vintage"]]
                + self.draws["environment"][rows][:, pos["environment"]])

    def _draw_blocks(self):
        """``(start, stop)`` blocks of draws whose draws x cells matrices stay near 8 MB."""
        size = max(1, min(self.n_draws, _BLOCK_VALUES // max(len(self.cells), 1)))
        return [(i, min(i + size, self.n_draws)) for i in range(0, self.n_draws, size)]

    def pointwise_loglik(self) -> np.ndarray:
        """Full log-likelihood of each cell for each draw, shape (S, cells).

        Filled block by block of draws: the result is the only draws x cells matrix held.
        """
        from apcfair.apc._design import pointwise_loglik

        cells = self.cells
        d, n = cells["defaults"].to_numpy(float), cells["at_risk"].to_numpy(float)
        out = np.empty((self.n_draws, len(cells)))
        for start, stop in self._draw_blocks():
            out[start:stop] = pointwise_loglik(d, n, self.eta_draws(start, stop), self.settings["likelihood"])
        return out

    def model_comparison(self, *, pointwise: np.ndarray | None = None) -> dict | None:
        """DIC, pD (as bamp defines them) and WAIC (as ArviZ computes it) of a Bayesian fit; ``None`` for ML.

        ``deviance_at_mean`` is the deviance (against the saturated model) at the posterior
        mean of the linear predictor, ``pd = mean deviance - deviance_at_mean`` (Spiegelhalter
        et al. 2002), ``dic = deviance_at_mean + 2 pd``; ``waic`` is on the deviance scale
        (``-2 elpd_waic``) from the pointwise log-likelihood, ``p_waic`` the sum over cells of
        its posterior variance (ArviZ's ``az.waic(..., scale="deviance")``). Cell-level random
        effects (overdispersion) are not in the draws, so with ``overdispersion`` these
        measure the fit of ``mu + F + G + H`` alone.

        One pass over blocks of draws (never a draws x cells matrix unless ``pointwise`` is
        given); the values are kept on the result, so later calls (``apc.json``, the demo's
        ``results.json``) do not repeat the pass.

        Parameters
        ----------
        pointwise : ndarray, optional
            :meth:`pointwise_loglik` when the caller holds it already (the same values).
        """
        if self.settings["engine"] == "ml" or self.diagnostics.get("account_offsets"):
            return None
        cached = self.__dict__.get("_model_comparison")
        if cached is None:
            cached = self._model_comparison(pointwise)
            object.__setattr__(self, "_model_comparison", cached)  # frozen: a cache, not a field
        return dict(cached)

    def _model_comparison(self, pointwise: np.ndarray | None) -> dict:
        from apcfair.apc._design import deviance, pointwise_loglik, saturated_loglik

        cells = self.cells
        d, n = cells["defaults"].to_numpy(float), cells["at_risk"].to_numpy(float)
        lik = self.settings["likelihood"]
        moments = _PointwiseMoments(len(cells))
        eta_sum = np.zeros(len(cells))
        for start, stop in self._draw_blocks():
            eta = self.eta_draws(start, stop)
            eta_sum += eta.sum(axis=0)
            moments.add(pointwise[start:stop] if pointwise is not None else pointwise_loglik(d, n, eta, lik))
        d_mean = deviance(d, n, eta_sum / self.n_draws, lik)
        # the deviance averaged over draws: 2 (saturated - fitted) log-likelihood, summed over cells
        d_bar = 2 * (float(np.sum(saturated_loglik(d, n, lik))) - moments.total / self.n_draws)
        lppd, var = moments.log_mean_exp(), moments.variance()
        p_d = d_bar - d_mean
        return {"deviance_at_mean": d_mean, "mean_deviance": d_bar, "pd": p_d, "dic": d_mean + 2 * p_d,
                "waic": float(np.sum(-2 * (lppd - var))), "p_waic": float(np.sum(var)),
                "definitions": "deviance against the saturated model; pd = mean deviance - deviance at the "
                               "posterior mean (bamp); dic = deviance_at_mean + 2 pd; waic = -2 elpd_waic "
                               "(ArviZ, pointwise cell log-likelihood)"}

    def deviance_table(self) -> pd.DataFrame | None:
        """Submodel deviance table (APC, AP, AC, PC, Ad, A) of an ML fit; ``None`` otherwise."""
        rows = self.diagnostics.get("deviance_table")
        return None if rows is None else pd.DataFrame(rows)

    def drift(self, weighting: str = "equal") -> dict:
        """Net drift: the linear trend of period plus that of cohort, per unit of the table.

        The sum of the period and cohort slopes is identified (the same under any
        identification). Slopes are weighted least squares over each grid with weights
        ``"equal"`` (Holford's naive average), ``"events"`` or ``"exposure"`` (each level's
        total), as ``Epi::apc.fit``'s ``dr.extr``.

        Returns
        -------
        dict
            ``mean``, ``sd``, ``lower``, ``upper`` of the drift per table unit (log scale per
            year for a table in years), ``weighting`` and ``unit``.
        """
        if weighting not in ("equal", "events", "exposure"):
            raise ValueError(f"weighting={weighting!r}; choose 'equal', 'events' or 'exposure'")
        pos = self._cell_positions()
        col = {"events": "defaults", "exposure": "at_risk"}.get(weighting)
        total = 0.0
        for c in ("vintage", "environment"):
            n = self.draws[c].shape[1]
            w = (np.ones(n) if col is None else
                 np.bincount(pos[c], self.cells[col].to_numpy(float), minlength=n))
            x = np.arange(n, dtype=float)
            xc = x - np.average(x, weights=w)
            total = total + (self.draws[c] * (w * xc)).sum(axis=1) / np.sum(w * xc * xc)
        width = (self.settings.get("cell_table") or {}).get("width", 1)
        total = total / width
        lo, hi = self._q()
        unit = "table unit" if "cell_table" in self.settings else "period"
        return {"mean": float(total.mean()), "sd": float(total.std(ddof=1)) if len(total) > 1 else 0.0,
                "lower": float(np.quantile(total, lo)), "upper": float(np.quantile(total, hi)),
                "weighting": weighting, "unit": f"log rate (logit for binomial) per {unit}"}

    def to_inference_data(self, *, pointwise: np.ndarray | None = None):
        """The posterior as an ``arviz.InferenceData``.

        Groups: ``posterior`` (``mu``, ``F`` over ``age``, ``G`` over ``vintage`` (``cohort``
        for cell tables), ``H`` over ``period``, slopes and precisions), ``log_likelihood``
        (``y``: each cell's full log-likelihood), ``observed_data`` (``y``: events) and
        ``constant_data`` (exposure and the cell's age, cohort/vintage and period). NUTS draws
        keep their chains; Laplace and ML draws form one chain. ``pointwise``:
        :meth:`pointwise_loglik` when the caller holds it already.
        """
        import arviz as az

        chains = int(self.diagnostics.get("chains", 1)) if self.settings["engine"] == "nuts" else 1
        if self.n_draws % chains:
            chains = 1
        vintage_dim = "cohort" if "cell_table" in self.settings else "vintage"
        dims = {"lifecycle": "age", "vintage": vintage_dim, "environment": "period"}
        names = {"intercept": "mu", "lifecycle": "F", "vintage": "G", "environment": "H"}

        def shaped(x):
            x = np.asarray(x, dtype=float)
            return x.reshape(chains, -1, *x.shape[1:])

        posterior, post_dims = {}, {}
        for k, v in self.draws.items():
            if k == "seasonal":
                continue
            name = names.get(k, k)
            posterior[name] = shaped(v)
            if k in dims:
                post_dims[name] = [dims[k]]
        coords = {dims[c]: np.asarray(self.format_labels(c)) for c in COMPONENTS}
        cells = self.cells
        coords["cell"] = np.arange(len(cells))
        const = {"exposure": cells["at_risk"].to_numpy(float)}
        for c in COMPONENTS:
            const[f"cell_{dims[c]}"] = np.asarray(self.format_labels(c, cells[
                {"lifecycle": "age", "vintage": "vintage", "environment": "period"}[c]].to_numpy()))
        return az.from_dict(
            posterior=posterior,
            log_likelihood={"y": shaped(self.pointwise_loglik() if pointwise is None else pointwise)},
            observed_data={"y": cells["defaults"].to_numpy(float)}, constant_data=const,
            coords=coords, dims={**post_dims, "y": ["cell"], **{k: ["cell"] for k in const}},
            attrs={"engine": self.settings["engine"], "likelihood": self.settings["likelihood"],
                   "identification": self.identification["text"]})

    # -- JSON -----------------------------------------------------------------------
    def to_json_dict(self, *, fit_statistics: bool = True) -> dict:
        """The ``apc.json`` layout: components as records on the logit scale and metadata.

        ``fit_statistics=False`` leaves out ``deviance_table``, ``lr_tests``,
        ``model_comparison`` and ``drift`` (a pass over the draws x cells) for callers that
        keep only the functions (the attrition block).
        """
        out = {}
        for c in COMPONENTS:
            comp = self.component(c)
            out[c] = [
                {"index": i, "mean": float(m), "lower": float(lo), "upper": float(hi)}
                for i, m, lo, hi in zip(comp["index"], comp["mean"], comp["lower"], comp["upper"], strict=True)
            ]
        sc = self.scalars().set_index("parameter")
        out["intercept"] = {k: float(sc.loc["intercept", k]) for k in ("mean", "sd", "lower", "upper")}
        out["identification"] = self.identification["text"]
        out["identification_assumption"] = self.identification["assumption"]
        out["identified_slopes"] = {
            k: {kk: float(sc.loc[k, kk]) for kk in ("mean", "sd", "lower", "upper")}
            for k in ("slope_age_plus_period", "slope_vintage_plus_period")
        }
        out["hyperparameters"] = {
            k: {kk: float(sc.loc[k, kk]) for kk in ("mean", "sd", "lower", "upper")}
            for k in _HYPER_NAMES if k in sc.index
        }
        seas = self.seasonal_effects()
        if seas is not None:
            out["seasonal"] = [{"index": int(r.season), "mean": float(r.mean), "lower": float(r.lower),
                                "upper": float(r.upper)} for r in seas.itertuples()]
        if fit_statistics:
            out.update(self._fit_statistics_json())
        out["likelihood"] = {"used": self.settings["likelihood"],
                             "why": self.diagnostics.get("likelihood_reason", "set by the user")}
        out["settings"] = self.settings
        out["diagnostics"] = to_jsonable(self.diagnostics)
        out["lineage"] = self.lineage
        out["provenance"] = self.provenance
        out["credible_level"] = self.credible_level
        return out

    def _fit_statistics_json(self) -> dict:
        out = {}
        if "deviance_table" in self.diagnostics:
            out["deviance_table"] = [{"model": r["model"], "deviance": r["deviance"], "df": r["df"],
                                      "description": r["description"]} for r in self.diagnostics["deviance_table"]]
            out["lr_tests"] = self.diagnostics["lr_tests"]
        comparison = self.model_comparison()
        if comparison is not None:
            out["model_comparison"] = comparison
        out["drift"] = {w: self.drift(w) for w in ("equal", "events", "exposure")}
        return out

    # -- save / load (netCDF, no pickle) -----------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Write the draws, cells and metadata to one netCDF file (no pickle)."""
        import xarray as xr

        path = Path(path)
        dv = {}
        for k, v in self.draws.items():
            v = np.asarray(v, dtype=float)
            if v.ndim == 1:
                dv[k] = (("draw",), v)
            else:
                dim = _LABEL_KIND[k]
                dv[k] = (("draw", dim), v)
        coords = {_LABEL_KIND[c]: self.labels[c] for c in COMPONENTS}
        if "seasonal" in self.draws:
            coords["season"] = np.arange(1, self.draws["seasonal"].shape[1] + 1)
        for col in self.cells.columns:
            dv[f"cells_{col}"] = (("cell",), self.cells[col].to_numpy())
        meta = {"settings": self.settings, "identification": self.identification,
                "diagnostics": to_jsonable(self.diagnostics), "lineage": self.lineage,
                "provenance": self.provenance, "format": "apcfair.APCResult/1"}
        # netCDF4 (HDF5); the metadata is a string variable (HDF5 attributes are limited to 64 kB)
        dv["apcfair_meta"] = ((), json.dumps(meta))
        ds = xr.Dataset(dv, coords=coords, attrs={"format": "apcfair.APCResult/2"})
        ds.to_netcdf(path, engine="h5netcdf", format="NETCDF4")
        return path

    @classmethod
    def load(cls, path: str | Path) -> APCResult:
        """Read a result written by :meth:`save`."""
        import xarray as xr

        with open(path, "rb") as fh:
            netcdf3 = fh.read(3) == b"CDF"  # files written before netCDF4 (format 1)
        with xr.open_dataset(path, engine="scipy" if netcdf3 else "h5netcdf") as ds:
            ds = ds.load()
        meta = json.loads(ds.attrs["apcfair_meta"] if "apcfair_meta" in ds.attrs else str(ds["apcfair_meta"].item()))
        draws = {k: ds[k].to_numpy() for k in ds.data_vars if not k.startswith("cells_") and k != "apcfair_meta"}
        cells = pd.DataFrame({k[6:]: ds[k].to_numpy() for k in ds.data_vars if k.startswith("cells_")})
        for c in ("vintage", "age", "period", "defaults", "at_risk"):
            if c in cells and np.allclose(cells[c], np.round(cells[c])):
                cells[c] = cells[c].astype(np.int64)
        labels = {c: ds[_LABEL_KIND[c]].to_numpy().astype(np.int64) for c in COMPONENTS}
        return cls(draws=draws, labels=labels, cells=cells, settings=meta["settings"],
                   identification=meta["identification"], diagnostics=meta["diagnostics"],
                   lineage=meta["lineage"], provenance=meta["provenance"])

    # -- extrapolation -------------------------------------------------------------------
    def extrapolate(self, name: str, steps: int, *, random_state: int | None = None,
                    include_noise: bool = True) -> np.ndarray:
        """Continue a function beyond its last grid point by its random walk.

        Each draw continues with its own precision: an RW2 extends the local trend of its
        last two points, an RW1 holds its last level; with ``include_noise`` the
        random-walk innovations widen the bands with the horizon (BAMP-style).

        Returns
        -------
        ndarray, shape (S, steps)
        """
        rng = np.random.default_rng(random_state)
        smooth, seasonal_future = self._smooth_and_future_seasonal(name, steps)
        order = self.settings["rw_orders"][COMPONENTS.index(name)]
        n_draws = smooth.shape[0]
        tau = np.asarray(self.draws.get(f"precision_{name}", np.full(n_draws, np.inf)), dtype=float)
        sd = np.where(np.isfinite(tau), 1 / np.sqrt(tau), 0.0) if include_noise else np.zeros(n_draws)
        out = np.empty((n_draws, steps))
        last, before_last = smooth[:, -1].copy(), smooth[:, -2].copy()
        for k in range(steps):
            innovation = sd * rng.standard_normal(n_draws)
            nxt = (2 * last - before_last if order == 2 else last) + innovation
            out[:, k] = nxt
            before_last, last = last, nxt
        return out if seasonal_future is None else out + seasonal_future

    def _smooth_and_future_seasonal(self, name: str, steps: int):
        """Split H into its smooth part and the seasonal part continued ``steps`` periods.

        Inside the grid H holds the seasonal pattern with its least-squares line over the
        grid removed (H stays trend-free); the same line, extended, is removed from the
        future seasonal values, so the seasonal contribution is continuous at the origin.
        """
        d = self.draws[name]
        if name != "environment" or "seasonal" not in self.draws:
            return d, None
        grid = self.labels["environment"]
        raw = self._seasonal_on(grid)
        mean, slope, on_grid = split_linear(raw)
        centre = (len(grid) - 1) / 2
        pos = np.arange(len(grid), len(grid) + steps) - centre
        future = self._seasonal_on(np.arange(grid[-1] + 1, grid[-1] + 1 + steps))
        future = future - mean[:, None] - slope[:, None] * pos
        return d - on_grid, future

    def component_draws(self, name: str, labels, *, random_state: int | None = None,
                        include_noise: bool = True) -> np.ndarray:
        """Draws of a function at arbitrary integer labels, extrapolating beyond the grid.

        Labels below the grid hold the first value (ages before the first observed age,
        vintages before the first). Returns an array of shape (S, len(labels)).
        """
        labels = np.asarray(labels, dtype=np.int64)
        grid = self.labels[name]
        d = self.draws[name]
        n_after = int(max(labels.max() - grid[-1], 0)) if len(labels) else 0
        full = d if n_after == 0 else np.hstack(
            [d, self.extrapolate(name, n_after, random_state=random_state, include_noise=include_noise)])
        pos = np.clip(labels - grid[0], 0, full.shape[1] - 1)
        return full[:, pos]

    def offset_table(self, *, include_intercept: bool = True, max_age: int | None = None,
                     last_period: int | None = None) -> OffsetTable:
        """Posterior-mean offsets ``[mu +] F(a) + H(t)`` for the score models.

        The offsets are identification-invariant: G's linear trend is moved into F + H
        (see :meth:`invariant_offset_draws`), so score models and forecasts do not depend
        on the linear-trend assumption. Beyond the data window (``last_period``) the
        environment's smooth part is held at its mean over the last 12 periods with the
        trend moved from G taken out, and that trend continues (so known vintages keep it);
        the month-of-year pattern continues too. Beyond the last age the lifecycle holds the
        mean of its last 12 values. Both use the one hold rule,
        :func:`apcfair.apc.identification.hold_level`. For random-walk continuation with
        widening bands use :meth:`extrapolate`.

        Parameters
        ----------
        include_intercept : bool
            Add ``mu`` to the lifecycle column.
        max_age : int, optional
            Last age needed (default: the last fitted age).
        last_period : int, optional
            Last period code needed (default: the end of the fit window).

        Returns
        -------
        apcfair.offsets.OffsetTable
        """
        ages = self.labels["lifecycle"]
        periods = self.labels["environment"]
        max_age = int(max_age or ages[-1])
        last_period = int(last_period or periods[-1])
        n_age_after = max(max_age - int(ages[-1]), 0)
        n_per_after = max(last_period - int(periods[-1]), 0)
        moved = self.invariant_offset_draws()
        lifecycle = moved["lifecycle"].mean(axis=0)
        environment = moved["environment"].mean(axis=0)
        window = min(HOLD_WINDOW, len(environment))
        if n_age_after:
            # beyond the last age the lifecycle holds the mean of its last values (flat)
            after = np.arange(ages[-1] + 1, ages[-1] + 1 + n_age_after)
            lifecycle = np.concatenate([lifecycle, hold_level(lifecycle, ages, after, window=window)])
        if n_per_after:
            smooth, seas_future = self._smooth_and_future_seasonal("environment", n_per_after)
            # the environment's smooth part (plus the trend moved from G) holds its detrended
            # level over the last 12 periods and continues the moved trend
            shift = (moved["environment"] - self.draws["environment"]).mean(axis=0)  # the re-allocated trend
            after = np.arange(periods[-1] + 1, periods[-1] + 1 + n_per_after)
            future = hold_level(smooth.mean(axis=0) + shift, periods, after,
                                trend=float(np.mean(moved["trend_per_period"])), window=window)
            if seas_future is not None:
                future = future + seas_future.mean(axis=0)
            environment = np.concatenate([environment, future])
        if include_intercept:
            lifecycle = lifecycle + float(np.mean(moved["intercept"]))
        return OffsetTable(age_min=int(ages[0]), lifecycle=lifecycle, period_min=int(periods[0]),
                           environment=environment)

    def invariant_offset_draws(self) -> dict:
        """Draws of ``mu``, F and H with G's linear trend moved into F + H.

        See :func:`apcfair.apc.identification.invariant_offset_draws` (this method delegates
        to it): ``mu + F(a) + H(t)`` is then the part of the linear predictor that does not
        depend on the identification assumption, and ``trend_per_period`` is the slope that H
        carries after the move (used to continue H beyond the window).
        """
        return invariant_offset_draws(self)

    def predict_cells(self, table: pd.DataFrame, *, random_state: int | None = None) -> np.ndarray:
        """Draws of the rate of arbitrary (age, vintage, period) cells, shape (S, cells)."""
        # independent random-walk innovations for each function
        seeds = np.random.SeedSequence(random_state).spawn(3)
        F = self.component_draws("lifecycle", table["age"].to_numpy(), random_state=np.random.default_rng(seeds[0]))
        G = self.component_draws("vintage", table["vintage"].to_numpy(), random_state=np.random.default_rng(seeds[1]))
        H = self.component_draws("environment", table["period"].to_numpy(), random_state=np.random.default_rng(seeds[2]))
        return self._inverse_link(self.draws["intercept"][:, None] + F + G + H)

    def score_cells(self, table: pd.DataFrame, *, random_state: int | None = 0) -> pd.DataFrame:
        """Project held-out cells and compare with what happened, by period."""
        rate = self.predict_cells(table, random_state=random_state)
        at_risk = table["at_risk"].to_numpy(float)
        defaults = table["defaults"].to_numpy()
        expected_defaults = rate * at_risk
        periods = table["period"].to_numpy()
        lo, hi = self._q()
        rows = []
        rng = np.random.default_rng(random_state)
        for period in np.unique(periods):
            in_period = periods == period
            n_at_risk = at_risk[in_period].sum()
            n_defaults = defaults[in_period].sum()
            exp_def = expected_defaults[:, in_period].sum(axis=1)
            # predictive draws include binomial noise
            sim = rng.binomial(int(n_at_risk), np.clip(exp_def / n_at_risk, 0, 1)) / n_at_risk
            rows.append({"period": self.format_labels("environment", [period])[0], "at_risk": int(n_at_risk),
                         "defaults": int(n_defaults), "observed_rate": n_defaults / n_at_risk,
                         "predicted_rate": float(exp_def.mean() / n_at_risk),
                         "predicted_defaults": float(exp_def.mean()),
                         "lower": float(np.quantile(sim, lo)), "upper": float(np.quantile(sim, hi))})
        out = pd.DataFrame(rows)
        covered = (out["observed_rate"] >= out["lower"]) & (out["observed_rate"] <= out["upper"])
        out.attrs["scores"] = {
            "mae_rate": float(np.mean(np.abs(out["observed_rate"] - out["predicted_rate"]))),
            "mean_abs_pct_error": float(np.mean(np.abs(out["observed_rate"] / out["predicted_rate"] - 1))),
            "coverage": float(covered.mean()),
            "periods": len(out),
        }
        return out

    # -- plots ---------------------------------------------------------------------------
    def plot_components(self, ax=None, scale: str = "logit", *, axes=None):
        """Three panels (lifecycle, vintage, environment) with credible bands.

        ``ax`` (or ``axes``, its older name): three matplotlib Axes, or ``None`` for a new
        figure. Returns the three Axes.
        """
        return plot_apc_components(self, axes=ax if ax is not None else axes, scale=scale)

    def plot_component(self, name: str, ax=None, scale: str = "logit"):
        """One function with its band; returns the Axes."""
        return plot_apc_component(self, name, ax=ax, scale=scale)

    def plot_fitted_vintage_curves(self, ax=None, n_vintages: int = 6):
        """Observed vs fitted monthly default rate by age for a few vintages; returns the Axes."""
        return plot_fitted_vintage_curves(self, ax=ax, n_vintages=n_vintages)

    def plot_residual_heatmap(self, ax=None):
        """Pearson residuals over age x vintage; returns the Axes."""
        return plot_residual_heatmap(self, ax=ax)


def check_window(apc_result: APCResult, freq: str, data_end: int) -> int:
    """Check that an APC result reused on a portfolio covers that portfolio's window.

    A reused fit must have the portfolio's frequency and end in the portfolio's last period:
    a fit on data that ended earlier would extrapolate the environment over months the data
    have already observed, silently.

    Parameters
    ----------
    apc_result : APCResult
    freq : str
        The portfolio's frequency (``"M"`` or ``"Q"``).
    data_end : int
        The portfolio's last period code.

    Returns
    -------
    int
        The last period of the APC window.

    Raises
    ------
    ValueError
        Naming both ends and the fix.
    """
    if freq != apc_result.freq:
        raise ValueError(f"the portfolio has frequency {freq!r} but the APC result {apc_result.freq!r}")
    t_end = int(apc_result.labels["environment"][-1])
    if int(data_end) != t_end:
        raise ValueError(
            f"the APC result ends in {format_period([t_end], freq)[0]} but the portfolio's data end in "
            f"{format_period([int(data_end)], freq)[0]}: fit the APC model on this portfolio")
    return t_end

