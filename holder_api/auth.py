"""Bearer-token authentication, enforced from the route table.

An operation declares what it needs (``Op.auth``, ``Op.optional_auth``); :func:`guarded` is the
one place that checks a token, so no handler can forget to: an ``auth`` handler is only ever
called with the session of a valid token, and never runs without one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

from aiohttp import web

from holder_api.appkeys import SERVICES
from holder_api.http import bearer_token, is_valid
from holder_api.openapi import MaybeSessionHandler, Op, PublicHandler, SessionHandler
from wallet.accounts.service import LearnerSession
from wallet.errors import NotFound, Unauthorized

__all__ = ["guarded", "learner_session"]


async def learner_session(request: web.Request) -> LearnerSession:
    token = bearer_token(request)
    if token is None:
        raise Unauthorized("an access token is required")
    return await request.app[SERVICES].accounts.authenticate(token)


async def _optional_session(request: web.Request) -> LearnerSession | None:
    """No token: ``None``; a token: it must be valid (a forged one is never ignored)."""
    if bearer_token(request) is None:
        return None
    return await learner_session(request)


def guarded(op: Op) -> PublicHandler:
    """The aiohttp handler of ``op``: its own, behind the authentication it declares and then
    its path parameters' schemas (:func:`_check_paths`).

    The casts are checked where the operation is declared (``Op.__post_init__``: a handler
    takes a session exactly when the operation needs one)."""
    check = _check_paths(op)
    if op.auth:
        needs = cast(SessionHandler, op.handler)

        async def with_session(request: web.Request) -> web.StreamResponse:
            session = await learner_session(request)
            check(request)
            return await needs(request, session)

        return with_session
    if op.optional_auth:
        may = cast(MaybeSessionHandler, op.handler)

        async def maybe_session(request: web.Request) -> web.StreamResponse:
            session = await _optional_session(request)
            check(request)
            return await may(request, session)

        return maybe_session
    public = cast(PublicHandler, op.handler)
    if not any(p.where == "path" for p in op.params):
        return public

    async def anyone(request: web.Request) -> web.StreamResponse:
        check(request)
        return await public(request)

    return anyone


def _check_paths(op: Op) -> Callable[[web.Request], None]:
    """The check of ``op``'s path parameters against their schemas (those in /openapi.json): an
    id of a form Satchel never hands out (one with a NUL, say) names nothing, a 404 before any
    store is asked."""
    checked = [(p.name, p.schema) for p in op.params
               if p.where == "path" and set(p.schema) - {"type", "description"}]

    def check(request: web.Request) -> None:
        for name, schema in checked:
            if not is_valid(request.match_info[name], schema):
                raise NotFound("no such resource")

    return check
