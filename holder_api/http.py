"""Small request/response helpers shared by the handlers: JSON in (validated), JSON out."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import io
import re
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import BodyPartReader, MultipartReader, StreamReader, hdrs, web
from aiohttp.base_protocol import BaseProtocol
from aiohttp.http_exceptions import HttpProcessingError
from jsonschema import Draft202012Validator, ValidationError, validators
from multidict import MultiDict, MultiDictProxy
from prometheus_client import CollectorRegistry, Gauge
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector

from holder_api.appkeys import SETTINGS
from holder_api.connections import network_of
from holder_api.errors import RequestTimeout
from holder_api.serialise.credentials import JSON_ENCODE
from wallet.accounts.limits import STEP_ASIDE
from wallet.errors import BadInput, PayloadTooLarge, UnsupportedFormat
from wallet.jsontext import NotUnicodeText, loads

__all__ = ["EarlyBodies", "bearer_token", "client_address", "client_of", "ecma_pattern",
           "is_valid", "json_ok", "json_text_ok", "read_bytes", "read_chunks", "read_form",
           "read_json", "too_large", "validated"]

#: a posted form's value: text, a file, or the bytes of a part that is neither
FormValue = str | bytes | bytearray | web.FileField


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
                    limit: int | None = None, aside: bool = False) -> Any:
    """The request body as JSON (415 if not JSON, 413 if too large, 400 if malformed or if a
    string in it is not Unicode text: :func:`wallet.jsontext.loads`); ``limit``: a route's own
    body limit in bytes, instead of the app's ``client_max_size``."""
    ctype = request.content_type
    if ctype not in ("application/json", "") and not ctype.endswith("+json"):
        raise UnsupportedFormat("request body must be application/json")
    raw = await read_bytes(request, request.client_max_size if limit is None else limit,
                           what="request body", aside=aside)
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


async def read_bytes(request: web.Request, limit: int, *, what: str = "the body",
                     aside: bool = False) -> bytes:
    """The raw body, up to ``limit`` bytes (413 beyond: checked on Content-Length first, then
    while reading, so an oversize upload is never buffered whole). Its own limit, not the
    app's ``client_max_size``: a file upload may be larger than any JSON body. ``aside``: see
    :func:`read_chunks`."""
    return b"".join(await read_chunks(request, limit, what=what, aside=aside))


async def read_chunks(request: web.Request, limit: int, *, what: str = "the body",
                      aside: bool = False) -> list[bytes]:
    """:func:`read_bytes`, its chunks not joined (a form's parser takes them as they are).

    Every read of a request body comes here, under the body's deadline (:func:`_read_into`):
    what :meth:`EarlyBodies.read` read before the request was admitted is taken first (the
    error it met is raised now, where the route answers it as its own), then the rest.

    ``aside``: the body is one a large-bodies gate admitted (wallet.large_bodies), which bounds
    how many are read at once, so its admission slot is given back while it is read and taken
    back, without queueing, when it is in (:data:`wallet.accounts.limits.STEP_ASIDE`, as an
    unlock waiting for its derivation does): a slow upload holds its gate's slot, not one of
    the replica's admission slots."""
    too_large(request, limit, what=what)
    body = request.pop(_EARLY, None) or _Body()
    if body.error is not None:
        raise body.error
    if body.size > limit:
        raise PayloadTooLarge(f"{what} is larger than {limit} bytes")
    if not body.complete:
        step_aside = STEP_ASIDE.get() if aside else None
        async with step_aside() if step_aside is not None else contextlib.nullcontext():
            await _read_into(body, request, limit, what=what, stop_beyond=False)
    return body.chunks


@dataclass(slots=True)
class _Body:
    """A request body read so far: its chunks, whether that is all of it, or the error that
    ended an early read (replayed to the route that reads it)."""

    chunks: list[bytes] = field(default_factory=list)
    size: int = 0
    complete: bool = False
    error: Exception | None = None


_EARLY = web.RequestKey("satchel_early_body", _Body)


