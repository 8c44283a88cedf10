"""SD-JWT-based Verifiable Credentials (SD-JWT VC), draft-ietf-oauth-sd-jwt-vc-18, holder side.

https://datatracker.ietf.org/doc/draft-ietf-oauth-sd-jwt-vc/18/

On top of RFC 9901 (:mod:`wallet.formats.sd_jwt`): ``typ`` ``dc+sd-jwt`` (§3.2.1; the legacy
``vc+sd-jwt`` only behind ``accept_legacy_typ``), ``vct`` and ``iss`` required (§3.2.2), the claims
that "MUST NOT be selectively disclosed" (``iss``, ``nbf``, ``exp``, ``cnf``, ``vct``,
``vct#integrity``, ``status``) rejected when they arrive in a Disclosure, ``cnf.jwk`` holder binding
(RFC 7800), ``status.status_list`` (Token Status List) as a :class:`StatusReference`.

Issuer key (§3.5, §4): a *configured* policy decides, never the credential. ``x5c`` is used only
when trust anchors are configured, and then the chain must validate to one of them at the validation
time and the leaf must name ``iss`` (§3.5: a ``dns:`` ``iss`` in a dNSName SAN; otherwise ``iss`` in
a URI SAN — for an https ``iss`` we also accept its host as a dNSName SAN, as HAIP profiles it).
Otherwise an https ``iss`` is looked up in JWT VC Issuer Metadata (§4): ``GET
https://host/.well-known/jwt-vc-issuer/<path>``, ``issuer`` equal to ``iss`` exactly, ``jwks`` or
``jwks_uri`` (never both), key by ``kid``. ``jwk``/``jku``/``x5u`` headers are never used.

Split in two: :meth:`JwtVcIssuerKeyResolver.resolve` (async, fetches through a
:class:`~wallet.ports.Fetcher`) and :func:`verify_sd_jwt_vc` (sync, pure);
:func:`check_sd_jwt_vc` runs both and returns a :class:`CheckedCredential`.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, Required, TypedDict, Unpack
from urllib.parse import urlsplit

from cryptography import x509 as cx509

from wallet.errors import BadInput
from wallet.formats.model import (
    CheckedCredential,
    CredentialFormat,
    SignerChain,
    StatusReference,
)
from wallet.formats.sd_jwt import (
    DEFAULT_ALGS,
    DEFAULT_CLOCK_SKEW,
    DisclosedProtectedClaim,
    InvalidSdJwtVc,
    IssuerKeyNotFound,
    SdJwtVcTypRefused,
    UnverifiedSdJwt,
    VerifiedSdJwt,
    static_key,
    verify_sd_jwt,
)
from wallet.jose import PublicKey, public_jwk, public_key_from_jwk, public_key_from_jwk_cached
from wallet.ports import Fetcher
from wallet.x509 import (
    CertificateError,
    carried_chain,
    decode_x5c,
    leaf_names_issuer,
    leaf_public_key,
    validate_chain,
)

__all__ = [
    "LEGACY_TYP",
    "NEVER_DISCLOSABLE",
    "TITLE_CLAIMS",
    "TYP",
    "IssuerKeySource",
    "JwtVcIssuerKeyResolver",
    "ResolvedIssuerKey",
    "StaticIssuerKey",
    "VerifyOptions",
    "check_sd_jwt_vc",
    "checked_credential",
    "metadata_url",
    "verify_sd_jwt_vc",
]

TYP = "dc+sd-jwt"
LEGACY_TYP = "vc+sd-jwt"
#: "MUST NOT be selectively disclosed" (draft-18 §3.2.2.1, §3.2.2.2).
NEVER_DISCLOSABLE = frozenset({"iss", "nbf", "exp", "cnf", "vct", "vct#integrity", "status"})
#: Claims tried, in order, for a human title (micro-credentials first).
TITLE_CLAIMS = ("achievement_title", "title", "name", "achievement_name")
WELL_KNOWN = "/.well-known/jwt-vc-issuer"
_JWKS_TYPES = ("application/json", "application/jwk-set+json")
_PRIVATE_JWK_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})


@dataclass(frozen=True, slots=True)
class ResolvedIssuerKey:
    """The issuer key a policy established, and how (for the trust list and the UI)."""

    key: PublicKey
    source: str  # "jwt_vc_issuer_metadata", "x5c", "configured"
    jwk: dict[str, Any] | None = None
    cert_der: bytes | None = None


class IssuerKeySource(Protocol):
    """Finds the key for an (unverified) SD-JWT VC, or raises a ``SatchelError``."""

    async def resolve(self, unverified: UnverifiedSdJwt, *, at: datetime) -> ResolvedIssuerKey: ...


@dataclass(frozen=True, slots=True)
class StaticIssuerKey:
    """A key the caller already trusts (tests, pinned issuers)."""

    key: PublicKey

    async def resolve(self, unverified: UnverifiedSdJwt, *, at: datetime) -> ResolvedIssuerKey:
        return ResolvedIssuerKey(self.key, "configured", public_jwk(self.key))


def metadata_url(iss: str) -> str:
    """``https://host/.well-known/jwt-vc-issuer/<path>`` for an https ``iss`` (draft-18 §4.1)."""
    try:
        parts = urlsplit(iss)
        host = parts.netloc
    except ValueError as exc:
        raise IssuerKeyNotFound("iss is not a URL") from exc
    if (parts.scheme != "https" or not parts.hostname or parts.query or parts.fragment
            or "@" in host):
        raise IssuerKeyNotFound("iss is not an https URL usable for issuer metadata")
    return f"https://{host}{WELL_KNOWN}{parts.path.rstrip('/')}"


