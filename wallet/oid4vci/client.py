"""The wallet-side OpenID4VCI 1.0 client: offer → metadata → token → nonce → credential.

https://openid.net/specs/openid-4-verifiable-credential-issuance-1_0.html — §4 (offer), §5
(authorization request, PKCE per RFC 7636), §6 (token endpoint, pre-authorized code and
``tx_code``), §7 (nonce endpoint), §8 (credential endpoint, ``proofs``), §9 (deferred), §10
(response encryption), §11 (notification), §12 (metadata); RFC 6749 §6 (refreshing an access
token, which OpenID4VCI 1.0 §6 leaves to OAuth) for deferred issuance that outlives the token.

Why it is shaped like this: each step is one method whose inputs and outputs are persistable
dataclasses (:mod:`wallet.oid4vci.models`), because the service layer spans several HTTP requests
(accept → authorization callback → deferred poll) and seals the state in between. The network is
reached only through :class:`wallet.ports.Fetcher`; time through an injected ``clock`` and
``sleep`` so deferred polling can be proven never to run faster than ``interval``. Tokens, codes
and tx_codes never appear in exception details.
"""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import json
import secrets
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Literal
from urllib.parse import parse_qs, urlencode, urlsplit

from wallet.clock import SYSTEM_CLOCK, Clock
from wallet.crypto import same_text
from wallet.errors import BadInput, UpstreamError, UpstreamUnavailable
from wallet.jose import b64url_encode
from wallet.jsontext import parse_json_object
from wallet.numbers import finite_number
from wallet.oid4vci.encryption import (
    EphemeralEncryptionKey,
    encrypt_request,
    new_response_encryption,
)
from wallet.oid4vci.errors import (
    AccessDenied,
    AuthorizationStateMismatch,
    ExpiredToken,
    InvalidCredentialOffer,
    InvalidCredentialResponse,
    InvalidIssuerMetadata,
    InvalidNonce,
    InvalidToken,
    IssuancePending,
    TxCodeRequired,
    error_for_code,
)
from wallet.oid4vci.metadata import fetch_as_metadata, fetch_issuer_metadata
from wallet.oid4vci.models import (
    AuthorizationStart,
    Deferred,
    IssuedCredentials,
    ResolvedOffer,
    TokenSet,
)
from wallet.oid4vci.offer import (
    GRANT_AUTHORIZATION_CODE,
    GRANT_PRE_AUTHORIZED_CODE,
    MAX_TX_CODE_LENGTH,
    load_offer,
)
from wallet.oid4vci.proof import ProofSigner, build_proof_jwt
from wallet.ports import Fetcher, FetchResponse

__all__ = [
    "CredentialResult",
    "IssuanceClient",
    "NotificationEvent",
    "OnRefreshed",
    "ProofFactory",
    "Sleep",
    "parse_authorization_callback",
]

Sleep = Callable[[float], Awaitable[None]]
#: Rebuilds the proofs for a fresh ``c_nonce`` (the one retry after ``invalid_nonce``).
ProofFactory = Callable[[str | None], Sequence[str] | Awaitable[Sequence[str]]]
CredentialResult = IssuedCredentials | Deferred
#: Keeps a refreshed token set (e.g. seals it into the offer record) before it is used.
OnRefreshed = Callable[[TokenSet], Awaitable[None]]
NotificationEvent = Literal["credential_accepted", "credential_failure", "credential_deleted"]

MAX_RESPONSE_BYTES = 2 * 1024 * 1024
MAX_SMALL_RESPONSE_BYTES = 64 * 1024
MAX_INTERVAL = 24 * 3600
#: The longest access-token lifetime taken from a token response's ``expires_in`` (about three
#: years); a longer, non-finite, zero or negative one is treated as absent (RFC 6749 §5.1 makes it
#: optional): ``now + 10**400`` would otherwise raise OverflowError (a 500, audit F11).
MAX_EXPIRES_IN = 10**8
#: Refresh this many seconds before ``expires_in`` runs out (a request in flight must not expire).
EXPIRY_MARGIN = 5.0
GRANT_REFRESH_TOKEN = "refresh_token"
_CREDENTIAL_ACCEPT = ("application/json", "application/jwt")


