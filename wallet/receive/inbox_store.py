"""The relational side of inbox links and items (SQLAlchemy 2 async; SQLite or PostgreSQL).

Why here and not in the learner's Askar profile: see :mod:`wallet.migrations.versions.0003_inbox`.
Every query is scoped by ``learner_id``: another learner's ids are simply not found.

Why ``inbox_events``: what happens to an item while the learner is locked (it arrives, it
expires) must reach the consent ledger, which seals every entry under the learner's vault key.
So each such write also queues the entry, sealed to the learner's inbox public key (read from the
learner's row in the same transaction), in the transaction that writes or deletes the item:
never an item stored or expired that no entry names (docs/consent.md). The learner's next access
moves them into the ledger (:meth:`InboxStore.events`, :meth:`InboxStore.take_event_in`).

Why a per-learner lock (:func:`wallet.db.serialised`): storing a push counts the learner's items
and the link's recent items, then inserts. Two pushes reading the same counts would both pass the
caps, so every push for one learner, and the erasure of that learner's rows, run one at a time;
the push also checks inside that transaction that its link still exists, so a push whose link was
looked up (or cached) before a revocation or an erasure stores nothing once it has gone.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import DateTime, LargeBinary, Table, and_, case, cast, delete, func, null, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from wallet.accounts.models import learners
from wallet.clock import iso
from wallet.crypto import seal_to_inbox
from wallet.db import failing_as, reading, serialised, writing
from wallet.errors import RateLimited
from wallet.ports import ActivityKind
from wallet.receive.errors import LinkNotFound
from wallet.receive.tables import inbox_events, inbox_items, inbox_link_leftovers, inbox_links

__all__ = ["EXPIRED", "RECEIVED", "InboxEventRow", "InboxRow", "InboxStore", "LinkRow",
           "StoredLink"]

#: the kinds of the inbox's queued ledger entries (consent event kinds)
#: a queued event's kind, as its ledger entry will name it (the sealed queue row stores the value)
RECEIVED, EXPIRED = ActivityKind.INBOX_ITEM_RECEIVED, ActivityKind.INBOX_ITEM_EXPIRED
#: expired items deleted (and their entries queued) per transaction
_EXPIRY_BATCH = 500


@dataclass(frozen=True, slots=True)
class LinkRow:
    id: str
    learner_id: str


@dataclass(frozen=True, slots=True)
class StoredLink:
    """One of the learner's live links as its row holds it."""

    sealed_record: bytes | None  # None: created before 0006 (label in the vault), or downgraded
    created_at: datetime  # always timezone-aware (UTC)


@dataclass(frozen=True, slots=True)
class InboxRow:
    id: str
    link_id: str
    received_at: datetime  # always timezone-aware (UTC)
    sealed: bytes


@dataclass(frozen=True, slots=True)
class InboxEventRow:
    """A queued ledger entry of the inbox (sealed to the learner's inbox key)."""

    id: str
    queued_at: datetime  # always timezone-aware (UTC)
    sealed: bytes


def _utc(at: datetime) -> datetime:
    """SQLite hands back naive datetimes (stored as UTC wall-clock); PostgreSQL aware ones."""
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def _row(r: Any) -> InboxRow:
    return InboxRow(r.id, r.link_id, _utc(r.received_at), bytes(r.sealed))


_UNAVAILABLE = "inbox store unavailable"


def _lock_key(learner_id: str) -> str:
    return "inbox/" + learner_id


