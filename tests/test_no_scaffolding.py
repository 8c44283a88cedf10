"""Scaffolding for code that was once missing stays gone: no import guarded against the absence of
a module the project itself ships or requires (the code behind it would be dead)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).parents[1]
PACKAGES = ("wallet", "sharing", "consent", "holder_api")


def _guarded_imports(tree: ast.AST) -> list[int]:
    """Lines of ``try: <import or importlib.import_module> except ImportError`` blocks."""
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Try):
            continue
        catches = {ast.unparse(h.type) for h in node.handlers if h.type is not None}
        if not catches & {"ImportError", "ModuleNotFoundError"}:
            continue
        body = ast.unparse(ast.Module(body=node.body, type_ignores=[]))
        if "import" in body:
            found.append(node.lineno)
    return found


def test_no_import_guards_in_the_packages() -> None:
    offenders = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            lines = _guarded_imports(ast.parse(path.read_text(encoding="utf-8")))
            if lines:
                offenders[str(path.relative_to(ROOT))] = lines
    assert offenders == {}


def test_the_rule_fires_on_a_guard() -> None:
    guarded = ("import importlib\n\ntry:\n    m = importlib.import_module('wallet.x509')\n"
               "except ImportError:\n    m = None\n")
    assert _guarded_imports(ast.parse(guarded)) == [3]
    assert _guarded_imports(ast.parse("try:\n    x = 1\nexcept ValueError:\n    x = 2\n")) == []
