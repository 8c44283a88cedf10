"""The consent ledger behind :class:`wallet.ports.ActivityLog`: how wallet and sharing record.

Wallet and sharing code never import ``consent``; they describe what happened as a
:class:`~wallet.ports.Activity` and this adapter turns it into a sealed ledger entry under the
learner's pseudonymous ledger reference.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from consent.events import ConsentEvent, EventKind
from consent.service import ConsentService
from wallet.ports import Activity, Sealer

__all__ = ["LedgerActivityLog"]


class LedgerActivityLog:
    def __init__(self, consent: ConsentService, learner_ref: Callable[[str], str]) -> None:
        self._consent = consent
        self._ref = learner_ref

    def event(self, activity: Activity) -> ConsentEvent:
        return ConsentEvent(
            kind=EventKind(activity.kind), counterparty=activity.counterparty,
            counterparty_name=activity.counterparty_name, purpose=activity.purpose,
            claims=activity.claims, credential_ids=activity.credential_ids,
            data_categories=activity.data_categories, details=dict(activity.details))

    async def record(self, learner_id: str, sealer: Sealer, activity: Activity, *,
                     before_disclosure: bool = False) -> str:
        event = self.event(activity)
        ref = self._ref(learner_id)
        if before_disclosure:
            entry = await self._consent.record_before_disclosure(ref, sealer, event)
        else:
            entry = await self._consent.record(ref, sealer, event)
        return entry.id

    async def record_staged(self, learner_id: str, sealer: Sealer, activity: Activity, *,
                            entry_id: str, at: datetime) -> bool:
        """Append an entry the vault outbox staged (:mod:`wallet.ledger_outbox`), exactly once:
        ``False`` when ``entry_id`` is already in the ledger."""
        entry = await self._consent.record_staged(self._ref(learner_id), sealer,
                                                  self.event(activity), entry_id=entry_id, at=at)
        return entry is not None
