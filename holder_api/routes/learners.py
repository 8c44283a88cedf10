"""Accounts and sessions: sign up, unlock, lock, change passphrase, holder keys."""

from __future__ import annotations

from aiohttp import web

from holder_api.appkeys import SERVICES
from holder_api.http import client_of, json_ok, read_json
from holder_api.openapi import Op
from holder_api.schemas import (
    KEYS,
    PASSPHRASE,
    RECOVERED,
    RECOVERY_CODE,
    RECOVERY_REQUEST,
    SESSION,
    SIGN_UP,
    SIGNED_UP,
    TOKEN,
)
from holder_api.serialise.learners import holder_key, signed_up, token
from wallet.accounts.service import LearnerSession


async def sign_up(request: web.Request) -> web.Response:
    body = await read_json(request, SIGN_UP)
    result = await request.app[SERVICES].accounts.sign_up(
        body["username"], body["passphrase"], client=client_of(request))
    return json_ok(signed_up(result), status=201)


async def create_session(request: web.Request) -> web.Response:
    body = await read_json(request, SESSION)
    issued = await request.app[SERVICES].accounts.unlock(
        body["username"], body["passphrase"], client=client_of(request))
    return json_ok(token(issued), status=201)


async def delete_session(request: web.Request, session: LearnerSession) -> web.Response:
    await request.app[SERVICES].accounts.logout(session)
    return web.Response(status=204)


async def change_passphrase(request: web.Request,
                            session: LearnerSession | None) -> web.Response:
    body = await read_json(request, PASSPHRASE)
    recovered = await request.app[SERVICES].accounts.change_passphrase(
        learner_id=session.learner_id if session is not None else None, username=body.get("username"),
        current_passphrase=body.get("current_passphrase"),
        recovery_code=body.get("recovery_code"), new_passphrase=body["new_passphrase"],
        client=client_of(request), session_id=session.session_id if session is not None else None)
    if recovered is None or not _wants_representation(request):
        # the HTTP contract's answer is 204: the client now known, the learner unlocks as usual
        return web.Response(status=204)
    # the code is used up: its replacement (shown once) and a session, so the learner is in
    answer = json_ok({"recovery_code": recovered.recovery_code, **token(recovered.token)})
    answer.headers["Preference-Applied"] = "return=representation"
    return answer


def _wants_representation(request: web.Request) -> bool:
    """``Prefer: return=representation`` (RFC 7240 §4.2): the client asks for the result."""
    return any(p.strip().lower() == "return=representation"
               for value in request.headers.getall("Prefer", ())
               for p in value.split(","))


async def new_recovery_code(request: web.Request, session: LearnerSession) -> web.Response:
    body = await read_json(request, RECOVERY_REQUEST)
    code = await request.app[SERVICES].accounts.new_recovery_code(
        session, body["passphrase"], client=client_of(request))
    return json_ok({"recovery_code": code}, status=201)


async def list_keys(request: web.Request, session: LearnerSession) -> web.Response:
    keys = await request.app[SERVICES].accounts.holder_keys(session)
    return json_ok({"items": [holder_key(k) for k in keys]})


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
       responses={200: ("Changed with the recovery code, asked with `Prefer: "
                        "return=representation` (RFC 7240): its replacement (shown once) and an "
                        "access token", RECOVERED),
                  204: ("Changed (with the recovery code and no such Prefer: no body; the "
                        "client is known to the account, so unlocking from it is not held by "
                        "the account's limit)", None),
                  401: ("Wrong secret", None),
                  409: ("The keys changed meanwhile; try again", None)}),
    Op("POST", "/v1/learners/me/recovery-code", new_recovery_code,
       "Replace the one-time recovery code", "learner", body=RECOVERY_REQUEST,
       responses={201: ("New recovery code (shown once)", RECOVERY_CODE)}),
    Op("GET", "/v1/keys", list_keys, "The learner's holder keys (public parts)", "learner",
       responses={200: ("Keys", KEYS)}),
]
