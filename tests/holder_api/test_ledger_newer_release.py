"""A ledger entry written by a newer release (a kind, or a body, this release cannot interpret)
during a rolling upgrade: the older replica shows the learner's history with that entry as a
typed placeholder (never a 422 for the whole history), refuses what it cannot do for it (its
receipt, an export) with a code that says so, and stays exactly as strict about tampering.

The newer release's entry is made as it would write it: the learner's real last entry, its body
sealed again with the new kind, its hashes and the signed head recomputed (the chain verifies).
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp.test_utils import TestClient
from sqlalchemy import select, update

from consent.chain import at_to_us, body_aad, body_digest, entry_hash
from consent.models import metadata
from holder_api.appkeys import SERVICES, WIRING
from tests.holder_api.receive_support import learner
from tests.holder_api.web_support import signed_up
from tests.support.http_api import assert_problem, auth
from wallet.accounts.service import LearnerSession
from wallet.ports import Activity, ActivityKind

_E = metadata.tables["ledger_entries"]
_H = metadata.tables["ledger_heads"]
NEWER = "credential_refreshed"  # a kind no release has (yet)


async def _with_entries(app: TestClient[Any, Any], session: LearnerSession, n: int) -> list[str]:
    """``n`` entries recorded for the learner (``credential_received``), oldest first."""
    activity = app.app[WIRING].consent.activity
    return [await activity.record(session.learner_id, session.dek, Activity(
        kind=ActivityKind.CREDENTIAL_RECEIVED, credential_ids=(f"c{i}",))) for i in range(n)]


async def _as_newer_release(app: TestClient[Any, Any], session: LearnerSession, entry_id: str, *,
                            kind: str = NEWER, body_kind: str | None = None,
                            rehash: bool = True, extra: dict[str, Any] | None = None) -> None:
    """Rewrite the learner's last entry ``entry_id`` as a newer release writes its kind: the
    body's event ``kind`` (``body_kind``, unless told otherwise ``kind``) and ``extra`` members,
    sealed again under the learner's key; the kind column; with ``rehash``, its digest, its hash
    and the signed head recomputed (else: tampering)."""
    ledger = app.app[WIRING].consent.service.ledger
    ref = app.app[WIRING].consent.ledger.ref(session.learner_id)
    async with ledger._bind.begin() as conn:
        row = (await conn.execute(select(_E).where(_E.c.id == entry_id))).one()
        obj = json.loads(session.dek.open(row.sealed_body, body_aad(ref, row.id)))
        obj["event"]["kind"] = body_kind or kind
        obj["event"].update(extra or {})
        sealed = session.dek.seal(json.dumps(obj, sort_keys=True, separators=(",", ":")).encode(),
                                  body_aad(ref, row.id))
        values: dict[str, Any] = {"kind": kind, "sealed_body": sealed}
        if rehash:
            digest = body_digest(sealed)
            values["body_digest"] = digest
            values["entry_hash"] = entry_hash(
                learner_ref=ref, entry_id=row.id, seq=row.seq, prev_hash=row.prev_hash, kind=kind,
                at_us=at_to_us(row.at), counterparty_tag=row.counterparty_tag, body_digest=digest)
        await conn.execute(update(_E).where(_E.c.id == entry_id).values(**values))
        if rehash:
            head = (await conn.execute(select(_H).where(_H.c.learner_ref == ref))).one()
            assert head.seq == row.seq, "only the last entry can be rewritten"
            await conn.execute(update(_H).where(_H.c.learner_ref == ref).values(
                head_hash=values["entry_hash"], signed_head=ledger.keys.sign_head(
                    ref, row.seq, values["entry_hash"], False, ledger._now())))
    ledger._heads.pop(ref, None)


async def _unlocked(app: TestClient[Any, Any], name: str = "ada") -> tuple[str, LearnerSession]:
    token = await learner(app, name)
    return token, await app.app[WIRING].accounts.service.authenticate(token)


async def test_the_history_shows_an_entry_of_a_newer_kind_as_one_from_a_newer_release(
        app: TestClient[Any, Any]) -> None:
    token, session = await _unlocked(app)
    *older, newest = await _with_entries(app, session, 3)
    await _as_newer_release(app, session, newest)
    r = await app.get("/v1/consent/events", headers=auth(token))
    assert r.status == 200, await r.text()
    page = await r.json()
    assert newest not in [e["id"] for e in page["items"]]  # items keep their contract (kinds)
    assert {o for o in older} <= {e["id"] for e in page["items"]}
    [placeholder] = page["newer_release_entries"]
    assert placeholder["id"] == newest and placeholder["kind_as_stored"] == NEWER
    assert placeholder["seq"] == max(e["seq"] for e in page["items"]) + 1
    assert set(placeholder) == {"id", "seq", "at", "kind_as_stored", "hash"}
    # a filter by a kind this release knows: the entry is not of it
    r = await app.get("/v1/consent/events?kind=credential_received", headers=auth(token))
    assert r.status == 200, await r.text()
    assert (await r.json())["newer_release_entries"] == []
    # the chain verifies (the newer release chained it as any entry)
    r = await app.get("/v1/consent/verify", headers=auth(token))
    assert (await r.json())["valid"] is True
    # its receipt and an export: refused, saying why; the other entries' receipts stand
    r = await app.get(f"/v1/consent/receipts/{newest}", headers=auth(token))
    await assert_problem(r, 409, "ledger_entry_from_newer_release")
    r = await app.get(f"/v1/consent/receipts/{older[0]}", headers=auth(token))
    assert r.status == 200, await r.text()
    r = await app.post("/v1/me/export", json={"passphrase": "an export passphrase, long enough"},
                       headers=auth(token))
    await assert_problem(r, 409, "ledger_entry_from_newer_release")


async def test_a_body_of_a_newer_format_is_shown_as_from_a_newer_release(
        app: TestClient[Any, Any]) -> None:
    """A kind this release knows, with an event member it does not (a newer release's body)."""
    token, session = await _unlocked(app)
    [entry] = await _with_entries(app, session, 1)
    await _as_newer_release(app, session, entry, kind="credential_received",
                            extra={"retention": "P1Y"})
    r = await app.get("/v1/consent/events", headers=auth(token))
    assert r.status == 200, await r.text()
    page = await r.json()
    assert [(p["id"], p["kind_as_stored"]) for p in page["newer_release_entries"]] == [
        (entry, "credential_received")]
    assert entry not in [e["id"] for e in page["items"]]


async def test_tampering_stays_a_422_whatever_the_kind(app: TestClient[Any, Any]) -> None:
    token, session = await _unlocked(app)
    # the kind column changed, nothing recomputed: the entry's own hash no longer matches
    [entry] = await _with_entries(app, session, 1)
    await _as_newer_release(app, session, entry, rehash=False)
    r = await app.get("/v1/consent/events", headers=auth(token))
    await assert_problem(r, 422, "ledger_tampered")
    r = await app.get(f"/v1/consent/receipts/{entry}", headers=auth(token))
    await assert_problem(r, 422, "ledger_tampered")
    # the kind column changed and the hashes recomputed (anyone can), but the sealed body, which
    # only the learner's key makes, names another kind
    token, session = await _unlocked(app, "bea")
    [entry] = await _with_entries(app, session, 1)
    await _as_newer_release(app, session, entry, body_kind="credential_received")
    r = await app.get("/v1/consent/events", headers=auth(token))
    await assert_problem(r, 422, "ledger_tampered")


async def test_the_web_history_marks_the_entry_from_a_newer_release(
        app: TestClient[Any, Any]) -> None:
    browser, _ = await signed_up(app)
    try:
        session = await app.app[SERVICES].accounts.authenticate(
            browser.cookie("satchel_session") or "")
        [*_, newest] = await _with_entries(app, session, 2)
        await _as_newer_release(app, session, newest)
        page = await browser.get("/history")
        assert page.status == 200, page.html
        assert page.html.count('data-testid="ledger-event-newer-release"') == 1
        assert f'data-event="{NEWER}"' in page.html
        assert page.html.count('data-testid="ledger-event"') == 1  # the older one
    finally:
        await browser.close()
