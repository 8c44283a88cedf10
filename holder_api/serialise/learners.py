"""Accounts and sessions on the wire: sign-up, access tokens, holder keys."""

from __future__ import annotations

from typing import Any

from wallet.accounts.service import PublicHolderKey, SignUp
from wallet.accounts.tokens import AccessToken

__all__ = ["holder_key", "signed_up", "token"]


def signed_up(result: SignUp) -> dict[str, Any]:
    return {"learner_id": result.learner_id, "recovery_code": result.recovery_code,
            "holder_did": result.holder_did}


def token(issued: AccessToken) -> dict[str, Any]:
    """RFC 6750 bearer token, as OAuth 2.0 token responses name its fields."""
    return {"access_token": issued.token, "token_type": "Bearer",
            "expires_in": issued.expires_in}


def holder_key(k: PublicHolderKey) -> dict[str, Any]:
    return {"id": k.kid, "alg": k.alg, "jwk": k.jwk, "did": k.did}
