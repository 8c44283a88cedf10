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
from holder_api.query import query_check
from wallet.accounts.service import AccountErased, LearnerSession
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
    its parameters' schemas (:func:`_check_params`).

    The casts are checked where the operation is declared (``Op.__post_init__``: a handler
    takes a session exactly when the operation needs one)."""
    check = _check_params(op)
    if op.auth:
        needs = cast(SessionHandler, op.handler)

        async def with_session(request: web.Request) -> web.StreamResponse:
            try:
                session = await learner_session(request)
            except AccountErased:
                if not op.done_when_erased:
                    raise
                return web.Response(status=204)  # what was asked is done (and finished now)
            if check is not None:
                check(request)
            return await needs(request, session)

        return with_session
    if op.optional_auth:
        may = cast(MaybeSessionHandler, op.handler)

        async def maybe_session(request: web.Request) -> web.StreamResponse:
            session = await _optional_session(request)
            if check is not None:
                check(request)
            return await may(request, session)

        return maybe_session
    public = cast(PublicHandler, op.handler)
    if check is None:
        return public

    async def anyone(request: web.Request) -> web.StreamResponse:
        check(request)
        return await public(request)

    return anyone


def _check_params(op: Op) -> Callable[[web.Request], None] | None:
    """The check of ``op``'s parameters against their schemas (those in /openapi.json); ``None``
    when it has nothing to check. A path id of a form Satchel never hands out (one with a NUL,
    say) names nothing: a 404 before any store is asked. A typed query parameter out of its
    schema is a 400 (:func:`holder_api.query.query_check`)."""
    paths = [(p.name, p.schema) for p in op.params
             if p.where == "path" and set(p.schema) - {"type", "description"}]
    queries = query_check(op)
    if not paths and queries is None:
        return None

    def check(request: web.Request) -> None:
        for name, schema in paths:
            if not is_valid(request.match_info[name], schema):
                raise NotFound("no such resource")
        if queries is not None:
            queries(request)

    return check
