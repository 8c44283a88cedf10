"""Small request/response helpers shared by the handlers: JSON in (validated), JSON out."""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import re
from collections.abc import Iterator, Mapping
from typing import Any

from aiohttp import web
from jsonschema import Draft202012Validator, ValidationError, validators

from holder_api.appkeys import SETTINGS
from holder_api.errors import RequestTimeout
from holder_api.serialise.credentials import JSON_ENCODE
from wallet.errors import BadInput, PayloadTooLarge, UnsupportedFormat
from wallet.jsontext import NotUnicodeText, loads

__all__ = ["bearer_token", "client_address", "client_of", "ecma_pattern", "is_valid", "json_ok",
           "json_text_ok", "read_bytes", "read_json", "too_large", "validated"]


@functools.cache
def ecma_pattern(pattern: str) -> re.Pattern[str]:
    """A JSON Schema ``pattern`` (an ECMA-262 regex) for Python's ``re``: ``$`` outside a
    character class becomes ``\\Z``. In ECMA-262 (without the ``m`` flag) ``$`` matches only at
    the end; Python's also matches before a final newline, so ``"ada\\n"`` would pass
    ``^[a-z]+$`` here and fail it in every other validator of the document."""
    out, i, in_class = [], 0, False
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            out.append(pattern[i:i + 2])
            i += 2
            continue
        if c == "[" and not in_class:
            in_class = True
        elif c == "]" and in_class:
            in_class = False
        out.append("\\Z" if c == "$" and not in_class else c)
        i += 1
    return re.compile("".join(out))


def _pattern(validator: Any, pattern: str, instance: Any,
             _schema: Mapping[str, Any]) -> Iterator[ValidationError]:
    if validator.is_type(instance, "string") and not ecma_pattern(pattern).search(instance):
        yield ValidationError("does not match the pattern")


#: Draft 2020-12 with ``pattern`` as ECMA-262 means it (:func:`ecma_pattern`).
_Validator = validators.extend(Draft202012Validator, {"pattern": _pattern})
_VALIDATORS: dict[int, Any] = {}


def _validator(schema: Mapping[str, Any]) -> Any:
    v = _VALIDATORS.get(id(schema))
    if v is None:
        v = _VALIDATORS[id(schema)] = _Validator(schema)
    return v


def is_valid(value: Any, schema: Mapping[str, Any]) -> bool:
    """Whether ``value`` is valid against ``schema``, as :func:`validated` judges it."""
    return bool(_validator(schema).is_valid(value))


def validated(body: Any, schema: Mapping[str, Any]) -> Any:
    """Check ``body`` against a JSON Schema; the error names the field, never echoes its value."""
    err = next(iter(_validator(schema).iter_errors(body)), None)
    if err is not None:
        where = "/" + "/".join(str(p) for p in err.absolute_path)
        reason = {"required": "a required field is missing",
                  "additionalProperties": "unknown field",
                  "type": "wrong type"}.get(str(err.validator), f"failed '{err.validator}' check")
        if err.validator == "additionalProperties":
            extra = sorted(set(err.instance) - set(err.schema.get("properties", {})))
            where = where.rstrip("/") + "/" + (extra[0] if extra else "")
        raise BadInput(f"{reason} at {where}", pointer=where)
    return body


async def read_json(request: web.Request, schema: Mapping[str, Any] | None = None, *,
                    limit: int | None = None) -> Any:
    """The request body as JSON (415 if not JSON, 413 if too large, 400 if malformed or if a
    string in it is not Unicode text: :func:`wallet.jsontext.loads`); ``limit``: a route's own
    body limit in bytes, instead of the app's ``client_max_size``."""
    ctype = request.content_type
    if ctype not in ("application/json", "") and not ctype.endswith("+json"):
        raise UnsupportedFormat("request body must be application/json")
    raw = await read_bytes(request, request.client_max_size if limit is None else limit,
                           what="request body")
    if not raw:
        body: Any = {}
    else:
        try:
            body = loads(raw)
        except NotUnicodeText as exc:  # the pointer only: the string itself cannot be echoed
            raise BadInput(str(exc), pointer=exc.pointer) from exc
        except (ValueError, RecursionError) as exc:
            raise BadInput("request body is not valid JSON") from exc
    return validated(body, schema) if schema is not None else body