async def _read_into(body: _Body, request: web.Request, limit: int, *, what: str,
                     stop_beyond: bool) -> None:
    """Read the rest of the body into ``body``, at most ``limit`` bytes: beyond it 413, or,
    ``stop_beyond``, stop there with the body incomplete (the rest left for the route).

    The deadline: ``SATCHEL_BODY_TIMEOUT`` without a byte, and for the whole read that plus a
    second per 64 KiB declared (or of ``limit``, a body of unknown length). Past it, 408
    ``request_timeout`` and the connection closes after the answer, the rest unread."""
    stall = _body_timeout(request)
    loop = asyncio.get_running_loop()
    last = loop.time() + stall + min(request.content_length or limit, limit) / MIN_BODY_RATE
    try:
        async with asyncio.timeout_at(min(last, loop.time() + stall)) as deadline:
            async for chunk in request.content.iter_chunked(_CHUNK):
                body.size += len(chunk)
                body.chunks.append(chunk)
                if body.size > limit:
                    if stop_beyond:
                        return
                    raise PayloadTooLarge(f"{what} is larger than {limit} bytes")
                deadline.reschedule(min(last, loop.time() + stall))
    except TimeoutError as exc:
        _close_after_answer(request)
        raise RequestTimeout(f"{what} did not arrive in time") from exc
    body.complete = True


_CHUNK = 64 * 1024


class _Reserved(int):
    """What :meth:`EarlyBodies.reserve` returns: the bytes a body reserves (an ``int``, as the
    admission middleware takes it and hands it back to :meth:`EarlyBodies.release`), whose
    share they count against, and whether they are taken from the budget yet (a body waiting
    for its address's share is not)."""

    client: str | None
    taken: bool


_RESERVED = web.RequestKey("satchel_early_reserved", _Reserved)