class InboxStore:
    def __init__(self, engine: AsyncEngine, *, max_items: int = 500) -> None:
        self._engine = engine
        self.max_items = max_items  # most items one learner's inbox holds (sealed, unread)

    @staticmethod
    async def add_link_in(conn: AsyncConnection, link_id: str, learner_id: str,
                          token_hash: str, at: datetime, sealed_record: bytes) -> None:
        """Add a link inside the caller's transaction (its ledger entry's: one commit);
        ``sealed_record``: the label, sealed under the learner's vault key
        (:mod:`wallet.row_records`). Required: no live link is written without its record."""
        await conn.execute(inbox_links.insert().values(
            id=link_id, learner_id=learner_id, token_hash=token_hash, created_at=at,
            sealed_record=sealed_record))

    async def delete_link(self, learner_id: str, link_id: str, *,
                          leftover: bool = False) -> bool:
        async with writing(self._engine, _UNAVAILABLE) as conn:
            return await self.delete_link_in(conn, learner_id, link_id, leftover=leftover)

    @staticmethod
    async def delete_link_in(conn: AsyncConnection, learner_id: str, link_id: str, *,
                             leftover: bool = False) -> bool:
        """:meth:`delete_link` inside the caller's transaction; True if there was one. With
        ``leftover`` (its label may have a copy in the vault), the link is named in
        ``inbox_link_leftovers`` in the same transaction, for the next list to remove that
        copy (:meth:`listed_links`, :meth:`forget_leftovers`)."""
        deleted = await _delete_owned_in(conn, inbox_links, learner_id, link_id)
        if deleted and leftover:
            await conn.execute(inbox_link_leftovers.insert().values(id=link_id,
                                                                    learner_id=learner_id))
        return deleted

    async def link_by_hash(self, token_hash: str) -> LinkRow | None:
        async with reading(self._engine, _UNAVAILABLE) as conn:
            row = (await conn.execute(select(inbox_links.c.id, inbox_links.c.learner_id)
                                      .where(inbox_links.c.token_hash == token_hash))).first()
        return None if row is None else LinkRow(row.id, row.learner_id)

    async def link_ids(self, learner_id: str) -> set[str]:
        return set(await self.links(learner_id))

    async def links(self, learner_id: str) -> dict[str, StoredLink]:
        """Every live link of the learner, by id (its sealed record ``None``: a link created
        before the labels moved into the rows, its label in the vault, or one whose record a
        schema downgrade dropped)."""
        async with reading(self._engine, _UNAVAILABLE) as conn:
            rows = await conn.execute(select(inbox_links.c.id, inbox_links.c.sealed_record,
                                             inbox_links.c.created_at)
                                      .where(inbox_links.c.learner_id == learner_id))
            return {r.id: StoredLink(None if r.sealed_record is None else bytes(r.sealed_record),
                                     _utc(r.created_at)) for r in rows}

    async def listed_links(self, learner_id: str) -> tuple[dict[str, StoredLink], set[str]]:
        """What a list reads, in one statement: :meth:`links`, and the ids of the learner's
        revoked links whose label may still have a copy in the vault (leftovers)."""
        live = select(inbox_links.c.id, inbox_links.c.sealed_record, inbox_links.c.created_at
                      ).where(inbox_links.c.learner_id == learner_id)
        gone = select(inbox_link_leftovers.c.id, cast(null(), LargeBinary),
                      cast(null(), DateTime(timezone=True))
                      ).where(inbox_link_leftovers.c.learner_id == learner_id)
        links, leftovers = {}, set()
        async with reading(self._engine, _UNAVAILABLE) as conn:
            for r in await conn.execute(live.union_all(gone)):
                if r.created_at is None:  # a live link's is never NULL
                    leftovers.add(r.id)
                else:
                    links[r.id] = StoredLink(
                        None if r.sealed_record is None else bytes(r.sealed_record),
                        _utc(r.created_at))
        return links, leftovers

    async def forget_leftovers(self, learner_id: str, link_ids: Collection[str]) -> None:
        """Forget leftovers whose vault copies are gone (:meth:`delete_link_in`)."""
        async with writing(self._engine, _UNAVAILABLE) as conn:
            await conn.execute(delete(inbox_link_leftovers).where(
                inbox_link_leftovers.c.learner_id == learner_id,
                inbox_link_leftovers.c.id.in_(list(link_ids))))

    async def seal_records(self, learner_id: str,
                           records: Mapping[str, tuple[bytes | None, bytes]]) -> set[str]:
        """Write each link's sealed record into its row, one transaction for all: ``records``
        maps a link id to (the record its row must hold for the write to happen, ``None`` for
        none; the new one). The ids of the rows written (a row revoked, or changed meanwhile, is
        left as it is)."""
        written = set()
        async with writing(self._engine, _UNAVAILABLE) as conn:
            for link_id, (held, new) in records.items():
                now_held = (inbox_links.c.sealed_record.is_(None) if held is None
                            else inbox_links.c.sealed_record == held)
                res = await conn.execute(update(inbox_links).where(
                    inbox_links.c.id == link_id, inbox_links.c.learner_id == learner_id,
                    now_held).values(sealed_record=new))
                if res.rowcount == 1:
                    written.add(link_id)
        return written

    async def add_item(self, item_id: str, learner_id: str, link_id: str, at: datetime,
                       sealed: bytes, *, link_limit: tuple[int, int] | None = None,
                       fresh_since: datetime | None = None, event: bytes | None = None) -> None:
        """Store a sealed push in one transaction, exclusive per learner.

        :class:`LinkNotFound` when the link no longer exists (revoked, or its learner erased);
        :class:`RateLimited` when the learner's inbox is full or the link already delivered
        ``link_limit`` = (count, seconds) items lately. Items received before ``fresh_since``
        have expired: they are deleted here first (their entries queued) and do not count.
        ``event``: the item's ``inbox_item_received`` entry, sealed to the learner's inbox key,
        queued in the same transaction."""
        since = at - timedelta(seconds=link_limit[1] if link_limit else 0)
        recent = func.sum(case((and_(inbox_items.c.link_id == link_id,
                                     inbox_items.c.received_at >= since), 1), else_=0))
        with failing_as(_UNAVAILABLE):
            async with serialised(self._engine, _lock_key(learner_id)) as conn:
                live = (await conn.execute(select(inbox_links.c.id).where(
                    inbox_links.c.id == link_id,
                    inbox_links.c.learner_id == learner_id))).first()
                if live is None:
                    raise LinkNotFound("no such inbox link")
                if fresh_since is not None:
                    await _expire_in(conn, fresh_since, at, learner_id)
                count, from_link = (await conn.execute(
                    select(func.count(), recent).select_from(inbox_items)
                    .where(inbox_items.c.learner_id == learner_id))).one()
                if count >= self.max_items:
                    raise RateLimited("this inbox is full", retry_after=3600)
                if link_limit is not None and (from_link or 0) >= link_limit[0]:
                    raise RateLimited("too many pushes through this link",
                                      retry_after=link_limit[1])
                await conn.execute(inbox_items.insert().values(
                    id=item_id, learner_id=learner_id, link_id=link_id, received_at=at,
                    sealed=sealed))
                if event is not None:
                    await conn.execute(inbox_events.insert().values(
                        id=str(uuid.uuid4()), learner_id=learner_id, queued_at=at,
                        sealed=event))

    async def erase_learner(self, learner_id: str) -> None:
        """Delete the learner's links (and leftovers) and items under the learner's lock
        (GDPR erasure).

        Idempotent. A push holding the lock finishes first and its row is deleted here; a push
        that takes the lock afterwards finds its link gone and stores nothing."""
        with failing_as(_UNAVAILABLE):
            async with serialised(self._engine, _lock_key(learner_id)) as conn:
                await conn.execute(delete(inbox_links)
                                   .where(inbox_links.c.learner_id == learner_id))
                await conn.execute(delete(inbox_link_leftovers)
                                   .where(inbox_link_leftovers.c.learner_id == learner_id))
                await conn.execute(delete(inbox_items)
                                   .where(inbox_items.c.learner_id == learner_id))
                await conn.execute(delete(inbox_events)
                                   .where(inbox_events.c.learner_id == learner_id))

    async def delete_expired(self, before: datetime, learner_id: str | None = None, *,
                             now: datetime) -> int:
        """Delete items received before ``before`` (one learner's, or everyone's), each with
        its ``inbox_item_expired`` entry queued in the same transaction (expired at ``now``);
        how many. In transactions of at most :data:`_EXPIRY_BATCH` items."""
        total = 0
        while True:
            async with writing(self._engine, _UNAVAILABLE) as conn:
                found, deleted = await _expire_in(conn, before, now, learner_id)
            total += deleted
            if found < _EXPIRY_BATCH:
                return total

    async def delete_expired_item(self, learner_id: str, item_id: str, before: datetime,
                                  now: datetime) -> bool:
        """Delete one item if it was received before ``before``, its ``inbox_item_expired``
        entry queued in the same transaction; True if it was deleted here."""
        async with writing(self._engine, _UNAVAILABLE) as conn:
            _, deleted = await _expire_in(conn, before, now, learner_id, item_id)
        return deleted == 1

    async def events(self, learner_id: str) -> list[InboxEventRow]:
        """The learner's queued ledger entries, oldest first."""
        async with reading(self._engine, _UNAVAILABLE) as conn:
            rows = await conn.execute(
                select(inbox_events.c.id, inbox_events.c.queued_at, inbox_events.c.sealed)
                .where(inbox_events.c.learner_id == learner_id)
                .order_by(inbox_events.c.queued_at, inbox_events.c.id))
            return [InboxEventRow(r.id, _utc(r.queued_at), bytes(r.sealed)) for r in rows]

    async def count_events(self, learner_id: str) -> int:
        async with reading(self._engine, _UNAVAILABLE) as conn:
            return int((await conn.execute(select(func.count()).select_from(inbox_events).where(
                inbox_events.c.learner_id == learner_id))).scalar_one())

    @staticmethod
    async def take_event_in(conn: AsyncConnection, learner_id: str, event_id: str) -> bool:
        """Delete a queued entry inside the transaction that appends it to the ledger; True if
        it was there (False: another move took it first)."""
        return await _delete_owned_in(conn, inbox_events, learner_id, event_id)

    async def drop_event(self, learner_id: str, event_id: str) -> None:
        """Delete a queued entry that can never be moved (it does not open)."""
        await self._delete_owned(inbox_events, learner_id, event_id)

    async def items(self, learner_id: str, *, fresh_since: datetime | None = None
                    ) -> list[InboxRow]:
        """The learner's items, newest first (only those received at or after ``fresh_since``)."""
        query = select(inbox_items).where(inbox_items.c.learner_id == learner_id)
        if fresh_since is not None:
            query = query.where(inbox_items.c.received_at >= fresh_since)
        async with reading(self._engine, _UNAVAILABLE) as conn:
            rows = await conn.execute(
                query.order_by(inbox_items.c.received_at.desc(), inbox_items.c.id))
            return [_row(r) for r in rows]

    async def item(self, learner_id: str, item_id: str) -> InboxRow | None:
        async with reading(self._engine, _UNAVAILABLE) as conn:
            r = (await conn.execute(select(inbox_items).where(
                inbox_items.c.id == item_id, inbox_items.c.learner_id == learner_id))).first()
        return None if r is None else _row(r)

    async def delete_item(self, learner_id: str, item_id: str) -> bool:
        return await self._delete_owned(inbox_items, learner_id, item_id)

    @staticmethod
    async def delete_item_in(conn: AsyncConnection, learner_id: str, item_id: str) -> bool:
        """:meth:`delete_item` inside the caller's transaction; True if there was one."""
        return await _delete_owned_in(conn, inbox_items, learner_id, item_id)

    async def _delete_owned(self, table: Table, learner_id: str, row_id: str) -> bool:
        async with writing(self._engine, _UNAVAILABLE) as conn:
            return await _delete_owned_in(conn, table, learner_id, row_id)


