"""Credential Issuer metadata (OpenID4VCI 1.0 §12.2) and OAuth AS metadata (RFC 8414 §3).

https://openid.net/specs/openid-4-verifiable-credential-issuance-1_0.html#section-12.2
https://www.rfc-editor.org/rfc/rfc8414#section-3

Why this module is strict: the metadata decides where the wallet sends its access token and key
proofs. So (§12.2.2) it is fetched from ``/.well-known/openid-credential-issuer`` inserted between
host and path of the identifier, and its ``credential_issuer`` must equal that identifier by plain
string comparison; every endpoint must be https. AS metadata comes from RFC 8414's
``/.well-known/oauth-authorization-server`` (falling back to OpenID Connect Discovery's
``/.well-known/openid-configuration``) and its ``issuer`` must equal the AS identifier. Unknown
members are ignored. Parsed objects keep their raw JSON for persistence.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from wallet.errors import UpstreamError
from wallet.oid4vci._util import https_url, issuer_identifier, opt_str, opt_str_list
from wallet.oid4vci.errors import InvalidIssuerMetadata
from wallet.ports import Fetcher

__all__ = [
    "MAX_METADATA_BYTES",
    "WELL_KNOWN_AS",
    "WELL_KNOWN_ISSUER",
    "WELL_KNOWN_OIDC",
    "AuthServerMetadata",
    "CredentialConfiguration",
    "IssuerMetadata",
    "RequestEncryption",
    "ResponseEncryption",
    "fetch_as_metadata",
    "fetch_issuer_metadata",
    "parse_as_metadata",
    "parse_issuer_metadata",
    "well_known_url",
]

WELL_KNOWN_ISSUER = "/.well-known/openid-credential-issuer"
WELL_KNOWN_AS = "/.well-known/oauth-authorization-server"
WELL_KNOWN_OIDC = "/.well-known/openid-configuration"
MAX_METADATA_BYTES = 256 * 1024
MAX_CONFIGURATIONS = 256


def well_known_url(identifier: str, suffix: str) -> str:
    """RFC 8414 §3.1 / OID4VCI §12.2.2: insert ``suffix`` between host and path."""
    parts = urlsplit(identifier)
    path = parts.path.rstrip("/")
    return urlunsplit((parts.scheme, parts.netloc, suffix + path, "", ""))


@dataclass(frozen=True, slots=True)
class CredentialConfiguration:
    """One entry of ``credential_configurations_supported`` (§12.2.4)."""

    id: str
    format: str
    scope: str | None
    vct: str | None
    doctype: str | None
    credential_definition_types: tuple[str, ...]
    #: proof_types_supported.jwt.proof_signing_alg_values_supported
    proof_signing_algs: tuple[str, ...]
    proof_types: tuple[str, ...]
    binding_methods: tuple[str, ...]
    display_names: Mapping[str, str]  # locale ("" when absent) -> name

    def name(self, locale: str | None = None) -> str:
        """A display name: the locale's, else the first, else the configuration id."""
        if locale and locale in self.display_names:
            return self.display_names[locale]
        return next(iter(self.display_names.values()), self.id)

    @property
    def requires_proof(self) -> bool:
        return bool(self.proof_types)


@dataclass(frozen=True, slots=True)
class ResponseEncryption:
    """§12.2.4 ``credential_response_encryption``."""

    alg_values: tuple[str, ...]
    enc_values: tuple[str, ...]
    zip_values: tuple[str, ...]
    required: bool


@dataclass(frozen=True, slots=True)
class RequestEncryption:
    """§12.2.4 ``credential_request_encryption`` (the issuer's public keys, each with a kid)."""

    keys: tuple[Mapping[str, Any], ...]
    enc_values: tuple[str, ...]
    zip_values: tuple[str, ...]
    required: bool


@dataclass(frozen=True, slots=True)
class IssuerMetadata:
    credential_issuer: str
    authorization_servers: tuple[str, ...]
    credential_endpoint: str
    nonce_endpoint: str | None
    deferred_credential_endpoint: str | None
    notification_endpoint: str | None
    response_encryption: ResponseEncryption | None
    request_encryption: RequestEncryption | None
    batch_size: int | None
    display_names: Mapping[str, str]
    configurations: Mapping[str, CredentialConfiguration]
    raw: Mapping[str, Any] = field(repr=False, compare=False)

    def name(self, locale: str | None = None) -> str:
        if locale and locale in self.display_names:
            return self.display_names[locale]
        return next(iter(self.display_names.values()), self.credential_issuer)

    def to_json(self) -> dict[str, Any]:
        return dict(self.raw)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> IssuerMetadata:
        return parse_issuer_metadata(data, str(data.get("credential_issuer")))


@dataclass(frozen=True, slots=True)
class AuthServerMetadata:
    issuer: str
    token_endpoint: str
    authorization_endpoint: str | None
    pushed_authorization_request_endpoint: str | None
    require_pushed_authorization_requests: bool
    code_challenge_methods: tuple[str, ...]
    pre_authorized_grant_anonymous_access_supported: bool
    raw: Mapping[str, Any] = field(repr=False, compare=False)

    def to_json(self) -> dict[str, Any]:
        return dict(self.raw)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> AuthServerMetadata:
        return parse_as_metadata(data, str(data.get("issuer")))


