"""Independent peers for the presenting tests, on 127.0.0.1 over HTTPS (trustme, name
``localhost``):

- an **issuer**: SD-JWT VCs minted with the reference ``sd-jwt`` package, bound to the learner's
  holder key, its keys published at ``/.well-known/jwt-vc-issuer`` (draft-ietf-oauth-sd-jwt-vc);
- a **verifier of ours** for ``redirect_uri:`` and ``x509_san_dns:``: it serves request objects
  (GET or POST ``request_uri``), takes ``direct_post`` / ``direct_post.jwt`` answers, and checks
  every presentation with the reference ``sd_jwt.verifier.SDJWTVerifier`` (issuer signature,
  disclosures, KB-JWT ``aud`` / ``nonce``). Everything it receives is kept in ``posts``.
"""

from __future__ import annotations

import base64
import json
import secrets
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import trustme
from aiohttp import web
from aiohttp.test_utils import TestClient
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, load_pem_private_key
from joserfc import jwe
from joserfc.jwk import ECKey
from jwcrypto.jwk import JWK
from sd_jwt.common import SDObj
from sd_jwt.issuer import SDJWTIssuer
from sd_jwt.verifier import SDJWTVerifier

from holder_api.appkeys import WIRING
from holder_api.serialise.consent import ledger_event
from tests.support.http_api import auth, login, sign_up
from tests.support.vectors import VECTORS
from wallet.clock import SYSTEM_CLOCK, Clock
from wallet.jose import b64url_encode, sign_compact

VCT = "https://credentials.example.edu/micro-credential"


def dcql(*claims: str, qid: str = "degree", vct: str = VCT) -> dict[str, Any]:
    return {"credentials": [{"id": qid, "format": "dc+sd-jwt", "meta": {"vct_values": [vct]},
                             "claims": [{"path": [c]} for c in claims]}]}


@dataclass
class Received:
    form: dict[str, str]
    payload: dict[str, Any]  # decrypted for direct_post.jwt
    disclosed: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    jwt_vps: list[str] = field(default_factory=list)
    ldp_vps: list[dict[str, Any]] = field(default_factory=list)  # ldp_vc: the test checks them


