"""Time and peak memory of the offset logit (streamed vs glum vs statsmodels) and boosted trees.

Usage::

    python benchmarks/bench_scoring.py                 # paper scale + 500k-row comparison
    python benchmarks/bench_scoring.py --gbm           # also OffsetGBM, accounts vs rows
    python benchmarks/bench_scoring.py --accounts 20000 --small-rows 100000   # quick run

The script simulates its own loan table (146,500 accounts, monthly vintages 2005-2019,
performance to 2019-12, about 6 % defaults and 6 M account-months, six static attributes
that are binned into deciles / levels) with a known lifecycle ``F(a)`` and environment
``H(t)``, writes it to a temporary Parquet file, and runs every method in a fresh child
process. Each child loads the data, resets the kernel's peak-RSS counter
(``/proc/self/clear_refs``) and reports the wall time of the step and its peak resident
memory above the RSS before the step. Times are cold (first fit in a fresh process, so
first-touch page faults are included); the streamed fit also reports the best of three
warm repeats. Ratios use the cold times.

Tasks
-----
streamed      ``OffsetLogit(method="accounts")``: per-account sums, no account-month design
glm           ``OffsetLogit(method="glm")``: materialised rows + glum + exact Hessian
glum          the materialised panel and glum's fit alone (build and fit timed apart)
statsmodels   ``statsmodels.GLM(Binomial, offset=...)`` on the dense materialised design;
              only at ``--small-rows`` (it runs out of memory at full size, PERF_NOTES.md)
gbm_accounts  ``OffsetGBM(method="accounts")`` (custom per-account objective), ``--gbm``
gbm_rows      ``OffsetGBM(method="rows")`` (account-month rows, ``init_score``), ``--gbm``
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
from _memory import peak_mib as _peak_mib  # noqa: E402 - benchmarks/ is the script's directory
from _memory import reset_peak as _reset_peak  # noqa: E402

V0 = 2005 * 12          # 2005-01
N_VINTAGES = 180        # 2005-01 .. 2019-12
END = 2019 * 12 + 11    # performance observed through 2019-12
ATTRIBUTES = ["bureau_score", "income", "utilisation", "tenure", "product", "channel"]


# ---------------------------------------------------------------------- simulation
def true_offset():
    """Lifecycle peaking near 36 months; environment with a 2009 peak and seasonality."""
    from apcfair.scoring import OffsetTable

    age = np.arange(1, N_VINTAGES + 1)
    life = -7.8 + 1.1 * np.exp(-(((age - 36) / 24.0) ** 2)) + 0.5 * (age <= 2)
    per = np.arange(V0 + 1, END + 1)
    yrs = (per - V0) / 12.0
    env = 0.5 * np.exp(-(((yrs - 4.5) / 1.8) ** 2)) - 0.03 * yrs + 0.08 * np.sin(2 * np.pi * per / 12)
    env -= env.mean()
    return OffsetTable(1, life, V0 + 1, env)


def simulate(n: int, seed: int = 0) -> pd.DataFrame:
    """A loan table in ``Portfolio.loans`` layout with six static attributes."""
    from scipy.special import expit

    rng = np.random.default_rng(seed)
    v = V0 + rng.integers(0, N_VINTAGES - 1, n)  # 2005-01 .. 2019-11: every account has a month
    z = rng.normal(size=(n, 4))
    product = rng.choice(["classic", "gold", "platinum", "secured", "student"], n,
                         p=[0.4, 0.25, 0.15, 0.1, 0.1])
    channel = rng.choice(["branch", "direct", "online", "partner"], n, p=[0.3, 0.2, 0.35, 0.15])
    s = (-0.55 * z[:, 0] + 0.25 * np.tanh(z[:, 1]) + 0.3 * z[:, 2] ** 2 - 0.15 * z[:, 3]
         + pd.Series(product).map({"classic": 0.0, "gold": -0.3, "platinum": -0.6,
                                   "secured": 0.5, "student": 0.3}).to_numpy()
         + pd.Series(channel).map({"branch": 0.0, "direct": 0.1, "online": 0.2,
                                   "partner": 0.4}).to_numpy())
    attrs = {
        "bureau_score": 660 + 55 * z[:, 0],
        "income": np.exp(10.6 + 0.45 * z[:, 1]),
        "utilisation": expit(z[:, 2] * 1.2),
        "tenure": np.exp(3.0 - 0.5 * z[:, 3]),
    }
    for k, (name, rate) in enumerate([("bureau_score", 0.03), ("income", 0.08),
                                       ("utilisation", 0.05), ("tenure", 0.02)]):
        miss = rng.random(n) < rate
        attrs[name][miss] = np.nan
        s[miss] += 0.25 * (k % 2 == 0)
    off = true_offset()
    last = v.copy()
    dflt = np.zeros(n, dtype=np.int8)
    alive = np.ones(n, dtype=bool)
    for a in range(1, N_VINTAGES + 1):
        idx = np.flatnonzero(alive & (v + a <= END))
        if len(idx) == 0:
            break
        t = v[idx] + a
        p = expit(off(np.full(len(idx), a), t) + s[idx])
        u = rng.random(len(idx))
        dd = u < p
        cl = ~dd & (u > 1 - 0.015)
        last[idx] = t
        dflt[idx[dd]] = 1
        alive[idx[dd | cl]] = False
    loans = pd.DataFrame({
        "account_id": np.arange(n), "vintage": v.astype(np.int64),
        "first_month": (v + 1).astype(np.int64), "last_month": last.astype(np.int64),
        "default": dflt.astype(np.int64),
    })
    for name in ATTRIBUTES[:4]:
        loans[name] = attrs[name]
    loans["product"] = product
    loans["channel"] = channel
    return loans[loans["last_month"] > loans["vintage"]].reset_index(drop=True)


def subset_mask(loans: pd.DataFrame, rows: int, seed: int = 1) -> np.ndarray:
    """Random accounts whose account-months add up to about ``rows``."""
    months = (loans["last_month"] - loans["first_month"] + 1).to_numpy()
    order = np.random.default_rng(seed).permutation(len(loans))
    k = int(np.searchsorted(np.cumsum(months[order]), rows)) + 1
    mask = np.zeros(len(loans), dtype=bool)
    mask[order[:k]] = True
    return mask


# ---------------------------------------------------------------------- child side
def run_child(task: str, data: str, rows: int) -> dict:
    import glum  # noqa: F401 - import cost not timed
    import lightgbm  # noqa: F401
    import statsmodels.api as sm

    from apcfair.scoring import OffsetGBM, OffsetLogit, expand_account_months

    loans = pd.read_parquet(data)
    off = true_offset()
    mask = subset_mask(loans, rows) if rows else np.ones(len(loans), dtype=bool)
    out: dict = {"task": task, "accounts": int(mask.sum())}
    months = (loans["last_month"] - loans["first_month"] + 1).to_numpy()
    out["account_months"] = int(months[mask].sum())
    base = _reset_peak()
    t0 = time.perf_counter()
    if task in ("streamed", "glm"):
        m = OffsetLogit(method="accounts" if task == "streamed" else "glm").fit(
            loans, ATTRIBUTES, offset=off, accounts=mask)
        out["seconds"] = time.perf_counter() - t0
        if task == "streamed":  # warm repeats in the same process (memory already touched)
            warm = []
            for _ in range(3):
                t1 = time.perf_counter()
                OffsetLogit(method="accounts").fit(loans, ATTRIBUTES, offset=off, accounts=mask)
                warm.append(time.perf_counter() - t1)
            out["warm_seconds"] = min(warm)
        out["n_iter"] = m.n_iter_
        out["coef"] = m.coef_.tolist()
        out["se"] = m.coef_table_["std_error"].tolist()
        out["terms"] = m.coef_.index.tolist()
        if task == "streamed":
            out["units"] = m.n_units_
    elif task == "glum":
        from glum import GeneralizedLinearRegressor

        ref = OffsetLogit()
        ref.binner_ = ref._new_binner().fit(loans.loc[mask, ATTRIBUTES].reset_index(drop=True),
                                            ATTRIBUTES)
        base = _reset_peak()
        t0 = time.perf_counter()
        panel = expand_account_months(loans, accounts=mask)
        acct = panel["account"].to_numpy()
        X = ref.binner_.categorical_frame(ref.binner_.encode(loans[ATTRIBUTES]).take(acct))
        o = off(panel["age"].to_numpy(), panel["period"].to_numpy())
        y = panel["default"].to_numpy(np.float64)
        out["build_seconds"] = time.perf_counter() - t0
        t1 = time.perf_counter()
        g = GeneralizedLinearRegressor(family="binomial", alpha=0, drop_first=True,
                                       gradient_tol=1e-12, step_size_tol=1e-14)
        g.fit(X, y, offset=o)
        out["fit_seconds"] = time.perf_counter() - t1
        out["seconds"] = time.perf_counter() - t0
        out["n_iter"] = int(np.max(np.atleast_1d(g.n_iter_)))
        out["coef"] = [float(g.intercept_), *map(float, g.coef_)]
    elif task == "statsmodels":
        ref = OffsetLogit(method="accounts").fit(loans, ATTRIBUTES, offset=off, accounts=mask)
        base = _reset_peak()
        t0 = time.perf_counter()
        panel = expand_account_months(loans, attributes=ATTRIBUTES, accounts=mask)
        X = ref._design(panel).toarray()
        o = off(panel["age"].to_numpy(), panel["period"].to_numpy())
        y = panel["default"].to_numpy(np.float64)
        out["build_seconds"] = time.perf_counter() - t0
        t1 = time.perf_counter()
        res = sm.GLM(y, X, family=sm.families.Binomial(), offset=o).fit(tol=1e-10)
        out["fit_seconds"] = time.perf_counter() - t1
        out["seconds"] = time.perf_counter() - t0
        out["coef"] = res.params.tolist()
        out["se"] = res.bse.tolist()
        out["n_iter"] = int(res.fit_history["iteration"])
    elif task in ("gbm_accounts", "gbm_rows"):
        g = OffsetGBM(n_estimators=100, learning_rate=0.05, num_leaves=15,
                      method="accounts" if task == "gbm_accounts" else "rows",
                      num_threads=1, random_state=0).fit(loans, ATTRIBUTES, offset=off,
                                                         accounts=mask)
        out["seconds"] = time.perf_counter() - t0
        out["score_head"] = g.predict_account_score(loans.iloc[:5]).tolist()
    else:
        raise ValueError(task)
    out["peak_mib"] = _peak_mib() - base
    return out


# ---------------------------------------------------------------------- parent side
def spawn(task: str, data: str, rows: int, timeout: float) -> dict:
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    cmd = [sys.executable, __file__, "--child", task, "--data", data, "--rows", str(rows)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        return {"task": task, "error": f"timeout after {timeout:.0f} s"}
    if proc.returncode != 0:
        return {"task": task, "error": f"exit {proc.returncode}: {proc.stderr.strip()[-400:]}"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _fmt(r: dict) -> str:
    if "error" in r:
        return f"  {r['task']:<13} FAILED: {r['error']}"
    extra = ""
    if "warm_seconds" in r:
        extra = f"  (warm repeat in the same process {r['warm_seconds']:.2f} s)"
    if "build_seconds" in r:
        extra = f"  (build {r['build_seconds']:.2f} s + fit {r['fit_seconds']:.2f} s)"
    return (f"  {r['task']:<13} {r['account_months']:>10,} rows  {r['seconds']:8.2f} s  "
            f"peak +{r['peak_mib']:7.0f} MiB  iters {r.get('n_iter', '-')!s:>3}{extra}")


def _maxdiff(a: dict, b: dict, key: str = "coef") -> float:
    if key not in a or key not in b:
        return float("nan")
    return float(np.max(np.abs(np.asarray(a[key]) - np.asarray(b[key]))))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--accounts", type=int, default=146_500)
    ap.add_argument("--small-rows", type=int, default=500_000,
                    help="account-months of the subset where statsmodels is compared")
    ap.add_argument("--gbm", action="store_true", help="also time OffsetGBM")
    ap.add_argument("--timeout", type=float, default=900)
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--data", help=argparse.SUPPRESS)
    ap.add_argument("--rows", type=int, default=0, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        print(json.dumps(run_child(args.child, args.data, args.rows)))
        return 0

    t = time.perf_counter()
    loans = simulate(args.accounts)
    sim_s = time.perf_counter() - t
    months = int((loans["last_month"] - loans["first_month"] + 1).sum())
    print(f"simulated {len(loans):,} accounts, {months:,} account-months, "
          f"{int(loans['default'].sum()):,} defaults "
          f"({loans['default'].mean():.1%} of accounts) in {sim_s:.1f} s")
    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "loans.parquet")
        loans.to_parquet(path)
        print(f"\nfull size ({months:,} account-months):")
        full = {}
        for task in ("streamed", "glm", "glum") + (("gbm_accounts", "gbm_rows") if args.gbm else ()):
            full[task] = spawn(task, path, 0, args.timeout)
            print(_fmt(full[task]), flush=True)
        print(f"\nsubset of about {args.small_rows:,} account-months:")
        small = {}
        for task in ("streamed", "glum", "statsmodels"):
            small[task] = spawn(task, path, args.small_rows, args.timeout)
            print(_fmt(small[task]), flush=True)

    def ratio(a, b):
        if "error" in a or "error" in b:
            return float("nan")
        return b["seconds"] / a["seconds"]

    print("\nspeed-up of the streamed fit (other time / streamed time):")
    print(f"  full size:  glum (build+fit) {ratio(full['streamed'], full['glum']):6.1f}x   "
          f"OffsetLogit(method='glm') {ratio(full['streamed'], full['glm']):6.1f}x")
    print(f"  subset:     glum (build+fit) {ratio(small['streamed'], small['glum']):6.1f}x   "
          f"statsmodels GLM (build+fit) {ratio(small['streamed'], small['statsmodels']):6.1f}x")
    print("\nagreement (max |difference|):")
    print(f"  full size: streamed vs glum coef {_maxdiff(full['streamed'], full['glum']):.2e}, "
          f"streamed vs glm SE {_maxdiff(full['streamed'], full['glm'], 'se'):.2e}")
    print(f"  subset: streamed vs statsmodels coef "
          f"{_maxdiff(small['streamed'], small['statsmodels']):.2e}, SE "
          f"{_maxdiff(small['streamed'], small['statsmodels'], 'se'):.2e}")
    if args.gbm and "error" not in full["gbm_accounts"] and "error" not in full["gbm_rows"]:
        print(f"  gbm accounts vs rows, first scores: {full['gbm_accounts']['score_head'][:3]} "
              f"vs {full['gbm_rows']['score_head'][:3]} (bagging differs: accounts vs months)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
