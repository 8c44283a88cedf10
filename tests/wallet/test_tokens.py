"""Access tokens (wallet.accounts.tokens): the fast check refuses every shape Satchel did not mint.

The minted token is an ordinary EdDSA compact JWS (RFC 7515 §7.1): an independent verifier
(``cryptography`` through :func:`wallet.jose.verify_compact`) accepts it.
"""

from __future__ import annotations

import json

import pytest

from wallet import jose
from wallet.accounts.tokens import ServiceKeys, TokenService
from wallet.errors import Unauthorized

SECRET = "a test service secret, at least 32 bytes long"
DEK = bytes(range(32))


@pytest.fixture
def svc() -> TokenService:
    return TokenService(ServiceKeys.from_secret(SECRET), ttl=600, issuer="https://satchel.test")


def test_minted_token_is_a_standard_jws(svc: TokenService) -> None:
    at = svc.mint("learner-1", DEK, epoch=3)
    pub = ServiceKeys.from_secret(SECRET).token_signing.public_key()
    parts = jose.verify_compact(at.token, lambda _h: pub, allowed_algs={"EdDSA"},
                                expected_typ={"at+jwt"})
    assert parts.header == {"typ": "at+jwt", "alg": "EdDSA"}
    claims = svc.check(at.token)
    assert (claims.learner_id, claims.epoch, claims.dek) == ("learner-1", 3, DEK)
    assert claims.session_id == at.claims.session_id and claims.expires_at == at.claims.expires_at


def _resign(header: dict[str, object], payload: bytes) -> str:
    key = ServiceKeys.from_secret(SECRET).token_signing
    return jose.sign_compact(header, payload, key)


def test_validly_signed_but_other_shapes_are_refused(svc: TokenService) -> None:
    good = svc.mint("learner-1", DEK, epoch=0).token
    h, p, s = good.split(".")
    payload = jose.b64url_decode(p)
    variants = [
        _resign({"alg": "EdDSA", "typ": "at+jwt"}, payload),  # same header, other member order
        _resign({"typ": "at+jwt", "alg": "EdDSA", "kid": "x"}, payload),
        _resign({"typ": "at+jwt", "alg": "EdDSA", "crit": ["exp"]}, payload),
        _resign({"typ": "JWT", "alg": "EdDSA"}, payload),
        f"{h}.{p}.{s}.{s}", f"{h}.{p}.{s}=", f"{h}.{p}=.{s}", f"{h}.{p} .{s}", f"{h}.{p}",
        f"{h}.{p}.", f"{h}..{s}", good + "A" * 5000, "", ".", "..", good + "\u00e9",
        f"{h}.{p}\u00e9.{s}",
    ]
    for _ in range(2):  # before and after the good token's signature is memoised
        for bad in variants:
            with pytest.raises(Unauthorized):
                svc.check(bad)
        assert svc.check(good).learner_id == "learner-1"


def test_sealed_vault_key_is_bound_to_its_session(svc: TokenService) -> None:
    one, two = svc.mint("learner-1", DEK, epoch=0), svc.mint("learner-1", DEK, epoch=0)
    p1 = json.loads(jose.b64url_decode(one.token.split(".")[1]))
    p2 = json.loads(jose.b64url_decode(two.token.split(".")[1]))
    p1["vk"] = p2["vk"]  # a DEK sealed for another session id
    swapped = _resign({"typ": "at+jwt", "alg": "EdDSA"},
                      json.dumps(p1, separators=(",", ":")).encode())
    assert swapped.split(".")[0] == one.token.split(".")[0]
    with pytest.raises(Unauthorized):
        svc.check(swapped)


def test_non_object_and_mistyped_payloads_are_refused(svc: TokenService) -> None:
    good = json.loads(jose.b64url_decode(svc.mint("learner-1", DEK, epoch=0).token.split(".")[1]))
    bodies: list[object] = [[1, 2], "x", 5, {**good, "ep": True}, {**good, "exp": 1.5},
                            {**good, "vk": "!!"}, {k: v for k, v in good.items() if k != "sid"},
                            {**good, "iss": "https://elsewhere.test"}, {**good, "exp": 1}]
    for body in bodies:
        token = _resign({"typ": "at+jwt", "alg": "EdDSA"},
                        json.dumps(body, separators=(",", ":")).encode())
        with pytest.raises(Unauthorized):
            svc.check(token)