def _iss(unverified: UnverifiedSdJwt) -> str:
    iss = unverified.unverified_claims().get("iss")
    if not isinstance(iss, str) or not iss:
        raise InvalidSdJwtVc("iss is required")
    return iss


class JwtVcIssuerKeyResolver:
    """Issuer key discovery: ``x5c`` to configured anchors, else JWT VC Issuer Metadata."""

    def __init__(self, fetcher: Fetcher, x5c_anchors: Sequence[cx509.Certificate] = ()) -> None:
        self._fetcher = fetcher
        self._anchors = list(x5c_anchors)

    async def resolve(self, unverified: UnverifiedSdJwt, *, at: datetime) -> ResolvedIssuerKey:
        return await self.resolve_for(_iss(unverified), unverified.header, at=at)

    async def resolve_for(self, iss: str, header: Mapping[str, Any], *,
                          at: datetime) -> ResolvedIssuerKey:
        """The same discovery for any JWT an https issuer signed (e.g. its Status List Tokens)."""
        if "x5c" in header and self._anchors:
            return self._from_x5c(iss, header["x5c"], at)
        if iss.startswith("https://"):
            return await self._from_metadata(iss, header)
        raise IssuerKeyNotFound("no configured way to establish this issuer's key")

    def _from_x5c(self, iss: str, x5c: object, at: datetime) -> ResolvedIssuerKey:
        try:
            chain = decode_x5c(x5c)
            leaf = validate_chain(chain, self._anchors, at=at)
            key = leaf_public_key(leaf)
        except CertificateError as exc:
            raise IssuerKeyNotFound(f"x5c: {exc.detail}", code=exc.code) from exc
        if not leaf_names_issuer(leaf, iss):
            raise IssuerKeyNotFound("the x5c leaf certificate does not name the issuer")
        return ResolvedIssuerKey(key, "x5c", public_jwk(key), chain[0])

    async def _get_json(self, url: str, accept: Sequence[str]) -> Any:
        resp = await self._fetcher.get(url, accept=accept)
        if resp.status != 200:
            raise IssuerKeyNotFound("issuer metadata could not be fetched")
        return resp.json()

    async def _from_metadata(self, iss: str, header: Mapping[str, Any]) -> ResolvedIssuerKey:
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise IssuerKeyNotFound("the credential names no kid to look up in issuer metadata")
        meta = await self._get_json(metadata_url(iss), ("application/json",))
        if not isinstance(meta, dict) or meta.get("issuer") != iss:
            raise IssuerKeyNotFound("issuer metadata does not belong to this iss")
        if ("jwks" in meta) == ("jwks_uri" in meta):
            raise IssuerKeyNotFound("issuer metadata must have exactly one of jwks, jwks_uri")
        jwks = meta.get("jwks")
        if "jwks_uri" in meta:
            uri = meta["jwks_uri"]
            if not isinstance(uri, str) or not uri.startswith("https://"):
                raise IssuerKeyNotFound("jwks_uri must be an https URL")
            jwks = await self._get_json(uri, _JWKS_TYPES)
        keys = jwks.get("keys") if isinstance(jwks, dict) else None
        if not isinstance(keys, list):
            raise IssuerKeyNotFound("issuer metadata has no JWK Set")
        found = [k for k in keys if isinstance(k, dict) and k.get("kid") == kid
                 and k.get("use", "sig") == "sig"]
        if len(found) != 1:
            raise IssuerKeyNotFound("no single key in the issuer's JWK Set has this kid")
        try:
            key = public_key_from_jwk(found[0])
        except BadInput as exc:
            raise IssuerKeyNotFound("the issuer's key is not usable") from exc
        public = {k: v for k, v in found[0].items() if k not in _PRIVATE_JWK_MEMBERS}
        return ResolvedIssuerKey(key, "jwt_vc_issuer_metadata", public)


