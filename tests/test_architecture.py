"""Architecture rules (docs/architecture.md), checked on the import graph of the four packages,
and the rules of the test tree (fixtures in conftest.py, no test module importing another).

Each rule is one :class:`Rule` in :data:`RULES`: which modules it applies to, which imported names
(dotted prefixes; a trailing ``*`` means a raw prefix) it forbids, what it still allows, and whether
it follows project-internal imports transitively. Imports are read from the AST, so they count
wherever they appear (module level, functions), except under ``if TYPE_CHECKING:``. Attribute use
through an imported module (``aiohttp.ClientSession`` after ``import aiohttp``) counts as a
reference, as do constant ``importlib.import_module("x")`` / ``__import__("x")`` calls.

To add a rule: append to :data:`RULES`, and add a bad module to the synthetic tree in
:func:`test_rules_fire_on_a_synthetic_bad_tree` to prove it fires.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("wallet", "sharing", "consent", "holder_api")


@dataclass
class Module:
    name: str
    path: Path
    imports: set[str] = field(default_factory=set)  # absolute dotted names imported (runtime)
    refs: set[str] = field(default_factory=set)  # imports + attribute references through them
    declares_pure: bool = False


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _dotted(node: ast.expr) -> list[str] | None:
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return parts[::-1]
    return None


def _resolve_relative(module: str, is_package: bool, level: int, target: str | None) -> str:
    if level == 0:
        return target or ""
    base = module.split(".")
    if not is_package:
        base = base[:-1]
    base = base[: len(base) - (level - 1)] if level > 1 else base
    return ".".join(base + ([target] if target else []))


_PURE_DOC = re.compile(r"^\s*Pure:", re.M)


def parse_module(name: str, path: Path) -> Module:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    mod = Module(name, path)
    doc = ast.get_docstring(tree) or ""
    mod.declares_pure = bool(_PURE_DOC.search(doc)) or any(
        isinstance(n, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__pure__"
                                          for t in n.targets)
        and isinstance(n.value, ast.Constant) and n.value.value is True
        for n in tree.body)
    is_package = path.name == "__init__.py"
    bindings: dict[str, str] = {}

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            for alias in node.names:
                mod.imports.add(alias.name)
                if alias.asname:
                    bindings[alias.asname] = alias.name
                else:
                    root = alias.name.split(".")[0]
                    bindings[root] = root
        elif isinstance(node, ast.ImportFrom):
            base = _resolve_relative(name, is_package, node.level, node.module)
            for alias in node.names:
                full = f"{base}.{alias.name}" if alias.name != "*" else base
                mod.imports.add(full)
                bindings[alias.asname or alias.name] = full
        elif isinstance(node, ast.Call):
            fn = _dotted(node.func)
            if fn in (["importlib", "import_module"], ["import_module"], ["__import__"]) and \
                    node.args and isinstance(node.args[0], ast.Constant) and \
                    isinstance(node.args[0].value, str):
                mod.imports.add(node.args[0].value)
        elif isinstance(node, ast.Attribute):
            parts = _dotted(node)
            if parts and parts[0] in bindings:
                mod.refs.add(".".join([bindings[parts[0]], *parts[1:]]))
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    mod.refs |= mod.imports
    return mod


def load_modules(root: Path, packages: Iterable[str] = PACKAGES) -> dict[str, Module]:
    modules: dict[str, Module] = {}
    for pkg in packages:
        base = root / pkg
        if not base.is_dir():
            continue
        for path in sorted(base.rglob("*.py")):
            rel = path.relative_to(root).with_suffix("")
            parts = list(rel.parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            modules[".".join(parts)] = parse_module(".".join(parts), path)
    return modules


def _internal_deps(mod: Module, modules: dict[str, Module]) -> set[str]:
    """Project modules that importing ``mod`` executes (each import's module and its parents)."""
    own = mod.name.split(".")
    out = {".".join(own[:i]) for i in range(1, len(own))} & set(modules)  # its parent packages
    for imp in mod.imports:
        parts = imp.split(".")
        for i in range(1, len(parts) + 1):
            candidate = ".".join(parts[:i])
            if candidate in modules and candidate != mod.name:
                out.add(candidate)
    return out


def _closure(start: str, modules: dict[str, Module]) -> dict[str, list[str]]:
    """Every project module reachable from ``start``, with the import chain that reaches it."""
    chains = {start: [start]}
    todo = [start]
    while todo:
        cur = todo.pop()
        for dep in sorted(_internal_deps(modules[cur], modules)):
            if dep not in chains:
                chains[dep] = [*chains[cur], dep]
                todo.append(dep)
    return chains


def _matches(ref: str, pattern: str) -> bool:
    if pattern.endswith("*"):
        return ref.startswith(pattern[:-1])
    return ref == pattern or ref.startswith(pattern + ".")


def _in(name: str, patterns: Iterable[str]) -> bool:
    return any(_matches(name, p) for p in patterns)


@dataclass(frozen=True)
class Rule:
    name: str
    applies: Callable[[Module], bool]
    forbidden: tuple[str, ...]
    allowed: tuple[str, ...] = ()
    transitive: bool = False

    def violations(self, modules: dict[str, Module]) -> list[tuple[str, str, str]]:
        """``(module, forbidden reference, via)`` for every breach."""
        found: list[tuple[str, str, str]] = []
        for mod in modules.values():
            if not self.applies(mod):
                continue
            chains = _closure(mod.name, modules) if self.transitive else {mod.name: [mod.name]}
            for reached, chain in chains.items():
                for ref in sorted(modules[reached].refs):
                    if _in(ref, self.forbidden) and not _in(ref, self.allowed):
                        found.append((mod.name, ref, " -> ".join(chain)))
        return found


HTTP_CLIENTS = (
    "aiohttp.ClientSession", "aiohttp.request", "aiohttp.TCPConnector", "aiohttp.BaseConnector",
    "aiohttp.UnixConnector", "aiohttp.client", "aiohttp.connector", "httpx", "requests",
    "urllib.request", "urllib3", "http.client", "pycurl", "aiohttp_retry",
)
IO_LIBRARIES = ("aiohttp", "aries_askar", "sqlalchemy", "asyncpg", "aiosqlite")
PURE_PATTERNS = ("wallet.formats", "wallet.status_list", "wallet.jose", "wallet.crypto",
                 "wallet.ports", "sharing.dcql", "wallet.microcred")


def is_pure(mod: Module) -> bool:
    return mod.declares_pure or _in(mod.name, PURE_PATTERNS)


def _package(*names: str) -> Callable[[Module], bool]:
    return lambda m: _in(m.name, names)


RULES: tuple[Rule, ...] = (
    Rule("only wallet.net opens HTTP connections",
         applies=lambda m: m.name != "wallet.net", forbidden=HTTP_CLIENTS),
    Rule("only holder_api imports aiohttp.web",
         applies=lambda m: not _in(m.name, ("holder_api",)),
         forbidden=("aiohttp.web*",)),
    Rule("pure modules import no I/O library, not even transitively",
         applies=is_pure, forbidden=IO_LIBRARIES, transitive=True),
    # consent.rights is the one module that orchestrates wallet + consent for the GDPR rights
    # (docs/architecture.md: the GDPR rights orchestrate wallet + consent from one service module).
    Rule("consent uses only wallet.crypto, wallet.errors, wallet.jose, the wallet.ports protocols "
         "and the one clock (wallet.clock)",
         applies=lambda m: _in(m.name, ("consent",)) and m.name != "consent.rights",
         forbidden=("wallet",),
         allowed=("wallet.crypto", "wallet.errors", "wallet.jose", "wallet.ports", "wallet.clock")),
    # The direction of the packages: holder_api -> sharing -> wallet, holder_api -> consent -> wallet.
    Rule("wallet imports none of sharing, consent, holder_api",
         applies=_package("wallet"), forbidden=("sharing", "consent", "holder_api")),
    Rule("sharing imports neither consent nor holder_api",
         applies=_package("sharing"), forbidden=("consent", "holder_api")),
    Rule("consent imports neither sharing nor holder_api",
         applies=_package("consent"), forbidden=("sharing", "holder_api")),
)


def all_violations(root: Path) -> dict[str, list[tuple[str, str, str]]]:
    modules = load_modules(root)
    return {rule.name: v for rule in RULES if (v := rule.violations(modules))}


def test_the_code_base_follows_the_rules() -> None:
    modules = load_modules(ROOT)
    # the rules are not vacuous: the modules they are about are seen
    assert {"wallet.net", "wallet.jose", "wallet.ports", "wallet.status_list.token"} <= set(modules)
    assert is_pure(modules["wallet.jose"]) and is_pure(modules["wallet.status_list.checker"])
    assert any("aiohttp.ClientSession" in r for r in modules["wallet.net"].refs)
    assert all_violations(ROOT) == {}


def _write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)