class Peer:
    """One HTTPS server (issuer + verifier) on 127.0.0.1, reachable as ``localhost``."""

    def __init__(self, ca: trustme.CA, tmp: Path) -> None:
        self.ca = ca
        self.cert = ca.issue_cert("localhost")
        self.tmp = tmp
        self.issuer_key = JWK.generate(kty="EC", crv="P-256", kid="issuer-1")
        self.requests: dict[str, Callable[[dict[str, str]], str]] = {}
        self.posts: list[Received] = []
        self.clock: Clock = SYSTEM_CLOCK  # what its credentials and requests are stamped with
        self.enc_key = ECKey.generate_key("P-256", parameters={"kid": "enc-1", "use": "enc",
                                                               "alg": "ECDH-ES"})
        self.expect: dict[str, str] = {}  # aud, nonce of the outstanding request
        leaf = x509.load_pem_x509_certificate(self.cert.cert_chain_pems[0].bytes())
        self.leaf_der = leaf.public_bytes(Encoding.DER)
        key = load_pem_private_key(self.cert.private_key_pem.bytes(), None)
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        self.signing_key = key
        self.port = 0
        self._runner: web.AppRunner | None = None

    # --------------------------------------------------------------------------- server
    async def start(self) -> Peer:
        app = web.Application()
        app.router.add_get("/.well-known/jwt-vc-issuer", self._issuer_metadata)
        app.router.add_route("*", "/req/{id}", self._request_object)
        app.router.add_post("/post", self._post)
        app.router.add_post("/cb", self._post)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.cert.configure_cert(ctx)
        site = web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=ctx)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def base(self) -> str:
        return f"https://localhost:{self.port}"

    async def _issuer_metadata(self, _r: web.Request) -> web.Response:
        return web.json_response({"issuer": self.base,
                                  "jwks": {"keys": [self.issuer_key.export_public(as_dict=True)]}})

    async def _request_object(self, r: web.Request) -> web.Response:
        make = self.requests.get(r.match_info["id"])
        if make is None:
            return web.json_response({"error": "not_found"}, status=404)
        form = dict(await r.post()) if r.method == "POST" else {}
        return web.Response(text=make({k: str(v) for k, v in form.items()}),
                            content_type="application/oauth-authz-req+jwt")

    async def _post(self, r: web.Request) -> web.Response:
        form = {k: str(v) for k, v in (await r.post()).items()}
        if "response" in form:
            payload = json.loads(jwe.decrypt_compact(form["response"], self.enc_key).plaintext
                                 or b"{}")
        else:
            payload = {k: (json.loads(v) if k == "vp_token" else v) for k, v in form.items()}
        got = Received(form, payload)
        for qid, items in (payload.get("vp_token") or {}).items():
            for p in items:
                if isinstance(p, dict):  # a Data Integrity VP (ldp_vc)
                    got.ldp_vps.append(p)
                    continue
                if "~" not in p:  # a JWT VP (jwt_vc_json): the test checks it itself
                    got.jwt_vps.append(p)
                    continue
                try:
                    v = SDJWTVerifier(p, lambda _iss, _hdr: self.issuer_key,
                                      expected_aud=self.expect["aud"],
                                      expected_nonce=self.expect["nonce"])
                    got.disclosed.setdefault(qid, []).append(v.get_verified_payload())
                except Exception as exc:  # noqa: BLE001 - recorded, asserted by the test
                    got.errors.append(repr(exc))
        self.posts.append(got)
        return web.json_response({"redirect_uri": f"{self.base}/done"})

    # --------------------------------------------------------------------------- issuer
    def issue(self, holder_jwk: dict[str, Any], claims: dict[str, Any] | None = None,
              *, vct: str = VCT) -> str:
        now = int(self.clock().timestamp())
        user: dict[Any, Any] = {"iss": self.base, "vct": vct, "iat": now, "exp": now + 86400,
                                "cnf": {"jwk": holder_jwk}}
        for k, v in (claims or {"given_name": "Ada", "family_name": "Lovelace",
                                "degree": "BSc Computing"}).items():
            user[SDObj(k)] = v
        issuer = SDJWTIssuer(user, self.issuer_key, sign_alg="ES256",
                             extra_header_parameters={"typ": "dc+sd-jwt", "kid": "issuer-1"})
        return str(issuer.sd_jwt_issuance)

    # ------------------------------------------------------------------------- verifier
    def run_on(self, clock: Clock) -> None:
        """Stamp credentials and requests with ``clock`` (the app's, when it has a time of its
        own)."""
        self.clock = clock

    @property
    def x5c(self) -> list[str]:
        return [base64.b64encode(self.leaf_der).decode()]

    def claims(self, client_id: str, query: dict[str, Any], **extra: Any) -> dict[str, Any]:
        nonce = secrets.token_urlsafe(12)
        now = int(self.clock().timestamp())
        base = {"client_id": client_id, "response_type": "vp_token",
                "response_mode": "direct_post", "response_uri": f"{self.base}/post",
                "nonce": nonce, "state": secrets.token_urlsafe(8), "dcql_query": query,
                "aud": "https://self-issued.me/v2", "iat": now, "exp": now + 300,
                "client_metadata": {"client_name": "Acme <Hiring>",
                                    "vp_formats_supported": {"dc+sd-jwt": {}}}}
        base.update(extra)
        self.expect = {"aud": client_id, "nonce": str(base.get("nonce"))}
        return {k: v for k, v in base.items() if v is not None}

    def encrypted(self, claims: dict[str, Any]) -> dict[str, Any]:
        """Ask for ``direct_post.jwt`` to our encryption key."""
        pub = {k: v for k, v in self.enc_key.as_dict(private=False).items()}
        return {**claims, "response_mode": "direct_post.jwt", "client_metadata": {
            **claims["client_metadata"], "jwks": {"keys": [pub]},
            "encrypted_response_enc_values_supported": ["A128GCM"]}}

    def sign(self, claims: dict[str, Any], **header: Any) -> str:
        hdr = {"typ": "oauth-authz-req+jwt", "alg": "ES256", "x5c": self.x5c, **header}
        return sign_compact({k: v for k, v in hdr.items() if v is not None}, claims,
                            self.signing_key)

    @staticmethod
    def unsigned(claims: dict[str, Any]) -> str:
        hdr = b64url_encode(json.dumps({"typ": "oauth-authz-req+jwt", "alg": "none"}).encode())
        return f"{hdr}.{b64url_encode(json.dumps(claims).encode())}."

    def serve_request(self, make: Callable[[dict[str, str]], str], *, client_id: str,
                      method: str = "get", host: str | None = None) -> str:
        """Register a request object; return the ``openid4vp://`` link pointing at it."""
        rid = secrets.token_urlsafe(8)
        self.requests[rid] = make
        uri = f"https://{host or 'localhost'}:{self.port}/req/{rid}"
        params = {"client_id": client_id, "request_uri": uri}
        if method == "post":
            params["request_uri_method"] = "post"
        return "openid4vp://?" + urlencode(params)

    def by_value(self, claims: dict[str, Any]) -> str:
        return "openid4vp://?" + urlencode({k: v if isinstance(v, str) else json.dumps(v)
                                            for k, v in claims.items()})


