"""The shape of the code holds as it grows: import-linter's contracts (.importlinter) run here.

The layers (cli -> worker / web -> services -> integrations / models -> domain), a pure domain
and capability packages without cycles are described in docs/architecture.md."""
from __future__ import annotations

import ast
import configparser
import os
import subprocess
import sys
from pathlib import Path

from tests.support.helpers import ROOT

LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def test_the_import_contracts_hold():
    result = subprocess.run([str(LINT_IMPORTS), "--config", str(ROOT / ".importlinter"), "--no-cache"], cwd=ROOT,
                            env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "0 broken" in result.stdout, result.stdout[-2000:]


def test_the_contracts_cover_the_layers_the_domain_and_the_capabilities():
    config = configparser.ConfigParser()
    config.read(ROOT / ".importlinter")
    contracts = {section.split(":")[-1]: config[section] for section in config.sections() if ":contract:" in section}
    assert set(contracts) >= {"layers", "pure-domain", "capabilities"}
    assert contracts["layers"]["layers"].split() == ["cli", "worker", "|", "web", "services", "integrations", "|",
                                                     "models", "domain"]
    forbidden = set(contracts["pure-domain"]["forbidden_modules"].split())
    assert {"flask", "flask_babel", "sqlalchemy", "config", "scheduler.extensions"} <= forbidden
    # Every capability package is a sibling the acyclic contract sees (a package added later is too).
    assert contracts["capabilities"]["ancestors"].split() == ["scheduler.services"]


def test_every_capability_package_says_what_belongs_there():
    for package in sorted((ROOT / "scheduler" / "services").iterdir()):
        if package.is_dir() and (package / "__init__.py").exists():
            text = (package / "__init__.py").read_text()
            assert text.startswith('"""') and len(text) > 40, f"{package.name}/__init__.py needs a docstring"


def test_every_public_service_function_says_whether_it_commits():
    """A caller must know whether a function ends the transaction (Commits), leaves it to
    them (In the caller's transaction) or only reads (Reads only)."""
    phrases = ("Commits", "caller's transaction", "Reads only")
    silent = []
    for path in sorted((ROOT / "scheduler" / "services").rglob("*.py")):
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.FunctionDef) and not node.name.startswith("_"):
                if not any(phrase in (ast.get_docstring(node) or "") for phrase in phrases):
                    silent.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name}")
    assert not silent, "say Commits. / In the caller's transaction. / Reads only. in:\n" + "\n".join(silent)
