"""The format-independent view of a verified credential.

Every format module (SD-JWT VC, W3C VC-JWT, JSON-LD with Data Integrity or JAdES) turns its input
into a :class:`CheckedCredential`: what the learner and the API see, whatever the encoding. Fail
closed: a ``signature`` other than ``"valid"`` is never shown as valid, and a proof Satchel cannot
check is ``"unsupported"``, not ``"valid"``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final, Literal, NamedTuple, NotRequired, TypedDict

from wallet.x509 import authority_key_ids

__all__ = [
    "ISSUER_KEY_SELF_ASSERTED",
    "CheckedCredential",
    "ClaimPath",
    "PDF_FORMAT",
    "CredentialFormat",
    "PdfReport",
    "PdfSignature",
    "SignatureState",
    "SignerChain",
    "StatusReference",
    "StatusState",
    "StoredFormat",
    "Verification",
]

#: Wire names, as OpenID4VCI/OpenID4VP use them (``ldp_vc`` covers EDC/JAdES and Data Integrity).
CredentialFormat = Literal["dc+sd-jwt", "vc+sd-jwt", "jwt_vc_json", "ldp_vc"]
#: A signed PDF kept as it came (wallet.pdf_intake): stored and shared by link, never a wire format.
PDF_FORMAT: Final = "pdf"
#: What a stored credential's ``format`` holds: a wire name or ``pdf``. Each has its row in
#: ``wallet.formats.traits.TRAITS`` (tests/wallet/test_format_traits.py).
StoredFormat = Literal[CredentialFormat, "pdf"]

#: ``valid``: checked and good. ``invalid``: checked and bad. ``no_key``: no key could be
#: established for the issuer. ``unsupported``: a proof suite Satchel cannot check.
SignatureState = Literal["valid", "invalid", "no_key", "unsupported"]

#: ``none``: the credential names no status list. ``unknown``: it does, but the list could not be
#: fetched or checked (yet).
StatusState = Literal["valid", "invalid", "suspended", "unknown", "none"]

#: Problem code: the key that verified the proof came with the credential itself (a VC-JWT header
#: ``jwk``, a 1EdTech ``https://issuer.example/…#z6Mk…`` multibase fragment). The signature is
#: valid, but nothing shows the key is the issuer's (never let the credential pick the issuer's
#: key: docs/verification.md); only a trust-list pin can (``issuer_trusted``).
ISSUER_KEY_SELF_ASSERTED = "issuer_key_self_asserted"

class PdfSignature(TypedDict):
    """One signature's (or document timestamp's) report in ``verification.pdf.signatures``.

    Stored inside the sealed record and sent as is, so a JSON shape, not a dataclass (the
    dataclass it is written from is ``wallet.formats.pdf.signatures.SignatureReport``).
    """

    field: str  # the signature field's name
    kind: str  # signature | timestamp
    integrity: str  # valid | invalid | unsupported
    modification: str  # none | signature_maintenance | form_filling | annotations | other
    coverage: str  # entire_file | entire_revision | partial
    docmdp: str | None
    docmdp_ok: bool
    chain: str  # anchored | self_signed | not_anchored | revoked | invalid | none
    signer: dict[str, str]  # name, common_name, organization, country (those present)
    signed_at: str | None  # RFC 3339, ``Z``
    signing_time_source: str | None  # timestamp | claimed
    timestamp: str | None  # valid | invalid | none
    chain_checked_at: str  # now | signature_timestamp
    problems: list[str]


class PdfReport(TypedDict):
    """``verification.pdf`` of a signed PDF: its verdict and every signature's report."""

    verdict: str
    ltv_data: bool
    revocation_checked: str
    signatures: list[PdfSignature]


class Verification(TypedDict):
    """What the checks found, stored with a credential (``verification`` in the API).

    ``signature``, ``issuer_trusted``, ``status`` and ``checked_at`` are always there; a record
    read back without a stored verification has only those. Intake adds ``key_source`` and
    ``problems``; a signed PDF adds ``pdf``; a credential read from a PDF adds ``attached_to``.
    """

    signature: SignatureState
    issuer_trusted: bool
    status: str  # a StatusState, as the vault's record holds it (a plain str)
    checked_at: str | None
    key_source: NotRequired[str | None]
    problems: NotRequired[list[str]]
    pdf: NotRequired[PdfReport]
    attached_to: NotRequired[str]


#: A DCQL claim path: object keys (str), array indices (int), or ``None`` for "every element".
ClaimPath = tuple[str | int | None, ...]


@dataclass(frozen=True, slots=True)
class StatusReference:
    """Where a credential's status lives: a Token Status List or a W3C Bitstring Status List."""

    kind: Literal["token_status_list", "bitstring_status_list"]
    uri: str
    index: int
    purpose: str | None = None  # bitstring only: "revocation", "suspension", ...


class SignerChain(NamedTuple):
    """One signature's verified public key (a JWK) and the ``x5c`` chain carried with it, leaf
    first, validated or not (:func:`wallet.x509.carried_chain`: ``()`` none, None unreadable)."""

    jwk: dict[str, Any] | None
    chain_der: tuple[bytes, ...] | None


@dataclass(frozen=True, slots=True)
class CheckedCredential:
    """A parsed credential and the result of checking its proof (not yet its status or trust)."""

    format: CredentialFormat
    raw: str  # exactly as received: stored byte-for-byte
    issuer: str  # the issuer identifier (URL, DID)
    types: tuple[str, ...]  # vct (+ aka) for SD-JWT VC; VC `type` values otherwise
    claims: dict[str, Any]  # every claim disclosed to the holder (the VC document for W3C VCs)
    signature: SignatureState
    disclosable: tuple[ClaimPath, ...] = ()  # paths the learner may withhold (SD-JWT only)
    title: str | None = None
    issued_at: datetime | None = None
    valid_from: datetime | None = None
    expires_at: datetime | None = None
    holder_jwk: dict[str, Any] | None = None  # the `cnf.jwk` (or equivalent) the holder must prove
    status: StatusReference | None = None
    #: How the issuer key was found: "jwt_vc_issuer_metadata", "x5c", "did:key", "did:jwk",
    #: "did:web", "header_jwk" (self-asserted; trusted only if the trust list names the key) ...
    key_source: str | None = None
    #: Issuer key / certificate material the trust list can be asked about.
    issuer_jwk: dict[str, Any] | None = None
    issuer_cert_der: bytes | None = None
    #: Per signature, the key it verified with and the ``x5c`` chain carried beside it (SD-JWT
    #: VC / VC-JWT header, each JAdES seal), as :func:`wallet.x509.authority_key_ids` reads them.
    signer_chains: tuple[SignerChain, ...] = ()
    problems: tuple[str, ...] = field(default_factory=tuple)  # finding codes (docs/verification.md)

    def authority_key_ids(self) -> list[str]:
        """The OpenID4VP ``aki`` values intake records (docs/presenting.md): those of the
        certificates a verified signature chains through; none unless the signature is valid."""
        return authority_key_ids(self.signer_chains) if self.signature == "valid" else []
