"""GET /v1/credentials/{id}/pdf: a printable A4 PDF whose QR code opens a share link that verifies.

The printout is read back with pypdf (text and the embedded QR image) and the QR code decoded with
zxing-cpp: libraries Satchel does not use to make it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from tests import pdf_support as ps
from tests.holder_api.pdf_api_support import (
    anchored_client,
    learner,
    local_path,
    read_printout,
    upload,
    with_edc,
)
from tests.support.http_api import assert_problem

A4_POINTS = (595.28, 841.89)



async def test_printout_of_an_edc_in_a_pdf_opens_a_link_that_verifies(make_client: Any,
                                                                      tmp_path: Path) -> None:
    client = await anchored_client(make_client, tmp_path)
    h = await learner(client)
    pdf = await (await upload(client, h, with_edc())).json()
    edc_id = pdf["claims"]["attached_credentials"][0]["credential_id"]

    for cid in (pdf["id"], edc_id):
        r = await client.get(f"/v1/credentials/{cid}/pdf", headers=h)
        assert r.status == 200, await r.text()
        assert r.content_type == "application/pdf"
        text, url, size = read_printout(await r.read())
        assert size == pytest.approx(A4_POINTS, abs=1)
        assert "Digital micro-credential creation" in text  # the Annex I title
        assert "2 ECTS" in text and "60 hours" in text
        assert "University of Zed" in text
        assert "not signed by the issuer" in text  # plainly not the issuer's signature
        assert url.startswith("http://satchel.test/s/") and url in text.replace("\n", "")
        assert r.headers["Satchel-Share-Link"]

        view = await (await client.get(local_path(url))).json()
        assert view["credential"]["id"] == cid
        assert view["verified"]["signature"] == "valid"
        if cid == pdf["id"]:  # the signed PDF: the original file behind the page
            assert view["verified"]["issuer_confirmed"] is True
            served = await (await client.get(local_path(view["document_url"]))).read()
            assert served == with_edc()
        else:  # the EDC itself, shared whole and checked again now
            assert view["verified"]["signature_checked"] == "now"
            assert view["claims"]["credentialSubject"]["givenName"]

    links = (await (await client.get("/v1/share-links", headers=h)).json())["items"]
    assert len(links) == 2 and all(i["claims"] == [[]] for i in links)


async def test_printout_options_and_bad_queries(make_client: Any, tmp_path: Path) -> None:
    client = await anchored_client(make_client, tmp_path)
    h = await learner(client)
    pdf = await (await upload(client, h, ps.sign(ps.base_pdf()))).json()
    r = await client.get(f"/v1/credentials/{pdf['id']}/pdf?expires_in=3600&max_views=2"
                         f"&claims={quote(json.dumps([[]]))}", headers=h)
    assert r.status == 200, await r.text()
    text, url, _size = read_printout(await r.read())
    assert "Data Literacy Fundamentals" in text
    assert "Mandatory elements this credential does not state" in text
    [link] = (await (await client.get("/v1/share-links", headers=h)).json())["items"]
    assert link["max_views"] == 2
    base = f"/v1/credentials/{pdf['id']}/pdf"
    for query in ("?claims=[[\"title\"]]", "?claims=nope", "?claims=%5B%5D", "?expires_in=5",
                  "?expires_in=-1", "?max_views=0", "?max_views=x"):
        await assert_problem(await client.get(base + query, headers=h), 400)
    await assert_problem(await client.get("/v1/credentials/nope/pdf", headers=h), 404)
    await assert_problem(await client.get(base), 401)
