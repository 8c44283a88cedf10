"""Whose key signed (sharing.issuer_keys): only a key bound to the issuer confirms it, or a key
the trust list vouches for; anything the credential supplied itself, or unknown, does not."""

from __future__ import annotations

import pytest

from sharing.issuer_keys import issuer_confirmed, issuer_key

JWK_DID = "did:jwk:eyJrdHkiOiJPS1AifQ"


@pytest.mark.parametrize(("issuer", "source", "problems", "expected"), [
    ("did:web:uni.example", "did:web", (), "issuer"),
    (JWK_DID, "did:jwk", (), "issuer"),
    ("did:key:z6Mk", "did:key", (), "issuer"),
    ("https://uni.example", "jwt_vc_issuer_metadata", (), "issuer"),
    ("https://uni.example", "x5c", (), "issuer"),
    ("https://uni.example", "header_jwk", ("issuer_key_self_asserted",), "self_asserted"),
    ("https://uni.example", "header_jwk", (), "self_asserted"),  # the source alone says it
    ("https://uni.example", "multibase_fragment", (), "self_asserted"),
    ("urn:epass:org:1", "x5c_seal", (), "self_asserted"),
    ("https://uni.example", "did:jwk", (), "self_asserted"),  # a DID that is not the issuer
    ("https://uni.example", "did:web", ("issuer_key_self_asserted",), "self_asserted"),
    ("urn:uuid:1", "did:key", ("verification_method_not_issuer",), "not_issuer"),
    ("https://uni.example", "did:web", ("vc_issuer_not_iss",), "not_issuer"),
    ("https://uni.example", None, (), "unknown"),
    ("https://uni.example", "something_new", (), "unknown"),  # fail closed
])
def test_issuer_key(issuer: str, source: str | None, problems: tuple[str, ...],
                    expected: str) -> None:
    assert issuer_key(issuer, source, problems) == expected


def test_confirmed_needs_a_valid_signature_and_the_issuers_key_or_trust() -> None:
    assert issuer_confirmed("valid", "issuer", False)
    assert issuer_confirmed("valid", "self_asserted", True)  # pinned (intake required a pin)
    assert issuer_confirmed("valid", "unknown", True)
    assert not issuer_confirmed("valid", "self_asserted", False)
    assert not issuer_confirmed("valid", "self_asserted", None)
    assert not issuer_confirmed("valid", "not_issuer", True)
    assert not issuer_confirmed("valid", "unknown", False)
    for signature in ("invalid", "no_key", "unsupported", None):
        assert not issuer_confirmed(signature, "issuer", True)