def _usable_jwk(jwk: Any) -> bool:
    """``jwk`` is a public key Satchel can use (point on curve ...); the key objects are cached
    (:func:`wallet.jose.public_key_from_jwk_cached`): a wallet holds few holder keys and building
    one costs as much as the rest of the verification."""
    if not isinstance(jwk, dict):
        return False
    try:
        public_key_from_jwk_cached(jwk)
    except BadInput:
        return False
    return True


def _disclosed_protected(verified: VerifiedSdJwt) -> None:
    # Every Disclosure's path starts at the top-level claim it lies in: one whose path starts with
    # a never-disclosable name either is that claim or hides part of it (``cnf: {"_sd": [...]}``
    # would show a verifier ``cnf: {}``, no holder binding; ``status: {}``, no revocation check).
    if any(d.path[0] in NEVER_DISCLOSABLE for d in verified.disclosures):
        raise DisclosedProtectedClaim("a claim that must not be disclosable is in a disclosure")


def _status(claims: Mapping[str, Any]) -> StatusReference | None:
    status = claims.get("status")
    if status is None:
        return None
    if not isinstance(status, dict):
        raise InvalidSdJwtVc("status must be an object")
    ref = status.get("status_list")
    if ref is None:
        return None  # another status mechanism: not ours to judge
    idx, uri = (ref.get("idx"), ref.get("uri")) if isinstance(ref, dict) else (None, None)
    if type(idx) is not int or idx < 0 or not isinstance(uri, str) or not uri:
        raise InvalidSdJwtVc("status.status_list needs a non-negative idx and a uri")
    return StatusReference("token_status_list", uri, idx)


def _accepted_typ(unverified: UnverifiedSdJwt, accept_legacy_typ: bool) -> set[str]:
    """The ``typ`` values accepted; :class:`InvalidSdJwtVc` when the header has none of them."""
    typs = {TYP, LEGACY_TYP} if accept_legacy_typ else {TYP}
    typ = unverified.header.get("typ")
    if not isinstance(typ, str) or typ not in typs:
        raise SdJwtVcTypRefused("typ must be dc+sd-jwt")
    return typs


class VerifyOptions(TypedDict, total=False):
    """The keyword arguments of :func:`verify_sd_jwt_vc`, which :func:`check_sd_jwt_vc` passes
    on (``now`` is required; the others default as there)."""

    now: Required[datetime]
    clock_skew: timedelta
    accept_legacy_typ: bool
    allowed_algs: Collection[str]


