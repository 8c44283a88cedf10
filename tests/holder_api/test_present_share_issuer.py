"""A whole-credential share link tells the public whose key signed, on both backends.

The forgery (security review): a learner signs a VC-JWT with a key of their own, puts that key in
the token's header and names https://university.example as issuer. Its signature is valid, but
it says nothing about the university: the public page must not show it as "Verified" or "Issued
by" the university (JSON: ``verified.issuer_key`` ``self_asserted``, ``problems``
``issuer_key_self_asserted``, ``issuer_confirmed`` false). The same for a Data Integrity proof
whose key is the https issuer URL's own multibase fragment. A DID issuer signing with its own key
stays "Verified"; a self-asserted key the trust list pins for the issuer shows as trusted.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import base58
from aiohttp.test_utils import TestClient
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from tests.holder_api.present_support import OB_SAMPLE, share_whole
from tests.support.http_api import learner
from wallet.crypto import HolderKey, generate_holder_key
from wallet.formats.jsonld.di_signing import sign_data_integrity
from wallet.jose import jwk_thumbprint, sign_compact

UNIVERSITY = "https://university.example"
SELF_ASSERTED = ("signed with a key the credential itself supplies, so the issuer is not "
                 "confirmed: anyone can sign a credential that names any issuer this way")


def _vc_jwt(key: HolderKey, issuer: str, header: dict[str, Any]) -> str:
    now = int(time.time())
    vc = {"@context": ["https://www.w3.org/2018/credentials/v1"],
          "type": ["VerifiableCredential"], "issuer": issuer,
          "issuanceDate": "2024-01-01T00:00:00Z",
          "credentialSubject": {"degree": "PhD in Physics", "name": "Mallory"}}
    return sign_compact({"alg": key.alg, "typ": "JWT", **header},
                        {"iss": issuer, "nbf": now - 10, "vc": vc}, key.private_key)


def forged_vc_jwt(key: HolderKey) -> str:
    """The review's forgery: the signer's own key in the header, a university as issuer."""
    return _vc_jwt(key, UNIVERSITY, {"jwk": key.public_jwk})


def _data_integrity(key: HolderKey, issuer: str, verification_method: str) -> str:
    doc = json.loads(OB_SAMPLE.read_text(encoding="utf-8"))
    doc.pop("proof")
    doc["issuer"]["id"] = issuer
    return json.dumps(sign_data_integrity(
        doc, key=key.private_key, verification_method=verification_method,  # type: ignore[arg-type]
        proof_purpose="assertionMethod", created=key.created_at))


def forged_data_integrity(key: HolderKey) -> str:
    """The 1EdTech form: the key is the https issuer URL's own multibase fragment."""
    raw = key.private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    multibase = "z" + base58.b58encode(b"\xed\x01" + raw).decode("ascii")
    return _data_integrity(key, UNIVERSITY, f"{UNIVERSITY}#{multibase}")


async def test_a_forged_vc_jwt_is_not_shown_as_verified(client: TestClient[Any, Any]) -> None:
    token = await learner(client, "mallory")
    at_import, body, page = await share_whole(client, token, forged_vc_jwt(generate_holder_key()))
    assert at_import["key_source"] == "header_jwk"
    assert at_import["problems"] == ["issuer_key_self_asserted"]
    v = body["verified"]
    assert (v["signature"], v["signature_checked"], v["key_binding"], v["validity"]) == (
        "valid", "now", "valid", "valid")  # the signature itself is fine ...
    assert (v["key_source"], v["issuer_key"]) == ("header_jwk", "self_asserted")  # ... whose?
    assert v["problems"] == ["issuer_key_self_asserted"]
    assert v["issuer_trusted"] is False and v["issuer_confirmed"] is False
    assert body["credential"]["issuer"] == UNIVERSITY
    assert "<b>Verified</b>" not in page and "<b>NOT verified</b>" in page
    assert "Issued by" not in page
    assert f"Names <b>{UNIVERSITY}</b> as its issuer (not confirmed)." in page
    assert SELF_ASSERTED in page


async def test_a_forged_data_integrity_credential_is_not_shown_as_verified(
        client: TestClient[Any, Any]) -> None:
    token = await learner(client, "mallory")
    at_import, body, page = await share_whole(client, token,
                                              forged_data_integrity(generate_holder_key("EdDSA")))
    assert at_import["key_source"] == "multibase_fragment"
    v = body["verified"]
    assert (v["signature"], v["signature_checked"]) == ("valid", "now")
    assert (v["key_source"], v["issuer_key"]) == ("multibase_fragment", "self_asserted")
    assert "issuer_key_self_asserted" in v["problems"] and v["issuer_confirmed"] is False
    assert "<b>NOT verified</b>" in page and SELF_ASSERTED in page and "Issued by" not in page


async def test_a_did_issuer_signing_with_its_own_key_stays_verified(
        client: TestClient[Any, Any]) -> None:
    token = await learner(client, "ada")
    key = generate_holder_key("EdDSA")
    for raw in (_vc_jwt(key, key.did, {"kid": key.did_url}),
                _data_integrity(key, key.did, key.did_url)):
        at_import, body, page = await share_whole(client, token, raw)
        assert at_import["key_source"] == "did:jwk" and at_import["problems"] == []
        v = body["verified"]
        assert (v["signature"], v["signature_checked"], v["key_binding"], v["validity"]) == (
            "valid", "now", "valid", "valid")
        assert (v["key_source"], v["issuer_key"], v["problems"]) == ("did:jwk", "issuer", [])
        assert v["issuer_confirmed"] is True and v["issuer_trusted"] is False
        assert "<b>Verified</b>: signed with the issuer&#x27;s own key; " in page
        assert f"Issued by <b>{key.did}</b>." in page and "not confirmed" not in page


async def test_a_self_asserted_key_the_trust_list_pins_shows_trusted(
        make_client: Any, tmp_path: Path) -> None:
    pinned, other = generate_holder_key(), generate_holder_key()
    trust = tmp_path / "trust.json"
    trust.write_text(json.dumps({"issuers": [
        {"id": UNIVERSITY, "name": "Example University",
         "jwk_thumbprint": jwk_thumbprint(pinned.public_jwk)}]}))
    client = await make_client(SATCHEL_TRUST_LIST=str(trust))
    token = await learner(client, "mallory")

    at_import, body, page = await share_whole(client, token, forged_vc_jwt(pinned))
    assert at_import["issuer_trusted"] is True
    v = body["verified"]
    assert (v["signature"], v["issuer_key"], v["issuer_trusted"], v["issuer_confirmed"]) == (
        "valid", "self_asserted", True, True)
    assert v["problems"] == ["issuer_key_self_asserted"]  # still said: the pin vouches for it
    assert "<b>Verified</b>: signed with a key the credential itself supplies, which the trust " \
           "list pins for this issuer; " in page
    assert f"Issued by <b>{UNIVERSITY}</b> (trusted issuer)." in page

    # the issuer is listed, but this key is not its pinned one: no more than a forgery
    at_import, body, page = await share_whole(client, token, forged_vc_jwt(other))
    assert at_import["issuer_trusted"] is False
    assert (body["verified"]["issuer_trusted"], body["verified"]["issuer_confirmed"]) == (
        False, False)
    assert "<b>NOT verified</b>" in page and SELF_ASSERTED in page and "Issued by" not in page
