"""The result of the unbiased-by-design procedure: tables, summary, plots, save and load."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from apcfair import layout
from apcfair._base import FORMAT_VERSION, jsonable, load_json, save_json
from apcfair._summary import Summary
from apcfair.apc import APCResult
from apcfair.offsets import OffsetTable
from apcfair.scoring import OffsetGBM, OffsetLogit
from apcfair.unbiased.plots import plot_calibration_by_year, plot_dependence_bars, plot_roc_curves

#: The result's own JSON file in a :meth:`UnbiasedResult.save` folder (next to
#: ``forecasts.parquet``, ``account_scores.parquet`` and ``apc_result.nc``).
RESULT_JSON = layout.UNBIASED_RESULT_JSON

class ForecastTable:
    """The long forecasts table (one row per model and account), held as per-account arrays.

    :attr:`UnbiasedResult.forecasts` is this table as a DataFrame, built on each access
    (:meth:`to_frame`); the arrays behind it are the procedure's own per-model forecasts, so
    the result does not hold the long frame (about 0.6 KiB per account with the demo's eight
    models and two protected attributes, 1 KiB by ``memory_usage(deep=True)``), and
    ``forecasts.parquet`` is written one model at a time (:meth:`blocks`). A table read from
    a file (:meth:`from_frame`) holds that DataFrame and returns it as it is.

    Parameters
    ----------
    account_id : numpy.ndarray
        Account ids (rows of ``portfolio.loans``).
    in_sample : numpy.ndarray of bool
        Estimation accounts (``sample`` "in"; the others "out").
    models : list of str
        The forecast models in row order (the ``model`` column's categories).
    per_model : dict of str to dict
        ``{column: {model: per-account values}}`` for the columns that differ by model,
        e.g. ``cum_pd``.
    per_account : dict of str to numpy.ndarray
        The columns with one value per account, repeated for every model
        (``defaulted_within_horizon``, ``complete_horizon``, the protected attributes).
    columns : list of str
        The column order of the frame (``account_id``, ``sample`` and ``model`` first).

    Examples
    --------
    >>> import numpy as np
    >>> t = ForecastTable(np.array([7, 8]), np.array([True, False]), ["credit", "restricted"],
    ...                   {"cum_pd": {"credit": np.array([.1, .2]), "restricted": np.array([.3, .4])}},
    ...                   {"defaulted_within_horizon": np.array([0, 1])},
    ...                   ["account_id", "sample", "model", "cum_pd", "defaulted_within_horizon"])
    >>> t.to_frame()
       account_id sample       model  cum_pd  defaulted_within_horizon
    0           7     in      credit     0.1                         0
    1           8    out      credit     0.2                         1
    2           7     in  restricted     0.3                         0
    3           8    out  restricted     0.4                         1
    >>> t.column("cum_pd", "restricted")  # one model, rows of the accounts
    array([0.3, 0.4])
    >>> [len(b) for b in t.blocks()]  # one block per model (the Parquet file's row groups)
    [2, 2]
    """

    def __init__(self, account_id, in_sample, models, per_model: dict, per_account: dict, columns: list[str],
                 frame: pd.DataFrame | None = None):
        self.account_id = None if account_id is None else np.asarray(account_id)
        self.in_sample = None if in_sample is None else np.asarray(in_sample, dtype=bool)
        self.models = list(models)
        self.per_model = per_model
        self.per_account = per_account
        self.columns = list(columns)
        self._frame = frame

    @classmethod
    def from_forecasts(cls, forecasts, account_id, in_sample, attributes: pd.DataFrame | None = None) -> ForecastTable:
        """The table of a procedure's :class:`~apcfair.unbiased.stages.Forecasts`.

        :meth:`to_frame` gives one row per account and model, model after model (the frame the
        result held before issue 19, tested equal); the arrays are referenced, not copied.
        """
        per_model = {"cum_pd": forecasts.full, "cum_pd_observed_window": forecasts.window}
        if forecasts.exposure:
            per_model["cum_pd_exposure"] = forecasts.exposure
        if forecasts.unconditional:
            per_model["cum_pd_unconditional"] = forecasts.unconditional
            per_model["cum_pd_unconditional_observed_window"] = forecasts.unconditional_window
        per_account = {"defaulted_within_horizon": forecasts.observed["defaulted"].to_numpy(),
                       "complete_horizon": forecasts.observed["complete"].to_numpy(bool)}
        columns = ["account_id", "sample", "model", "cum_pd", "cum_pd_observed_window", "defaulted_within_horizon",
                   *[c for c in per_model if c not in ("cum_pd", "cum_pd_observed_window")], "complete_horizon"]
        for col in [] if attributes is None else attributes.columns:
            if col not in columns:
                columns.append(col)
                per_account[col] = attributes[col].to_numpy()
        return cls(account_id, in_sample, forecasts.models, per_model, per_account, columns)

    @classmethod
    def from_frame(cls, frame: pd.DataFrame) -> ForecastTable:
        """A table held as a DataFrame (e.g. read from ``forecasts.parquet``)."""
        models = list(pd.unique(frame["model"])) if "model" in frame else []
        return cls(None, None, models, {}, {}, list(frame.columns), frame=frame)

    def __len__(self) -> int:
        if self._frame is not None:
            return len(self._frame)
        return len(self.models) * len(self.account_id)

    def _block(self, ks: list[int]) -> pd.DataFrame:
        """The rows of the models at positions ``ks`` (model-major, accounts in order)."""
        n, reps = len(self.account_id), len(ks)
        data = {}
        for col in self.columns:
            if col == "account_id":
                data[col] = np.tile(self.account_id, reps)
            elif col == "sample":
                data[col] = pd.Categorical.from_codes(np.tile((~self.in_sample).astype(np.int8), reps),
                                                      categories=["in", "out"])
            elif col == "model":
                data[col] = pd.Categorical.from_codes(np.repeat(np.asarray(ks, dtype=np.int8), n),
                                                      categories=self.models)
            elif col in self.per_model:
                data[col] = np.concatenate([self.per_model[col][self.models[k]] for k in ks])
            else:
                data[col] = np.tile(self.per_account[col], reps)
            if isinstance(data[col], np.ndarray) and data[col].dtype == object:  # text: the source's dtype,
                data[col] = pd.Series(data[col], dtype=object, copy=False)      # no type inference pass
        # every array above is new: no copy into consolidated blocks, no temporaries (peak = the frame)
        return pd.DataFrame(data, copy=False)

    def to_frame(self) -> pd.DataFrame:
        """The long table: one row per model and account, model after model.

        Columns as :data:`~apcfair.unbiased.stages.FORECAST_COLUMNS` define them (``sample``
        and ``model`` categorical: group by them with ``observed=True``). Built on each call
        from the arrays (a table read from a file: that frame, as it is).
        """
        if self._frame is not None:
            return self._frame
        return self._block(list(range(len(self.models))))

    def blocks(self) -> Iterator[pd.DataFrame]:
        """The table one model at a time (the rows of :meth:`to_frame` in order)."""
        if self._frame is not None:
            yield self._frame
            return
        for k in range(len(self.models)):
            yield self._block([k])

    def column(self, name: str, model: str | None = None) -> np.ndarray:
        """One column's values per account (rows of the portfolio's loans) for one ``model``.

        Columns that are the same for every model (``defaulted_within_horizon``,
        ``complete_horizon``, ``sample``, the protected attributes) need no ``model``.
        """
        if name not in self.columns:
            raise KeyError(f"no column {name!r} in the forecasts; columns: {self.columns}")
        if self._frame is not None:
            f = self._frame
            model = self.models[0] if model is None else model
            return f.loc[(f["model"] == model).to_numpy(), name].to_numpy()
        if name in self.per_model:
            if model is None:
                raise ValueError(f"{name!r} differs by model: give one of {self.models}")
            return self.per_model[name][model]
        if name == "account_id":
            return self.account_id
        if name == "sample":
            return np.where(self.in_sample, "in", "out").astype(object)
        if name == "model":
            return np.full(len(self.account_id), model, dtype=object)
        return self.per_account[name]


@dataclass(frozen=True)
class UnbiasedResult:
    """Everything the procedure produced: the paper's Tables 6–7 and more.

    Parameters
    ----------
    rows, dependence_table, cost_of_fairness, forecast_table, account_scores, coefficient_tables, models, apc_result, restricted_centre, calibrating_constant, settings, timings, lineage, provenance, costs, offsets, attrition_result
        As the attributes; produced by :meth:`UnbiasedByDesign.fit`.

    Attributes
    ----------
    rows : list of dict
        One row per model and sample: ``model``, ``sample`` ("in"/"out"), ``auc``,
        ``gini``, DeLong band, calibration, ``dependence`` per restricted attribute and
        ``auc_difference_vs_credit``.
    dependence_table : pandas.DataFrame
        Tidy dependence: ``model, sample, attribute, corr, dcor, auc_group, air``.
    cost_of_fairness : dict
        DeLong test of AUC(credit) − AUC(credit_restricted_zero) per sample.
    forecast_table : ForecastTable
        The forecasts as per-account arrays (what the result holds); :attr:`forecasts` is
        its DataFrame.
    forecasts : pandas.DataFrame
        Built on each access from :attr:`forecast_table` (keep it in a variable rather than
        reading it repeatedly; ``forecast_table.column(name, model)`` gives one model's
        values without building it). Per account and model: ``cum_pd`` over the horizon (net of attrition), and over
        the observed window; with an attrition model ``cum_pd_unconditional`` (default
        before any other exit). Column definitions:
        :data:`~apcfair.unbiased.stages.FORECAST_COLUMNS`.
    account_scores : pandas.DataFrame
        Per account (rows of ``portfolio.loans``): each model's logit score relative to
        the APC offset (e.g. for stress tests, ``credit_restricted_mean``).
    coefficient_tables : dict of pandas.DataFrame
        Tables 2–4 style coefficient tables.
    models : dict
        The fitted score models: ``restricted``, ``credit``,
        ``credit_with_restricted_offset`` (:class:`~apcfair.scoring.OffsetLogit`) and
        ``gbm`` (:class:`~apcfair.scoring.OffsetGBM` or ``None``).
    apc_result : APCResult
        The APC fit whose ``F(a) + H(t)`` was the offset.
    restricted_centre, calibrating_constant : float
        Mean restricted score over the estimation accounts (subtracted) and the
        constant ``k`` of ``credit_restricted_mean``.
    settings, timings, lineage, provenance : dict
        Procedure settings (with ``design``: split, horizon in months and periods, vintage
        dummies, how the APC fit was made), seconds per stage, data lineage and library
        versions.
    costs : dict
        ``traditional_vs_zero`` (cost against today's model), ``offset_vs_zero`` (what the
        restricted term carried) and ``gbm_traditional_vs_zero`` (same-technique cost of the
        boosted trees): AUC(a) - AUC(b) with a paired DeLong interval, ``in`` and ``out``.
    offsets : OffsetTable
        The offsets ``mu + F(a) + H(t) + b (t - a)`` (G's linear trend ``b`` included) the
        score models were fitted and forecast with.
    attrition_result : APCResult or None
        The attrition APC fit (exits other than default) behind ``cum_pd_unconditional``;
        ``None`` without one (``settings["design"]["attrition"]`` says why).

    Examples
    --------
    >>> import tempfile
    >>> from data_synth import SynthConfig, generate_portfolio
    >>> from apcfair import load_portfolio
    >>> from apcfair.unbiased import UnbiasedByDesign, UnbiasedResult
    >>> portfolio = load_portfolio(generate_portfolio(SynthConfig(n_accounts=3000, seed=0)).loans)
    >>> result = UnbiasedByDesign(restricted=["minority", "sex"],
    ...                           credit=["bureau_score", "total_deposits"],
    ...                           gbm=False).fit(portfolio).result_
    >>> result.forecasts.shape  # 3000 accounts x 5 models
    (15000, 12)
    >>> list(result.forecasts.columns)  # doctest: +NORMALIZE_WHITESPACE
    ['account_id', 'sample', 'model', 'cum_pd', 'cum_pd_observed_window',
     'defaulted_within_horizon', 'cum_pd_exposure', 'cum_pd_unconditional',
     'cum_pd_unconditional_observed_window', 'complete_horizon', 'minority', 'sex']
    >>> f = result.forecasts
    >>> bool((f["cum_pd_unconditional"] <= f["cum_pd"]).all())  # payoff competes: never above net
    True
    >>> sorted(result.coefficient_tables)
    ['credit', 'credit_with_restricted_offset', 'restricted']
    >>> result.coefficient_tables["restricted"]["term"].tolist()[:3]  # then vintage-year dummies
    ['(Intercept)', 'minority (0, Inf]', 'sex M']
    >>> len(result.comparison_records())  # one per model and sample
    10
    >>> print(result.summary().splitlines()[0])
    Unbiased by design (Breeden & Leonova 2021)

    Saved as JSON and Parquet (the APC fit as netCDF), never pickle:

    >>> folder = result.save(tempfile.mkdtemp())
    >>> back = UnbiasedResult.load(folder)
    >>> back.comparison.equals(result.comparison), back.calibrating_constant == result.calibrating_constant
    (True, True)
    """

    rows: list
    dependence_table: pd.DataFrame
    cost_of_fairness: dict
    forecast_table: ForecastTable
    account_scores: pd.DataFrame
    coefficient_tables: dict
    models: dict
    apc_result: object
    restricted_centre: float
    calibrating_constant: float
    settings: dict
    timings: dict
    lineage: dict | None = None
    provenance: dict = field(default_factory=dict)
    costs: dict = field(default_factory=dict)
    offsets: object = None
    attrition_result: object = None

    # ------------------------------------------------------------------ tables
    @property
    def forecasts(self) -> pd.DataFrame:
        """The long forecasts table, one row per model and account (built on each access:
        :meth:`ForecastTable.to_frame`)."""
        return self.forecast_table.to_frame()

    @property
    def comparison(self) -> pd.DataFrame:
        """AUC and Gini by model and sample (the paper's Tables 6–7 side by side)."""
        df = pd.DataFrame([{k: r[k] for k in ("model", "label", "sample", "auc", "gini", "auc_lower", "auc_upper")}
                           for r in self.rows])
        wide = df.pivot_table(index=["model", "label"], columns="sample", values=["auc", "gini"], sort=False)
        wide.columns = [f"{a}_{s}" for a, s in wide.columns]
        return wide.reset_index()

    def comparison_records(self) -> list[dict]:
        """The ``comparison.json`` layout: one record per model and sample."""
        return self.rows

    # ------------------------------------------------------------------ summary
    def summary(self) -> Summary:
        """The tables, the costs of fairness, dependence and calibration (text, and HTML in a notebook)."""
        s = self.settings
        d = s.get("design", {})
        hz = d.get("horizon", {"months": s["horizon"], "periods": s["horizon"], "period": "month"})
        split = d.get("split", "random")
        split_text = (f"random, {1 - s['test_size']:.0%} of accounts in-sample (stable hash of account id, "
                      f"seed {s['random_state']})" if split == "random" else
                      f"out of time: estimation on vintages before {d.get('holdout_from')}, held out "
                      f"{d.get('test_share', 0):.0%} of accounts; environment over the held-out months "
                      f"{d.get('environment_beyond_training', '')}")
        setup = (f"restricted inputs: {s['restricted']}\ncredit inputs: {s['credit']}\n"
                 f"horizon: {hz['months']} months = {hz['periods']} {hz['period']}s\nsplit: {split_text}\n"
                 f"vintage dummies: {d.get('vintage_dummies', 'year')}; backfit rounds: {s.get('backfit', 0)}; "
                 f"APC: {d.get('apc', 'fitted on the estimation accounts only')}"
                 + (f" (source: {d['apc_source']})" if d.get("apc_source") else "") + "\n"
                 "offset: mu + F(a) + H(t) + G's linear trend (invariant to the APC identification)")
        blocks: list = [setup, ("AUC and Gini by model and sample (Tables 6-7)", self.comparison)]
        wording = {"traditional_vs_zero": "Cost against today's model (traditional -> restricted term zeroed)",
                   "offset_vs_zero": "What the restricted term carried (with restricted offset -> zeroed)",
                   "gbm_traditional_vs_zero": "Same-technique cost, boosted trees (traditional GBM -> zeroed)"}
        lines = []
        for key, c in self.costs.items():
            for sample in ("in", "out"):
                r = c[sample]
                lines.append(f"{wording.get(key, key)}, {'in-sample' if sample == 'in' else 'out of sample'}: AUC {r['auc_a']:.4f} -> {r['auc_b']:.4f}, "
                             f"difference {r['difference']:+.4f} (95% CI {r['lower']:+.4f} to {r['upper']:+.4f}, "
                             f"DeLong p = {r['p_value']:.3g})")
        if not lines:  # a result from before the two costs
            lines = [f"Cost of zeroing the restricted term ({sample}-sample): AUC {c['auc_a']:.4f} -> "
                     f"{c['auc_b']:.4f}, difference {c['difference']:+.4f} (95% CI {c['lower']:+.4f} to "
                     f"{c['upper']:+.4f}, DeLong p = {c['p_value']:.3g})"
                     for sample, c in self.cost_of_fairness.items()]
        blocks.append("\n".join(lines))
        blocks.append(self._definitions_text())
        blocks.append(self._dependence_text())
        dep = self.dependence_table
        if len(dep):
            blocks.append(("Dependence of forecasts on restricted attributes (out of sample; corr is signed)",
                           dep[dep["sample"] == "out"].drop(columns="sample")))
        cal = self.calibration_by_group
        if len(cal):
            blocks.append(("Expected / actual defaults within the horizon by protected group (out of sample, "
                           "95% exact Poisson interval)", cal[cal["sample"] == "out"].drop(columns="sample")))
        binning = self._binning_text()
        if binning:
            blocks.append(binning)
        blocks.append(f"Timings (s): {self.timings}")
        return Summary.from_blocks("Unbiased by design (Breeden & Leonova 2021)", blocks, float_format=".4f")

    def _definitions_text(self) -> str:
        """Which cumulative PD each figure is, and expected / actual on both definitions (out of sample)."""
        att = self.settings.get("design", {}).get("attrition") or {}
        lines = ["Cumulative PD definitions: cum_pd is NET of attrition (1 - prod(1 - PD): as if no account paid "
                 "off; compared with 1 - Kaplan-Meier, payoff censored); cum_pd_unconditional is the probability "
                 "of default BEFORE any other exit (payoff, closure), with the attrition APC model; "
                 "defaulted_within_horizon counts defaults before payoff, so its calibration uses the "
                 "unconditional forecast."]
        if att:
            lines.append(f"Attrition model: {att.get('fitted', '')}" + (f"; {att['note']}" if att.get("note") else ""))
        for r in self.rows:
            cu = r.get("calibration_unconditional")
            if r["sample"] != "out" or not cu:
                continue
            ratio = cu["expected_over_actual"]
            net = cu["net_expected_over_actual"]
            aj = cu["aj_cum_default_horizon"]
            lines.append(f"{r['model']} (out of sample): expected / actual defaults within the horizon "
                         f"{'n/a' if ratio is None else f'{ratio:.3f}'} unconditional (matching definition), "
                         f"{'n/a' if net is None else f'{net:.3f}'} net; mean cumulative PD "
                         f"{cu['mean_cum_pd_unconditional_horizon']:.2%} unconditional vs "
                         f"{'n/a' if aj is None else f'{aj:.2%}'} Aalen-Johansen, "
                         f"{cu['mean_cum_pd_horizon']:.2%} net")
        return "\n".join(lines)

    def _binning_text(self) -> str:
        """Merged sparse levels and near-aliased levels of the logit models' inputs (empty when none)."""
        merged, aliased = {}, {}
        for name, m in self.models.items():
            binner = getattr(m, "binner_", None)
            if binner is None:
                continue
            for r in binner.merges_.itertuples():
                merged.setdefault(f"{r.attribute}: {r.merged_from} -> {r.level}", []).append(name)
            for a in getattr(binner, "aliases_", []):
                aliased.setdefault(a["text"], []).append(name)
        lines = [f"Merged sparse levels (one coefficient each): {k} [{', '.join(v)}]" for k, v in merged.items()]
        lines += [f"NEAR-ALIASED levels (coefficients not separately identified): {k} [{', '.join(v)}]"
                  for k, v in aliased.items()]
        return "\n".join(lines)

    def _dependence_text(self) -> str:
        """One line per attribute: change in signed correlation, zeroed vs traditional (out of sample)."""
        lines = []
        for r in self.rows:
            if r["model"] != "credit_restricted_zero" or r["sample"] != "out":
                continue
            for attr, dd in r["dependence"].items():
                ch = dd.get("change_vs_credit")
                if ch is None:
                    continue
                verdict = ("significant" if ch["significant"] else
                           "NOT significant: the interval includes 0, zeroing did not measurably reduce it")
                lines.append(f"Dependence on {attr}, zeroed vs traditional (out of sample): corr "
                             f"{ch['corr_baseline']:+.4f} -> {ch['corr']:+.4f}, change {ch['difference']:+.4f} "
                             f"(95% bootstrap CI {ch['lower']:+.4f} to {ch['upper']:+.4f}; {verdict})")
        return "\n".join(lines) or "Dependence change: not computed"

    @property
    def calibration_by_group(self) -> pd.DataFrame:
        """Expected / actual defaults within the horizon by protected group, per model and sample."""
        recs = []
        for r in self.rows:
            for attr, groups in r.get("calibration", {}).get("by_group", {}).items():
                for g in groups:
                    recs.append({"model": r["model"], "sample": r["sample"], "attribute": attr,
                                 **{k: g[k] for k in ("group", "n", "expected_over_actual", "lower", "upper")}})
        return pd.DataFrame(recs)

    # ------------------------------------------------------------------ JSON, save, load
    def to_json_dict(self) -> dict:
        """The result as JSON-ready data (without the forecasts, account scores and models).

        ``comparison`` is the ``comparison.json`` layout; ``cost_of_fairness``,
        ``calibrating_constant``, ``restricted_centre``, ``settings``, ``timings``,
        ``lineage``, ``provenance`` and ``apc_identification`` those of
        ``cost_of_fairness.json``; ``dependence`` the dependence table as records;
        ``cumulative_pd_definitions`` which definition each cumulative figure uses
        (:func:`cumulative_pd_definitions`) and ``attrition_identification`` the
        attrition fit's identification (``None`` without one).
        """
        return jsonable({
            "kind": type(self).__name__,
            "format_version": FORMAT_VERSION,
            "comparison": self.rows,
            "cost_of_fairness": self.cost_of_fairness,
            "costs": self.costs,
            "calibrating_constant": self.calibrating_constant,
            "restricted_centre": self.restricted_centre,
            "settings": self.settings,
            "timings": self.timings,
            "lineage": self.lineage,
            "provenance": self.provenance,
            "apc_identification": self.apc_result.identification["text"],
            "cumulative_pd_definitions": cumulative_pd_definitions(),
            "attrition_identification": (None if self.attrition_result is None
                                         else self.attrition_result.identification["text"]),
            "dependence": self.dependence_table.astype(object).where(self.dependence_table.notna(), None)
                                               .to_dict(orient="records"),
        })

    def to_model_json_dict(self) -> dict:
        """:meth:`to_json_dict` plus the fitted models (bins and coefficients, or trees) and the
        offsets table as JSON: everything ``apcfair score`` needs (never pickle)."""
        d = self.to_json_dict()
        d["models"] = {name: (None if m is None else m.to_dict()) for name, m in self.models.items()}
        d["offsets"] = None if self.offsets is None else self.offsets.to_dict()
        return d

    def save(self, path: str | Path) -> Path:
        """Write the result to a folder: JSON, Parquet and the APC fit as netCDF (no pickle).

        ``unbiased_result.json`` (:meth:`to_json_dict` plus the fitted score models as
        JSON), ``forecasts.parquet``, ``account_scores.parquet`` and ``apc_result.nc``.

        Parameters
        ----------
        path : str or pathlib.Path
            The folder (created if needed), or the path of the JSON file in it.

        Returns
        -------
        pathlib.Path
            The folder.
        """
        folder, json_path = _locate(path)
        folder.mkdir(parents=True, exist_ok=True)
        d = self.to_model_json_dict()
        write_forecasts(self.forecast_table, folder / layout.FORECASTS)
        self.account_scores.to_parquet(folder / layout.ACCOUNT_SCORES, index=False)
        self.apc_result.save(folder / layout.APC_RESULT)
        if self.attrition_result is not None:
            self.attrition_result.save(folder / layout.APC_ATTRITION_RESULT)
        save_json(d, json_path)  # last: a folder with the JSON file is complete
        return folder

    @classmethod
    def load(cls, path: str | Path) -> UnbiasedResult:
        """Read a result written by :meth:`save` (the folder, or its JSON file)."""
        folder, json_path = _locate(path)
        d = load_json(json_path, cls.__name__)
        models = {name: (None if md is None else (OffsetGBM if md["kind"] == "OffsetGBM" else OffsetLogit).from_dict(md))
                  for name, md in d["models"].items()}
        return cls(
            rows=d["comparison"],
            dependence_table=pd.DataFrame(d["dependence"]),
            cost_of_fairness=d["cost_of_fairness"],
            forecast_table=ForecastTable.from_frame(pd.read_parquet(folder / layout.FORECASTS)),
            account_scores=pd.read_parquet(folder / layout.ACCOUNT_SCORES),
            coefficient_tables={name: m.coef_table_ for name, m in models.items()
                            if isinstance(m, OffsetLogit)},
            models=models,
            apc_result=APCResult.load(folder / layout.APC_RESULT),
            restricted_centre=d["restricted_centre"],
            calibrating_constant=d["calibrating_constant"],
            settings=d["settings"],
            timings=d["timings"],
            lineage=d["lineage"],
            provenance=d["provenance"],
            costs=d.get("costs", {}),
            offsets=None if d.get("offsets") is None else OffsetTable.from_dict(d["offsets"]),
            attrition_result=(APCResult.load(folder / layout.APC_ATTRITION_RESULT)
                              if (folder / layout.APC_ATTRITION_RESULT).exists() else None),
        )

    # ------------------------------------------------------------------ plots
    def plot_roc(self, ax=None, *, sample: str | None = None):
        """ROC curves of the cumulative forecasts: in and out of sample side by side (``ax``:
        two Axes or ``None``), or one ``sample`` (``"in"``/``"out"``) in one Axes."""
        return plot_roc_curves(self, ax=ax, sample=sample)

    def plot_dependence(self, ax=None, metric: str = "corr"):
        """Bars of the dependence metric per model and restricted attribute (out of sample)."""
        return plot_dependence_bars(self, ax=ax, metric=metric)

    def plot_calibration(self, ax=None, model: str = "credit_restricted_mean"):
        """Predicted vs Kaplan–Meier cumulative default by vintage year."""
        return plot_calibration_by_year(self, ax=ax, model=model)


def cumulative_pd_definitions() -> dict:
    """Which definition each cumulative figure of the result uses (written into the JSON).

    The ``forecasts.parquet`` columns and the two calibration records of
    ``comparison.json``, from :data:`~apcfair.unbiased.stages.FORECAST_COLUMNS` and
    :data:`~apcfair.unbiased.stages.CALIBRATION_DEFINITIONS`.

    Examples
    --------
    >>> sorted(cumulative_pd_definitions())  # doctest: +NORMALIZE_WHITESPACE
    ['calibration', 'calibration_unconditional', 'cum_pd', 'cum_pd_exposure', 'cum_pd_observed_window',
     'cum_pd_unconditional', 'cum_pd_unconditional_observed_window']
    """
    from apcfair.unbiased.stages import CALIBRATION_DEFINITIONS, FORECAST_COLUMNS

    keys = ("cum_pd", "cum_pd_observed_window", "cum_pd_exposure", "cum_pd_unconditional",
            "cum_pd_unconditional_observed_window")
    return {**{k: FORECAST_COLUMNS[k] for k in keys}, **CALIBRATION_DEFINITIONS}


def write_forecasts(forecasts: pd.DataFrame | ForecastTable, path: str | Path) -> Path:
    """``forecasts.parquet`` with each column's definition in the file's metadata
    (key ``apcfair.columns``; :data:`~apcfair.unbiased.stages.FORECAST_COLUMNS`).

    A :class:`ForecastTable` is written one model at a time (one row group per model), so
    the long frame is never held whole (dictionary encoding only for the columns that are
    not probabilities); the file reads back as the table's
    :meth:`~ForecastTable.to_frame` (same columns, dtypes, row order and metadata as when
    the whole frame is written at once).
    """
    import json

    import pyarrow as pa
    import pyarrow.parquet as pq

    from apcfair.unbiased.stages import FORECAST_COLUMNS

    blocks = forecasts.blocks() if isinstance(forecasts, ForecastTable) else iter([forecasts])
    writer = None
    try:
        for block in blocks:
            table = pa.Table.from_pandas(block, preserve_index=False)
            if writer is None:
                meta = dict(table.schema.metadata or {})
                meta[b"apcfair.columns"] = json.dumps(FORECAST_COLUMNS).encode()
                schema = table.schema.with_metadata(meta)
                # dictionary pages only for the columns with few values: the probabilities would
                # fall back from a dictionary in every row group (measured at 146,500 accounts: 66.1
                # -> 55.4 MB, below the 56.3 MB of the frame written as one row group; 1.5 -> 0.4 s)
                few = [f.name for f in schema if not pa.types.is_floating(f.type)]
                writer = pq.ParquetWriter(path, schema, use_dictionary=few)
            writer.write_table(table.replace_schema_metadata(schema.metadata))
    finally:
        if writer is not None:
            writer.close()
    return Path(path)


def _locate(path: str | Path) -> tuple[Path, Path]:
    """The folder and the JSON file of a saved result from either of them."""
    path = Path(path)
    if path.suffix.lower() == ".json":
        return path.parent, path
    return path, path / RESULT_JSON
