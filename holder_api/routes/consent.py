"""The consent ledger and the learner's GDPR rights over HTTP (docs/http-api.md, docs/consent.md).

Receipts are served as ``application/jwt``: the body is the compact JWS itself, verifiable with the
key set at ``GET /v1/consent/keys`` (RFC 7517). The export bundle's JSON Schema is published at
``GET /v1/me/export/schema``. Both public documents are rate limited and small.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from consent.events import EventKind
from consent.rights import MAX_BUNDLE_BYTES
from holder_api.appkeys import SERVICES
from holder_api.http import client_of, json_ok, read_json, too_large
from holder_api.openapi import Op, Param
from holder_api.query import PAGE_LIMIT, query_int
from holder_api.schemas import CURSOR, NEW_PASSPHRASE, PASSPHRASE_GIVEN, UUID_ID
from holder_api.serialise.consent import (
    caught_up_report,
    import_result,
    ledger_event,
    newer_release_entry,
)
from wallet.accounts.service import LearnerSession

_S: dict[str, Any] = {"type": "string"}
_NS: dict[str, Any] = {"type": ["string", "null"]}
PASSPHRASE_ONLY: dict[str, Any] = {
    "type": "object", "additionalProperties": False, "required": ["passphrase"],
    "properties": {"passphrase": PASSPHRASE_GIVEN},
}
EXPORT_PASSPHRASE: dict[str, Any] = {
    "type": "object", "additionalProperties": False, "required": ["passphrase"],
    "properties": {"passphrase": {**NEW_PASSPHRASE,
                                  "description": "seals the keys in the bundle; "
                                                 + NEW_PASSPHRASE["description"]}},
}
#: the ledger's event kinds (what an event says, what the list filters by)
_KIND_VALUES = [k.value for k in EventKind]
EVENT: dict[str, Any] = {
    "type": "object",
    "required": ["id", "at", "kind", "counterparty", "purpose", "claims", "credential_ids", "hash"],
    "properties": {"id": _S, "seq": {"type": "integer"}, "at": _S,
                   "kind": {"type": "string", "enum": _KIND_VALUES},
                   "counterparty": _NS, "counterparty_name": _NS, "purpose": _NS,
                   "legal_basis": _NS, "claims": {"type": "array", "items": {"type": "array"}},
                   "credential_ids": {"type": "array", "items": _S},
                   "data_categories": {"type": "array", "items": _S},
                   "inbox_item_id": {
                       "type": ["string", "null"],
                       "description": "the inbox item the entry is about: its arrival "
                                      "(inbox_item_received), its expiry, and its acceptance "
                                      "(credential_received, credential_accepted) or decline "
                                      "(credential_declined) carry the same id"},
                   "hash": _S,
                   "imported": {"type": "boolean",
                                "description": "taken over from an exported chain (an import)"},
                   "learner_asserted": {
                       "type": "boolean",
                       "description": "imported on the learner's word: nothing this service "
                                      "holds binds its contents (a bundle from another "
                                      "deployment, or without a manifest); no receipt of this "
                                      "service asserts it"}},
}
NEWER_RELEASE_ENTRY: dict[str, Any] = {
    "type": "object", "required": ["id", "seq", "at", "kind_as_stored", "hash"],
    "description": "an entry a newer release of the service wrote (during a rolling upgrade) "
                   "that this one cannot interpret: its kind, or its body, is newer. Its hash "
                   "checks and the chain verifies with it; a replica of the newer release lists "
                   "it in items",
    "properties": {"id": _S, "seq": {"type": "integer"}, "at": _S,
                   "kind_as_stored": {"type": "string",
                                      "description": "the entry's kind as stored: possibly "
                                                     "none of the kinds items use"},
                   "hash": _S},
}
EVENTS: dict[str, Any] = {
    "type": "object", "required": ["items", "next_cursor"],
    "properties": {"items": {"type": "array", "items": EVENT}, "next_cursor": _NS,
                   "newer_release_entries": {
                       "type": "array", "items": NEWER_RELEASE_ENTRY,
                       "description": "the entries of this page's range (by seq, newest "
                                      "first) that a newer release wrote and this one cannot "
                                      "interpret, not in items; usually empty"}},
}
VERIFY: dict[str, Any] = {
    "type": "object", "required": ["valid", "length", "head"],
    "properties": {"valid": {"type": "boolean"}, "length": {"type": "integer"}, "head": _S,
                   "head_ok": {"type": "boolean"},
                   "first_bad_seq": {"type": ["integer", "null"]},
                   "first_bad": {"type": ["object", "null"]}, "reason": _NS,
                   "staged_pending": {
                       "type": ["integer", "null"], "minimum": 0,
                       "description": "entries staged in the vault's ledger outbox, not in the "
                                      "chain yet (null: the vault did not answer)"},
                   "catch_up_error": {
                       "type": "string", "description": "why moving them in failed (an error "
                                                       "code); the chain is verified as it stands"},
                   "learner_asserted_entries": {
                       "type": ["integer", "null"], "minimum": 0,
                       "description": "entries of the chain taken over on the learner's word "
                                      "(imports this service could not verify); the chain's "
                                      "integrity (valid) does not vouch for what they say "
                                      "(null: not known)"},
                   "imports": {
                       "type": ["array", "null"],
                       "description": "the chain takeovers in this ledger (null: not known)",
                       "items": {"type": "object", "properties": {
                           "event_id": _S, "seq": {"type": "integer"},
                           "entries": {"type": "integer"},
                           "learner_asserted": {"type": "integer"},
                           "attestation": {
                               "enum": ["this_service", "another_bundle",
                                        "another_service", "unknown_key", "none",
                                        "unrecorded"],
                               "description": "whose signed manifest bound the events: this "
                                              "service's, this service's for the chain in "
                                              "another learner's bundle (another_bundle: not "
                                              "vouched for), another deployment's (not trusted "
                                              "here), unknown_key (one the bundle does not "
                                              "carry: unchecked), none (an export without "
                                              "one), unrecorded (taken over before "
                                              "manifests)"}}}}},
}
JWKS: dict[str, Any] = {
    "type": "object", "required": ["keys"],
    "properties": {"keys": {"type": "array", "items": {"type": "object"}}},
}
WITHDRAWAL: dict[str, Any] = {
    "type": "object", "additionalProperties": False, "required": ["kind", "id"],
    "properties": {"kind": {"type": "string", "maxLength": 32,
                            "description": "share_link or inbox_link (what other features register)"},
                   "id": {"type": "string", "minLength": 1, "maxLength": 128,
                          "pattern": "^[!-~]+$",
                          "description": "the id the feature gave it (visible ASCII: a share or "
                                         "inbox link's is a UUID)"}},
}
WITHDRAWN: dict[str, Any] = {
    "type": "object", "required": ["event_id", "kind"],
    "properties": {"event_id": _S, "kind": {"const": "consent_withdrawn"}},
}
IMPORT_BODY: dict[str, Any] = {
    "type": "object", "required": ["passphrase"],
    "description": "The export bundle with a `passphrase` member added, or `{bundle, passphrase}`.",
    "properties": {"passphrase": PASSPHRASE_GIVEN, "bundle": {"type": "object"}},
}
IMPORTED: dict[str, Any] = {
    "type": "object", "required": ["credentials", "keys", "ledger_entries"],
    "properties": {"credentials": {"type": "integer"}, "keys": {"type": "integer"},
                   "ledger_entries": {"type": "integer"},
                   "records": {"type": "array", "items": _S}, "import_event_id": _NS,
                   "replayed": {"type": "boolean",
                                "description": "true: this bundle had been imported already "
                                               "(a retry after a lost answer or a crash); "
                                               "nothing was written again"}},
}
BUNDLE: dict[str, Any] = {
    "type": "object", "required": ["format", "version", "credentials", "keys", "ledger"],
    "description": "Schema published at GET /v1/me/export/schema",
    "properties": {"format": {"const": "satchel-export"}, "version": {"type": "integer"}},
}



async def list_events(request: web.Request, session: LearnerSession) -> web.Response:
    q = request.query
    kinds = [k for raw in q.getall("kind", []) for k in raw.split(",")]  # "" is no kind: 400
    page = await request.app[SERVICES].ledger.events(
        session.learner_id, session.dek, kinds=kinds, counterparty=q.get("counterparty"),
        since=q.get("since"), until=q.get("until"), limit=query_int(request, PAGE_LIMIT),
        cursor=q.get("cursor"))
    return json_ok({"items": [ledger_event(e) for e in page.items],
                    "next_cursor": page.next_cursor,
                    "newer_release_entries": [newer_release_entry(e) for e in page.newer]})


async def verify(request: web.Request, session: LearnerSession) -> web.Response:
    return json_ok(caught_up_report(await request.app[SERVICES].ledger.verify_caught_up(
        session.learner_id, session.dek)))


async def receipt(request: web.Request, session: LearnerSession) -> web.Response:
    jws = await request.app[SERVICES].ledger.receipt(
        session.learner_id, session.dek, request.match_info["id"])
    return web.Response(text=jws, content_type="application/jwt")


async def ledger_keys(request: web.Request) -> web.Response:
    return json_ok(await request.app[SERVICES].rights.public_keys(client_of(request)))


async def withdraw(request: web.Request, session: LearnerSession) -> web.Response:
    body = await read_json(request, WITHDRAWAL)
    event_id = await request.app[SERVICES].rights.withdraw(session, body["kind"], body["id"])
    return json_ok({"event_id": event_id, "kind": "consent_withdrawn"}, status=201)


async def export(request: web.Request, session: LearnerSession) -> web.Response:
    body = await read_json(request, EXPORT_PASSPHRASE)
    return json_ok(await request.app[SERVICES].rights.export(session, body["passphrase"]))


async def export_schema(request: web.Request) -> web.Response:
    doc = await request.app[SERVICES].rights.export_schema(client_of(request))
    return web.json_response(doc, content_type="application/schema+json")


async def import_bundle(request: web.Request, session: LearnerSession) -> web.Response:
    rights = request.app[SERVICES].rights
    too_large(request, MAX_BUNDLE_BYTES, what="the import")  # 413 before a slot or budget
    # admitted before the body (up to 51 MiB) is read: a replica slot and the learner's budget
    async with rights.admitted(session.learner_id) as admission:
        body = dict(await read_json(request, IMPORT_BODY, limit=MAX_BUNDLE_BYTES, aside=True))
        passphrase = body.pop("passphrase")
        bundle = body["bundle"] if "bundle" in body and "format" not in body else body
        result = await rights.import_bundle(admission, session, bundle, passphrase)
    return json_ok(import_result(result), status=201)


async def erase(request: web.Request, session: LearnerSession) -> web.Response:
    body = await read_json(request, PASSPHRASE_ONLY)
    await request.app[SERVICES].rights.erase(session, body["passphrase"], client=client_of(request))
    return web.Response(status=204)


_KIND = "(" + "|".join(_KIND_VALUES) + ")"
_KINDS = Param("kind", schema={"type": "array", "items": {
    "type": "string", "anyOf": [{"enum": _KIND_VALUES},
                                {"pattern": f"^{_KIND}(,{_KIND})*$"}]}},
               description="event kind(s), repeated, or comma-separated")
_TIME: dict[str, Any] = {"type": "string", "format": "date-time", "maxLength": 64}
OPS = [
    Op("GET", "/v1/consent/events", list_events, "The consent ledger, newest first", "consent",
       params=(_KINDS, Param("counterparty", description="verifier client_id or institution"),
               Param("since", schema=_TIME, description="RFC 3339, inclusive"),
               Param("until", schema=_TIME, description="RFC 3339, exclusive"),
               PAGE_LIMIT, Param("cursor", schema={**CURSOR, "maxLength": 40})),
       responses={200: ("A page of ledger events (claim paths, never values)", EVENTS),
                  409: ("The ledger was erased", None)}),
    Op("GET", "/v1/consent/verify", verify,
       "Recompute the hash chain and check the signed head; names the first bad entry",
       "consent", responses={200: ("The chain report", VERIFY)}),
    Op("GET", "/v1/consent/receipts/{id}", receipt,
       "A signed consent receipt (Kantara CR v1.1 / ISO/IEC TS 27560) as a compact JWS",
       "consent", params=(Param("id", "path", UUID_ID, description="ledger event id"),),
       responses={200: ("The compact JWS (verify with GET /v1/consent/keys)", {"type": "string"}),
                  409: ("The ledger was erased, or the entry was imported on the learner's "
                        "word (learner_asserted_entry), or a newer release wrote it "
                        "(ledger_entry_from_newer_release): this service signs no receipt for it",
                        None),
                  422: ("The entry was altered or does not open", None)},
       response_media="application/jwt"),
    Op("GET", "/v1/consent/keys", ledger_keys,
       "Public JWK Set verifying consent receipts and signed chain heads", "consent", auth=False,
       responses={200: ("JWK Set (RFC 7517)", JWKS)}),
    Op("POST", "/v1/consent/withdrawals", withdraw,
       "Withdraw a standing consent (share link, inbox link): revoke it and record it", "consent",
       body=WITHDRAWAL, responses={201: ("Withdrawn and recorded", WITHDRAWN),
                                   409: ("The ledger was erased", None)}),
    Op("POST", "/v1/me/export", export,
       "Export everything (GDPR Art. 15/20): credentials as received, keys sealed under the "
       "passphrase given, the ledger with its chain", "rights",
       body=EXPORT_PASSPHRASE, responses={200: ("The bundle", BUNDLE),
                                        409: ("The ledger was erased, or holds an entry a "
                                              "newer release wrote "
                                              "(ledger_entry_from_newer_release: export from a "
                                              "replica of that release)", None)}),
    Op("GET", "/v1/me/export/schema", export_schema, "JSON Schema of the export bundle",
       "rights", auth=False, responses={200: ("JSON Schema 2020-12", {"type": "object"})},
       response_media="application/schema+json"),
    Op("POST", "/v1/me/import", import_bundle,
       "Import an export bundle into this (fresh) account: all or nothing; a retry of the "
       "same bundle after it was imported answers as the import did (`replayed`). The body "
       f"may be up to {MAX_BUNDLE_BYTES} bytes (51 MiB, not SATCHEL_MAX_BODY_BYTES)", "rights",
       body=IMPORT_BODY, gated_media=("*",), responses={201: ("Imported", IMPORTED),
                                    409: ("The account is not fresh, or took another bundle",
                                          None),
                                    413: ("The body is larger than 51 MiB", None),
                                    422: ("Wrong passphrase for the bundle", None),
                                    429: ("The learner started too many imports this hour "
                                          "(Retry-After); the body was not read", None),
                                    503: ("This replica runs as many imports as "
                                          "SATCHEL_MAX_CONCURRENT_IMPORTS allows "
                                          "(imports_busy, Retry-After); the body was not read",
                                          None)}),
    Op("POST", "/v1/me/erase", erase,
       "Erase the account (GDPR Art. 17): crypto-shred, remove vault and rows, tombstone the "
       "ledger", "rights", body=PASSPHRASE_ONLY, done_when_erased=True,
       responses={204: ("Erased (also for a retry with a token of the erased account: an "
                        "erasure cut short is finished first)", None)}),
]
