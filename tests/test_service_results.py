"""Services return typed results: no wire-shaped ``dict[str, Any]`` at a service boundary.

The boundary is every public method of the services the HTTP handlers are given (the fields of
:class:`holder_api.appkeys.Services`) and of every ``*Service``, ``*Flow`` and ``*Ledger`` class
in ``wallet``, ``sharing`` and ``consent``. A method there returns dataclasses, TypedDicts (for
what is truly a document: a bundle, a JWK Set, a raw credential) or plain values; ``Any``, and a
dict or mapping of ``object``, may not appear anywhere in its return type. The JSON the API sends
is shaped in ``holder_api/serialise``.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import typing
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, TypedDict

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
    return sorted(f"{cls.__module__}.{cls.__qualname__}.{name}"
                  for cls in classes for name, fn in _methods(cls) if _untyped(_return_type(fn)))


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
    body: dict[str, Any]  # a field may hold a document: only the method's return type counts


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
    assert violations({_BadService}) == [
        f"wallet.synthetic._BadService.{m}"
        for m in ("anything", "listed", "loose", "paired", "wire")]
