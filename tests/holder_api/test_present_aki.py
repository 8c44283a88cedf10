"""DCQL ``trusted_authorities`` of type ``aki`` (OpenID4VP 1.0 §6.1.1) end to end through the API,
on both backends: intake records the AKIs of the carried ``x5c`` certificates the credential's
verified signature chains through, and a request's ``aki`` values are matched against any of them
(leaf or intermediate, any seal's); a credential signed without such a certificate (a key from
issuer metadata, whatever its ``x5c`` says) has none, so an ``aki``-only query never offers it
(docs/presenting.md)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import trustme
from aiohttp.test_utils import TestClient
from jwcrypto.jwk import JWK
from sd_jwt.common import SDObj
from sd_jwt.issuer import SDJWTIssuer

from holder_api.appkeys import WIRING
from sharing.dcql import known_akis
from tests.holder_api.present_support import VCT, Peer, holder, import_vc, intake
from tests.x5c_support import aki, chain_der, seal, x5c

#: The peers answer as ``localhost``: 127.0.0.1 itself stays a blocked address.
PEER_HOST = "localhost"
SD_JWT_QUERY: dict[str, Any] = {"format": "dc+sd-jwt", "meta": {"vct_values": [VCT]},
                                "require_cryptographic_holder_binding": False}
NOWHERE = "s9tIpPmhxdiuNkHMEWNpYim8S8Y"  # an authority no credential here chains to


def _issue(peer: Peer, key: JWK, header: dict[str, Any], holder_jwk: dict[str, Any]) -> str:
    """An SD-JWT VC from ``peer``'s issuer name, signed by ``key``, with ``header`` added."""
    now = int(peer.clock().timestamp())
    user: dict[Any, Any] = {"iss": peer.base, "vct": VCT, "iat": now, "exp": now + 86400,
                            "cnf": {"jwk": holder_jwk}, SDObj("degree"): "BSc Computing"}
    return str(SDJWTIssuer(user, key, sign_alg="ES256", extra_header_parameters={
        "typ": "dc+sd-jwt", **header}).sd_jwt_issuance)


def _issue_x5c(peer: Peer, leaf: trustme.LeafCert, holder_jwk: dict[str, Any]) -> str:
    """Signed by ``leaf`` with its chain in ``x5c``."""
    return _issue(peer, JWK.from_pem(leaf.private_key_pem.bytes()), {"x5c": x5c(leaf)},
                  holder_jwk)


async def _options(app: TestClient[Any, Any], peer: Peer, token: str,
                   query: dict[str, Any]) -> list[str]:
    """The ids of the credentials offered to one credential query (a ``redirect_uri:``
    request by value: it needs no anchor for the verifier)."""
    client_id = f"redirect_uri:{peer.base}/cb"
    claims = peer.claims(client_id, {"credentials": [{"id": "q", **query}]},
                         response_uri=f"{peer.base}/cb")
    for k in ("aud", "iat", "exp"):
        claims.pop(k)
    r = await intake(app, token, peer.by_value(claims))
    assert r.status == 201, await r.text()
    [q] = (await r.json())["queries"]
    return [o["credential_id"] for o in q["options"]]


def _offered(app: TestClient[Any, Any], peer: Peer, token: str,
             query: dict[str, Any]) -> Callable[..., Awaitable[list[str]]]:
    """:func:`_options` for ``query`` limited to ``aki`` values."""
    async def offered(*akis: str) -> list[str]:
        return await _options(app, peer, token, {**query, "trusted_authorities": [
            {"type": "aki", "values": list(akis)}]})
    return offered


