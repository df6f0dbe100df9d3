"""Output folders that never look complete when half-written, and JSON helpers."""

from __future__ import annotations

import contextlib
import json
import shutil
import tempfile
from pathlib import Path

import numpy as np


@contextlib.contextmanager
def atomic_output_dir(out: str | Path):
    """Yield a temporary folder beside ``out``; move it to ``out`` only on success.

    Existing files in ``out`` that the command does not write are kept (so several
    subcommands may share one folder); files it writes are replaced as a whole at the
    end. On error the temporary folder is removed and ``out`` is left untouched.
    """
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    out.mkdir(parents=True, exist_ok=True)
    for item in tmp.iterdir():
        target = out / item.name
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()
        item.replace(target)
    shutil.rmtree(tmp, ignore_errors=True)


def to_jsonable(obj):
    """Convert numpy scalars/arrays, tuples and NaN to plain JSON values."""
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist())
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating | float):
        f = float(obj)
        return None if not np.isfinite(f) else f
    return obj


def write_json(path: str | Path, obj) -> Path:
    """Write ``obj`` as indented JSON (NaN becomes null)."""
    path = Path(path)
    path.write_text(json.dumps(to_jsonable(obj), indent=2))
    return path
