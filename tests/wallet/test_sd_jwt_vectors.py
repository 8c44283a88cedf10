"""The SD-JWT ``specification.yml`` vectors (tests/vectors/README.md), round-tripped between the
reference ``sd-jwt`` package and ours (the loader is tests/wallet/sd_jwt_support.py)."""


from __future__ import annotations

import pytest
from jwcrypto.jwk import JWK
from sd_jwt.holder import SDJWTHolder

from tests.wallet.sd_jwt_support import (
    AUD,
    CASES,
    KB_IAT,
    NONCE,
    NOW,
    Case,
    chosen_paths,
    exists,
    reference_issue,
    reference_verify,
    revealed,
    sd_paths,
    strip_sd,
)
from wallet.formats.sd_jwt import (
    UnknownClaimPath,
    UnverifiedSdJwt,
    build_presentation,
    static_key,
    verify_key_binding,
    verify_sd_jwt,
)
from wallet.jose import private_key_from_jwk, public_key_from_jwk


@pytest.fixture(params=CASES, ids=[c.id for c in CASES])
def case(request: pytest.FixtureRequest) -> Case:
    return request.param


@pytest.mark.parametrize("decoys", [None, True], ids=["as-specified", "with-decoys"])
def test_vector_round_trip(case: Case, decoys: bool | None) -> None:
    issued = reference_issue(case, decoys=decoys)
    issuer_key = public_key_from_jwk(case.issuer_jwk)
    cnf = {"jwk": {k: v for k, v in case.holder_jwk.items() if k != "d"}}

    # ours verifies the issuance and recovers every claim, knowing the path of each disclosure
    ours = verify_sd_jwt(UnverifiedSdJwt.parse(issued, reject_kb=True),
                         issuer_key_resolver=static_key(issuer_key), now=NOW)
    assert ours.claims == {**strip_sd(case.user_claims), "cnf": cnf}
    assert sorted(map(repr, ours.paths)) == sorted(map(repr, sd_paths(case.user_claims)))
    assert len(ours.disclosures) == issued.count("~") - 1

    # ours presents the chosen claims; the reference verifier accepts exactly those
    wanted = list(chosen_paths(case.spec["holder_disclosed_claims"]))
    chosen = [p for p in wanted if exists(ours.claims, p)]
    holder_key = private_key_from_jwk(case.holder_jwk)
    if chosen != wanted:  # w3c-vc_for_slide_deck names paths its claims do not have
        with pytest.raises(UnknownClaimPath):
            build_presentation(ours, wanted, holder_key=holder_key, aud=AUD, nonce=NONCE,
                               iat=KB_IAT)
    presentation = build_presentation(
        ours, chosen, holder_key=holder_key, aud=AUD, nonce=NONCE, iat=KB_IAT)
    seen = reference_verify(case, presentation)
    assert seen == {**revealed(case.user_claims, chosen), "cnf": cnf}
    if "expect_verified_user_claims" in case.spec:
        assert seen == {**case.spec["expect_verified_user_claims"], **case.defaults, "cnf": cnf}

    # never a disclosure twice, never one that was not issued
    sent = presentation.split("~")[1:-1]
    assert len(sent) == len(set(sent)) and set(sent) <= set(issued.split("~")[1:-1])

    # and our own verifier side agrees with the reference on the presentation
    back = verify_sd_jwt(UnverifiedSdJwt.parse(presentation),
                         issuer_key_resolver=static_key(issuer_key), now=NOW)
    assert back.claims == seen
    kb = verify_key_binding(back, expected_aud=AUD, expected_nonce=NONCE, now=NOW)
    assert kb["nonce"] == NONCE


def test_reference_holder_presentation_verifies_with_ours(case: Case) -> None:
    """The other direction: the reference holder presents, ours verifies claims and KB-JWT."""
    issued = reference_issue(case)
    holder = SDJWTHolder(issued, serialization_format="compact")
    holder.create_presentation(case.spec["holder_disclosed_claims"], nonce=NONCE, aud=AUD,
                               holder_key=JWK(**case.holder_jwk))
    ours = verify_sd_jwt(UnverifiedSdJwt.parse(holder.sd_jwt_presentation),
                         issuer_key_resolver=static_key(public_key_from_jwk(case.issuer_jwk)),
                         now=NOW)
    assert ours.claims == reference_verify(case, holder.sd_jwt_presentation)
    with pytest.raises(Exception) as info:
        verify_key_binding(ours, expected_aud=AUD, expected_nonce="other", now=NOW)
    assert type(info.value).__name__ == "InvalidKeyBinding"
