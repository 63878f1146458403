"""The layering holds: import-linter's contracts in pyproject.toml ([tool.importlinter]) pass.

The contracts (docs/architecture.md, "Layers"): each package imports only from the layers below it;
``sdk`` imports nothing of Pulse; no import circle inside any package, at any depth. Every import
statement counts, lazy ones inside functions and ``TYPE_CHECKING`` ones included.
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUTSIDE_THE_LAYERS = {"bench", "tests"}  # benchmarks drive the whole platform


def _config() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]


def test_every_top_level_package_is_under_contract():
    # a folder with Python files right inside it: a package, or a namespace package (no __init__)
    packages = {p.parent.name for p in ROOT.glob("*/*.py")} - OUTSIDE_THE_LAYERS
    missing = packages - set(_config()["root_packages"])
    assert not missing, (
        f"{sorted(missing)} not in [tool.importlinter] root_packages of pyproject.toml: add it "
        "there, to the layers contract and to docs/architecture.md's layers"
    )


def test_import_contracts_are_kept():
    lint_imports = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run(
        [str(lint_imports), "--no-cache", "--no-logo", "--config", str(ROOT / "pyproject.toml")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    report = result.stdout + result.stderr
    assert result.returncode == 0, (
        f"import contracts broken (fix the import, not the contract):\n{report}"
    )
    kept = report.count(" KEPT")
    assert kept == len(_config()["contracts"]), report
