"""The README's environment reference names every setting config.py reads."""
from __future__ import annotations

import ast
import re

from tests.support.helpers import ROOT


def _settings_read_from_environment() -> set[str]:
    names = set()
    for node in ast.walk(ast.parse((ROOT / "config.py").read_text())):
        if isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            function = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            if function in {"_env", "_env_int", "_env_bool", "get"} and isinstance(node.args[0].value, str):
                names.add(node.args[0].value)
    return {name for name in names if re.fullmatch(r"[A-Z][A-Z0-9_]+", name)}


def test_every_environment_setting_is_in_the_readme_table():
    readme = (ROOT / "README.md").read_text()
    table = readme[readme.index("## Configuration"):readme.index("## Production settings")]
    documented = set(re.findall(r"^\| `([A-Z0-9_]+)`", table, re.MULTILINE)) | set(
        re.findall(r"^\| `[A-Z0-9_]+` / `([A-Z0-9_]+)`", table, re.MULTILINE)) | set(
        re.findall(r"^\| `[A-Z0-9_]+` \(or `([A-Z0-9_]+)`\)", table, re.MULTILINE))
    read = _settings_read_from_environment()
    assert len(read) > 40
    assert read - documented == set()
