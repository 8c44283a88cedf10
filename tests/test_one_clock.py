"""One clock: production code reads the time only through an injected ``wallet.clock.Clock``, and
tests move time through the clock they injected, never by patching a service's attribute."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).parents[1]
PACKAGES = ("wallet", "sharing", "consent", "holder_api")
#: reading the wall clock; ``time.monotonic`` (durations) is not a reading of the time
_WALL = {"time.time", "datetime.now", "datetime.utcnow", "datetime.today", "date.today",
         "time.time_ns"}


def wall_clock_reads(tree: ast.AST) -> list[int]:
    return [node.lineno for node in ast.walk(tree)
            if isinstance(node, ast.Attribute) and ast.unparse(node) in _WALL]


def clock_patches(tree: ast.AST) -> list[int]:
    """Assignments to ``<something>.clock`` / ``._clock`` other than ``self.``'s own, and
    ``monkeypatch.setattr`` of a clock or of ``time``."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for t in targets:
                if (isinstance(t, ast.Attribute) and t.attr in ("clock", "_clock")
                        and not (isinstance(t.value, ast.Name) and t.value.id == "self")):
                    found.append(node.lineno)
        elif (isinstance(node, ast.Call) and ast.unparse(node.func).endswith("monkeypatch.setattr")
              and any("clock" in ast.unparse(a) or ast.unparse(a) in ("time", "'time'",
                                                                    "datetime", "'datetime'")
                      for a in node.args[:2])):
            found.append(node.lineno)
    return found


def test_production_reads_the_time_only_through_wallet_clock() -> None:
    offenders = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if path == ROOT / "wallet" / "clock.py":
                continue
            lines = wall_clock_reads(ast.parse(path.read_text(encoding="utf-8")))
            if lines:
                offenders[str(path.relative_to(ROOT))] = lines
    assert offenders == {}


def test_tests_never_patch_a_clock() -> None:
    offenders = {}
    for path in (ROOT / "tests").rglob("*.py"):
        if path == Path(__file__):
            continue
        lines = clock_patches(ast.parse(path.read_text(encoding="utf-8")))
        if lines:
            offenders[str(path.relative_to(ROOT))] = lines
    assert offenders == {}


def test_the_rules_fire() -> None:
    assert wall_clock_reads(ast.parse("import time\nt = time.time()\n")) == [2]
    assert wall_clock_reads(ast.parse("from datetime import datetime\nx = datetime.now(UTC)\n"))
    assert wall_clock_reads(ast.parse("import time\nt = time.monotonic()\n")) == []
    assert clock_patches(ast.parse("svc._clock = lambda: 0\n")) == [1]
    assert clock_patches(ast.parse("app.offers.clock = c\n")) == [1]
    assert clock_patches(ast.parse("def f(monkeypatch):\n    monkeypatch.setattr(x, '_clock', c)\n"))
    assert clock_patches(ast.parse("self._clock = clock\n")) == []
