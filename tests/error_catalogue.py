"""Every problem ``code`` Satchel can answer, found in the code: the catalogue docs/errors.md is
checked against (``tests/test_error_catalogue.py``), and the skeleton of its tables.

A code comes from two places: the ``code`` attribute of a :class:`wallet.errors.SatchelError`
subclass (with the class's ``status``), and a literal ``code="..."`` given where an error is raised
(with the status of the class raised there, e.g. ``Conflict(..., code="username_taken")`` is a
409). ``python -m tests.error_catalogue`` prints one Markdown row per code, grouped by area, with
the classes' titles and docstrings as a first draft of "when it happens".
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from wallet.errors import SatchelError, UpstreamError
from wallet.receive.errors import IssuerFailed

__all__ = ["AREAS", "Code", "area_of", "catalogue_rows", "every_code", "literal_code_sites",
           "misplaced_classes", "subclasses"]

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("wallet", "sharing", "consent", "holder_api")

#: (heading in docs/errors.md, module prefixes whose codes it holds), first match wins.
AREAS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Accounts and sessions", ("wallet.accounts", "wallet.errors:WeakPassphrase")),
    ("Receiving (OpenID4VCI, inbox)", ("wallet.oid4vci", "wallet.receive",
                                       "holder_api.web.views.receiving")),
    ("Verifying credentials", ("wallet.formats", "wallet.jose", "wallet.x509", "wallet.dids",
                               "wallet.status_list", "wallet.intake", "wallet.microcred",
                               "wallet.trust",
                               # the classes wallet.errors holds for those modules
                               *(f"wallet.errors:{name}" for name in (
                                   "InvalidJws", "InvalidAlg", "InvalidTyp", "Credential",
                                   "InvalidProof", "Certificate", "MalformedCertificate",
                                   "UntrustedChain", "Did", "InvalidDid",
                                   "VerificationMethodNotFound", "TrustListError")))),
    ("Presenting and share links", ("sharing",)),
    ("Consent ledger and your data", ("consent", "wallet.errors:StagedKindUnknown")),
    ("The web wallet", ("holder_api.web",)),
    ("General", ("",)),
)


@dataclass
class Code:
    """One problem code: every status it comes with, and where it is defined or raised."""

    code: str
    statuses: set[int] = field(default_factory=set)
    sources: list[str] = field(default_factory=list)  # "module:Class" or "path:line"
    titles: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # first docstring lines


def subclasses(cls: type[SatchelError]) -> Iterator[type[SatchelError]]:
    """``cls`` and every subclass of it, each once (a class with two error bases included)."""
    seen: set[type[SatchelError]] = set()
    todo = [cls]
    while todo:
        current = todo.pop(0)
        if current not in seen:
            seen.add(current)
            yield current
            todo.extend(current.__subclasses__())


def _import_everything() -> None:
    for pkg in PACKAGES:
        for mod in pkgutil.walk_packages(importlib.import_module(pkg).__path__, pkg + "."):
            if ".migrations" not in mod.name:
                importlib.import_module(mod.name)


def _raised_class(module: object, func: ast.expr) -> type[SatchelError] | None:
    """The class a call like ``Conflict(...)`` or ``errors.Conflict(...)`` makes, if an error."""
    names: list[str] = []
    while isinstance(func, ast.Attribute):
        names.insert(0, func.attr)
        func = func.value
    if not isinstance(func, ast.Name):
        return None
    obj = getattr(module, func.id, None)
    for name in names:
        obj = getattr(obj, name, None)
    return obj if isinstance(obj, type) and issubclass(obj, SatchelError) else None


def _literal_codes() -> Iterator[tuple[str, int | None, str]]:
    """``(code, status of the class raised, "path:line")`` for each ``code="..."`` in a call."""
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            rel = path.relative_to(ROOT)
            if "migrations" in rel.parts:
                continue
            module = importlib.import_module(".".join(rel.with_suffix("").parts)
                                             .removesuffix(".__init__"))
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if not isinstance(node, ast.Call):
                    continue
                for kw in node.keywords:
                    if kw.arg == "code" and isinstance(kw.value, ast.Constant) \
                            and isinstance(kw.value.value, str):
                        cls = _raised_class(module, node.func)
                        yield (kw.value.value, None if cls is None else cls.status,
                               f"{rel}:{node.lineno}")


def is_errors_module(module: str) -> bool:
    """Whether ``module`` is one of the packages' errors modules (``wallet.errors``,
    ``sharing.oid4vp.errors``...), where error classes are defined."""
    return module.rsplit(".", 1)[-1] == "errors"


def misplaced_classes() -> list[str]:
    """``module:Class`` of each error class defined outside an errors module."""
    _import_everything()
    return sorted(f"{cls.__module__}:{cls.__qualname__}" for cls in subclasses(SatchelError)
                  if not is_errors_module(cls.__module__))


def _text(node: ast.expr | None) -> str | None:
    """The string a node spells, if it is a string literal."""
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def literal_code_sites(root: Path = ROOT,
                       packages: tuple[str, ...] = PACKAGES) -> list[tuple[str, str]]:
    """``(path, code)`` for each problem code written as a literal outside an errors module:
    ``code="..."`` given to a call, ``x.code = "..."`` outside a class body, or a ``"code"``
    member of a dict display. An answer's code belongs to an error class, so that the catalogue,
    the class tree and ``except`` clauses all see it."""
    sites: list[tuple[str, str | None]] = []
    for pkg in packages:
        for path in sorted((root / pkg).rglob("*.py")):
            rel = path.relative_to(root)
            if "migrations" in rel.parts or rel.stem == "errors":
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Call):
                    sites += [(str(rel), _text(kw.value)) for kw in node.keywords
                              if kw.arg == "code"]
                elif isinstance(node, ast.Assign):
                    sites += [(str(rel), _text(node.value)) for t in node.targets
                              if isinstance(t, ast.Attribute) and t.attr == "code"]
                elif isinstance(node, ast.Dict):
                    sites += [(str(rel), _text(v)) for k, v in zip(node.keys, node.values,
                                                                    strict=True)
                              if _text(k) == "code"]
    return sorted((where, code) for where, code in sites if code is not None)


def every_code() -> dict[str, Code]:
    """Every problem code the services, the HTTP layer and the web pages can answer."""
    _import_everything()
    codes: dict[str, Code] = {}
    for cls in subclasses(SatchelError):
        entry = codes.setdefault(cls.code, Code(cls.code))
        entry.statuses.add(cls.status)
        entry.sources.append(f"{cls.__module__}:{cls.__qualname__}")
        if cls.title not in entry.titles:
            entry.titles.append(cls.title)
        doc = (cls.__dict__.get("__doc__") or "").strip().split("\n\n")[0]
        if doc:
            entry.notes.append(" ".join(doc.split()))
    # The offer flow answers an issuer's failure as the learner's problem, a 422 with the issuer's
    # own code (wallet/receive/offers.py, ``OfferFlow._issuer_failed``): each OpenID4VCI peer
    # error class reaches the client with that status as well as its own.
    for cls in subclasses(UpstreamError):
        if cls.__module__.startswith("wallet.oid4vci."):
            codes[cls.code].statuses.add(IssuerFailed.status)
            codes[cls.code].sources.append(f"as {IssuerFailed.__name__}: wallet/receive/offers.py")
    for code, status, where in _literal_codes():
        entry = codes.setdefault(code, Code(code))
        if status is not None:
            entry.statuses.add(status)
        entry.sources.append(where)
    return codes


def _dotted(source: str) -> str:
    """``module:Class`` as it is; ``path/to/file.py:12`` as ``path.to.file``."""
    where, _, rest = source.partition(":")
    return source if not where.endswith(".py") else where.removesuffix(".py").replace("/", ".")


def area_of(entry: Code) -> str:
    """The area (a heading of docs/errors.md) a code belongs to: that of its first source."""
    source = _dotted(entry.sources[0])
    for heading, prefixes in AREAS:
        if any(source.startswith(p) for p in prefixes):
            return heading
    return AREAS[-1][0]


#: A row of a catalogue table: `code` | status(es) | ...
_ROW = re.compile(r"^\|\s*`([^`]+)`\s*\|([^|]*)\|", re.MULTILINE)


def catalogue_rows(text: str) -> dict[str, list[set[int]]]:
    """code -> the statuses each of its rows names, from docs/errors.md's tables."""
    rows: dict[str, list[set[int]]] = {}
    for m in _ROW.finditer(text):
        rows.setdefault(m.group(1), []).append({int(s) for s in re.findall(r"\b\d{3}\b",
                                                                             m.group(2))})
    return rows


def _markdown() -> str:
    codes = every_code()
    out: list[str] = []
    for heading, _ in AREAS:
        members = sorted((c for c in codes.values() if area_of(c) == heading),
                         key=lambda c: c.code)
        out += [f"## {heading}", "", "| code | status | when | what to do |", "|---|---|---|---|"]
        for c in members:
            when = "; ".join(c.notes) or "; ".join(c.titles) or ", ".join(c.sources)
            out.append(f"| `{c.code}` | {', '.join(map(str, sorted(c.statuses)))} | {when} "
                       f"({', '.join(c.sources)}) | |")
        out.append("")
    return "\n".join(out)


if __name__ == "__main__":
    print(_markdown())
