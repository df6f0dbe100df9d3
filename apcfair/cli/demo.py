"""``apcfair demo``: the whole workflow on the built-in synthetic portfolio.

Orchestration only: each step calls the library (the demo's own choices are in
:mod:`apcfair.report.demo`) and writes its result with :mod:`apcfair.outputs`, into a
folder that appears only when complete. On a machine with two cores or more, each step's
files (plots, netCDF, JSON) and the attrition fit are written by a forked process while the
next step computes; the files are the same as when written in turn (the demo is seeded
throughout), and ``results.json`` records the time spent waiting for them.
"""

from __future__ import annotations

from pathlib import Path

from apcfair.cli._common import (
    MAX_ACCOUNTS,
    bounded_int,
    output_folder,
    parser_kwargs,
    seed,
    show_progress,
)

EXAMPLE = "apcfair demo --out apcfair-demo --accounts 146500 --seed 0"
STEPS = ("synthetic portfolio", "validation and vintage curves", "APC", "unbiased by design", "fairness audit",
         "stress scenarios", "report")


def add_parser(sub):
    """Register ``demo``."""
    p = sub.add_parser("demo", **parser_kwargs(
        "run the whole workflow on the built-in synthetic portfolio", example=EXAMPLE,
        description="synth -> validation and lineage -> APC -> unbiased-by-design comparison -> fairness audit "
                    "-> stress scenarios, written to DIR/report.html (self-contained) and DIR/results.json."))
    p.add_argument("--out", default="apcfair-demo", type=output_folder, help="output folder (default: apcfair-demo)")
    p.add_argument("--accounts", type=bounded_int(2000, MAX_ACCOUNTS, what="accounts (a meaningful demo)"),
                   default=146_500, help=f"accounts in the synthetic portfolio, 2,000 to {MAX_ACCOUNTS:,} "
                                         "(default 146,500)")
    p.add_argument("--seed", type=seed, default=0, help="random seed")
    p.set_defaults(func=run)
    return p


class _BackgroundWriter:
    """Write a step's files in a forked process while the next step computes (the second core).

    One writer runs at a time (a new one first waits for the previous), so the demo keeps at
    most two busy processes. A job runs in this process instead where ``fork`` is unavailable,
    the machine has one core, or forking is not safe: other Python threads are running (a
    Dask client's event loop, a test runner's I/O threads; a forked child inherits their
    locks but not the threads, and can wait on them forever). A job that fails in its process,
    or does not finish within ``timeout`` seconds, is run again here, so its error surfaces
    with a full traceback. The forked process ends with ``os._exit`` (no cleanup of the
    parent's open output folder or progress bar).
    """

    def __init__(self, *, fork: bool | None = None, timeout: float = 900.0):
        import multiprocessing as mp
        import os

        available = "fork" in mp.get_all_start_methods()
        use_fork = available and (os.cpu_count() or 1) > 1 if fork is None else (fork and available)
        self._ctx = mp.get_context("fork") if use_fork else None
        self._auto = fork is None
        self.timeout = timeout
        self._job = None
        self.waited = 0.0

    @staticmethod
    def _only_thread() -> bool:
        """Whether this process runs no other Python thread (tqdm's idle monitor aside)."""
        import threading

        try:
            from tqdm._monitor import TMonitor
        except ImportError:  # pragma: no cover - tqdm is a core dependency
            TMonitor = ()  # noqa: N806
        others = [t for t in threading.enumerate() if t is not threading.main_thread() and t.is_alive()
                  and not isinstance(t, TMonitor)]
        return not others

    def submit(self, name: str, fn, *args, **kwargs) -> None:
        """Run ``fn(*args, **kwargs)`` in the background (after the previous job ends)."""
        self.wait()
        if self._ctx is None or (self._auto and not self._only_thread()):
            fn(*args, **kwargs)
            return
        proc = self._ctx.Process(target=fn, args=args, kwargs=kwargs, name=f"apcfair demo: {name}")
        proc.start()
        self._job = (name, proc, fn, args, kwargs)

    def wait(self) -> None:
        """Wait for the running job; rerun it here if it failed or hung."""
        import time
        import warnings

        if self._job is None:
            return
        name, proc, fn, args, kwargs = self._job
        self._job = None
        t = time.perf_counter()
        proc.join(self.timeout)
        if proc.is_alive():
            proc.terminate()
            proc.join()
            warnings.warn(f"writing {name} in a background process did not finish within {self.timeout:g} s; "
                          "running it again here", RuntimeWarning, stacklevel=2)
            fn(*args, **kwargs)
        elif proc.exitcode != 0:
            warnings.warn(f"writing {name} in a background process failed (exit code {proc.exitcode}); "
                          "running it again here", RuntimeWarning, stacklevel=2)
            fn(*args, **kwargs)
        self.waited += time.perf_counter() - t


def _apc_outputs(apc_model, apc, cells, folder) -> None:
    """The attrition fit and the APC files (nothing later in the demo needs the attrition fit)."""
    from apcfair.apc.attrition import try_fit_attrition
    from apcfair.outputs import write_apc_outputs

    # both hazards, as `apcfair apc` fits them: payoff competes with default
    attrition, attrition_note = try_fit_attrition(apc_model, cells)
    write_apc_outputs(apc, folder, attrition=attrition, attrition_note=attrition_note)


