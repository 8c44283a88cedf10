"""End to end against an independent OpenID4VP verifier: ``polaris-oid4vp`` (PyPI), serving its
own ``request_uri`` and ``response_uri`` over HTTPS on 127.0.0.1 (trustme certificate for
``localhost``). It uses the ``x509_hash:`` client id, ``request_uri_method=post`` (so our
``wallet_nonce`` must come back) and ``direct_post.jwt`` (the response encrypted to its per-request
key), verifies the issuer signature, the disclosures and the KB-JWT (``aud`` = its client_id,
``nonce``), and refuses over-disclosure — on both backends."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
import trustme
from aiohttp.test_utils import TestClient
from polaris_oid4vp.serve import serve
from polaris_oid4vp.verifier import Verifier

from tests.holder_api.present_support import VCT, Peer, holder, import_vc, intake, ledger
from tests.support.apps import AppFactory
from tests.support.http_api import auth


class Polaris:
    def __init__(self, ca: trustme.CA, tmp: Path) -> None:
        cert = ca.issue_cert("localhost")
        self.pem = tmp / "polaris.pem"
        cert.private_key_and_cert_chain_pem.write_to_path(str(self.pem))
        self.cert_pem = cert.cert_chain_pems[0].bytes()
        self.key_pem = cert.private_key_pem.bytes()
        self.verdicts: list[tuple[int, dict[str, Any], Any]] = []
        self.httpd: Any = None

    def start(self, issuer_jwk: dict[str, Any], claims: tuple[str, ...]) -> Verifier:
        # bind to loopback only; the port is known once bound, the verifier is made after
        self.httpd = serve(None, host="127.0.0.1", port=0, certfile=str(self.pem),
                           on_verdict=lambda s, b, v: self.verdicts.append((s, b, v)))
        port = self.httpd.server_address[1]
        verifier = Verifier(client_cert_pem=self.cert_pem, client_key_pem=self.key_pem,
                            request_uri=f"https://localhost:{port}/request.jwt",
                            response_uri=f"https://localhost:{port}/response",
                            issuer_jwks=[issuer_jwk], vct_values=(VCT,), claims=claims)
        self.httpd.RequestHandlerClass.verifier = verifier
        return verifier

    def stop(self) -> None:
        if self.httpd is not None:
            self.httpd.shutdown()
            self.httpd.server_close()


@pytest.fixture
def polaris(ca: trustme.CA, tmp_path: Path) -> Iterator[Polaris]:
    p = Polaris(ca, tmp_path)
    yield p
    p.stop()


async def test_polaris_x509_hash_request_uri_post_direct_post_jwt(
        make_client: AppFactory, ca: trustme.CA, tmp_path: Path, polaris: Polaris) -> None:
    ca_path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_path))
    app: TestClient[Any, Any] = await make_client(SATCHEL_FETCH_ALLOW_HOSTS="localhost",
                                                  SATCHEL_EXTRA_CA_FILE=str(ca_path),
                                                  SATCHEL_X5C_ANCHORS_FILE=str(ca_path))
    issuer = await Peer(ca, tmp_path).start()
    try:
        token, jwk = await holder(app)
        cid = await import_vc(app, token, issuer.issue(jwk))
        verifier = polaris.start(issuer.issuer_key.export_public(as_dict=True),
                                 ("given_name", "family_name"))
        session, _jar = verifier.new_request()
        link = "openid4vp://?" + urlencode(verifier.authorization_request_params(session))
        r = await intake(app, token, link)
        assert r.status == 201, await r.text()
        req = await r.json()
        assert req["verifier"]["client_id"] == verifier.client_id
        assert req["verifier"]["client_id"].startswith("x509_hash:")
        assert req["verifier"]["authenticated"] is True and req["satisfiable"] is True
        [opt] = req["queries"][0]["options"]
        assert {tuple(c["path"]) for c in opt["claims"]} == {("given_name",), ("family_name",)}
        assert polaris.verdicts == []
        r = await app.post(f"/v1/presentation-requests/{req['id']}/respond",
                           json={"choices": {req["queries"][0]["id"]: cid}}, headers=auth(token))
        assert r.status == 200, await r.text()
        body = await r.json()
        [(status, answer, verdict)] = polaris.verdicts
        assert status == 200 and verdict.authentic, (verdict.code, verdict.reason)
        assert verdict.claims["given_name"] == "Ada" and verdict.claims["family_name"] == "Lovelace"
        assert "degree" not in verdict.claims  # exactly the chosen claims, nothing more
        [event] = await ledger(app, token, "presentation_sent")
        assert event["counterparty"] == verifier.client_id
        assert body == {"status": "sent", "redirect_uri": answer["redirect_uri"],
                        "event_id": event["id"]}
    finally:
        await issuer.close()
