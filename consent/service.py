"""The consent service other packages call: record first, then act — or do not act at all.

Specs: GDPR Art. 7(1) (the controller must be able to demonstrate consent) and Art. 5(2)
(accountability), https://eur-lex.europa.eu/eli/reg/2016/679/oj ; docs/architecture.md "Record
before disclosing".

Why fail closed: a disclosure that is not in the ledger is one the learner can never see, verify or
get a receipt for. So ``sharing`` (presentations, share links) and ``wallet`` call
:meth:`ConsentService.record_before_disclosure` *before* anything leaves the vault, and every way
the write can fail — the database down, a dropped table, a closed engine, a timeout, a sealer that
throws — reaches them as :class:`~consent.errors.LedgerUnavailable` (a
:class:`wallet.errors.Unavailable`), which stops the action. Typed errors that describe
the request itself (an invalid event, an erased ledger, a key that does not open the ledger) pass
through unchanged: the action does not happen either. The one asymmetry is deliberate: a timeout
that strikes after the commit leaves an entry for an action that then does not happen — the
ledger may over-record, never under-record.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncConnection

from consent.chain import ChainReport
from consent.documents import ExportedRecord
from consent.entries import ImportSummary, LedgerEntry, Page, Staged
from consent.errors import LedgerUnavailable
from consent.events import ConsentEvent, EventKind
from consent.ledger import Ledger
from consent.ports import BodySealer
from wallet.errors import SatchelError

__all__ = ["ConsentService"]

T = TypeVar("T")
log = logging.getLogger(__name__)


class ConsentService:
    """Fail-closed front of the :class:`~consent.ledger.Ledger`; ``timeout`` bounds each call."""

    def __init__(self, ledger: Ledger, *, timeout: float = 5.0) -> None:
        self._ledger = ledger
        self._timeout = timeout

    @property
    def ledger(self) -> Ledger:
        return self._ledger

    async def _guard(self, call: Awaitable[T]) -> T:
        try:
            return await asyncio.wait_for(call, self._timeout)
        except SatchelError:
            raise
        except Exception as exc:  # boundary: fail closed on *anything* (module doc)
            # its type only: a driver's message may hold the database URL, a sealer's a value
            log.warning("consent ledger call failed: %s", type(exc).__name__)
            raise LedgerUnavailable("the consent ledger could not record this event") from exc

    async def record_before_disclosure(self, learner_ref: str, sealer: BodySealer,
                                       event: ConsentEvent) -> LedgerEntry:
        """Write ``event`` to the ledger; only when this returns may the disclosure happen."""
        return await self._guard(self._ledger.append(learner_ref, sealer, event))

    async def record(self, learner_ref: str, sealer: BodySealer,
                     event: ConsentEvent) -> LedgerEntry:
        """Record a non-disclosure event (received, declined, link revoked ...), same guarantees."""
        return await self._guard(self._ledger.append(learner_ref, sealer, event))

    @asynccontextmanager
    async def recording(self, learner_ref: str, sealer: BodySealer,
                        event: ConsentEvent) -> AsyncIterator[AsyncConnection]:
        """Append ``event`` and hand over its open transaction: rows the caller writes on the
        connection commit with the entry, or neither does. Getting the entry written fails as
        :meth:`record` does (within ``timeout``, anything unexpected is
        :class:`LedgerUnavailable`); what the block raises passes through unchanged."""
        async with AsyncExitStack() as stack:
            try:
                async with asyncio.timeout(self._timeout):
                    _entry, conn = await stack.enter_async_context(
                        self._ledger.appending(learner_ref, sealer, event))
            except SatchelError:
                raise
            except Exception as exc:  # boundary: fail closed, as _guard
                log.warning("consent ledger call failed: %s", type(exc).__name__)
                raise LedgerUnavailable("the consent ledger could not record this event") \
                    from exc
            yield conn

    async def record_staged(self, learner_ref: str, sealer: BodySealer,
                            staged: Sequence[Staged]) -> list[LedgerEntry]:
        """Append entries staged in the learner's vault outbox (those not appended yet)."""
        return await self._guard(self._ledger.append_staged(learner_ref, sealer, staged))

    async def history(self, learner_ref: str, sealer: BodySealer, *,
                      kind: EventKind | str | Sequence[EventKind | str] | None = None,
                      counterparty: str | None = None, since: datetime | None = None,
                      until: datetime | None = None, limit: int = 50,
                      cursor: str | None = None) -> Page:
        return await self._guard(self._ledger.events(
            learner_ref, sealer, kind=kind, counterparty=counterparty, since=since, until=until,
            limit=limit, cursor=cursor))

    async def verify(self, learner_ref: str) -> ChainReport:
        return await self._guard(self._ledger.verify(learner_ref))

    async def imports(self, learner_ref: str, sealer: BodySealer) -> list[ImportSummary]:
        """The learner's chain takeovers and on whose word each was taken (learner-asserted)."""
        return await self._guard(self._ledger.imports(learner_ref, sealer))

    async def receipt(self, learner_ref: str, sealer: BodySealer, event_id: str) -> str:
        return await self._guard(self._ledger.receipt(learner_ref, sealer, event_id))

    async def export_chain(self, learner_ref: str, sealer: BodySealer, *,
                           bundle_keys: str | None = None) -> list[ExportedRecord]:
        return await self._guard(self._ledger.export_chain(learner_ref, sealer,
                                                           bundle_keys=bundle_keys))

    async def import_chain(self, learner_ref: str, sealer: BodySealer,
                           entries: Sequence[Mapping[str, Any]]) -> LedgerEntry:
        return await self._guard(self._ledger.import_chain(learner_ref, sealer, entries))

    async def import_staged_chain(self, learner_ref: str, sealer: BodySealer, marker_id: str,
                                  entries: Sequence[Mapping[str, Any]]) -> LedgerEntry | None:
        """A chain takeover staged in the vault first, exactly once (``None``: already there)."""
        return await self._guard(self._ledger.import_staged_chain(learner_ref, sealer, marker_id,
                                                                  entries))

    async def erase(self, learner_ref: str, *,
                    with_it: Callable[[AsyncConnection], Awaitable[None]] | None = None) -> None:
        """The tombstone (:meth:`Ledger.erase`), ``with_it`` in its transaction."""
        await self._guard(self._ledger.erase(learner_ref, with_it=with_it))
