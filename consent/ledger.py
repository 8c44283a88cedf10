"""The consent ledger: a per-learner, hash-chained, signed record of every disclosure.

Specs: GDPR Art. 7(1) (demonstrate consent), Art. 15 and 20 (access, portability), Art. 17
(erasure), Art. 30 (records of processing), https://eur-lex.europa.eu/eli/reg/2016/679/oj ;
RFC 7515 (JWS) for the signed head and receipts; the hash chain in :mod:`consent.chain`, the stored
columns in :mod:`consent.models`, an entry and its sealed body in :mod:`consent.entries`, receipts
in :mod:`consent.receipts`, export and import in :mod:`consent.chain_transfer` (which reaches this
store through :class:`consent.chain_transfer.ChainStore` only).

Why it is built this way:

- **One transaction per append**, holding the learner's head row locked: the head is upserted
  with ``INSERT ... ON CONFLICT DO UPDATE ... RETURNING`` as the first statement. On PostgreSQL
  that takes the row lock (like ``SELECT ... FOR UPDATE``, but also for a learner's very first
  entry, where there is no row to lock yet); on SQLite a write as first statement takes the
  database write lock at once, so concurrent writers queue instead of failing an upgrade from a
  read lock. The chain stays linear. On SQLite (one process by design) writers also queue on an
  in-process lock first, so they do not spin in SQLite's busy handler.
- **A cached head is only a hint.** The next append of a learner this process wrote last starts
  with ``UPDATE ledger_heads ... WHERE seq = <cached> AND head_hash = <cached>``: one round trip
  that both checks the hint and takes the lock; if another writer moved the head (0 rows), it
  falls back to the upsert above in the same transaction. No learner key material is cached.
- **An entry can commit with the rows it describes.** A feature whose rows live in the ledger's
  database (share links, inbox links and items) writes them on the connection
  :meth:`Ledger.appending` hands over, inside the append's transaction: one commit for both, and
  neither without the other.
- **Staged entries are appended exactly once.** An entry first committed in the learner's vault
  (the ledger outbox, docs/consent.md) arrives with its own id and time
  (:meth:`Ledger.append_staged`, all of a learner's staged entries in one transaction); under
  the head lock an id the ledger already holds is skipped, so a move repeated after a crash, or
  run twice at once, records it once.
- **Its keys** are :class:`consent.ledger_keys.LedgerKeys` (the service key that signs heads,
  receipts and manifests, and the previous keys that still verify) and each learner's blinding
  key (:func:`consent.ledger_keys.blind_key`, made on first need, stored sealed).
- **Bodies are sealed** under the learner's key (:class:`~consent.ports.BodySealer`), bound by AEAD
  associated data to learner and entry id; the counterparty is stored only as a keyed blind tag.
- **Erasure** deletes every body and the blinding key, keeps the body digests, and appends a
  non-personal tombstone: the chain and signed head still verify (see :mod:`consent.chain`).
- Storage failures become :class:`~consent.errors.LedgerUnavailable` (503) at this boundary.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import uuid
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from consent.chain import (
    GENESIS,
    ChainReport,
    ChainRow,
    ChainWalker,
    HeadClaims,
    at_to_us,
    body_aad,
    body_digest,
    counterparty_tag,
    entry_hash,
    read_head,
)
from consent.chain_transfer import ChainTransfer
from consent.documents import ExportedRecord
from consent.entries import (
    STAGED_ID,
    ImportSummary,
    LedgerEntry,
    OpenedChain,
    Page,
    Staged,
    StoredEntry,
    TakeoverItem,
    check_own_hash,
    check_ref,
    encode_body,
    only_known,
    open_entry,
    read_entry,
    tombstone_body,
    utc,
)
from consent.errors import (
    EventNotFound,
    InvalidEvent,
    InvalidQuery,
    LearnerAssertedEntry,
    LedgerErased,
    LedgerTampered,
    LedgerUnavailable,
    UnknownCursor,
)
from consent.events import ConsentEvent, EventKind
from consent.ledger_keys import LedgerKeys, blind_key
from consent.models import metadata
from consent.portability import ImportedChain
from consent.ports import BodySealer
from consent.receipts import RECEIPT_TYP, build_receipt
from wallet.clock import SYSTEM_CLOCK, Clock
from wallet.errors import SatchelError
from wallet.jose import PrivateKey, PublicKey

__all__ = ["Bind", "Clock", "ImportSummary", "LedgerEntry", "Ledger", "Page", "Staged"]

Bind = AsyncEngine | async_sessionmaker[AsyncSession]

_E: Table = metadata.tables["ledger_entries"]
_H: Table = metadata.tables["ledger_heads"]
_MAX_LIMIT, _BATCH, _HEAD_CACHE = 200, 5000, 4096
_MAX_STAGED_DETAILS = 24  # ConsentEvent's own bound on details
_STORAGE_ERRORS = (SQLAlchemyError, OSError)

# The statements of an append, built once with bound parameters: building one per call (column
# coercion, a fresh cache key) cost more CPU than SQLAlchemy's run of the compiled statement.
# The SET columns of the head updates are the keys of the parameters they are run with.
_INSERT_ENTRY = insert(_E)
_UPDATE_HEAD = update(_H).where(_H.c.learner_ref == bindparam("b_ref"))
_UPDATE_CACHED_HEAD = update(_H).where(
    _H.c.learner_ref == bindparam("b_ref"), _H.c.seq == bindparam("b_seq"),
    _H.c.head_hash == bindparam("b_hash"), _H.c.erased.is_(False))
_HELD = select(_E.c.id).where(_E.c.id.in_(bindparam("ids", expanding=True)))
# held ids of the staged entries, and the head entry (its time is the floor of theirs): one query
_HELD_AND_HEAD_ENTRY = select(_E.c.id, _E.c.learner_ref, _E.c.seq, _E.c.at).where(
    _E.c.id.in_(bindparam("ids", expanding=True))
    | ((_E.c.learner_ref == bindparam("ref")) & (_E.c.seq == bindparam("seq"))))


def _head_upsert(ins: Any) -> Any:
    stmt = ins.values(learner_ref=bindparam("ref", type_=_H.c.learner_ref.type), seq=0,
                      head_hash=GENESIS, signed_head="", sealed_blind_key=None, erased=False,
                      updated_at=bindparam("now", type_=_H.c.updated_at.type))
    return stmt.on_conflict_do_update(
        index_elements=[_H.c.learner_ref], set_={"learner_ref": stmt.excluded.learner_ref}
    ).returning(_H.c.seq, _H.c.head_hash, _H.c.sealed_blind_key, _H.c.erased)


_LOCK_HEAD = {"postgresql": _head_upsert(postgresql.insert(_H)),
              "sqlite": _head_upsert(sqlite.insert(_H))}



@dataclass(frozen=True, slots=True)
class _Head:
    seq: int
    head_hash: str
    sealed_blind_key: bytes | None
    erased: bool
    #: the head entry's time, when known (a head this process wrote)
    at: datetime | None = None


class _Moved(Exception):
    """A staged append's cached head was not current, or some of its ids are held: the
    transaction is rolled back and the append runs again from the locked head."""


@dataclass(frozen=True, slots=True)
class _New:
    """An entry ready to be chained: its body sealed, its counterparty blinded."""

    id: str
    at: datetime
    kind: EventKind
    tag: str | None
    sealed: bytes


@dataclass(frozen=True, slots=True)
class _Prepared:
    rows: list[dict[str, Any]]
    head: dict[str, Any]
    links: list[tuple[int, str, str]]
    new_head: _Head


def _encode_cursor(seq: int) -> str:
    return base64.urlsafe_b64encode(f"v1:{seq}".encode()).rstrip(b"=").decode()


def _decode_cursor(cursor: str | None) -> int | None:
    if cursor is None:
        return None
    try:
        if not isinstance(cursor, str) or len(cursor) > 40:
            raise ValueError
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        prefix, _, number = text.partition(":")
        if prefix != "v1" or not number.isdigit():
            raise ValueError
        return int(number)
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise UnknownCursor("cursor is not one this ledger handed out") from exc


def _kinds(kind: EventKind | str | Collection[EventKind | str] | None) -> list[str]:
    if kind is None:
        return []
    raw = [kind] if isinstance(kind, str) else list(kind)
    out = []
    for k in raw:
        if not isinstance(k, str) or k not in EventKind._value2member_map_:
            raise InvalidQuery("unknown event kind in filter")
        out.append(str(EventKind(k).value))
    return out




class Ledger:
    """The consent ledger over one SQLAlchemy database (its tables: :mod:`consent.models`).

    ``signing_key`` signs chain heads and receipts (Ed25519 or P-256/P-384); ``previous_keys``
    still verify heads signed before a key rotation. ``clock`` returns aware UTC datetimes.
    """

    def __init__(self, bind: Bind, signing_key: PrivateKey, *, clock: Clock = SYSTEM_CLOCK,
                 jurisdiction: str = "EU", issuer: str | None = None,
                 previous_keys: Sequence[PublicKey] = ()) -> None:
        self._bind = bind
        #: the signing key and the keys that verify it (:mod:`consent.ledger_keys`)
        self.keys = LedgerKeys(signing_key, tuple(previous_keys))
        self._clock = clock
        self._jurisdiction = jurisdiction
        self._issuer = issuer
        engine = bind if isinstance(bind, AsyncEngine) else bind.kw.get("bind")
        self._serialise = isinstance(engine, AsyncEngine) and engine.dialect.name == "sqlite"
        self._write_lock = asyncio.Lock()
        self._heads: OrderedDict[str, _Head] = OrderedDict()
        self._transfer = ChainTransfer(self)

    # -- plumbing -------------------------------------------------------------------------------

    @property
    def public_jwk(self) -> dict[str, str]:
        """The public JWK (with ``kid``) that verifies heads and receipts."""
        return self.keys.public_jwk

    @property
    def issuer(self) -> str | None:
        """Who the signed heads' receipts and manifests name as their issuer, if anyone."""
        return self._issuer

    def own_key(self, kid: str) -> PublicKey | None:
        """:meth:`consent.ledger_keys.LedgerKeys.own_key`."""
        return self.keys.own_key(kid)

    def own_jwk(self, kid: str) -> dict[str, str]:
        """:meth:`consent.ledger_keys.LedgerKeys.own_jwk`."""
        return self.keys.own_jwk(kid)

    def sign(self, typ: str, claims: Mapping[str, Any]) -> str:
        """A compact JWS of ``claims`` (``typ``, the current key's ``kid``): the ledger's heads,
        receipts and export manifests (:meth:`consent.ledger_keys.LedgerKeys.sign`)."""
        return self.keys.sign(typ, claims)

    def _now(self) -> datetime:
        return utc(self._clock())

    @asynccontextmanager
    async def _write_tx(self) -> AsyncIterator[AsyncConnection]:
        """A writing transaction (queued in-process first on SQLite)."""
        if not self._serialise:
            async with self._tx() as conn:
                yield conn
            return
        async with self._write_lock, self._tx() as conn:
            yield conn

    @asynccontextmanager
    async def _tx(self) -> AsyncIterator[AsyncConnection]:
        """One transaction; storage failures surface as :class:`LedgerUnavailable`."""
        try:
            if isinstance(self._bind, AsyncEngine):
                async with self._bind.begin() as conn:
                    yield conn
            else:
                async with self._bind() as session, session.begin():
                    yield await session.connection()
        except SatchelError:
            raise
        except _STORAGE_ERRORS as exc:
            raise LedgerUnavailable("the consent ledger store is unavailable") from exc

    async def _lock_head(self, conn: AsyncConnection, learner_ref: str, now: datetime) -> _Head:
        stmt = _LOCK_HEAD.get(conn.dialect.name)
        if stmt is None:  # pragma: no cover - configuration error
            raise LedgerUnavailable("the consent ledger supports SQLite and PostgreSQL only")
        row = (await conn.execute(stmt, {"ref": learner_ref, "now": now})).one()
        return _Head(row.seq, row.head_hash, row.sealed_blind_key, bool(row.erased))

    async def _read_head(self, conn: AsyncConnection, learner_ref: str) -> Any:
        q = select(_H.c.seq, _H.c.head_hash, _H.c.signed_head, _H.c.sealed_blind_key,
                   _H.c.erased).where(_H.c.learner_ref == learner_ref)
        return (await conn.execute(q)).one_or_none()

    def _prepare(self, learner_ref: str, head: _Head, items: Sequence[_New], now: datetime,
                 *, erased: bool = False, new_blind_key: bytes | None = None) -> _Prepared:
        """Rows for ``items`` chained after ``head``, and the re-signed head's column values."""
        seq, prev = head.seq, head.head_hash
        rows, links = [], []
        for item in items:
            seq += 1
            digest = body_digest(item.sealed)
            h = entry_hash(learner_ref=learner_ref, entry_id=item.id, seq=seq, prev_hash=prev,
                           kind=item.kind.value, at_us=at_to_us(item.at),
                           counterparty_tag=item.tag, body_digest=digest)
            rows.append({"id": item.id, "learner_ref": learner_ref, "seq": seq, "at": item.at,
                         "kind": item.kind.value, "counterparty_tag": item.tag,
                         "sealed_body": item.sealed, "body_digest": digest, "prev_hash": prev,
                         "entry_hash": h})
            links.append((seq, prev, h))
            prev = h
        values: dict[str, Any] = {
            "seq": seq, "head_hash": prev, "updated_at": now, "erased": erased,
            "signed_head": self.keys.sign_head(learner_ref, seq, prev, erased, now)}
        blind = None if erased else (new_blind_key or head.sealed_blind_key)
        if erased or new_blind_key is not None:
            values["sealed_blind_key"] = blind
        at = items[-1].at if items else head.at
        return _Prepared(rows, values, links, _Head(seq, prev, blind, erased, at))

    @staticmethod
    async def _insert(conn: AsyncConnection, rows: list[dict[str, Any]]) -> None:
        await conn.execute(_INSERT_ENTRY, rows[0] if len(rows) == 1 else rows)

    async def _write(self, conn: AsyncConnection, learner_ref: str, head: _Head,
                     items: Sequence[_New], now: datetime, *, erased: bool = False,
                     new_blind_key: bytes | None = None) -> _Prepared:
        """Insert ``items`` after the locked ``head`` and re-sign the head."""
        prep = self._prepare(learner_ref, head, items, now, erased=erased,
                             new_blind_key=new_blind_key)
        await self._insert(conn, prep.rows)
        await conn.execute(_UPDATE_HEAD, {"b_ref": learner_ref, **prep.head})
        return prep

    def _remember(self, learner_ref: str, head: _Head) -> None:
        """Cache a committed head: a hint for the next append, checked by a conditional UPDATE."""
        self._heads[learner_ref] = head
        self._heads.move_to_end(learner_ref)
        while len(self._heads) > _HEAD_CACHE:
            self._heads.popitem(last=False)

    # -- the public operations -------------------------------------------------------------------

    async def append(self, learner_ref: str, sealer: BodySealer,
                     event: ConsentEvent) -> LedgerEntry:
        """Record ``event`` as the learner's next entry (one transaction, chain kept linear)."""
        async with self.appending(learner_ref, sealer, event) as (entry, _conn):
            pass
        return entry

    @asynccontextmanager
    async def appending(self, learner_ref: str, sealer: BodySealer, event: ConsentEvent
                        ) -> AsyncIterator[tuple[LedgerEntry, AsyncConnection]]:
        """Append ``event`` and hand over its open transaction: what the caller writes on the
        connection (rows of its own in the ledger's database) commits with the entry, or neither
        does (the block raised). The entry is durable when the block has exited."""
        check_ref(learner_ref)
        if not isinstance(event, ConsentEvent):
            raise InvalidEvent("append takes a ConsentEvent")
        if event.kind is EventKind.ERASURE:
            raise InvalidEvent("the erasure tombstone is written by erase() only")
        now, entry_id = self._now(), str(uuid.uuid4())
        plaintext = encode_body(event)

        def item_after(head: _Head) -> tuple[_New, bytes | None]:
            tag, new_key = None, None
            if event.counterparty is not None:
                key, new_key = blind_key(learner_ref, sealer, head.sealed_blind_key)
                tag = counterparty_tag(key, event.counterparty)
            sealed = sealer.seal(plaintext, body_aad(learner_ref, entry_id))
            return _New(entry_id, now, event.kind, tag, sealed), new_key

        async with self._write_tx() as conn:
            prep: _Prepared | None = None
            cached = self._heads.get(learner_ref)
            if cached is not None and not cached.erased:
                # Fast path: one conditional UPDATE both checks the cached head and locks the row.
                item, new_key = item_after(cached)
                prep = self._prepare(learner_ref, cached, [item], now, new_blind_key=new_key)
                done = await conn.execute(_UPDATE_CACHED_HEAD, {
                    "b_ref": learner_ref, "b_seq": cached.seq, "b_hash": cached.head_hash,
                    **prep.head})
                if done.rowcount == 1:
                    await self._insert(conn, prep.rows)
                else:
                    prep = None
            if prep is None:
                head = await self._lock_head(conn, learner_ref, now)
                if head.erased:
                    raise LedgerErased("the consent ledger of this learner was erased")
                item, new_key = item_after(head)
                prep = await self._write(conn, learner_ref, head, [item], now,
                                         new_blind_key=new_key)
            [(seq, prev, h)] = prep.links
            yield LedgerEntry(entry_id, learner_ref, seq, now, event.kind, h, prev, event), conn
        self._remember(learner_ref, prep.new_head)

    async def append_staged(self, learner_ref: str, sealer: BodySealer,
                            staged: Sequence[Staged]) -> list[LedgerEntry]:
        """Append entries staged elsewhere first (a vault outbox, docs/consent.md), in order,
        exactly once, in one transaction; the entries appended.

        Each keeps its own id and time. An id the ledger already holds (a move repeated after a
        crash, or run twice at once) is skipped: checked under the learner's head lock. An id
        held by another learner's ledger is :class:`LedgerTampered`, never skipped."""
        check_ref(learner_ref)
        for item in staged:
            if not isinstance(item, Staged) or not STAGED_ID.fullmatch(item.id):
                raise InvalidEvent("a staged entry has a UUID for its id")
            if not isinstance(item.event, ConsentEvent) or item.event.kind is EventKind.ERASURE:
                raise InvalidEvent("a staged entry holds a ConsentEvent other than erasure")
        if not staged:
            return []
        now = self._now()
        cached = self._heads.get(learner_ref)
        if cached is not None and not cached.erased and cached.at is not None:
            try:  # the head this process wrote last, checked and locked by the first statement
                return await self._append_staged(learner_ref, sealer, staged, now, cached)
            except _Moved:
                pass  # rolled back, nothing written: the locked head decides below
        return await self._append_staged(learner_ref, sealer, staged, now, None)

    async def _append_staged(self, learner_ref: str, sealer: BodySealer,
                             staged: Sequence[Staged], now: datetime,
                             cached: _Head | None) -> list[LedgerEntry]:
        """:meth:`append_staged` after the locked head, or after ``cached`` (with its entry's
        time): that path raises :class:`_Moved` unless the cached head is the learner's head and
        no staged id is held, so what it writes is what the locked path would write."""
        async with self._write_tx() as conn:
            there: set[str] = set()
            if cached is None:
                head = await self._lock_head(conn, learner_ref, now)
                if head.erased:
                    raise LedgerErased("the consent ledger of this learner was erased")
                ids = {item.id for item in staged}
                rows = (await conn.execute(_HELD_AND_HEAD_ENTRY, {
                    "ids": list(ids), "ref": learner_ref, "seq": head.seq})).all()
                held = [row for row in rows if row.id in ids]
                if any(row.learner_ref != learner_ref for row in held):
                    # never skipped as "already there": that would drop this learner's entry
                    raise LedgerTampered("a staged entry's id is held by another ledger")
                there = {row.id for row in held}
                floor = next((row.at for row in rows
                              if row.learner_ref == learner_ref and row.seq == head.seq), None)
            else:
                head, floor = cached, cached.at
            todo = self._after_head(floor, [item for item in staged if item.id not in there])
            if not todo:
                return []
            key, new_key = None, None
            if any(item.event.counterparty is not None for item in todo):
                key, new_key = blind_key(learner_ref, sealer, head.sealed_blind_key)
            items = [_New(item.id, utc(item.at), item.event.kind,
                          None if key is None or item.event.counterparty is None
                          else counterparty_tag(key, item.event.counterparty),
                          sealer.seal(encode_body(item.event), body_aad(learner_ref, item.id)))
                     for item in todo]
            if cached is None:
                prep = await self._write(conn, learner_ref, head, items, now,
                                         new_blind_key=new_key)
            else:
                prep = self._prepare(learner_ref, head, items, now, new_blind_key=new_key)
                done = await conn.execute(_UPDATE_CACHED_HEAD, {
                    "b_ref": learner_ref, "b_seq": head.seq, "b_hash": head.head_hash,
                    **prep.head})
                if done.rowcount != 1:
                    raise _Moved  # another writer moved the head (or erased the ledger)
                if (await conn.execute(_HELD, {"ids": [item.id for item in todo]})).first():
                    raise _Moved  # skipped or refused (another learner's) by the locked path
                await self._insert(conn, prep.rows)
        self._remember(learner_ref, prep.new_head)
        return [LedgerEntry(item.id, learner_ref, seq, utc(item.at), item.event.kind, h, prev,
                            item.event)
                for item, (seq, prev, h) in zip(todo, prep.links, strict=True)]

    @staticmethod
    def _after_head(floor: datetime | None, todo: list[Staged]) -> list[Staged]:
        """``todo`` with each time at least the one before it, starting from ``floor``, the head
        entry's (``None`` for an empty chain): seq order and time order never disagree, even when
        the staging replica's clock lagged or its commit was slow. A moved time keeps the staged
        one in ``details.staged_at``."""
        out = []
        for item in todo:
            at = utc(item.at)
            if floor is not None and at < utc(floor):
                event = item.event
                if len(event.details) < _MAX_STAGED_DETAILS:  # room left for it, else time only
                    event = replace(event, details={**event.details,
                                                    "staged_at": at.isoformat()})
                item, at = Staged(item.id, utc(floor), event), utc(floor)
            out.append(item)
            floor = at
        return out

    async def events(self, learner_ref: str, sealer: BodySealer, *,
                     kind: EventKind | str | Collection[EventKind | str] | None = None,
                     counterparty: str | None = None, since: datetime | None = None,
                     until: datetime | None = None, limit: int = 50,
                     cursor: str | None = None) -> Page:
        """The learner's entries, newest first; ``since`` inclusive, ``until`` exclusive."""
        check_ref(learner_ref)
        if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= _MAX_LIMIT:
            raise InvalidQuery(f"limit must be between 1 and {_MAX_LIMIT}")
        before, kinds = _decode_cursor(cursor), _kinds(kind)
        q = select(_E.c.id, _E.c.seq, _E.c.at, _E.c.kind, _E.c.sealed_body, _E.c.prev_hash,
                   _E.c.entry_hash, _E.c.counterparty_tag, _E.c.body_digest
                   ).where(_E.c.learner_ref == learner_ref)
        if kinds:
            q = q.where(_E.c.kind.in_(kinds))
        if since is not None:
            q = q.where(_E.c.at >= utc(since))
        if until is not None:
            q = q.where(_E.c.at < utc(until))
        if before is not None:
            q = q.where(_E.c.seq < before)
        async with self._tx() as conn:
            head = await self._read_head(conn, learner_ref)
            if head is None:
                return Page([], None)
            if head.erased:
                raise LedgerErased("the consent ledger of this learner was erased")
            if counterparty is not None:
                if head.sealed_blind_key is None:
                    return Page([], None)
                key, _ = blind_key(learner_ref, sealer, head.sealed_blind_key)
                q = q.where(_E.c.counterparty_tag == counterparty_tag(key, counterparty))
            rows = (await conn.execute(q.order_by(_E.c.seq.desc()).limit(limit + 1))).all()
        read = [read_entry(learner_ref, sealer, r) for r in rows[:limit]]
        more = len(rows) > limit
        items = [e for e in read if isinstance(e, LedgerEntry)]
        newer = [e for e in read if not isinstance(e, LedgerEntry)]  # (a newer release's)
        return Page(items, _encode_cursor(read[-1].seq) if more else None, newer)

    async def verify(self, learner_ref: str) -> ChainReport:
        """Recompute the whole chain from stored bytes (no learner key) and check the signed head.

        Reads the head first, then the entries: everything the head names was committed with it. A
        head that moved while reading (a concurrent append) is retried.
        """
        check_ref(learner_ref)
        report = ChainReport(False, 0, GENESIS, None, "not verified", False)
        for _ in range(3):
            report, stable = await self._verify_once(learner_ref)
            if stable or report.valid:
                break
        return report

    async def _verify_once(self, learner_ref: str) -> tuple[ChainReport, bool]:
        cols = (_E.c.id, _E.c.seq, _E.c.at, _E.c.kind, _E.c.counterparty_tag, _E.c.sealed_body,
                _E.c.body_digest, _E.c.prev_hash, _E.c.entry_hash)
        async with self._tx() as conn:
            head_row = await self._read_head(conn, learner_ref)
            claims: HeadClaims | str | None = None
            if head_row is not None:
                claims = read_head(head_row.signed_head, learner_ref, self.keys.resolve)
            walker = ChainWalker(learner_ref,
                                 erased=isinstance(claims, HeadClaims) and claims.erased)
            after: int | None = None
            last_kind: str | None = None
            while True:
                q = select(*cols).where(_E.c.learner_ref == learner_ref)
                if after is not None:
                    q = q.where(_E.c.seq > after)
                rows = (await conn.execute(q.order_by(_E.c.seq).limit(_BATCH))).all()
                for r in rows:
                    walker.feed(ChainRow(r.id, r.seq, at_to_us(r.at), r.kind, r.counterparty_tag,
                                         r.sealed_body, r.body_digest, r.prev_hash,
                                         r.entry_hash))
                    last_kind = r.kind
                if len(rows) < _BATCH:
                    break
                after = rows[-1].seq
            again = await self._read_head(conn, learner_ref)
        columns = None if head_row is None else (head_row.seq, head_row.head_hash)
        stable = columns == (None if again is None else (again.seq, again.head_hash))
        return walker.finish(claims, head_columns=columns, last_kind=last_kind), stable

    async def receipt(self, learner_ref: str, sealer: BodySealer, event_id: str) -> str:
        """A signed consent receipt (compact JWS, ``typ: consent-receipt+jwt``) for one entry."""
        check_ref(learner_ref)
        if not isinstance(event_id, str) or len(event_id) > 36:
            raise EventNotFound()
        q = select(_E).where(_E.c.id == event_id, _E.c.learner_ref == learner_ref)
        async with self._tx() as conn:
            row = (await conn.execute(q)).one_or_none()
        if row is None:
            raise EventNotFound()
        if row.sealed_body is not None:
            check_own_hash(learner_ref, row)
        entry = only_known(read_entry(learner_ref, sealer, row))
        assert entry.event is not None
        if entry.learner_asserted:
            raise LearnerAssertedEntry(
                "this entry was imported on the learner's word: this service does not sign a "
                "receipt for it (its source's own receipts stand)")
        claims = build_receipt(
            event=entry.event, event_id=entry.id, kind=entry.kind, at=entry.at,
            entry_hash=entry.hash, learner_ref=learner_ref, jurisdiction=self._jurisdiction,
            issuer=self._issuer, public_jwk=self.public_jwk, now=self._now())
        return self.sign(RECEIPT_TYP, claims)

    async def erase(self, learner_ref: str, *,
                    with_it: Callable[[AsyncConnection], Awaitable[None]] | None = None) -> None:
        """GDPR Art. 17: delete every body and the blinding key, append a tombstone (idempotent).

        The chain keeps verifying because entry hashes cover the body *digest*, which stays; the
        learner's key is shredded by the caller (wallet), so nothing here could be opened anyway.
        ``with_it`` runs in the same transaction, after the tombstone (a ledger already erased
        too): the caller's writes the erasure entry describes commit with it, or neither does.
        """
        check_ref(learner_ref)
        now = self._now()
        prep: _Prepared | None = None
        async with self._write_tx() as conn:
            head = await self._lock_head(conn, learner_ref, now)
            if not head.erased:
                await conn.execute(
                    update(_E).where(_E.c.learner_ref == learner_ref).values(sealed_body=None))
                tomb = tombstone_body(head.seq)
                prep = await self._write(
                    conn, learner_ref, head,
                    [_New(str(uuid.uuid4()), now, EventKind.ERASURE, None, tomb)], now,
                    erased=True)
            if with_it is not None:
                await with_it(conn)
        if prep is not None:
            self._remember(learner_ref, prep.new_head)

    # -- what a chain transfer reads and writes (consent.chain_transfer.ChainStore) -------------

    async def read_chain(self, learner_ref: str, sealer: BodySealer) -> OpenedChain | None:
        """The learner's chain opened, oldest first, up to and with its signed head (``None``:
        no chain yet); :class:`LedgerErased` once erased."""
        check_ref(learner_ref)
        async with self._tx() as conn:
            head = await self._read_head(conn, learner_ref)
            if head is None:
                return None
            if head.erased:
                raise LedgerErased("the consent ledger of this learner was erased")
            q = select(_E).where(_E.c.learner_ref == learner_ref, _E.c.seq <= head.seq)
            rows = (await conn.execute(q.order_by(_E.c.seq))).all()
        return OpenedChain(head.seq, head.head_hash, head.signed_head,
                           [StoredEntry(only_known(read_entry(learner_ref, sealer, r)),
                                        r.body_digest, r.counterparty_tag) for r in rows])

    async def read_kind(self, learner_ref: str, sealer: BodySealer,
                        kind: EventKind) -> list[LedgerEntry]:
        """The learner's entries of ``kind``, opened, oldest first (none once erased)."""
        check_ref(learner_ref)
        q = select(_E.c.id, _E.c.seq, _E.c.at, _E.c.kind, _E.c.sealed_body, _E.c.prev_hash,
                   _E.c.entry_hash).where(_E.c.learner_ref == learner_ref,
                                          _E.c.kind == kind.value)
        async with self._tx() as conn:
            head = await self._read_head(conn, learner_ref)
            if head is None or head.erased:
                return []
            rows = (await conn.execute(q.order_by(_E.c.seq))).all()
        return [open_entry(learner_ref, sealer, row) for row in rows]

    async def append_takeover(self, learner_ref: str, sealer: BodySealer,
                              items: Sequence[TakeoverItem], *,
                              once: bool = False) -> list[LedgerEntry] | None:
        """Append ``items`` in order after the locked head, in one transaction, each with its
        own id and time (``None``: now) and its body's ``origin`` and ``learner_asserted``;
        the learner's blinding key is made if it has none yet. ``once``: the first item's id
        names the takeover, checked under the head lock: already held, nothing is appended
        (``None``); held by another learner's ledger, :class:`LedgerTampered`."""
        check_ref(learner_ref)
        now = self._now()
        async with self._write_tx() as conn:
            head = await self._lock_head(conn, learner_ref, now)
            if head.erased:
                raise LedgerErased("the consent ledger of this learner was erased")
            if once and items:
                held = (await conn.execute(select(_E.c.learner_ref).where(
                    _E.c.id == items[0].id))).first()
                if held is not None:
                    if held.learner_ref != learner_ref:
                        raise LedgerTampered("a staged entry's id is held by another ledger")
                    return None  # taken over already (a repeated move)
            key, new_key = blind_key(learner_ref, sealer, head.sealed_blind_key)
            times = [now if item.at is None else item.at for item in items]
            new = [_New(item.id, at, item.event.kind,
                        None if item.event.counterparty is None
                        else counterparty_tag(key, item.event.counterparty),
                        sealer.seal(encode_body(item.event, item.origin, item.learner_asserted),
                                    body_aad(learner_ref, item.id)))
                   for item, at in zip(items, times, strict=True)]
            prep = await self._write(conn, learner_ref, head, new, now, new_blind_key=new_key)
        self._remember(learner_ref, prep.new_head)
        return [LedgerEntry(item.id, learner_ref, seq, at, item.event.kind, h, prev, item.event,
                            item.origin, bool(item.learner_asserted))
                for item, at, (seq, prev, h) in zip(items, times, prep.links, strict=True)]

    # -- export and import (consent.chain_transfer) ----------------------------------------------

    async def export_chain(self, learner_ref: str, sealer: BodySealer, *,
                           bundle_keys: str | None = None) -> list[ExportedRecord]:
        """:meth:`consent.chain_transfer.ChainTransfer.export_chain`."""
        return await self._transfer.export_chain(learner_ref, sealer, bundle_keys=bundle_keys)

    def check_export(self, records: Sequence[Mapping[str, Any]]) -> ImportedChain:
        """:meth:`consent.chain_transfer.ChainTransfer.check_export`."""
        return self._transfer.check_export(records)

    async def imports(self, learner_ref: str, sealer: BodySealer) -> list[ImportSummary]:
        """:meth:`consent.chain_transfer.ChainTransfer.imports`."""
        return await self._transfer.imports(learner_ref, sealer)

    async def import_chain(self, learner_ref: str, sealer: BodySealer,
                           entries: Sequence[Mapping[str, Any]]) -> LedgerEntry:
        """:meth:`consent.chain_transfer.ChainTransfer.import_chain`."""
        return await self._transfer.import_chain(learner_ref, sealer, entries)

    async def import_staged_chain(self, learner_ref: str, sealer: BodySealer, marker_id: str,
                                  entries: Sequence[Mapping[str, Any]]) -> LedgerEntry | None:
        """:meth:`consent.chain_transfer.ChainTransfer.import_staged_chain`."""
        return await self._transfer.import_staged_chain(learner_ref, sealer, marker_id, entries)