async def holder(client: TestClient[Any, Any], name: str = "ada") -> tuple[str, dict[str, Any]]:
    await sign_up(client, name)
    token = await login(client, name)
    keys = (await (await client.get("/v1/keys", headers=auth(token))).json())["items"]
    es256 = next(k for k in keys if k["alg"] == "ES256")
    jwk = {k: v for k, v in es256["jwk"].items() if k in ("kty", "crv", "x", "y")}
    return token, jwk


async def import_vc(client: TestClient[Any, Any], token: str, raw: str) -> str:
    r = await client.post("/v1/credentials", json={"raw": raw}, headers=auth(token))
    assert r.status == 201, await r.text()
    body = await r.json()
    assert body["verification"]["signature"] == "valid"
    return str(body["id"])


async def intake(client: TestClient[Any, Any], token: str, link: str) -> Any:
    return await client.post("/v1/presentation-requests", json={"request": link},
                             headers=auth(token))


async def ledger(client: TestClient[Any, Any], token: str, kind: str) -> list[dict[str, Any]]:
    services = client.app[WIRING]
    session = await services.accounts.service.authenticate(token)
    page = await services.consent.service.history(
        services.stores.keys.learner_ref(session.learner_id), session.dek, kind=kind)
    return [ledger_event(e) for e in page.items]


OB_SAMPLE = VECTORS / "microcredentials" / "1edtech/ob30/simple-did-key-method.json"


async def share_whole(client: TestClient[Any, Any], token: str,
                 raw: str) -> tuple[dict[str, Any], dict[str, Any], str]:
    """Import ``raw``, share it whole: (the import's verification, the view's JSON, its HTML)."""
    r = await client.post("/v1/credentials", json={"raw": raw}, headers=auth(token))
    assert r.status == 201, await r.text()
    stored = await r.json()
    r = await client.post("/v1/share-links", headers=auth(token),
                          json={"credential_id": stored["id"], "claims": [[]]})
    assert r.status == 201, await r.text()
    url = (await r.json())["url"].split("http://satchel.test", 1)[1]
    r = await client.get(url, headers={"Accept": "application/json"})
    assert r.status == 200, await r.text()
    body = await r.json()
    r = await client.get(url, headers={"Accept": "text/html"})
    assert r.status == 200 and r.content_type == "text/html"
    page = await r.text()
    # the page and the JSON view render the view's one verdict: they never disagree
    assert ("<b>Verified</b>" in page) is body["verdict"]["verified"]
    assert ("<p>Issued by" in page) is body["verdict"]["issuer_confirmed"]
    return stored["verification"], body, page


async def ledger_details(client: TestClient[Any, Any], token: str, kind: str) -> list[dict[str, Any]]:
    """The learner's ledger entries of one kind: the API item plus the sealed ``details``."""
    services = client.app[WIRING]
    session = await services.accounts.service.authenticate(token)
    page = await services.consent.service.history(
        services.stores.keys.learner_ref(session.learner_id), session.dek, kind=kind)
    return [{**ledger_event(e), "details": dict(e.event.details) if e.event else {}}
            for e in page.items]


async def degree_request(client: TestClient[Any, Any],
                         peer: Peer) -> tuple[str, str, dict[str, Any]]:
    """A learner holding one of ``peer``'s credentials, and a signed ``x509_san_dns`` request for
    its ``degree`` taken in: (access token, credential id, the request as the API shows it)."""
    token, jwk = await holder(client)
    cid = await import_vc(client, token, peer.issue(jwk))
    client_id = "x509_san_dns:localhost"
    link = peer.serve_request(lambda f: peer.sign(peer.claims(client_id, dcql("degree"))),
                              client_id=client_id)
    return token, cid, dict(await (await intake(client, token, link)).json())
