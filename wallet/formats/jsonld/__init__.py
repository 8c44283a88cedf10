"""W3C credentials in JSON(-LD): EDC/ELM sealed with JAdES, Open Badges 3.0 / CLR 2.0 with Data
Integrity ``eddsa-rdfc-2022``, and unsigned JSON-LD VCs.

Specs: VC Data Model 1.1 and 2.0 (https://www.w3.org/TR/vc-data-model-2.0/); vc-di-eddsa
(https://www.w3.org/TR/vc-di-eddsa/ §3.3); ETSI TS 119 182-1 (JAdES); OpenID4VCI 1.0 Appendix A.1.2
(format ``ldp_vc``).

Why one entry point: the holder receives "a JSON credential" and must decide how it is secured.
:func:`check_jsonld` keeps the input byte-for-byte, reads the VC data model the same way for every
proof type, and returns a :class:`~wallet.formats.model.CheckedCredential`:

- JAdES (JWS JSON serialization): ``signature`` from the seal at ``sigT``; ``key_source="x5c"``;
  the leaf certificate in ``issuer_cert_der`` (trust in its CA is the trust list's answer).
- Data Integrity ``eddsa-rdfc-2022``: verified offline; any other proof type or suite is
  ``"unsupported"`` (never ``"valid"``); so is a context that is not bundled, or a document over
  the canonicalization bounds (``too_large_to_verify``).
- No proof at all: ``signature="no_key"`` with the problem ``"unsigned"`` (there is no key to
  check, exactly like a VC-JWT without one), still parsed.

``problems`` lists machine-readable reasons (``expired``, ``not_yet_valid``,
``verification_method_not_issuer``, ``issuer_key_self_asserted`` for a 1EdTech multibase-fragment
key that only the trust list can vouch for ...); an empty tuple means nothing was found wrong.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from cryptography import x509

from wallet import jsontext
from wallet.errors import PayloadTooLarge
from wallet.formats.jsonld.canon import CanonLimits, check_shape
from wallet.formats.jsonld.data_integrity import verify_data_integrity
from wallet.formats.jsonld.errors import InvalidCredential
from wallet.formats.jsonld.jades import is_jws_json, verify_jades
from wallet.formats.jsonld.vcdm import (
    VC_CONTEXTS,
    as_list,
    date_problems,
    holder_jwk,
    issuer_id,
    status_reference,
    title_of,
    types_of,
    utc_now,
    validity_window,
)
from wallet.formats.model import (
    ISSUER_KEY_SELF_ASSERTED,
    CheckedCredential,
    SignatureState,
    SignerChain,
)
from wallet.ports import Fetcher

__all__ = [
    "MAX_JSONLD_BYTES",
    "PARSE_LIMITS",
    "check_jsonld",
    "describe_vc",
    "parse_json_object",
]

#: EDCs embed display images; 2 MiB is ample for one credential and bounds parsing.
MAX_JSONLD_BYTES = 2 * 1024 * 1024
PARSE_LIMITS = CanonLimits(max_nodes=200_000, max_depth=64, max_array_items=200_000)


def parse_json_object(raw: str, max_bytes: int = MAX_JSONLD_BYTES) -> dict[str, Any]:
    """A bounded JSON object; typed errors only."""
    if not isinstance(raw, str):
        raise InvalidCredential("credential must be text")
    if len(raw) > max_bytes:
        raise PayloadTooLarge("credential is too large")
    doc = jsontext.parse_json_object(raw, InvalidCredential("credential is not JSON"),
                                     InvalidCredential("credential is not a JSON object"))
    check_shape(doc, PARSE_LIMITS)
    return doc


def describe_vc(doc: dict[str, Any], now: datetime) -> dict[str, Any]:
    """The data-model fields every W3C format shows, plus structural problems."""
    types = types_of(doc)
    issued_at, valid_from, expires_at = validity_window(doc)
    problems = date_problems(valid_from, expires_at, now)
    if "VerifiableCredential" not in types:
        problems.append("not_verifiable_credential")
    contexts = as_list(doc.get("@context"))
    if "@context" in doc and (not contexts or contexts[0] not in VC_CONTEXTS):
        problems.append("missing_vc_context")
    return {
        "issuer": issuer_id(doc),
        "types": types,
        "title": title_of(doc),
        "issued_at": issued_at,
        "valid_from": valid_from,
        "expires_at": expires_at,
        "holder_jwk": holder_jwk(doc),
        "status": status_reference(doc),
        "problems": problems,
    }


async def check_jsonld(
    raw: str,
    *,
    now: datetime,
    fetcher: Fetcher | None = None,
    x5c_anchors: Sequence[x509.Certificate] = (),
) -> CheckedCredential:
    """Parse and verify a JSON(-LD) credential (``ldp_vc``); see the module docstring.

    ``x5c_anchors`` is accepted for a uniform checker signature; the JAdES seal's chain is left to
    the trust list (``issuer_cert_der``). Raises only :class:`~wallet.errors.SatchelError`.
    """
    now = utc_now(now)
    outer = parse_json_object(raw)
    signature: SignatureState
    key_source = issuer_jwk = cert_der = None
    signers: tuple[SignerChain, ...] = ()
    proof_problems: tuple[str, ...]
    if is_jws_json(outer):
        sealed = verify_jades(outer, now=now)
        doc, signature, proof_problems = sealed.payload, sealed.signature, sealed.problems
        check_shape(doc, PARSE_LIMITS)
        # "x5c_seal": the leaf signed, but nothing ties its chain to the issuer identifier, so
        # only a certificate pin in the trust list can make the issuer trusted
        key_source = "x5c_seal" if sealed.leaf_der is not None else None
        issuer_jwk, cert_der, signers = sealed.leaf_jwk, sealed.leaf_der, sealed.signer_chains
        info = describe_vc(doc, now)
    elif "proof" in outer:
        doc = outer
        info = describe_vc(doc, now)
        result = await verify_data_integrity(doc, issuer=info["issuer"], now=now, fetcher=fetcher)
        signature, proof_problems = result.signature, result.problems
        if result.key is not None:
            key_source, issuer_jwk = result.key.source, result.key.jwk
            if key_source == "multibase_fragment":
                # the key is the URL's own fragment: anyone can write one under an https issuer
                proof_problems = (*proof_problems, ISSUER_KEY_SELF_ASSERTED)
    else:
        doc = outer
        info = describe_vc(doc, now)
        signature, proof_problems = "no_key", ("unsigned",)
    problems = tuple(dict.fromkeys([*proof_problems, *info.pop("problems")]))
    return CheckedCredential(
        format="ldp_vc", raw=raw, claims=doc, signature=signature, key_source=key_source,
        issuer_jwk=issuer_jwk, issuer_cert_der=cert_der, signer_chains=signers,
        problems=problems, **info,
    )
