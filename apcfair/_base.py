"""The shared base of every apcfair estimator: parameters, the fitted check, JSON model files.

Estimators follow scikit-learn's contract: settings in ``__init__`` stored unchanged, data in
``fit``, fitted attributes ending in ``_``. :class:`ParamsMixin` gives ``get_params(deep=...)``,
``set_params`` and a repr from the ``__init__`` signature, so :func:`sklearn.base.clone` works;
:class:`FittedResultMixin` gives the ``result_`` property that raises :class:`NotFittedError`
before ``fit``.
"""

from __future__ import annotations

import inspect
import json
from pathlib import Path
from typing import Any

from apcfair._io import to_jsonable
from apcfair.errors import NotFittedError

FORMAT_VERSION = 1


class ParamsMixin:
    """``get_params``/``set_params`` from the ``__init__`` signature (scikit-learn style).

    Keyword-only ``**params`` of ``__init__`` are kept in ``self.params`` and merged
    into :meth:`get_params`.
    """

    @classmethod
    def _param_names(cls) -> list[str]:
        sig = inspect.signature(cls.__init__)
        return [
            p.name for p in sig.parameters.values()
            if p.name != "self" and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)
        ]

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """Settings given to ``__init__``."""
        out = {name: getattr(self, name) for name in self._param_names()}
        out.update(getattr(self, "params", None) or {})
        out.pop("params", None)
        return out

    def set_params(self, **params) -> ParamsMixin:
        """Change settings; returns ``self``."""
        names = set(self._param_names())
        for key, value in params.items():
            if key in names:
                setattr(self, key, value)
            elif hasattr(self, "params"):
                self.params = {**(self.params or {}), key: value}
            else:
                raise ValueError(f"{type(self).__name__} has no setting {key!r}; "
                                 f"settings are {sorted(names)}.")
        return self

    def __repr__(self) -> str:
        defaults = {
            p.name: p.default for p in inspect.signature(type(self).__init__).parameters.values()
        }
        shown = []
        for key, value in self.get_params().items():
            default = defaults.get(key, inspect.Parameter.empty)
            try:
                same = default is not inspect.Parameter.empty and bool(default == value)
            except Exception:  # noqa: BLE001 - arrays and friends
                same = False
            if not same:
                shown.append(f"{key}={value!r}")
        return f"{type(self).__name__}({', '.join(shown)})"


class FittedResultMixin:
    """``result_``: the result object of the last ``fit`` (stored in ``_result``)."""

    _result = None

    @property
    def result_(self):
        """The result of the last :meth:`fit`; raises :class:`NotFittedError` before it."""
        if self._result is None:
            raise NotFittedError(f"this {type(self).__name__} is not fitted yet; call fit(...) first.")
        return self._result


def check_fitted(est, attribute: str = "coef_") -> None:
    """Raise :class:`NotFittedError` unless ``est`` has ``attribute``."""
    if not hasattr(est, attribute):
        raise NotFittedError(
            f"this {type(est).__name__} is not fitted yet; call fit(...) first "
            f"(or load a saved model with {type(est).__name__}.load(path))."
        )


def jsonable(obj):
    """Convert numpy scalars/arrays and tuples inside ``obj`` to JSON types (keeps NaN/inf)."""
    return to_jsonable(obj, nan_as_null=False)


def save_json(d: dict, path: str | Path) -> Path:
    """Write ``d`` as JSON (NaN/inf allowed, as JavaScript literals)."""
    path = Path(path)
    path.write_text(json.dumps(jsonable(d), indent=1))
    return path


def load_json(path: str | Path, kind: str) -> dict:
    """Read a JSON model file and check that it holds a ``kind`` model."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"model file {str(path)!r} does not exist")
    d = json.loads(path.read_text())
    check_kind(d, kind)
    return d


def check_kind(d: dict, kind: str) -> None:
    """Check the ``kind`` and ``format_version`` of a saved model dictionary."""
    if d.get("kind") != kind:
        raise ValueError(f"this file holds a {d.get('kind')!r} model, not a {kind!r} model; "
                         f"load it with {d.get('kind')}.load(path).")
    if int(d.get("format_version", 0)) > FORMAT_VERSION:
        raise ValueError(f"the model was saved by a newer apcfair (format version "
                         f"{d.get('format_version')} > {FORMAT_VERSION}); upgrade apcfair.")


class JSONModelMixin:
    """``save``/``load`` as JSON (never pickle) for models with ``to_dict``/``from_dict``."""

    def save(self, path: str | Path) -> Path:
        """Write the fitted model as JSON (no pickle)."""
        return save_json(self.to_dict(), path)

    @classmethod
    def load(cls, path: str | Path):
        """Read a model written by :meth:`save`."""
        return cls.from_dict(load_json(path, cls.__name__))
