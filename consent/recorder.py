"""The consent ledger behind :class:`wallet.ports.ActivityLog`: how wallet and sharing record.

Wallet and sharing code never import ``consent``; they describe what happened as a
:class:`~wallet.ports.Activity` and this adapter turns it into a sealed ledger entry under the
learner's pseudonymous ledger reference.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from consent.entries import Staged
from consent.errors import LedgerErased
from consent.events import ConsentEvent
from consent.service import ConsentService
from wallet.ports import Activity, Sealer

__all__ = ["LedgerActivityLog"]


class LedgerActivityLog:
    def __init__(self, consent: ConsentService, learner_ref: Callable[[str], str]) -> None:
        self._consent = consent
        self._ref = learner_ref

    def event(self, activity: Activity) -> ConsentEvent:
        # ConsentEvent checks the kind too: one that is no member (a value cast past the type
        # checker, or staged by another release) is InvalidEvent, never a bare ValueError
        return ConsentEvent(
            kind=activity.kind, counterparty=activity.counterparty,
            counterparty_name=activity.counterparty_name, purpose=activity.purpose,
            claims=activity.claims, credential_ids=activity.credential_ids,
            data_categories=activity.data_categories, details=dict(activity.details))

    def check(self, activity: Activity) -> None:
        """Raise :class:`~consent.errors.InvalidEvent` if the ledger would refuse this entry."""
        self.event(activity)

    async def record(self, learner_id: str, sealer: Sealer, activity: Activity, *,
                     before_disclosure: bool = False) -> str:
        event = self.event(activity)
        ref = self._ref(learner_id)
        if before_disclosure:
            entry = await self._consent.record_before_disclosure(ref, sealer, event)
        else:
            entry = await self._consent.record(ref, sealer, event)
        return entry.id

    @asynccontextmanager
    async def recording(self, learner_id: str, sealer: Sealer,
                        activity: Activity) -> AsyncIterator[AsyncConnection]:
        """Append ``activity``'s entry; rows written on the connection commit with it
        (:class:`wallet.ports.RowActivityLog`)."""
        async with self._consent.recording(self._ref(learner_id), sealer,
                                           self.event(activity)) as conn:
            yield conn

    async def record_staged(self, learner_id: str, sealer: Sealer,
                            staged: Sequence[tuple[str, datetime, Activity]]) -> int | None:
        """Append what the vault outbox staged (:mod:`wallet.ledger_outbox`): ``(entry id, time,
        activity)`` in order, exactly once, in one transaction; how many were not there yet, or
        ``None`` if the ledger was erased (what is staged describes data being erased)."""
        try:
            entries = await self._consent.record_staged(
                self._ref(learner_id), sealer,
                [Staged(entry_id, at, self.event(activity)) for entry_id, at, activity in staged])
        except LedgerErased:
            return None
        return len(entries)

    def check_takeover(self, records: Sequence[Mapping[str, Any]]) -> None:
        """Raise the ledger's own ``BadInput`` (``ImportRejected``) if it would refuse to take
        this exported chain over (checked when the takeover is staged)."""
        self._consent.ledger.check_export(records)

    async def record_staged_takeover(self, learner_id: str, sealer: Sealer, entry_id: str,
                                     records: Sequence[Mapping[str, Any]]) -> int | None:
        """Take over an exported chain staged in the vault outbox, its ``import`` entry under
        ``entry_id``, exactly once: how many entries were appended (0: already taken over), or
        ``None`` if the ledger was erased."""
        try:
            entry = await self._consent.import_staged_chain(self._ref(learner_id), sealer,
                                                            entry_id, records)
        except LedgerErased:
            return None
        return 0 if entry is None else len(records)
