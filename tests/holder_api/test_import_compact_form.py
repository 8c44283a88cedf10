"""A signed credential re-keyed so its N-Quads (and proof) are unchanged but its JSON says
something else is refused at import: 422 ``invalid_proof``, nothing stored, on both backends.

The finding (security review): an OB 3.0 credential whose ``achievement`` moved under its full
IRI, with an inline ``@nest``/``@index`` context forging the title and ``validUntil`` spelt as a
full IRI, imported ``valid``; GET showed "Doctor of Medicine" and the share page "Verified".
"""

from __future__ import annotations

import copy
import json
from typing import Any

from aiohttp.test_utils import TestClient

from tests.holder_api.present_support import OB_SAMPLE, share_whole
from tests.support.http_api import assert_problem, auth, learner
from tests.wallet.di_support import pyld_nquads, sign_di
from wallet.crypto import generate_holder_key

OB = "https://purl.imsglobal.org/spec/vc/ob/vocab.html#"
CRED = "https://www.w3.org/2018/credentials#"
XSD_DATETIME = "http://www.w3.org/2001/XMLSchema#dateTime"


def _signed() -> dict[str, Any]:
    issuer = generate_holder_key("EdDSA")
    doc = json.loads(OB_SAMPLE.read_text(encoding="utf-8"))
    doc.pop("proof")
    doc["issuer"]["id"] = issuer.did
    doc["validFrom"], doc["validUntil"] = "2020-01-01T00:00:00Z", "2021-01-01T00:00:00Z"
    return sign_di(doc, issuer.private_key, issuer.did_url)  # type: ignore[arg-type]


def _forged_title(signed: dict[str, Any]) -> dict[str, Any]:
    f = copy.deepcopy(signed)
    cs = f["credentialSubject"]
    cs["type"] = [OB + "AchievementSubject"]  # escapes the protected type-scoped context
    cs[OB + "achievement"] = cs.pop("achievement")
    f["@context"] = [*f["@context"],
                     {"achievement": {"@id": "@nest", "@context": {"name": "@index"}}}]
    cs["achievement"] = {"name": "Doctor of Medicine"}
    return f


def _hidden_expiry(signed: dict[str, Any]) -> dict[str, Any]:
    f = copy.deepcopy(signed)
    f[CRED + "validUntil"] = {"@value": f.pop("validUntil"), "@type": XSD_DATETIME}
    return f


def _unsecured(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if k != "proof"}


async def test_rekeyed_credentials_are_not_imported(client: TestClient[Any, Any]) -> None:
    token = await learner(client, "mallory")
    signed = _signed()
    r = await client.post("/v1/credentials", json={"raw": json.dumps(signed)},
                          headers=auth(token))
    await assert_problem(r, 422, "credential_expired")  # the control: its expiry is seen
    for forged in (_hidden_expiry(signed), _forged_title(_hidden_expiry(signed))):
        assert pyld_nquads(_unsecured(forged)) == pyld_nquads(_unsecured(signed))
        r = await client.post("/v1/credentials", json={"raw": json.dumps(forged)},
                              headers=auth(token))
        await assert_problem(r, 422, "invalid_proof")
    listed = await (await client.get("/v1/credentials", headers=auth(token))).json()
    assert listed["items"] == []


async def test_a_forged_title_is_never_verified(client: TestClient[Any, Any]) -> None:
    token = await learner(client, "mallory")
    signed = _signed()
    signed_doc = _unsecured(signed)
    del signed_doc["validUntil"]  # a credential that does not expire, re-signed by its issuer
    issuer = generate_holder_key("EdDSA")
    signed_doc["issuer"]["id"] = issuer.did
    good = sign_di(signed_doc, issuer.private_key, issuer.did_url)  # type: ignore[arg-type]
    r = await client.post("/v1/credentials", json={"raw": json.dumps(_forged_title(good))},
                          headers=auth(token))
    await assert_problem(r, 422, "invalid_proof")
    listed = await (await client.get("/v1/credentials", headers=auth(token))).json()
    assert listed["items"] == []
    # the control: the credential as signed imports and its share page says Verified
    at_import, _body, page = await share_whole(client, token, json.dumps(good))
    assert at_import["signature"] == "valid"
    assert "<b>Verified</b>" in page and "Doctor of Medicine" not in page
