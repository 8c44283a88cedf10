"""The learner key hierarchy (wallet.crypto): wraps, unwraps, sealing, inbox, holder keys."""

from __future__ import annotations

import json
import unicodedata

import jwt
import nacl.public
import nacl.secret
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wallet.crypto import (
    PRODUCTION_KDF,
    RECOVERY_ALPHABET,
    TEST_KDF,
    DecryptionFailed,
    InboxKeyPair,
    KdfCost,
    VaultKey,
    WrappedKeys,
    check_passphrase_strength,
    create_learner_keys,
    derive_kek,
    generate_holder_key,
    normalize_recovery_code,
    open_holder_key,
    open_inbox,
    rewrap_passphrase,
    rotate_recovery,
    seal_holder_key,
    seal_to_inbox,
    unwrap_with_passphrase,
    unwrap_with_recovery,
)
from wallet.errors import BadInput, Unauthorized
from wallet.jose import (
    as_public_jwk,
    b64url_decode,
    b64url_encode,
    public_jwk,
    public_key_from_jwk,
    verify_raw,
)

PASS = "correct horse battery staple"
ERASURE = bytes(range(32))


@pytest.fixture(scope="module")
def learner() -> tuple[WrappedKeys, VaultKey, str]:
    return create_learner_keys(PASS, ERASURE, TEST_KDF)


# --- KDF ---------------------------------------------------------------------------------------

def test_production_kdf_is_at_least_64_mib() -> None:
    assert PRODUCTION_KDF.memlimit >= 64 * 1024 * 1024
    assert PRODUCTION_KDF.opslimit >= 2


def test_kdf_cost_bounds_are_checked() -> None:
    with pytest.raises(BadInput):
        KdfCost(opslimit=0, memlimit=TEST_KDF.memlimit)
    with pytest.raises(BadInput):
        KdfCost(opslimit=1, memlimit=1024)


def test_derive_kek_is_deterministic_and_salt_sensitive() -> None:
    a = derive_kek(PASS, b"s" * 16, TEST_KDF)
    assert len(a) == 32
    assert a == derive_kek(PASS, b"s" * 16, TEST_KDF)
    assert a != derive_kek(PASS, b"t" * 16, TEST_KDF)
    assert a != derive_kek(PASS + "!", b"s" * 16, TEST_KDF)
    assert a != derive_kek(PASS, b"s" * 16, KdfCost(2, TEST_KDF.memlimit))
    with pytest.raises(BadInput):
        derive_kek(PASS, b"short", TEST_KDF)


def test_derive_kek_normalizes_unicode() -> None:
    composed = "caf\u00e9 au lait noir"
    decomposed = unicodedata.normalize("NFD", composed)
    assert composed != decomposed
    assert derive_kek(composed, b"s" * 16, TEST_KDF) == derive_kek(decomposed, b"s" * 16, TEST_KDF)


# --- VaultKey ----------------------------------------------------------------------------------

def test_seal_open_round_trip_and_tamper() -> None:
    k = VaultKey.generate()
    ct = k.seal(b"hello", b"ctx")
    assert len(ct) == 24 + 5 + 16
    assert k.open(ct, b"ctx") == b"hello"
    assert k.seal(b"hello", b"ctx") != ct  # random nonce
    flipped = bytearray(ct)
    flipped[30] ^= 1
    with pytest.raises(DecryptionFailed):
        k.open(bytes(flipped), b"ctx")
    with pytest.raises(DecryptionFailed):
        k.open(ct, b"other context")
    with pytest.raises(DecryptionFailed):
        VaultKey.generate().open(ct, b"ctx")
    with pytest.raises(DecryptionFailed):
        k.open(b"short", b"ctx")


def test_seal_is_standard_xchacha20poly1305_ietf() -> None:
    """An independent opener (PyNaCl's high-level Aead box) reads what VaultKey sealed."""
    k = VaultKey.generate()
    ct = k.seal(b"payload", b"aad")
    assert nacl.secret.Aead(k.raw).decrypt(ct, b"aad") == b"payload"
    theirs = nacl.secret.Aead(k.raw).encrypt(b"theirs", b"aad")
    assert k.open(bytes(theirs), b"aad") == b"theirs"


@settings(max_examples=50, deadline=None)
@given(st.binary(max_size=2048), st.binary(max_size=64))
def test_seal_round_trips_any_bytes(data: bytes, aad: bytes) -> None:
    k = VaultKey.from_bytes(b"k" * 32)
    assert k.open(k.seal(data, aad), aad) == data


