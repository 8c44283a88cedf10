"""An in-memory :class:`wallet.ports.Fetcher` for protocol tests: a handler per URL, every call
recorded. No network."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from wallet.ports import FetchResponse


@dataclass
class Call:
    method: str
    url: str
    accept: tuple[str, ...]
    headers: dict[str, str]
    form: dict[str, str] | None = None


Handler = Callable[[Call], FetchResponse]


@dataclass
class MemoryFetcher:
    handlers: dict[str, Handler] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)

    def _answer(self, call: Call) -> FetchResponse:
        self.calls.append(call)
        handler = self.handlers.get(call.url)
        if handler is None:
            return FetchResponse(call.url, 404, "text/plain", b"not found")
        return handler(call)

    async def get(self, url: str, *, accept: Sequence[str] = ("application/json",),
                  headers: Mapping[str, str] | None = None,
                  max_bytes: int | None = None) -> FetchResponse:
        return self._answer(Call("GET", url, tuple(accept), dict(headers or {})))

    async def post_form(self, url: str, data: Mapping[str, str], *,
                        accept: Sequence[str] = ("application/json",),
                        headers: Mapping[str, str] | None = None,
                        max_bytes: int | None = None) -> FetchResponse:
        return self._answer(Call("POST", url, tuple(accept), dict(headers or {}), dict(data)))

    async def post_json(self, url: str, body: Any, *,
                        accept: Sequence[str] = ("application/json",),
                        headers: Mapping[str, str] | None = None,
                        max_bytes: int | None = None) -> FetchResponse:
        return self._answer(Call("POST", url, tuple(accept), dict(headers or {})))


def jwt_response(url: str, token: str, status: int = 200,
                 content_type: str = "application/oauth-authz-req+jwt") -> FetchResponse:
    return FetchResponse(url, status, content_type, token.encode())
