"""DCQL ``trusted_authorities`` of type ``aki`` (OpenID4VP 1.0 §6.1.1) end to end through the API,
on both backends: intake records the AKIs of every certificate in a credential's ``x5c`` chain,
and a request's ``aki`` values are matched against any of them (leaf or intermediate); a
credential signed without a certificate has no chain, so an ``aki``-only query never offers it
(docs/presenting.md)."""

from __future__ import annotations

import base64
from typing import Any

import trustme
from aiohttp.test_utils import TestClient
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from jwcrypto.jwk import JWK
from sd_jwt.common import SDObj
from sd_jwt.issuer import SDJWTIssuer

from tests.holder_api.present_support import VCT, Peer, holder, import_vc, intake

#: The peers answer as ``localhost``: 127.0.0.1 itself stays a blocked address.
PEER_HOST = "localhost"


def _aki(pem: bytes) -> str:
    cert = x509.load_pem_x509_certificate(pem)
    aki = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    assert aki.key_identifier is not None
    return base64.urlsafe_b64encode(aki.key_identifier).rstrip(b"=").decode()


def _issue_x5c(peer: Peer, leaf: trustme.LeafCert, holder_jwk: dict[str, Any]) -> str:
    """An SD-JWT VC from ``peer``'s issuer name, signed by ``leaf`` with its chain in ``x5c``."""
    now = int(peer.clock().timestamp())
    user: dict[Any, Any] = {"iss": peer.base, "vct": VCT, "iat": now, "exp": now + 86400,
                            "cnf": {"jwk": holder_jwk}, SDObj("degree"): "BSc Computing"}
    x5c = [base64.b64encode(x509.load_pem_x509_certificate(p.bytes())
                            .public_bytes(Encoding.DER)).decode()
           for p in leaf.cert_chain_pems]
    key = JWK.from_pem(leaf.private_key_pem.bytes())
    return str(SDJWTIssuer(user, key, sign_alg="ES256", extra_header_parameters={
        "typ": "dc+sd-jwt", "x5c": x5c}).sd_jwt_issuance)


async def test_aki_matches_any_certificate_of_the_chain(app: TestClient[Any, Any], peer: Peer,
                                                        ca: trustme.CA) -> None:
    token, jwk = await holder(app)
    intermediate = ca.create_child_ca()
    leaf = intermediate.issue_cert("localhost")
    assert len(leaf.cert_chain_pems) == 2  # leaf, intermediate (the root is the anchor)
    leaf_aki, intermediate_aki = (_aki(p.bytes()) for p in leaf.cert_chain_pems)
    assert leaf_aki != intermediate_aki
    chained = await import_vc(app, token, _issue_x5c(peer, leaf, jwk))
    await import_vc(app, token, peer.issue(jwk))  # key from issuer metadata: no chain
    client_id = "x509_san_dns:localhost"

    async def offered(*akis: str) -> list[str]:
        query = {"credentials": [{"id": "degree", "format": "dc+sd-jwt",
                                  "meta": {"vct_values": [VCT]},
                                  "claims": [{"path": ["degree"]}],
                                  "trusted_authorities": [{"type": "aki",
                                                           "values": list(akis)}]}]}
        link = peer.serve_request(lambda f: peer.sign(peer.claims(client_id, query)),
                                  client_id=client_id)
        r = await intake(app, token, link)
        assert r.status == 201, await r.text()
        [q] = (await r.json())["queries"]
        return [o["credential_id"] for o in q["options"]]

    assert await offered(leaf_aki) == [chained]
    assert await offered(intermediate_aki) == [chained]
    # neither: nothing is offered, and the credential without a chain never is
    assert await offered("s9tIpPmhxdiuNkHMEWNpYim8S8Y") == []
