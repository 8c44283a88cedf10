"""Consent receipts: the Kantara Consent Receipt v1.1 fields, aligned with ISO/IEC TS 27560.

Specs: Kantara Initiative, *Consent Receipt Specification* v1.1.0 (2018),
https://kantarainitiative.org/download/7902/ ; ISO/IEC TS 27560:2023 *Consent record information
structure*; GDPR Art. 6(1), Art. 7(1), Art. 9. The receipt is a compact JWS (RFC 7515) with
``typ: consent-receipt+jwt`` signed by the service key, so a learner can show it to anyone holding
the service's public key.

Why these fields: a receipt must let the learner demonstrate *who* received *which kinds* of data
*for what* and *on which legal basis*, and tie that statement to the tamper-evident ledger. It names
claim paths and categories, never values. Mapping (Kantara name ← ledger source; ISO/IEC 27560
term):

====================  =============================================  ==========================
Kantara CR v1.1       source                                         ISO/IEC TS 27560 term
====================  =============================================  ==========================
version               "KI-CR-v1.1.0"                                 schema version
jurisdiction          Ledger(jurisdiction=..., default "EU")         jurisdiction
consentTimestamp      entry ``at`` (NumericDate)                     event time
collectionMethod      fixed text per event kind                      collection method / notice
consentReceiptID      UUIDv5 of the entry hash (stable per entry)    record identifier
publicKey             the signing key's public JWK                   —
language              "en"                                           language
piiPrincipalId        the learner's pseudonymous ``learner_ref``     PII principal identifier
piiControllers        the counterparty (verifier / institution)     PII controller (recipient)
policyUrl             ``event.policy_url`` (omitted when unknown)    privacy notice
services[].purposes   ``purpose``, ``legalBasis`` (Art. 6(1)...),    purpose, lawful basis,
                      ``piiCategory`` (categories or claim paths),   PII categories,
                      ``thirdPartyDisclosure`` (a disclosure kind)   recipients
sensitive / spiCat    ``event.sensitive`` / Art. 9 categories         special categories
entryHash, eventId,   extensions: the ledger entry it attests,       record / event reference
eventKind, claims     its id and kind, and the claim paths
====================  =============================================  ==========================

Kantara's mandatory controller ``contact``/``address``/``email``/``phone`` are not known to a wallet
about a verifier; they are left out rather than invented. Pure: no I/O.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from consent.chain import at_to_us
from consent.events import DISCLOSURE_KINDS, LEGAL_BASES, ConsentEvent, EventKind, path_label

__all__ = ["RECEIPT_TYP", "RECEIPT_VERSION", "SPECIAL_CATEGORIES", "build_receipt"]

RECEIPT_TYP = "consent-receipt+jwt"
RECEIPT_VERSION = "KI-CR-v1.1.0"
_RECEIPT_NS = uuid.UUID("8f0b3c52-5a55-4d0e-9b39-7c0f6a0b6c41")

#: GDPR Art. 9(1) special categories, as data_categories names.
SPECIAL_CATEGORIES = frozenset({
    "racial_or_ethnic_origin", "political_opinions", "religious_or_philosophical_beliefs",
    "trade_union_membership", "genetic", "biometric", "health", "sex_life_or_sexual_orientation",
})

_COLLECTION = {
    EventKind.PRESENTATION_SENT: "OpenID4VP presentation approved by the learner in Satchel",
    EventKind.SHARE_LINK_CREATED: "share link created by the learner in Satchel",
    EventKind.SHARE_LINK_VIEWED: "share link opened by its recipient",
    EventKind.CONSENT_GIVEN: "consent given by the learner in Satchel",
    EventKind.CONSENT_WITHDRAWN: "consent withdrawn by the learner in Satchel",
}


def build_receipt(*, event: ConsentEvent, event_id: str, kind: EventKind, at: datetime,
                  entry_hash: str, learner_ref: str, jurisdiction: str, issuer: str | None,
                  public_jwk: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    """The receipt claims for one ledger entry (the caller signs them)."""
    controller_id = event.counterparty or "unknown"
    controller_name = event.counterparty_name or controller_id
    categories = list(event.data_categories) or [path_label(p) for p in event.claims]
    spi = sorted(c for c in event.data_categories if c in SPECIAL_CATEGORIES)
    sensitive = event.sensitive or bool(spi)
    legal_basis = LEGAL_BASES[event.legal_basis]
    if sensitive and event.legal_basis == "consent":
        legal_basis += "; GDPR Art. 9(2)(a)"
    disclosure = kind in DISCLOSURE_KINDS
    receipt_id = str(uuid.uuid5(_RECEIPT_NS, entry_hash))
    claims: dict[str, Any] = {
        "version": RECEIPT_VERSION,
        "jurisdiction": jurisdiction,
        "consentTimestamp": at_to_us(at) // 1_000_000,
        "collectionMethod": _COLLECTION.get(kind, f"{kind.value} recorded by Satchel"),
        "consentReceiptID": receipt_id,
        "publicKey": dict(public_jwk),
        "language": "en",
        "piiPrincipalId": learner_ref,
        "piiControllers": [{
            "piiController": controller_name,
            "piiControllerId": controller_id,
            "onBehalf": False,
        }],
        "services": [{
            "service": controller_name,
            "purposes": [{
                "purpose": event.purpose or kind.value,
                "purposeCategory": [kind.value],
                "consentType": "EXPLICIT",
                "legalBasis": legal_basis,
                "piiCategory": categories,
                "primaryPurpose": True,
                "termination": "withdrawal by the learner or erasure of the account",
                "thirdPartyDisclosure": disclosure,
                **({"thirdPartyName": controller_name} if disclosure else {}),
            }],
        }],
        "sensitive": sensitive,
        "spiCat": spi,
        "entryHash": entry_hash,
        "eventId": event_id,
        "eventKind": kind.value,
        "claims": [list(p) for p in event.claims],
        "credentialIds": list(event.credential_ids),
        "jti": receipt_id,
        "sub": learner_ref,
        "iat": at_to_us(now) // 1_000_000,
    }
    if event.policy_url:
        claims["policyUrl"] = event.policy_url
    if issuer:
        claims["iss"] = issuer
    return claims