async def _delete_owned_in(conn: AsyncConnection, table: Table, learner_id: str,
                           row_id: str) -> bool:
    """Delete the row ``row_id`` only if it is this learner's; True if there was one."""
    res = await conn.execute(delete(table).where(
        table.c.id == row_id, table.c.learner_id == learner_id))
    return bool(res.rowcount)


async def _expire_in(conn: AsyncConnection, before: datetime, now: datetime,
                     learner_id: str | None = None, item_id: str | None = None
                     ) -> tuple[int, int]:
    """Delete items received before ``before`` (at most :data:`_EXPIRY_BATCH`), queueing each
    one's ``inbox_item_expired`` entry sealed to its learner's inbox key, in ``conn``'s
    transaction: (how many were found, how many this transaction deleted; an item a concurrent
    accept, decline or expiry deleted first is not queued twice)."""
    query = (select(inbox_items.c.id, inbox_items.c.learner_id, inbox_items.c.link_id,
                    inbox_items.c.received_at, learners.c.inbox_public)
             .select_from(inbox_items.outerjoin(learners,
                                                learners.c.id == inbox_items.c.learner_id))
             .where(inbox_items.c.received_at < before))
    if learner_id is not None:
        query = query.where(inbox_items.c.learner_id == learner_id)
    if item_id is not None:
        query = query.where(inbox_items.c.id == item_id)
    rows = (await conn.execute(query.limit(_EXPIRY_BATCH))).all()
    if not rows:
        return 0, 0
    gone = set((await conn.execute(delete(inbox_items).where(
        inbox_items.c.id.in_([r.id for r in rows])).returning(inbox_items.c.id))).scalars())
    queued = [{"id": str(uuid.uuid4()), "learner_id": r.learner_id, "queued_at": now,
               "sealed": seal_to_inbox(bytes(r.inbox_public), json.dumps({
                   "kind": EXPIRED, "item_id": r.id, "link_id": r.link_id,
                   "received_at": iso(_utc(r.received_at)), "expired_at": iso(now)},
                   separators=(",", ":")).encode())}
              for r in rows if r.id in gone and r.inbox_public is not None]
    if queued:  # (no inbox key: the learner is gone, and so is its ledger)
        await conn.execute(inbox_events.insert(), queued)
    return len(rows), len(gone)
