"""Who is asking: Client Identifier Prefixes and request-object signatures (OpenID4VP 1.0 §5.9,
§5.9.3; RFC 9101 §6.2).

https://openid.net/specs/openid-4-verifiable-presentations-1_0.html#name-client-identifier-prefix-an

The learner is told which verifier receives their claims, so that name must be earned, not
claimed. Per prefix:
- ``redirect_uri:<uri>`` — unsigned only; the verifier is *unauthenticated*; its response URI must
  be that very URI (checked in :mod:`~sharing.oid4vp.request`).
- ``x509_san_dns:<dns>`` — signed with the leaf key of the ``x5c`` chain; the chain must validate
  to a configured anchor (``wallet.x509.validate_chain``, a real path validator); a ``dNSName`` SAN
  of the leaf equals ``<dns>``; the response URI's host must be ``<dns>``.
- ``x509_hash:<b64url sha-256 of the leaf DER>`` — same chain and signature rules, hash compared.
- ``decentralized_identifier:<did>`` — the key is the DID document's ``verificationMethod`` named
  by the header ``kid``, found through the resolver the caller passes in (it does the I/O).
- no prefix — a pre-registered client: authenticated only when the caller registered it with keys;
  otherwise accepted as *unauthenticated*, like ``redirect_uri``.
- ``origin:`` is refused (§5.9.3: "The Wallet MUST NOT accept this Client Identifier Prefix");
  ``openid_federation``, ``verifier_attestation`` and unknown prefixes are refused
  (``invalid_request``: "The Wallet does not support the Client Identifier Prefix").
The key is never taken from ``jwk``/``jku``/``x5u`` headers or from ``client_metadata.jwks``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol, cast

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.serialization import Encoding

from sharing.oid4vp.errors import InvalidClient, InvalidRequest, InvalidRequestObject
from wallet.dids import InvalidDid, key_from_multibase
from wallet.errors import SatchelError
from wallet.jose import JwsParts, PublicKey, public_key_from_jwk, verify_compact
from wallet.x509 import validate_chain

__all__ = [
    "REQUEST_OBJECT_ALGS",
    "ChainValidator",
    "ClientPrefix",
    "DidResolver",
    "RegisteredClient",
    "VerifierIdentity",
    "VerifierTrust",
    "authenticate_signed_request",
    "classify_client_id",
    "unsigned_identity",
]

#: Signature algorithms accepted on request objects (never ``none`` for a signed prefix, never HS*).
REQUEST_OBJECT_ALGS = frozenset({"ES256", "ES384", "ES512", "EdDSA", "Ed25519", "PS256", "PS384",
                                 "PS512", "RS256"})

ClientPrefix = Literal["redirect_uri", "x509_san_dns", "x509_hash", "decentralized_identifier",
                       "pre-registered"]
_SIGNED_PREFIXES = ("x509_san_dns", "x509_hash", "decentralized_identifier")
_REFUSED = {"origin": "the origin: prefix is reserved for the Digital Credentials API"}

#: ``did`` → its DID document. The one callable here that may do I/O (did:web); it raises a
#: :class:`~wallet.errors.SatchelError` when the DID cannot be resolved.
DidResolver = Callable[[str], Awaitable[Mapping[str, Any]]]


class ChainValidator(Protocol):
    """``wallet.x509.validate_chain``: validate ``chain_der`` (leaf first) to one of ``anchors``
    at time ``at`` and return the leaf; raise a ``SatchelError`` otherwise."""

    def __call__(self, chain_der: Sequence[bytes], anchors: Sequence[x509.Certificate], *,
                 at: datetime) -> x509.Certificate: ...


@dataclass(frozen=True, slots=True)
class RegisteredClient:
    """A verifier the operator registered in advance (§5.9.2 "pre-registered client")."""

    jwks: tuple[Mapping[str, Any], ...] = ()  # keys its request objects are signed with
    response_uris: tuple[str, ...] = ()  # allowed response URIs; empty: any
    name: str | None = None


@dataclass(frozen=True, slots=True)
class VerifierIdentity:
    """The outcome of client authentication, for the consent screen and the response checks."""

    prefix: ClientPrefix
    value: str  # the client id without its prefix
    authenticated: bool
    certificate: x509.Certificate | None = field(default=None, compare=False, hash=False)
    dns_names: tuple[str, ...] = ()
    key_id: str | None = None
    registered: RegisteredClient | None = None


@dataclass(frozen=True, slots=True)
class VerifierTrust:
    """What the wallet trusts a verifier's request object to: the X.509 anchors (for the
    ``x509_*`` prefixes, with the chain validator, ``wallet.x509.validate_chain`` by default),
    DID resolution (``decentralized_identifier``), the registered clients and the signature
    algorithms."""

    x509_anchors: Sequence[x509.Certificate]
    did_resolver: DidResolver | None = None
    registered: Mapping[str, RegisteredClient] = field(default_factory=dict)
    chain_validator: ChainValidator | None = None
    allowed_algs: Collection[str] = REQUEST_OBJECT_ALGS


def classify_client_id(client_id: str, registered: Mapping[str, RegisteredClient]
                       ) -> tuple[ClientPrefix, str]:
    """Split ``client_id`` into (prefix, original id), refusing prefixes we do not serve."""
    if not isinstance(client_id, str) or not client_id or len(client_id) > 2048:
        raise InvalidRequest("client_id must be a non-empty string")
    prefix, sep, rest = client_id.partition(":")
    if sep and prefix in ("redirect_uri", *_SIGNED_PREFIXES):
        if not rest:
            raise InvalidRequest("client_id has an empty value after its prefix")
        return cast(ClientPrefix, prefix), rest
    if sep and prefix in _REFUSED:
        raise InvalidRequest(_REFUSED[prefix])
    if client_id in registered:
        return "pre-registered", client_id
    if sep:
        raise InvalidRequest("the Client Identifier Prefix is not supported")
    return "pre-registered", client_id


def unsigned_identity(client_id: str, registered: Mapping[str, RegisteredClient]
                      ) -> VerifierIdentity:
    """The identity behind an unsigned request (by value, or a request object with alg none)."""
    prefix, value = classify_client_id(client_id, registered)
    if prefix in _SIGNED_PREFIXES:
        raise InvalidRequestObject(f"the {prefix} prefix requires a signed request object")
    reg = registered.get(client_id) if prefix == "pre-registered" else None
    if reg is not None and reg.jwks:
        raise InvalidRequestObject("this registered verifier must sign its requests")
    return VerifierIdentity(prefix, value, False, registered=reg)


def _x5c(header: Mapping[str, Any]) -> list[bytes]:
    chain = header.get("x5c")
    if not isinstance(chain, list) or not chain or len(chain) > 10 or \
            not all(isinstance(c, str) and c for c in chain):
        raise InvalidRequestObject("an x509 client id needs an x5c header with the chain")
    try:
        return [base64.b64decode(c, validate=True) for c in chain]
    except (binascii.Error, ValueError) as exc:
        raise InvalidRequestObject("x5c entries must be base64 DER certificates") from exc


def _leaf_key(cert: x509.Certificate) -> PublicKey:
    key = cert.public_key()
    if not isinstance(key, ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey |
                      rsa.RSAPublicKey):
        raise InvalidRequestObject("the leaf certificate key type is not supported")
    return key


def _san_dns(cert: x509.Certificate) -> tuple[str, ...]:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return ()
    return tuple(n.lower().rstrip(".") for n in san.get_values_for_type(x509.DNSName))


def _multibase_key(value: str) -> PublicKey:
    try:
        return key_from_multibase(value)
    except InvalidDid as exc:
        raise InvalidRequestObject(f"publicKeyMultibase: {exc.detail}") from exc


def _did_key(doc: Mapping[str, Any], did: str, kid: Any) -> PublicKey:
    if not isinstance(kid, str) or not kid:
        raise InvalidRequestObject("a decentralized_identifier request needs a kid header")
    absolute = did + kid if kid.startswith("#") else kid
    if absolute.partition("#")[0] != did or "#" not in absolute:
        raise InvalidRequestObject("the kid does not name a key of the client's DID")
    if not isinstance(doc, Mapping) or doc.get("id") != did:
        raise InvalidRequestObject("the resolved DID document is not the client's")
    methods = doc.get("verificationMethod")
    for vm in methods if isinstance(methods, list) else ():
        if not isinstance(vm, Mapping) or not isinstance(vm.get("id"), str):
            continue
        vm_id = did + vm["id"] if vm["id"].startswith("#") else vm["id"]
        if vm_id != absolute:
            continue
        try:
            if isinstance(vm.get("publicKeyJwk"), Mapping):
                return public_key_from_jwk(vm["publicKeyJwk"])
        except SatchelError as exc:
            raise InvalidRequestObject("the DID verification method holds no usable key") from exc
        if isinstance(vm.get("publicKeyMultibase"), str):
            return _multibase_key(vm["publicKeyMultibase"])
        raise InvalidRequestObject("the DID verification method holds no usable key")
    raise InvalidRequestObject("the kid names no verificationMethod of the DID document")


def _registered_key(reg: RegisteredClient, kid: Any) -> PublicKey:
    for jwk in reg.jwks:
        if kid is None or jwk.get("kid") == kid:
            return public_key_from_jwk(jwk)
    raise InvalidRequestObject("no registered key of this verifier matches the kid")


def _verify(parts: JwsParts, key: PublicKey, algs: Collection[str]) -> None:
    try:
        verify_compact(parts, lambda _h: key, allowed_algs=algs,
                       expected_typ=("oauth-authz-req+jwt",))
    except SatchelError as exc:
        raise InvalidRequestObject("the request object signature does not verify") from exc


async def authenticate_signed_request(parts: JwsParts, client_id: str, trust: VerifierTrust, *,
                                      now: datetime) -> VerifierIdentity:
    """Check the signature of a request object the way ``client_id``'s prefix demands."""
    registered, allowed_algs = trust.registered, trust.allowed_algs
    prefix, value = classify_client_id(client_id, registered)
    header = parts.header
    if prefix == "redirect_uri":
        raise InvalidRequestObject("requests with the redirect_uri prefix cannot be signed")
    if prefix in ("x509_san_dns", "x509_hash"):
        chain = _x5c(header)
        if not trust.x509_anchors:
            raise InvalidClient("no X.509 trust anchors are configured for verifiers")
        validate = trust.chain_validator or validate_chain
        try:
            leaf = validate(chain, trust.x509_anchors, at=now)
        except (SatchelError, ValueError) as exc:
            raise InvalidRequestObject("the verifier's certificate chain is not trusted") from exc
        if leaf.public_bytes(Encoding.DER) != chain[0]:  # the key must be the x5c leaf's
            raise InvalidRequestObject("the validated certificate is not the x5c leaf")
        names = _san_dns(leaf)
        if prefix == "x509_san_dns" and value.lower().rstrip(".") not in names:
            raise InvalidRequestObject("the client id is not a dNSName of the certificate")
        if prefix == "x509_hash":
            digest = base64.urlsafe_b64encode(hashlib.sha256(chain[0]).digest()).rstrip(b"=")
            if not hmac.compare_digest(digest, value.encode()):
                raise InvalidRequestObject("the client id is not the hash of the certificate")
        _verify(parts, _leaf_key(leaf), allowed_algs)
        return VerifierIdentity(prefix, value, True, leaf, names)
    if prefix == "decentralized_identifier":
        if not value.startswith("did:"):
            raise InvalidRequest("a decentralized_identifier client id must be a DID")
        if trust.did_resolver is None:
            raise InvalidClient("DID resolution is not available")
        doc = await trust.did_resolver(value)
        _verify(parts, _did_key(doc, value, header.get("kid")), allowed_algs)
        return VerifierIdentity(prefix, value, True, key_id=str(header.get("kid")))
    reg = registered.get(client_id)
    if reg is None or not reg.jwks:  # unknown plain client: its signature proves nothing to us
        return VerifierIdentity("pre-registered", value, False, registered=reg)
    _verify(parts, _registered_key(reg, header.get("kid")), allowed_algs)
    return VerifierIdentity("pre-registered", value, True, registered=reg)
