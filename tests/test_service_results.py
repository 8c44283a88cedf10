"""Services return typed results: no wire-shaped ``dict[str, Any]`` at a service boundary.

The boundary is every public method of the services the HTTP handlers are given (the fields of
:class:`holder_api.appkeys.Services`) and of every ``*Service``, ``*Flow`` and ``*Ledger`` class
in ``wallet``, ``sharing`` and ``consent``. A method there returns dataclasses, TypedDicts (for
what is truly a document: a bundle, a JWK Set, a raw credential) or plain values; ``Any``, and a
dict or mapping of ``object``, may not appear anywhere in its return type, nor in a field of a
dataclass it returns (or of a dataclass such a field holds), unless the field is listed in
``OPAQUE_FIELDS``. The JSON the API sends is shaped in ``holder_api/serialise``.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import typing
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, fields, is_dataclass
from typing import Any, TypedDict

import pytest

from holder_api.appkeys import Services

PACKAGES = ("wallet", "sharing", "consent")
#: Classes that are services by name: what the handlers reach, and what those delegate to.
_SUFFIXES = ("Service", "Flow", "Ledger")


def _untyped(tp: object) -> bool:
    """Whether a return type is, or holds, ``Any`` or a dict/mapping of ``object``."""
    if tp is Any:
        return True
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (dict, Mapping) and args and args[-1] in (Any, object):
        return True
    return any(_untyped(a) for a in args if a is not Ellipsis)


#: Dataclass fields that may hold ``Any``: each is a JSON document Satchel does not shape.
OPAQUE_FIELDS: dict[str, str] = {
    "wallet.credentials.CredentialDetail.claims":
        "a credential's own claims: arbitrary JSON, as its issuer wrote them",
    "sharing.share_links.ShareView.claims":
        "the claims a holder disclosed: a credential's own claims, arbitrary JSON",
    "wallet.accounts.service.PublicHolderKey.jwk":
        "a public JWK (RFC 7517): its members depend on the key type",
    "consent.ledger.LedgerEntry.origin":
        "provenance of an imported entry, kept nested exactly as the source chain wrote it",
    "wallet.vault.model.StoredCredential.data":
        "the sealed record's JSON as stored; services read it through CredentialDetail",
}


def _dataclasses_in(tp: object) -> Iterator[type]:
    """The dataclasses a type is, or holds (in a list, a union, a tuple...)."""
    if isinstance(tp, type) and is_dataclass(tp):
        yield tp
    for a in typing.get_args(tp):
        yield from _dataclasses_in(a)


def _field_types(cls: type) -> dict[str, object]:
    try:
        return typing.get_type_hints(cls)
    except NameError:  # a name imported only for type checking: judge the written annotation
        return {f.name: Any if "Any" in str(f.type) or "str, object]" in str(f.type) else None
                for f in fields(cls)}


def _untyped_fields(tp: object, depth: int = 2) -> Iterator[str]:
    """``module.Class.field`` of each untyped field of the dataclasses ``tp`` returns, and of the
    dataclasses those fields hold (``depth`` levels), less ``OPAQUE_FIELDS``."""
    if depth == 0:
        return
    for cls in _dataclasses_in(tp):
        for name, ftp in _field_types(cls).items():
            where = f"{cls.__module__}.{cls.__qualname__}.{name}"
            if _untyped(ftp) and where not in OPAQUE_FIELDS:
                yield where
            yield from _untyped_fields(ftp, depth - 1)


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
          for m in ("anything", "listed", "loose", "paired", "wire")),
        f"wallet.synthetic._BadService.nested -> {here}_Inner.extra",
        f"wallet.synthetic._BadService.typed -> {here}_Result.body"])


def test_an_opaque_field_passes_only_when_listed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(OPAQUE_FIELDS, f"{__name__}._Result.body", "synthetic: a document")
    assert not [v for v in violations({_BadService}) if "_Result" in v]


def test_every_opaque_field_exists_and_says_why() -> None:
    for where, reason in OPAQUE_FIELDS.items():
        module, cls_name, name = where.rsplit(".", 2)
        cls = getattr(importlib.import_module(module), cls_name)
        assert name in {f.name for f in fields(cls)}, where
        assert reason.strip() and "\n" not in reason, where
