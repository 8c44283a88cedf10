"""The web wallet's derived keys are pinned: a form token or a flash cookie made before a deploy
must still be good after it (holder_api/web/config.py)."""

from __future__ import annotations

from datetime import UTC, datetime

from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from holder_api.appkeys import CLOCK, SETTINGS
from holder_api.settings import Settings
from holder_api.web.config import WEB_CONFIG, WebConfig
from holder_api.web.flash import cookie_name, open_flash
from holder_api.web.security import cookies_for, csrf_token

_KEY = "pinned-session-key-of-the-test-0123456789"
#: made by the release before WebConfig, which derived both keys on every request
_CSRF = "cae3e20245186aac7af33a78e905ea0e75da134a22575867968c40c31abd5229"
_FLASH = ("Qa2BirAnyqfxzcE_sHnSvKVhSTJWorb6bbvgBpeC6EdY69z36I7ULObhnrcZcY6HthEoYqlYIQ-QuOZaM6tNDzTf4"
          "wpWtikK-hHNxUYebp-8WQ")


def _request(public_url: str, cookies: dict[str, str] | None = None) -> web.Request:
    settings = Settings.from_env({"SATCHEL_SESSION_KEY": _KEY, "SATCHEL_DATA_DIR": "/tmp/unused",
                                  "SATCHEL_PUBLIC_URL": public_url})
    app = web.Application()
    app[SETTINGS] = settings
    app[CLOCK] = lambda: datetime(2026, 12, 7, tzinfo=UTC)
    app[WEB_CONFIG] = WebConfig.of(settings)
    headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in (cookies or {}).items())}
    return make_mocked_request("GET", "/", headers=headers, app=app)


def test_a_form_token_of_the_release_before_is_still_good() -> None:
    assert csrf_token(_request("https://wallet.example"), "cookie-value") == _CSRF


def test_a_flash_cookie_of_the_release_before_still_opens() -> None:
    request = _request("https://wallet.example",
                       {"__Host-satchel-flash-share": _FLASH})
    assert cookie_name(request, "share") == "__Host-satchel-flash-share"
    assert open_flash(request, "share", "cookie-value") == {"url": "https://x"}
    assert open_flash(request, "share", "another-session") is None  # bound to its cookie


def test_cookies_are_secure_exactly_over_https_and_the_keys_never_print() -> None:
    assert cookies_for(_request("https://wallet.example")).session == "__Host-satchel"
    plain = _request("http://127.0.0.1:8080")
    assert cookies_for(plain).session == "satchel_session" and not cookies_for(plain).secure
    config = plain.app[WEB_CONFIG]
    assert config.csrf_key != config.flash_key and len(config.csrf_key) == 32
    assert config.csrf_key.hex() not in repr(config) and "csrf" not in repr(config)
