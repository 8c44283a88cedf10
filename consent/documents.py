"""The documents the consent package publishes or hands out whole: the ledger's public JWK Set,
the export bundle and its JSON Schema. They are documents (RFC 7517, the bundle format), so they
are typed as such, member by member at the top level."""

from __future__ import annotations

from typing import Any, Literal, NotRequired, TypedDict

from wallet.jose import PublicJwk

__all__ = ["BundleKeys", "BundleLedger", "BundleSchema", "BundleSource", "EntryOrigin",
           "ExportBundle", "ExportedEntry", "ExportedHead", "ExportedRecord", "ImportOrigin",
           "JwkSet", "Origin"]


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


class ImportOrigin(TypedDict):
    """The ``origin`` of an ``import`` entry: the chain it took over, as that chain's signed
    head, the public key that signed it and the source learner reference."""

    signed_head: str
    jwk: PublicJwk
    learner_ref: str


class EntryOrigin(TypedDict):
    """The ``origin`` of an imported entry: its ``id``, ``seq`` and ``hash`` in the source chain,
    and the source entry's own ``origin`` when it was itself imported (a chain moved twice)."""

    id: str
    seq: int
    hash: str
    origin: NotRequired[Origin]


#: Where an imported entry came from (see :mod:`consent.portability`).
Origin = EntryOrigin | ImportOrigin


class ExportedEntry(TypedDict):
    """One ledger entry, opened, as an export carries it (see :mod:`consent.portability`)."""

    type: Literal["entry"]
    id: str
    seq: int
    at: str
    kind: str
    prev_hash: str
    hash: str
    body_digest: str
    counterparty_tag: str | None
    event: dict[str, Any]
    origin: Origin | None
    #: imported on the learner's word where it was exported from (bound by the manifest)
    learner_asserted: NotRequired[bool]


class ExportedHead(TypedDict):
    """The chain's signed head, last in an export."""

    type: Literal["head"]
    format: str
    learner_ref: str
    seq: int
    head: str
    signed_head: str
    jwk: dict[str, Any]
    #: compact JWS binding every entry's opened event to the chain (consent.portability)
    manifest: NotRequired[str]


ExportedRecord = ExportedEntry | ExportedHead


class BundleLedger(TypedDict):
    format: str
    records: list[ExportedRecord]


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
