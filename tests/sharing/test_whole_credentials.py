"""The check a whole-credential share link runs at each view, against tampering of every part:
the VP (audience, nonce, age, signer, holder binding) and the credential it carries, and whose
key signed that credential (a key the credential supplied itself never confirms the issuer it
names). Real public samples (tests/vectors/microcredentials) and credentials signed here;
nothing may touch the network."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from sharing.errors import WholeCredentialOnly
from sharing.presentations import StoredCredentialUnusable, jwt_vp
from sharing.whole_credentials import check_stored, check_view, require_whole
from tests.support.vectors import VECTORS
from wallet.crypto import generate_holder_key
from wallet.formats.jsonld.di_signing import sign_data_integrity
from wallet.jose import b64url_decode, b64url_encode, sign_compact
from wallet.vault import StoredCredential

MC = VECTORS / "microcredentials"
NOW = datetime(2025, 1, 1, tzinfo=UTC)
AUD = "https://satchel.test/s/link"
AGE = timedelta(hours=1)

pytestmark = pytest.mark.usefixtures("no_network")  # a view never fetches anything


def _stored(name: str, fmt: str, *, issuer_jwk: dict[str, Any] | None = None,
            holder_jwk: dict[str, Any] | None = None, raw: str | None = None) -> StoredCredential:
    return StoredCredential(
        id="c1", format=fmt, raw=raw or (MC / name).read_text(encoding="utf-8"), types=(),
        issuer="x", title=None, issued_at=None, expires_at=None, status="none", added_at=NOW,
        data={"issuer_jwk": issuer_jwk, "holder_jwk": holder_jwk})


def _payload(stored: StoredCredential, *, key: Any = None, aud: str = AUD, nonce: str = "n" * 22,
             now: datetime = NOW, signature_at_import: str = "valid",
             at_import: dict[str, Any] | None = None,
             issuer_trusted: bool = False) -> dict[str, Any]:
    """A link's sealed payload as ShareLinkService.create builds it (``at_import``: what intake
    recorded about the issuer key; None: a link from before that was sealed into it)."""
    key = key or generate_holder_key()
    return {"presentation": jwt_vp([stored], holder_key=key, aud=aud, nonce=nonce, now=now,
                                   lifetime=3600),
            "aud": AUD, "nonce": "n" * 22, "raw": stored.raw,
            "issuer_jwk": stored.data["issuer_jwk"], "holder_jwk": stored.data["holder_jwk"],
            "credential": {"format": stored.format, "issuer_trusted": issuer_trusted,
                           "issuer": stored.issuer, "signature_at_import": signature_at_import},
            **({"at_import": at_import} if at_import is not None else {})}


async def _verified(payload: dict[str, Any]) -> dict[str, Any]:
    check = (await check_view(payload, now=NOW, max_age=AGE, checked_at="now")).verified
    return {**dataclasses.asdict(check), "problems": list(check.problems)}


def _clr_issuer_jwk() -> dict[str, Any]:
    raw = (MC / "1edtech/clr20/simple.jwt").read_text(encoding="utf-8")
    header = json.loads(b64url_decode(raw.split(".")[0]))
    return dict(header["jwk"])


CLR_AT_IMPORT = {"key_source": "header_jwk", "problems": ["issuer_key_self_asserted"]}


@pytest.mark.parametrize(("name", "fmt", "at_import", "key_source", "issuer_key"), [
    # the 1EdTech CLR 2.0 VC-JWT carries its key in its header: valid, but self-asserted
    ("1edtech/clr20/simple.jwt", "jwt_vc_json", CLR_AT_IMPORT, "header_jwk", "self_asserted"),
    # ... and so does a link sealed before intake's findings were: re-derived from the header
    ("1edtech/clr20/simple.jwt", "jwt_vc_json", None, "header_jwk", "self_asserted"),
    # a 1EdTech https issuer whose key is its URL's own multibase fragment
    ("1edtech/ob30/complete.json", "ldp_vc", None, "multibase_fragment", "self_asserted"),
    # an EDC seal's own certificate: nothing ties it to the issuer identifier
    ("elm/Sample-MC-Annex1-signed.jsonld", "ldp_vc", None, "x5c_seal", "self_asserted"),
    # signed by a did:key that is not the issuer (urn:uuid:...)
    ("1edtech/ob30/simple-did-key-method.json", "ldp_vc", None, "did:key", "not_issuer"),
])
async def test_untouched_links_verify_now_and_say_whose_key_signed(
        name: str, fmt: str, at_import: dict[str, Any] | None, key_source: str,
        issuer_key: str) -> None:
    jwk = _clr_issuer_jwk() if fmt == "jwt_vc_json" else None
    stored = _stored(name, fmt, issuer_jwk=jwk)
    v = await _verified(_payload(stored, at_import=at_import))
    assert (v["key_binding"], v["signature"], v["signature_checked"], v["validity"]) == (
        "valid", "valid", "now", "valid")
    assert (v["key_source"], v["issuer_key"]) == (key_source, issuer_key)
    assert v["issuer_confirmed"] is False and v["issuer_trusted"] is False
    if issuer_key == "self_asserted":
        assert "issuer_key_self_asserted" in v["problems"]
    else:
        assert "verification_method_not_issuer" in v["problems"]
    await check_stored(stored.format, stored.raw, jwk, NOW, key_source=key_source)


async def test_a_self_asserted_key_the_trust_list_pins_confirms_the_issuer() -> None:
    stored = _stored("1edtech/clr20/simple.jwt", "jwt_vc_json", issuer_jwk=_clr_issuer_jwk())
    v = await _verified(_payload(stored, at_import=CLR_AT_IMPORT, issuer_trusted=True))
    assert (v["signature"], v["issuer_key"], v["issuer_trusted"], v["issuer_confirmed"]) == (
        "valid", "self_asserted", True, True)
    assert "issuer_key_self_asserted" in v["problems"]  # still said: the pin is what vouches


def _vc(issuer: str) -> dict[str, Any]:
    return {"@context": ["https://www.w3.org/2018/credentials/v1"],
            "type": ["VerifiableCredential"], "issuer": issuer,
            "issuanceDate": "2024-01-01T00:00:00Z",
            "credentialSubject": {"degree": "PhD in Physics"}}


def _forged_vc_jwt(issuer: str = "https://university.example") -> tuple[str, dict[str, Any]]:
    """A VC-JWT anyone can make: signed with their own key, put in its header, naming a
    university as issuer."""
    k = generate_holder_key()
    raw = sign_compact({"alg": "ES256", "typ": "JWT", "jwk": k.public_jwk},
                       {"iss": issuer, "nbf": int(NOW.timestamp()) - 10, "vc": _vc(issuer)},
                       k.private_key)
    return raw, dict(k.public_jwk)


async def test_a_forged_vc_jwt_is_not_shown_as_the_universitys() -> None:
    raw, jwk = _forged_vc_jwt()
    stored = _stored("", "jwt_vc_json", issuer_jwk=jwk, raw=raw)
    for at_import in ({"key_source": "header_jwk", "problems": ["issuer_key_self_asserted"]},
                      None):
        v = await _verified(_payload(stored, at_import=at_import))
        assert (v["signature"], v["signature_checked"], v["key_source"], v["issuer_key"]) == (
            "valid", "now", "header_jwk", "self_asserted")
        assert v["problems"] == ["issuer_key_self_asserted"]
        assert v["issuer_confirmed"] is False


async def test_a_kept_key_is_handed_back_only_when_the_issuer_published_it() -> None:
    """A key from issuer metadata verifies the VC-JWT now; the same key recorded as the
    header's never stands in for the issuer's."""
    k = generate_holder_key()
    issuer = "https://university.example"
    raw = sign_compact({"alg": "ES256", "typ": "JWT", "kid": "k1"},
                       {"iss": issuer, "nbf": int(NOW.timestamp()) - 10, "vc": _vc(issuer)},
                       k.private_key)
    stored = _stored("", "jwt_vc_json", issuer_jwk=dict(k.public_jwk), raw=raw)
    v = await _verified(_payload(stored, at_import={"key_source": "jwt_vc_issuer_metadata",
                                                    "problems": []}))
    assert (v["signature"], v["signature_checked"], v["issuer_key"], v["issuer_confirmed"]) == (
        "valid", "now", "issuer", True)
    assert v["problems"] == []
    v = await _verified(_payload(stored, at_import={"key_source": "header_jwk", "problems": []}))
    assert (v["signature"], v["signature_checked"], v["issuer_key"], v["issuer_confirmed"]) == (
        "valid", "at_import", "self_asserted", False)


async def test_a_did_issuer_signing_with_its_own_key_is_confirmed() -> None:
    k = generate_holder_key("EdDSA")
    raw = sign_compact({"alg": "EdDSA", "typ": "JWT", "kid": k.did_url},
                       {"iss": k.did, "nbf": int(NOW.timestamp()) - 10, "vc": _vc(k.did)},
                       k.private_key)
    doc = json.loads((MC / "1edtech/ob30/simple-did-key-method.json").read_text())
    doc.pop("proof")
    doc["issuer"]["id"] = k.did
    signed = sign_data_integrity(doc, key=k.private_key, verification_method=k.did_url,
                                 proof_purpose="assertionMethod", created=NOW)
    for stored in (_stored("", "jwt_vc_json", raw=raw, issuer_jwk=dict(k.public_jwk)),
                   _stored("", "ldp_vc", raw=json.dumps(signed))):
        for at_import in ({"key_source": "did:jwk", "problems": []}, None):
            v = await _verified(_payload(stored, at_import=at_import))
            assert (v["signature"], v["signature_checked"], v["key_source"], v["issuer_key"]) \
                == ("valid", "now", "did:jwk", "issuer"), stored.format
            assert v["problems"] == [] and v["issuer_confirmed"] is True


async def test_at_import_keeps_intakes_key_source_and_problems() -> None:
    """No key reachable offline (did:web, x5c, none): the import's verdict, with the key source
    and the problems intake recorded — a link from before has none, and confirms nothing."""
    stored = _stored("1edtech/ob30/simple.jwt", "jwt_vc_json")  # no key in the token
    v = await _verified(_payload(stored, at_import={
        "key_source": "did:web", "problems": ["status_unknown", "expired"]}))
    assert (v["signature"], v["signature_checked"], v["issuer_key"], v["issuer_confirmed"]) == (
        "valid", "at_import", "issuer", True)
    assert v["problems"] == ["status_unknown"]  # the time window is the view's own finding
    v = await _verified(_payload(stored))
    assert (v["signature"], v["issuer_key"], v["issuer_confirmed"], v["problems"]) == (
        "valid", "unknown", False, [])


async def test_a_vc_jwt_stored_with_a_line_break_verifies_now() -> None:
    stored = _stored("1edtech/clr20/simple.jwt", "jwt_vc_json", issuer_jwk=_clr_issuer_jwk())
    stored = dataclasses.replace(stored, raw=stored.raw + "\n")  # as a file upload may have it
    v = await _verified(_payload(stored))
    assert (v["signature"], v["signature_checked"], v["key_binding"]) == ("valid", "now", "valid")


async def test_no_offline_key_reports_the_import_result() -> None:
    stored = _stored("1edtech/ob30/simple.jwt", "jwt_vc_json")
    v = await _verified(_payload(stored, signature_at_import="no_key", at_import={
        "key_source": None, "problems": ["no_issuer_key"]}))
    assert (v["signature"], v["signature_checked"], v["key_binding"]) == (
        "no_key", "at_import", "valid")
    assert (v["issuer_key"], v["issuer_confirmed"], v["problems"]) == (
        "unknown", False, ["no_issuer_key"])


@pytest.mark.parametrize("change", ["aud", "nonce", "too_old", "not_yet", "holder", "iss",
                                    "vp_holder"])
async def test_a_vp_that_is_not_this_links_is_invalid(change: str) -> None:
    stored = _stored("1edtech/ob30/simple-did-key-method.json", "ldp_vc")
    payload = {
        "aud": lambda: _payload(stored, aud="https://satchel.test/s/other"),
        "nonce": lambda: _payload(stored, nonce="m" * 22),
        "too_old": lambda: _payload(stored, now=NOW - AGE - timedelta(minutes=5)),
        "not_yet": lambda: _payload(stored, now=NOW + timedelta(minutes=5)),
        "holder": lambda: _payload(dataclasses.replace(
            stored, data={**stored.data, "holder_jwk": generate_holder_key().public_jwk})),
        "iss": lambda: _payload(stored),
        "vp_holder": lambda: _payload(stored),
    }[change]()
    if change in ("iss", "vp_holder"):  # well signed, but naming another holder than the signer
        claims = json.loads(b64url_decode(payload["presentation"].split(".")[1]))
        key = generate_holder_key()
        claims["iss"] = claims["vp"]["holder"] = key.did
        stranger = generate_holder_key().did
        if change == "iss":
            claims["iss"] = stranger
        else:
            claims["vp"]["holder"] = stranger
        payload["presentation"] = sign_compact(
            {"alg": key.alg, "typ": "JWT", "kid": key.did_url}, claims, key.private_key)
    v = await _verified(payload)
    assert v["key_binding"] == "invalid"
    assert v["signature"] == "valid"  # the credential itself is untouched


async def test_holder_bound_credential_verifies_with_its_key() -> None:
    key = generate_holder_key()
    stored = _stored("1edtech/ob30/simple-did-key-method.json", "ldp_vc",
                     holder_jwk=key.public_jwk)
    v = await _verified(_payload(stored, key=key))
    assert v["key_binding"] == "valid" and v["holder_bound"] is True


@pytest.mark.parametrize("name", ["1edtech/ob30/simple-did-key-method.json",
                                  "elm/Sample-MC-Annex1-signed.jsonld"])
async def test_an_altered_credential_is_invalid(name: str) -> None:
    stored = _stored(name, "ldp_vc")
    payload = _payload(stored)
    # the raw bytes altered (a claim changed; for JAdES inside the sealed payload string)
    doc = json.loads(stored.raw)
    if "payload" in doc:
        doc["payload"] = doc["payload"].replace("Annex", "Anney", 1)
    else:
        doc["credentialSubject"]["id"] = "urn:uuid:00000000-0000-0000-0000-000000000000"
    altered = json.dumps(doc)
    v = await _verified({**payload, "raw": altered})
    assert v["signature"] == "invalid"  # the VP carries other bytes than the raw served
    assert "presented_credential_differs" in v["problems"] and v["issuer_confirmed"] is False
    forged = _payload(dataclasses.replace(stored, raw=altered))
    v = await _verified(forged)
    assert v["signature"] == "invalid" and v["key_binding"] == "valid"
    with pytest.raises(StoredCredentialUnusable):
        await check_stored("ldp_vc", altered, None, NOW, key_source=None)


async def test_the_vp_must_carry_the_served_credential() -> None:
    """Both credentials verify on their own; served together they do not."""
    served = _stored("1edtech/ob30/simple-did-key-method.json", "ldp_vc")
    carried = _stored("1edtech/ob30/simple.json", "ldp_vc")
    v = await _verified({**_payload(carried), "raw": served.raw})
    assert (v["signature"], v["key_binding"]) == ("invalid", "valid")
    jwt_served = _stored("1edtech/clr20/simple.jwt", "jwt_vc_json", issuer_jwk=_clr_issuer_jwk())
    jwt_carried = _stored("waltid/openbadgecredential_sample.signed.json", "jwt_vc_json")
    v = await _verified({**_payload(jwt_carried), "raw": jwt_served.raw,
                         "issuer_jwk": jwt_served.data["issuer_jwk"]})
    assert v["signature"] == "invalid"


async def test_a_vc_jwt_with_another_signature_is_invalid() -> None:
    stored = _stored("1edtech/clr20/simple.jwt", "jwt_vc_json", issuer_jwk=_clr_issuer_jwk())
    h, p, s = stored.raw.strip().split(".")
    sig = bytearray(b64url_decode(s))
    sig[0] ^= 1
    forged = dataclasses.replace(stored, raw=f"{h}.{p}.{b64url_encode(bytes(sig))}")
    v = await _verified(_payload(forged))
    assert (v["signature"], v["signature_checked"]) == ("invalid", "now")


async def test_expired_by_now() -> None:
    stored = _stored("1edtech/ob30/complete.json", "ldp_vc")  # validUntil 2030-01-01
    payload = _payload(stored)
    later = datetime(2031, 1, 1, tzinfo=UTC)
    v = (await check_view(payload, now=later, max_age=later - NOW, checked_at="now")).verified
    assert v.validity == "expired"
    with pytest.raises(StoredCredentialUnusable):
        await check_stored("ldp_vc", stored.raw, None, later, key_source=None)


def test_only_the_root_is_a_whole_choice() -> None:
    require_whole([()])
    for bad in ([], [("credentialSubject",)], [(), ("issuer",)], [(), ()]):
        with pytest.raises(WholeCredentialOnly):
            require_whole(bad)