def test_rules_fire_on_a_synthetic_bad_tree(tmp_path: Path) -> None:
    _write(tmp_path, {
        "wallet/__init__.py": "",
        "wallet/errors.py": "",
        "wallet/helper.py": "import aiohttp\n",
        "wallet/net.py": "import aiohttp\n\nS = aiohttp.ClientSession\n",
        "wallet/formats/__init__.py": "",
        "wallet/formats/bad.py": "from wallet import helper\n",  # transitive aiohttp
        "wallet/formats/relative.py": "from .. import helper\n",
        "wallet/formats/typing_only.py": (
            "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import sqlalchemy\n"),
        "wallet/selfpure.py": '"""Thing.\n\nPure: no I/O.\n"""\nimport sqlalchemy.orm\n',
        "wallet/impure_ok.py": "import sqlalchemy\n",  # not pure: allowed
        "wallet/dynamic.py": "import importlib\n\nimportlib.import_module('requests')\n",
        "wallet/upward.py": "from sharing import present\n",
        "wallet/upward_lazy.py": "def f():\n    import consent.ledger\n",
        "wallet/upward_api.py": "from holder_api.appkeys import SERVICES\n",
        "sharing/__init__.py": "",
        "sharing/web.py": "from aiohttp import web\n",
        "sharing/web_sub.py": "import aiohttp.web_response\n",
        "sharing/client.py": "import aiohttp as ah\n\n\nasync def f():\n    ah.ClientSession()\n",
        "sharing/urllib_user.py": "def f():\n    from urllib.request import urlopen\n",
        "sharing/dcql/__init__.py": "from . import match\n",
        "sharing/dcql/inner.py": "X = 1\n",  # pure, but its parent package imports aiohttp
        "sharing/dcql/match.py": "from wallet.formats import bad\n",  # pure, reaches aiohttp
        "sharing/records.py": "from consent.service import ConsentService\n",
        "sharing/routes.py": "from holder_api import app\n",
        "sharing/down_ok.py": "from wallet.errors import BadInput\n",  # the allowed direction
        "consent/__init__.py": "",
        "consent/ok.py": "from wallet import errors\nfrom wallet.jose import b64url_encode\n",
        "consent/bad.py": "from wallet.helper import thing\n",
        "consent/sideways.py": "from ..sharing import share_links\n",
        "consent/up.py": "import holder_api.settings\n",
        "holder_api/__init__.py": "",
        "holder_api/app.py": "from aiohttp import web\nimport sharing\nimport consent\n",
    })
    got = {(rule, mod, ref) for rule, vs in all_violations(tmp_path).items() for mod, ref, _ in vs}
    client, web, pure, consent, wallet_up, sharing_up, consent_up = (r.name for r in RULES)
    assert got == {
        (client, "wallet.dynamic", "requests"),
        (client, "sharing.client", "aiohttp.ClientSession"),
        (client, "sharing.urllib_user", "urllib.request.urlopen"),
        (web, "sharing.web", "aiohttp.web"),
        (web, "sharing.web_sub", "aiohttp.web_response"),
        (pure, "wallet.formats.bad", "aiohttp"),
        (pure, "wallet.formats.relative", "aiohttp"),
        (pure, "wallet.selfpure", "sqlalchemy.orm"),
        (pure, "sharing.dcql.match", "aiohttp"),
        (pure, "sharing.dcql", "aiohttp"),
        (pure, "sharing.dcql.inner", "aiohttp"),
        (consent, "consent.bad", "wallet.helper.thing"),
        (wallet_up, "wallet.upward", "sharing.present"),
        (wallet_up, "wallet.upward_lazy", "consent.ledger"),
        (wallet_up, "wallet.upward_api", "holder_api.appkeys.SERVICES"),
        (sharing_up, "sharing.records", "consent.service.ConsentService"),
        (sharing_up, "sharing.routes", "holder_api.app"),
        (consent_up, "consent.sideways", "sharing.share_links"),
        (consent_up, "consent.up", "holder_api.settings"),
    }
    chains = {mod: via for vs in all_violations(tmp_path).values() for mod, _, via in vs}
    assert chains["sharing.dcql.match"] == ("sharing.dcql.match -> wallet.formats.bad -> "
                                            "wallet.helper")


