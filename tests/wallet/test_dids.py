"""did:key, did:jwk, did:web and 1EdTech multibase-fragment key resolution."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import base58
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.wallet.fakes_w3c import FakeFetcher
from wallet.dids import (
    DidMethodNotSupported,
    DidResolutionFailed,
    InvalidDid,
    VerificationMethodNotFound,
    key_from_multibase,
    resolve_key,
    resolve_key_offline,
    resolve_verification_key,
    web_did_url,
)
from wallet.errors import SatchelError
from wallet.jose import b64url_encode, public_jwk

WALTID_DID = "did:key:z6Mkp7AVwvWxnsNDuSSbf19sgKzrx223WY95AqZyAGifFVyV"


def _did_key_p256(key: ec.EllipticCurvePublicKey) -> str:
    point = key.public_bytes(Encoding.X962, PublicFormat.CompressedPoint)
    return "did:key:z" + base58.b58encode(b"\x80\x24" + point).decode()


def test_did_key_ed25519_matches_w3c_private_key(vectors: Path) -> None:
    # The W3C DI test key pair: sign with the private half, verify with what did:key resolves to.
    pair = json.loads((vectors / "di-eddsa" / "keyPair.json").read_text())
    secret = base58.b58decode(pair["privateKeyMultibase"][1:])
    assert secret[:2] == b"\x80\x26"  # multicodec ed25519-priv
    private = ed25519.Ed25519PrivateKey.from_private_bytes(secret[2:])
    did = "did:key:" + pair["publicKeyMultibase"]
    resolved = resolve_key_offline(f"{did}#{pair['publicKeyMultibase']}")
    assert resolved.source == "did:key" and resolved.controller == did
    assert isinstance(resolved.key, ed25519.Ed25519PublicKey)
    resolved.key.verify(private.sign(b"satchel"), b"satchel")
    assert resolved.jwk == public_jwk(private.public_key())


def test_did_key_p256_zdn_is_decompressed() -> None:
    private = ec.generate_private_key(ec.SECP256R1())
    did = _did_key_p256(private.public_key())
    assert did.startswith("did:key:zDn")
    key, jwk = asyncio.run(resolve_verification_key(did))
    assert isinstance(key, ec.EllipticCurvePublicKey)
    assert key.public_numbers() == private.public_key().public_numbers()
    assert jwk["crv"] == "P-256" and jwk == public_jwk(private)


def test_did_key_p384() -> None:
    private = ec.generate_private_key(ec.SECP384R1())
    point = private.public_key().public_bytes(Encoding.X962, PublicFormat.CompressedPoint)
    did = "did:key:z" + base58.b58encode(b"\x81\x24" + point).decode()
    assert resolve_key_offline(did).jwk == public_jwk(private)


def test_did_key_refuses_foreign_fragment_and_bad_keys() -> None:
    with pytest.raises(VerificationMethodNotFound):
        resolve_key_offline(WALTID_DID + "#z6MkjZRZv3aez3r18pB1RBFJR1kwUVJ5jHt92JmQwXbd5hwi")
    with pytest.raises(InvalidDid):
        resolve_key_offline("did:key:z" + base58.b58encode(b"\xed\x01" + b"\x00" * 5).decode())
    with pytest.raises(InvalidDid):  # secp256k1 multicodec 0xe7: not supported
        resolve_key_offline("did:key:z" + base58.b58encode(b"\xe7\x01" + b"\x02" * 33).decode())
    with pytest.raises(InvalidDid):  # not on the curve
        key_from_multibase("z" + base58.b58encode(b"\x80\x24\x02" + b"\xff" * 32).decode())
    with pytest.raises(InvalidDid):
        resolve_key_offline("did:key:mAbc")


def test_did_jwk_round_trip_and_fragment() -> None:
    private = ec.generate_private_key(ec.SECP256R1())
    did = "did:jwk:" + b64url_encode(json.dumps(public_jwk(private)).encode())
    assert resolve_key_offline(did + "#0").jwk == public_jwk(private)
    assert resolve_key_offline(did).source == "did:jwk"
    with pytest.raises(VerificationMethodNotFound):
        resolve_key_offline(did + "#1")
    leaked = dict(public_jwk(private), d=b64url_encode(b"\x01" * 32))
    with pytest.raises(InvalidDid):
        resolve_key_offline("did:jwk:" + b64url_encode(json.dumps(leaked).encode()))
    with pytest.raises(InvalidDid):
        resolve_key_offline("did:jwk:not-json")


@pytest.mark.parametrize(("did", "url"), [
    ("did:web:example.com", "https://example.com/.well-known/did.json"),
    ("did:web:w3c-ccg.github.io:user:alice", "https://w3c-ccg.github.io/user/alice/did.json"),
    ("did:web:example.com%3A3000:user:alice", "https://example.com:3000/user/alice/did.json"),
])
def test_did_web_url(did: str, url: str) -> None:
    assert web_did_url(did) == url


@pytest.mark.parametrize("did", [
    "did:web:", "did:web:example.com::x", "did:web:example.com:..:admin",
    "did:web:evil.example%2Fpath", "did:web:a%40b.example", "did:web:example.com:a%2F..",
])
def test_did_web_url_refuses_odd_hosts_and_paths(did: str) -> None:
    with pytest.raises(InvalidDid):
        web_did_url(did)


def _web_doc(did: str, key: ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey,
             *, as_multibase: bool = False, assertion: bool = True) -> dict[str, object]:
    vm: dict[str, object] = {"id": f"{did}#key-1", "type": "JsonWebKey2020", "controller": did}
    if as_multibase:
        raw = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        vm["publicKeyMultibase"] = "z" + base58.b58encode(b"\xed\x01" + raw).decode()
    else:
        vm["publicKeyJwk"] = public_jwk(key)
    return {"id": did, "verificationMethod": [vm],
            "assertionMethod": ["#key-1"] if assertion else []}


async def test_did_web_resolves_through_the_fetcher_only() -> None:
    did = "did:web:issuer.example:edu"
    key = ec.generate_private_key(ec.SECP256R1())
    fetcher = FakeFetcher({"https://issuer.example/edu/did.json": _web_doc(did, key)})
    resolved = await resolve_key(did + "#key-1", fetcher)
    assert resolved.source == "did:web" and resolved.jwk == public_jwk(key)
    assert fetcher.seen == ["https://issuer.example/edu/did.json"]
    # no fragment: the only assertion key
    assert (await resolve_key(did, fetcher)).jwk == public_jwk(key)


async def test_did_web_multibase_key() -> None:
    did = "did:web:issuer.example"
    key = ed25519.Ed25519PrivateKey.generate()
    fetcher = FakeFetcher({"https://issuer.example/.well-known/did.json":
                           _web_doc(did, key, as_multibase=True)})
    pub, jwk = await resolve_verification_key(did + "#key-1", fetcher)
    assert jwk == public_jwk(key) and isinstance(pub, ed25519.Ed25519PublicKey)


async def test_did_web_failures_are_typed() -> None:
    did = "did:web:issuer.example"
    url = "https://issuer.example/.well-known/did.json"
    key = ec.generate_private_key(ec.SECP256R1())
    with pytest.raises(DidResolutionFailed):  # no fetcher: never resolved behind our back
        await resolve_key(did, None)
    with pytest.raises(DidResolutionFailed):  # the guard refuses the URL
        await resolve_key(did, FakeFetcher({}))
    with pytest.raises(DidResolutionFailed):  # 404
        await resolve_key(did, FakeFetcher({url: {}}, status=404))
    with pytest.raises(DidResolutionFailed):  # document for another DID
        await resolve_key(did, FakeFetcher({url: _web_doc("did:web:other.example", key)}))
    with pytest.raises(VerificationMethodNotFound):  # not an assertion key
        await resolve_key(did + "#key-1",
                          FakeFetcher({url: _web_doc(did, key, assertion=False)}))
    with pytest.raises(VerificationMethodNotFound):
        await resolve_key(did + "#key-2", FakeFetcher({url: _web_doc(did, key)}))
    doc = _web_doc(did, key)
    doc["verificationMethod"][0]["controller"] = "did:web:attacker.example"  # type: ignore[index]
    with pytest.raises(VerificationMethodNotFound):
        await resolve_key(did + "#key-1", FakeFetcher({url: doc}))


def test_1edtech_multibase_fragment_resolves_offline() -> None:
    url = "https://example.com/issuers/876543#z6MkjZRZv3aez3r18pB1RBFJR1kwUVJ5jHt92JmQwXbd5hwi"
    resolved = resolve_key_offline(url)
    assert resolved.source == "multibase_fragment"
    assert resolved.controller == "https://example.com/issuers/876543"
    assert resolved.jwk["kty"] == "OKP"
    with pytest.raises(DidMethodNotSupported):
        resolve_key_offline("http://example.com/issuers/1#z6MkjZRZv3aez3r18pB1RBFJR1kwUVJ5jHt92")
    with pytest.raises(DidMethodNotSupported):
        resolve_key_offline("https://example.com/issuers/1#key-1")
    with pytest.raises(DidMethodNotSupported):
        resolve_key_offline("did:ion:EiClkZMDxPKqC9c")


@settings(max_examples=300, deadline=None)
@given(st.one_of(
    st.text(max_size=120),
    st.builds(lambda s: "did:key:z" + s, st.text(alphabet=base58.BITCOIN_ALPHABET.decode(),
                                                  max_size=60)),
    st.builds(lambda s: "did:jwk:" + s, st.text(max_size=80)),
    st.builds(lambda s: "did:web:" + s, st.text(max_size=60)),
))
def test_resolution_only_raises_satchel_errors(did_url: str) -> None:
    fetcher = FakeFetcher({})
    try:
        asyncio.run(resolve_key(did_url, fetcher))
    except SatchelError:
        pass
