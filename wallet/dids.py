"""Resolve the issuer keys that W3C credentials name by DID or multibase key.

Specs:
- did:key v0.7 (W3C CCG), https://w3c-ccg.github.io/did-method-key/ §3.1 (format), §3.1.2 (create
  a DID document: the key *is* the identifier, so resolution is offline);
  multicodec table https://github.com/multiformats/multicodec (``ed25519-pub`` 0xed,
  ``p256-pub`` 0x1200, ``p384-pub`` 0x1201) and multibase ``z`` = base58btc.
- did:jwk, https://github.com/quartzjer/did-jwk/blob/main/spec.md (the DID is the base64url JWK;
  the only verification method is ``#0``).
- did:web, https://w3c-ccg.github.io/did-method-web/ §3.2 (read: ``did:web:host:a:b`` →
  ``https://host/a/b/did.json``; a bare host → ``/.well-known/did.json``; ``%3A`` → ``:`` port).
- DID Core 1.0, https://www.w3.org/TR/did-core/ §5.2 (verification methods, ``publicKeyJwk``,
  ``publicKeyMultibase``), §5.3.2 (``assertionMethod``: the keys that may issue credentials).
- The 1EdTech form: a ``verificationMethod`` ``https://issuer.example/…#z6Mk…`` whose fragment is
  itself the multibase key (how the 1EdTech Open Badges / CLR validator resolves it). It is
  self-asserted, exactly like a header ``jwk``: the key source says so and the trust list decides.

Why: credentials must be checkable without trusting the credential to choose the key. ``did:key``,
``did:jwk`` and multibase fragments carry the key themselves (the identifier is bound to it);
``did:web`` is fetched only through the guarded :class:`~wallet.ports.Fetcher`. Errors are typed
and fail closed. Pure except for the fetcher.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

import base58
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from wallet.errors import (
    BadInput,
    DidError,
    DidMethodNotSupported,
    DidResolutionFailed,
    InvalidDid,
    UpstreamError,
    VerificationMethodNotFound,
)
from wallet.jose import PublicKey, b64url_decode, public_jwk, public_key_from_jwk
from wallet.ports import Fetcher

__all__ = [
    "DidError",
    "DidMethodNotSupported",
    "DidResolutionFailed",
    "InvalidDid",
    "ResolvedKey",
    "VerificationMethodNotFound",
    "did_of",
    "key_from_multibase",
    "resolve_key",
    "resolve_key_offline",
    "resolve_verification_key",
    "web_did_url",
]

_MAX_DID = 8192
_MAX_DOC_BYTES = 256 * 1024
# multicodec varint prefix → (curve, key length)
_ED25519 = b"\xed\x01"
_P256 = b"\x80\x24"
_P384 = b"\x81\x24"


@dataclass(frozen=True, slots=True)
class ResolvedKey:
    """A verification key and how it was established."""

    key: PublicKey
    jwk: dict[str, Any]
    source: str  # "did:key", "did:jwk", "did:web", "multibase_fragment"
    controller: str  # the DID (or URL without fragment) that the key belongs to

    @classmethod
    def of(cls, key: PublicKey, source: str, controller: str) -> ResolvedKey:
        return cls(key, public_jwk(key), source, controller)


def did_of(did_url: str) -> str:
    """The DID (or URL) part of a DID URL: everything before ``#``, ``?`` or ``/`` path."""
    base = did_url.split("#", 1)[0].split("?", 1)[0]
    if base.startswith("did:"):
        base = base.split("/", 1)[0]
    return base


def key_from_multibase(value: str) -> PublicKey:
    """A key from a multibase (``z`` base58btc) multicodec public key (Multikey)."""
    if not isinstance(value, str) or not value.startswith("z") or len(value) > 200:
        raise InvalidDid("key is not a base58btc multibase value")
    try:
        raw = base58.b58decode(value[1:])
    except ValueError as exc:
        raise InvalidDid("key is not valid base58btc") from exc
    try:
        if raw[:2] == _ED25519 and len(raw) == 34:
            return ed25519.Ed25519PublicKey.from_public_bytes(raw[2:])
        if raw[:2] == _P256 and len(raw) == 35:
            return ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), raw[2:])
        if raw[:2] == _P384 and len(raw) == 51:
            return ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP384R1(), raw[2:])
    except ValueError as exc:
        raise InvalidDid("multibase key is not a valid point") from exc
    raise InvalidDid("unsupported multicodec key type")


def _split(did_url: str) -> tuple[str, str | None]:
    if not isinstance(did_url, str) or not did_url or len(did_url) > _MAX_DID:
        raise InvalidDid("DID URL must be a non-empty bounded string")
    if any(c.isspace() for c in did_url):
        raise InvalidDid("DID URL contains whitespace")
    base, _, fragment = did_url.partition("#")
    return did_of(base), (fragment if "#" in did_url else None)


def _did_key(did: str, fragment: str | None) -> ResolvedKey:
    msid = did[len("did:key:"):]
    if fragment is not None and fragment != msid:
        raise VerificationMethodNotFound("did:key fragment does not name the key itself")
    key = key_from_multibase(msid)
    return ResolvedKey.of(key, "did:key", did)


