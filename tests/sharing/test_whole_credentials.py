"""The check a whole-credential share link runs at each view, against tampering of every part:
the VP (audience, nonce, age, signer, holder binding) and the credential it carries. Real public
samples (tests/vectors/microcredentials); nothing may touch the network."""

from __future__ import annotations

import dataclasses
import json
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from sharing.errors import WholeCredentialOnly
from sharing.presentations import StoredCredentialUnusable, jwt_vp
from sharing.whole_credentials import check_stored, check_view, require_whole
from tests.conftest import VECTORS
from wallet.crypto import generate_holder_key
from wallet.jose import b64url_decode, b64url_encode, sign_compact
from wallet.vault import StoredCredential

MC = VECTORS / "microcredentials"
NOW = datetime(2025, 1, 1, tzinfo=UTC)
AUD = "https://satchel.test/s/link"
AGE = timedelta(hours=1)


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[object]]:
    """Any socket connection attempt is recorded and fails; none may happen."""
    attempts: list[object] = []

    def refuse(self: socket.socket, address: object) -> None:
        attempts.append(address)
        raise OSError("network disabled in this test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    yield attempts
    assert attempts == []


def _stored(name: str, fmt: str, *, issuer_jwk: dict[str, Any] | None = None,
            holder_jwk: dict[str, Any] | None = None) -> StoredCredential:
    return StoredCredential(
        id="c1", format=fmt, raw=(MC / name).read_text(encoding="utf-8"), types=(),
        issuer="x", title=None, issued_at=None, expires_at=None, status="none", added_at=NOW,
        data={"issuer_jwk": issuer_jwk, "holder_jwk": holder_jwk})


def _payload(stored: StoredCredential, *, key: Any = None, aud: str = AUD, nonce: str = "n" * 22,
             now: datetime = NOW, signature_at_import: str = "valid") -> dict[str, Any]:
    key = key or generate_holder_key()
    return {"presentation": jwt_vp([stored], holder_key=key, aud=aud, nonce=nonce, now=now,
                                   lifetime=3600),
            "aud": AUD, "nonce": "n" * 22, "raw": stored.raw,
            "issuer_jwk": stored.data["issuer_jwk"], "holder_jwk": stored.data["holder_jwk"],
            "credential": {"format": stored.format, "issuer_trusted": False,
                           "signature_at_import": signature_at_import}}


async def _verified(payload: dict[str, Any]) -> dict[str, Any]:
    return (await check_view(payload, now=NOW, max_age=AGE)).verified


def _clr_issuer_jwk() -> dict[str, Any]:
    raw = (MC / "1edtech/clr20/simple.jwt").read_text(encoding="utf-8")
    header = json.loads(b64url_decode(raw.split(".")[0]))
    return dict(header["jwk"])


async def test_untouched_links_verify_now() -> None:
    for stored in (_stored("1edtech/ob30/simple-did-key-method.json", "ldp_vc"),
                   _stored("elm/Sample-MC-Annex1-signed.jsonld", "ldp_vc"),
                   _stored("1edtech/clr20/simple.jwt", "jwt_vc_json",
                           issuer_jwk=_clr_issuer_jwk())):
        v = await _verified(_payload(stored))
        assert (v["key_binding"], v["signature"], v["signature_checked"], v["validity"]) == (
            "valid", "valid", "now", "valid"), stored.raw[:40]
        await check_stored(stored.format, stored.raw, stored.data["issuer_jwk"], NOW)


async def test_a_vc_jwt_stored_with_a_line_break_verifies_now() -> None:
    stored = _stored("1edtech/clr20/simple.jwt", "jwt_vc_json", issuer_jwk=_clr_issuer_jwk())
    stored = dataclasses.replace(stored, raw=stored.raw + "\n")  # as a file upload may have it
    v = await _verified(_payload(stored))
    assert (v["signature"], v["signature_checked"], v["key_binding"]) == ("valid", "now", "valid")


async def test_no_offline_key_reports_the_import_result() -> None:
    stored = _stored("1edtech/ob30/simple.jwt", "jwt_vc_json")
    v = await _verified(_payload(stored, signature_at_import="no_key"))
    assert (v["signature"], v["signature_checked"], v["key_binding"]) == (
        "no_key", "at_import", "valid")


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
    forged = _payload(dataclasses.replace(stored, raw=altered))
    v = await _verified(forged)
    assert v["signature"] == "invalid" and v["key_binding"] == "valid"
    with pytest.raises(StoredCredentialUnusable):
        await check_stored("ldp_vc", altered, None, NOW)


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
    v = (await check_view(payload, now=later, max_age=later - NOW)).verified
    assert v["validity"] == "expired"
    with pytest.raises(StoredCredentialUnusable):
        await check_stored("ldp_vc", stored.raw, None, later)


def test_only_the_root_is_a_whole_choice() -> None:
    require_whole([()])
    for bad in ([], [("credentialSubject",)], [(), ("issuer",)], [(), ()]):
        with pytest.raises(WholeCredentialOnly):
            require_whole(bad)
