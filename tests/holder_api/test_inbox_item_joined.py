"""An inbox item's arrival joins what became of it, in the API and on the web history (both
backends).

Each push is recorded as ``inbox_item_received`` naming the item; accepting or declining it
records ``credential_received`` / ``credential_accepted`` / ``credential_declined``. Every one of
those names the item in ``inbox_item_id``, whichever way the acceptance goes: a pushed credential,
a pre-authorized offer, an offer that asks for a sign-in at the issuer first (the entry is written
after the sign-in, from the offer the item became), a deferred one delivered by a later poll, and
an offer declined after its item was accepted. Before, only the arrival and a decline of the item
itself kept the id (and the API showed it nowhere), so the history could not join a receipt to
its acceptance. Also: the purposes the wallet records itself are said in the page's language.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from html import unescape
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from aiohttp.test_utils import TestClient

from consent.rights import EXPORT_PURPOSE
from holder_api.web.i18n import LANG_COOKIE
from tests.holder_api.receive_support import advance
from tests.holder_api.web_support import Browser, holder_jwk, sign_in_at_issuer, signed_up
from tests.support.http_api import PASSPHRASE, auth
from tests.wallet.oid4vci_support import DEFERRED, Issuer
from wallet.receive.inbox import RECEIVED_PURPOSE

# the issuer before the app: the app fixture runs on the issuer's clock and asks for it by name
pytestmark = pytest.mark.usefixtures("issuer")


async def _push(app: TestClient[Any, Any], ada: Browser, path: str, **push: Any) -> str:
    """Push to the inbox link; the id of the item it made."""
    token = ada.cookie("satchel_session") or ""

    async def ids() -> set[str]:
        r = await app.get("/v1/inbox", headers=auth(token))
        return {i["id"] for i in (await r.json())["items"]}

    before = await ids()
    r = await app.post(path, **push)
    assert r.status == 202, await r.text()
    [item] = await ids() - before
    return item


def _offer(offer: dict[str, Any]) -> dict[str, Any]:
    return {"data": {"credential_offer": json.dumps(offer)}}


async def _events(app: TestClient[Any, Any], token: str) -> list[dict[str, Any]]:
    r = await app.get("/v1/consent/events?limit=200", headers=auth(token))
    assert r.status == 200, await r.text()
    return list((await r.json())["items"])


def _history(html: str) -> list[tuple[str, str | None]]:
    """(kind, the full inbox item id or None) of each timeline entry on the web history."""
    out = []
    for li in html.split('<li data-testid="ledger-event"')[1:]:
        li = li.split("</li>", 1)[0]
        kind = re.search(r'data-event="([^"]+)"', li)
        assert kind
        item = re.search(r'data-testid="inbox-item" data-item-id="([^"]+)">([^<]*)<code>([^<]+)<',
                         li)
        if item:  # the short id shown is the id's start
            assert item.group(3) == item.group(1)[:8]
        out.append((unescape(kind.group(1)), unescape(item.group(1)) if item else None))
    return out


async def test_each_inbox_item_is_named_by_what_became_of_it(
        app: TestClient[Any, Any], issuer: Issuer, ca_file: Path) -> None:
    ada, _ = await signed_up(app)
    try:
        await _walk(app, issuer, ca_file, ada)
    finally:
        await ada.close()


async def _walk(app: TestClient[Any, Any], issuer: Issuer, ca_file: Path, ada: Browser) -> None:
    token = ada.cookie("satchel_session") or ""
    await ada.get("/inbox")
    page = await ada.post("/inbox-links", {"label": "Test University"})
    push = urlsplit(page.text_of("inbox-link")).path
    minted = issuer._mint(await holder_jwk(app, ada))
    items = {
        "credential": await _push(app, ada, push, json={"credential": minted}),
        "offer": await _push(app, ada, push, **_offer(issuer.make_pre_authorized_offer())),
        "refused": await _push(app, ada, push, **_offer(issuer.make_pre_authorized_offer())),
        "sign-in": await _push(app, ada, push, **_offer(issuer.make_authorization_code_offer())),
        "deferred": await _push(app, ada, push, **_offer(
            issuer.make_pre_authorized_offer((DEFERRED,)))),
        "sign-in declined": await _push(app, ada, push, **_offer(
            issuer.make_authorization_code_offer())),
    }

    for name in ("credential", "offer"):
        page = await ada.post(f"/inbox/{items[name]}/accept")
        assert "/credentials/" in page.url, page.html
    page = await ada.post(f"/inbox/{items['refused']}/decline")
    assert page.url.endswith("/inbox?notice=declined")
    back = await sign_in_at_issuer(await ada.post(f"/inbox/{items['sign-in']}/accept"),
                                   issuer, ca_file)
    page = await ada.get(back)  # the entry is written now, from the offer the item became
    assert "/credentials/" in page.url, page.html
    page = await ada.post(f"/inbox/{items['deferred']}/accept")
    assert page.url.endswith("?notice=deferred"), page.html
    advance(issuer, issuer.clock, 13)
    page = await ada.post(urlsplit(page.url).path + "/accept")  # "Check again": delivered
    assert "/credentials/" in page.url, page.html
    page = await ada.post(f"/inbox/{items['sign-in declined']}/accept")
    assert "Continue to the issuer" in page, page.html
    [waiting] = (await (await app.get("/v1/offers", headers=auth(token))).json())["items"]
    assert waiting["status"] == "authorization_required"
    page = await ada.post(f"/offers/{waiting['id']}/decline")
    assert page.status == 200, page.html
    assert (await (await app.get("/v1/inbox", headers=auth(token))).json())["items"] == []

    events = await _events(app, token)
    outcome = {"credential": "credential_received", "offer": "credential_accepted",
               "refused": "credential_declined", "sign-in": "credential_accepted",
               "deferred": "credential_accepted", "sign-in declined": "credential_declined"}
    named = Counter((e["kind"], e["inbox_item_id"]) for e in events if e["inbox_item_id"])
    assert named == Counter(
        [("inbox_item_received", i) for i in items.values()]
        + [(outcome[name], i) for name, i in items.items()]), named
    # the acceptances name the credentials they stored: every credential held came from an item
    r = await app.get("/v1/credentials", headers=auth(token))
    held = {c["id"] for c in (await r.json())["items"]}
    assert held == {cid for e in events if e["inbox_item_id"] and e["kind"] in (
        "credential_received", "credential_accepted") for cid in e["credential_ids"]}
    assert len(held) == 4
    assert {e["kind"] for e in events if e["inbox_item_id"] is None} == {"inbox_link_created"}

    # the web history shows the same entries, each with the same item
    page = await ada.get("/history")
    assert page.status == 200
    assert _history(page.html) == [(e["kind"], e["inbox_item_id"]) for e in events]


async def test_the_wallets_own_purposes_are_said_in_the_page_language(
        app: TestClient[Any, Any], issuer: Issuer) -> None:
    """The purposes the wallet records itself (an inbox push, an export) are English in the
    ledger; a Spanish history said them in English. A verifier's own purpose stays as it came."""
    ada, _ = await signed_up(app)
    try:
        token = ada.cookie("satchel_session") or ""
        await ada.get("/inbox")
        page = await ada.post("/inbox-links", {"label": "Test University"})
        push = urlsplit(page.text_of("inbox-link")).path
        await _push(app, ada, push, **_offer(issuer.make_pre_authorized_offer()))
        r = await app.post("/v1/me/export", json={"passphrase": PASSPHRASE}, headers=auth(token))
        assert r.status == 200, await r.text()
        events = await _events(app, token)
        english = {e["purpose"] for e in events if e["purpose"]}
        assert english == {RECEIVED_PURPOSE, EXPORT_PURPOSE}
        ada.session.cookie_jar.update_cookies({LANG_COOKIE: "es"})
        page = await ada.get("/history")
        assert "Finalidad: Una oferta o una credencial enviada a tu enlace de entrada" in page
        assert "Finalidad: Una exportación que pediste (RGPD art. 15 y 20)" in page
        assert not [p for p in english if p in page]
    finally:
        await ada.close()