async def read_bytes(request: web.Request, limit: int, *, what: str = "the body") -> bytes:
    """The raw body, up to ``limit`` bytes (413 beyond: checked on Content-Length first, then
    while reading, so an oversize upload is never buffered whole). Its own limit, not the
    app's ``client_max_size``: a file upload may be larger than any JSON body."""
    too_large(request, limit, what=what)
    stall = _body_timeout(request)
    loop = asyncio.get_running_loop()
    # the whole body's deadline: the stall allowance plus its length at the minimum rate
    # (a body of unknown length: the most it may be)
    last = loop.time() + stall + min(request.content_length or limit, limit) / MIN_BODY_RATE
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout_at(min(last, loop.time() + stall)) as deadline:
            async for chunk in request.content.iter_chunked(64 * 1024):
                size += len(chunk)
                if size > limit:
                    raise PayloadTooLarge(f"{what} is larger than {limit} bytes")
                chunks.append(chunk)
                deadline.reschedule(min(last, loop.time() + stall))
    except TimeoutError as exc:
        _close_after_answer(request)
        raise RequestTimeout(f"{what} did not arrive in time") from exc
    return b"".join(chunks)


#: bytes a second a request body must average (beyond ``SATCHEL_BODY_TIMEOUT``'s allowance):
#: 64 KiB/s, half a megabit, so that a 50 MB import has 13 minutes at most
MIN_BODY_RATE = 64 * 1024
_DEFAULT_BODY_TIMEOUT = 10.0  # an app without settings (a unit test's): settings.toml's default


def _body_timeout(request: web.Request) -> float:
    settings = request.config_dict.get(SETTINGS)
    return _DEFAULT_BODY_TIMEOUT if settings is None else settings.body_timeout


def _close_after_answer(request: web.Request) -> None:
    """The connection ends after this request's answer, what is left of its body unread: aiohttp
    reads no more of it (``close``) and, told it has ended, does not linger for the rest."""
    request.protocol.close()
    request.content.feed_eof()


def too_large(request: web.Request, limit: int, *, what: str = "the body") -> None:
    """413 when the request declares a body larger than ``limit`` bytes (``Content-Length``),
    before a byte of it is read; a body without one is bounded while it is read."""
    if request.content_length is not None and request.content_length > limit:
        raise PayloadTooLarge(f"{what} is larger than {limit} bytes")


def json_ok(body: Any, status: int = 200) -> web.Response:
    return json_text_ok(JSON_ENCODE(body), status)


def json_text_ok(text: str, status: int = 200) -> web.Response:
    """A JSON response whose text is made already (e.g. of parts encoded before)."""
    return web.Response(text=text, status=status, content_type="application/json")


def bearer_token(request: web.Request) -> str | None:
    auth = request.headers.get("Authorization", "")
    scheme, _, token = auth.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def client_of(request: web.Request) -> str:
    """:func:`client_address` as this deployment judges it (``SATCHEL_TRUST_FORWARDED``): what
    every rate limit, budget and log line keyed by client uses."""
    return client_address(request, trust_forwarded=request.app[SETTINGS].trust_forwarded)


def client_address(request: web.Request, *, trust_forwarded: bool) -> str:
    """The client's network for rate limits: an IPv4 address, or the /64 of an IPv6 one.

    With ``trust_forwarded`` (one reverse proxy of ours in front), the right-most address of
    ``X-Forwarded-For`` over all its header lines, which our proxy appended: the hops left of it
    are the client's to write. A port on it (``a.b.c.d:port``, ``[v6]:port``) is dropped; a
    value that is no address falls back to the socket's peer (docs/operations.md, "Client
    addresses behind a proxy").
    """
    peer = request.remote or "unknown"
    ip = _ip(peer)
    if trust_forwarded:
        hops = [hop for line in request.headers.getall("X-Forwarded-For", ())
                for hop in line.split(",")]
        if hops:
            ip = _ip(hops[-1]) or ip
    if ip is None:
        return peer[:64]  # no address at all (a Unix socket, a test transport)
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        # an IPv6 client holds a whole /64: count it as one
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """``text`` as an address, its port dropped (``a.b.c.d:port``, ``[v6]:port``); None when
    it is none."""
    text = text.strip()
    if text.startswith("["):
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:  # an IPv4 address with a port (IPv6 has two colons at least)
        text = text.partition(":")[0]
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return None
    return ip
