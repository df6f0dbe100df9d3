"""Output folders that never look complete when half-written, and JSON helpers."""

from __future__ import annotations

import contextlib
import json
import shutil
import tempfile
from pathlib import Path

import numpy as np


@contextlib.contextmanager
def atomic_output_dir(out: str | Path, *, replace: bool = False):
    """Yield a temporary folder beside ``out``; move its files into ``out`` only on success.

    The temporary folder is ``.NAME.partial-*`` next to ``out``. On error it is removed and
    ``out`` is left untouched, so an output folder never looks complete when half-written.

    Parameters
    ----------
    out : path
        The output folder (created with its parents if needed).
    replace : bool
        ``False`` (default): existing files in ``out`` that the command does not write are
        kept (so several commands may share one folder); files it writes replace their
        namesakes as a whole. ``True``: the whole folder is swapped for the new one, so
        ``out`` holds exactly the files written (the old folder is renamed aside to
        ``.NAME.old-*`` and then removed).

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> out = Path(tempfile.mkdtemp()) / "results"
    >>> with atomic_output_dir(out) as tmp:
    ...     _ = (tmp / "a.txt").write_text("a")
    >>> with atomic_output_dir(out) as tmp:
    ...     _ = (tmp / "b.txt").write_text("b")
    >>> sorted(p.name for p in out.iterdir())
    ['a.txt', 'b.txt']
    >>> with atomic_output_dir(out, replace=True) as tmp:
    ...     _ = (tmp / "c.txt").write_text("c")
    >>> sorted(p.name for p in out.parent.iterdir()), sorted(p.name for p in out.iterdir())
    (['results'], ['c.txt'])
    """
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if replace:
        old = None
        try:
            if out.exists():
                old = out.parent / f".{out.name}.old-{tmp.name.rsplit('-', 1)[-1]}"
                out.rename(old)
            tmp.rename(out)
        except BaseException:
            if old is not None and not out.exists():
                old.rename(out)  # put the previous folder back
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        return
    out.mkdir(parents=True, exist_ok=True)
    for item in tmp.iterdir():
        target = out / item.name
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()
        item.replace(target)
    shutil.rmtree(tmp, ignore_errors=True)


def to_jsonable(obj, *, nan_as_null: bool = True):
    """Recursively convert results to plain JSON values.

    DataFrames become lists of records, Series and mappings dictionaries, numpy
    scalars and arrays Python numbers and lists. With ``nan_as_null`` (default) NaN and
    infinities become ``null`` (strict JSON for result files); model files that must
    round-trip infinite bin edges pass ``nan_as_null=False``. Anything else unknown is
    written as its string.
    """
    import pandas as pd

    def conv(o):
        if isinstance(o, pd.DataFrame):
            return [conv(r) for r in o.to_dict(orient="records")]
        if isinstance(o, pd.Series):
            return conv(o.to_dict())
        if isinstance(o, dict) or hasattr(o, "items") and hasattr(o, "keys"):
            return {str(k): conv(v) for k, v in o.items()}
        if isinstance(o, list | tuple):
            return [conv(v) for v in o]
        if isinstance(o, np.ndarray):
            return [conv(v) for v in o.tolist()]
        if isinstance(o, bool | np.bool_):
            return bool(o)
        if isinstance(o, int | np.integer):
            return int(o)
        if isinstance(o, float | np.floating):
            f = float(o)
            return None if nan_as_null and not np.isfinite(f) else f
        if o is None or isinstance(o, str):
            return o
        if o is pd.NA or o is pd.NaT:
            return None
        return str(o)

    return conv(obj)


def write_json(path: str | Path, obj) -> Path:
    """Write ``obj`` as indented JSON (NaN becomes null)."""
    path = Path(path)
    path.write_text(json.dumps(to_jsonable(obj), indent=2))
    return path
