"""Accounts and sessions: sign up, unlock, lock, change passphrase, holder keys."""

from __future__ import annotations

from aiohttp import web

from holder_api.appkeys import SERVICES, SETTINGS
from holder_api.auth import learner_session
from holder_api.http import bearer_token, client_address, json_ok, read_json
from holder_api.openapi import Op
from holder_api.schemas import (
    KEYS,
    PASSPHRASE,
    RECOVERY_CODE,
    RECOVERY_REQUEST,
    SESSION,
    SIGN_UP,
    SIGNED_UP,
    TOKEN,
)


def _client(request: web.Request) -> str:
    return client_address(request, trust_forwarded=request.app[SETTINGS].trust_forwarded)


async def sign_up(request: web.Request) -> web.Response:
    body = await read_json(request, SIGN_UP)
    result = await request.app[SERVICES].accounts.sign_up(
        body["username"], body["passphrase"], client=_client(request))
    return json_ok({"learner_id": result.learner_id, "recovery_code": result.recovery_code,
                    "holder_did": result.holder_did}, status=201)


async def create_session(request: web.Request) -> web.Response:
    body = await read_json(request, SESSION)
    token = await request.app[SERVICES].accounts.unlock(
        body["username"], body["passphrase"], client=_client(request))
    return json_ok({"access_token": token.token, "token_type": "Bearer",
                    "expires_in": token.expires_in}, status=201)


async def delete_session(request: web.Request) -> web.Response:
    session = await learner_session(request)
    await request.app[SERVICES].accounts.logout(session)
    return web.Response(status=204)


async def change_passphrase(request: web.Request) -> web.Response:
    body = await read_json(request, PASSPHRASE)
    learner_id = None
    if bearer_token(request) is not None:
        learner_id = (await learner_session(request)).learner_id
    await request.app[SERVICES].accounts.change_passphrase(
        learner_id=learner_id, username=body.get("username"),
        current_passphrase=body.get("current_passphrase"),
        recovery_code=body.get("recovery_code"), new_passphrase=body["new_passphrase"],
        client=_client(request))
    return web.Response(status=204)


async def new_recovery_code(request: web.Request) -> web.Response:
    session = await learner_session(request)
    body = await read_json(request, RECOVERY_REQUEST)
    code = await request.app[SERVICES].accounts.new_recovery_code(
        session, body["passphrase"], client=_client(request))
    return json_ok({"recovery_code": code}, status=201)


async def list_keys(request: web.Request) -> web.Response:
    session = await learner_session(request)
    return json_ok({"items": await request.app[SERVICES].accounts.holder_keys(session)})


OPS = [
    Op("POST", "/v1/learners", sign_up, "Sign up: creates the vault, keys and a recovery code",
       "learner", body=SIGN_UP, auth=False, responses={201: ("Signed up", SIGNED_UP),
                                                       409: ("Username taken", None)}),
    Op("POST", "/v1/sessions", create_session, "Unlock the vault: returns an access token",
       "learner", body=SESSION, auth=False, responses={201: ("Unlocked", TOKEN),
                                                       401: ("Wrong username or passphrase", None)}),
    Op("DELETE", "/v1/sessions/current", delete_session, "Lock: revoke this access token",
       "learner", responses={204: ("Revoked everywhere", None)}),
    Op("POST", "/v1/learners/me/passphrase", change_passphrase,
       "Change the passphrase with the current one or the recovery code (revokes all tokens)",
       "learner", body=PASSPHRASE, auth=False, optional_auth=True,
       responses={204: ("Changed", None), 401: ("Wrong secret", None),
                  409: ("The keys changed meanwhile; try again", None)}),
    Op("POST", "/v1/learners/me/recovery-code", new_recovery_code,
       "Replace the one-time recovery code", "learner", body=RECOVERY_REQUEST,
       responses={201: ("New recovery code (shown once)", RECOVERY_CODE)}),
    Op("GET", "/v1/keys", list_keys, "The learner's holder keys (public parts)", "learner",
       responses={200: ("Keys", KEYS)}),
]
