"""RFC 9901 §8: SD-JWTs in the JWS JSON Serialization, flattened and general.

The vectors named ``json_serialization_*`` ask for it. The reference ``sd-jwt`` package (0.10.4)
predates §8's final form (it puts ``disclosures`` at the top level, not in the unprotected
header), so the JSON here is made by an independent JOSE library, ``jwcrypto``: it signs the
reference issuer's payload with the vector's issuer keys and carries the reference issuer's
Disclosures (and the reference holder's KB-JWT) in the first unprotected header, as §8.1 and §8.3
require. ``sd_hash`` is checked against a value computed here from the §8.1 rule with hashlib.
"""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jwcrypto.jwk import JWK
from jwcrypto.jws import JWS
from sd_jwt.holder import SDJWTHolder

from tests.wallet.sd_jwt_support import (
    AUD,
    CASES,
    KB_IAT,
    NONCE,
    NOW,
    Case,
    reference_issue,
    reference_verify,
    strip_sd,
)
from wallet.errors import SatchelError
from wallet.formats.sd_jwt import (
    InvalidIssuerJwt,
    InvalidKeyBinding,
    KeyBindingNotAllowed,
    MalformedSdJwt,
    UnverifiedSdJwt,
    build_presentation,
    static_key,
    verify_key_binding,
    verify_sd_jwt,
)
from wallet.jose import private_key_from_jwk, public_key_from_jwk

JSON_CASES = [c for c in CASES if c.spec.get("serialization_format") == "json"]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _issuer_keys(case: Case) -> list[dict[str, Any]]:
    ks = case.settings["key_settings"]
    return list(ks["issuer_keys"]) if "issuer_keys" in ks else [ks["issuer_key"]]


def json_issue(case: Case, *, general: bool) -> tuple[dict[str, Any], list[str]]:
    """jwcrypto signs the reference issuer's payload; the Disclosures go in the first unprotected
    header. ``general`` adds a second signature (the vector's second issuer key, or the first
    again) with an unprotected header of its own."""
    compact = reference_issue(case)
    jwt, *disclosures, _ = compact.split("~")
    protected_b64, payload_b64, _sig = jwt.split(".")
    protected = _unb64(protected_b64).decode()
    jws = JWS(_unb64(payload_b64))
    keys = _issuer_keys(case)
    jws.add_signature(JWK(**keys[0]), alg="ES256", protected=protected,
                      header={"disclosures": disclosures})
    if general:
        second = {**json.loads(protected), "kid": keys[-1].get("kid", "second")}
        jws.add_signature(JWK(**keys[-1]), alg="ES256", protected=json.dumps(second),
                          header={"x-note": "a second signer"})
    obj = json.loads(jws.serialize(compact=False))
    assert ("signatures" in obj) is general, obj.keys()
    return obj, disclosures


def _first(obj: dict[str, Any]) -> dict[str, Any]:
    return obj["signatures"][0] if "signatures" in obj else obj


def compact_equivalent(obj: dict[str, Any]) -> str:
    """§8.1: protected.payload.signature of the (first) signature, then its Disclosures."""
    first = _first(obj)
    jwt = f"{first['protected']}.{obj['payload']}.{first['signature']}"
    return "~".join([jwt, *first["header"].get("disclosures", [])]) + "~"


def _verify(text: str, case: Case, **kw: Any) -> Any:
    return verify_sd_jwt(UnverifiedSdJwt.parse(text, **kw),
                         issuer_key_resolver=static_key(public_key_from_jwk(case.issuer_jwk)),
                         now=NOW)


@pytest.fixture(params=JSON_CASES, ids=[c.id for c in JSON_CASES])
def case(request: pytest.FixtureRequest) -> Case:
    return request.param


def test_the_vectors_ask_for_json() -> None:
    assert len(JSON_CASES) == 4, [c.id for c in JSON_CASES]


@pytest.mark.parametrize("general", [False, True], ids=["flattened", "general"])
def test_issued_json_verifies_and_is_kept_byte_for_byte(case: Case, general: bool) -> None:
    obj, disclosures = json_issue(case, general=general)
    text = json.dumps(obj, indent=1)  # whitespace and member order are the issuer's business
    ours = _verify(text, case, reject_kb=True)
    cnf = {"jwk": {k: v for k, v in case.holder_jwk.items() if k != "d"}}
    assert ours.claims == {**strip_sd(case.user_claims), "cnf": cnf}
    assert [d.disclosure.encoded for d in ours.disclosures] == disclosures
    assert ours.unverified.serialized == text
    assert ours.unverified.presented_prefix == compact_equivalent(obj)


