"""Status checking for a stored credential: fetch, verify, decode, cache; fail closed.

Token Status List (draft-ietf-oauth-status-list §8: fetch with
``Accept: application/statuslist+jwt``, cache per ``ttl``/``exp``) and W3C Bitstring Status List
v1.0 / StatusList2021 (https://www.w3.org/TR/vc-bitstring-status-list/ §3.2: fetch the list
credential, check its proof and purpose, cache per ``ttl``/``validUntil``). The network comes in
through :class:`wallet.ports.Fetcher`; any failure (unreachable, non-200, bad signature, wrong
``sub``/purpose, index out of range, bomb) gives ``"unknown"``, never ``"valid"``.

Key resolution is the caller's: ``key_resolver(header, claims)`` gets the *unverified* JWS header
and payload claims (so it can look at ``iss``/``kid``/``x5c``) and returns the key it trusts, or
raises a :class:`~wallet.errors.SatchelError`; it may be a coroutine function (issuer metadata has
to be fetched). Data Integrity proofs on JSON-LD list credentials are checked by an injected
``ld_verifier``; without one such lists are ``"unknown"`` (Satchel never trusts an unchecked proof).

Who signed a list is what its *key* is bound to, never what the list says about itself: for JWT lists
the key resolver resolves the key from the list's ``iss`` (so a key it returns is bound to that
identifier), for JSON-LD lists the ``ld_verifier`` returns the identifier the proof's key is bound
to. A list whose signer is not the credential's issuer gives ``"unknown"`` with the problem
``status_list_not_from_issuer`` (:meth:`StatusChecker.check_entry`).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from wallet.clock import SYSTEM_CLOCK, Clock
from wallet.errors import SatchelError, UpstreamError
from wallet.formats.model import StatusReference, StatusState
from wallet.jose import PublicKey, parse_compact
from wallet.ports import Fetcher
from wallet.status_list.bitstring import (
    BitstringStatusList,
    credential_from_vc_jwt,
    parse_bitstring_credential,
)
from wallet.status_list.codec import DEFAULT_MAX_INFLATED
from wallet.status_list.errors import InvalidStatusList, StatusListNotFromIssuer
from wallet.status_list.token import StatusListToken, verify_status_list_token

__all__ = ["KeyResolver", "LdVerifier", "StatusChecker", "StatusOutcome"]

log = logging.getLogger(__name__)

KeyResolver = Callable[[Mapping[str, Any], Mapping[str, Any]], PublicKey | Awaitable[PublicKey]]
#: ``ld_verifier(doc)``: checks the Data Integrity proof of a JSON-LD list credential and returns the
#: identifier its key is *bound* to (the issuer that signed it), or ``None`` when the proof does not
#: verify; it may raise a :class:`~wallet.errors.SatchelError` (e.g.
#: :class:`~wallet.status_list.errors.StatusListNotFromIssuer` for a self-asserted key).
LdVerifier = Callable[[Mapping[str, Any]], str | None | Awaitable[str | None]]

TOKEN_ACCEPT = ("application/statuslist+jwt",)
BITSTRING_ACCEPT = ("application/vc+ld+json", "application/ld+json", "application/json",
                    "application/vc", "application/vc+jwt", "application/jwt")
_JWT_TYPES = frozenset({"application/vc+jwt", "application/jwt"})


@dataclass(frozen=True, slots=True)
class _Entry:
    until: float
    token_list: StatusListToken | None = None
    bitstring: BitstringStatusList | None = None
    issuer: str | None = None  # who the list's key is bound to: must be the credential's issuer


@dataclass(frozen=True, slots=True)
class StatusOutcome:
    """A status and, when it is ``"unknown"``, the problem code saying why (no URL, no claims)."""

    state: StatusState
    problem: str | None = None


def _issuer_of(claims: Mapping[str, Any]) -> str | None:
    iss = claims.get("iss", claims.get("issuer"))
    if isinstance(iss, Mapping):
        iss = iss.get("id")
    return iss if isinstance(iss, str) else None


class StatusChecker:
    """Checks :class:`StatusReference` s against their lists, with a bounded in-memory LRU cache."""

    def __init__(
        self,
        fetcher: Fetcher,
        key_resolver: KeyResolver,
        *,
        clock: Clock = SYSTEM_CLOCK,
        ld_verifier: LdVerifier | None = None,
        cache_size: int = 256,
        default_ttl: float = 300.0,
        max_ttl: float = 86400.0,
        max_bytes: int = 1 << 20,
        max_inflated: int = DEFAULT_MAX_INFLATED,
    ) -> None:
        self._fetcher = fetcher
        self._key_resolver = key_resolver
        self._clock = clock
        self._ld_verifier = ld_verifier
        self._cache: OrderedDict[tuple[str, str], _Entry] = OrderedDict()
        self._cache_size = max(1, cache_size)
        self._default_ttl = default_ttl
        self._max_ttl = max_ttl
        self._max_bytes = max_bytes
        self._max_inflated = max_inflated
        self._inflight: dict[tuple[str, str], asyncio.Future[_Entry]] = {}

    async def check(self, ref: StatusReference, *, issuer: str | None = None) -> StatusState:
        """The credential's status; ``"unknown"`` whenever it cannot be established.

        ``issuer`` is the credential's issuer: a list signed by anyone else does not count
        (otherwise whoever controls the status URL would decide the credential's status).
        """
        return (await self.check_entry(ref, issuer=issuer)).state

    async def check_entry(self, ref: StatusReference, *,
                          issuer: str | None = None) -> StatusOutcome:
        """:meth:`check`, with the problem code when the status is ``"unknown"``."""
        try:
            entry = await self._entry(ref)
            if issuer is not None and entry.issuer != issuer:
                raise StatusListNotFromIssuer(
                    "the status list was not signed by the credential's issuer")
            if entry.token_list is not None:
                return StatusOutcome(entry.token_list.status_list.state(ref.index))
            if entry.bitstring is not None and ref.purpose is not None:
                return StatusOutcome(entry.bitstring.state(ref.index, ref.purpose))
            raise InvalidStatusList("status entry names no statusPurpose")
        except SatchelError as exc:
            log.info("status of an entry in a list at %s is unknown: %s", _host(ref.uri),
                     exc.code)
            return StatusOutcome("unknown", exc.code)
        except (ValueError, TypeError, OverflowError, RecursionError, KeyError) as exc:
            # hostile list content that slipped past the decoders: still only "unknown"
            log.info("status of an entry in a list at %s is unknown: %s", _host(ref.uri),
                     type(exc).__name__)
            return StatusOutcome("unknown", InvalidStatusList.code)

    def invalidate(self, uri: str | None = None) -> None:
        """Forget one cached list (or all)."""
        if uri is None:
            self._cache.clear()
        else:
            for key in [k for k in self._cache if k[1] == uri]:
                del self._cache[key]

    async def _entry(self, ref: StatusReference) -> _Entry:
        key = (ref.kind, ref.uri)
        now = self._clock().timestamp()
        cached = self._cache.get(key)
        if cached is not None and cached.until > now:
            self._cache.move_to_end(key)
            return cached
        pending = self._inflight.get(key)
        if pending is None:
            pending = asyncio.ensure_future(self._load(ref))
            self._inflight[key] = pending
            pending.add_done_callback(lambda _f: self._inflight.pop(key, None))
        entry = await asyncio.shield(pending)
        self._cache[key] = entry
        self._cache.move_to_end(key)
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return entry

    async def _resolver(self, token: str) -> Callable[[Mapping[str, Any]], PublicKey]:
        parts = parse_compact("".join(token.split()))
        key = self._key_resolver(parts.header, parts.claims())
        if inspect.isawaitable(key):
            key = await key
        resolved: PublicKey = key
        return lambda _header: resolved

    async def _load(self, ref: StatusReference) -> _Entry:
        if ref.kind == "token_status_list":
            resp = await self._fetcher.get(ref.uri, accept=TOKEN_ACCEPT, max_bytes=self._max_bytes)
            if resp.status != 200:
                raise UpstreamError("status list endpoint did not answer 200")
            token = resp.text().strip()
            now = self._clock().timestamp()
            resolve_key = await self._resolver(token)
            tl = verify_status_list_token(token, uri=ref.uri, resolve_key=resolve_key, now=now,
                                          max_inflated=self._max_inflated)
            until = tl.fresh_until(now, default_ttl=self._default_ttl, max_ttl=self._max_ttl)
            signer = _issuer_of(parse_compact("".join(token.split())).claims())
            return _Entry(until, token_list=tl, issuer=signer)
        if ref.kind == "bitstring_status_list":
            resp = await self._fetcher.get(ref.uri, accept=BITSTRING_ACCEPT,
                                           max_bytes=self._max_bytes)
            if resp.status != 200:
                raise UpstreamError("status list endpoint did not answer 200")
            now = self._clock().timestamp()
            body = resp.text().strip()
            if resp.content_type in _JWT_TYPES or (body.startswith("ey") and body.count(".") == 2):
                credential = credential_from_vc_jwt(body, resolve_key=await self._resolver(body),
                                                    now=now)
                # the key was resolved from the JWT's ``iss``: the credential inside must not name
                # another issuer (a VC-JWT 1.1 ``vc.issuer`` is not covered by that resolution)
                signer = _issuer_of(parse_compact(body).claims())
                if signer is None or _issuer_of(credential) != signer:
                    raise StatusListNotFromIssuer("status list credential names another issuer")
            else:
                doc = resp.json()
                if not isinstance(doc, dict):
                    raise InvalidStatusList("status list credential must be a JSON object")
                signer = await self._ld_signer(doc)
                if signer is None:
                    raise InvalidStatusList("status list credential proof is not verified")
                if signer != _issuer_of(doc):
                    raise StatusListNotFromIssuer("status list key is not its issuer's")
                credential = doc
            bl = parse_bitstring_credential(credential, now=now, purpose=ref.purpose,
                                            max_inflated=self._max_inflated)
            until = bl.fresh_until(now, default_ttl=self._default_ttl, max_ttl=self._max_ttl)
            return _Entry(until, bitstring=bl, issuer=_issuer_of(credential))
        raise InvalidStatusList("unknown status reference kind")

    async def _ld_signer(self, doc: Mapping[str, Any]) -> str | None:
        """The identifier the list's proof key is bound to (``None``: no verified proof)."""
        if self._ld_verifier is None:
            return None
        signer = self._ld_verifier(doc)
        if inspect.isawaitable(signer):
            signer = await signer
        return signer if isinstance(signer, str) and signer else None


def _host(uri: str) -> str:
    rest = uri.split("://", 1)[-1]
    return rest.split("/", 1)[0].split("?", 1)[0].rsplit("@", 1)[-1][:100]
