"""OpenID4VP and PDF credentials: a query only a PDF fits says why it found nothing; the
credential attached to a PDF is what can be presented."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import trustme
from aiohttp.test_utils import TestClient

from tests import pdf_support as ps
from tests.holder_api.pdf_api_support import learner, read_printout, upload
from tests.holder_api.present_support import Peer, holder, import_vc, intake
from tests.support.apps import AppFactory
from tests.support.http_api import auth
from tests.support.vectors import VECTORS


@pytest.fixture
async def app(make_client: AppFactory, ca: trustme.CA, tmp_path: Path) -> TestClient[Any, Any]:
    path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return await make_client(SATCHEL_FETCH_ALLOW_HOSTS="localhost",  # type: ignore[no-any-return]
                             SATCHEL_EXTRA_CA_FILE=str(path))


def _request(peer: Peer, query: dict[str, Any]) -> str:
    client_id = f"redirect_uri:{peer.base}/cb"
    claims = peer.claims(client_id, query, response_uri=f"{peer.base}/cb")
    for k in ("aud", "iat", "exp"):
        claims.pop(k)
    return peer.by_value(claims)


async def test_a_query_only_a_pdf_fits_says_so(app: TestClient[Any, Any], peer: Peer) -> None:
    h = await learner(app)
    clr = (VECTORS / "microcredentials" / "1edtech" / "clr20" / "simple.jwt").read_bytes()
    with_attachment = await (await upload(app, h, ps.sign(
        ps.base_pdf(), attach=[("clr.jwt", clr, "application/jwt")]))).json()
    plain = await (await upload(app, h, ps.sign(ps.base_pdf()))).json()
    clr_id = with_attachment["claims"]["attached_credentials"][0]["credential_id"]
    query = {"credentials": [
        {"id": "document", "format": "ldp_vc", "meta": {"type_values": [["PdfDocument"]]},
         "claims": [{"path": ["title"]}]},
        {"id": "clr", "format": "jwt_vc_json", "require_cryptographic_holder_binding": False,
         "meta": {"type_values": [["ClrCredential"]]}},
        {"id": "badge", "format": "ldp_vc",
         "meta": {"type_values": [["OpenBadgeCredential"]]}}]}
    r = await intake(app, h["Authorization"][7:], _request(peer, query))
    assert r.status == 201, await r.text()
    req = await r.json()
    by_id = {q["id"]: q for q in req["queries"]}
    doc = by_id["document"]
    assert doc["matched"] is False and doc["options"] == []
    assert doc["reason"] == "pdf_not_presentable" and "cannot carry a PDF" in doc["reason_detail"]
    assert doc["pdf_credential_ids"] == sorted([with_attachment["id"], plain["id"]])
    # the CLR attached to the PDF is a credential of its own: that one can be presented
    got = by_id["clr"]
    assert got["matched"] is True and [o["credential_id"] for o in got["options"]] == [clr_id]
    assert "reason" not in got
    # nothing fits at all: no reason is made up
    assert by_id["badge"]["matched"] is False and "reason" not in by_id["badge"]
    again = await (await app.get(f"/v1/presentation-requests/{req['id']}",
                                 headers=auth(h["Authorization"][7:]))).json()
    assert again["queries"] == req["queries"]


async def test_sd_jwt_printout_discloses_only_what_is_chosen(app: TestClient[Any, Any],
                                                             peer: Peer) -> None:
    """The printout's default link shows an SD-JWT VC's always-visible claims only; the
    learner adds claims with ``claims``."""
    token, jwk = await holder(app)
    cid = await import_vc(app, token, peer.issue(jwk))
    seen = []
    for query in ("", "?claims=" + quote(json.dumps([["given_name"]]))):
        r = await app.get(f"/v1/credentials/{cid}/pdf{query}", headers=auth(token))
        assert r.status == 200, await r.text()
        _text, url, _size = read_printout(await r.read())
        view = await (await app.get(url.split("http://satchel.test", 1)[1])).json()
        assert view["verified"]["signature"] == "valid"
        assert view["verified"]["key_binding"] == "valid"
        seen.append(view["claims"])
    assert "given_name" not in seen[0] and "degree" not in seen[0]
    assert seen[0]["vct"] and seen[0]["iss"] == peer.base
    assert seen[1]["given_name"] == "Ada" and "degree" not in seen[1]
