"""POST /v1/credentials with a signed PDF: stored byte for byte, every signature checked, attached
credentials admitted and linked, bad files refused with a 4xx and nothing stored."""

from __future__ import annotations

import base64
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fpdf import FPDF

from tests import pdf_support as ps
from tests.holder_api.pdf_api_support import (
    PDF,
    anchored_client,
    approval,
    count,
    learner,
    upload,
    with_edc,
)
from tests.support.http_api import assert_problem


async def test_signed_pdf_is_stored_exactly_and_verified(make_client: Any, tmp_path: Path) -> None:
    client = await anchored_client(make_client, tmp_path)
    h = await learner(client)
    data = approval()
    r = await upload(client, h, data)
    assert r.status == 201, await r.text()
    body = await r.json()
    assert body["format"] == "pdf" and body["issuer"] == "Test University"
    assert body["title"] == "Data Literacy Fundamentals"
    v = body["verification"]
    assert v["signature"] == "valid" and v["issuer_trusted"] is True and v["status"] == "none"
    sig = v["pdf"]["signatures"][0]
    assert (sig["integrity"], sig["modification"], sig["coverage"], sig["chain"]) == (
        "valid", "none", "entire_file", "anchored")
    assert sig["docmdp"] is None and sig["signing_time_source"] == "claimed"
    again = await (await client.get(f"/v1/credentials/{body['id']}", headers=h)).json()
    assert base64.b64decode(again["raw"]) == data  # the original bytes, byte for byte
    # no machine-readable credential inside: the elements come from the metadata and signer,
    # and what a PDF alone does not say is listed as missing
    el = again["elements"]
    assert el["title"]["value"] == "Data Literacy Fundamentals"
    assert el["awarding_body"]["value"][0]["name"] == "Test University"
    assert el["issuer_country"]["value"] == ["NL"]
    assert {"learner", "learning_outcomes", "workload"} <= set(el["missing_mandatory"])
    assert "title" not in el["missing_mandatory"]


async def test_unanchored_and_self_signed_signers_are_never_trusted(make_client: Any,
                                                                    tmp_path: Path) -> None:
    plain = await make_client()  # no anchors configured
    h = await learner(plain)
    v = (await (await upload(plain, h, approval())).json())["verification"]
    assert v["signature"] == "valid" and v["issuer_trusted"] is False
    assert "pdf_signer_not_anchored" in v["problems"]
    client = await anchored_client(make_client, tmp_path)
    h = await learner(client, "bob")
    r = await upload(client, h, ps.sign(ps.base_pdf(), signer=ps.pki().stranger))
    v = (await r.json())["verification"]
    assert v["issuer_trusted"] is False and v["pdf"]["signatures"][0]["chain"] == "self_signed"
    assert "pdf_signer_self_signed" in v["problems"]


async def test_attached_edc_is_admitted_linked_and_gives_the_elements(make_client: Any,
                                                                      tmp_path: Path) -> None:
    client = await anchored_client(make_client, tmp_path)
    h = await learner(client)
    r = await upload(client, h, with_edc())
    assert r.status == 201, await r.text()
    pdf = await r.json()
    sig = pdf["verification"]["pdf"]["signatures"][0]
    assert sig["docmdp"] == "no_changes" and sig["signing_time_source"] == "timestamp"
    assert sig["timestamp"] == "valid"
    [link] = pdf["claims"]["attached_credentials"]
    assert link["file"] == "credential.jsonld" and link["format"] == "ldp_vc"
    assert link["signature"] == "valid"
    edc = await (await client.get(f"/v1/credentials/{link['credential_id']}", headers=h)).json()
    assert edc["raw"] == ps.edc_sample().decode()
    assert edc["verification"]["attached_to"] == pdf["id"]
    # the Annex I elements are the EDC's, not the PDF metadata's
    assert pdf["elements"] == edc["elements"]
    # the PDF's own title (its metadata's), not its attachment's
    assert pdf["title"] == "Data Literacy Fundamentals" and edc["title"] == "Micro-Credential"
    # its place in the portfolio is the EDC's: the ECTS held twice count once
    folio = await (await client.get("/v1/portfolio", headers=h)).json()
    entries = {c["id"]: c for c in folio["credentials"]}
    assert entries[pdf["id"]]["ects"] == entries[edc["id"]]["ects"] == 2
    assert folio["total_ects"] == 2
    assert await count(client, h) == 2


