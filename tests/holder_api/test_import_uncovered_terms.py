"""A Data Integrity credential whose own statements its proof does not cover is refused at import.

The finding (security review): an issuer's JSON-LD processor that silently drops a node whose
``id`` is not an absolute IRI (``urn:uuid:280c19b6 4a37``: one space) signs N-Quads without the
credential's ``name``, ``type`` and ``validUntil``. The learner edited them, the import said
``valid`` and the share page "Verified". Now the proof is ``invalid`` (``jsonld_relative_iri``):
intake refuses it with 422 ``invalid_proof`` and stores nothing, on both backends.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from aiohttp.test_utils import TestClient

from tests.holder_api.present_support import OB_SAMPLE, share_whole
from tests.support.http_api import assert_problem, auth, learner
from tests.wallet.di_support import pyld_nquads, sign_di_plain_pyld
from wallet.crypto import generate_holder_key


def _signed_by_a_did_issuer(credential_id: str) -> dict[str, Any]:
    issuer = generate_holder_key("EdDSA")  # a DID issuer signing with its own key
    doc = json.loads(OB_SAMPLE.read_text(encoding="utf-8"))
    doc.pop("proof")
    doc["issuer"]["id"] = issuer.did
    doc["id"] = credential_id
    return sign_di_plain_pyld(doc, issuer.private_key, issuer.did_url)  # type: ignore[arg-type]


def _forge(signed: dict[str, Any]) -> dict[str, Any]:
    forged = copy.deepcopy(signed)
    forged["name"] = "Doctor of Medicine (forged)"
    forged["validUntil"] = "2099-01-01T00:00:00Z"
    forged["type"].append("ForgedCredential")
    return forged


async def test_edits_outside_the_proof_are_not_imported(client: TestClient[Any, Any]) -> None:
    token = await learner(client, "mallory")
    signed = _signed_by_a_did_issuer("urn:uuid:280c19b6 4a37")
    forged = _forge(signed)
    unsecured = {k: v for k, v in forged.items() if k != "proof"}
    original = {k: v for k, v in signed.items() if k != "proof"}
    assert pyld_nquads(unsecured) == pyld_nquads(original)  # the edits are outside the proof
    for raw in (forged, signed):  # neither the edit nor the credential it came from
        r = await client.post("/v1/credentials", json={"raw": json.dumps(raw)},
                              headers=auth(token))
        await assert_problem(r, 422, "invalid_proof")
    listed = await (await client.get("/v1/credentials", headers=auth(token))).json()
    assert listed["items"] == []


async def test_the_same_credential_with_an_absolute_id(client: TestClient[Any, Any]) -> None:
    # the control: the proof covers the credential node, so it verifies and its edit does not
    token = await learner(client, "mallory")
    signed = _signed_by_a_did_issuer("urn:uuid:280c19b6-4a37")
    r = await client.post("/v1/credentials", json={"raw": json.dumps(_forge(signed))},
                          headers=auth(token))
    await assert_problem(r, 422, "invalid_proof")
    at_import, body, page = await share_whole(client, token, json.dumps(signed))
    assert at_import["signature"] == "valid"
    assert body["verified"]["issuer_confirmed"] is True and "<b>Verified</b>" in page
