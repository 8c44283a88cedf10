"""End-to-end: Satchel's OpenID4VCI client against the independent ``openid4vci`` issuer.

The issuer (tests/wallet/oid4vci_support.py) runs HTTPS on 127.0.0.1 with trustme certificates;
credentials are SD-JWT VCs minted by the reference ``sd-jwt`` package and verified here with the
reference ``SDJWTVerifier``, so neither side of the check is Satchel's own code.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import aiohttp
import pytest
from jwcrypto import jwk as jwcrypto_jwk
from sd_jwt.verifier import SDJWTVerifier

from tests.wallet.oid4vci_support import (
    DEFERRED,
    DENIED,
    MICRO,
    FakeClock,
    HolderKey,
    Issuer,
    TestOnlyFetcher,
    collect_deferred,
)
from wallet.errors import BadInput, UpstreamError
from wallet.jose import parse_compact
from wallet.oid4vci import (
    Deferred,
    IssuanceClient,
    IssuedCredentials,
    ResolvedOffer,
    TokenSet,
    TxCode,
    parse_authorization_callback,
)
from wallet.oid4vci.errors import (
    AuthorizationStateMismatch,
    CredentialRequestDenied,
    InvalidGrant,
    InvalidIssuerMetadata,
    InvalidNonce,
    TxCodeRequired,
)

REDIRECT = "https://wallet.example/cb"
CLIENT_ID = "satchel-wallet"


@pytest.fixture
async def fetcher(ca_file: Path) -> AsyncIterator[TestOnlyFetcher]:
    # healthy peers only (the timeout test has its own): room for a loaded CI machine
    async with TestOnlyFetcher(extra_ca_file=ca_file, timeout=5.0) as f:
        yield f


@pytest.fixture
def client(fetcher: TestOnlyFetcher, clock: FakeClock) -> IssuanceClient:
    return IssuanceClient(fetcher, clock=clock, sleep=clock.sleep)


def verify_sd_jwt(issuer: Issuer, credential: object, holder: HolderKey) -> dict:
    assert isinstance(credential, str)
    pub = jwcrypto_jwk.JWK(**issuer.signing_key.export_public(as_dict=True))
    payload = SDJWTVerifier(credential, lambda iss, header: pub).get_verified_payload()
    assert payload["cnf"]["jwk"]["x"] == holder.public_jwk["x"]
    assert payload["iss"] == issuer.credential_issuer
    return payload


async def test_pre_authorized_by_reference_without_tx_code(
        issuer: Issuer, client: IssuanceClient) -> None:
    uri = issuer.publish_offer(issuer.make_pre_authorized_offer())
    offer_link = "openid-credential-offer://?" + urlencode({"credential_offer_uri": uri})
    resolved = await client.resolve_offer(offer_link)
    assert resolved.issuer.name("en") == "Test University"
    assert [c.name("en") for c in resolved.configurations()] == [f"{MICRO} (test)"]
    assert resolved.offer.pre_authorized_code is not None
    assert resolved.offer.pre_authorized_code.tx_code is None
    # The service layer persists between requests: round-trip everything through JSON.
    resolved = ResolvedOffer.from_json(resolved.to_json())
    token = await client.token_pre_authorized(resolved)
    token = TokenSet.from_json(token.to_json())
    assert "tx_code" not in issuer.requests[-1][1]
    assert token.identifiers_for(MICRO)
    holder = HolderKey()
    result = await client.obtain_credential(resolved, token, MICRO, [holder])
    assert isinstance(result, IssuedCredentials)
    assert len(result.credentials) == 1
    claims = verify_sd_jwt(issuer, result.credentials[0], holder)
    assert claims["given_name"] == "Ada"
    # §8.2: the token named credential identifiers, so the request used one, not the config id
    sent = [b for r, b in issuer.requests if r == "credential"][-1]
    assert "credential_identifier" in sent and "credential_configuration_id" not in sent
    proof = parse_compact(sent["proofs"]["jwt"][0])
    assert proof.header["typ"] == "openid4vci-proof+jwt" and "jwk" in proof.header
    assert proof.claims()["aud"] == issuer.credential_issuer and "iss" not in proof.claims()
    assert await client.notify(resolved, token, result.notification_id or "",
                               "credential_accepted")
    assert [(n.notification_id, n.event.value) for n in issuer.notifications] == [
        (result.notification_id, "credential_accepted")]


async def test_pre_authorized_with_tx_code(issuer: Issuer, client: IssuanceClient) -> None:
    offer = issuer.make_pre_authorized_offer(tx_code="493536")
    resolved = await client.resolve_offer(
        "openid-credential-offer://?" + urlencode({"credential_offer": str(offer).replace(
            "'", '"')}))
    tx = resolved.offer.pre_authorized_code.tx_code  # type: ignore[union-attr]
    assert tx == TxCode("numeric", 6, "Code from the e-mail")
    before = len(issuer.requests)
    with pytest.raises(TxCodeRequired):
        await client.token_pre_authorized(resolved, None)
    assert len(issuer.requests) == before  # refused before any request
    with pytest.raises(InvalidGrant) as err:
        await client.token_pre_authorized(resolved, "000000")
    assert "000000" not in str(err.value) and err.value.status == 400
    assert issuer.requests[-1][1]["tx_code"] == "000000"
    token = await client.token_pre_authorized(resolved, "493536")
    result = await client.obtain_credential(resolved, token, MICRO, [HolderKey()])
    assert isinstance(result, IssuedCredentials)


async def test_authorization_code_flow(issuer: Issuer, client: IssuanceClient,
                                       fetcher: TestOnlyFetcher, ca_file: Path) -> None:
    offer = issuer.make_authorization_code_offer()
    resolved = await client.resolve_offer(offer)
    start = client.start_authorization(resolved, redirect_uri=REDIRECT, client_id=CLIENT_ID)
    q = parse_qs(urlsplit(start.url).query)
    assert q["code_challenge_method"] == ["S256"] and q["issuer_state"] == [
        offer["grants"]["authorization_code"]["issuer_state"]]
    assert start.code_verifier not in start.url
    # The test plays the browser: follow the URL to the AS, take the redirect back.
    import ssl
    ctx = ssl.create_default_context(cafile=str(ca_file))
    async with aiohttp.ClientSession() as browser, browser.get(
            start.url, ssl=ctx, allow_redirects=False) as resp:
        assert resp.status == 302
        location = resp.headers["Location"]
    assert location.startswith(REDIRECT)
    code, state = parse_authorization_callback(location)
    with pytest.raises(AuthorizationStateMismatch):
        await client.token_authorization_code(resolved, start, code, "forged-state")
    token = await client.token_authorization_code(resolved, start, code, state)
    assert token.client_id == CLIENT_ID
    holder = HolderKey()
    result = await client.obtain_credential(resolved, token, MICRO, [holder])
    assert isinstance(result, IssuedCredentials)
    verify_sd_jwt(issuer, result.credentials[0], holder)
    sent = [b for r, b in issuer.requests if r == "credential"][-1]
    assert parse_compact(sent["proofs"]["jwt"][0]).claims()["iss"] == CLIENT_ID


async def test_authorization_code_with_scope(issuer: Issuer, client: IssuanceClient,
                                             ca_file: Path) -> None:
    resolved = await client.resolve_offer(issuer.make_authorization_code_offer())
    start = client.start_authorization(resolved, redirect_uri=REDIRECT, client_id=CLIENT_ID,
                                       use_scope=True)
    assert parse_qs(urlsplit(start.url).query)["scope"] == [MICRO.lower()]
    import ssl
    ctx = ssl.create_default_context(cafile=str(ca_file))
    async with aiohttp.ClientSession() as browser, browser.get(
            start.url, ssl=ctx, allow_redirects=False) as resp:
        code, state = parse_authorization_callback(resp.headers["Location"])
    token = await client.token_authorization_code(resolved, start, code, state)
    assert token.identifiers_for(MICRO)


async def test_invalid_nonce_is_retried_once(issuer: Issuer, client: IssuanceClient) -> None:
    resolved = await client.resolve_offer(issuer.make_pre_authorized_offer())
    token = await client.token_pre_authorized(resolved)
    issuer.knobs.expire_nonces_before_credential = 1
    result = await client.obtain_credential(resolved, token, MICRO, [HolderKey()])
    assert isinstance(result, IssuedCredentials)
    routes = [r for r, _ in issuer.requests if r in ("nonce", "credential")]
    assert routes == ["nonce", "credential", "nonce", "credential"]


async def test_invalid_nonce_twice_gives_up(issuer: Issuer, client: IssuanceClient) -> None:
    resolved = await client.resolve_offer(issuer.make_pre_authorized_offer())
    token = await client.token_pre_authorized(resolved)
    issuer.knobs.expire_nonces_before_credential = 5
    with pytest.raises(InvalidNonce):
        await client.obtain_credential(resolved, token, MICRO, [HolderKey()])
    assert [r for r, _ in issuer.requests].count("credential") == 2


async def test_deferred_polls_no_faster_than_interval(
        issuer: Issuer, client: IssuanceClient, clock: FakeClock) -> None:
    issuer.knobs.deferred_interval = 5
    issuer.knobs.deferred_ready_after = 12
    resolved = await client.resolve_offer(issuer.make_pre_authorized_offer([DEFERRED]))
    token = await client.token_pre_authorized(resolved)
    holder = HolderKey()
    first = await client.obtain_credential(resolved, token, DEFERRED, [holder])
    assert isinstance(first, Deferred) and first.interval == 5
    opened = clock.now
    first = Deferred.from_json(first.to_json())
    result = await collect_deferred(client, resolved, token, first)
    assert isinstance(result, IssuedCredentials)
    verify_sd_jwt(issuer, result.credentials[0], holder)
    polls = issuer.deferred_polls
    assert polls == [opened + 5, opened + 10, opened + 15]
    gaps = [b - a for a, b in zip([opened, *polls], polls, strict=False)]
    assert all(g >= 5 for g in gaps)
    assert clock.sleeps == [5, 5, 5]


async def test_batch_two_proofs_two_credentials(issuer: Issuer, client: IssuanceClient) -> None:
    resolved = await client.resolve_offer(issuer.make_pre_authorized_offer())
    token = await client.token_pre_authorized(resolved)
    holders = [HolderKey(), HolderKey()]
    result = await client.obtain_credential(resolved, token, MICRO, holders)
    assert isinstance(result, IssuedCredentials) and len(result.credentials) == 2
    for cred, holder in zip(result.credentials, holders, strict=True):
        verify_sd_jwt(issuer, cred, holder)
    with pytest.raises(BadInput):  # more than the issuer's batch_size of 4
        await client.obtain_credential(resolved, token, MICRO, [HolderKey()] * 5)


async def test_encrypted_credential_response(issuer: Issuer, client: IssuanceClient) -> None:
    issuer.knobs.require_encryption = True
    resolved = await client.resolve_offer(issuer.make_pre_authorized_offer())
    assert resolved.issuer.response_encryption is not None
    token = await client.token_pre_authorized(resolved)
    holder = HolderKey()
    result = await client.obtain_credential(resolved, token, MICRO, [holder])
    assert isinstance(result, IssuedCredentials) and result.encrypted
    verify_sd_jwt(issuer, result.credentials[0], holder)
    sent = [b for r, b in issuer.requests if r == "credential"][-1]
    assert sent["credential_response_encryption"]["enc"] == "A128GCM"
    assert "d" not in sent["credential_response_encryption"]["jwk"]


async def test_encrypted_request_and_response(issuer: Issuer, client: IssuanceClient) -> None:
    issuer.knobs.require_encryption = True
    issuer.knobs.request_encryption = True
    resolved = await client.resolve_offer(issuer.make_pre_authorized_offer([MICRO, DEFERRED]))
    assert resolved.issuer.request_encryption is not None
    token = await client.token_pre_authorized(resolved)
    holder = HolderKey()
    result = await client.obtain_credential(resolved, token, MICRO, [holder])
    assert isinstance(result, IssuedCredentials) and result.encrypted
    verify_sd_jwt(issuer, result.credentials[0], holder)
    issuer.knobs.deferred_ready_after = 1
    pending = await client.obtain_credential(resolved, token, DEFERRED, [holder])
    assert isinstance(pending, Deferred)
    done = await client.poll_deferred(resolved, token, pending)
    assert isinstance(done, IssuedCredentials) and done.encrypted
    assert issuer.encrypted_requests == 3  # credential, credential, deferred


async def test_credential_request_denied_stops(issuer: Issuer, client: IssuanceClient) -> None:
    resolved = await client.resolve_offer(issuer.make_pre_authorized_offer([DENIED]))
    token = await client.token_pre_authorized(resolved)
    with pytest.raises(CredentialRequestDenied) as err:
        await client.obtain_credential(resolved, token, DENIED, [HolderKey()])
    assert err.value.status == 403
    assert [r for r, _ in issuer.requests].count("credential") == 1


async def test_metadata_with_other_credential_issuer_is_refused(
        issuer: Issuer, client: IssuanceClient) -> None:
    issuer.knobs.metadata_issuer = issuer.credential_issuer + "/"
    with pytest.raises(InvalidIssuerMetadata):
        await client.resolve_offer(issuer.make_pre_authorized_offer())


@pytest.mark.parametrize("route", ["metadata", "token", "credential"])
async def test_issuer_500(issuer: Issuer, client: IssuanceClient, route: str) -> None:
    issuer.knobs.status[route] = 500
    with pytest.raises(UpstreamError) as err:
        resolved = await client.resolve_offer(issuer.make_pre_authorized_offer())
        token = await client.token_pre_authorized(resolved)
        await client.obtain_credential(resolved, token, MICRO, [HolderKey()])
    assert err.value.status >= 500


@pytest.mark.parametrize("route", ["metadata", "as_metadata", "token", "nonce", "credential"])
async def test_issuer_garbage(issuer: Issuer, client: IssuanceClient, route: str) -> None:
    issuer.knobs.garbage.add(route)
    with pytest.raises(UpstreamError):
        resolved = await client.resolve_offer(issuer.make_pre_authorized_offer())
        token = await client.token_pre_authorized(resolved)
        await client.obtain_credential(resolved, token, MICRO, [HolderKey()])


async def test_issuer_too_slow(issuer: Issuer, client: IssuanceClient, ca_file: Path,
                               clock: FakeClock) -> None:
    resolved = await client.resolve_offer(issuer.make_pre_authorized_offer())
    issuer.knobs.delay["token"] = 5.0
    async with TestOnlyFetcher(extra_ca_file=ca_file, timeout=0.3) as impatient:
        slow_client = IssuanceClient(impatient, clock=clock, sleep=clock.sleep)
        with pytest.raises(UpstreamError) as err:
            await slow_client.token_pre_authorized(resolved)
    assert "transport" in str(err.value)
    assert "pre-authorized" not in str(err.value)


async def test_deferred_collection_survives_a_refused_access_token(
        issuer: Issuer, client: IssuanceClient, ca_file: Path) -> None:
    """Authorization code grant (with a client_id): refresh, keep identifiers, retry once."""
    issuer.knobs.refresh_tokens = True
    issuer.knobs.deferred_ready_after = 1
    resolved = await client.resolve_offer(issuer.make_authorization_code_offer([DEFERRED]))
    start = client.start_authorization(resolved, redirect_uri=REDIRECT, client_id=CLIENT_ID)
    import ssl
    ctx = ssl.create_default_context(cafile=str(ca_file))
    async with aiohttp.ClientSession() as browser, browser.get(
            start.url, ssl=ctx, allow_redirects=False) as resp:
        code, state = parse_authorization_callback(resp.headers["Location"])
    token = await client.token_authorization_code(resolved, start, code, state)
    assert token.refresh_token is not None and token.identifiers_for(DEFERRED)
    holder = HolderKey()
    pending = await client.obtain_credential(resolved, token, DEFERRED, [holder])
    assert isinstance(pending, Deferred)
    issuer.revoke_access_tokens()
    result = await collect_deferred(client, resolved, token, pending)
    assert isinstance(result, IssuedCredentials)
    verify_sd_jwt(issuer, result.credentials[0], holder)
    [refresh] = [b for r, b in issuer.requests
                 if r == "token" and b.get("grant_type") == "refresh_token"]
    assert refresh == {"grant_type": "refresh_token", "refresh_token": token.refresh_token,
                       "client_id": CLIENT_ID}
    # a refresh keeps what the response does not repeat; the used refresh token is now refused
    fresh = await client.refresh(resolved, TokenSet(
        issuer.issued_tokens[-2], "Bearer", None, issuer.issued_tokens[-1],
        token.credential_identifiers, CLIENT_ID))
    assert fresh.credential_identifiers == token.credential_identifiers
    assert fresh.client_id == CLIENT_ID and fresh.refresh_token not in (None, token.refresh_token)
    with pytest.raises(InvalidGrant):
        await client.refresh(resolved, token)


async def _deferred_with_a_revoked_token(issuer: Issuer, client: IssuanceClient) -> tuple[
        ResolvedOffer, TokenSet, Deferred]:
    """A deferred issuance whose access token the issuer has just revoked (it hands out refresh
    tokens): the next poll must refresh first."""
    issuer.knobs.refresh_tokens = True
    issuer.knobs.deferred_ready_after = 1
    resolved = await client.resolve_offer(issuer.make_pre_authorized_offer([DEFERRED]))
    token = await client.token_pre_authorized(resolved)
    pending = await client.obtain_credential(resolved, token, DEFERRED, [HolderKey()])
    assert isinstance(pending, Deferred)
    issuer.revoke_access_tokens()
    return resolved, token, pending


async def test_a_refreshed_token_is_handed_over_before_it_is_used(
        issuer: Issuer, client: IssuanceClient) -> None:
    """A rotated refresh token must be kept even when the retried poll then fails."""
    resolved, token, pending = await _deferred_with_a_revoked_token(issuer, client)
    kept: list[TokenSet] = []

    async def keep(fresh: TokenSet) -> None:
        kept.append(fresh)
        issuer.knobs.status["deferred"] = 503  # down from now on: only a later poll sees it

    # the retried poll failing proves it was sent after the hand-over
    with pytest.raises(UpstreamError, match="HTTP 503"):
        await client.poll_deferred_refreshing(resolved, token, pending, on_refreshed=keep)
    [fresh] = kept
    assert fresh.refresh_token == issuer.issued_tokens[-1] != token.refresh_token
    issuer.knobs.status.pop("deferred")
    result, last = await client.poll_deferred_refreshing(resolved, fresh, pending,
                                                         on_refreshed=keep)
    assert isinstance(result, IssuedCredentials) and last is fresh and kept == [fresh]


async def test_a_refreshed_token_that_is_not_kept_is_never_used(
        issuer: Issuer, client: IssuanceClient) -> None:
    resolved, token, pending = await _deferred_with_a_revoked_token(issuer, client)

    async def cannot_keep(fresh: TokenSet) -> None:
        raise BadInput("not kept")

    with pytest.raises(BadInput, match="not kept"):
        await client.poll_deferred_refreshing(resolved, token, pending, on_refreshed=cannot_keep)
    # a poll with the new access token would have been let through and counted
    assert issuer.deferred_polls == []