class EarlyBodies:
    """Small request bodies are read before their request is admitted (docs/operations.md,
    "Slow bodies"), so that an admission slot is held while work is done, not while a client
    sends: eight clients trickling their bodies within the deadline once held every slot of a
    replica, and everyone else queued behind them or was shed.

    A body is read early when it declares at most the app's ``client_max_size`` (a body of
    unknown length, chunked: up to that much, the rest left to the route), under the same
    deadline as any body; what it read, or the error it met, is the route's to take
    (:func:`read_chunks`). A body a large-bodies gate admits (imports, PDFs, the web's file
    forms: ``gated``) is never read early, whatever it declares: its gate admits it before a
    byte is read (:mod:`wallet.large_bodies`), and its route reads it with its admission slot
    given back meanwhile (``aside``).

    Memory: each body read early is held until its request is answered, and together they are
    held to ``budget`` bytes (what they declare, ``client_max_size`` for one that declares
    nothing): a body that does not fit is read inside its slot (``passed_over``). So the bound
    is ``budget``, not connections × ``client_max_size`` (1,024 × 1 MiB).

    Fairness: one client address (:func:`client_address`) holds at most ``share`` bytes of the
    budget at once (one body whatever its size, if it holds none). Its next body waits for its
    share, unread, holding neither the budget nor a slot, and is read early once its own earlier
    ones are answered (first come, first served among its own). Without a share, one address
    that filled the budget had its next bodies read inside slots, holding them, and every other
    client's request was shed (0: no share, first come, first served)."""

    def __init__(self, budget: int, registry: CollectorRegistry | None = None, *,
                 gated: Callable[[web.Request], bool] = lambda _request: False,
                 share: int = 0, trust_forwarded: bool = False) -> None:
        self.budget = budget
        self.share = share
        self._trust_forwarded = trust_forwarded
        #: whether a request's body is one a large-bodies gate admits before it is read (its
        #: route reads it, in the gate's slot: ``aside``), so never read early
        self._gated = gated
        self.held = 0  # bytes reserved by bodies read early whose request is not answered yet
        self.reading = 0  # requests reading their body before admission now
        self.read_early = 0  # bodies read before admission, so far
        self.passed_over = 0  # small bodies read inside their slot: the budget was spent
        self.waited = 0  # bodies that waited for their address's share, so far
        #: bytes of the budget each client address holds now (only those that hold any)
        self.shares: dict[str, int] = {}
        #: bodies waiting for their address's share, oldest first
        self._waiters: dict[str, deque[tuple[_Reserved, asyncio.Future[None]]]] = {}
        Gauge("satchel_early_body_bytes", "Bytes reserved by request bodies read before their "
              "request was admitted, not answered yet (at most SATCHEL_EARLY_BODY_BYTES)",
              registry=registry).set_function(lambda: self.held)
        Gauge("satchel_bodies_reading_early", "Requests reading their body before admission",
              registry=registry).set_function(lambda: self.reading)
        Gauge("satchel_bodies_waiting_for_share", "Request bodies waiting, unread, for their "
              "client address's share of SATCHEL_EARLY_BODY_BYTES (SATCHEL_EARLY_BODY_CLIENT_"
              "BYTES)", registry=registry).set_function(lambda: self.waiting)
        if registry is not None:
            registry.register(_EarlyCounts(self))

    @property
    def waiting(self) -> int:
        """Bodies waiting for their address's share now."""
        return sum(map(len, self._waiters.values()))

    def reserve(self, request: web.Request) -> int:
        """The bytes the body of ``request`` reserves if it is to be read early, else 0 (no
        body, a large one, or no room left in the budget). Synchronous: a request without a
        body pays no await for it. A body beyond its address's share reserves too, and waits
        for the share in :meth:`read`."""
        if not request.body_exists or request.method not in request.POST_METHODS:
            return 0
        small = request.client_max_size
        size = small if request.content_length is None else request.content_length
        if size > small or not size or self._gated(request):
            return 0
        reserved = request[_RESERVED] = _Reserved(size)
        reserved.client = (client_address(request, trust_forwarded=self._trust_forwarded)
                           if self.share else None)
        reserved.taken = False
        if reserved.client is not None and (reserved.client in self._waiters
                                            or not self._fits(reserved)):
            return reserved  # waits for its share (read), holding nothing meanwhile
        if not self._take(reserved):
            return 0
        return reserved

    def _fits(self, reserved: _Reserved) -> bool:
        """Whether its address's share has room for it (always, for its first)."""
        held = self.shares.get(reserved.client, 0) if reserved.client is not None else 0
        return not held or held + reserved <= self.share

    def _take(self, reserved: _Reserved) -> bool:
        """Take it from the budget (and its address's share), or count it passed over."""
        if self.held + reserved > self.budget:
            self.passed_over += 1
            return False
        self.held += reserved
        if reserved.client is not None:
            self.shares[reserved.client] = self.shares.get(reserved.client, 0) + reserved
        reserved.taken = True
        return True

    async def _share(self, reserved: _Reserved) -> None:
        """Wait until its address's share has room for it, behind the address's earlier ones."""
        assert reserved.client is not None
        self.waited += 1
        waiter = asyncio.get_running_loop().create_future()
        queue = self._waiters.setdefault(reserved.client, deque())
        queue.append((reserved, waiter))
        try:
            await waiter
        except BaseException:
            if waiter.done() and not waiter.cancelled():
                raise  # its share was taken for it: release() gives it back
            with contextlib.suppress(ValueError):  # cancelled while waiting: out of the line
                queue.remove((reserved, waiter))
            if not queue and self._waiters.get(reserved.client) is queue:
                del self._waiters[reserved.client]
            self._wake(reserved.client)
            raise

    def _wake(self, client: str) -> None:
        """Its share has room again: the address's next waiters, in order, while they fit."""
        queue = self._waiters.get(client)
        while queue and self._fits(queue[0][0]):
            reserved, waiter = queue.popleft()
            if not waiter.done():
                # taken for it now (no newer body can slip in first); a body the budget
                # cannot hold is read inside its slot, as any (it holds nothing then)
                self._take(reserved)
                waiter.set_result(None)
        if queue is not None and not queue:
            del self._waiters[client]

    async def read(self, request: web.Request) -> None:
        """Read the body of ``request`` (what :meth:`reserve` reserved for) into the request,
        for :func:`read_chunks`; a deadline missed or a client gone is kept for it too. A body
        beyond its address's share waits for it first, and is read inside its slot if the
        budget has no room by then."""
        reserved = request.get(_RESERVED)
        if reserved is not None and not reserved.taken:
            await self._share(reserved)
            if not reserved.taken:
                return  # the budget was spent: the route reads it, in its slot
        body = request[_EARLY] = _Body()
        self.reading += 1
        try:
            await _read_into(body, request, request.client_max_size, what="the request body",
                             stop_beyond=True)
        except (RequestTimeout, OSError, HttpProcessingError) as exc:
            body.error = exc
        finally:
            self.reading -= 1
        self.read_early += 1

    def release(self, size: int) -> None:
        """The request is answered: its body's reservation goes back (and its address's share,
        to the next body of that address waiting for it)."""
        if not isinstance(size, _Reserved):
            self.held -= size
            return
        if not size.taken:
            return  # it waited and was read in its slot, or never took anything
        size.taken = False
        self.held -= size
        if size.client is not None:
            left = self.shares[size.client] - size
            if left:
                self.shares[size.client] = left
            else:
                del self.shares[size.client]
            self._wake(size.client)


