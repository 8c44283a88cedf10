"""One presentation from one stored credential: SD-JWT + KB-JWT (RFC 9901 §4.3, §7.2), a
JWT VP for ``jwt_vc_json`` and ``ldp_vc`` (W3C VCDM 1.1 §6.3.1 "JWT and JWS Considerations",
OpenID4VP 1.0 Appendix B.1.3.1), or a Data Integrity VP for ``ldp_vc`` (OpenID4VP 1.0 Appendix
B.1.3.2: ``challenge`` = the request nonce, ``domain`` = the verifier's full client_id;
vc-di-eddsa ``eddsa-rdfc-2022``).

https://www.rfc-editor.org/rfc/rfc9901#section-7.2 ·
https://www.w3.org/TR/vc-data-model/#jwt-encoding ·
https://openid.net/specs/openid-4-verifiable-presentations-1_0.html#name-w3c-verifiable-credentials

Why a module of its own: presentation requests and share links both turn a vault record into a
presentation, and both must reveal exactly the chosen disclosures and bind them to one audience
and one nonce. The stored SD-JWT is re-verified *offline* with the issuer key kept at intake
(``data["issuer_jwk"]``), so a tampered or expired record never goes out; records from before that
key was kept are re-processed (digests and disclosures checked) without the signature, which was
verified on intake and is protected since by the vault's AEAD. The holder key is the vault key
whose RFC 7638 thumbprint is the credential's ``cnf.jwk`` thumbprint.
Pure: no I/O.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives.asymmetric import ed25519

from sharing.errors import PresentationNotSupported, StoredCredentialUnusable
from wallet.errors import PayloadTooLarge, SatchelError
from wallet.formats.jsonld.canon import CanonicalizationFailed, CanonLimits
from wallet.formats.jsonld.di_signing import DataIntegrityNotSignable, sign_data_integrity
from wallet.formats.jsonld.loader import UnknownContext
from wallet.formats.model import ClaimPath
from wallet.formats.sd_jwt import (
    UnverifiedSdJwt,
    VerifiedSdJwt,
    build_presentation,
    check_time_claims,
    process_payload,
)
from wallet.formats.sd_jwt_vc import ResolvedIssuerKey, verify_sd_jwt_vc
from wallet.formats.traits import SD_JWT_FORMATS, TRAITS, W3C_FORMATS, traits_of
from wallet.jose import jwk_thumbprint, public_key_from_jwk, sign_compact
from wallet.jsontext import parse_json_object

if TYPE_CHECKING:  # annotations only: this module stays pure (no storage import)
    from wallet.crypto import HolderKey
    from wallet.vault import StoredCredential

__all__ = [
    "SD_JWT",
    "W3C_VP",
    "StoredCredentialUnusable",
    "holder_kid",
    "jwt_vp",
    "ldp_vp",
    "ldp_vp_context",
    "reverify_sd_jwt",
    "sd_jwt_presentation",
]

SD_JWT = SD_JWT_FORMATS
#: W3C formats a JWT VP carries (whole: they cannot disclose selectively): those DCQL matches.
W3C_VP = W3C_FORMATS
_VP_TTL = 300
_VCDM2 = "https://www.w3.org/ns/credentials/v2"
#: The VP embeds the credential in a named graph; its nodes then relate through the graph name,
#: which the verifier's n! accounting would refuse for a rich credential (OB 3.0 complete.json).
_VP_LIMITS = CanonLimits(count_arrangements=True)


def holder_kid(stored: StoredCredential) -> str | None:
    """The kid (RFC 7638 thumbprint) of the holder key the credential is bound to, if any."""
    jwk = stored.data.get("holder_jwk")
    if not isinstance(jwk, dict):
        return None
    try:
        return jwk_thumbprint(jwk)
    except SatchelError as exc:
        raise StoredCredentialUnusable("the credential's holder key cannot be read") from exc


def reverify_sd_jwt(stored: StoredCredential, *, now: datetime) -> VerifiedSdJwt:
    """The stored SD-JWT, verified again offline (see the module docstring)."""
    if stored.format not in SD_JWT:
        raise PresentationNotSupported("not an SD-JWT credential")
    try:
        unverified = UnverifiedSdJwt.parse(stored.raw, reject_kb=True)
        jwk = stored.data.get("issuer_jwk")
        if isinstance(jwk, dict):
            key = ResolvedIssuerKey(public_key_from_jwk(jwk), "stored", dict(jwk))
            return verify_sd_jwt_vc(unverified, key, now=now,
                                    accept_legacy_typ=TRAITS[stored.format].legacy_typ)
        payload = unverified.unverified_claims()
        claims, hash_alg, found = process_payload(payload, unverified.disclosures)
        check_time_claims(claims, now=now)
        return VerifiedSdJwt(unverified, unverified.header, payload, claims, hash_alg, found)
    except SatchelError as exc:
        raise StoredCredentialUnusable("the stored credential no longer verifies "
                                       "(expired or altered)") from exc


def sd_jwt_presentation(stored: StoredCredential, paths: Iterable[ClaimPath], *,
                        holder_key: HolderKey | None, aud: str, nonce: str,
                        now: datetime, exact: bool = False) -> tuple[str, VerifiedSdJwt]:
    """``<JWT>~<only the chosen disclosures>~<KB-JWT>`` (no KB-JWT without ``holder_key``).

    ``exact``: ``paths`` are the Disclosure paths a DCQL match computed — send those (and their
    parents) and nothing beneath them, so a verifier never gets a sibling it did not ask for.
    """
    verified = reverify_sd_jwt(stored, now=now)
    if holder_key is None and verified.holder_jwk is not None:
        raise PresentationNotSupported("a holder-bound credential needs its holder key")
    presentation = build_presentation(
        verified, list(paths), holder_key=holder_key.private_key if holder_key else None,
        aud=aud, nonce=nonce, iat=int(now.timestamp()),
        alg=holder_key.alg if holder_key else None, exact=exact)
    return presentation, verified


def _embedded(c: StoredCredential) -> str | dict[str, Any]:
    """A credential as a VP carries it: a VC-JWT as the issued string; a JSON-LD credential as
    the JSON object of its stored text (VCDM 1.1 §4.10: an embedded-proof credential is an
    object; JAdES-sealed EDCs are their JWS JSON object, whose ``payload`` string is untouched)."""
    if TRAITS[c.format].embedded == "compact":
        return c.raw
    return parse_json_object(
        c.raw, StoredCredentialUnusable("the stored credential is not a JSON object"))


def jwt_vp(credentials: Sequence[StoredCredential], *, holder_key: HolderKey, aud: str,
           nonce: str, now: datetime, lifetime: int = _VP_TTL) -> str:
    """A JWT VP (VCDM 1.1 §6.3.1) carrying the credentials as issued, signed by the holder key:
    ``iss`` the holder DID, ``aud`` the verifier's full client_id (or a share link's URL),
    ``nonce`` from the request; valid ``lifetime`` seconds (a share link's VP lives as long as
    the link)."""
    if not credentials or any(c.format not in W3C_VP for c in credentials):
        raise PresentationNotSupported("a JWT VP carries jwt_vc_json and ldp_vc credentials only")
    iat = int(now.timestamp())
    vp: dict[str, Any] = {
        "@context": ["https://www.w3.org/2018/credentials/v1"],
        "type": ["VerifiablePresentation"],
        "holder": holder_key.did,
        "verifiableCredential": [_embedded(c) for c in credentials],
    }
    claims = {"iss": holder_key.did, "aud": aud, "nonce": nonce, "iat": iat, "nbf": iat,
              "exp": iat + lifetime, "jti": f"urn:uuid:{uuid.uuid4()}", "vp": vp}
    header = {"alg": holder_key.alg, "typ": "JWT", "kid": holder_key.did_url}
    return sign_compact(header, claims, holder_key.private_key)


def ldp_vp_context(stored: StoredCredential) -> list[str] | None:
    """The ``@context`` of a Data Integrity VP that can carry this credential, or None.

    A VP's context must agree with the credential's VCDM version: JSON-LD refuses to redefine the
    protected terms of one VCDM context inside the other. A VCDM 2.0 credential goes in a VCDM
    2.0 VP. A VCDM 1.1 credential would need the ``https://w3id.org/security/data-integrity/v2``
    context, which is not bundled (contexts are never fetched). A JAdES-sealed EDC is a JWS JSON
    object, not JSON-LD: the 2.0 context resets the context of ``verifiableCredential``
    (``"@context": null``), so its members would be dropped and the holder's proof would not
    cover them. Neither has a Data Integrity VP (README "Known limits").
    """
    row = traits_of(stored.format)
    if row is None or row.openid4vp != "ldp_vp":
        return None
    try:
        embedded = _embedded(stored)
    except StoredCredentialUnusable:
        return None
    ctx = embedded.get("@context") if isinstance(embedded, dict) else None
    first = ctx[0] if isinstance(ctx, list) and ctx else ctx
    return [_VCDM2] if first == _VCDM2 else None


def ldp_vp(stored: StoredCredential, *, holder_key: HolderKey, client_id: str, nonce: str,
           now: datetime) -> dict[str, Any]:
    """A W3C VP secured with Data Integrity ``eddsa-rdfc-2022`` (OpenID4VP 1.0 B.1.3.2) carrying
    the credential exactly as stored: signed by the learner's EdDSA holder key (its DID URL the
    ``verificationMethod``), ``proofPurpose: authentication``, ``challenge`` = ``nonce``,
    ``domain`` = the verifier's full ``client_id``.

    CPU-bound (canonicalization of the whole VP): run it off the event loop.
    """
    context = ldp_vp_context(stored)
    if context is None:
        raise PresentationNotSupported("this credential cannot be carried in a Data Integrity "
                                       "presentation (only VCDM 2.0 credentials with an "
                                       "embedded proof can)")
    if holder_key.alg != "EdDSA" or not isinstance(holder_key.private_key,
                                                   ed25519.Ed25519PrivateKey):
        raise PresentationNotSupported("an ldp_vc presentation is signed with an EdDSA holder key")
    vp = {"@context": context, "type": ["VerifiablePresentation"], "holder": holder_key.did,
          "verifiableCredential": [_embedded(stored)]}
    try:
        return sign_data_integrity(vp, key=holder_key.private_key,
                                   verification_method=holder_key.did_url,
                                   proof_purpose="authentication", created=now,
                                   challenge=nonce, domain=client_id, limits=_VP_LIMITS)
    except (DataIntegrityNotSignable, UnknownContext, CanonicalizationFailed,
            PayloadTooLarge) as exc:
        raise PresentationNotSupported("this credential cannot be carried in a Data Integrity "
                                       "presentation") from exc
