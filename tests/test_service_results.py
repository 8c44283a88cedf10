"""Services return typed results: no wire-shaped ``dict[str, Any]`` at a service boundary.

The boundary is every public method of the services the HTTP handlers are given (the fields of
:class:`holder_api.appkeys.Services`) and of every ``*Service``, ``*Flow`` and ``*Ledger`` class
in ``wallet``, ``sharing`` and ``consent``. A method there returns dataclasses, TypedDicts (for
what is stored or sent as JSON: a sealed record's data, a verification, a bundle) or plain
values. ``Any``, ``object``, a bare ``dict``/``list``, and a dict or mapping of ``object`` may
not appear anywhere in its return type (``list[dict[str, Any]]`` included), nor in a member of a
dataclass or TypedDict it returns, nor in one such a member holds, at any depth, unless the
member is listed in ``OPAQUE_FIELDS`` (arbitrary JSON someone else wrote) or its TypedDict in
``DOCUMENTS`` (a published document whose schema is its own). The JSON the API sends is shaped in
``holder_api/serialise``.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import typing
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, fields, is_dataclass
from typing import Any, NotRequired, TypedDict, is_typeddict

import pytest

from holder_api.appkeys import Services

PACKAGES = ("wallet", "sharing", "consent")
#: Classes that are services by name: what the handlers reach, and what those delegate to.
_SUFFIXES = ("Service", "Flow", "Ledger")


#: Types that say nothing of what they hold: as such, or as the values of a dict/mapping.
_VAGUE = (Any, object)
_BARE = (dict, list, Mapping, tuple, set, frozenset)


def _untyped(tp: object) -> bool:
    """Whether a type is, or holds, ``Any``, ``object``, a bare container, or a dict/mapping of
    ``object`` (``list[dict[str, Any]]``, ``tuple[Mapping[str, object], str]``...)."""
    if tp in _VAGUE or tp in _BARE:
        return True
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (dict, Mapping) and args and args[-1] in _VAGUE:
        return True
    return any(_untyped(a) for a in args if a is not Ellipsis)


#: Members that may hold ``Any``: each is arbitrary JSON someone other than Satchel wrote.
OPAQUE_FIELDS: dict[str, str] = {
    "wallet.credentials.CredentialDetail.claims":
        "a credential's own claims: arbitrary JSON, as its issuer wrote them",
    "sharing.share_links.ShareView.claims":
        "the claims a holder disclosed: a credential's own claims, arbitrary JSON",
    "wallet.vault.model.CredentialData.claims":
        "a stored credential's own claims: arbitrary JSON, as its issuer wrote them",
    "wallet.microcred.model.ElementDocument.value":
        "an Annex I element's value, taken from the credential's claims as its issuer wrote them",
    "wallet.microcred.portfolio.PortfolioEntry.title":
        "the title element's value (ElementDocument.value), as the credential gave it",
    "wallet.microcred.portfolio.PortfolioEntry.eqf":
        "the EQF level as the credential states it (a number or the issuer's text)",
    "wallet.receive.push.PushPayload.offer":
        "a credential offer as the issuer pushed it (OpenID4VCI §4.1.1), read when accepted",
    "wallet.receive.push.PushPayload.credential":
        "a credential as the issuer pushed it (a JSON-LD document), checked when accepted",
    "sharing.dcql.query.CredentialQuery.meta":
        "a verifier's DCQL meta (§6.1): format-specific, kept uninterpreted for other formats",
}

#: TypedDicts returned whole as a published document: their members follow its schema.
DOCUMENTS: dict[str, str] = {
    "consent.documents.ExportBundle": "the export bundle, shaped by export_bundle.schema.json",
    "consent.documents.ExportedEntry": "a ledger record of the bundle (its schema's ledger)",
    "consent.documents.ExportedHead": "the signed head of the bundle's ledger (its schema)",
    "consent.documents.BundleSchema": "a JSON Schema 2020-12 document, sent as written",
    "consent.documents.JwkSet": "an RFC 7517 JWK Set, published for verifiers",
}


def _name(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def _records_in(tp: object) -> Iterator[type]:
    """The dataclasses and TypedDicts a type is, or holds (in a list, a union, a tuple...)."""
    if isinstance(tp, type) and (is_dataclass(tp) or is_typeddict(tp)):
        yield tp
    for a in typing.get_args(tp):
        yield from _records_in(a)


def _field_types(cls: type) -> dict[str, object]:
    try:
        return typing.get_type_hints(cls)
    except NameError:  # a name imported only for type checking: judge the written annotation
        written = {f.name: f.type for f in fields(cls)} if is_dataclass(cls) else {
            name: tp for c in reversed(cls.__mro__) for name, tp in vars(c).get(
                "__annotations__", {}).items()}
        return {name: Any if "Any" in str(tp) or "str, object]" in str(tp) else None
                for name, tp in written.items()}


def _untyped_fields(tp: object, seen: set[type] | None = None) -> Iterator[str]:
    """``module.Class.member`` of each untyped member of the dataclasses and TypedDicts ``tp``
    holds, and of those their members hold, at any depth, less ``OPAQUE_FIELDS`` (a
    TypedDict in ``DOCUMENTS`` is not looked into)."""
    seen = set() if seen is None else seen
    for cls in _records_in(tp):
        if cls in seen or _name(cls) in DOCUMENTS:
            continue
        seen.add(cls)
        for name, ftp in _field_types(cls).items():
            where = f"{_name(cls)}.{name}"
            if _untyped(ftp) and where not in OPAQUE_FIELDS:
                yield where
            yield from _untyped_fields(ftp, seen)


def _return_type(fn: Any) -> object:
    try:
        hints = typing.get_type_hints(fn)
    except NameError:  # a name imported only for type checking: judge the written annotation
        written = inspect.get_annotations(fn).get("return", "")
        return Any if "Any" in str(written) or "str, object]" in str(written) else None
    return hints.get("return")


def _methods(cls: type) -> Iterator[tuple[str, Any]]:
    for name, fn in inspect.getmembers(cls, inspect.isfunction):
        if not name.startswith("_") and fn.__module__.split(".")[0] in PACKAGES:
            yield name, fn


def _service_classes() -> set[type]:
    found: set[Any] = set(typing.get_type_hints(Services).values())
    for package in PACKAGES:
        root = importlib.import_module(package)
        for info in pkgutil.walk_packages(root.__path__, f"{package}."):
            module = importlib.import_module(info.name)
            found.update(cls for name, cls in vars(module).items()
                         if inspect.isclass(cls) and name.endswith(_SUFFIXES)
                         and cls.__module__ == module.__name__)
    return {c for c in found if isinstance(c, type)}


def violations(classes: set[type]) -> list[str]:
    found = set()
    for cls in classes:
        for name, fn in _methods(cls):
            method = f"{cls.__module__}.{cls.__qualname__}.{name}"
            returned = _return_type(fn)
            if _untyped(returned):
                found.add(method)
            found.update(f"{method} -> {f}" for f in _untyped_fields(returned))
    return sorted(found)


def test_public_service_methods_return_typed_results() -> None:
    classes = _service_classes()
    names = {c.__name__ for c in classes}
    assert {"CredentialService", "ReceiveService", "PresentationService", "ShareLinkService",
            "LearnerLedger", "RightsService", "AccountService", "ConsentService",
            "InboxService", "OfferFlow", "Ledger"} <= names
    assert violations(classes) == []


# -- the rule fires -----------------------------------------------------------------------------

class _Document(TypedDict):
    format: str


@dataclass(frozen=True)
class _Result:
    body: dict[str, Any]  # a wire-shaped field: fires


@dataclass(frozen=True)
class _Inner:
    extra: Any  # one level down: fires


@dataclass(frozen=True)
class _Outer:
    name: str
    inner: list[_Inner]
    document: _Document  # a TypedDict: typed


@dataclass(frozen=True)
class _Clean:
    name: str
    count: int | None


class _Signature(TypedDict):
    field: str
    signer: dict[str, Any]  # three levels down, in a TypedDict: fires


class _Report(TypedDict):
    verdict: str
    signatures: list[_Signature]
    note: NotRequired[object]  # ``object``: fires


class _Node(TypedDict):  # recursive, as a nested origin is
    id: str
    origin: NotRequired[_Node]


@dataclass(frozen=True)
class _Detail:
    report: _Report
    rows: list[dict[str, Any]]  # a list of wire dicts: fires
    tree: _Node
    raw: dict  # type: ignore[type-arg]  # bare: fires


class _Published(TypedDict):
    body: dict[str, Any]  # fires, unless the document is listed in DOCUMENTS


class _BadService:
    async def wire(self) -> dict[str, Any]:
        return {}

    def listed(self) -> list[dict[str, Any]]:
        return []

    async def paired(self) -> tuple[dict[str, Any], str | None]:
        return {}, None

    def loose(self) -> Mapping[str, object]:
        return {}

    def anything(self) -> Any:
        return None

    async def typed(self) -> _Result:
        return _Result({})

    async def nested(self) -> tuple[_Outer, str]:
        return _Outer("x", [], {"format": "x"}), ""

    def clean(self) -> list[_Clean]:
        return []

    def document(self) -> _Document:
        return {"format": "x"}

    def plain(self) -> list[tuple[str, int]] | None:
        return None

    async def detail(self) -> _Detail:
        return _Detail({"verdict": "x", "signatures": []}, [], {"id": "x"}, {})

    def published(self) -> tuple[_Published, str]:
        return {"body": {}}, ""

    def bare(self) -> list:  # type: ignore[type-arg]
        return []

    def vague(self) -> object:
        return None

    def _private(self) -> dict[str, Any]:
        return {}


_BadService.__module__ = "wallet.synthetic"
for _fn in vars(_BadService).values():
    if inspect.isfunction(_fn):
        _fn.__module__ = "wallet.synthetic"


def test_the_rule_fires_on_a_synthetic_service() -> None:
    here = f"{__name__}."
    assert violations({_BadService}) == sorted([
        *(f"wallet.synthetic._BadService.{m}"
          for m in ("anything", "bare", "listed", "loose", "paired", "vague", "wire")),
        f"wallet.synthetic._BadService.nested -> {here}_Inner.extra",
        f"wallet.synthetic._BadService.typed -> {here}_Result.body",
        *(f"wallet.synthetic._BadService.detail -> {here}{m}"
          for m in ("_Detail.raw", "_Detail.rows", "_Report.note", "_Signature.signer")),
        f"wallet.synthetic._BadService.published -> {here}_Published.body"])


def test_an_opaque_field_passes_only_when_listed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(OPAQUE_FIELDS, f"{__name__}._Result.body", "synthetic: a document")
    monkeypatch.setitem(OPAQUE_FIELDS, f"{__name__}._Signature.signer", "synthetic: a document")
    found = violations({_BadService})
    assert not [v for v in found if "_Result" in v or "_Signature" in v]
    assert f"wallet.synthetic._BadService.detail -> {__name__}._Report.note" in found


def test_a_listed_document_is_not_looked_into(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(DOCUMENTS, f"{__name__}._Published", "synthetic: a published document")
    assert not [v for v in violations({_BadService}) if "_Published" in v]


def _member_type(where: str) -> object:
    module, cls_name, name = where.rsplit(".", 2)
    cls = getattr(importlib.import_module(module), cls_name)
    members = _field_types(cls)
    assert name in members, where
    return members[name]


def test_every_opaque_field_exists_says_why_and_is_untyped() -> None:
    """An entry whose member got a type is stale: the allowlist shrinks with it."""
    for where, reason in OPAQUE_FIELDS.items():
        assert _untyped(_member_type(where)), f"{where} is typed now: drop it from OPAQUE_FIELDS"
        assert reason.strip() and "\n" not in reason, where


def test_every_document_is_a_typeddict_and_says_why() -> None:
    for where, reason in DOCUMENTS.items():
        module, name = where.rsplit(".", 1)
        assert is_typeddict(getattr(importlib.import_module(module), name)), where
        assert reason.strip() and "\n" not in reason, where


@pytest.mark.parametrize("tp", [list[dict[str, Any]], dict[str, object], Mapping[str, Any],
                                tuple[str, Mapping[str, object]] | None, Any, object, dict,
                                list, str | list[Any]])
def test_untyped_shapes(tp: object) -> None:
    assert _untyped(tp)


@pytest.mark.parametrize("tp", [list[tuple[str, int]], dict[str, str], Mapping[str, int] | None,
                                _Report, list[_Clean], str])
def test_typed_shapes(tp: object) -> None:
    assert not _untyped(tp)
