"""Share links through the API on both backends: only the chosen disclosures, bound to the link
(checked with the reference ``sd-jwt`` verifier), expiry / view limit / revocation, every view in
the ledger, the payload unreadable without the token (canary over the data folder and pg_dump),
and tenant isolation for presentation requests and share links."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path
from typing import Any

import trustme
from aiohttp.test_utils import TestClient
from sd_jwt.verifier import SDJWTVerifier

from holder_api.appkeys import SERVICES
from tests.holder_api.isolation import ID_ROUTES, assert_isolated
from tests.holder_api.present_support import Peer, dcql, holder, import_vc, intake, ledger
from tests.support.apps import AppFactory, app_clock
from tests.support.backends import PG_BASE, Backend
from tests.support.http_api import assert_problem, auth, login, sign_up

CANARY = "Canary-Zq7xW3"


#: The peers answer as ``localhost``: 127.0.0.1 itself stays a blocked address.
PEER_HOST = "localhost"


def _path(url: str) -> str:
    return url.split("http://satchel.test", 1)[1]


async def _credential(app: TestClient[Any, Any], peer: Peer) -> tuple[str, str]:
    token, jwk = await holder(app)
    cid = await import_vc(app, token, peer.issue(jwk, {
        "given_name": CANARY, "family_name": "Lovelace", "degree": "<b>BSc</b> & more"}))
    return token, cid


async def test_share_link_discloses_only_the_chosen_claims(app: TestClient[Any, Any],
                                                           peer: Peer) -> None:
    token, cid = await _credential(app, peer)
    r = await app.post("/v1/share-links", headers=auth(token), json={
        "credential_id": cid, "claims": [["degree"]], "expires_in": 3600, "max_views": 2})
    assert r.status == 201, await r.text()
    link = await r.json()
    assert link["url"].startswith("http://satchel.test/s/")
    r = await app.get(_path(link["url"]), headers={"Accept": "application/json"})
    assert r.status == 200, await r.text()
    assert r.headers["Cache-Control"] == "no-store"
    body = await r.json()
    assert body["verified"]["signature"] == "valid" and body["verified"]["key_binding"] == "valid"
    # an SD-JWT VC issuer key comes from its metadata (or an anchored x5c), never from the
    # credential: intake's findings ride along (none here), and the issuer is not on a list
    stored = await (await app.get(f"/v1/credentials/{cid}", headers=auth(token))).json()
    assert stored["verification"]["key_source"] == "jwt_vc_issuer_metadata"
    assert body["verified"]["problems"] == stored["verification"]["problems"] == []
    assert body["verified"]["issuer_trusted"] is False
    assert body["claims"]["degree"] == "<b>BSc</b> & more"
    assert "given_name" not in body["claims"] and "family_name" not in body["claims"]
    # an independent verifier agrees: bound to this very link, only the chosen disclosure
    kb = body["presentation"].rsplit("~", 1)[1]
    import json as _json

    from wallet.jose import b64url_decode
    nonce = _json.loads(b64url_decode(kb.split(".")[1]))["nonce"]
    seen = SDJWTVerifier(body["presentation"], lambda _i, _h: peer.issuer_key,
                         expected_aud=link["url"], expected_nonce=nonce).get_verified_payload()
    assert seen["degree"] == "<b>BSc</b> & more" and "given_name" not in seen
    # a person gets HTML, escaped
    r = await app.get(_path(link["url"]), headers={"Accept": "text/html,*/*"})
    assert r.status == 200 and r.content_type == "text/html"
    page = await r.text()
    assert "&lt;b&gt;BSc&lt;/b&gt; &amp; more" in page and "<b>BSc</b>" not in page
    assert "Verified" in page and CANARY not in page
    # the view limit holds (2 views used)
    await assert_problem(await app.get(_path(link["url"])), 404)
    # every view reaches the ledger once the learner is back
    r = await app.get("/v1/share-links", headers=auth(token))
    [item] = (await r.json())["items"]
    assert item["views"] == 2 and item["state"] == "exhausted" and item["claims"] == [["degree"]]
    viewed = await ledger(app, token, "share_link_viewed")
    assert len(viewed) == 2 and all(e["claims"] == [["degree"]] for e in viewed)
    assert len(await ledger(app, token, "share_link_created")) == 1


async def test_expiry_revocation_and_bad_tokens(app: TestClient[Any, Any], peer: Peer) -> None:
    token, cid = await _credential(app, peer)
    mk = {"credential_id": cid, "claims": [["family_name"]], "expires_in": 60, "max_views": 5}
    a = await (await app.post("/v1/share-links", headers=auth(token), json=mk)).json()
    b = await (await app.post("/v1/share-links", headers=auth(token), json=mk)).json()
    assert (await app.get(_path(a["url"]))).status == 200
    # revocation
    assert (await app.delete(f"/v1/share-links/{a['id']}", headers=auth(token))).status == 204
    await assert_problem(await app.get(_path(a["url"])), 404)
    await assert_problem(await app.delete(f"/v1/share-links/{a['id']}", headers=auth(token)), 404)
    assert len(await ledger(app, token, "share_link_revoked")) == 1
    # expiry
    app_clock(app).advance(61)
    await assert_problem(await app.get(_path(b["url"])), 404)
    app_clock(app).advance(-61)
    await assert_problem(await app.get(_path(b["url"])), 404)  # wiped when found expired
    # tampered or malformed tokens
    tok = b["url"].rsplit("/", 1)[1]
    flipped = tok[:-2] + ("A" if tok[-2] != "A" else "B") + tok[-1]
    for bad in (flipped, tok[:-1], "x" * 300, "%00"):
        r = await app.get(f"/s/{bad}")
        assert r.status in (404, 400), bad
    # a link to a claim the credential does not have is refused; only SD-JWT credentials
    await assert_problem(await app.post("/v1/share-links", headers=auth(token), json={
        "credential_id": cid, "claims": [["nope"]]}), 400)
    # the whole-credential choice (the root path) and an empty choice are not SD-JWT choices
    for claims in ([[]], [], [[], ["degree"]]):
        await assert_problem(await app.post("/v1/share-links", headers=auth(token), json={
            "credential_id": cid, "claims": claims}), 400)


async def test_public_route_is_rate_limited(make_client: AppFactory, ca: trustme.CA,
                                            tmp_path: Path, peer: Peer) -> None:
    path = tmp_path / "ca2.pem"
    ca.cert_pem.write_to_path(str(path))
    app = await make_client(SATCHEL_FETCH_ALLOW_HOSTS="localhost", SATCHEL_EXTRA_CA_FILE=str(path))
    app.app[SERVICES].share_links._view_limit = (3, 60)
    statuses = [(await app.get("/s/" + "A" * 64)).status for _ in range(5)]
    assert statuses[:3] == [404, 404, 404] and statuses[3:] == [429, 429]


async def test_stored_link_is_unreadable_without_the_token(app: TestClient[Any, Any], peer: Peer,
                                                           backend: Backend) -> None:
    token, cid = await _credential(app, peer)
    r = await app.post("/v1/share-links", headers=auth(token), json={
        "credential_id": cid, "claims": [["given_name"]], "max_views": 3})
    link = await r.json()
    body = await (await app.get(_path(link["url"]))).json()
    assert body["claims"]["given_name"] == CANARY
    disclosure = next(d for d in body["presentation"].split("~")[1:-1])
    token_part = link["url"].rsplit("/", 1)[1]
    needles = [CANARY.encode(), disclosure.encode(), token_part.encode(),
               token_part[:22].encode()]
    blobs = [p.read_bytes() for p in backend.data_dir.rglob("*") if p.is_file()]
    if backend.kind == "postgres":
        for db in backend.pg_databases:
            dump = await asyncio.to_thread(subprocess.run, ["pg_dump", f"{PG_BASE}/{db}"],
                                           check=True, capture_output=True, timeout=60)
            assert dump.stdout, db
            blobs.append(dump.stdout)
    assert blobs
    for needle in needles:
        assert not any(needle in blob for blob in blobs), needle[:12]


async def _request_ids(client: TestClient[Any, Any], token: str) -> list[str]:
    r = await client.get("/v1/presentation-requests", headers=auth(token))
    return [i["id"] for i in (await r.json())["items"]]


async def _link_ids(client: TestClient[Any, Any], token: str) -> list[str]:
    r = await client.get("/v1/share-links", headers=auth(token))
    return [i["id"] for i in (await r.json())["items"] if i["state"] == "active"]


async def test_isolation(app: TestClient[Any, Any], peer: Peer) -> None:
    token_a, cid = await _credential(app, peer)
    await sign_up(app, "bob")
    token_b = await login(app, "bob")
    client_id = "x509_san_dns:localhost"
    link = peer.serve_request(lambda f: peer.sign(peer.claims(client_id, dcql("degree"))),
                              client_id=client_id)
    assert (await intake(app, token_a, link)).status == 201
    assert (await app.post("/v1/share-links", headers=auth(token_a), json={
        "credential_id": cid, "claims": [["degree"]]})).status == 201
    kinds = {r.kind for r in ID_ROUTES}
    assert {"presentation_request", "share_link"} <= kinds
    mine = {"credential", "presentation_request", "share_link"}
    checked = await assert_isolated(app, token_a, token_b,
                                    routes=[r for r in ID_ROUTES if r.kind in mine])
    assert checked >= 5
    assert peer.posts == []  # B's respond/decline attempts sent nothing


async def test_concurrent_drains_record_each_view_once(app: TestClient[Any, Any],
                                                      peer: Peer) -> None:
    """Found in review: two learner requests draining views at once must not double them."""
    import asyncio

    token, cid = await _credential(app, peer)
    r = await app.post("/v1/share-links", headers=auth(token), json={
        "credential_id": cid, "claims": [["degree"]], "expires_in": 3600, "max_views": 5})
    url = (await r.json())["url"]
    for _ in range(3):
        assert (await app.get(_path(url), headers={"Accept": "application/json"})).status == 200
    await asyncio.gather(
        app.get("/v1/share-links", headers=auth(token)),
        app.get("/v1/consent/events", headers=auth(token)),
        app.get("/v1/share-links", headers=auth(token)))
    assert len(await ledger(app, token, "share_link_viewed")) == 3
