"""Optional extras: the core imports and audits without them; a feature that needs one names it."""

import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest

from apcfair._optional import EXTRAS, MissingDependencyError, install_hint

ROOT = Path(__file__).resolve().parents[1]


def test_every_extra_in_the_code_is_declared_in_pyproject_and_dev_installs_it():
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = meta["optional-dependencies"]
    core = " ".join(meta["dependencies"])
    dev = " ".join(extras["dev"])
    for module, extra in EXTRAS.items():
        assert any(req.startswith(module) for req in extras[extra]), (module, extra)
        assert module not in core, f"{module} is optional (extra {extra!r}), not a core dependency"
        assert module in dev, f"pip install -e '.[dev]' must install {module} (CI needs every feature)"


def test_shap_contributions_without_shap_names_the_extra(monkeypatch):
    from sklearn.linear_model import LogisticRegression

    from apcfair.audit import shap_contributions

    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 2))
    model = LogisticRegression().fit(X, (X[:, 0] + rng.normal(size=200) > 0).astype(int))
    monkeypatch.setitem(sys.modules, "shap", None)  # import shap now raises ImportError
    with pytest.raises(MissingDependencyError, match=r'pip install "apcfair\[explain\]"') as info:
        shap_contributions(model, X)
    assert isinstance(info.value, ImportError)  # code catching ImportError keeps working
    assert install_hint("shap") == 'pip install "apcfair[explain]"'


def test_core_and_audit_run_without_the_optional_packages():
    """A fresh interpreter where every optional package is unimportable: apcfair, the audit and the CLI parser load."""
    blocked = ", ".join(repr(m) for m in EXTRAS)
    code = (f"import sys\nfor m in ({blocked},): sys.modules[m] = None\n"
            "import numpy as np\nimport apcfair, apcfair.audit, apcfair.cli\n"
            "from apcfair.audit import audit\n"
            "rng = np.random.default_rng(0); y = (rng.random(400) < 0.2).astype(int)\n"
            "r = audit(rng.random(400), y, {'g': rng.choice(['a', 'b'], 400)}, cutoff=0.5, n_boot=50)\n"
            "print('ok', len(r.gaps))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.startswith("ok")