def _pkce_challenge(verifier: str) -> str:
    return b64url_encode(hashlib.sha256(verifier.encode("ascii")).digest())


def _error_code(resp: FetchResponse) -> str | None:
    """The spec ``error`` code of an error response (body, else WWW-Authenticate)."""
    if resp.content_type == "application/json":
        try:
            body = json.loads(resp.body)
        except (ValueError, UnicodeDecodeError, RecursionError):
            body = None
        if isinstance(body, Mapping) and isinstance(body.get("error"), str):
            return str(body["error"])
    www = next((v for k, v in resp.headers.items() if k.lower() == "www-authenticate"), "")
    if 'error="' in www:
        return www.split('error="', 1)[1].split('"', 1)[0]
    return None


def _retry_after(resp: FetchResponse) -> int | None:
    """The ``Retry-After`` delta-seconds (RFC 9110 §10.2.3), bounded; an HTTP-date is ignored."""
    value = next((v for k, v in resp.headers.items() if k.lower() == "retry-after"), "").strip()
    if not value.isascii() or not value.isdigit() or len(value) > 9:
        return None
    return min(int(value), MAX_INTERVAL)


def _raise_for_error(resp: FetchResponse, where: str) -> None:
    """The typed error for a non-success answer.

    5xx and 429 are :class:`UpstreamUnavailable` whatever their body says (the issuer is down or
    overloaded: a deferred poll retries later); a 4xx with a spec error code is that code's
    error; any other status is a plain :class:`UpstreamError` (the issuer answered wrong)."""
    if resp.status >= 500 or resp.status == 429:
        raise UpstreamUnavailable(f"{where} answered with HTTP {resp.status}",
                                  retry_after=_retry_after(resp))
    code = _error_code(resp)
    if code is not None and 400 <= resp.status < 500:
        raise error_for_code(code, where)
    if resp.status == 401:
        raise InvalidToken(f"{where} refused the access token")
    raise UpstreamError(f"{where} answered with HTTP {resp.status}")


def _json_object(resp: FetchResponse, where: str) -> dict[str, Any]:
    if resp.content_type != "application/json":
        raise InvalidCredentialResponse(f"{where} did not answer with JSON")
    return parse_json_object(resp.body,
                             InvalidCredentialResponse(f"{where} answered with invalid JSON"),
                             InvalidCredentialResponse(f"{where} answered with a non-object"))


def parse_authorization_callback(url: str) -> tuple[str, str]:
    """``(code, state)`` from the redirect back to the wallet (RFC 6749 §4.1.2).

    An ``error`` parameter raises :class:`AccessDenied` (or the typed error for its code).
    """
    try:
        query = parse_qs(urlsplit(url).query, max_num_fields=32)
    except ValueError as exc:
        raise BadInput("authorization callback is malformed") from exc
    if "error" in query:
        code = query["error"][0]
        if code == "access_denied":
            raise AccessDenied("the authorization server denied the request")
        raise error_for_code(code, "authorization endpoint")
    codes, states = query.get("code", []), query.get("state", [])
    if len(codes) != 1 or len(states) != 1:
        raise BadInput("authorization callback needs exactly one code and one state")
    return codes[0], states[0]