def test_memoised_signature_never_admits_other_bytes(svc: TokenService,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    import wallet.accounts.tokens as tokens

    monkeypatch.setattr(tokens, "_VERIFIED_MAX", 4)
    good = svc.mint("learner-1", DEK, epoch=0).token
    assert svc.check(good) == svc.check(good)  # second call answered from the memo
    h, p, s = good.split(".")
    payload = json.loads(jose.b64url_decode(p))
    payload["sub"] = "learner-2"
    # a signature character changed mid-way (never a no-op: "AA" at the end was one in 1/256
    # tokens, whose signature already ended so)
    flipped = f"{s[:10]}{'B' if s[10] == 'A' else 'A'}{s[11:]}"
    for bad in (f"{h}.{jose.b64url_encode(json.dumps(payload).encode())}.{s}",
                f"{h}.{p}.{flipped}", f"{h}.{p[:-1]}.{s}"):
        assert bad != good
        with pytest.raises(Unauthorized):
            svc.check(bad)
    # expiry is still checked on a memoised token
    with pytest.raises(Unauthorized):
        svc.check(good, now=payload["exp"])
    others = [svc.mint(f"learner-{i}", DEK, epoch=0).token for i in range(10)]
    for t in others:
        svc.check(t)
    assert len(svc._verified) == 4  # bounded, oldest out
    assert svc.check(good).learner_id == "learner-1"  # re-verified after eviction


def test_a_remembered_token_still_expires() -> None:
    from wallet.accounts.tokens import ServiceKeys, TokenService
    from wallet.errors import Unauthorized

    svc = TokenService(ServiceKeys.from_secret("x" * 43), ttl=60, issuer="https://s.example")
    minted = svc.mint("learner", b"k" * 32, epoch=0, now=1_000)
    assert svc.check(minted.token, now=1_010).dek == b"k" * 32
    assert svc.check(minted.token, now=1_020).session_id == minted.claims.session_id  # memo hit
    import pytest

    with pytest.raises(Unauthorized):
        svc.check(minted.token, now=1_061)
    with pytest.raises(Unauthorized):  # and stays refused later on
        svc.check(minted.token, now=1_100)


def test_the_memo_frees_what_a_token_no_longer_serves() -> None:
    """The memo holds the unsealed vault key of every token it remembers: an expired token's entry
    goes at the periodic sweep (wallet.learner_cache.sweep_all) even if the token is never seen
    again; logging a session out here drops its tokens only, ending a learner's sessions drops
    theirs, and a revocation check drops the token it refused."""
    from wallet.clock import ManualClock
    from wallet.learner_cache import sweep_all

    clock = ManualClock()
    svc = TokenService(ServiceKeys.from_secret(SECRET), ttl=600, issuer="https://satchel.test",
                       clock=clock)
    first = svc.mint("learner-1", DEK, epoch=0)
    renewed = svc.mint("learner-1", DEK, epoch=0, session_id=first.claims.session_id)
    other = svc.mint("learner-1", DEK, epoch=0)
    stranger = svc.mint("learner-2", DEK, epoch=0)
    tokens = [first.token, renewed.token, other.token, stranger.token]
    for token in tokens:
        svc.check(token)
    assert len(svc._verified) == 4 and all(svc.remembers(t) for t in tokens)
    svc.forget_session("learner-1", first.claims.session_id)
    assert [svc.remembers(t) for t in tokens] == [False, False, True, True]
    svc.forget_learner("learner-1")
    assert [svc.remembers(t) for t in tokens] == [False, False, False, True]
    svc.forget(stranger.token)
    assert len(svc._verified) == 0

    svc.check(stranger.token)
    sweep_all()
    assert svc.remembers(stranger.token)  # not expired yet
    clock.advance(600)
    sweep_all()
    assert len(svc._verified) == 0