def _did_jwk(did: str, fragment: str | None) -> ResolvedKey:
    if fragment not in (None, "0"):
        raise VerificationMethodNotFound("did:jwk has only the verification method #0")
    try:
        jwk = json.loads(b64url_decode(did[len("did:jwk:"):]))
    except (BadInput, ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise InvalidDid("did:jwk is not base64url JSON") from exc
    if not isinstance(jwk, dict) or "d" in jwk:
        raise InvalidDid("did:jwk must hold a public JWK")
    try:
        key = public_key_from_jwk(jwk)
    except BadInput as exc:
        raise InvalidDid("did:jwk does not hold a supported public key") from exc
    return ResolvedKey.of(key, "did:jwk", did)


def _fragment_multibase(url: str, fragment: str | None) -> ResolvedKey:
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.netloc or not fragment:
        raise DidMethodNotSupported("only DIDs and https URLs with a multibase key fragment")
    try:
        key = key_from_multibase(fragment)
    except InvalidDid as exc:
        raise DidMethodNotSupported("URL fragment is not a multibase key") from exc
    return ResolvedKey.of(key, "multibase_fragment", url)


def resolve_key_offline(did_url: str) -> ResolvedKey:
    """``did:key``, ``did:jwk`` or an https URL whose fragment is a multibase key."""
    did, fragment = _split(did_url)
    if did.startswith("did:key:"):
        return _did_key(did, fragment)
    if did.startswith("did:jwk:"):
        return _did_jwk(did, fragment)
    if did.startswith("did:"):
        raise DidMethodNotSupported("this DID method needs network resolution or is unsupported")
    return _fragment_multibase(did, fragment)


def web_did_url(did: str) -> str:
    """The https URL of a did:web DID document (did:web §3.2 Read)."""
    if not did.startswith("did:web:"):
        raise InvalidDid("not a did:web")
    segments = did[len("did:web:"):].split(":")
    if not segments or any(not s for s in segments):
        raise InvalidDid("did:web has an empty segment")
    host = unquote(segments[0])
    path = [unquote(s) for s in segments[1:]]
    if any(c in host for c in "/?#@\\ ") or not host or any(
        p in ("", ".", "..") or any(c in p for c in "/?#\\") for p in path
    ):
        raise InvalidDid("did:web host or path is not acceptable")
    tail = "/".join(path) + "/did.json" if path else ".well-known/did.json"
    return f"https://{host}/{tail}"


def _vm_id(vm_id: object, did: str) -> str | None:
    if not isinstance(vm_id, str):
        return None
    return did + vm_id if vm_id.startswith("#") else vm_id


def _key_from_vm(vm: Mapping[str, Any]) -> PublicKey:
    jwk = vm.get("publicKeyJwk")
    if jwk is not None:
        if not isinstance(jwk, Mapping) or "d" in jwk:
            raise InvalidDid("publicKeyJwk must be a public JWK")
        try:
            return public_key_from_jwk(jwk)
        except BadInput as exc:
            raise InvalidDid("publicKeyJwk is not a supported key") from exc
    mb = vm.get("publicKeyMultibase")
    if isinstance(mb, str):
        return key_from_multibase(mb)
    raise InvalidDid("verification method has no publicKeyJwk or publicKeyMultibase")


def _pick_vm(doc: Mapping[str, Any], did: str, fragment: str | None) -> Mapping[str, Any]:
    methods = doc.get("verificationMethod", [])
    if not isinstance(methods, list):
        raise DidResolutionFailed("verificationMethod must be a list")
    by_id = {_vm_id(m.get("id"), did): m for m in methods if isinstance(m, Mapping)}
    assertion = doc.get("assertionMethod", [])
    if not isinstance(assertion, list):
        raise DidResolutionFailed("assertionMethod must be a list")
    allowed: dict[str | None, Mapping[str, Any]] = {}
    for entry in assertion:
        if isinstance(entry, str):
            ref = _vm_id(entry, did)
            if ref in by_id:
                allowed[ref] = by_id[ref]
        elif isinstance(entry, Mapping):
            allowed[_vm_id(entry.get("id"), did)] = entry
    if fragment is None:
        if len(allowed) != 1:
            raise VerificationMethodNotFound("DID URL names no key and the DID has not one")
        return next(iter(allowed.values()))
    vm = allowed.get(f"{did}#{fragment}")
    if vm is None:
        raise VerificationMethodNotFound("no assertionMethod key with that id")
    return vm


async def _did_web(did: str, fragment: str | None, fetcher: Fetcher) -> ResolvedKey:
    url = web_did_url(did)
    try:
        resp = await fetcher.get(url, accept=("application/did+json", "application/did+ld+json",
                                              "application/json"), max_bytes=_MAX_DOC_BYTES)
        if resp.status != 200:
            raise DidResolutionFailed("DID document could not be fetched")
        doc = resp.json()
    except DidResolutionFailed:
        raise
    except UpstreamError as exc:  # refused by the network guard, transport error, not JSON
        raise DidResolutionFailed("DID document could not be fetched") from exc
    if not isinstance(doc, Mapping) or doc.get("id") != did:
        raise DidResolutionFailed("DID document id does not match the DID")
    vm = _pick_vm(doc, did, fragment)
    controller = vm.get("controller", did)
    if controller != did:
        raise VerificationMethodNotFound("verification method is controlled by another DID")
    key = _key_from_vm(vm)
    return ResolvedKey.of(key, "did:web", did)


async def resolve_key(did_url: str, fetcher: Fetcher | None) -> ResolvedKey:
    """Resolve a DID URL (or 1EdTech multibase-fragment URL) to an assertion key."""
    did, fragment = _split(did_url)
    if did.startswith("did:web:"):
        if fetcher is None:
            raise DidResolutionFailed("did:web needs the network and no fetcher was given")
        return await _did_web(did, fragment, fetcher)
    return resolve_key_offline(did_url)


async def resolve_verification_key(
    did_url: str, fetcher: Fetcher | None = None
) -> tuple[PublicKey, dict[str, Any]]:
    """The public key and its JWK for ``did_url`` (see :func:`resolve_key`)."""
    resolved = await resolve_key(did_url, fetcher)
    return resolved.key, resolved.jwk