def _display_names(value: object, where: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, list):
        raise InvalidIssuerMetadata(f"{where}.display must be an array")
    names: dict[str, str] = {}
    for d in value:
        if not isinstance(d, Mapping):
            raise InvalidIssuerMetadata(f"{where}.display entries must be objects")
        name, locale = d.get("name"), d.get("locale", "")
        if isinstance(name, str) and isinstance(locale, str) and len(name) <= 300:
            names.setdefault(locale, name)
    return names


def _configuration(cid: str, c: object) -> CredentialConfiguration:
    if not isinstance(c, Mapping):
        raise InvalidIssuerMetadata("credential configuration must be an object")
    fmt = c.get("format")
    if not isinstance(fmt, str) or not fmt:
        raise InvalidIssuerMetadata("credential configuration needs a format")
    proof_types = c.get("proof_types_supported") or {}
    if not isinstance(proof_types, Mapping):
        raise InvalidIssuerMetadata("proof_types_supported must be an object")
    jwt_algs: tuple[str, ...] = ()
    if "jwt" in proof_types:
        jwt = proof_types["jwt"]
        if not isinstance(jwt, Mapping):
            raise InvalidIssuerMetadata("proof_types_supported.jwt must be an object")
        jwt_algs = opt_str_list(jwt, "proof_signing_alg_values_supported", InvalidIssuerMetadata)
        if not jwt_algs:
            raise InvalidIssuerMetadata("proof_signing_alg_values_supported must be non-empty")
    cdef = c.get("credential_definition")
    types: tuple[str, ...] = ()
    if isinstance(cdef, Mapping):
        types = opt_str_list(cdef, "type", InvalidIssuerMetadata)
    cmeta = c.get("credential_metadata")
    display = cmeta.get("display") if isinstance(cmeta, Mapping) else None
    if display is None:
        display = c.get("display")  # pre-1.0 issuers put display at the top level
    bms = c.get("cryptographic_binding_methods_supported")
    return CredentialConfiguration(
        id=cid,
        format=fmt,
        scope=opt_str(c, "scope", InvalidIssuerMetadata),
        vct=opt_str(c, "vct", InvalidIssuerMetadata),
        doctype=opt_str(c, "doctype", InvalidIssuerMetadata),
        credential_definition_types=types,
        proof_signing_algs=jwt_algs,
        proof_types=tuple(str(k) for k in proof_types),
        binding_methods=tuple(b for b in bms if isinstance(b, str)) if isinstance(bms, list)
        else (),
        display_names=_display_names(display, f"credential_configurations_supported.{cid}"),
    )


