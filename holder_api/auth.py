"""Bearer-token authentication, enforced from the route table.

An operation declares what it needs (``Op.auth``, ``Op.optional_auth``); :func:`guarded` is the
one place that checks a token, so no handler can forget to: an ``auth`` handler is only ever
called with the session of a valid token, and never runs without one.
"""

from __future__ import annotations

from typing import cast

from aiohttp import web

from holder_api.appkeys import SERVICES
from holder_api.http import bearer_token
from holder_api.openapi import MaybeSessionHandler, Op, PublicHandler, SessionHandler
from wallet.accounts.service import AccountErased, LearnerSession
from wallet.errors import Unauthorized

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
    """The aiohttp handler of ``op``: its own, behind the authentication it declares.

    The casts are checked where the operation is declared (``Op.__post_init__``: a handler
    takes a session exactly when the operation needs one)."""
    if op.auth:
        needs = cast(SessionHandler, op.handler)

        async def with_session(request: web.Request) -> web.StreamResponse:
            try:
                session = await learner_session(request)
            except AccountErased:
                if not op.done_when_erased:
                    raise
                return web.Response(status=204)  # what was asked is done (and finished now)
            return await needs(request, session)

        return with_session
    if op.optional_auth:
        may = cast(MaybeSessionHandler, op.handler)

        async def maybe_session(request: web.Request) -> web.StreamResponse:
            return await may(request, await _optional_session(request))

        return maybe_session
    return cast(PublicHandler, op.handler)