def run_demo(out: str | Path = "apcfair-demo", accounts: int = 146_500, seed: int = 0, progress: bool = True) -> dict:
    """Run the whole workflow and write ``report.html``, ``results.json`` and every step's files into ``out``.

    Parameters
    ----------
    out : path
        Output folder (written atomically: it appears only when complete).
    accounts : int
        Size of the synthetic portfolio.
    seed : int
        Seed of every random step.
    progress : bool
        Show a progress bar.

    Returns
    -------
    dict
        The content of ``results.json`` (its timings include the report step).
    """
    import time

    from tqdm.auto import tqdm

    from apcfair import layout
    from apcfair._io import atomic_output_dir
    from apcfair.apc import APCModel
    from apcfair.outputs import (
        write_audit_outputs,
        write_results,
        write_stress_outputs,
        write_unbiased_outputs,
        write_vintage_outputs,
    )
    from apcfair.portfolio import Portfolio, read_table
    from apcfair.report import write_report
    from apcfair.report.demo import (
        DEMO_CREDIT,
        DEMO_DPI,
        DEMO_HORIZON,
        DEMO_PROTECTED,
        DEMO_RESTRICTED,
        demo_audit,
        demo_results,
        demo_stress,
    )
    from apcfair.unbiased import UnbiasedByDesign
    from data_synth import SynthConfig, write_portfolio

    timings: dict[str, float] = {}
    background = _BackgroundWriter()  # each step's files are written while the next step computes
    with atomic_output_dir(out) as tmp, tqdm(total=len(STEPS), desc="apcfair demo", disable=not progress) as bar:
        def step(name):
            bar.set_postfix_str(name)
            return name, time.perf_counter()

        def done(started):
            name, t = started
            timings[name] = round(time.perf_counter() - t, 2)
            bar.update(1)

        started = step(STEPS[0])
        data = write_portfolio(tmp / layout.DEMO_DATA, SynthConfig(n_accounts=accounts, seed=seed))
        done(started)

        started = step(STEPS[1])
        loans = Path(data["loans"])
        portfolio = Portfolio.from_loans(read_table(loans), source=str(Path(out) / layout.DEMO_DATA / loans.name))
        cells = portfolio.cells()
        background.submit("vintage outputs", write_vintage_outputs, portfolio, tmp, cells=cells)
        done(started)

        started = step(STEPS[2])
        apc_model = APCModel(random_state=seed)
        apc = apc_model.fit(cells).result_
        background.submit("APC outputs", _apc_outputs, apc_model, apc, cells, tmp)
        done(started)

        started = step(STEPS[3])
        result = UnbiasedByDesign(restricted=DEMO_RESTRICTED, credit=DEMO_CREDIT, protected=DEMO_PROTECTED,
                                  horizon=DEMO_HORIZON, random_state=seed).fit(portfolio).result_
        background.submit("unbiased outputs", write_unbiased_outputs, result, tmp)
        done(started)

        started = step(STEPS[4])
        audit = demo_audit(result, portfolio, seed)
        background.submit("audit outputs", write_audit_outputs, audit, tmp, dpi=DEMO_DPI)
        done(started)

        started = step(STEPS[5])
        macro, projection, stress = demo_stress(result, portfolio, apc, data["macro_history"], data["scenarios"],
                                                DEMO_HORIZON, seed)
        background.submit("stress outputs", write_stress_outputs, stress, tmp, projection=projection, macro=macro,
                          dpi=DEMO_DPI, files=(layout.STRESS_JSON, layout.MACRO_MODEL_TXT, layout.FAN_CHART_PLOT,
                                               layout.ENVIRONMENT_SCENARIOS_PLOT))
        done(started)

        started = step(STEPS[6])
        results = demo_results(portfolio, apc, result, audit, stress, timings=timings, accounts=accounts,
                               seed=seed, horizon=DEMO_HORIZON)
        background.wait()  # the report reads every step's files
        timings["waiting for background writers"] = round(background.waited, 2)
        write_results(results, tmp)
        write_report(tmp, title=f"apcfair demo: synthetic card portfolio ({accounts:,} accounts, seed {seed})")
        done(started)
    return results


def run(args) -> int:
    """Run ``apcfair demo``."""
    from apcfair import layout

    results = run_demo(args.out, accounts=args.accounts, seed=args.seed, progress=show_progress(args))
    cost = results["cost_of_fairness"]["out"]
    print(f"Portfolio: {results['portfolio']['accounts']:,} accounts, {results['portfolio']['defaults']:,} defaults")
    for row in results["comparison"]:
        if row["sample"] == "out":
            print(f"  {row['model']:36s} out-of-sample AUC {row['auc']:.3f}  Gini {row['gini']:.3f}")
    print(f"Cost of zeroing the restricted term (out of sample): {cost['difference']:+.4f} AUC "
          f"(95% CI {cost['lower']:+.4f} to {cost['upper']:+.4f})")
    print(f"Timings (s): {results['timings_seconds']}")
    print(f"Open {Path(args.out) / layout.REPORT_HTML}")
    args.summary = {"report": str(Path(args.out) / layout.REPORT_HTML), "cost_of_zeroing_out_of_sample": cost,
                    "timings_seconds": results["timings_seconds"]}
    return 0
