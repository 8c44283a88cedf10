"""Data Integrity proofs with the ``eddsa-rdfc-2022`` cryptosuite.

Specs: W3C Data Integrity EdDSA Cryptosuites v1.0, https://www.w3.org/TR/vc-di-eddsa/ §3.3
(eddsa-rdfc-2022: §3.3.2 Verify Proof, §3.3.4 Transformation = RDFC-1.0 canonical N-Quads,
§3.3.5 Hashing = SHA-256(proof config) ‖ SHA-256(document), §3.3.6 Proof Configuration, §3.3.8
Proof Verification = Ed25519); W3C VC Data Integrity 1.0, https://www.w3.org/TR/vc-data-integrity/
§2.1 (proof properties), §4.2 (verify proof: ``proofPurpose`` must match, ``@context`` of the proof
must agree with the document's).

Why: Open Badges 3.0 and CLR 2.0 credentials (1EdTech) carry these proofs. Contexts come only from
bundled files; canonicalization is bounded (:mod:`.canon`). Fail closed: a proof of any other type
or suite is ``unsupported`` (never ``valid``); properties that JSON-LD drops (not covered by the
signature) make the proof ``invalid`` (``jsonld_terms_dropped``), and so do identifiers, types or
properties that are not absolute IRIs and malformed language tags, which RDF conversion would drop
or splice into the N-Quads (``jsonld_relative_iri``, ``jsonld_language_tag_invalid``). The proof
covers the N-Quads, but Satchel reads JSON keys: a document whose JSON is not the compact form of
what is signed (a key spelt as its full IRI, a term aliased to ``@index``) is ``invalid``
(``jsonld_not_in_compact_form``), and so is one with an inline context (``jsonld_inline_context``;
:mod:`.compact_form`).
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import base58
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ed25519

from wallet.dids import (
    DidError,
    DidResolutionFailed,
    ResolvedKey,
    VerificationMethodNotFound,
    did_of,
    resolve_key,
)
from wallet.errors import PayloadTooLarge, SatchelError
from wallet.formats.jsonld.canon import (
    CanonicalizationBudgetExceeded,
    CanonicalizationFailed,
    CanonLimits,
    TermNotCovered,
    canonicalize,
)
from wallet.formats.jsonld.compact_form import refuse_inline_contexts, require_compact_form
from wallet.formats.jsonld.loader import UnknownContext
from wallet.formats.jsonld.vcdm import CLOCK_SKEW, as_list, parse_datetime
from wallet.formats.model import SignatureState
from wallet.ports import Fetcher

__all__ = [
    "CRYPTOSUITE",
    "ProofResult",
    "hash_data",
    "proof_configuration",
    "unsecured_document",
    "verify_data_integrity",
]

CRYPTOSUITE = "eddsa-rdfc-2022"


@dataclass(frozen=True, slots=True)
class ProofResult:
    signature: SignatureState
    problems: tuple[str, ...] = ()
    key: ResolvedKey | None = None
    created: datetime | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def unsecured_document(doc: Mapping[str, Any]) -> dict[str, Any]:
    """The document without ``proof`` (vc-data-integrity §4.2 step 1)."""
    return {k: v for k, v in doc.items() if k != "proof"}


def proof_configuration(proof: Mapping[str, Any], doc: Mapping[str, Any]) -> dict[str, Any]:
    """Proof options without ``proofValue``, with the document's ``@context`` (§3.3.6)."""
    config = {k: v for k, v in proof.items() if k != "proofValue"}
    config["@context"] = doc.get("@context")
    return config


def hash_data(proof_config: Mapping[str, Any], document: Mapping[str, Any],
              limits: CanonLimits | None = None) -> tuple[bytes, tuple[str, ...]]:
    """``SHA-256(canon(proof config)) ‖ SHA-256(canon(document))`` and the dropped terms.

    Raises :class:`~.canon.TermNotCovered` when either holds a term RDF conversion would lose,
    and its :mod:`.compact_form` subclasses when either has an inline ``@context`` or is not the
    compact form of what it signs (so the JSON a reader sees is not what the proof covers).
    """
    lim = limits or CanonLimits()
    doc, config = dict(document), dict(proof_config)
    refuse_inline_contexts(doc)
    refuse_inline_contexts(config)
    canon_doc = canonicalize(doc, lim)
    canon_proof = canonicalize(config, lim)
    if not canon_doc.dropped_terms and not canon_proof.dropped_terms:
        # (dropped terms are the caller's more precise refusal)
        require_compact_form(doc, lim, canon_doc.nquads)
        require_compact_form(config, lim, canon_proof.nquads)
    digest = (hashlib.sha256(canon_proof.nquads.encode()).digest()
              + hashlib.sha256(canon_doc.nquads.encode()).digest())
    return digest, canon_doc.dropped_terms + canon_proof.dropped_terms


