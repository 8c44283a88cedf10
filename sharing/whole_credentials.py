"""Share links for W3C credentials — ``jwt_vc_json`` (VC-JWT, Open Badges 3.0 JWT) and ``ldp_vc``
(EDC sealed with JAdES, Open Badges 3.0 / CLR 2.0 with Data Integrity) — which are shared whole.

Specs: VCDM 1.1 §6.3.1 (JWT VP: ``iss`` the holder, ``aud``, ``nonce``, ``vp``; an embedded-proof
credential is an object in ``verifiableCredential``), https://www.w3.org/TR/vc-data-model/#jwt-encoding;
RFC 7519 §4.1 (``iat``/``nbf``/``exp``); did:jwk / did:key (the holder key resolves offline);
DESIGN.md §4 "Share by link".

Why "whole": neither format can disclose selectively (the issuer signed the whole document), so a
link either shares every claim or nothing. To never share more than the learner chose, a link is
accepted only when the learner chose the credential's root — ``claims: [[]]``, the empty path —
and never inferred from an empty or partial choice (:func:`require_whole`).

What is served and how a view checks it, *offline* (the public route never fetches):

- the presentation: a JWT VP signed by the learner's holder key (:mod:`sharing.signing_keys`),
  ``aud`` = the link URL, a fresh ``nonce``, valid as long as the link; plus the credential's
  original text (``raw``), since a JAdES seal is verified over those exact bytes;
- ``key_binding``: the VP's signature with its ``did:jwk``/``did:key`` holder key, ``aud``,
  ``nonce`` and lifetime, and — when the credential names a holder key — that it is that key;
- ``signature``: the credential inside the VP checked again now where that needs no network
  (Data Integrity with ``did:key`` or a multibase key, JAdES with its ``x5c``, VC-JWT with the
  issuer key established at intake); otherwise the result at import, and ``signature_checked``
  says which (``now`` | ``at_import``); ``validity`` its time window as of now;
- ``claims``: the credential document as ``GET /v1/credentials/{id}`` shows it, without ``cnf``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sharing.errors import WholeCredentialOnly
from sharing.presentations import W3C_VP, StoredCredentialUnusable
from wallet.dids import did_of, resolve_key_offline
from wallet.errors import SatchelError
from wallet.formats.jsonld import check_jsonld
from wallet.formats.model import CheckedCredential, ClaimPath
from wallet.formats.vc_jwt import check_vc_jwt
from wallet.jose import ASYMMETRIC_ALGS, jwk_thumbprint, parse_compact, verify_compact

__all__ = ["WHOLE", "WholeCheck", "check_stored", "check_view", "require_whole"]

#: Formats a share link carries whole.
WHOLE = W3C_VP
_SKEW = timedelta(seconds=60)
_HOLDER_DIDS = ("did:jwk:", "did:key:")


def require_whole(paths: Sequence[ClaimPath]) -> None:
    """The only choice a whole-credential link takes: exactly ``[[]]`` (the credential's root)."""
    if list(paths) != [()]:
        raise WholeCredentialOnly(
            "this credential format cannot disclose claims selectively, so it is shared whole: "
            "send claims [[]] (the empty path, the credential's root) to share all of it")


async def _offline(fmt: str, raw: str, issuer_jwk: Mapping[str, Any] | None,
                   now: datetime) -> CheckedCredential:
    """The format's own checker, with no fetcher: nothing here can reach the network."""
    if fmt == "jwt_vc_json":
        jwks = None
        if isinstance(issuer_jwk, Mapping):
            kid = parse_compact(raw.strip()).header.get("kid")
            # the kid the issuer's key was found by at intake (a JWKS member needs it again)
            jwks = {"keys": [{**issuer_jwk, **({"kid": kid} if isinstance(kid, str) else {})}]}
        return await check_vc_jwt(raw, now=now, fetcher=None, issuer_jwks=jwks)
    return await check_jsonld(raw, now=now, fetcher=None)


def _validity(checked: CheckedCredential) -> str:
    for problem in ("expired", "not_yet_valid"):
        if problem in checked.problems:
            return problem
    return "valid"


async def check_stored(fmt: str, raw: str, issuer_jwk: Mapping[str, Any] | None,
                       now: datetime) -> None:
    """Refuse to share a stored credential that no longer verifies or is out of its validity
    window (checked offline, as the view will check it)."""
    try:
        checked = await _offline(fmt, raw, issuer_jwk, now)
    except SatchelError as exc:
        raise StoredCredentialUnusable("the stored credential no longer verifies") from exc
    if checked.signature == "invalid" or _validity(checked) != "valid":
        raise StoredCredentialUnusable("the stored credential no longer verifies "
                                       "(expired, not yet valid or altered)")


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _vp_credential(presentation: str, *, aud: str, nonce: str, holder_jwk: Any,
                   now: datetime, max_age: timedelta) -> tuple[bool, Any]:
    """Verify the JWT VP as a verifier would; (binding valid?, the one credential it carries)."""
    parts = parse_compact(presentation)
    claims = parts.claims()
    vp = claims.get("vp")
    carried = vp.get("verifiableCredential") if isinstance(vp, dict) else None
    credential = carried[0] if isinstance(carried, list) and len(carried) == 1 else None
    kid = parts.header.get("kid")
    if not isinstance(vp, dict) or not isinstance(kid, str) or not kid.startswith(_HOLDER_DIDS) \
            or claims.get("iss") != did_of(kid) or vp.get("holder") != did_of(kid):
        return False, credential
    resolved = resolve_key_offline(kid)
    verify_compact(parts, lambda _h: resolved.key, allowed_algs=ASYMMETRIC_ALGS)
    if isinstance(holder_jwk, dict) and jwk_thumbprint(holder_jwk) != jwk_thumbprint(resolved.jwk):
        return False, credential  # signed by a key other than the one the credential names
    if type(claims.get("aud")) is not str or claims["aud"] != aud \
            or type(claims.get("nonce")) is not str or claims["nonce"] != nonce:
        return False, credential
    iat, exp = _number(claims.get("iat")), _number(claims.get("exp"))
    if iat is None or exp is None:
        return False, credential
    ts, skew = now.timestamp(), _SKEW.total_seconds()
    fresh = ts - max_age.total_seconds() - skew <= iat <= ts + skew and ts < exp + skew
    return fresh, credential


class WholeCheck:
    """What a view of a whole-credential link shows: its check and its claims."""

    def __init__(self, verified: dict[str, Any], claims: dict[str, Any]) -> None:
        self.verified, self.claims = verified, claims


async def check_view(payload: Mapping[str, Any], *, now: datetime,
                     max_age: timedelta) -> WholeCheck:
    """Check what a view serves (see the module docstring). Never raises for bad content."""
    cred = payload["credential"]
    fmt, raw = cred["format"], payload["raw"]
    out: dict[str, Any] = {"signature": "invalid", "signature_checked": "now",
                           "key_binding": "invalid", "validity": "unknown",
                           "holder_bound": isinstance(payload.get("holder_jwk"), dict),
                           "issuer_trusted": cred.get("issuer_trusted"),
                           "whole_credential": True}
    try:
        bound, carried = _vp_credential(payload["presentation"], aud=payload["aud"],
                                        nonce=payload["nonce"],
                                        holder_jwk=payload.get("holder_jwk"), now=now,
                                        max_age=max_age)
        out["key_binding"] = "valid" if bound else "invalid"
    except SatchelError:
        carried = None
    try:
        # the credential in the VP must be the original, byte for byte (as text, or as the JSON
        # object of that text): the check below runs on those original bytes
        same = carried == raw if fmt == "jwt_vc_json" else carried == json.loads(raw)
        checked = await _offline(fmt, raw, payload.get("issuer_jwk"), now)
    except (SatchelError, ValueError, RecursionError):
        return WholeCheck(out, {})
    out["validity"] = _validity(checked)
    if not same:
        out["signature"] = "invalid"
    elif checked.signature in ("valid", "invalid"):
        out["signature"] = checked.signature
    else:  # no key reachable offline: what intake found, and say so
        out["signature"], out["signature_checked"] = cred.get("signature_at_import"), "at_import"
    claims = dict(checked.claims)
    claims.pop("cnf", None)  # holder binding internals, not claims about the learner
    return WholeCheck(out, claims)
