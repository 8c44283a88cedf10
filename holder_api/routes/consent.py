"""The consent ledger and the learner's GDPR rights over HTTP (docs/http-api.md, docs/consent.md).

Receipts are served as ``application/jwt``: the body is the compact JWS itself, verifiable with the
key set at ``GET /v1/consent/keys`` (RFC 7517). The export bundle's JSON Schema is published at
``GET /v1/me/export/schema``. Both public documents are rate limited and small.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from consent.rights import MAX_BUNDLE_BYTES
from holder_api.appkeys import SERVICES
from holder_api.http import client_of, json_ok, read_json, too_large
from holder_api.openapi import Op, Param
from holder_api.query import PAGE_LIMIT, query_int
from holder_api.schemas import (
    BUNDLE,
    CHAIN_REPORT,
    CURSOR,
    EVENT_KINDS,
    EXPORT_PASSPHRASE,
    IMPORT_BODY,
    IMPORTED,
    LEDGER_EVENTS,
    LEDGER_KEYS,
    PASSPHRASE_ONLY,
    UUID_ID,
    WITHDRAWAL,
    WITHDRAWN,
)
from holder_api.serialise.consent import (
    caught_up_report,
    import_result,
    ledger_event,
    newer_release_entry,
)
from wallet.accounts.service import LearnerSession


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


_KIND = "(" + "|".join(EVENT_KINDS) + ")"
_KINDS = Param("kind", schema={"type": "array", "items": {
    "type": "string", "anyOf": [{"enum": EVENT_KINDS},
                                {"pattern": f"^{_KIND}(,{_KIND})*$"}]}},
               description="event kind(s), repeated, or comma-separated")
_TIME: dict[str, Any] = {"type": "string", "format": "date-time", "maxLength": 64}
OPS = [
    Op("GET", "/v1/consent/events", list_events, "The consent ledger, newest first", "consent",
       params=(_KINDS, Param("counterparty", description="verifier client_id or institution"),
               Param("since", schema=_TIME, description="RFC 3339, inclusive"),
               Param("until", schema=_TIME, description="RFC 3339, exclusive"),
               PAGE_LIMIT, Param("cursor", schema={**CURSOR, "maxLength": 40})),
       responses={200: ("A page of ledger events (claim paths, never values)", LEDGER_EVENTS),
                  409: ("The ledger was erased", None)}),
    Op("GET", "/v1/consent/verify", verify,
       "Recompute the hash chain and check the signed head; names the first bad entry",
       "consent", responses={200: ("The chain report", CHAIN_REPORT)}),
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
       responses={200: ("JWK Set (RFC 7517)", LEDGER_KEYS)}),
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
