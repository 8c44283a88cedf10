"""Every verification finding code the verifiers can record (``verification.problems``), read
from the source: what a format module or intake puts into a ``problems`` list or tuple, or a
``problem`` field or argument (positionally too), the module constants it names there, the
problems a helper returns into a tuple, and the prefix of a code built with an f-string
(``"pdf_signer_certificate_*"``)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
#: where findings are made: the format modules, intake (credentials and PDFs), the status refresh
SOURCES = (*sorted((ROOT / "wallet" / "formats").rglob("*.py")), ROOT / "wallet" / "intake.py",
           ROOT / "wallet" / "pdf_intake.py", ROOT / "wallet" / "credentials.py")


def _about(name: str) -> bool:
    return "problem" in name


def _is_target(t: ast.expr) -> bool:
    if isinstance(t, ast.Name):
        return _about(t.id)
    if isinstance(t, ast.Attribute):
        return _about(t.attr)
    return (isinstance(t, ast.Subscript) and isinstance(t.slice, ast.Constant)
            and _about(str(t.slice.value)))


def _values(node: ast.AST, strings: set[str], names: set[str]) -> None:
    """The strings an expression can evaluate to (not those it only compares or tests) and the
    names it uses."""
    if isinstance(node, ast.Constant):
        if isinstance(node.value, str):
            strings.add(node.value)
    elif isinstance(node, ast.JoinedStr):
        head = node.values[0] if node.values else None
        if isinstance(head, ast.Constant) and isinstance(head.value, str):
            strings.add(head.value + "*")
    elif isinstance(node, ast.IfExp):
        _values(node.body, strings, names)
        _values(node.orelse, strings, names)
    elif isinstance(node, ast.ListComp | ast.GeneratorExp | ast.SetComp):
        _values(node.elt, strings, names)
    elif isinstance(node, ast.Name):
        names.add(node.id)
    elif not isinstance(node, ast.Compare | ast.Subscript | ast.Attribute | ast.Call):
        for child in ast.iter_child_nodes(node):
            _values(child, strings, names)


def _positions(trees: list[ast.Module]) -> dict[str, int]:
    """Callable name -> the position of its ``problem(s)`` argument (functions and dataclasses)."""
    found: dict[str, int] = {}
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                params = [a.arg for a in node.args.args]
            elif isinstance(node, ast.ClassDef):
                params = [s.target.id for s in node.body
                          if isinstance(s, ast.AnnAssign) and isinstance(s.target, ast.Name)]
            else:
                continue
            for i, name in enumerate(params):
                if _about(name):
                    found[node.name] = i
    return found


def _returns(trees: list[ast.Module]) -> dict[str, list[ast.Tuple]]:
    return {node.name: [r.value for r in ast.walk(node)
                        if isinstance(r, ast.Return) and isinstance(r.value, ast.Tuple)]
            for tree in trees for node in ast.walk(tree)
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)}


def _callee(call: ast.Call) -> str | None:
    f = call.func
    return f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else None


def finding_codes() -> set[str]:
    trees = [ast.parse(p.read_text(encoding="utf-8")) for p in SOURCES]
    positions, returns = _positions(trees), _returns(trees)
    made: list[ast.expr] = []
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign):
                for t in node.targets:
                    if isinstance(t, ast.Tuple) and isinstance(node.value, ast.Tuple):
                        made += [v for tt, v in zip(t.elts, node.value.elts, strict=False)
                                 if _is_target(tt)]
                    elif isinstance(t, ast.Tuple) and isinstance(node.value, ast.Call):
                        at = [i for i, tt in enumerate(t.elts) if _is_target(tt)]
                        for r in returns.get(_callee(node.value) or "", []):
                            made += [r.elts[i] for i in at if i < len(r.elts)]
                    elif _is_target(t):
                        made.append(node.value)
            elif isinstance(node, ast.AnnAssign) and node.value and _is_target(node.target):
                made.append(node.value)
            elif isinstance(node, ast.Call):
                f, name = node.func, _callee(node)
                if isinstance(f, ast.Attribute) and f.attr in ("append", "insert") \
                        and _is_target(f.value):
                    made += node.args[1:] if f.attr == "insert" else node.args
                elif name in positions and len(node.args) > positions[name]:
                    made.append(node.args[positions[name]])
                made += [k.value for k in node.keywords if k.arg and _about(k.arg)]
    strings: set[str] = set()
    names: set[str] = set()
    for value in made:
        _values(value, strings, names)
    constants = {t.id: n.value.value for p in (ROOT / "wallet").rglob("*.py")
                 for n in ast.parse(p.read_text(encoding="utf-8")).body
                 if isinstance(n, ast.Assign) and isinstance(n.value, ast.Constant)
                 and isinstance(n.value.value, str) for t in n.targets if isinstance(t, ast.Name)}
    return strings | {constants[n] for n in names if n in constants}
