"""The learner's view of their consent ledger: history, verification, receipts, the public key.

Specs: GDPR Art. 7(1) (demonstrating consent), Art. 15 (access),
https://eur-lex.europa.eu/eli/reg/2016/679/oj ; RFC 7517 (JWK Set, for the public key document),
https://www.rfc-editor.org/rfc/rfc7517#section-5 ; Kantara Consent Receipt v1.1 (receipts, see
:mod:`consent.receipts`).

Why a separate front: handlers know learner ids and vault keys; the ledger knows only pseudonymous
``learner_ref`` s (so its tables never name an account). This class maps one to the other and shapes
its answers typed; every call goes through the fail-closed
:class:`~consent.service.ConsentService`.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from consent.chain import ChainReport
from consent.documents import JwkSet
from consent.entries import ImportSummary, Page
from consent.errors import InvalidQuery
from consent.events import ConsentEvent, EventKind
from consent.ports import BodySealer
from consent.service import ConsentService
from wallet.errors import SatchelError
from wallet.jose import alg_for_key, public_key_from_jwk

__all__ = ["CaughtUpReport", "LearnerLedger", "parse_time"]


#: RFC 3339 §5.6 ``date-time``, the API schema's ``format``: ``T`` and ``Z`` in either case (its
#: note, and the JSON Schema test suite), an offset always (a time without one names no instant).
_RFC3339 = re.compile(r"(\d{4})-(\d\d)-(\d\d)[Tt](\d\d):(\d\d):(\d\d)(?:\.(\d+))?"
                      r"(?:([Zz])|([+-])(\d\d):(\d\d))")


def _rfc3339(m: re.Match[str]) -> datetime:
    """Every RFC 3339 date-time (the API schema's ``format``), even those ``datetime`` lacks: a
    leap second (only at 23:59 UTC, as RFC 3339 §5.7 allows it) counts as :59.999999, years
    before 1 and offsets past the range clamp; ``ValueError`` for any other."""
    y, mo, d, h, mi, s = (int(m.group(i)) for i in range(1, 7))
    micro = int((m.group(7) or "0")[:6].ljust(6, "0"))
    off_h, off_m = (0, 0) if m.group(8) is not None else (int(m.group(10)), int(m.group(11)))
    if off_h > 23 or off_m > 59:
        raise ValueError("no such offset")
    offset = timedelta(hours=off_h, minutes=off_m)
    if s == 60:
        sign = 1 if m.group(9) == "-" else -1
        if (h * 60 + mi + sign * (off_h * 60 + off_m)) % 1440 != 23 * 60 + 59:
            raise ValueError("a leap second is 23:59:60 UTC")
        s, micro = 59, 999_999
    if y == 0:
        datetime(2000, mo, d, h, mi, s)  # ValueError: no such day/time (year 0 is a leap year)
        return datetime.min.replace(tzinfo=UTC)
    local = datetime(y, mo, d, h, mi, s, micro, tzinfo=UTC)  # ValueError: no such day/time
    if m.group(8) is not None:
        return local
    try:
        return local - offset if m.group(9) == "+" else local + offset
    except OverflowError:
        return (datetime.min if m.group(9) == "+" else datetime.max).replace(tzinfo=UTC)


def parse_time(raw: str | None, what: str) -> datetime | None:
    """An RFC 3339 date-time from a query string, exactly as the API schema's ``format``
    (nothing else of ISO 8601: a time without an offset is no instant); absent is ``None``."""
    if raw is None:
        return None
    try:
        m = _RFC3339.fullmatch(raw) if len(raw) <= 64 else None
        if m is None:
            raise ValueError("not an RFC 3339 date-time")
        return _rfc3339(m)
    except (ValueError, OverflowError) as exc:
        raise InvalidQuery(f"{what} must be an RFC 3339 date-time") from exc


@dataclass(frozen=True, slots=True)
class CaughtUpReport:
    """A chain report, with what still waits to move into the chain (``staged_pending``,
    ``None`` if unknown) and why the catch-up before it failed (an error code), if it did."""

    report: ChainReport
    staged_pending: int | None
    catch_up_error: str | None
    #: the chain takeovers in it, each with how many of its entries are learner-asserted
    #: (``None``: not known, without the learner's key or when the bodies did not open)
    imports: list[ImportSummary] | None = None


class LearnerLedger:
    """``learner_ref`` maps an account id to its ledger reference (a keyed hash)."""

    def __init__(self, consent: ConsentService, learner_ref: Callable[[str], str]) -> None:
        self._consent = consent
        self._ref = learner_ref
        #: called before anything reads or appends to the learner's ledger through this front:
        #: entries staged elsewhere move in here (the vault's ledger outbox, share-link views
        #: sealed to the inbox key), so the learner never sees a history missing one
        self.before_read: list[Callable[[str, Any], Awaitable[object]]] = []
        #: how many entries still wait in each of those places (reported by verification)
        self.waiting: list[Callable[[str, Any], Awaitable[int]]] = []

    async def catch_up(self, learner_id: str, sealer: BodySealer) -> None:
        """Move whatever waits for this learner's ledger into it (see :attr:`before_read`)."""
        for hook in self.before_read:
            await hook(learner_id, sealer)

    def ref(self, learner_id: str) -> str:
        return self._ref(learner_id)

    async def events(self, learner_id: str, sealer: BodySealer, *,
                     kinds: Sequence[str] = (), counterparty: str | None = None,
                     since: str | None = None, until: str | None = None, limit: int = 50,
                     cursor: str | None = None) -> Page:
        await self.catch_up(learner_id, sealer)
        return await self._consent.history(
            self._ref(learner_id), sealer, kind=list(kinds) or None, counterparty=counterparty,
            since=parse_time(since, "since"), until=parse_time(until, "until"), limit=limit,
            cursor=cursor)

    async def verify(self, learner_id: str, sealer: BodySealer | None = None) -> ChainReport:
        """The chain's report; with the learner's key, after a best-effort catch-up."""
        return (await self.verify_caught_up(learner_id, sealer)).report

    async def verify_caught_up(self, learner_id: str,
                               sealer: BodySealer | None = None) -> CaughtUpReport:
        """The chain's report, after catching up when the learner's key is given (the report
        then counts every entry the learner's data implies). Verification never fails because
        of what waits to move in: a catch-up that fails (a store down, an erased ledger) is
        reported with what still waits, and the chain as it stands is verified."""
        error: str | None = None
        pending: int | None = 0
        imports: list[ImportSummary] | None = None
        if sealer is not None:
            try:
                await self.catch_up(learner_id, sealer)
            except SatchelError as exc:
                error = exc.code
            try:
                pending = sum([await count(learner_id, sealer) for count in self.waiting])
            except SatchelError:
                pending = None  # unknown: the store holding them did not answer
        report = await self._consent.verify(self._ref(learner_id))
        if sealer is not None:
            try:  # what was taken over on the learner's word (import entries' bodies)
                imports = await self._consent.imports(self._ref(learner_id), sealer)
            except SatchelError:
                imports = None
        return CaughtUpReport(report, pending, error, imports)

    async def receipt(self, learner_id: str, sealer: BodySealer, event_id: str) -> str:
        await self.catch_up(learner_id, sealer)
        return await self._consent.receipt(self._ref(learner_id), sealer, event_id)

    async def record(self, learner_id: str, sealer: BodySealer, event: ConsentEvent) -> str:
        await self.catch_up(learner_id, sealer)  # what happened before comes first
        return (await self._consent.record(self._ref(learner_id), sealer, event)).id

    def public_keys(self) -> JwkSet:
        """A JWK Set with the key that signs chain heads and consent receipts."""
        jwk = dict(self._consent.ledger.public_jwk)
        jwk.setdefault("use", "sig")
        jwk.setdefault("alg", alg_for_key(public_key_from_jwk(jwk)))
        return {"keys": [jwk], "typ": ["consent-receipt+jwt", "consent-ledger-head+jwt"],
                "event_kinds": [k.value for k in EventKind]}
