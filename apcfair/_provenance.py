"""Settings and library versions that travel with every result."""

from __future__ import annotations

import hashlib
import json
import platform
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version

_LIBS = ("apcfair", "numpy", "scipy", "pandas", "statsmodels", "pymc", "arviz", "scikit-learn",
         "lightgbm", "fairlearn", "lifelines", "glum")


def library_versions(libs=_LIBS) -> dict[str, str]:
    """Installed versions of the libraries apcfair relies on."""
    out = {"python": platform.python_version()}
    for lib in libs:
        try:
            out[lib] = version(lib)
        except PackageNotFoundError:
            out[lib] = "not installed"
    return out


def settings_hash(settings: dict) -> str:
    """Short stable hash of a JSON-serialisable settings dictionary."""
    blob = json.dumps(settings, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def provenance(settings: dict | None = None) -> dict:
    """Settings, their hash, library versions and a UTC timestamp."""
    settings = dict(settings or {})
    return {
        "settings": settings,
        "settings_hash": settings_hash(settings),
        "versions": library_versions(),
        "created_utc": datetime.now(UTC).isoformat(timespec="seconds"),
    }