async def test_unsigned_pdf_refused_unless_kept_and_then_never_verified(make_client: Any) -> None:
    client = await make_client()
    h = await learner(client)
    await assert_problem(await upload(client, h, ps.base_pdf()), 422, "pdf_unsigned")
    assert await count(client, h) == 0
    r = await upload(client, h, ps.base_pdf(), "?unsigned=keep")
    assert r.status == 201, await r.text()
    v = (await r.json())["verification"]
    assert v["signature"] == "unsupported" and v["issuer_trusted"] is False
    assert "pdf_unsigned" in v["problems"] and v["pdf"]["verdict"] == "unsigned"
    await assert_problem(await upload(client, h, ps.base_pdf(), "?unsigned=yes"), 400)


def _encrypted() -> bytes:
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("helvetica", size=12)
    pdf.cell(text="secret")
    pdf.set_encryption(owner_password="owner", user_password="user")
    return bytes(pdf.output())


BAD: dict[str, tuple[Callable[[], bytes], int, str]] = {
    "empty": (lambda: b"", 400, "pdf_malformed"),
    "not_a_pdf": (lambda: b"hello, this is not a PDF", 400, "pdf_malformed"),
    "truncated": (lambda: approval()[: len(approval()) // 2], 400, "pdf_malformed"),
    "garbled_xref": (lambda: approval().replace(b"xref", b"xreg"), 400, "pdf_malformed"),
    "encrypted": (_encrypted, 400, "pdf_encrypted"),
    "incremental_saving": (lambda: ps.incremental_saving_attack(approval()), 422,
                           "pdf_modified_after_signing"),
    "signature_wrapping": (lambda: ps.signature_wrapping(approval()), 422,
                           "pdf_signature_invalid"),
    "usf_empty_contents": (lambda: ps.forgery_empty_contents(approval()), 422,
                           "pdf_signature_invalid"),
    "usf_missing_contents": (lambda: ps.forgery_missing_contents(approval()), 422,
                             "pdf_signature_invalid"),
    "usf_broken_byte_range": (lambda: ps.forgery_broken_byte_range(approval()), 422,
                              "pdf_signature_invalid"),
    "shadow_hide": (ps.shadow_hide, 422, "pdf_modified_after_signing"),
    "shadow_replace": (ps.shadow_replace, 422, "pdf_modified_after_signing"),
    "shadow_hide_and_replace": (ps.shadow_hide_and_replace, 422, "pdf_modified_after_signing"),
}


async def test_bad_and_attacked_pdfs_get_a_4xx_and_nothing_is_stored(make_client: Any,
                                                                    tmp_path: Path) -> None:
    client = await anchored_client(make_client, tmp_path)
    h = await learner(client)
    for name, (make, status, code) in BAD.items():
        body = await assert_problem(await upload(client, h, make()), status, code)
        assert "Test University" not in body["detail"], name
    assert await count(client, h) == 0


@pytest.mark.parametrize("declared", [True, False])
async def test_over_size_pdf_is_413_before_it_is_read(make_client: Any, declared: bool) -> None:
    client = await make_client(SATCHEL_MAX_PDF_BYTES="4096")
    h = await learner(client)
    data = ps.sign(ps.base_pdf(padding_bytes=8000))

    async def chunks() -> Any:  # no Content-Length: the limit holds while reading
        yield data

    r = await client.post("/v1/credentials", data=data if declared else chunks(),
                          headers={**h, **PDF})
    await assert_problem(r, 413, "payload_too_large")
    assert await count(client, h) == 0


async def test_pdf_credentials_survive_a_gdpr_export_and_import(make_client: Any,
                                                                tmp_path: Path) -> None:
    client = await anchored_client(make_client, tmp_path)
    h = await learner(client)
    pdf = await (await upload(client, h, with_edc())).json()
    kept = await (await upload(client, h, ps.base_pdf(), "?unsigned=keep")).json()
    r = await client.post("/v1/me/export", json={"passphrase": "a bundle passphrase 42"},
                          headers=h)
    assert r.status == 200, await r.text()
    bundle = await r.json()
    h2 = await learner(client, "newcomer")
    r = await client.post("/v1/me/import", json={**bundle, "passphrase": "a bundle passphrase 42"},
                          headers=h2)
    assert r.status == 201, await r.text()
    assert (await r.json())["credentials"] == 3  # the PDF, its EDC, the unsigned PDF
    again = await (await client.get(f"/v1/credentials/{pdf['id']}", headers=h2)).json()
    assert base64.b64decode(again["raw"]) == with_edc()
    assert again["verification"]["signature"] == "valid"
    assert again["verification"]["issuer_trusted"] is True
    assert again["elements"] == pdf["elements"]  # still the attached EDC's
    unsigned = await (await client.get(f"/v1/credentials/{kept['id']}", headers=h2)).json()
    assert unsigned["verification"]["signature"] == "unsupported"
    assert await count(client, h2) == 3
