"""Share links to PDF credentials: the original bytes beside the verification page, each view in
the ledger; OpenID4VP says plainly that a PDF cannot be presented."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import async_validate_pdf_signature
from pyhanko_certvalidator import ValidationContext

from tests import pdf_support as ps
from tests.holder_api.pdf_api_support import (
    anchored_client,
    approval,
    learner,
    local_path,
    upload,
)
from tests.holder_api.present_support import ledger_details
from tests.support.http_api import assert_problem


async def test_pdf_link_serves_the_original_and_records_each_view(make_client: Any,
                                                                  tmp_path: Path) -> None:
    client = await anchored_client(make_client, tmp_path)
    h = await learner(client)
    data = approval()
    pdf = await (await upload(client, h, data)).json()
    # a PDF is shared whole, like any credential that cannot disclose selectively
    await assert_problem(await client.post("/v1/share-links", headers=h, json={
        "credential_id": pdf["id"], "claims": [["title"]]}), 400, "whole_credential_only")
    r = await client.post("/v1/share-links", headers=h, json={
        "credential_id": pdf["id"], "claims": [[]], "max_views": 3})
    assert r.status == 201, await r.text()
    link = await r.json()

    view = await (await client.get(local_path(link["url"]))).json()
    assert view["credential"]["document"] == "pdf" and view["presentation"] == ""
    assert "raw" not in view
    v = view["verified"]
    assert (v["signature"], v["modification"], v["issuer_trusted"], v["issuer_confirmed"]) == (
        "valid", "none", True, True)
    assert view["claims"]["title"] == "Data Literacy Fundamentals"
    assert view["document_url"] == link["url"] + "/document.pdf"

    r = await client.get(local_path(view["document_url"]))
    assert r.status == 200 and r.content_type == "application/pdf"
    served = await r.read()
    assert served == data  # byte for byte: the signature is intact for any PDF reader
    status = await async_validate_pdf_signature(  # pyHanko on its own agrees
        PdfFileReader(io.BytesIO(served)).embedded_signatures[0],
        ValidationContext(trust_roots=[ps.pki().ca.asn1_cert]))
    assert status.bottom_line

    page = await (await client.get(local_path(link["url"]), headers={"Accept": "text/html"})).text()
    assert "<b>Verified</b>" in page and "document.pdf" in page
    # three views were allowed: page, file, page
    await assert_problem(await client.get(local_path(view["document_url"])), 404)

    await client.get("/v1/share-links", headers=h)  # moves the views into the ledger
    viewed = [e for e in await ledger_details(client, h["Authorization"][7:], "share_link_viewed")
              if e["details"]["link_id"] == link["id"]]
    assert len(viewed) == 3
    assert all(e["credential_ids"] == [pdf["id"]] and e["details"]["whole_credential"]
               for e in viewed)


async def test_unanchored_pdf_link_is_not_verified(make_client: Any) -> None:
    client = await make_client()
    h = await learner(client)
    pdf = await (await upload(client, h, approval())).json()
    link = await (await client.post("/v1/share-links", headers=h, json={
        "credential_id": pdf["id"], "claims": [[]]})).json()
    view = await (await client.get(local_path(link["url"]))).json()
    assert view["verified"]["signature"] == "valid"
    assert view["verified"]["issuer_confirmed"] is False
    assert "pdf_signer_not_anchored" in view["verified"]["problems"]
    page = await (await client.get(local_path(link["url"]), headers={"Accept": "text/html"})).text()
    assert "<b>NOT verified</b>" in page and "NOT anchored" in page


async def test_kept_unsigned_pdf_is_shared_but_never_verified(make_client: Any) -> None:
    client = await make_client()
    h = await learner(client)
    unsigned = ps.base_pdf()
    pdf = await (await upload(client, h, unsigned, "?unsigned=keep")).json()
    link = await (await client.post("/v1/share-links", headers=h, json={
        "credential_id": pdf["id"], "claims": [[]]})).json()
    view = await (await client.get(local_path(link["url"]))).json()
    assert view["verified"]["signature"] == "unsupported"
    assert view["verified"]["issuer_confirmed"] is False
    assert await (await client.get(local_path(view["document_url"]))).read() == unsigned
    await assert_problem(await client.get("/s/" + "A" * 64 + "/document.pdf"), 404)
