"""Creating Data Integrity proofs with the ``eddsa-rdfc-2022`` cryptosuite (the holder's side).

Specs: W3C Data Integrity EdDSA Cryptosuites v1.0, https://www.w3.org/TR/vc-di-eddsa/ §3.3.1
"Create Proof" (proof options → §3.3.6 proof configuration with the document's ``@context``;
§3.3.4 transformation = RDFC-1.0 canonical N-Quads of the unsecured document; §3.3.5 hashing;
§3.3.7 serialization = Ed25519 over the hash data; ``proofValue`` = multibase base58-btc, "z");
W3C VC Data Integrity 1.0, https://www.w3.org/TR/vc-data-integrity/ §2.1 (``challenge``,
``domain``, ``proofPurpose``) and §4.1 "Add Proof".

Why here, beside the verifier: signing and verifying must hash the *same* bytes, so the hash data
comes from :func:`~wallet.formats.jsonld.data_integrity.hash_data` and the configuration from
:func:`~wallet.formats.jsonld.data_integrity.proof_configuration` — one implementation for both
directions. Ed25519 is deterministic, so the W3C test vector's ``proofValue`` is reproduced
exactly (``tests/wallet/test_di_signing.py``). A document whose JSON-LD expansion drops a
property, or whose RDF conversion would drop or splice a term (an identifier, type or property
that is not an absolute IRI, a malformed language tag), is refused: the signature would not cover
it, and a verifier could be shown unsigned data as signed.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import base58
from cryptography.hazmat.primitives.asymmetric import ed25519

from wallet.errors import BadInput
from wallet.formats.jsonld.canon import CanonLimits, TermNotCovered
from wallet.formats.jsonld.data_integrity import (
    CRYPTOSUITE,
    hash_data,
    proof_configuration,
    unsecured_document,
)
from wallet.formats.jsonld.errors import DataIntegrityNotSignable

__all__ = ["DataIntegrityNotSignable", "proof_timestamp", "sign_data_integrity"]


def proof_timestamp(when: datetime) -> str:
    """An XML Schema ``dateTimeStamp`` in UTC, to the second (``2023-02-24T23:36:38Z``)."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def sign_data_integrity(document: Mapping[str, Any], *, key: ed25519.Ed25519PrivateKey,
                        verification_method: str, proof_purpose: str, created: datetime,
                        challenge: str | None = None, domain: str | None = None,
                        limits: CanonLimits | None = None) -> dict[str, Any]:
    """``document`` with a ``DataIntegrityProof`` (``eddsa-rdfc-2022``) added as ``proof``.

    The input must be unsecured (no ``proof``): this adds the only proof, it does not chain.
    Raises :class:`DataIntegrityNotSignable` when JSON-LD would drop a property or RDF conversion
    a term (not an absolute IRI, a malformed language tag), and the
    canonicalization errors of :mod:`.canon` (unknown context, over a bound).
    CPU-bound (canonicalization): callers on the event loop should run it in a thread.
    """
    if "proof" in document:
        raise BadInput("the document already carries a proof")
    options: dict[str, Any] = {
        "type": "DataIntegrityProof",
        "cryptosuite": CRYPTOSUITE,
        "created": proof_timestamp(created),
        "verificationMethod": verification_method,
        "proofPurpose": proof_purpose,
    }
    if challenge is not None:
        options["challenge"] = challenge
    if domain is not None:
        options["domain"] = domain
    try:
        digest, dropped = hash_data(proof_configuration(options, document),
                                    unsecured_document(document), limits)
    except TermNotCovered as exc:
        raise DataIntegrityNotSignable(f"{exc.detail}: a proof would not cover it") from exc
    if dropped:
        raise DataIntegrityNotSignable("JSON-LD would drop part of the document: a proof would "
                                       "not cover it")
    proof = {**options, "proofValue": "z" + base58.b58encode(key.sign(digest)).decode("ascii")}
    return {**document, "proof": proof}