class IssuanceClient:
    """Wallet-side OpenID4VCI 1.0 steps; stateless apart from its ports."""

    def __init__(self, fetcher: Fetcher, *, clock: Clock = SYSTEM_CLOCK,
                 sleep: Sleep = asyncio.sleep) -> None:
        self._fetcher = fetcher
        self._clock = clock
        self._sleep = sleep

    def _now(self) -> float:
        """Seconds since the epoch: token expiry and deferred polls are kept in these."""
        return self._clock().timestamp()

    # ---------------------------------------------------------------- §4, §12 offer + metadata
    async def resolve_offer(self, offer_input: str | Mapping[str, Any]) -> ResolvedOffer:
        """Parse (or fetch) the offer, then the issuer's and the AS's metadata."""
        offer = await load_offer(self._fetcher, offer_input)
        issuer = await fetch_issuer_metadata(self._fetcher, offer.credential_issuer)
        unknown = [c for c in offer.credential_configuration_ids if c not in issuer.configurations]
        if unknown:
            raise InvalidCredentialOffer("the offer names configurations the issuer does not list")
        grant_as = None
        if offer.pre_authorized_code is not None:
            grant_as = offer.pre_authorized_code.authorization_server
        elif offer.authorization_code is not None:
            grant_as = offer.authorization_code.authorization_server
        if grant_as is not None:
            if grant_as not in issuer.authorization_servers:
                raise InvalidCredentialOffer(
                    "the offer's authorization_server is not one the issuer lists")
            as_id = grant_as
        elif issuer.authorization_servers:
            as_id = issuer.authorization_servers[0]
        else:
            as_id = issuer.credential_issuer  # §12.2.4: the issuer is its own AS
        auth_server = await fetch_as_metadata(self._fetcher, as_id)
        return ResolvedOffer(offer, issuer, auth_server)

    # ---------------------------------------------------------------- §6 token endpoint
    async def token_pre_authorized(self, resolved: ResolvedOffer, tx_code: str | None = None, *,
                                   client_id: str | None = None) -> TokenSet:
        """Redeem the offer's pre-authorized code; ``tx_code`` is sent iff the offer asks for it."""
        grant = resolved.offer.pre_authorized_code
        if grant is None:
            raise BadInput("the offer has no pre-authorized code grant")
        form = {"grant_type": GRANT_PRE_AUTHORIZED_CODE,
                "pre-authorized_code": grant.pre_authorized_code}
        if grant.tx_code is not None:
            if not tx_code:
                raise TxCodeRequired("this offer requires the transaction code")
            if len(tx_code) > MAX_TX_CODE_LENGTH:
                raise BadInput("transaction code is too long")
            form["tx_code"] = tx_code
        if client_id is not None:
            form["client_id"] = client_id
        return await self._token(resolved, form, client_id)

    def start_authorization(self, resolved: ResolvedOffer, *, redirect_uri: str, client_id: str,
                            configuration_ids: Sequence[str] | None = None,
                            use_scope: bool = False) -> AuthorizationStart:
        """The authorization URL (PKCE S256, ``issuer_state`` echoed) and the state to keep."""
        endpoint = resolved.auth_server.authorization_endpoint
        if endpoint is None:
            raise InvalidIssuerMetadata("the authorization server has no authorization_endpoint")
        if resolved.auth_server.require_pushed_authorization_requests:
            raise InvalidIssuerMetadata(
                "the authorization server requires PAR: use start_authorization_pushed")
        start, params = self._authorization_params(resolved, redirect_uri, client_id,
                                                   configuration_ids, use_scope, endpoint)
        sep = "&" if urlsplit(endpoint).query else "?"
        return _with_url(start, endpoint + sep + urlencode(params))

    async def start_authorization_pushed(
        self, resolved: ResolvedOffer, *, redirect_uri: str, client_id: str,
        configuration_ids: Sequence[str] | None = None, use_scope: bool = False,
    ) -> AuthorizationStart:
        """As :meth:`start_authorization`, through RFC 9126 PAR when the AS offers it."""
        par = resolved.auth_server.pushed_authorization_request_endpoint
        endpoint = resolved.auth_server.authorization_endpoint
        if par is None or endpoint is None:
            return self.start_authorization(resolved, redirect_uri=redirect_uri,
                                            client_id=client_id,
                                            configuration_ids=configuration_ids,
                                            use_scope=use_scope)
        start, params = self._authorization_params(resolved, redirect_uri, client_id,
                                                   configuration_ids, use_scope, endpoint)
        resp = await self._fetcher.post_form(par, params, max_bytes=MAX_SMALL_RESPONSE_BYTES)
        if resp.status not in (200, 201):
            _raise_for_error(resp, "pushed authorization request endpoint")
        data = _json_object(resp, "pushed authorization request endpoint")
        request_uri = data.get("request_uri")
        if not isinstance(request_uri, str) or not request_uri:
            raise InvalidCredentialResponse("PAR response has no request_uri")
        sep = "&" if urlsplit(endpoint).query else "?"
        return _with_url(start, endpoint + sep + urlencode({"client_id": client_id,
                                                            "request_uri": request_uri}))

    def _authorization_params(
        self, resolved: ResolvedOffer, redirect_uri: str, client_id: str,
        configuration_ids: Sequence[str] | None, use_scope: bool, endpoint: str,
    ) -> tuple[AuthorizationStart, dict[str, str]]:
        offer = resolved.offer
        ids = tuple(configuration_ids or offer.credential_configuration_ids)
        if not ids or any(c not in offer.credential_configuration_ids for c in ids):
            raise BadInput("configuration_ids must be among the offered ones")
        verifier = secrets.token_urlsafe(48)
        state = secrets.token_urlsafe(24)
        params = {"response_type": "code", "client_id": client_id, "redirect_uri": redirect_uri,
                  "state": state, "code_challenge": _pkce_challenge(verifier),
                  "code_challenge_method": "S256"}
        configs = [resolved.issuer.configurations[c] for c in ids]
        if use_scope:
            scopes = [c.scope for c in configs]
            if any(s is None for s in scopes):
                raise BadInput("not every chosen configuration has a scope")
            params["scope"] = " ".join(s for s in scopes if s is not None)
        else:
            details: list[dict[str, Any]] = []
            for cid in ids:
                d: dict[str, Any] = {"type": "openid_credential",
                                     "credential_configuration_id": cid}
                if resolved.issuer.authorization_servers:
                    d["locations"] = [resolved.credential_issuer]
                details.append(d)
            params["authorization_details"] = json.dumps(details, separators=(",", ":"))
        if offer.authorization_code is not None and offer.authorization_code.issuer_state:
            params["issuer_state"] = offer.authorization_code.issuer_state
        start = AuthorizationStart(url=endpoint, state=state, code_verifier=verifier,
                                   redirect_uri=redirect_uri, client_id=client_id,
                                   configuration_ids=ids)
        return start, params

    async def token_authorization_code(self, resolved: ResolvedOffer, start: AuthorizationStart,
                                       code: str, state: str) -> TokenSet:
        """Exchange the code from the callback; ``state`` must be the one we generated."""
        if not same_text(state, start.state):
            raise AuthorizationStateMismatch("the authorization callback's state is not ours")
        if not isinstance(code, str) or not code or len(code) > 4096:
            raise BadInput("authorization code is missing or malformed")
        form = {"grant_type": GRANT_AUTHORIZATION_CODE, "code": code,
                "redirect_uri": start.redirect_uri, "code_verifier": start.code_verifier,
                "client_id": start.client_id}
        return await self._token(resolved, form, start.client_id)

    async def _token(self, resolved: ResolvedOffer, form: Mapping[str, str],
                     client_id: str | None) -> TokenSet:
        resp = await self._fetcher.post_form(resolved.auth_server.token_endpoint, form,
                                             max_bytes=MAX_SMALL_RESPONSE_BYTES)
        if resp.status != 200:
            _raise_for_error(resp, "token endpoint")
        data = _json_object(resp, "token endpoint")
        token, ttype = data.get("access_token"), data.get("token_type")
        if not isinstance(token, str) or not token or not isinstance(ttype, str):
            raise InvalidCredentialResponse("token response lacks access_token or token_type")
        if ttype.lower() not in ("bearer", "dpop"):
            raise InvalidCredentialResponse("token response has an unsupported token_type")
        expires_in = finite_number(data.get("expires_in"))  # not a bool, NaN, 1e400, 10**400
        expires_at = (self._now() + expires_in
                      if expires_in is not None and 0 < expires_in <= MAX_EXPIRES_IN else None)
        identifiers: dict[str, tuple[str, ...]] = {}
        details = data.get("authorization_details")
        if details is not None:
            if not isinstance(details, list):
                raise InvalidCredentialResponse("authorization_details must be an array")
            for d in details:
                # RFC 9396 makes ``type`` required; tolerate issuers that drop it (the
                # openid4vci 1.0.0a1 package does) but skip other authorization detail types.
                if not isinstance(d, Mapping) or d.get("type", "openid_credential") != (
                        "openid_credential"):
                    continue
                cid, ids = d.get("credential_configuration_id"), d.get("credential_identifiers")
                if not isinstance(cid, str) or not isinstance(ids, list) or not ids or not all(
                        isinstance(i, str) and i for i in ids):
                    raise InvalidCredentialResponse("authorization_details entry is malformed")
                identifiers[cid] = identifiers.get(cid, ()) + tuple(ids)
        refresh = data.get("refresh_token")
        return TokenSet(token, ttype, expires_at,
                        refresh if isinstance(refresh, str) else None, identifiers, client_id)

    async def refresh(self, resolved: ResolvedOffer, token: TokenSet) -> TokenSet:
        """A new access token for ``token.refresh_token`` (RFC 6749 §6), at the token endpoint.

        The server may rotate the refresh token; when it sends none, the old one stays valid
        (§6) and is kept. The grant's ``credential_identifiers`` are kept unless the response
        names them again. :class:`InvalidToken` when there is no refresh token.
        """
        if token.refresh_token is None:
            raise InvalidToken("the access token expired and the issuer gave no refresh token")
        form = {"grant_type": GRANT_REFRESH_TOKEN, "refresh_token": token.refresh_token}
        if token.client_id is not None:
            form["client_id"] = token.client_id
        fresh = await self._token(resolved, form, token.client_id)
        return TokenSet(fresh.access_token, fresh.token_type, fresh.expires_at,
                        fresh.refresh_token or token.refresh_token,
                        fresh.credential_identifiers or token.credential_identifiers,
                        token.client_id)

    def _expired(self, token: TokenSet) -> bool:
        return token.expires_at is not None and self._now() >= token.expires_at - EXPIRY_MARGIN

    # ---------------------------------------------------------------- §7 nonce, proofs
    async def nonce(self, resolved: ResolvedOffer) -> str | None:
        """A fresh ``c_nonce``; ``None`` when the issuer has no nonce endpoint (§7)."""
        endpoint = resolved.issuer.nonce_endpoint
        if endpoint is None:
            return None
        resp = await self._fetcher.post_form(endpoint, {}, max_bytes=MAX_SMALL_RESPONSE_BYTES)
        if resp.status != 200:
            _raise_for_error(resp, "nonce endpoint")
        c_nonce = _json_object(resp, "nonce endpoint").get("c_nonce")
        if not isinstance(c_nonce, str) or not c_nonce or len(c_nonce) > 1024:
            raise InvalidCredentialResponse("nonce response has no c_nonce")
        return c_nonce

    def build_proof(self, resolved: ResolvedOffer, configuration_id: str, signer: ProofSigner,
                    nonce: str | None, *, client_id: str | None = None,
                    kid: str | None = None) -> str:
        """A ``jwt`` proof for ``configuration_id`` (alg checked against the issuer's list)."""
        config = resolved.issuer.configurations.get(configuration_id)
        if config is None:
            raise BadInput("unknown credential configuration")
        if config.proof_types and "jwt" not in config.proof_types:
            raise InvalidIssuerMetadata("the issuer accepts no jwt proofs for this credential")
        return build_proof_jwt(signer=signer, aud=resolved.credential_issuer, nonce=nonce,
                               iat=int(self._now()), iss=client_id, kid=kid,
                               supported_algs=config.proof_signing_algs)

    # ---------------------------------------------------------------- §8 credential endpoint
    async def request_credential(
        self, resolved: ResolvedOffer, token: TokenSet, *,
        configuration_id: str | None = None, credential_identifier: str | None = None,
        proofs: Sequence[str] = (), rebuild_proofs: ProofFactory | None = None,
        encrypt: bool = False,
    ) -> CredentialResult:
        """One credential request (several proofs = a batch of the same dataset).

        Give exactly one of ``configuration_id`` / ``credential_identifier``. With a
        ``configuration_id`` for which the token response listed ``credential_identifiers``, the
        first identifier is sent (§8.2 forbids the configuration id then); to fetch the other
        datasets, call again with each ``credential_identifier``. Retries once on
        ``invalid_nonce`` when ``rebuild_proofs`` is given (called with the fresh ``c_nonce``).
        Asks for an encrypted response when the issuer requires it or ``encrypt`` is set."""
        if (configuration_id is None) == (credential_identifier is None):
            raise BadInput("give exactly one of configuration_id and credential_identifier")
        body: dict[str, Any] = {}
        if credential_identifier is not None:
            body["credential_identifier"] = credential_identifier
            configuration_id = next((c for c, ids in token.credential_identifiers.items()
                                     if credential_identifier in ids), None)
        else:
            assert configuration_id is not None
            if configuration_id not in resolved.issuer.configurations:
                raise BadInput("unknown credential configuration")
            ids = token.identifiers_for(configuration_id)
            if ids:  # §8.2: the token named datasets, so a credential_identifier MUST be used
                body["credential_identifier"] = ids[0]
            else:
                body["credential_configuration_id"] = configuration_id
        batch = resolved.issuer.batch_size
        if len(proofs) > 1 and (batch is None or len(proofs) > batch):
            raise BadInput("the issuer does not accept that many proofs in one request")
        for attempt in (0, 1):
            if proofs:
                body["proofs"] = {"jwt": list(proofs)}
            try:
                return await self._post_credential(resolved, token, body, encrypt,
                                                   configuration_id)
            except InvalidNonce:
                if attempt or rebuild_proofs is None:
                    raise
            fresh = await self.nonce(resolved)
            rebuilt = rebuild_proofs(fresh)
            proofs = list(await rebuilt) if inspect.isawaitable(rebuilt) else list(rebuilt)
        raise AssertionError("unreachable")  # pragma: no cover

    async def obtain_credential(self, resolved: ResolvedOffer, token: TokenSet,
                                configuration_id: str, signers: Sequence[ProofSigner], *,
                                encrypt: bool = False) -> CredentialResult:
        """Nonce → one proof per signer → request, with the ``invalid_nonce`` retry built in."""
        config = resolved.issuer.configurations.get(configuration_id)
        if config is None:
            raise BadInput("unknown credential configuration")

        def make(nonce: str | None) -> list[str]:
            return [self.build_proof(resolved, configuration_id, s, nonce,
                                     client_id=token.client_id) for s in signers]

        proofs = make(await self.nonce(resolved)) if config.requires_proof else []
        return await self.request_credential(
            resolved, token, configuration_id=configuration_id, proofs=proofs,
            rebuild_proofs=make if config.requires_proof else None, encrypt=encrypt)

    def _encryption_key(self, resolved: ResolvedOffer, encrypt: bool
                        ) -> EphemeralEncryptionKey | None:
        meta = resolved.issuer.response_encryption
        if meta is None:
            if encrypt:
                raise BadInput("the issuer does not support response encryption")
            return None
        return new_response_encryption(meta) if (meta.required or encrypt) else None

    async def _send(self, resolved: ResolvedOffer, url: str, body: Mapping[str, Any],
                    token: TokenSet, response_encrypted: bool) -> FetchResponse:
        """POST a (deferred) credential request, as a JWE when §8.2/§10 call for it."""
        meta = resolved.issuer.request_encryption
        if meta is not None and (meta.required or response_encrypted):
            jwe = encrypt_request(meta, body)
            return await self._fetcher.post_bytes(url, jwe.encode("ascii"),
                                                  content_type="application/jwt",
                                                  accept=_CREDENTIAL_ACCEPT,
                                                  headers=token.authorization_header(),
                                                  max_bytes=MAX_RESPONSE_BYTES)
        return await self._fetcher.post_json(url, body, accept=_CREDENTIAL_ACCEPT,
                                             headers=token.authorization_header(),
                                             max_bytes=MAX_RESPONSE_BYTES)

    async def _post_credential(self, resolved: ResolvedOffer, token: TokenSet,
                               body: dict[str, Any], encrypt: bool,
                               configuration_id: str | None) -> CredentialResult:
        key = self._encryption_key(resolved, encrypt)
        if key is not None:
            body = {**body, "credential_response_encryption": key.request_param}
        resp = await self._send(resolved, resolved.issuer.credential_endpoint, body, token,
                                key is not None)
        if resp.status not in (200, 202):
            _raise_for_error(resp, "credential endpoint")
        data = self._response_body(resp, key, "credential endpoint")
        return self._credential_result(data, configuration_id, None, key is not None)

    def _response_body(self, resp: FetchResponse, key: EphemeralEncryptionKey | None,
                       where: str) -> dict[str, Any]:
        if key is None:
            return _json_object(resp, where)
        if resp.content_type != "application/jwt":
            raise InvalidCredentialResponse(f"{where} did not encrypt its response as asked")
        try:
            token = resp.body.decode("ascii").strip()
        except UnicodeDecodeError as exc:
            raise InvalidCredentialResponse(f"{where} answered with a malformed JWE") from exc
        return key.decrypt(token)

    def _credential_result(self, data: Mapping[str, Any], configuration_id: str | None,
                           previous: Deferred | None, encrypted: bool) -> CredentialResult:
        creds, tid = data.get("credentials"), data.get("transaction_id")
        if creds is not None and tid is not None:
            raise InvalidCredentialResponse("response has both credentials and transaction_id")
        if creds is not None:
            if not isinstance(creds, list) or not creds:
                raise InvalidCredentialResponse("credentials must be a non-empty array")
            out: list[str | Mapping[str, Any]] = []
            for c in creds:
                value = c.get("credential") if isinstance(c, Mapping) else None
                if not isinstance(value, str | Mapping) or not value:
                    raise InvalidCredentialResponse("credential entry is malformed")
                out.append(value)
            nid = data.get("notification_id")
            if nid is not None and (not isinstance(nid, str) or not nid):
                raise InvalidCredentialResponse("notification_id must be a string")
            return IssuedCredentials(tuple(out), nid, configuration_id, encrypted)
        if tid is None and previous is not None:
            tid = previous.transaction_id
        if not isinstance(tid, str) or not tid:
            raise InvalidCredentialResponse("response has neither credentials nor transaction_id")
        interval = data.get("interval", previous.interval if previous else None)
        if (not isinstance(interval, int) or isinstance(interval, bool)
                or not 1 <= interval <= MAX_INTERVAL):
            raise InvalidCredentialResponse("deferred response needs a positive interval")
        cid = configuration_id or (previous.configuration_id if previous else None)
        return Deferred(tid, interval, self._now() + interval, cid)

    # ---------------------------------------------------------------- §9 deferred
    async def poll_deferred(self, resolved: ResolvedOffer, token: TokenSet, deferred: Deferred, *,
                            encrypt: bool = False) -> CredentialResult:
        """One deferred request, waiting first until ``deferred.not_before`` if needed."""
        endpoint = resolved.issuer.deferred_credential_endpoint
        if endpoint is None:
            raise InvalidIssuerMetadata("the issuer has no deferred_credential_endpoint")
        while (wait := deferred.not_before - self._now()) > 0:
            await self._sleep(wait)
        key = self._encryption_key(resolved, encrypt)
        body: dict[str, Any] = {"transaction_id": deferred.transaction_id}
        if key is not None:
            body["credential_response_encryption"] = key.request_param
        resp = await self._send(resolved, endpoint, body, token, key is not None)
        if resp.status not in (200, 202):
            try:
                _raise_for_error(resp, "deferred credential endpoint")
            except IssuancePending:  # pre-1.0 issuers: 400 issuance_pending (+ interval)
                data = _json_object(resp, "deferred credential endpoint")
                return self._credential_result({"interval": data.get("interval",
                                                                     deferred.interval)},
                                               None, deferred, False)
        data = self._response_body(resp, key, "deferred credential endpoint")
        return self._credential_result(data, None, deferred, key is not None)

    async def poll_deferred_refreshing(
        self, resolved: ResolvedOffer, token: TokenSet, deferred: Deferred, *,
        encrypt: bool = False, on_refreshed: OnRefreshed | None = None,
    ) -> tuple[CredentialResult, TokenSet]:
        """:meth:`poll_deferred`, keeping the access token alive across a long deferral.

        With a refresh token, the access token is refreshed first when its ``expires_in`` has
        run out, or after the deferred endpoint refuses it (``invalid_token``/``expired_token``),
        and the poll is then retried once. Returns the result and the token to keep (the new one
        after a refresh).

        An issuer may rotate the refresh token (RFC 6749 §6), which makes the old one useless:
        the new token set must be kept even when the poll that follows fails. So each successful
        refresh is handed to ``on_refreshed`` before anything else is sent; if that raises, no
        poll is made and the error propagates.
        """
        refreshed = False
        if token.refresh_token is not None and self._expired(token):
            token, refreshed = await self._refresh_kept(resolved, token, on_refreshed), True
        try:
            return await self.poll_deferred(resolved, token, deferred, encrypt=encrypt), token
        except (InvalidToken, ExpiredToken):
            if refreshed or token.refresh_token is None:
                raise
        token = await self._refresh_kept(resolved, token, on_refreshed)
        return await self.poll_deferred(resolved, token, deferred, encrypt=encrypt), token

    async def _refresh_kept(self, resolved: ResolvedOffer, token: TokenSet,
                            on_refreshed: OnRefreshed | None) -> TokenSet:
        fresh = await self.refresh(resolved, token)
        if on_refreshed is not None:
            await on_refreshed(fresh)
        return fresh

    # ---------------------------------------------------------------- §11 notification
    async def notify(self, resolved: ResolvedOffer, token: TokenSet, notification_id: str,
                     event: NotificationEvent, description: str | None = None) -> bool:
        """Tell the issuer what became of the credentials; ``False`` when it has no endpoint."""
        endpoint = resolved.issuer.notification_endpoint
        if endpoint is None:
            return False
        if event not in ("credential_accepted", "credential_failure", "credential_deleted"):
            raise BadInput("unknown notification event")
        body: dict[str, Any] = {"notification_id": notification_id, "event": event}
        if description is not None:
            # §11.1: %x20-21 / %x23-5B / %x5D-7E (printable ASCII without '"' and '\\')
            if len(description) > 512 or any(
                    not 0x20 <= ord(c) <= 0x7E or c in '"\\' for c in description):
                raise BadInput("event_description must be short printable ASCII")
            body["event_description"] = description
        resp = await self._fetcher.post_json(endpoint, body, headers=token.authorization_header(),
                                             max_bytes=MAX_SMALL_RESPONSE_BYTES)
        if resp.status not in (200, 204):
            _raise_for_error(resp, "notification endpoint")
        return True


def _with_url(start: AuthorizationStart, url: str) -> AuthorizationStart:
    return AuthorizationStart(url=url, state=start.state, code_verifier=start.code_verifier,
                              redirect_uri=start.redirect_uri, client_id=start.client_id,
                              configuration_ids=start.configuration_ids)
