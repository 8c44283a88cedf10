"""Test support for the OpenID4VCI wallet client: an independent issuer and a test-only Fetcher.

The issuer is the ``openid4vci`` PyPI package (1.0.0a1) behind a thin aiohttp glue (its bundled
server is FastAPI, which is not in our stack): request/response models, the pre-authorized code
authorization server, nonce and transaction stores, ``jwt`` proof validation and response
encryption all come from the package; SD-JWT VCs are minted with the reference ``sd-jwt`` package.
The glue adds only what the package leaves out: routing, the authorization-code endpoint (PKCE),
refresh tokens (RFC 6749 §6, with rotation; the package's authorization server issues none — this is
the *test peer's* code, not Satchel's), and fault knobs (wrong metadata, 500s, garbage, slowness,
stale nonces, deferred issuance, access tokens revoked early).

It serves HTTPS on 127.0.0.1 with ``trustme`` certificates.

:class:`TestOnlyFetcher` is **TEST-ONLY**: a plain aiohttp client trusting the trustme CA, with
none of the SSRF guards of ``wallet.net.GuardedFetcher``. It takes the same constructor keywords
(``extra_ca_file``, ``timeout``, ``max_bytes``) so the lead can swap in
``GuardedFetcher(allow_hosts=frozenset({"127.0.0.1"}), extra_ca_file=ca_path)``.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import secrets
import ssl
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import aiohttp
import trustme
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import ec
from joserfc.jwk import ECKey
from jwcrypto import jwk as jwcrypto_jwk
from openid4vci.authorization import Grant, InMemoryAuthorizationServer, TokenError
from openid4vci.crypto.encryption import decrypt_credential_request, encrypt_credential_response
from openid4vci.crypto.proofs import validate_jwt_proof
from openid4vci.exceptions import CredentialRequestError
from openid4vci.models.credential import (
    CredentialErrorCode,
    CredentialRequest,
    CredentialResponse,
    IssuedCredential,
)
from openid4vci.models.deferred import DeferredCredentialRequest
from openid4vci.models.metadata import CredentialIssuerMetadata
from openid4vci.models.notification import NotificationRequest
from openid4vci.models.oauth import (
    AuthorizationRequest,
    IssuedAuthorizationDetail,
    TokenRequest,
    TokenResponse,
)
from openid4vci.reference import InMemoryNonceStore, InMemoryTransactionStore
from pydantic import ValidationError
from sd_jwt.common import SDObj
from sd_jwt.issuer import SDJWTIssuer

from wallet.clock import ManualClock
from wallet.errors import FetchRefused, UpstreamError, UpstreamUnavailable
from wallet.jose import public_jwk, sign_raw
from wallet.oid4vci import (
    CredentialResult,
    Deferred,
    IssuanceClient,
    IssuedCredentials,
    ResolvedOffer,
    TokenSet,
)
from wallet.ports import FetchResponse

VCT = "https://credentials.example.edu/micro-credential"
MICRO = "MicroCredential"
DEFERRED = "DeferredMicroCredential"
DENIED = "DeniedCredential"


# --------------------------------------------------------------------------- holder key
class HolderKey:
    """A P-256 holder key with the ProofSigner shape (alg, public_jwk, sign)."""

    def __init__(self) -> None:
        self._key = ec.generate_private_key(ec.SECP256R1())
        self.alg = "ES256"
        self.public_jwk: dict[str, Any] = public_jwk(self._key)

    def sign(self, data: bytes) -> bytes:
        return sign_raw("ES256", self._key, data)


# --------------------------------------------------------------------------- test-only fetcher
class TestOnlyFetcher:
    """TEST-ONLY Fetcher (no SSRF guard!). Same keywords as ``GuardedFetcher``."""

    __test__ = False

    def __init__(self, *, extra_ca_file: Path, timeout: float = 2.0,
                 max_bytes: int = 1 << 20) -> None:
        self._ssl = ssl.create_default_context(cafile=str(extra_ca_file))
        self._timeout = timeout
        self._max_bytes = max_bytes
        self._session: aiohttp.ClientSession | None = None
        self.requests: list[tuple[str, str]] = []

    async def __aenter__(self) -> TestOnlyFetcher:
        self._session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=self._timeout))
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._session is not None:
            await self._session.close()

    async def _request(self, method: str, url: str, *, accept: Sequence[str],
                       headers: Mapping[str, str] | None, max_bytes: int | None,
                       **kwargs: Any) -> FetchResponse:
        if urlsplit(url).scheme != "https":
            raise FetchRefused("only https")
        assert self._session is not None
        cap = min(max_bytes or self._max_bytes, self._max_bytes)
        hdrs = {"Accept": ", ".join(accept), **(headers or {})}
        self.requests.append((method, url))
        try:
            async with self._session.request(method, url, headers=hdrs, ssl=self._ssl,
                                             allow_redirects=False, **kwargs) as resp:
                body = await resp.content.read(cap + 1)
                if len(body) > cap:
                    raise UpstreamError("response too large")
                ctype = (resp.content_type or "").lower()
                if 200 <= resp.status < 300 and body and ctype not in accept:
                    raise UpstreamError("unexpected content type")
                return FetchResponse(str(resp.url), resp.status, ctype, body,
                                     dict(resp.headers))
        except (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError, TimeoutError) as exc:
            raise UpstreamUnavailable("transport failure") from exc  # as GuardedFetcher types it
        except aiohttp.ClientError as exc:
            raise UpstreamError("transport failure") from exc

    async def get(self, url: str, *, accept: Sequence[str] = ("application/json",),
                  headers: Mapping[str, str] | None = None,
                  max_bytes: int | None = None) -> FetchResponse:
        return await self._request("GET", url, accept=accept, headers=headers,
                                   max_bytes=max_bytes)

    async def post_form(self, url: str, data: Mapping[str, str], *,
                        accept: Sequence[str] = ("application/json",),
                        headers: Mapping[str, str] | None = None,
                        max_bytes: int | None = None) -> FetchResponse:
        return await self._request("POST", url, accept=accept, headers=headers,
                                   max_bytes=max_bytes, data=dict(data))

    async def post_bytes(self, url: str, body: bytes, *, content_type: str,
                         accept: Sequence[str] = ("application/json",),
                         headers: Mapping[str, str] | None = None,
                         max_bytes: int | None = None) -> FetchResponse:
        return await self._request("POST", url, accept=accept,
                                   headers={**(headers or {}), "Content-Type": content_type},
                                   max_bytes=max_bytes, data=body)

    async def post_json(self, url: str, body: Any, *,
                        accept: Sequence[str] = ("application/json",),
                        headers: Mapping[str, str] | None = None,
                        max_bytes: int | None = None) -> FetchResponse:
        return await self._request("POST", url, accept=accept, headers=headers,
                                   max_bytes=max_bytes, json=body)


# --------------------------------------------------------------------------- fake clock
class FakeClock(ManualClock):
    """A :class:`~wallet.clock.ManualClock` whose ``sleep`` advances it instantly and records every
    wait; ``now`` is its reading in epoch seconds (what tokens and deferred polls are kept in)."""

    def __init__(self, start: float = 1_750_000_000.0) -> None:
        super().__init__(datetime.fromtimestamp(start, UTC))
        self.sleeps: list[float] = []

    @property
    def now(self) -> float:
        return self().timestamp()

    @now.setter
    def now(self, seconds: float) -> None:
        self.set(datetime.fromtimestamp(seconds, UTC))

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.advance(seconds)


# --------------------------------------------------------------------------- issuer glue
@dataclass
class Knobs:
    """Fault injection for negative tests."""

    metadata_issuer: str | None = None  # credential_issuer to publish instead of the real one
    status: dict[str, int] = field(default_factory=dict)  # route -> forced HTTP status
    garbage: set[str] = field(default_factory=set)  # routes answering non-JSON "JSON"
    delay: dict[str, float] = field(default_factory=dict)  # route -> seconds to stall
    expire_nonces_before_credential: int = 0  # clear the nonce store on the next N requests
    require_encryption: bool = False  # credential_response_encryption.encryption_required
    request_encryption: bool = False  # publish credential_request_encryption (required)
    deferred_interval: int = 5
    deferred_ready_after: float = 12.0  # seconds (issuer clock) after the 202
    oversize: set[str] = field(default_factory=set)  # routes answering a 3 MiB JSON body
    mint_with_other_key: bool = False  # sign credentials with a key the issuer never published
    bind_to_other_key: bool = False  # bind credentials to a key that is not the prover's
    nested_shapes: bool = False  # mint nested, array-element and recursive disclosures (+ decoys)
    refresh_tokens: bool = False  # token responses carry a refresh_token (rotated on each use)
    # route -> (status, content type, body): a raw answer, e.g. a 404 HTML page or a 200 text/html
    raw: dict[str, tuple[int, str, str]] = field(default_factory=dict)
    retry_after: str | None = None  # Retry-After header on the forced ``status`` answers
    deferred_endpoint: str | None = None  # publish this deferred_credential_endpoint instead
    defer_all: bool = False  # every configuration (not only DEFERRED) answers with a transaction
    # transaction id -> (status, content type, body) the deferred endpoint answers for it
    transaction_faults: dict[str, tuple[int, str, str]] = field(default_factory=dict)
    after_deferred: Callable[[], None] | None = None  # called after each deferred answer


@dataclass
class _AuthCode:
    challenge: str
    redirect_uri: str
    client_id: str
    configuration_ids: list[str]


class Issuer:
    """The independent issuer + authorization server (see the module docstring)."""

    def __init__(self, ca: trustme.CA, clock: FakeClock | None = None) -> None:
        self._ca = ca
        self.clock = clock or FakeClock()
        self.knobs = Knobs()
        self.signing_key = jwcrypto_jwk.JWK.generate(kty="EC", crv="P-256", kid="issuer-key-1")
        self.other_key = jwcrypto_jwk.JWK.generate(kty="EC", crv="P-256", kid="issuer-key-1")
        self.request_key = ECKey.generate_key(
            "P-256", parameters={"alg": "ECDH-ES", "kid": "req-1", "use": "enc"}, private=True)
        self.encrypted_requests = 0
        self.nonces = InMemoryNonceStore()
        self.transactions = InMemoryTransactionStore()
        self.notifications: list[NotificationRequest] = []
        self.requests: list[tuple[str, dict[str, Any]]] = []  # (route, parsed body)
        self.deferred_polls: list[float] = []  # issuer clock at each deferred poll
        self.issuer_states: set[str] = set()
        self._codes: dict[str, _AuthCode] = {}
        self._tokens: dict[str, Grant] = {}
        self._deferred_opened: dict[str, float] = {}  # transaction id -> opened at, in order
        self._refresh: dict[str, Grant] = {}  # refresh token -> grant (single use: rotated)
        self.revoked: set[str] = set()  # access tokens the peer refuses from now on
        self.issued_tokens: list[str] = []  # every access and refresh token handed out
        self._release = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.base = ""
        self.auth: InMemoryAuthorizationServer | None = None

    # -- lifecycle
    async def start(self) -> Issuer:
        app = web.Application()
        r = app.router
        r.add_get("/.well-known/openid-credential-issuer/issuer", self._metadata)
        r.add_get("/.well-known/oauth-authorization-server/as", self._as_metadata)
        r.add_get("/.well-known/jwt-vc-issuer/issuer", self._jwt_vc_issuer)
        r.add_get("/offers/{id}", self._offer)
        r.add_get("/as/authorize", self._authorize)
        r.add_post("/as/token", self._token)
        r.add_post("/issuer/nonce", self._nonce)
        r.add_post("/issuer/credential", self._credential)
        r.add_post("/issuer/deferred_credential", self._deferred)
        r.add_post("/issuer/notification", self._notification)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._ca.issue_cert("127.0.0.1", "localhost").configure_cert(ctx)
        site = web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=ctx)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.base = f"https://127.0.0.1:{port}"
        self.auth = InMemoryAuthorizationServer(self.credential_issuer)
        self.offers: dict[str, dict[str, Any]] = {}
        return self

    async def close(self) -> None:
        self._release.set()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def credential_issuer(self) -> str:
        return self.base + "/issuer"

    @property
    def as_issuer(self) -> str:
        return self.base + "/as"

    # -- offers (the issuer's own business, created in-process)
    def make_pre_authorized_offer(self, ids: Sequence[str] = (MICRO,),
                                  tx_code: str | None = None) -> dict[str, Any]:
        assert self.auth is not None
        offer, _code = self.auth.offer("learner-1", list(ids), tx_code=tx_code,
                                       tx_code_description="Code from the e-mail")
        return offer.to_dict()

    def make_authorization_code_offer(self, ids: Sequence[str] = (MICRO,)) -> dict[str, Any]:
        state = secrets.token_urlsafe(16)
        self.issuer_states.add(state)
        return {"credential_issuer": self.credential_issuer,
                "credential_configuration_ids": list(ids),
                "grants": {"authorization_code": {"issuer_state": state}}}

    def publish_offer(self, offer: Mapping[str, Any]) -> str:
        oid = secrets.token_urlsafe(8)
        self.offers[oid] = dict(offer)
        return f"{self.base}/offers/{oid}"

    def metadata_document(self) -> dict[str, Any]:
        def config(name: str) -> dict[str, Any]:
            return {
                "format": "dc+sd-jwt", "vct": VCT, "scope": name.lower(),
                "cryptographic_binding_methods_supported": ["jwk"],
                "credential_signing_alg_values_supported": ["ES256"],
                "proof_types_supported": {"jwt": {"proof_signing_alg_values_supported":
                                                  ["ES256"]}},
                "credential_metadata": {"display": [{"name": f"{name} (test)", "locale": "en"}]},
            }

        doc: dict[str, Any] = {
            "credential_issuer": self.credential_issuer,
            "authorization_servers": [self.as_issuer],
            "credential_endpoint": self.credential_issuer + "/credential",
            "nonce_endpoint": self.credential_issuer + "/nonce",
            "deferred_credential_endpoint": (self.knobs.deferred_endpoint
                                             or self.credential_issuer + "/deferred_credential"),
            "notification_endpoint": self.credential_issuer + "/notification",
            "batch_credential_issuance": {"batch_size": 4},
            "display": [{"name": "Test University", "locale": "en"}],
            "credential_configurations_supported": {n: config(n) for n in (MICRO, DEFERRED,
                                                                          DENIED)},
        }
        if self.knobs.require_encryption:
            doc["credential_response_encryption"] = {
                "alg_values_supported": ["ECDH-ES"], "enc_values_supported": ["A128GCM"],
                "encryption_required": True}
        if self.knobs.request_encryption:
            doc["credential_request_encryption"] = {
                "jwks": {"keys": [self.request_key.as_dict(private=False)]},
                "enc_values_supported": ["A128GCM"], "encryption_required": True}
        # The package's model is the judge of what a valid metadata document is.
        return CredentialIssuerMetadata.model_validate(doc).to_dict()

    # -- helpers
    async def _faults(self, route: str) -> web.Response | None:
        if route in self.knobs.delay:
            try:
                await asyncio.wait_for(self._release.wait(), self.knobs.delay[route])
            except TimeoutError:
                pass
        if route in self.knobs.status:
            headers = {} if self.knobs.retry_after is None else {
                "Retry-After": self.knobs.retry_after}
            return web.json_response({"error": "server_error"}, status=self.knobs.status[route],
                                     headers=headers)
        if route in self.knobs.raw:
            status, ctype, text = self.knobs.raw[route]
            return web.Response(text=text, status=status, content_type=ctype)
        if route in self.knobs.garbage:
            return web.Response(text="<html>{not json", content_type="application/json")
        if route in self.knobs.oversize:
            return web.json_response({"padding": "x" * (3 << 20)})
        return None

    @staticmethod
    def _error(code: Any, status: int = 400) -> web.Response:
        value = code.value if hasattr(code, "value") else str(code)
        return web.json_response({"error": value, "error_description": "see spec"},
                                 status=status, headers={"Cache-Control": "no-store"})

    async def _body(self, request: web.Request) -> dict[str, Any]:
        """The JSON request, decrypted by the package when it arrives as a JWE (§10)."""
        if request.content_type == "application/jwt":
            self.encrypted_requests += 1
            return decrypt_credential_request(await request.text(), self.request_key)
        if self.knobs.request_encryption:
            raise CredentialRequestError(CredentialErrorCode.INVALID_ENCRYPTION_PARAMETERS,
                                         "requests must be encrypted")
        body = await request.json()
        assert isinstance(body, dict)
        return body

    def _grant_for(self, request: web.Request) -> Grant | None:
        auth = request.headers.get("Authorization", "")
        if not auth.startswith("Bearer "):
            return None
        token = auth[len("Bearer "):]
        assert self.auth is not None
        if token in self.revoked:
            return None
        return self.auth.grant_for(token) or self._tokens.get(token)

    def revoke_access_tokens(self) -> None:
        """Refuse every access token issued so far (as if they had expired at the peer)."""
        self.revoked.update(t for t in self.issued_tokens if t not in self._refresh)

    def forget_refresh_tokens(self) -> None:
        """Refuse every refresh token issued so far (``invalid_grant``)."""
        self._refresh.clear()

    def _with_refresh(self, body: dict[str, Any], grant: Grant) -> dict[str, Any]:
        """Record the access token; add a refresh token when the knob asks for one."""
        self.issued_tokens.append(body["access_token"])
        if self.knobs.refresh_tokens:
            refresh = secrets.token_urlsafe(32)
            self._refresh[refresh] = grant
            self.issued_tokens.append(refresh)
            body["refresh_token"] = refresh
        return body

    def _refresh_grant(self, form: Mapping[str, Any]) -> web.Response:
        """RFC 6749 §6: a new access token (and a rotated refresh token) for a refresh token."""
        grant = self._refresh.pop(str(form.get("refresh_token", "")), None)
        if grant is None:
            return self._error("invalid_grant")
        token = secrets.token_urlsafe(32)
        self._tokens[token] = grant
        body = self._with_refresh({"access_token": token, "token_type": "Bearer",
                                   "expires_in": 600}, grant)
        return web.json_response(body, headers={"Cache-Control": "no-store"})

    def _mint(self, holder_jwk: Mapping[str, Any]) -> str:
        if self.knobs.bind_to_other_key:
            holder_jwk = HolderKey().public_jwk
        claims: dict[Any, Any] = {
            "iss": self.credential_issuer, "vct": VCT, "iat": int(time.time()),
            SDObj("given_name"): "Ada", SDObj("achievement"): "Data literacy (5 ECTS)"}
        if self.knobs.nested_shapes:
            claims.update({
                "address": {SDObj("locality"): "Ghent", "country": "BE"},  # nested
                SDObj("learning_outcomes"): [SDObj("statistics"), "visualisation",
                                             SDObj("ethics")],  # recursive + array elements
                SDObj("assessment"): {SDObj("grade"): "A", SDObj("method"): "exam"},  # recursive
            })
        issuer = SDJWTIssuer(
            claims,
            self.other_key if self.knobs.mint_with_other_key else self.signing_key,
            holder_key=jwcrypto_jwk.JWK(**holder_jwk),
            sign_alg="ES256",
            add_decoy_claims=self.knobs.nested_shapes,
            extra_header_parameters={"typ": "dc+sd-jwt", "kid": "issuer-key-1"},
        )
        return issuer.sd_jwt_issuance

    # -- routes
    async def _metadata(self, request: web.Request) -> web.Response:
        if (fault := await self._faults("metadata")) is not None:
            return fault
        doc = self.metadata_document()
        if self.knobs.metadata_issuer is not None:
            doc["credential_issuer"] = self.knobs.metadata_issuer
        return web.json_response(doc)

    async def _jwt_vc_issuer(self, request: web.Request) -> web.Response:
        """SD-JWT VC issuer metadata (draft-ietf-oauth-sd-jwt-vc §4): the key that signs."""
        return web.json_response({"issuer": self.credential_issuer, "jwks": {
            "keys": [self.signing_key.export_public(as_dict=True)]}})

    async def _as_metadata(self, request: web.Request) -> web.Response:
        if (fault := await self._faults("as_metadata")) is not None:
            return fault
        return web.json_response({
            "issuer": self.as_issuer,
            "authorization_endpoint": self.as_issuer + "/authorize",
            "token_endpoint": self.as_issuer + "/token",
            "response_types_supported": ["code"],
            "code_challenge_methods_supported": ["S256"],
            "pre-authorized_grant_anonymous_access_supported": True,
        })

    async def _offer(self, request: web.Request) -> web.Response:
        if (fault := await self._faults("offer")) is not None:
            return fault
        offer = self.offers.get(request.match_info["id"])
        if offer is None:
            raise web.HTTPNotFound()
        return web.json_response(offer)

    async def _authorize(self, request: web.Request) -> web.Response:
        q = request.query
        self.requests.append(("authorize", dict(q)))
        details = json.loads(q["authorization_details"]) if "authorization_details" in q else None
        areq = AuthorizationRequest.model_validate(
            {"issuer_state": q.get("issuer_state"), "scope": q.get("scope"),
             "authorization_details": details})
        if (q.get("response_type") != "code" or q.get("code_challenge_method") != "S256"
                or areq.issuer_state not in self.issuer_states):
            return self._error("invalid_request")
        if areq.authorization_details:
            ids = [d.credential_configuration_id for d in areq.authorization_details]
        else:
            scopes = (areq.scope or "").split()
            ids = [n for n in (MICRO, DEFERRED, DENIED) if n.lower() in scopes]
        code = secrets.token_urlsafe(16)
        self._codes[code] = _AuthCode(q["code_challenge"], q["redirect_uri"], q["client_id"], ids)
        location = q["redirect_uri"] + "?" + urlencode({"code": code, "state": q["state"]})
        raise web.HTTPFound(location)

    async def _token(self, request: web.Request) -> web.Response:
        if (fault := await self._faults("token")) is not None:
            return fault
        form = dict(await request.post())
        self.requests.append(("token", {k: str(v) for k, v in form.items()}))
        if form.get("grant_type") == "refresh_token":
            return self._refresh_grant(form)
        try:
            treq = TokenRequest.model_validate(form)
        except ValidationError:
            return self._error("invalid_request")
        assert self.auth is not None
        if treq.grant_type != "authorization_code":
            try:
                resp = self.auth.redeem(treq)
            except TokenError as err:
                return self._error(err.code)
            grant = self.auth.grant_for(resp.access_token)
            assert grant is not None
            return web.json_response(self._with_refresh(resp.to_dict(), grant),
                                     headers={"Cache-Control": "no-store"})
        stored = self._codes.pop(treq.code or "", None)
        verifier = (treq.code_verifier or "").encode()
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier).digest()).rstrip(b"=")
        if (stored is None or challenge.decode() != stored.challenge
                or treq.redirect_uri != stored.redirect_uri
                or treq.client_id != stored.client_id):
            return self._error("invalid_grant")
        token = secrets.token_urlsafe(32)
        idents = {c: [f"{c}-{secrets.token_urlsafe(6)}"] for c in stored.configuration_ids}
        self._tokens[token] = Grant(stored.client_id, stored.configuration_ids, idents,
                                    expires_at=time.time() + 600)
        body = TokenResponse(
            access_token=token, token_type="Bearer", expires_in=600,
            authorization_details=[IssuedAuthorizationDetail(credential_configuration_id=c,
                                                             credential_identifiers=i)
                                   for c, i in idents.items()])
        return web.json_response(self._with_refresh(body.to_dict(), self._tokens[token]),
                                 headers={"Cache-Control": "no-store"})

    async def _nonce(self, request: web.Request) -> web.Response:
        self.requests.append(("nonce", {}))
        if (fault := await self._faults("nonce")) is not None:
            return fault
        return web.json_response({"c_nonce": self.nonces.issue()},
                                 headers={"Cache-Control": "no-store"})

    def _check_proofs(self, creq: CredentialRequest, grant: Grant) -> list[dict[str, Any]]:
        proofs = (creq.proofs or {}).get("jwt")
        if not proofs:
            raise CredentialRequestError(CredentialErrorCode.INVALID_PROOF, "no jwt proofs")
        if len(proofs) > 4:
            raise CredentialRequestError(CredentialErrorCode.INVALID_CREDENTIAL_REQUEST,
                                         "batch too large")
        keys, used = [], set()
        for proof in proofs:
            payload = proof.split(".")[1]
            claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
            nonce = claims.get("nonce")
            if not isinstance(nonce, str) or not self.nonces.is_current(nonce):
                raise CredentialRequestError(CredentialErrorCode.INVALID_NONCE, "stale nonce")
            result = validate_jwt_proof(proof, credential_issuer=self.credential_issuer,
                                        c_nonce=nonce, supported_algorithms=["ES256"],
                                        client_id=grant.subject)
            keys.append(result.bound_key)
            used.add(nonce)
        for nonce in used:
            self.nonces.consume(nonce)
        return keys

    def _respond(self, creq: CredentialRequest | DeferredCredentialRequest,
                 resp: CredentialResponse) -> web.Response:
        status = 202 if resp.transaction_id is not None else 200
        enc = creq.credential_response_encryption
        if enc is not None:
            return web.Response(text=encrypt_credential_response(resp, enc), status=status,
                                content_type="application/jwt")
        if self.knobs.require_encryption:
            return self._error(CredentialErrorCode.INVALID_ENCRYPTION_PARAMETERS)
        return web.json_response(resp.to_dict(), status=status)

    async def _credential(self, request: web.Request) -> web.Response:
        if (fault := await self._faults("credential")) is not None:
            return fault
        grant = self._grant_for(request)
        if grant is None:
            return web.json_response({"error": "invalid_token"}, status=401, headers={
                "WWW-Authenticate": 'Bearer error="invalid_token"'})
        try:
            payload = await self._body(request)
        except CredentialRequestError as err:
            return self._error(err.code)
        self.requests.append(("credential", payload))
        try:
            creq = CredentialRequest.model_validate(payload)
        except ValidationError:
            return self._error(CredentialErrorCode.INVALID_CREDENTIAL_REQUEST)
        if creq.credential_identifier is not None:
            cid = next((c for c, ids in grant.credential_identifiers.items()
                        if creq.credential_identifier in ids), None)
            if cid is None:
                return self._error(CredentialErrorCode.UNKNOWN_CREDENTIAL_IDENTIFIER)
        else:
            cid = creq.credential_configuration_id
            if cid not in grant.credential_configuration_ids:
                return self._error(CredentialErrorCode.UNKNOWN_CREDENTIAL_CONFIGURATION)
        if cid == DENIED:
            return self._error(CredentialErrorCode.CREDENTIAL_REQUEST_DENIED)
        if self.knobs.expire_nonces_before_credential > 0:
            self.knobs.expire_nonces_before_credential -= 1
            self.nonces = InMemoryNonceStore()
        try:
            keys = self._check_proofs(creq, grant)
        except CredentialRequestError as err:
            return self._error(err.code)
        if cid == DEFERRED or self.knobs.defer_all:
            tid = self.transactions.open(keys)
            self._deferred_opened[tid] = self.clock.now
            return self._respond(creq, CredentialResponse(
                transaction_id=tid, interval=self.knobs.deferred_interval))
        return self._respond(creq, CredentialResponse(
            credentials=[IssuedCredential(credential=self._mint(k)) for k in keys],
            notification_id=secrets.token_urlsafe(12)))

    @property
    def transaction_ids(self) -> list[str]:
        """Every deferred transaction opened so far, oldest first."""
        return list(self._deferred_opened)

    async def _deferred(self, request: web.Request) -> web.Response:
        answer = await self._deferred_answer(request)
        if self.knobs.after_deferred is not None:
            self.knobs.after_deferred()
        return answer

    async def _deferred_answer(self, request: web.Request) -> web.Response:
        if (fault := await self._faults("deferred")) is not None:
            return fault
        if self._grant_for(request) is None:
            return web.json_response({"error": "invalid_token"}, status=401)
        try:
            payload = await self._body(request)
        except CredentialRequestError as err:
            return self._error(err.code)
        self.requests.append(("deferred", payload))
        self.deferred_polls.append(self.clock.now)
        try:
            dreq = DeferredCredentialRequest.model_validate(payload)
        except ValidationError:
            return self._error(CredentialErrorCode.INVALID_CREDENTIAL_REQUEST)
        if dreq.transaction_id in self.knobs.transaction_faults:
            status, ctype, text = self.knobs.transaction_faults[dreq.transaction_id]
            return web.Response(text=text, status=status, content_type=ctype)
        keys = self.transactions.payload(dreq.transaction_id)
        if keys is None:
            return self._error("invalid_transaction_id")
        opened = self._deferred_opened[dreq.transaction_id]
        if self.clock.now < opened + self.knobs.deferred_ready_after:
            return self._respond(dreq, CredentialResponse(
                transaction_id=dreq.transaction_id, interval=self.knobs.deferred_interval))
        self.transactions.close(dreq.transaction_id)
        return self._respond(dreq, CredentialResponse(
            credentials=[IssuedCredential(credential=self._mint(k)) for k in keys],
            notification_id=secrets.token_urlsafe(12)))

    async def _notification(self, request: web.Request) -> web.Response:
        if self._grant_for(request) is None:
            return web.json_response({"error": "invalid_token"}, status=401)
        try:
            note = NotificationRequest.model_validate(await request.json())
        except ValidationError:
            return self._error("invalid_notification_request")
        self.notifications.append(note)
        return web.Response(status=204)


# --------------------------------------------------------------------------- deferred
async def collect_deferred(client: IssuanceClient, resolved: ResolvedOffer, token: TokenSet,
                           deferred: Deferred, *, max_polls: int = 10) -> CredentialResult:
    """Poll (respecting ``interval``, refreshing the token) until issued or out of polls.

    Satchel itself polls once per learner action (:mod:`wallet.receive.offers`); the loop is the
    tests' way to reach the end of a deferred issuance."""
    result: CredentialResult = deferred
    for _ in range(max_polls):
        assert isinstance(result, Deferred)
        result, token = await client.poll_deferred_refreshing(resolved, token, result)
        if isinstance(result, IssuedCredentials):
            return result
    return result