@pytest.mark.parametrize("general", [False, True], ids=["flattened", "general"])
def test_reference_holder_key_binding_in_json(case: Case, general: bool) -> None:
    """The reference holder presents the compact equivalent of the first signature; the same
    Disclosures and KB-JWT carried in the first unprotected header verify with ours."""
    obj, _ = json_issue(case, general=general)
    holder = SDJWTHolder(compact_equivalent(obj), serialization_format="compact")
    holder.create_presentation(case.spec["holder_disclosed_claims"], nonce=NONCE, aud=AUD,
                               holder_key=JWK(**case.holder_jwk))
    _, *chosen, kb = holder.sd_jwt_presentation.split("~")
    presented = json.loads(json.dumps(obj))
    _first(presented)["header"] = {"disclosures": chosen, "kb_jwt": kb}
    text = json.dumps(presented)

    ours = _verify(text, case)
    assert ours.claims == reference_verify(case, holder.sd_jwt_presentation)
    expected_hash = _b64(hashlib.sha256(compact_equivalent(presented).encode()).digest())
    # the reference holder stamps the KB-JWT with the wall clock: check it at that time
    signed_at = datetime.fromtimestamp(json.loads(_unb64(kb.split(".")[1]))["iat"], UTC)
    kb_claims = verify_key_binding(ours, expected_aud=AUD, expected_nonce=NONCE, now=signed_at)
    assert kb_claims["sd_hash"] == expected_hash
    with pytest.raises(KeyBindingNotAllowed):  # what an issuer sends carries no KB-JWT
        UnverifiedSdJwt.parse(text, reject_kb=True)

    # one Disclosure fewer than the KB-JWT covers: sd_hash no longer matches
    _first(presented)["header"]["disclosures"] = chosen[1:]
    fewer = _verify(json.dumps(presented), case)
    with pytest.raises(InvalidKeyBinding, match="sd_hash"):
        verify_key_binding(fewer, expected_aud=AUD, expected_nonce=NONCE, now=signed_at)


def test_our_presentation_from_json_is_compact_and_the_reference_accepts_it(case: Case) -> None:
    obj, _ = json_issue(case, general=True)
    ours = _verify(json.dumps(obj), case, reject_kb=True)
    paths = [p for p in ours.paths if len(p) == 1][:2]
    presentation = build_presentation(ours, paths, holder_key=private_key_from_jwk(case.holder_jwk),
                                      aud=AUD, nonce=NONCE, iat=KB_IAT)
    assert presentation.startswith(compact_equivalent(obj).split("~")[0] + "~")
    seen = reference_verify(case, presentation)
    assert all(p[0] in seen for p in paths)


def test_only_the_first_signature_counts(case: Case) -> None:
    """§8: Disclosures and sd_hash are bound to the first signature; that is the one verified.
    A broken second signature changes nothing; a broken first one fails."""
    obj, _ = json_issue(case, general=True)
    broken_second = json.loads(json.dumps(obj))
    broken_second["signatures"][1]["signature"] = obj["signatures"][0]["signature"]
    assert _verify(json.dumps(broken_second), case).claims
    broken_first = json.loads(json.dumps(obj))
    broken_first["signatures"][0]["signature"] = obj["signatures"][1]["signature"]
    with pytest.raises(InvalidIssuerJwt, match="signature does not verify"):
        _verify(json.dumps(broken_first), case)


@pytest.mark.parametrize("mutate", [
    pytest.param(lambda o: o["signatures"][1].setdefault("header", {}).update(
        disclosures=[]), id="disclosures-in-a-second-header"),
    pytest.param(lambda o: o["signatures"][1].setdefault("header", {}).update(
        kb_jwt="a.b.c"), id="kb_jwt-in-a-second-header"),
    pytest.param(lambda o: o["signatures"][0].update(header=["not", "an", "object"]),
                 id="header-not-an-object"),
    pytest.param(lambda o: o["signatures"][0]["header"].update(disclosures="abc"),
                 id="disclosures-not-an-array"),
    pytest.param(lambda o: o["signatures"][0]["header"].update(disclosures=[1, 2]),
                 id="disclosure-not-a-string"),
    pytest.param(lambda o: o["signatures"][0]["header"].update(kb_jwt=""), id="empty-kb_jwt"),
    pytest.param(lambda o: o.update(signatures=[]), id="no-signatures"),
    pytest.param(lambda o: o.update(signature="abc"), id="signature-and-signatures"),
    pytest.param(lambda o: o.pop("payload"), id="no-payload"),
    pytest.param(lambda o: o["signatures"][0].pop("protected"), id="no-protected-header"),
])
def test_malformed_json_serializations_are_refused(case: Case, mutate: Any) -> None:
    obj, _ = json_issue(case, general=True)
    mutate(obj)
    with pytest.raises(MalformedSdJwt):
        UnverifiedSdJwt.parse(json.dumps(obj))


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
        st.sampled_from(["payload", "protected", "signature", "signatures", "header",
                         "disclosures", "kb_jwt"]) | st.text(max_size=3), inner, max_size=4),
    max_leaves=10)


@settings(max_examples=300)
@given(_json)
def test_arbitrary_json_only_raises_typed_errors(value: Any) -> None:
    try:
        UnverifiedSdJwt.parse(json.dumps(value) if isinstance(value, dict) else "{" + str(value))
    except SatchelError:
        pass
