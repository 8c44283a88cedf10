"""Signing with Data Integrity ``eddsa-rdfc-2022`` for tests: keys, DIDs and status list credentials.

Built on the project's own canonicalization (:func:`hash_data`); the W3C vector tests in
test_jsonld.py prove that it matches the specification, so documents signed here are what an
independent issuer would produce.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
from collections.abc import Iterable
from typing import Any

import base58
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from nacl.signing import VerifyKey
from pyld import jsonld

from tests.support.vectors import VECTORS
from wallet.formats.jsonld.data_integrity import hash_data, proof_configuration
from wallet.formats.jsonld.loader import document_loader

#: Bitstring Status List §6.1: at least 131,072 entries.
MIN_ENTRIES = 131_072


def multikey(key: ed25519.Ed25519PrivateKey) -> str:
    """The public key as a Multikey (``z`` + base58btc of the ed25519-pub multicodec)."""
    raw = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return "z" + base58.b58encode(b"\xed\x01" + raw).decode()


def did_key(key: ed25519.Ed25519PrivateKey) -> str:
    return "did:key:" + multikey(key)


def did_key_vm(key: ed25519.Ed25519PrivateKey) -> str:
    """The verification method of a did:key: ``did:key:z…#z…``."""
    return f"{did_key(key)}#{multikey(key)}"


def sign_di(doc: dict[str, Any], key: ed25519.Ed25519PrivateKey, vm: str,
            created: str = "2026-01-01T00:00:00Z") -> dict[str, Any]:
    """``doc`` with an ``eddsa-rdfc-2022`` proof by ``key``, naming ``vm`` as the key."""
    proof: dict[str, Any] = {"type": "DataIntegrityProof", "cryptosuite": "eddsa-rdfc-2022",
                             "created": created, "verificationMethod": vm,
                             "proofPurpose": "assertionMethod"}
    digest, dropped = hash_data(proof_configuration(proof, doc), doc)
    assert not dropped, dropped
    proof["proofValue"] = "z" + base58.b58encode(key.sign(digest)).decode()
    return {**doc, "proof": proof}


def pyld_nquads(doc: dict[str, Any]) -> str:
    """Plain pyld RDFC-1.0: what an issuer on pyld (whose toRdf drops silently) would sign."""
    out: str = jsonld.normalize(doc, {"algorithm": "URDNA2015", "format": "application/n-quads",
                                      "documentLoader": document_loader})
    return out


def sign_di_plain_pyld(doc: dict[str, Any], key: ed25519.Ed25519PrivateKey, vm: str,
                       created: str = "2024-01-01T00:00:00Z") -> dict[str, Any]:
    """Like :func:`sign_di`, over plain pyld's N-Quads: an issuer that signs what Satchel won't."""
    proof: dict[str, Any] = {"type": "DataIntegrityProof", "cryptosuite": "eddsa-rdfc-2022",
                             "created": created, "verificationMethod": vm,
                             "proofPurpose": "assertionMethod"}
    digest = (hashlib.sha256(pyld_nquads(proof_configuration(proof, doc)).encode()).digest()
              + hashlib.sha256(pyld_nquads(doc).encode()).digest())
    proof["proofValue"] = "z" + base58.b58encode(key.sign(digest)).decode()
    return {**doc, "proof": proof}


def status_list_credential(uri: str, issuer: str, revoked: Iterable[int],
                           purpose: str = "revocation") -> dict[str, Any]:
    """An unsigned BitstringStatusListCredential with the ``revoked`` indices set (MSB first)."""
    bits = bytearray(MIN_ENTRIES // 8)
    for i in revoked:
        bits[i // 8] |= 0x80 >> (i % 8)
    encoded = "u" + base64.urlsafe_b64encode(gzip.compress(bytes(bits))).rstrip(b"=").decode()
    return {"@context": ["https://www.w3.org/ns/credentials/v2"], "id": uri,
            "type": ["VerifiableCredential", "BitstringStatusListCredential"],
            "issuer": issuer, "validFrom": "2026-01-01T00:00:00Z",
            "credentialSubject": {"id": f"{uri}#list", "type": "BitstringStatusList",
                                  "statusPurpose": purpose, "encodedList": encoded}}


def credential_with_status(issuer: str, list_uri: str, index: int) -> dict[str, Any]:
    """An unsigned VC 2.0 credential whose revocation status lives at ``list_uri``/``index``."""
    return {"@context": ["https://www.w3.org/ns/credentials/v2"],
            "id": f"urn:uuid:status-test-{index}", "type": ["VerifiableCredential"],
            "issuer": issuer, "validFrom": "2026-01-01T00:00:00Z", "name": "Status test",
            "credentialSubject": {"id": "did:example:learner"},
            "credentialStatus": {"id": f"{list_uri}#{index}", "type": "BitstringStatusListEntry",
                                 "statusPurpose": "revocation",
                                 "statusListIndex": str(index),
                                 "statusListCredential": list_uri}}


# --- an independent Data Integrity check (the 1EdTech validator's contexts, plain pyld) ---------

CONTEXTS = VECTORS / "microcredentials" / "1edtech" / "contexts"


def _loader(url: str, options: Any = None) -> dict[str, Any]:
    """The 1EdTech validator's context files (its URL table), never the network."""
    table = json.loads((CONTEXTS / "context-map.json").read_text())
    if url.startswith("_") or url not in table:
        raise ValueError(f"context not available offline: {url}")
    return {"contentType": "application/ld+json", "contextUrl": None, "documentUrl": url,
            "document": json.loads((CONTEXTS / table[url]).read_text())}


def _nquads(doc: dict[str, Any]) -> bytes:
    out = jsonld.normalize(doc, {"algorithm": "URDNA2015", "format": "application/n-quads",
                                 "documentLoader": _loader})
    assert isinstance(out, str) and out
    return out.encode()


def ed25519_from_did_jwk(vm: str) -> VerifyKey:
    did, _, fragment = vm.partition("#")
    assert did.startswith("did:jwk:") and fragment == "0"
    encoded = did.removeprefix("did:jwk:")
    jwk = json.loads(base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)))
    assert jwk["kty"] == "OKP" and jwk["crv"] == "Ed25519" and "d" not in jwk
    return VerifyKey(base64.urlsafe_b64decode(jwk["x"] + "=" * (-len(jwk["x"]) % 4)))


def check_vp(vp: dict[str, Any], *, nonce: str, client_id: str) -> None:
    """vc-data-integrity "verify proof" with eddsa-rdfc-2022, from first principles."""
    proof = vp["proof"]
    assert proof["type"] == "DataIntegrityProof" and proof["cryptosuite"] == "eddsa-rdfc-2022"
    assert proof["proofPurpose"] == "authentication"
    assert proof["challenge"] == nonce and proof["domain"] == client_id
    assert proof["verificationMethod"].split("#")[0] == vp["holder"]
    config = {k: v for k, v in proof.items() if k != "proofValue"}
    config["@context"] = vp["@context"]
    unsecured = {k: v for k, v in vp.items() if k != "proof"}
    data = hashlib.sha256(_nquads(config)).digest() + hashlib.sha256(_nquads(unsecured)).digest()
    assert proof["proofValue"].startswith("z")
    signature = base58.b58decode(proof["proofValue"][1:])
    ed25519_from_did_jwk(proof["verificationMethod"]).verify(data, signature)