# --- the test tree: tests share fixtures (conftest.py) and helpers (support modules), not modules --

def _is_fixture(node: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    for deco in node.decorator_list:
        target = deco.func if isinstance(deco, ast.Call) else deco
        if (_dotted(target) or [])[-1:] == ["fixture"]:
            return True
    return False


def tree_violations(tests_root: Path) -> list[str]:
    """What breaks the test-tree rules under ``tests_root`` (a folder named ``tests``):

    - no module imports a test module (``test_*.py``): what two test modules share lives in a
      ``conftest.py`` (fixtures) or a support module (plain helpers);
    - no module imports a ``conftest.py``: pytest loads those for their fixtures and hooks; a
      helper they would hand out by name lives in a support module (``tests/support/``);
    - a support module (neither ``test_*.py`` nor ``conftest.py``) defines no fixture: fixtures are
      found by pytest through ``conftest.py``, not imported by name;
    - nothing in a ``conftest.py`` is named ``test_*`` (pytest would not collect it, and a reader
      would take it for a test).
    """
    found: list[str] = []
    root = tests_root.parent
    for path in sorted(tests_root.rglob("*.py")):
        if "vectors" in path.relative_to(tests_root).parts:
            continue
        rel = path.relative_to(root)
        name = ".".join(rel.with_suffix("").parts).removesuffix(".__init__")
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = _resolve_relative(name, path.name == "__init__.py", node.level, node.module)
                targets = [base] + [f"{base}.{a.name}" for a in node.names]
            conftests: set[str] = set()
            for target in targets:
                parts = target.split(".")
                if parts[0] == tests_root.name and any(p.startswith("test_") for p in parts[1:]) \
                        and (root / Path(*parts)).with_suffix(".py").is_file():
                    found.append(f"{rel}: imports the test module {target}")
                if parts[0] == tests_root.name and "conftest" in parts[1:]:
                    conftests.add(".".join(parts[:parts.index("conftest", 1) + 1]))
            found += [f"{rel}: imports the conftest {c}" for c in sorted(conftests)]
        functions = [n for n in ast.walk(tree)
                     if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
        if path.name == "conftest.py":
            found += [f"{rel}: {n.name} in a conftest looks like a test" for n in tree.body
                      if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
                      and n.name.startswith(("test_", "Test"))]
        elif not path.name.startswith("test_"):
            found += [f"{rel}: fixture {n.name} outside a conftest" for n in functions
                      if _is_fixture(n)]
    return found


def test_tests_share_fixtures_not_modules() -> None:
    tests_root = ROOT / "tests"
    assert (tests_root / "holder_api" / "conftest.py").is_file()  # the walk sees the real tree
    assert tree_violations(tests_root) == []


def test_the_test_tree_rules_fire_on_a_synthetic_bad_tree(tmp_path: Path) -> None:
    _write(tmp_path, {
        "tests/__init__.py": "",
        "tests/conftest.py": (
            "import pytest\n\n@pytest.fixture\ndef ca():\n    return 1\n\n"
            "def test_env():\n    return {}\n\nclass TestThing:\n    pass\n"),
        "tests/api/__init__.py": "",
        "tests/api/test_a.py": "def helper():\n    return 1\n\ndef test_a():\n    pass\n",
        "tests/api/test_b.py": "from tests.api.test_a import helper\n",
        "tests/api/test_c.py": "from .test_a import helper\n",
        "tests/api/test_d.py": "import tests.api.test_a\n",
        "tests/api/test_e.py": "from tests.api import test_a\n",
        "tests/api/test_ok.py": "from tests.api.support import helper\nfrom tests.api.testing import x\n",
        "tests/api/conftest.py": "from tests.conftest import ca\n",
        "tests/api/test_f.py": "from tests.conftest import ca\n",
        "tests/api/test_g.py": "import tests.api.conftest\n",
        "tests/api/test_h.py": "from . import conftest\n",
        "tests/api/test_i.py": "from .conftest import helper\n",
        "tests/api/test_j.py": "from tests.api.conftest_notes import x\n",
        "tests/api/conftest_notes.py": "x = 1\n",
        "tests/api/testing.py": "x = 1\n",
        "tests/api/support.py": (
            "import pytest\nfrom pytest import fixture\n\ndef helper():\n    return 1\n\n"
            "@pytest.fixture(name='peer')\ndef peer_fixture():\n    return 1\n\n"
            "@fixture\nasync def app():\n    return 1\n"),
    })
    assert set(tree_violations(tmp_path / "tests")) == {
        "tests/conftest.py: test_env in a conftest looks like a test",
        "tests/conftest.py: TestThing in a conftest looks like a test",
        "tests/api/test_b.py: imports the test module tests.api.test_a",
        "tests/api/test_c.py: imports the test module tests.api.test_a",
        "tests/api/test_d.py: imports the test module tests.api.test_a",
        "tests/api/test_e.py: imports the test module tests.api.test_a",
        "tests/api/support.py: fixture peer_fixture outside a conftest",
        "tests/api/support.py: fixture app outside a conftest",
        "tests/api/conftest.py: imports the conftest tests.conftest",
        "tests/api/test_f.py: imports the conftest tests.conftest",
        "tests/api/test_g.py: imports the conftest tests.api.conftest",
        "tests/api/test_h.py: imports the conftest tests.api.conftest",
        "tests/api/test_i.py: imports the conftest tests.api.conftest",
    }
