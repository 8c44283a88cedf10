"""How many durable commits declining, inbox links and share links cost before the answer, counted
at the stores (both backends), and that the ledger names each of them afterwards.

Before, each wrote its ledger entry first, in a transaction of its own, then the data: declining
an offer or an inbox item cost 2 commits, creating or revoking an inbox or share link 3 (the
entry, the vault record, the row). Now the entry commits *with* the data it describes (docs/
consent.md): staged in the vault's ledger outbox in the vault transaction that deletes a declined
offer (moved to the ledger after the answer), or appended to the ledger in the SQL transaction
that writes an inbox item's, an inbox link's or a share link's row (the ledger lives in that same
database). A link's record (the label, what the list shows) is sealed into its row, so creating
or revoking a link is that one transaction too (it was a vault record, written on its own first
and an inbox link's deleted after the row: 2 commits each, before that 3). A share-link view
waiting for the learner moves into the ledger in one transaction (was 2).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from aiohttp.test_utils import TestClient

from holder_api.appkeys import WIRING
from tests.holder_api.commit_counter import TRANSACTION, Commits, count_commits
from tests.holder_api.present_support import OB_SAMPLE
from tests.holder_api.receive_support import ledger
from tests.support.http_api import auth, learner
from tests.wallet.oid4vci_support import Issuer

Send = Callable[[], Awaitable[aiohttp.ClientResponse]]


async def _answered(path_suffix: str, send: Send, status: int) -> tuple[Commits, Any]:
    """Send one request, counting commits; (the counts, the JSON body or None)."""
    with count_commits(answers=path_suffix) as commits:
        r = await send()
        assert r.status == status, await r.text()
        body = await r.json() if r.content_length else None
    return commits, body


async def test_declining_an_offer_commits_once_before_answering(
        app: TestClient[Any, Any], issuer: Issuer) -> None:
    token = await learner(app)
    r = await app.post("/v1/offers", json={"offer": issuer.make_pre_authorized_offer()},
                       headers=auth(token))
    assert r.status == 201, await r.text()
    offer_id = (await r.json())["id"]
    with count_commits(answers="/decline") as commits:
        r = await app.post(f"/v1/offers/{offer_id}/decline", headers=auth(token))
        assert r.status == 204, await r.text()
        # the offer's deletion and its entry staged in the outbox: one vault transaction
        assert commits.answered == [((TRANSACTION,), 0)]
        await app.app[WIRING].consent.outbox.drain()
        # after the answer: one ledger transaction, then the staged record left the outbox
        # (one remove, which Askar commits by itself)
        assert (commits.vault, commits.sql) == ([TRANSACTION, "remove"], 1)
    assert ("credential_declined", issuer.credential_issuer) in await ledger(app, token)
    assert (await app.get(f"/v1/offers/{offer_id}", headers=auth(token))).status == 404
    # declined once: a second decline finds nothing, and stages nothing
    r = await app.post(f"/v1/offers/{offer_id}/decline", headers=auth(token))
    assert r.status == 404
    assert [k for k, _ in await ledger(app, token)].count("credential_declined") == 1


async def test_inbox_links_and_items_commit_their_entry_with_their_row(
        app: TestClient[Any, Any]) -> None:
    token = await learner(app)
    commits, link = await _answered("/inbox-links", lambda: app.post(
        "/v1/inbox-links", json={"label": "Unit University"}, headers=auth(token)), 201)
    # the link row, its sealed label and its entry: one SQL transaction (was 2 commits: the
    # label in the vault first)
    assert commits.answered == [((), 1)]
    r = await app.post("/i/" + link["url"].rsplit("/i/", 1)[1],
                       json={"credential": {"pushed": True}})
    assert r.status == 202, await r.text()
    [item] = (await (await app.get("/v1/inbox", headers=auth(token))).json())["items"]

    commits, _ = await _answered("/decline", lambda: app.post(
        f"/v1/inbox/{item['id']}/decline", headers=auth(token)), 204)
    assert commits.answered == [((), 1)]  # the item's deletion and its entry
    commits, _ = await _answered(link["id"], lambda: app.delete(
        f"/v1/inbox-links/{link['id']}", headers=auth(token)), 204)
    # the row's deletion (its sealed label with it) and its entry: one SQL transaction (was 2:
    # the label deleted from the vault after it)
    assert commits.answered == [((), 1)]

    kinds = [k for k, _ in await ledger(app, token)]
    assert [k for k in kinds if k != "account_created"][-4:] == [
        "inbox_link_created", "inbox_item_received", "credential_declined",
        "inbox_link_revoked"]
    assert (await (await app.get("/v1/inbox-links", headers=auth(token))).json())["items"] == []
    assert (await (await app.get("/v1/inbox", headers=auth(token))).json())["items"] == []
    # a second revocation or decline finds nothing and records nothing
    assert (await app.delete(f"/v1/inbox-links/{link['id']}", headers=auth(token))).status == 404
    assert (await app.post(f"/v1/inbox/{item['id']}/decline",
                           headers=auth(token))).status == 404
    assert [k for k, _ in await ledger(app, token)] == kinds


async def test_share_links_commit_their_entry_with_their_row(app: TestClient[Any, Any]) -> None:
    token = await learner(app)
    r = await app.post("/v1/credentials", json={"raw": OB_SAMPLE.read_text(encoding="utf-8")},
                       headers=auth(token))
    assert r.status == 201, await r.text()
    cid = (await r.json())["id"]
    await app.app[WIRING].consent.outbox.drain()  # the import's entry, moved after its answer

    commits, link = await _answered("/share-links", lambda: app.post(
        "/v1/share-links", json={"credential_id": cid, "claims": [[]]}, headers=auth(token)),
        201)
    # the servable row, the learner's sealed record of the link and its entry: one SQL
    # transaction (was 2 commits: the record in the vault first)
    assert commits.answered == [((), 1)]
    view = "/s/" + link["url"].rsplit("/s/", 1)[1]
    assert (await app.get(view, headers={"Accept": "application/json"})).status == 200

    # the view waits for the learner: listing moves it into the ledger, its row deleted in the
    # transaction that appends its entry (was 2 commits: the row claimed, then the entry)
    commits, _ = await _answered("/share-links", lambda: app.get(
        "/v1/share-links", headers=auth(token)), 200)
    assert commits.answered == [((), 1)]
    commits, _ = await _answered(link["id"], lambda: app.delete(
        f"/v1/share-links/{link['id']}", headers=auth(token)), 204)
    # the revocation and its entry: one SQL transaction
    assert commits.answered == [((), 1)]
    assert (await app.get(view, headers={"Accept": "application/json"})).status == 404

    kinds = [k for k, _ in await ledger(app, token)]
    assert kinds[-3:] == ["share_link_created", "share_link_viewed", "share_link_revoked"]
    assert (await app.delete(f"/v1/share-links/{link['id']}", headers=auth(token))).status == 404
    assert [k for k, _ in await ledger(app, token)] == kinds
