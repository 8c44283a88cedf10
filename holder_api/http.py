"""Small request/response helpers shared by the handlers: JSON in (validated), JSON out."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any

from aiohttp import web
from jsonschema import Draft202012Validator

from holder_api.serialise.credentials import JSON_ENCODE
from wallet.errors import BadInput, PayloadTooLarge, UnsupportedFormat
from wallet.jsontext import parse_json

__all__ = ["bearer_token", "client_address", "json_ok", "json_text_ok", "read_bytes", "read_json",
           "validated"]

_VALIDATORS: dict[int, Draft202012Validator] = {}


def validated(body: Any, schema: Mapping[str, Any]) -> Any:
    """Check ``body`` against a JSON Schema; the error names the field, never echoes its value."""
    v = _VALIDATORS.get(id(schema))
    if v is None:
        v = _VALIDATORS[id(schema)] = Draft202012Validator(schema)
    err = next(iter(v.iter_errors(body)), None)
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


async def read_json(request: web.Request, schema: Mapping[str, Any] | None = None) -> Any:
    """The request body as JSON (415 if not JSON, 413 if too large, 400 if malformed)."""
    ctype = request.content_type
    if ctype not in ("application/json", "") and not ctype.endswith("+json"):
        raise UnsupportedFormat("request body must be application/json")
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge as exc:
        raise PayloadTooLarge("request body too large") from exc
    if not raw:
        body: Any = {}
    else:
        body = parse_json(raw, BadInput("request body is not valid JSON"))
    return validated(body, schema) if schema is not None else body


async def read_bytes(request: web.Request, limit: int, *, what: str = "the body") -> bytes:
    """The raw body, up to ``limit`` bytes (413 beyond: checked on Content-Length first, then
    while reading, so an oversize upload is never buffered whole). Its own limit, not the
    app's ``client_max_size``: a file upload may be larger than any JSON body."""
    if request.content_length is not None and request.content_length > limit:
        raise PayloadTooLarge(f"{what} is larger than {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"{what} is larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


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
