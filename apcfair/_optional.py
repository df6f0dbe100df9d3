"""Optional dependencies: imported in one place, with an error that names the extra to install.

Heavy packages needed by one feature only are extras of the ``apcfair`` distribution
(``[project.optional-dependencies]`` in ``pyproject.toml``); ``pip install apcfair`` still runs
the demo, and ``pip install "apcfair[dev]"`` installs every extra. A feature calls
:func:`require` where it needs its package, so the core imports without it and the user
learns the one command that enables the feature.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from apcfair.errors import ApcfairError

#: Import name -> the extra of ``apcfair`` that installs it (keep in sync with pyproject.toml).
EXTRAS: dict[str, str] = {
    "shap": "explain",
    "dask": "dask",  # dask.distributed for --backend dask (the extra installs dask[dataframe,distributed])
}


class MissingDependencyError(ApcfairError, ImportError):
    """A feature needs an optional package that is not installed; the message names the extra."""


def install_hint(module: str) -> str:
    """The pip command that installs ``module`` for apcfair (its extra when it has one)."""
    extra = EXTRAS.get(module.split(".")[0])
    return f'pip install "apcfair[{extra}]"' if extra else f"pip install {module.split('.')[0]}"


def require(module: str, feature: str) -> ModuleType:
    """Import an optional package, or raise :class:`MissingDependencyError` naming its extra.

    Parameters
    ----------
    module : str
        Import name, e.g. ``"shap"``.
    feature : str
        What needs it, for the message (e.g. ``"shap_contributions"``).

    Returns
    -------
    module
        The imported module.

    Examples
    --------
    >>> from apcfair._optional import MissingDependencyError, require
    >>> require("json", "reading JSON").__name__
    'json'
    >>> try:
    ...     require("no_such_package_xyz", "a demo feature")
    ... except MissingDependencyError as e:
    ...     print(e)
    a demo feature needs the optional package 'no_such_package_xyz', which is not installed: pip install no_such_package_xyz
    >>> from apcfair._optional import install_hint
    >>> install_hint("shap")
    'pip install "apcfair[explain]"'
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingDependencyError(
            f"{feature} needs the optional package {module!r}, which is not installed: {install_hint(module)}"
        ) from exc