def _opt_endpoint(data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    return None if value is None else https_url(value, key, InvalidIssuerMetadata)


def _response_encryption(value: object) -> ResponseEncryption | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise InvalidIssuerMetadata("credential_response_encryption must be an object")
    algs = opt_str_list(value, "alg_values_supported", InvalidIssuerMetadata)
    encs = opt_str_list(value, "enc_values_supported", InvalidIssuerMetadata)
    required = value.get("encryption_required")
    if not algs or not encs or not isinstance(required, bool):
        raise InvalidIssuerMetadata("credential_response_encryption is incomplete")
    return ResponseEncryption(algs, encs, opt_str_list(value, "zip_values_supported",
                                                       InvalidIssuerMetadata), required)


def _request_encryption(value: object) -> RequestEncryption | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise InvalidIssuerMetadata("credential_request_encryption must be an object")
    jwks = value.get("jwks")
    keys = jwks.get("keys") if isinstance(jwks, Mapping) else None
    if not isinstance(keys, list) or not keys or len(keys) > 16 or not all(
            isinstance(k, Mapping) and isinstance(k.get("kid"), str) and "d" not in k
            for k in keys):
        raise InvalidIssuerMetadata("credential_request_encryption.jwks needs public keys "
                                    "with kid")
    encs = opt_str_list(value, "enc_values_supported", InvalidIssuerMetadata)
    required = value.get("encryption_required")
    if not encs or not isinstance(required, bool):
        raise InvalidIssuerMetadata("credential_request_encryption is incomplete")
    return RequestEncryption(tuple(dict(k) for k in keys), encs,
                             opt_str_list(value, "zip_values_supported", InvalidIssuerMetadata),
                             required)


def parse_issuer_metadata(data: object, expected_issuer: str) -> IssuerMetadata:
    """Validate Credential Issuer metadata fetched for ``expected_issuer`` (§12.2.2, §12.2.4)."""
    if not isinstance(data, Mapping):
        raise InvalidIssuerMetadata("issuer metadata must be a JSON object")
    issuer = issuer_identifier(data.get("credential_issuer"), "credential_issuer",
                               InvalidIssuerMetadata)
    if issuer != expected_issuer:
        raise InvalidIssuerMetadata("credential_issuer in the metadata is not the offer's issuer")
    servers = data.get("authorization_servers")
    as_list: tuple[str, ...] = ()
    if servers is not None:
        if not isinstance(servers, list) or not servers:
            raise InvalidIssuerMetadata("authorization_servers must be a non-empty array")
        as_list = tuple(issuer_identifier(s, "authorization_servers", InvalidIssuerMetadata)
                        for s in servers)
    credential_endpoint = https_url(data.get("credential_endpoint"), "credential_endpoint",
                                    InvalidIssuerMetadata)
    configs = data.get("credential_configurations_supported")
    if not isinstance(configs, Mapping) or not configs:
        raise InvalidIssuerMetadata("credential_configurations_supported must be a non-empty "
                                    "object")
    if len(configs) > MAX_CONFIGURATIONS:
        raise InvalidIssuerMetadata("too many credential configurations")
    batch = data.get("batch_credential_issuance")
    batch_size: int | None = None
    if batch is not None:
        size = batch.get("batch_size") if isinstance(batch, Mapping) else None
        if not isinstance(size, int) or isinstance(size, bool) or size < 2:
            raise InvalidIssuerMetadata("batch_credential_issuance.batch_size must be >= 2")
        batch_size = size
    return IssuerMetadata(
        credential_issuer=issuer,
        authorization_servers=as_list,
        credential_endpoint=credential_endpoint,
        nonce_endpoint=_opt_endpoint(data, "nonce_endpoint"),
        deferred_credential_endpoint=_opt_endpoint(data, "deferred_credential_endpoint"),
        notification_endpoint=_opt_endpoint(data, "notification_endpoint"),
        response_encryption=_response_encryption(data.get("credential_response_encryption")),
        request_encryption=_request_encryption(data.get("credential_request_encryption")),
        batch_size=batch_size,
        display_names=_display_names(data.get("display"), "issuer"),
        configurations={str(k): _configuration(str(k), v) for k, v in configs.items()},
        raw=dict(data),
    )


def parse_as_metadata(data: object, expected_issuer: str) -> AuthServerMetadata:
    """Validate RFC 8414 metadata; ``issuer`` must equal ``expected_issuer`` (§3.3)."""
    if not isinstance(data, Mapping):
        raise InvalidIssuerMetadata("authorization server metadata must be a JSON object")
    issuer = issuer_identifier(data.get("issuer"), "issuer", InvalidIssuerMetadata)
    if issuer != expected_issuer:
        raise InvalidIssuerMetadata("authorization server metadata is for another issuer")
    anon = data.get("pre-authorized_grant_anonymous_access_supported", False)
    return AuthServerMetadata(
        issuer=issuer,
        token_endpoint=https_url(data.get("token_endpoint"), "token_endpoint",
                                 InvalidIssuerMetadata),
        authorization_endpoint=_opt_endpoint(data, "authorization_endpoint"),
        pushed_authorization_request_endpoint=_opt_endpoint(
            data, "pushed_authorization_request_endpoint"),
        require_pushed_authorization_requests=data.get(
            "require_pushed_authorization_requests") is True,
        code_challenge_methods=opt_str_list(data, "code_challenge_methods_supported",
                                            InvalidIssuerMetadata),
        pre_authorized_grant_anonymous_access_supported=anon is True,
        raw=dict(data),
    )


async def _get_json(fetcher: Fetcher, url: str) -> Any | None:
    """The JSON at ``url``; ``None`` on 404 (so a fallback may be tried)."""
    resp = await fetcher.get(url, accept=("application/json",), max_bytes=MAX_METADATA_BYTES)
    if resp.status == 404:
        return None
    if resp.status != 200:
        raise InvalidIssuerMetadata("metadata endpoint answered with an error status")
    if resp.content_type != "application/json":
        raise InvalidIssuerMetadata("metadata endpoint did not answer with JSON")
    try:
        return resp.json()
    except UpstreamError as exc:
        raise InvalidIssuerMetadata("metadata is not valid JSON") from exc


async def fetch_issuer_metadata(fetcher: Fetcher, credential_issuer: str) -> IssuerMetadata:
    """GET the issuer metadata for ``credential_issuer`` and validate it."""
    issuer = issuer_identifier(credential_issuer, "credential_issuer", InvalidIssuerMetadata)
    data = await _get_json(fetcher, well_known_url(issuer, WELL_KNOWN_ISSUER))
    if data is None:
        raise InvalidIssuerMetadata("the issuer publishes no credential issuer metadata")
    return parse_issuer_metadata(data, issuer)


async def fetch_as_metadata(fetcher: Fetcher, as_issuer: str) -> AuthServerMetadata:
    """RFC 8414 metadata, else OpenID Connect Discovery (appended to the issuer path)."""
    issuer = issuer_identifier(as_issuer, "authorization server", InvalidIssuerMetadata)
    data = await _get_json(fetcher, well_known_url(issuer, WELL_KNOWN_AS))
    if data is None:
        data = await _get_json(fetcher, issuer.rstrip("/") + WELL_KNOWN_OIDC)
    if data is None:
        raise InvalidIssuerMetadata("the authorization server publishes no metadata")
    return parse_as_metadata(data, issuer)
