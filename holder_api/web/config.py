"""What the web wallet derives from the settings once, at start, not on every request.

Cookies are ``Secure`` and ``__Host-`` prefixed when the wallet is served over https; the CSRF
tokens and the sealed flash cookies are keyed by subkeys of ``SATCHEL_SESSION_KEY`` (BLAKE2b,
one personalisation each, so neither key says anything of the other or of the session key).
The derivations must stay byte-identical from release to release: forms and flash cookies in
flight at a deploy are still good after it (tests/holder_api/test_web_config.py pins them).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from aiohttp import web

from holder_api.settings import Settings

__all__ = ["WEB_CONFIG", "WebConfig"]


def _subkey(secret: str, purpose: bytes) -> bytes:
    return hashlib.blake2b(secret.encode(), key=purpose, digest_size=32).digest()


@dataclass(frozen=True, slots=True)
class WebConfig:
    secure_cookies: bool  # served over https: Secure, __Host- cookies
    csrf_key: bytes = b""  # keys the form tokens (HMAC-SHA256)
    flash_key: bytes = b""  # seals the one-time flash cookies (XChaCha20-Poly1305)

    def __repr__(self) -> str:  # never the keys
        return f"WebConfig(secure_cookies={self.secure_cookies})"

    @classmethod
    def of(cls, settings: Settings) -> WebConfig:
        return cls(secure_cookies=settings.public_url.startswith("https://"),
                   csrf_key=_subkey(settings.session_key, b"satchel-web-csrf"),
                   flash_key=_subkey(settings.session_key, b"satchel-web-flash"))


WEB_CONFIG = web.AppKey("web_config", WebConfig)