class _EarlyCounts(Collector):
    """``satchel_bodies_read_early_total`` and ``satchel_bodies_passed_over_total``."""

    def __init__(self, bodies: EarlyBodies) -> None:
        self._bodies = bodies

    def collect(self) -> Iterator[CounterMetricFamily]:
        yield CounterMetricFamily(
            "satchel_bodies_read_early", "Request bodies read before their request was "
            "admitted", value=self._bodies.read_early)
        yield CounterMetricFamily(
            "satchel_bodies_passed_over", "Small request bodies read inside their admission "
            "slot: SATCHEL_EARLY_BODY_BYTES was held by others", value=self._bodies.passed_over)
        yield CounterMetricFamily(
            "satchel_bodies_waited_for_share", "Request bodies that waited, unread, for their "
            "client address's share of SATCHEL_EARLY_BODY_BYTES", value=self._bodies.waited)


#: what a form may be sent as (aiohttp's ``post()`` reads these; the empty one as URL-encoded)
_FORM_TYPES = ("", "application/x-www-form-urlencoded", "multipart/form-data")


async def read_form(request: web.Request, limit: int, *, what: str = "the form",
                    aside: bool = False) -> MultiDictProxy[FormValue]:
    """A posted form, read as every body is (:func:`read_chunks`: its deadline, its
    ``limit``), then parsed as aiohttp's ``request.post()`` would (which reads with no
    deadline): URL-encoded fields as text; a multipart part with a file name as a
    :class:`aiohttp.web.FileField` (its file in memory: the body is already), one without as
    text (as bytes if its type is not ``text/*``). Another content type is an empty form. At
    most ``client_max_fields`` fields; a form that does not parse is 400."""
    chunks = await read_chunks(request, limit, what=what, aside=aside)
    if request.method not in request.POST_METHODS or request.content_type not in _FORM_TYPES:
        return MultiDictProxy(MultiDict())
    most = request.client_max_fields
    try:
        if request.content_type == "multipart/form-data":
            return MultiDictProxy(await _multipart(request, chunks, most))
        charset = request.charset or "utf-8"
        text = b"".join(chunks).rstrip().decode(charset)
        return MultiDictProxy(MultiDict(parse_qsl(
            text, keep_blank_values=True, encoding=charset, max_num_fields=most or None)))
    except (ValueError, LookupError, AssertionError, HttpProcessingError, RuntimeError) as exc:
        # undecodable text, an unknown charset, too many fields, a broken multipart body
        # (aiohttp's reader raises its HTTP errors, or asserts, on some, and a bare RuntimeError
        # on a part's unknown Content-Transfer-Encoding); the exception's text may quote the body
        raise BadInput(f"{what} could not be read") from exc


async def _multipart(request: web.Request, chunks: list[bytes],
                     most: int) -> MultiDict[FormValue]:
    loop = asyncio.get_running_loop()
    size = sum(map(len, chunks))
    # all of it is in memory already: a reader that never asks its protocol to pause
    stream = StreamReader(BaseProtocol(loop), size + 1, loop=loop)
    for chunk in chunks:
        stream.feed_data(chunk)
    stream.feed_eof()
    chunks.clear()  # the stream holds them now, and lets each go once parsed
    out: MultiDict[FormValue] = MultiDict()
    parts = MultipartReader(request.headers, stream)
    while (part := await parts.next()) is not None:
        if not isinstance(part, BodyPartReader) or part.name is None:
            raise ValueError("a nested or unnamed part")
        if most and len(out) >= most:
            raise ValueError("too many fields")
        content_type = part.headers.get(hdrs.CONTENT_TYPE)
        if part.filename:
            file = io.BytesIO()
            while chunk := await part.read_chunk(_CHUNK):
                async for decoded in part.decode_iter(chunk):
                    file.write(decoded)
            file.seek(0)
            out.add(part.name, web.FileField(part.name, part.filename, file,
                                             content_type or "application/octet-stream",
                                             part.headers))
        else:
            value = await part.read(decode=True)
            out.add(part.name, value.decode(part.get_charset(default="utf-8"))
                    if content_type is None or content_type.startswith("text/") else value)
    return out


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
    network = None
    if trust_forwarded:
        hops = [hop for line in request.headers.getall("X-Forwarded-For", ())
                for hop in line.split(",")]
        if hops:
            network = network_of(hops[-1])
    if network is None:
        network = network_of(peer)
    return peer[:64] if network is None else network  # no address at all: a Unix socket