async def test_aki_matches_any_certificate_of_the_chain(app: TestClient[Any, Any], peer: Peer,
                                                        ca: trustme.CA) -> None:
    token, jwk = await holder(app)
    intermediate = ca.create_child_ca()
    leaf = intermediate.issue_cert("localhost")
    assert len(leaf.cert_chain_pems) == 2  # leaf, intermediate (the root is the anchor)
    leaf_aki, intermediate_aki = (aki(der) for der in chain_der(leaf))
    assert leaf_aki != intermediate_aki
    chained = await import_vc(app, token, _issue_x5c(peer, leaf, jwk))
    await import_vc(app, token, peer.issue(jwk))  # key from issuer metadata: no chain
    offered = _offered(app, peer, token, SD_JWT_QUERY)
    assert await offered(leaf_aki) == [chained]
    assert await offered(intermediate_aki) == [chained]
    # neither: nothing is offered, and the credential without a chain never is
    assert await offered(NOWHERE) == []
    # a stranger's intermediate carried right after the leaf: the chain still validates to the
    # anchor (path building takes the real intermediate), but the stranger did not issue the
    # leaf, so its authority matches nothing, and the path stops at the leaf
    stranger = trustme.CA().create_child_ca().issue_cert("localhost")
    carried = [x5c(leaf)[0], x5c(stranger)[1], x5c(leaf)[1]]
    mixed = await import_vc(app, token, _issue(
        peer, JWK.from_pem(leaf.private_key_pem.bytes()), {"x5c": carried}, jwk))
    assert await offered(aki(chain_der(stranger)[1])) == []
    assert await offered(aki(chain_der(stranger)[0])) == []
    assert set(await offered(leaf_aki)) == {chained, mixed}
    assert await offered(intermediate_aki) == [chained]


async def test_a_carried_chain_the_signing_key_is_not_in_matches_nothing(
        make_client: Callable[..., Awaitable[TestClient[Any, Any]]], ca_file: Path, peer: Peer,
        ca: trustme.CA) -> None:
    """Without x5c anchors (``SATCHEL_X5C_ANCHORS_FILE=none``, as by default) the issuer key
    comes from its metadata and ``x5c`` is not read to verify: an ``x5c`` that cannot be read,
    or a real authority's chain copied beside the metadata key, is no chain of this credential,
    so an ``aki``-only query naming that authority does not offer it (nor any other)."""
    app = await make_client(SATCHEL_EXTRA_CA_FILE=str(ca_file), SATCHEL_FETCH_TIMEOUT="5",
                            SATCHEL_FETCH_ALLOW_HOSTS=PEER_HOST, SATCHEL_X5C_ANCHORS_FILE="none")
    token, jwk = await holder(app)
    copied = ca.create_child_ca().issue_cert("localhost")
    leaf_aki, intermediate_aki = (aki(der) for der in chain_der(copied))
    kid = {"kid": "issuer-1"}
    for header in ({"x5c": ["AAAA"]}, {"x5c": ["not base64!"]}, {"x5c": "x"},
                   {"x5c": x5c(copied)}):
        await import_vc(app, token, _issue(peer, peer.issuer_key, {**kid, **header}, jwk))
    plain = await import_vc(app, token, peer.issue(jwk))
    offered = _offered(app, peer, token, SD_JWT_QUERY)
    for akis in ((leaf_aki,), (intermediate_aki,), (NOWHERE,)):
        assert await offered(*akis) == []
    # without trusted_authorities all five are offered: only the aki filter left them out
    everything = await _options(app, peer, token, SD_JWT_QUERY)
    assert len(everything) == 5 and plain in everything


async def test_every_jades_seal_s_authority_is_recorded(app: TestClient[Any, Any]) -> None:
    """A European Digital Credential sealed twice, imported through the API: each sealer's
    chain is present in the credential, so intake records both (a JAdES EDC is not presented
    over OpenID4VP, docs/presenting.md, but its record is what a query would be judged on)."""
    token, _ = await holder(app)
    first = trustme.CA().create_child_ca().issue_cert("seal-one.example")
    second = trustme.CA().create_child_ca().issue_cert("seal-two.example")
    sealed = await import_vc(app, token, seal([first, second]))
    services = app.app[WIRING]
    session = await services.accounts.service.authenticate(token)
    vault = services.stores.vault.for_learner(session.learner_id, session.dek)
    stored = await vault.credentials.get(sealed)
    recorded = [aki(der) for leaf in (first, second) for der in chain_der(leaf)]
    assert stored.data["authority_key_ids"] == recorded
    assert known_akis(stored.data) == frozenset(recorded)
