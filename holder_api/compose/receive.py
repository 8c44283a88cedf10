"""Receiving: OpenID4VCI offers and inbox links, and the purge of expired inbox items."""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

from holder_api.compose.accounts import Accounts
from holder_api.compose.consent import Consent
from holder_api.compose.stores import Stores
from holder_api.compose.vault import Vault
from wallet.accounts.tokens import ServiceKeys
from wallet.crypto import VaultKey
from wallet.personal_data import Withdrawn
from wallet.receive import InboxService, InboxStore, OfferFlow, ReceiveService
from wallet.receive.sweep import ExpirySweep
from wallet.receive.tables import inbox_events, inbox_items, inbox_link_leftovers, inbox_links

__all__ = ["Receive", "build_receive"]


@dataclass(frozen=True, slots=True)
class Receive:
    service: ReceiveService
    store: InboxStore
    #: purges expired inbox items (every hour, or twice per TTL if shorter)
    sweep: ExpirySweep


def _link_key(keys: ServiceKeys) -> bytes:
    """The key of the inbox link token hashes (a subkey: the pepper itself is never reused)."""
    return hashlib.blake2b(b"inbox-link-token", key=keys.username_pepper[:64]).digest()


def build_receive(stores: Stores, accounts: Accounts, vault: Vault, consent: Consent) -> Receive:
    settings = stores.settings
    store = InboxStore(stores.engine)
    service = ReceiveService(
        offers=OfferFlow(vault=stores.vault, intake=vault.intake, outbox=consent.outbox,
                         fetcher=stores.fetcher, trust=stores.trust,
                         public_url=settings.public_url, ttl=settings.inbox_ttl,
                         clock=stores.clock),
        inbox=InboxService(store=store, vault=stores.vault,
                           inbox_public_key=accounts.service.inbox_public_key,
                           activity=consent.activity, limiter=stores.limiter,
                           link_key=_link_key(stores.keys), public_url=settings.public_url,
                           link_limit=settings.inbox_link_limit,
                           client_limit=settings.inbox_client_limit,
                           ttl=timedelta(seconds=settings.inbox_ttl), clock=stores.clock),
        credentials=vault.credentials)
    _join_personal_data(consent, store, service)
    return Receive(service=service, store=store,
                   sweep=ExpirySweep(service.inbox.sweep,
                                     interval=min(3600.0, settings.inbox_ttl / 2)))


def _waiting_events(inbox: InboxService) -> Callable[[str, object], Awaitable[int]]:
    """The inbox's count as a ledger ``waiting`` hook (its rows are counted without the key)."""
    async def count(learner_id: str, _sealer: object) -> int:
        return await inbox.waiting_events(learner_id)
    return count


def _join_personal_data(consent: Consent, store: InboxStore, service: ReceiveService) -> None:
    registry = consent.personal_data
    for table in (inbox_links, inbox_link_leftovers, inbox_items, inbox_events):
        registry.add_table(table)
    # pushes and expiries queue their ledger entries while the learner is locked: they move in
    # before anything reads or appends to the learner's ledger
    consent.ledger.before_read.append(service.inbox.drain_events)
    consent.ledger.waiting.append(_waiting_events(service.inbox))
    # under the learner's inbox lock: a push in flight either lands before (and is deleted)
    # or finds its link gone; the table rows are then already empty
    registry.add_eraser("inbox", store.erase_learner)

    async def withdraw_link(learner_id: str, dek: VaultKey, link_id: str) -> Withdrawn:
        await service.revoke_link(learner_id, dek, link_id)
        return Withdrawn(purpose="receive credentials through an inbox link")

    registry.add_withdrawal("inbox_link", withdraw_link)
