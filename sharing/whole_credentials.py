"""Share links for W3C credentials — ``jwt_vc_json`` (VC-JWT, Open Badges 3.0 JWT) and ``ldp_vc``
(EDC sealed with JAdES, Open Badges 3.0 / CLR 2.0 with Data Integrity) — which are shared whole.

Specs: VCDM 1.1 §6.3.1 (JWT VP: ``iss`` the holder, ``aud``, ``nonce``, ``vp``; an embedded-proof
credential is an object in ``verifiableCredential``), https://www.w3.org/TR/vc-data-model/#jwt-encoding;
RFC 7519 §4.1 (``iat``/``nbf``/``exp``); did:jwk / did:key (the holder key resolves offline);
docs/presenting.md "Share links".

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
  (Data Integrity with ``did:key`` or a multibase key, JAdES with its ``x5c``, VC-JWT with a
  ``did:key``/``did:jwk`` or its header ``jwk``, or with the key the issuer published, kept at
  intake); otherwise the result at import, and ``signature_checked`` says which (``now`` |
  ``at_import``); ``validity`` its time window as of now;
- whose key that was (:mod:`sharing.issuer_keys`): ``key_source``, ``issuer_key`` and
  ``problems`` — re-derived by the check now, else as intake recorded them in the link (with the
  import's other findings, e.g. about status) — and ``issuer_confirmed``: a valid signature by the
  issuer's own key, or by one the trust list vouches for (``issuer_trusted``). A key the
  credential supplied itself (a VC-JWT header ``jwk``) is never passed back in as if the issuer
  had published it: that would hide ``issuer_key_self_asserted``;
- ``claims``: the credential document as ``GET /v1/credentials/{id}`` shows it, without ``cnf``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, assert_never

from sharing.errors import WholeCredentialOnly
from sharing.issuer_keys import issuer_confirmed, issuer_key
from sharing.presentations import StoredCredentialUnusable
from sharing.verdict import WholeCredentialCheck
from wallet.dids import did_of, resolve_key_offline
from wallet.errors import SatchelError, UnsupportedFormat
from wallet.formats.jsonld import check_jsonld
from wallet.formats.model import ISSUER_KEY_SELF_ASSERTED, CheckedCredential, ClaimPath
from wallet.formats.traits import traits_of
from wallet.formats.vc_jwt import check_vc_jwt
from wallet.jose import ASYMMETRIC_ALGS, jwk_thumbprint, parse_compact, verify_compact
from wallet.numbers import finite_number

__all__ = ["WholeCheck", "check_stored", "check_view", "require_whole"]

_SKEW = timedelta(seconds=60)
_HOLDER_DIDS = ("did:jwk:", "did:key:")


def require_whole(paths: Sequence[ClaimPath]) -> None:
    """The only choice a whole-credential link takes: exactly ``[[]]`` (the credential's root)."""
    if list(paths) != [()]:
        raise WholeCredentialOnly(
            "this credential format cannot disclose claims selectively, so it is shared whole: "
            "send claims [[]] (the empty path, the credential's root) to share all of it")


#: Key sources whose key the issuer published (not the credential): only such a kept key may be
#: handed back to the VC-JWT check as the issuer's (``issuer_jwks``). Any other kept key is
#: re-derived from the credential itself, or left to the import result.
_PUBLISHED = frozenset({"issuer_jwks", "jwt_vc_issuer_metadata"})
#: Problems the view re-derives from the clock, whatever intake found.
_TIME = ("expired", "not_yet_valid")


async def _offline(fmt: str, raw: str, issuer_jwk: Mapping[str, Any] | None,
                   key_source: str | None, now: datetime) -> CheckedCredential:
    """The format's own checker, with no fetcher: nothing here can reach the network.

    ``issuer_jwk``/``key_source``: the issuer key intake established and how. A key from the
    credential's own header is *not* passed in: the checker finds it there again and says so.
    """
    row = traits_of(fmt)
    if row is None:  # a record of a format this version does not know
        raise UnsupportedFormat("a credential format this version does not check")
    checker = row.checker  # the format's row says which
    if checker == "vc_jwt":
        jwks = None
        if isinstance(issuer_jwk, Mapping) and key_source in _PUBLISHED:
            kid = parse_compact(raw.strip()).header.get("kid")
            # the kid the issuer's key was found by at intake (a JWKS member needs it again)
            jwks = {"keys": [{**issuer_jwk, **({"kid": kid} if isinstance(kid, str) else {})}]}
        return await check_vc_jwt(raw, now=now, fetcher=None, issuer_jwks=jwks)
    if checker == "jsonld":
        return await check_jsonld(raw, now=now, fetcher=None)
    if checker == "sd_jwt_vc" or checker == "pdf":  # shared selectively, or as the file
        raise UnsupportedFormat("not a credential shared whole")
    assert_never(checker)


def _validity(checked: CheckedCredential) -> str:
    for problem in ("expired", "not_yet_valid"):
        if problem in checked.problems:
            return problem
    return "valid"


async def check_stored(fmt: str, raw: str, issuer_jwk: Mapping[str, Any] | None,
                       now: datetime, *, key_source: str | None) -> None:
    """Refuse to share a stored credential that no longer verifies or is out of its validity
    window (checked offline, as the view will check it)."""
    try:
        checked = await _offline(fmt, raw, issuer_jwk, key_source, now)
    except SatchelError as exc:
        raise StoredCredentialUnusable("the stored credential no longer verifies") from exc
    if checked.signature == "invalid" or _validity(checked) != "valid":
        raise StoredCredentialUnusable("the stored credential no longer verifies "
                                       "(expired, not yet valid or altered)")


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
    iat, exp = finite_number(claims.get("iat")), finite_number(claims.get("exp"))
    if iat is None or exp is None:
        return False, credential
    ts, skew = now.timestamp(), _SKEW.total_seconds()
    fresh = ts - max_age.total_seconds() - skew <= iat <= ts + skew and ts < exp + skew
    return fresh, credential


@dataclass(frozen=True, slots=True)
class WholeCheck:
    """What a view of a whole-credential link shows: its check and its claims."""

    verified: WholeCredentialCheck
    claims: dict[str, Any]


def _imported(payload: Mapping[str, Any]) -> tuple[str | None, list[str]]:
    """What intake recorded about the issuer key, sealed into the link at creation. A link
    from before that has nothing: its key source is then unknown (fail closed)."""
    at_import = payload.get("at_import")
    if not isinstance(at_import, Mapping):
        return None, []
    source, problems = at_import.get("key_source"), at_import.get("problems")
    return (source if isinstance(source, str) else None,
            [p for p in problems if isinstance(p, str) and p not in _TIME]
            if isinstance(problems, list) else [])


def _verdict(facts: _Facts, issuer: str, key_source: str | None,
             problems: list[str], checked_at: str) -> WholeCredentialCheck:
    """The check, with whose key signed, the problems, and whether the named issuer is
    confirmed."""
    key = issuer_key(issuer, key_source, problems)
    if key == "self_asserted" and ISSUER_KEY_SELF_ASSERTED not in problems:
        problems = [*problems, ISSUER_KEY_SELF_ASSERTED]  # e.g. an EDC seal's own certificate
    return WholeCredentialCheck(
        signature=facts.signature, signature_checked=facts.signature_checked,
        key_binding=facts.key_binding, validity=facts.validity, holder_bound=facts.holder_bound,
        issuer_trusted=facts.issuer_trusted, key_source=key_source, issuer_key=key,
        problems=tuple(dict.fromkeys(problems)),
        issuer_confirmed=issuer_confirmed(facts.signature, key, facts.issuer_trusted),
        checked_at=checked_at)


@dataclass(slots=True)
class _Facts:
    """The checks as they are made, before whose key it was is known."""

    holder_bound: bool
    issuer_trusted: bool | None
    signature: str | None = "invalid"
    signature_checked: str = "now"
    key_binding: str = "invalid"
    validity: str = "unknown"


async def check_view(payload: Mapping[str, Any], *, now: datetime, max_age: timedelta,
                     checked_at: str) -> WholeCheck:
    """Check what a view serves (see the module docstring). Never raises for bad content."""
    cred = payload["credential"]
    fmt, raw = cred["format"], payload["raw"]
    source_at_import, problems_at_import = _imported(payload)
    trusted = cred.get("issuer_trusted")
    facts = _Facts(holder_bound=isinstance(payload.get("holder_jwk"), dict),
                   issuer_trusted=trusted if isinstance(trusted, bool) else None)
    issuer = cred.get("issuer") if isinstance(cred.get("issuer"), str) else ""
    try:
        bound, carried = _vp_credential(payload["presentation"], aud=payload["aud"],
                                        nonce=payload["nonce"],
                                        holder_jwk=payload.get("holder_jwk"), now=now,
                                        max_age=max_age)
        facts.key_binding = "valid" if bound else "invalid"
    except SatchelError:
        carried = None
    try:
        # the credential in the VP must be the original, byte for byte (as text, or as the JSON
        # object of that text): the check below runs on those original bytes
        compact = (row := traits_of(fmt)) is not None and row.embedded == "compact"
        same = carried == raw if compact else carried == json.loads(raw)
        checked = await _offline(fmt, raw, payload.get("issuer_jwk"), source_at_import, now)
    except (SatchelError, ValueError, RecursionError):
        return WholeCheck(_verdict(facts, issuer, source_at_import,
                                   [*problems_at_import, "credential_unreadable"], checked_at),
                          {})
    facts.validity = _validity(checked)
    key_source, problems = checked.key_source, [*checked.problems, *problems_at_import]
    if not same:
        problems.append("presented_credential_differs")
    elif checked.signature in ("valid", "invalid"):
        facts.signature = checked.signature
    else:  # no key reachable offline: what intake found, and say so
        at_import = cred.get("signature_at_import")
        facts.signature = at_import if isinstance(at_import, str) else None
        facts.signature_checked = "at_import"
        key_source = source_at_import  # the key lookup that failed here is no finding
        problems = [*problems_at_import, *(p for p in checked.problems if p in _TIME)]
    claims = dict(checked.claims)
    claims.pop("cnf", None)  # holder binding internals, not claims about the learner
    return WholeCheck(_verdict(facts, checked.issuer, key_source, problems, checked_at), claims)
