"""The documents the consent package publishes or hands out whole: the ledger's public JWK Set,
the export bundle and its JSON Schema. They are documents (RFC 7517, the bundle format), so they
are typed as such, member by member at the top level."""

from __future__ import annotations

from typing import Any, TypedDict

__all__ = ["BundleKeys", "BundleLedger", "BundleSchema", "BundleSource", "ExportBundle",
           "JwkSet"]


class JwkSet(TypedDict):
    """RFC 7517 §5, with the token types the key verifies and the ledger's event kinds."""

    keys: list[dict[str, Any]]
    typ: list[str]
    event_kinds: list[str]


class BundleSource(TypedDict):
    service: str | None
    ledger_jwk: dict[str, Any]


class BundleKeys(TypedDict):
    protection: dict[str, Any]  # kdf, salt, opslimit, memlimit, cipher
    check: str
    items: list[dict[str, Any]]


class BundleLedger(TypedDict):
    format: str
    records: list[dict[str, Any]]


class ExportBundle(TypedDict):
    """GDPR Art. 15/20: everything, as published in :data:`BundleSchema`."""

    format: str
    version: int
    exported_at: str
    source: BundleSource
    credentials: list[dict[str, Any]]
    keys: BundleKeys
    ledger: BundleLedger
    records: dict[str, Any]


#: The bundle's JSON Schema 2020-12 (``consent/export_bundle.schema.json``).
BundleSchema = TypedDict("BundleSchema", {
    "$schema": str, "$id": str, "title": str, "description": str, "type": str,
    "required": list[str], "properties": dict[str, Any]})
