"""DID documents for OpenID4VP ``decentralized_identifier:`` clients (OpenID4VP 1.0 §5.9.3;
W3C DID Core §7.1 "DID Resolution"; did:web §3.2, did:key, did:jwk).

https://openid.net/specs/openid-4-verifiable-presentations-1_0.html#name-client-identifier-prefix-an

:mod:`sharing.oid4vp.client_id` takes the verification method named by the request object's
``kid`` from the *document* of the client's DID. This adapter gives it one: ``did:web`` through
the guarded :class:`~wallet.ports.Fetcher` (``id`` must equal the DID), ``did:key`` and
``did:jwk`` built offline from the key the identifier itself encodes (``wallet.dids``). Other
methods are refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from wallet.dids import DidMethodNotSupported, DidResolutionFailed, resolve_key_offline, web_did_url
from wallet.errors import UpstreamError
from wallet.ports import Fetcher

__all__ = ["resolve_did_document"]

_MAX_DOC_BYTES = 256 * 1024


def _document(did: str, fragment: str, jwk: Mapping[str, Any]) -> dict[str, Any]:
    vm = {"id": f"{did}#{fragment}", "type": "JsonWebKey2020", "controller": did,
          "publicKeyJwk": dict(jwk)}
    return {"id": did, "verificationMethod": [vm], "assertionMethod": [vm["id"]],
            "authentication": [vm["id"]]}


async def resolve_did_document(did: str, fetcher: Fetcher) -> Mapping[str, Any]:
    """The DID document of ``did`` (``did:web``, ``did:key``, ``did:jwk``)."""
    if not isinstance(did, str) or "#" in did or len(did) > 8192:
        raise DidResolutionFailed("not a DID")
    if did.startswith("did:web:"):
        try:
            resp = await fetcher.get(web_did_url(did), accept=(
                "application/did+json", "application/did+ld+json", "application/json"),
                max_bytes=_MAX_DOC_BYTES)
            doc = resp.json() if resp.status == 200 else None
        except UpstreamError as exc:
            raise DidResolutionFailed("the DID document could not be fetched") from exc
        if not isinstance(doc, Mapping) or doc.get("id") != did:
            raise DidResolutionFailed("the DID document is not the DID's")
        return doc
    if did.startswith("did:key:"):
        return _document(did, did[len("did:key:"):], resolve_key_offline(did).jwk)
    if did.startswith("did:jwk:"):
        return _document(did, "0", resolve_key_offline(did).jwk)
    raise DidMethodNotSupported("only did:web, did:key and did:jwk verifiers are supported")