def verify_sd_jwt_vc(
    unverified: UnverifiedSdJwt,
    issuer_key: ResolvedIssuerKey,
    *,
    now: datetime,
    clock_skew: timedelta = DEFAULT_CLOCK_SKEW,
    accept_legacy_typ: bool = False,
    allowed_algs: Collection[str] = DEFAULT_ALGS,
) -> VerifiedSdJwt:
    """RFC 9901 verification with ``issuer_key``, then the SD-JWT VC rules (sync, pure)."""
    typs = _accepted_typ(unverified, accept_legacy_typ)
    verified = verify_sd_jwt(unverified, issuer_key_resolver=static_key(issuer_key.key), now=now,
                             allowed_algs=allowed_algs, clock_skew=clock_skew, expected_typ=typs)
    _disclosed_protected(verified)
    claims = verified.claims
    if not isinstance(claims.get("vct"), str) or not claims["vct"]:
        raise InvalidSdJwtVc("vct is required")
    if not isinstance(claims.get("iss"), str) or not claims["iss"]:
        raise InvalidSdJwtVc("iss is required")
    cnf = claims.get("cnf")
    if cnf is not None:
        if not isinstance(cnf, dict):
            raise InvalidSdJwtVc("cnf must be an object")
        if "jwk" in cnf and not _usable_jwk(cnf["jwk"]):
            raise InvalidSdJwtVc("cnf.jwk is not a usable public key")
    _status(claims)
    return verified


def _date(value: Any) -> datetime | None:
    if type(value) in (int, float):
        try:
            return datetime.fromtimestamp(value, UTC)
        except (OverflowError, OSError, ValueError):
            return None
    return None


def checked_credential(verified: VerifiedSdJwt, issuer_key: ResolvedIssuerKey) -> CheckedCredential:
    """The format-independent view of a verified SD-JWT VC."""
    claims = verified.claims
    types = [claims["vct"]]
    aka = claims.get("aka_vcts")
    if isinstance(aka, list):
        types += [t for t in aka if isinstance(t, str) and t not in types]
    title = next((claims[c] for c in TITLE_CLAIMS if isinstance(claims.get(c), str)), None)
    fmt: CredentialFormat = (
        "vc+sd-jwt" if verified.header.get("typ") == LEGACY_TYP else "dc+sd-jwt")
    problems: tuple[str, ...] = ()
    if verified.holder_jwk is None:
        problems = ("holder_key_missing",)  # no cnf.jwk: not bound to a holder key
    return CheckedCredential(
        format=fmt,
        raw=verified.unverified.serialized,
        issuer=claims["iss"],
        types=tuple(types),
        claims=claims,
        signature="valid",
        disclosable=verified.paths,
        title=title,
        issued_at=_date(claims.get("iat")),
        valid_from=_date(claims.get("nbf")),
        expires_at=_date(claims.get("exp")),
        holder_jwk=verified.holder_jwk,
        status=_status(claims),
        key_source=issuer_key.source,
        issuer_jwk=issuer_key.jwk,
        issuer_cert_der=issuer_key.cert_der,
        signer_chains=(SignerChain(issuer_key.jwk, carried_chain(verified.header)),),
        problems=problems,
    )


async def check_sd_jwt_vc(raw: str, *, resolver: IssuerKeySource,
                          **options: Unpack[VerifyOptions]) -> CheckedCredential:
    """Parse an *issued* SD-JWT VC, establish the issuer key, verify (``options`` as for
    :func:`verify_sd_jwt_vc`), and describe it.

    Raises a :class:`~wallet.errors.SatchelError` subclass for every failure (fail closed).
    """
    unverified = UnverifiedSdJwt.parse(raw, reject_kb=True)
    _accepted_typ(unverified, options.get("accept_legacy_typ", False))  # before any fetch
    key = await resolver.resolve(unverified, at=options["now"])
    return checked_credential(verify_sd_jwt_vc(unverified, key, **options), key)
