"""Bearer-token authentication for learner endpoints."""

from __future__ import annotations

from aiohttp import web

from holder_api.appkeys import SERVICES
from holder_api.http import bearer_token
from wallet.accounts.service import LearnerSession
from wallet.errors import Unauthorized

__all__ = ["learner_session"]


async def learner_session(request: web.Request) -> LearnerSession:
    token = bearer_token(request)
    if token is None:
        raise Unauthorized("an access token is required")
    return await request.app[SERVICES].accounts.authenticate(token)