def _decode_proof_value(value: Any) -> bytes | None:
    if not isinstance(value, str) or not value.startswith("z") or len(value) > 200:
        return None
    try:
        raw = base58.b58decode(value[1:])
    except ValueError:
        return None
    return raw if len(raw) == 64 else None


def _proof_context_ok(proof: Mapping[str, Any], doc: Mapping[str, Any]) -> bool:
    """A proof ``@context``, if present, must be a prefix of the document's (vc-di §4.2)."""
    if "@context" not in proof:
        return True
    p_ctx, d_ctx = as_list(proof["@context"]), as_list(doc.get("@context"))
    return len(p_ctx) <= len(d_ctx) and d_ctx[: len(p_ctx)] == p_ctx


async def _verify_one(proof: Mapping[str, Any], doc: Mapping[str, Any], *, issuer: str,
                      now: datetime, fetcher: Fetcher | None) -> ProofResult:
    if proof.get("type") != "DataIntegrityProof" or proof.get("cryptosuite") != CRYPTOSUITE:
        return ProofResult("unsupported", ("proof_suite_unsupported",))
    problems: list[str] = []
    if proof.get("proofPurpose") != "assertionMethod":
        return ProofResult("invalid", ("proof_purpose_not_assertion",))
    if not _proof_context_ok(proof, doc):
        return ProofResult("invalid", ("proof_context_mismatch",))
    created = None
    if "created" in proof:
        try:
            created = parse_datetime(proof["created"])
        except SatchelError:
            return ProofResult("invalid", ("proof_created_malformed",))
        if created > now + CLOCK_SKEW:
            problems.append("proof_created_in_future")
    if "expires" in proof:
        try:
            if parse_datetime(proof["expires"]) <= now - CLOCK_SKEW:
                problems.append("proof_expired")
        except SatchelError:
            return ProofResult("invalid", ("proof_expires_malformed",))
    signature = _decode_proof_value(proof.get("proofValue"))
    if signature is None:
        return ProofResult("invalid", ("proof_value_malformed",))
    vm = proof.get("verificationMethod")
    if isinstance(vm, Mapping):
        vm = vm.get("id")
    if not isinstance(vm, str):
        return ProofResult("no_key", ("verification_method_missing",))
    try:
        resolved = await resolve_key(vm, fetcher)
    except (DidError, DidResolutionFailed, VerificationMethodNotFound):
        return ProofResult("no_key", ("verification_method_unresolvable",))
    if not isinstance(resolved.key, ed25519.Ed25519PublicKey):
        return ProofResult("invalid", ("verification_method_not_ed25519",), resolved)
    if did_of(vm) != issuer:
        problems.append("verification_method_not_issuer")
    try:
        # CPU-bound (bounded by CanonLimits): keep it off the event loop
        digest, dropped = await asyncio.to_thread(
            hash_data, proof_configuration(proof, doc), unsecured_document(doc))
    except UnknownContext:
        return ProofResult("unsupported", ("unknown_context",), resolved, created)
    except (CanonicalizationBudgetExceeded, PayloadTooLarge):
        return ProofResult("unsupported", ("too_large_to_verify",), resolved, created)
    except TermNotCovered as exc:  # like a dropped term: the proof cannot cover all it shows
        dropped_too = ("jsonld_terms_dropped",) if exc.dropped_terms else ()
        return ProofResult("invalid", (*dropped_too, exc.code), resolved, created)
    except CanonicalizationFailed:
        return ProofResult("invalid", ("canonicalization_failed",), resolved, created)
    if dropped:
        return ProofResult("invalid", ("jsonld_terms_dropped",), resolved, created)
    try:
        resolved.key.verify(signature, digest)
    except InvalidSignature:
        return ProofResult("invalid", ("signature_mismatch",), resolved, created)
    return ProofResult("valid", tuple(problems), resolved, created)


async def verify_data_integrity(doc: Mapping[str, Any], *, issuer: str, now: datetime,
                                fetcher: Fetcher | None) -> ProofResult:
    """Check every proof on ``doc``; the result is ``valid`` only if all are valid.

    Raises only :class:`~wallet.errors.SatchelError` (e.g. a canonicalization bound).
    """
    proofs = as_list(doc.get("proof"))
    if not proofs or not all(isinstance(p, Mapping) for p in proofs) or len(proofs) > 4:
        return ProofResult("invalid", ("proof_malformed",))
    results = [await _verify_one(p, doc, issuer=issuer, now=now, fetcher=fetcher)
               for p in proofs]
    problems = tuple(dict.fromkeys(x for r in results for x in r.problems))
    for state in ("invalid", "unsupported", "no_key"):
        worst = next((r for r in results if r.signature == state), None)
        if worst is not None:
            return ProofResult(state, problems, worst.key, worst.created)
    return ProofResult("valid", problems, results[0].key, results[0].created)
