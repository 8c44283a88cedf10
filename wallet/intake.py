"""Everything a credential goes through before it enters a vault: verify, status, trust, elements.

One door for every way a credential arrives (``POST /v1/credentials``, OpenID4VCI, inbox pushes,
GDPR import). The format is detected, the proof checked by its format module, the status list
consulted through the guarded fetcher, the trust list asked, and the credential mapped to the
Annex I elements once, so reads are cheap. Policy (fail closed):

- a proof that was checked and failed (``signature == "invalid"``) is refused;
- an expired or not-yet-valid credential is refused;
- a proof Satchel cannot check (``no_key`` / ``unsupported``) is kept, and shown as exactly that;
- a revoked or suspended status is kept and shown (the learner owns their record), but OpenID4VCI
  treats it as a failed issuance.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, assert_never

from cryptography import x509

from wallet.clock import SYSTEM_CLOCK, Clock, iso
from wallet.dids import did_of, resolve_verification_key
from wallet.errors import (
    BadInput,
    CredentialExpired,
    CredentialNotYetValid,
    InvalidProof,
    SatchelError,
    UnsupportedFormat,
    VerificationFailed,
)
from wallet.formats.detect import detect_format
from wallet.formats.jsonld import check_jsonld
from wallet.formats.jsonld.data_integrity import verify_data_integrity
from wallet.formats.jsonld.vcdm import status_references
from wallet.formats.model import CheckedCredential, StatusReference, StatusState, Verification
from wallet.formats.sd_jwt_vc import JwtVcIssuerKeyResolver, check_sd_jwt_vc
from wallet.formats.traits import TRAITS
from wallet.formats.vc_jwt import check_vc_jwt
from wallet.jose import PublicJwk, PublicKey, as_public_jwk
from wallet.microcred import ElementsDocument, map_elements, portfolio_items, search_text
from wallet.ports import Fetcher
from wallet.status_list import StatusChecker, StatusListNotFromIssuer
from wallet.trust import TrustList
from wallet.vault import StoredCredential

__all__ = [
    "STATUS_PROBLEMS",
    "CredentialExpired",
    "CredentialIntake",
    "CredentialNotYetValid",
    "IntakeResult",
]

MAX_RAW_CHARS = 900_000
#: Key sources whose key was resolved from the DID itself: bound to that DID.
_DID_BOUND = frozenset({"did:key", "did:jwk", "did:web"})
#: Status problems worth showing with the verification (the others are transient: unreachable).
STATUS_PROBLEMS = frozenset({StatusListNotFromIssuer.code})


@dataclass(frozen=True, slots=True)
class IntakeResult:
    checked: CheckedCredential
    status: StatusState
    issuer_trusted: bool
    stored: StoredCredential


class CredentialIntake:
    def __init__(self, *, fetcher: Fetcher, trust: TrustList,
                 x5c_anchors: Sequence[x509.Certificate] = (),
                 clock: Clock = SYSTEM_CLOCK,
                 accept_legacy_typ: bool = False) -> None:
        self._fetcher = fetcher
        self._trust = trust
        self._anchors = list(x5c_anchors)
        self._clock = clock
        self._legacy = accept_legacy_typ
        self._sd_jwt_keys = JwtVcIssuerKeyResolver(fetcher, self._anchors)
        self.status = StatusChecker(fetcher, self._status_key,
                                    clock=clock,
                                    ld_verifier=self._ld_status_proof)

    @property
    def x5c_anchors(self) -> tuple[x509.Certificate, ...]:
        """The anchors certificate chains must lead to (``x5c`` and PDF signers alike)."""
        return tuple(self._anchors)

    @property
    def trust_list(self) -> TrustList:
        """The trust list this intake judges issuers by (read-only use by other services)."""
        return self._trust

    # ------------------------------------------------------------------ status list signatures
    async def _status_key(self, header: Any, claims: Any) -> PublicKey:
        iss = claims.get("iss") if isinstance(claims, dict) else None
        if isinstance(iss, str) and iss.startswith("did:"):
            kid = header.get("kid")
            did_url = kid if isinstance(kid, str) and did_of(kid) == iss else iss
            key, _jwk = await resolve_verification_key(did_url, self._fetcher)
            return key
        if isinstance(iss, str):
            return (await self._sd_jwt_keys.resolve_for(iss, header, at=self._clock())).key
        raise VerificationFailed("the status list names no issuer")

    async def _ld_status_proof(self, doc: Any) -> str | None:
        """The issuer a JSON-LD status list's key is bound to, or ``None`` (proof not valid).

        The list is held to the rule the credential's own proof is: a key resolved from the
        issuer's own DID (did:key / did:jwk / did:web) is the issuer's; a key the document names
        for itself (a multibase fragment on an https issuer) is only when the trust list pins it
        for that issuer. Anything else could be anyone's key: :class:`StatusListNotFromIssuer`.
        """
        issuer = doc.get("issuer")
        issuer_id = issuer.get("id") if isinstance(issuer, dict) else issuer
        if not isinstance(issuer_id, str) or not issuer_id:
            return None
        result = await verify_data_integrity(doc, issuer=issuer_id, now=self._clock(),
                                             fetcher=self._fetcher)
        if result.signature != "valid" or result.key is None:
            return None
        if "verification_method_not_issuer" in result.problems:
            raise StatusListNotFromIssuer("the status list's key is not its issuer's")
        if result.problems:  # e.g. proof_expired, proof_created_in_future
            return None
        if result.key.source in _DID_BOUND and result.key.controller == issuer_id:
            return issuer_id
        if self._trust.issuer_trusted(issuer_id, jwk=result.key.jwk, require_pin=True):
            return issuer_id
        raise StatusListNotFromIssuer("the status list's key is self-asserted and not pinned")

    # ---------------------------------------------------------------------------- verification
    async def check(self, raw: object) -> CheckedCredential:
        """Detect the format and check the proof; refuse what failed (see module policy)."""
        if not isinstance(raw, str) or not raw.strip():
            raise BadInput("the credential must be a non-empty string")
        if len(raw) > MAX_RAW_CHARS:
            raise BadInput("the credential is too large")
        now = self._clock()
        checker = TRAITS[detect_format(raw)].checker  # the format's row says which
        if checker == "sd_jwt_vc":
            checked = await check_sd_jwt_vc(raw, resolver=self._sd_jwt_keys, now=now,
                                            accept_legacy_typ=self._legacy)
        elif checker == "vc_jwt":
            checked = await check_vc_jwt(raw, now=now, fetcher=self._fetcher,
                                         x5c_anchors=self._anchors)
        elif checker == "jsonld":
            checked = await check_jsonld(raw, now=now, fetcher=self._fetcher,
                                         x5c_anchors=self._anchors)
        elif checker == "pdf":  # a PDF comes in as bytes (wallet.pdf_intake), never as text
            raise UnsupportedFormat("a PDF is imported as application/pdf")
        else:
            assert_never(checker)
        if checked.signature == "invalid":
            raise InvalidProof("the credential's proof does not verify")
        if "expired" in checked.problems:
            raise CredentialExpired("the credential has expired")
        if "not_yet_valid" in checked.problems:
            raise CredentialNotYetValid("the credential is not valid yet")
        return checked

    def trusted(self, checked: CheckedCredential) -> bool:
        if checked.signature != "valid":
            return False
        # A key the credential brought along proves nothing about who the issuer is, unless the
        # issuer identifier *is* that key (did:key / did:jwk) and nothing says they disagree.
        bound = (checked.key_source in ("did:key", "did:jwk")
                 and checked.issuer.startswith(f"{checked.key_source}:")
                 and not {"vc_issuer_not_iss", "verification_method_not_issuer"}
                 & set(checked.problems))
        if {"vc_issuer_not_iss", "verification_method_not_issuer", "x5c_not_issuer"} \
                & set(checked.problems):
            return False  # the key that signed is not shown to be the issuer's
        # an EDC seal's certificate is trusted only through a certificate pin: its chain is
        # not tied to the issuer identifier by anything Satchel can check
        self_asserted = checked.key_source in ("header_jwk", "multibase_fragment", "did:key",
                                               "did:jwk", "x5c_seal") and not bound
        return self._trust.issuer_trusted(checked.issuer, jwk=checked.issuer_jwk,
                                          cert_der=checked.issuer_cert_der,
                                          require_pin=self_asserted)

    def status_refs(self, checked: CheckedCredential) -> tuple[StatusReference, ...]:
        """Every status entry: a W3C credential may carry revocation *and* suspension lists."""
        refs: tuple[StatusReference, ...] = ()
        if TRAITS[checked.format].family == "w3c":  # status entries in its claims
            try:
                refs = status_references(checked.claims)
            except SatchelError:
                refs = ()
        if not refs and checked.status is not None:
            refs = (checked.status,)
        return refs

    async def check_refs(self, refs: Sequence[StatusReference], *, issuer: str) -> StatusState:
        """The combined status: any invalid wins, then suspended, then unknown."""
        return (await self.status_verdict(refs, issuer=issuer))[0]

    async def status_verdict(self, refs: Sequence[StatusReference], *,
                             issuer: str) -> tuple[StatusState, tuple[str, ...]]:
        """:meth:`check_refs` and the status problems to show (see ``STATUS_PROBLEMS``)."""
        if not refs:
            return "none", ()
        outcomes = [await self.status.check_entry(r, issuer=issuer) for r in refs]
        states = [o.state for o in outcomes]
        problems = tuple(dict.fromkeys(o.problem for o in outcomes
                                       if o.problem in STATUS_PROBLEMS))
        for state in ("invalid", "suspended", "unknown"):
            if state in states:
                return state, problems
        return "valid", problems

    async def admit(self, raw: object, *, languages: Sequence[str] = ("en",),
                    source: str = "import", credential_id: str | None = None) -> IntakeResult:
        """Check everything and build the record to store (the caller stores it).

        ``credential_id`` keeps an id the learner already knows (GDPR import); new otherwise.
        """
        checked = await self.check(raw)
        status, status_problems = await self.status_verdict(self.status_refs(checked),
                                                            issuer=checked.issuer)
        trusted = self.trusted(checked)
        now = self._clock()
        credential_id = credential_id or str(uuid.uuid4())
        try:
            elements = map_elements(checked.claims, format=checked.format, languages=languages)
            elements_json: ElementsDocument | None = elements.to_json()
            text = search_text(elements, checked.claims)
            items = [i.to_record() for i in portfolio_items(
                credential_id, checked.claims, format=checked.format, languages=languages,
                elements=elements)]  # mapped once: the same document, format and languages
        except SatchelError:
            elements_json, text, items = None, "", []
        title = checked.title
        if title is None and elements_json is not None:
            value = elements_json["title"]["value"]
            title = value if isinstance(value, str) else None
        verification: Verification = {
            "signature": checked.signature, "issuer_trusted": trusted,
            "status": status, "checked_at": iso(now), "key_source": checked.key_source,
            "problems": list(dict.fromkeys([*checked.problems, *status_problems]))}
        stored = StoredCredential(
            id=credential_id, format=checked.format, raw=checked.raw, types=checked.types,
            issuer=checked.issuer, title=title,
            issued_at=checked.issued_at or checked.valid_from, expires_at=checked.expires_at,
            status=status, added_at=now,
            data={
                "claims": checked.claims,
                "disclosable": [list(p) for p in checked.disclosable],
                "elements": elements_json,
                "languages": list(languages),
                "search_text": text,
                "portfolio_items": items,
                "holder_jwk": _public(checked.holder_jwk, "holder"),
                # the issuer's public key as established now: presentations and share links
                # re-verify the stored credential offline with it (no network at present time)
                "issuer_jwk": _public(checked.issuer_jwk, "issuer"),
                "status_ref": None if checked.status is None else {
                    "kind": checked.status.kind, "uri": checked.status.uri,
                    "index": checked.status.index, "purpose": checked.status.purpose},
                "status_refs": [{"kind": r.kind, "uri": r.uri, "index": r.index,
                                 "purpose": r.purpose} for r in self.status_refs(checked)],
                "source": source,
                "verification": verification,
                # OpenID4VP trusted_authorities "aki": the AKIs of the carried certificates its
                # verified signature chains through; always a list (docs/presenting.md)
                "authority_key_ids": checked.authority_key_ids(),
            })
        return IntakeResult(checked, status, trusted, stored)


def _public(jwk: dict[str, Any] | None, whose: str) -> PublicJwk | None:
    """A key the format module established, as a record keeps it (members as received); a key
    with a private member, or a member of the wrong type, is refused (RFC 7517 §4)."""
    try:
        return None if jwk is None else as_public_jwk(jwk)
    except BadInput as exc:
        raise BadInput(f"the credential's {whose} key is not a public JWK") from exc