def test_vault_key_hygiene() -> None:
    raw = b"\x01" * 32
    k = VaultKey.from_bytes(raw)
    assert k.raw == raw
    assert raw.hex() not in repr(k) and "redacted" in repr(k)
    assert k == VaultKey.from_bytes(raw) and k != VaultKey.generate()
    with pytest.raises(BadInput):
        VaultKey.from_bytes(b"\x01" * 31)


def test_subkeys_and_blinding() -> None:
    k, other = VaultKey.generate(), VaultKey.generate()
    assert len(k.subkey("a")) == 32
    assert k.subkey("a") == k.subkey("a") != k.subkey("b")
    assert k.subkey("a") != other.subkey("a")
    b = k.blind("issuer", "https://uni.example")
    assert b == k.blind("issuer", "https://uni.example")
    assert b != k.blind("type", "https://uni.example")  # domain separation by kind
    assert b != other.blind("issuer", "https://uni.example")
    assert "uni" not in b and len(b64url_decode(b)) == 16


# --- wrapped keys ------------------------------------------------------------------------------

def test_create_and_unwrap(learner: tuple[WrappedKeys, VaultKey, str]) -> None:
    rec, dek, code = learner
    assert unwrap_with_passphrase(rec, PASS, ERASURE) == dek
    assert unwrap_with_recovery(rec, code, ERASURE) == dek
    # the record never holds the DEK in clear
    assert dek.raw.hex() not in rec.to_json() and b64url_encode(dek.raw) not in rec.to_json()


def test_recovery_code_shape(learner: tuple[WrappedKeys, VaultKey, str]) -> None:
    code = learner[2]
    groups = code.split("-")
    assert len(groups) == 5 and all(len(g) == 5 for g in groups)
    assert all(ch in RECOVERY_ALPHABET for ch in "".join(groups))


def test_recovery_code_is_forgiving_when_typed(learner: tuple[WrappedKeys, VaultKey, str]) -> None:
    rec, dek, code = learner
    typed = code.lower().replace("-", " ").replace("0", "o").replace("1", "l")
    assert normalize_recovery_code(typed) == code.replace("-", "")
    assert unwrap_with_recovery(rec, typed, ERASURE) == dek


@pytest.mark.parametrize("which", ["passphrase", "recovery", "malformed-recovery", "erasure"])
def test_wrong_secret_is_unauthorized_with_one_message(
        learner: tuple[WrappedKeys, VaultKey, str], which: str) -> None:
    rec, _, code = learner
    with pytest.raises(Unauthorized) as exc:
        if which == "passphrase":
            unwrap_with_passphrase(rec, PASS + "x", ERASURE)
        elif which == "recovery":
            wrong = ("0" if code[0] != "0" else "1") + code[1:]
            unwrap_with_recovery(rec, wrong, ERASURE)
        elif which == "malformed-recovery":
            unwrap_with_recovery(rec, "not a code", ERASURE)
        else:
            unwrap_with_passphrase(rec, PASS, bytes(32))
    assert str(exc.value) == "the passphrase or recovery code is wrong"


def test_both_secrets_needed(learner: tuple[WrappedKeys, VaultKey, str]) -> None:
    """Without the erasure key even the right recovery code opens nothing (crypto-shredding)."""
    rec, _, code = learner
    with pytest.raises(Unauthorized):
        unwrap_with_recovery(rec, code, b"\xff" * 32)
    with pytest.raises(BadInput):
        unwrap_with_passphrase(rec, PASS, b"short")


def test_wraps_cannot_be_swapped_between_slots(learner: tuple[WrappedKeys, VaultKey, str]) -> None:
    rec, _, code = learner
    swapped = WrappedKeys(rec.recovery_salt, rec.recovery_cost, rec.recovery_wrap,
                          rec.salt, rec.cost, rec.passphrase_wrap, rec.dek_check)
    with pytest.raises(Unauthorized):
        unwrap_with_passphrase(swapped, code.replace("-", ""), ERASURE)


def test_json_round_trip(learner: tuple[WrappedKeys, VaultKey, str]) -> None:
    rec, dek, _ = learner
    back = WrappedKeys.from_json(rec.to_json())
    assert back == rec
    assert unwrap_with_passphrase(back, PASS, ERASURE) == dek


