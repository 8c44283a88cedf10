"""One-time secrets shown after a POST: sealed, short-lived, session-bound flash cookies.

A page that creates a secret shown only once (the recovery code, a share link, an inbox link) or
that must not be sent twice by a reload (a Share: its receipt and the choices it was made with)
answers its POST with a redirect (Post/Redirect/Get) and leaves the secret in a cookie that only
this server can read (XChaCha20-Poly1305 under a key derived from ``SATCHEL_SESSION_KEY``), bound
to the session (or pre-session) that made it and with its own expiry. The GET page then shows it
as often as the learner reloads it or switches the language, until it is acknowledged or expires.
"""

from __future__ import annotations

import json
import secrets
from typing import Any

from aiohttp import web
from nacl.bindings import (
    crypto_aead_xchacha20poly1305_ietf_decrypt,
    crypto_aead_xchacha20poly1305_ietf_encrypt,
)
from nacl.exceptions import CryptoError

from holder_api.appkeys import CLOCK
from holder_api.web.config import WEB_CONFIG
from wallet.errors import BadInput
from wallet.jose import b64url_decode, b64url_encode

__all__ = ["KINDS", "MAX_FLASH", "cookie_name", "open_flash", "seal_flash"]

#: kind -> seconds it stays readable
KINDS = {"recovery": 1800, "share": 600, "inbox_link": 600, "authorize": 1800, "sent": 600}
_NONCE = 24
#: the longest sealed flash :func:`open_flash` reads (a cookie of about 4 KB at most)
MAX_FLASH = 3000


def cookie_name(request: web.Request, kind: str) -> str:
    secure = request.app[WEB_CONFIG].secure_cookies
    return f"__Host-satchel-flash-{kind}" if secure else f"satchel_flash_{kind}"


def _key(request: web.Request) -> bytes:
    return request.app[WEB_CONFIG].flash_key


def _now(request: web.Request) -> int:
    return int(request.app[CLOCK]().timestamp())


def _aad(kind: str, bound_to: str) -> bytes:
    return f"{kind}|{bound_to}".encode()


def seal_flash(request: web.Request, kind: str, bound_to: str, values: dict[str, Any]) -> str:
    nonce = secrets.token_bytes(_NONCE)
    plain = json.dumps({"exp": _now(request) + KINDS[kind], "v": values},
                       separators=(",", ":")).encode()
    box = crypto_aead_xchacha20poly1305_ietf_encrypt(plain, _aad(kind, bound_to), nonce,
                                                     _key(request))
    return b64url_encode(nonce + box)


def open_flash(request: web.Request, kind: str, bound_to: str) -> dict[str, Any] | None:
    """The values sealed for this session, or None (absent, tampered, foreign or expired)."""
    raw = request.cookies.get(cookie_name(request, kind))
    if not raw or len(raw) > MAX_FLASH:
        return None
    try:
        sealed = b64url_decode(raw)
        plain = crypto_aead_xchacha20poly1305_ietf_decrypt(
            sealed[_NONCE:], _aad(kind, bound_to), sealed[:_NONCE], _key(request))
        body = json.loads(plain)
    except (ValueError, CryptoError, BadInput):
        return None
    if not isinstance(body, dict) or not isinstance(body.get("v"), dict):
        return None
    if not isinstance(body.get("exp"), int) or body["exp"] < _now(request):
        return None
    values: dict[str, Any] = body["v"]
    return values
