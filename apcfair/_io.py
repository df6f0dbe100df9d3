"""Output folders that never look complete when half-written, file fingerprints, and JSON helpers.

Only the standard library is imported at module level (numpy and pandas inside the
functions that need them), so that the command line starts fast.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import shutil
import tempfile
import time
from pathlib import Path

#: Temporary folders of :func:`atomic_output_dir` older than this (seconds) belong to a run
#: that was killed (SIGKILL, power loss) and are removed by the next run writing beside them.
STALE_PARTIAL_SECONDS = 3600


def remove_stale_partials(out: str | Path, *, older_than: float = STALE_PARTIAL_SECONDS) -> list[Path]:
    """Remove ``.NAME.partial-*`` / ``.NAME.old-*`` folders beside ``out`` older than ``older_than`` s.

    A run that is killed before :func:`atomic_output_dir` can clean up leaves its temporary
    folder behind; the next run writing ``out`` removes it. Younger folders may belong to
    a run still writing and are kept.

    Returns
    -------
    list of pathlib.Path
        The folders removed.

    Examples
    --------
    >>> import os, tempfile
    >>> from pathlib import Path
    >>> parent = Path(tempfile.mkdtemp())
    >>> old = parent / ".results.partial-abc123"
    >>> old.mkdir()
    >>> os.utime(old, (0, 0))  # killed long ago
    >>> [p.name for p in remove_stale_partials(parent / "results")]
    ['.results.partial-abc123']
    """
    out = Path(out)
    if not out.parent.is_dir():
        return []
    now = time.time()
    removed = []
    for pattern in (f".{out.name}.partial-*", f".{out.name}.old-*"):
        for p in out.parent.glob(pattern):
            try:
                if p.is_dir() and now - p.stat().st_mtime > older_than:
                    shutil.rmtree(p, ignore_errors=True)
                    removed.append(p)
            except OSError:
                continue
    return removed


def file_fingerprint(path: str | Path, *, chunk: int = 1 << 20) -> dict:
    """Identity of a data file by content: size in bytes and BLAKE2b-128 hash of its bytes.

    Two copies of one file have the same fingerprint wherever they lie; any change of
    content changes it. A folder (a partitioned Parquet data set) is fingerprinted by its
    files' relative names and contents.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> p = Path(tempfile.mkdtemp()) / "a.csv"
    >>> _ = p.write_text("x\\n1\\n")
    >>> fp = file_fingerprint(p)
    >>> fp["bytes"], len(fp["blake2b"])
    (4, 32)
    """
    path = Path(path)
    h = hashlib.blake2b(digest_size=16)
    files = sorted(q for q in path.rglob("*") if q.is_file()) if path.is_dir() else [path]
    size = 0
    for f in files:
        if path.is_dir():
            h.update(str(f.relative_to(path)).encode() + b"\0")
        with open(f, "rb") as fh:
            while block := fh.read(chunk):
                h.update(block)
                size += len(block)
    return {"path": str(path), "bytes": size, "blake2b": h.hexdigest()}


@contextlib.contextmanager
def atomic_output_dir(out: str | Path, *, replace: bool = False):
    """Yield a temporary folder beside ``out``; move its files into ``out`` only on success.

    The temporary folder is ``.NAME.partial-*`` next to ``out``. On error it is removed and
    ``out`` is left untouched, so an output folder never looks complete when half-written.
    Temporary folders of killed runs older than :data:`STALE_PARTIAL_SECONDS` are removed
    first (:func:`remove_stale_partials`).

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
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(20, "exists and is a file, not a folder; give a folder path", str(out))
    out.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_partials(out)
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
    import numpy as np
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