@pytest.mark.parametrize("mutate", [
    lambda o: o.update(v=2),
    lambda o: o["pass"].update(salt="AAAA"),
    lambda o: o["pass"].update(ops="3"),
    lambda o: o["rec"].update(mem=1),
    lambda o: o.pop("check"),
    lambda o: o["rec"].update(wrap="not+base64url"),
])
def test_json_rejects_malformed(learner: tuple[WrappedKeys, VaultKey, str], mutate: object) -> None:
    obj = json.loads(learner[0].to_json())
    mutate(obj)  # type: ignore[operator]
    with pytest.raises(BadInput):
        WrappedKeys.from_json(json.dumps(obj))
    with pytest.raises(BadInput):
        WrappedKeys.from_json("[]")


def test_tampered_cost_fails_closed(learner: tuple[WrappedKeys, VaultKey, str]) -> None:
    rec = learner[0]
    obj = json.loads(rec.to_json())
    obj["pass"]["ops"] = 2
    with pytest.raises(Unauthorized):
        unwrap_with_passphrase(WrappedKeys.from_json(json.dumps(obj)), PASS, ERASURE)


def test_rewrap_passphrase(learner: tuple[WrappedKeys, VaultKey, str]) -> None:
    rec, dek, code = learner
    new = rewrap_passphrase(rec, dek, "a whole new passphrase", ERASURE, TEST_KDF)
    assert unwrap_with_passphrase(new, "a whole new passphrase", ERASURE) == dek
    with pytest.raises(Unauthorized):
        unwrap_with_passphrase(new, PASS, ERASURE)
    assert unwrap_with_recovery(new, code, ERASURE) == dek  # recovery slot untouched
    with pytest.raises(BadInput):
        rewrap_passphrase(rec, VaultKey.generate(), "a whole new passphrase", ERASURE, TEST_KDF)
    with pytest.raises(BadInput):
        rewrap_passphrase(rec, dek, "short", ERASURE, TEST_KDF)


def test_rotate_recovery_invalidates_old_code(learner: tuple[WrappedKeys, VaultKey, str]) -> None:
    rec, dek, code = learner
    new, new_code = rotate_recovery(rec, dek, ERASURE, TEST_KDF)
    assert new_code != code
    assert unwrap_with_recovery(new, new_code, ERASURE) == dek
    with pytest.raises(Unauthorized):
        unwrap_with_recovery(new, code, ERASURE)
    assert unwrap_with_passphrase(new, PASS, ERASURE) == dek
    with pytest.raises(BadInput):
        rotate_recovery(rec, VaultKey.generate(), ERASURE, TEST_KDF)


# --- passphrase policy -------------------------------------------------------------------------

@pytest.mark.parametrize("p", [
    "short", "aaaaaaaaaaaaaaaa", "abababababababab", "123456789012345", "password1234",
    "Passphrase!!!", "abcdefghijklmnop", "x" * 1025, "qwertyuiop12",
])
def test_weak_passphrases_refused(p: str) -> None:
    with pytest.raises(BadInput) as exc:
        check_passphrase_strength(p)
    assert p not in str(exc.value)


@pytest.mark.parametrize("p", [
    PASS, "Tr0ub4dor&3-extended", "mein Hund heißt Bello", "日本語のパスフレーズです長い",
    (PASS * 40)[:1024],
])
def test_good_passphrases_accepted(p: str) -> None:
    check_passphrase_strength(p)


def test_create_refuses_weak_passphrase() -> None:
    with pytest.raises(BadInput):
        create_learner_keys("password", ERASURE, TEST_KDF)


# --- inbox -------------------------------------------------------------------------------------

def test_inbox_seal_open() -> None:
    pair = InboxKeyPair.generate()
    ct = seal_to_inbox(pair.public, b"offer")
    assert open_inbox(pair, ct) == b"offer"
    with pytest.raises(DecryptionFailed):
        open_inbox(InboxKeyPair.generate(), ct)
    with pytest.raises(DecryptionFailed):
        open_inbox(pair, ct[:-1] + bytes([ct[-1] ^ 1]))
    with pytest.raises(BadInput):
        seal_to_inbox(b"short", b"x")


def test_inbox_is_a_standard_sealed_box() -> None:
    pair = InboxKeyPair.generate()
    ct = nacl.public.SealedBox(nacl.public.PublicKey(pair.public)).encrypt(b"from issuer")
    assert open_inbox(pair, bytes(ct)) == b"from issuer"


