"""A synthetic portfolio of any size written part by part, never held in memory at once.

:func:`write_partitioned` splits the accounts into ``partitions`` parts of nearly equal
size and generates each part independently with :func:`~data_synth.generate.generate_portfolio`
(``stream=k``): part ``k`` draws its accounts, attributes and outcomes from the random
stream ``SeedSequence([seed, k])``, while the truth shared by the whole book -- the
environment ``H`` and its macro drivers, the zip geography, ``F``, ``G``, the payoff
hazard -- comes from ``seed`` alone and is the same in every part. The intercept ``mu`` is
calibrated once, on part 0 (to ``default_rate_target``), and then fixed for the other parts,
so every part follows the same model. Peak memory is that of one part.

How it relates to the unpartitioned generator: ``partitions=1`` writes exactly
``generate_portfolio(cfg)`` (the same accounts). With more parts the book is a different
draw from the same model: each part spreads its accounts over the vintages by the same
volume weights (the vintage counts of the union are within ``partitions`` accounts of the
one-part split), ``mu`` is calibrated on part 0's accounts rather than all of them (it
differs by the calibration noise of a smaller sample), and with ``score_centring="vintage"``
the true scores are centred within vintage within each part. ``truth.json`` is part 0's
truth with the counts and the realised default rate of the whole book, plus a
``partitions`` block saying all this.

Files: ``loans/part-00000.parquet ...``, ``account_truth/part-00000.parquet ...``,
``truth.json``, ``macro_history.csv``, ``scenarios.csv`` and, with ``panel=True``,
``panel/part-00000.parquet ...`` (each part's accounts whole, so the panel is partitioned
by account as apcfair requires).
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np

from data_synth.config import SynthConfig
from data_synth.generate import generate_portfolio

PART_NAME = "part-{:05d}.parquet"


def part_sizes(n: int, partitions: int) -> np.ndarray:
    """Accounts per part: ``n`` split into ``partitions`` nearly equal parts (the first ones larger).

    Examples
    --------
    >>> from data_synth.partitioned import part_sizes
    >>> part_sizes(10, 3).tolist()
    [4, 3, 3]
    """
    if not 1 <= int(partitions) <= int(n):
        raise ValueError(f"partitions={partitions} must be between 1 and the number of accounts ({n})")
    base, extra = divmod(int(n), int(partitions))
    return np.array([base + (k < extra) for k in range(int(partitions))], dtype=np.int64)


def write_partitioned(out_dir: str | Path, cfg: SynthConfig | None = None, *, partitions: int = 1,
                      panel: bool = False, progress=None) -> dict[str, Path]:
    """Generate a portfolio part by part and write it as partitioned Parquet data sets.

    Parameters
    ----------
    out_dir : str or pathlib.Path
        Output folder.
    cfg : SynthConfig, optional
        Settings (``n_accounts`` is the whole book's).
    partitions : int
        Number of parts (1 to ``n_accounts``).
    panel : bool
        Also write the account-month panel, one part per loan part.
    progress : callable, optional
        Called as ``progress(k, partitions)`` after each part is written.

    Returns
    -------
    dict of pathlib.Path
        ``loans``, ``account_truth`` (and ``panel``) folders; ``truth``, ``macro_history``,
        ``scenarios`` files.

    Examples
    --------
    >>> import tempfile
    >>> import pandas as pd
    >>> from data_synth import SynthConfig
    >>> from data_synth.partitioned import write_partitioned
    >>> paths = write_partitioned(tempfile.mkdtemp(), SynthConfig(n_accounts=300, seed=1), partitions=3)
    >>> sorted(p.name for p in paths["loans"].iterdir())
    ['part-00000.parquet', 'part-00001.parquet', 'part-00002.parquet']
    >>> ids = pd.read_parquet(paths["loans"])["account_id"]
    >>> len(ids), ids.is_unique, int(ids.min()), int(ids.max())
    (300, True, 1, 300)
    """
    cfg = cfg or SynthConfig()
    out = Path(out_dir)
    sizes = part_sizes(cfg.n_accounts, partitions)
    paths = {"loans": out / "loans", "account_truth": out / "account_truth", "truth": out / "truth.json",
             "macro_history": out / "macro_history.csv", "scenarios": out / "scenarios.csv"}
    if panel:
        paths["panel"] = out / "panel"
    for key in ("loans", "account_truth", "panel"):
        if key in paths:
            paths[key].mkdir(parents=True, exist_ok=True)
    truth = None
    counts = {"accounts": 0, "defaults": 0, "payoffs": 0, "censored": 0}
    first_id = 1
    for k, size in enumerate(sizes):
        part_cfg = replace(cfg, n_accounts=int(size)) if k == 0 else replace(cfg, n_accounts=int(size),
                                                                               mu=truth["mu"])
        sp = generate_portfolio(part_cfg, stream=None if partitions == 1 else k, first_id=first_id)
        name = PART_NAME.format(k)
        sp.loans.to_parquet(paths["loans"] / name, index=False)
        sp.account_truth.to_parquet(paths["account_truth"] / name, index=False)
        if panel:
            sp.panel().to_parquet(paths["panel"] / name, index=False)
        if k == 0:
            truth = sp.truth
            sp.macro_history.to_csv(paths["macro_history"], index=False)
            sp.scenarios.to_csv(paths["scenarios"], index=False)
        for key in counts:
            counts[key] += int(sp.truth["counts"][key])
        first_id += int(size)
        del sp
        if progress is not None:
            progress(k + 1, partitions)
    truth["counts"] = counts
    truth["default_rate"]["realised"] = counts["defaults"] / counts["accounts"]
    truth["config"] = {**truth["config"], "n_accounts": int(cfg.n_accounts)}
    truth["partitions"] = {
        "parts": int(partitions),
        "accounts_per_part": sizes.tolist(),
        "how": ("accounts split into parts generated independently: part k draws accounts and outcomes from "
                "SeedSequence([seed, k]); H, macro drivers, zips, F, G and the payoff hazard come from seed alone; "
                "mu calibrated on part 0 and fixed for the others" if partitions > 1 else
                "one part: identical to the unpartitioned generator"),
    }
    paths["truth"].write_text(json.dumps(truth, indent=1))
    return paths