def test_inbox_private_key_sealed_with_dek() -> None:
    dek, pair = VaultKey.generate(), InboxKeyPair.generate()
    blob = pair.seal_private(dek)
    assert bytes(pair.private_key) not in blob
    back = InboxKeyPair.open_private(dek, blob)
    assert back.public == pair.public
    assert open_inbox(back, seal_to_inbox(pair.public, b"x")) == b"x"
    with pytest.raises(DecryptionFailed):
        InboxKeyPair.open_private(VaultKey.generate(), blob)
    # a holder-key blob cannot be passed off as the inbox key (AAD separation)
    with pytest.raises(DecryptionFailed):
        InboxKeyPair.open_private(dek, seal_holder_key(dek, generate_holder_key()))


# --- holder keys -------------------------------------------------------------------------------

@pytest.mark.parametrize("alg", ["ES256", "EdDSA"])
def test_holder_key_did_jwk_and_signature(alg: str) -> None:
    key = generate_holder_key(alg)
    assert key.alg == alg
    assert key.did.startswith("did:jwk:") and key.did_url == key.did + "#0"
    assert json.loads(b64url_decode(key.did[len("did:jwk:"):])) == key.public_jwk
    assert "d" not in key.public_jwk
    assert "private_key" not in repr(key)
    # an independent JOSE library verifies a JWS signed with HolderKey.sign
    header = b64url_encode(json.dumps({"alg": alg, "kid": key.did_url}).encode())
    payload = b64url_encode(b'{"nonce":"n"}')
    sig = key.sign(f"{header}.{payload}".encode())
    token = f"{header}.{payload}.{b64url_encode(sig)}"
    verified = jwt.decode(token, jwt.PyJWK(key.public_jwk, algorithm=alg).key, algorithms=[alg])
    assert verified == {"nonce": "n"}


def test_holder_kid_is_rfc7638_thumbprint() -> None:
    """RFC 7638 §3.1 worked example: a known JWK gives a known thumbprint."""
    from wallet.crypto.holder_keys import _holder_key  # the private builder, fed a known key
    from wallet.jose import private_key_from_jwk

    # RFC 8037 Appendix A.1/A.3: Ed25519 key and its thumbprint
    jwk = {"kty": "OKP", "crv": "Ed25519",
           "d": "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A",
           "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}
    key = _holder_key(private_key_from_jwk(jwk), "EdDSA", generate_holder_key().created_at)
    assert key.kid == "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"


@pytest.mark.parametrize("alg", ["ES256", "EdDSA"])
def test_holder_key_sealing(alg: str) -> None:
    dek, key = VaultKey.generate(), generate_holder_key(alg)
    blob = seal_holder_key(dek, key)
    back = open_holder_key(dek, blob)
    assert (back.kid, back.alg, back.did, back.created_at) == (key.kid, key.alg, key.did,
                                                               key.created_at)
    sig = back.sign(b"data")
    assert verify_raw(alg, public_key_from_jwk(key.public_jwk), b"data", sig)
    with pytest.raises(DecryptionFailed):
        open_holder_key(VaultKey.generate(), blob)


def test_unknown_holder_alg_refused() -> None:
    with pytest.raises(BadInput):
        generate_holder_key("RS256")


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.text(max_size=300), st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner,
                                                                 max_size=4),
    max_leaves=12).map(json.dumps)))
def test_wrapped_keys_parser_fails_closed(s: str) -> None:
    """Whatever the accounts table holds, parsing gives a record or BadInput, nothing else."""
    try:
        WrappedKeys.from_json(s)
    except BadInput:
        pass


def test_as_public_jwk_keeps_a_public_key_as_it_is() -> None:
    for alg in ("ES256", "EdDSA"):
        jwk = {**public_jwk(generate_holder_key(alg).private_key), "kid": "k1", "use": "sig",
               "key_ops": ["verify"]}
        got = as_public_jwk(jwk)
        assert got is jwk and got["kid"] == "k1"  # the same object, other members kept


@pytest.mark.parametrize("jwk", [
    None, "EC", [], {}, {"crv": "P-256", "x": "AA"},  # no kty
    {"kty": "EC", "crv": "P-256", "x": 1, "y": "AA"},  # key material not a string
    {"kty": "OKP", "crv": "Ed25519", "x": "AA", "kid": 7},  # RFC 7517 §4.5: kid is a string
    {"kty": "OKP", "crv": "Ed25519", "x": "AA", "d": "AA"},  # a private key
    {"kty": "RSA", "n": "AA", "e": "AQAB", "p": "AA"},
])
def test_as_public_jwk_refuses_what_is_not_a_public_jwk(jwk: object) -> None:
    with pytest.raises(BadInput):
        as_public_jwk(jwk)
