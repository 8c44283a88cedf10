"""The :class:`~wallet.vault.ports.RecordStore` port on one Askar profile (``AskarRecordStore``),
and the boundary where Askar's errors become :mod:`wallet.errors`.

Why this shape (docs/architecture.md):
- Every awaited Askar call costs ~0.45 ms: each repository operation is one session (opening and
  closing it are calls too), and lists are one scan (on PostgreSQL one statement: a session would
  first check its profile with another); a request that reads several things before it writes
  reads them in one session (``LearnerVault.reading``).
- Askar's errors become :mod:`wallet.errors` here; nothing outside ``wallet/vault/`` sees Askar's
  types or its tag-query language. A duplicate or a missing record is decided by what the store
  holds after the failed write, never by Askar's error code, which the binding garbles under
  concurrency (:mod:`wallet.askar_facts`); a missing learner vault likewise, by the store's
  profiles table, asked for that one name, after a failed call on the profile
  (:func:`_profile_failed`).

A module of its own, apart from :mod:`wallet.vault.askar` (the store and its profiles), because
these are the reads and writes every repository goes through, with their retries and races.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, NoReturn, TypeVar

from aries_askar import AskarError, AskarErrorCode, Session, Store, bindings

from wallet import askar_facts
from wallet.errors import BadInput, Conflict, NotFound, SatchelError, Unavailable
from wallet.vault.askar_rows import entry_rows
from wallet.vault.ports import RecordStore, TagFilter, Tags, Write

#: the name the store's failures have always been logged under (operators filter on it)
log = logging.getLogger("wallet.vault.askar")


def _raise(exc: AskarError) -> NoReturn:
    """Askar error → domain error (the message never carries record contents). Never
    ``NotFound`` or ``Conflict``: what is missing or there is decided by what the store holds
    (records: :mod:`wallet.askar_facts`; a learner's vault: :func:`_profile_failed`)."""
    code = exc.code
    err: SatchelError
    if code == AskarErrorCode.INPUT:
        err = BadInput("the vault refused the input")
    elif code == AskarErrorCode.ENCRYPTION:
        err = Unavailable("the vault store key does not open this store")
    else:  # BACKEND, BUSY, WRAPPER (closed store), UNEXPECTED, and DUPLICATE or NOT_FOUND: a
        # code that may be another call's (askar_facts), so the store's failure
        # Askar's message names the backend failure (e.g. "database is locked"), never a record:
        # logged so that an outage can be told from contention after the retries ran out
        log.warning("vault store unavailable", extra={"askar_code": code.name,
                                                       "askar_error": str(exc)[:200]})
        err = Unavailable("the vault store is unavailable")
    raise err from exc


async def _holds_profile(store: Store, profile: str) -> bool:
    """Whether the store holds ``profile``: its ``profiles`` table asked for that one name.

    Askar has no read for one profile, and its list (``list_profiles``) reads every name: 100,000
    of them, 100,000 learners in, for each failed call. So the question is put as a rename of the
    profile to its own name through the store's own pool (``UPDATE profiles SET name = $1 WHERE
    name = $2``): one row, found through the unique index on ``name``, whatever the number of
    learners, its name and everything under it unchanged (the items point at the row's id). The
    answer is the call's value, a row matched or not, never an error code, which the binding may
    have read from another call (:mod:`wallet.askar_facts`). It is a write, on a failure path only:
    on SQLite it waits for the write lock like any writer, on PostgreSQL it leaves one row
    version. Askar's ``profiles`` table, not the accounts table, is the truth: an
    erasure removes the profile before the account row, and a crashed sign-up leaves a profile
    without one."""
    if not store.handle:  # closed: the call would fail on the handle, not as an AskarError
        raise AskarError(AskarErrorCode.WRAPPER, "the vault store is closed")
    return bool(await bindings.store_rename_profile(store.handle, profile, profile))


async def _profile_failed(store: Store, profile: str, exc: AskarError) -> NoReturn:
    """A failed call on a learner's profile → domain error, ``NotFound`` when the store does not
    hold it (:func:`_holds_profile`). Not decided by ``exc``'s code (``NOT_FOUND`` for a missing
    profile), which the binding may have read from another call's failure (as a missing row's
    came back ``SUCCESS``, :mod:`wallet.askar_facts`). One call more, on the failure path only;
    when the store cannot answer that either, the failure is the store's (``Unavailable``)."""
    try:
        held = await _holds_profile(store, profile)
    except AskarError:
        _raise(exc)  # the store cannot say what it holds: never NotFound
    if not held:
        raise NotFound(_NO_VAULT) from exc
    _raise(exc)


def _askar_tags(tags: Tags) -> dict[str, Any]:
    return {k: (v if isinstance(v, str) else list(v)) for k, v in tags.items()}


#: Back-off before retrying a write that met a busy/locked database (SQLite under concurrent
#: writers): a racing duplicate must end as Conflict, not as a spurious Unavailable.
T = TypeVar("T")
_BUSY_BACKOFF = (0.005, 0.02, 0.05, 0.1, 0.2, 0.4)
_NO_VAULT = "no vault for this learner"


def _transient(exc: AskarError) -> bool:
    text = str(exc).lower()
    return exc.code == AskarErrorCode.BUSY or (
        exc.code == AskarErrorCode.BACKEND
        and any(w in text for w in ("locked", "busy", "timed out", "timeout")))


async def _scan_rows(store: Store, profile: str | None, category: str,
                     tag_filter: dict[str, Any] | None) -> list[tuple[str, bytes]]:
    """Every row of a scan, names and values copied out, read a batch at a time.

    What ``Store.scan`` runs, without its async iterator: that awaits two coroutines for each
    row (``__anext__``, then ``load``) although the rows come from the native side in batches,
    ~4,000 instructions a row (bench/list_cost.py); each batch is read here synchronously."""
    if not store.handle:
        raise AskarError(AskarErrorCode.WRAPPER, "Cannot scan from closed store")
    handle = await bindings.scan_start(store.handle, profile, category, tag_filter)
    rows: list[tuple[str, bytes]] = []
    while batch := await bindings.scan_next(handle):
        rows.extend(entry_rows(batch))
    return rows


async def _retry(op: Callable[[], Awaitable[T]]) -> T:
    for delay in _BUSY_BACKOFF:
        try:
            return await op()
        except AskarError as exc:
            if not _transient(exc):
                raise
            await asyncio.sleep(delay)
    return await op()


#: tries of a numbering transaction that met another creating the same counter at once
_COUNTER_RACES = 3


class _CounterRace(Exception):  # noqa: N818 - not an error: the transaction is tried again
    """Another transaction created the counter record first (both saw none)."""


async def _insert_numbered(tx: Session, w: Write, tags: dict[str, Any]) -> None:
    """An ``insert_numbered`` write inside ``tx`` (:class:`~wallet.vault.ports.Numbered`): the
    counter's row is fetched ``for_update`` (PostgreSQL: ``FOR NO KEY UPDATE``, so another
    transaction numbering waits for this one's commit, then reads what it wrote; SQLite's write
    transaction is exclusive already), advanced, and the record inserted with its number."""
    numbered = w.numbered
    assert numbered is not None
    held = await tx.fetch(numbered.category, numbered.name, for_update=True)
    counter, value = numbered.advance(None if held is None else bytes(held.raw_value))
    if held is None:  # nothing to lock yet: of two creating it at once, one meets a duplicate
        if not await askar_facts.insert(tx, numbered.category, numbered.name, counter):
            raise _CounterRace
    else:
        await _replace(tx, numbered.category, numbered.name, counter, None)
    if numbered.counted is not None:  # after the lock: every earlier numbering has committed
        numbered.counted(int(await tx.count(w.category)))
    await _insert(tx, w.category, w.name, value, tags)


async def _insert(s: Session, category: str, name: str, value: bytes,
                  tags: dict[str, Any]) -> None:
    """Insert, ``Conflict`` when the record is there after a failed insert."""
    if not await askar_facts.insert(s, category, name, value, tags):
        raise Conflict("already exists")


async def _replace(s: Session, category: str, name: str, value: bytes,
                   tags: dict[str, Any] | None) -> None:
    """Replace, ``NotFound`` when the record is absent after a failed replace."""
    if not await askar_facts.replace(s, category, name, value, tags):
        raise NotFound("not found")


async def _remove(s: Session, category: str, name: str) -> None:
    """Remove, ``NotFound`` when the record is absent after a failed remove."""
    if not await askar_facts.remove(s, category, name):
        raise NotFound("not found")


async def _replace_or_insert(s: Session, category: str, name: str, value: bytes,
                             tags: dict[str, Any]) -> None:
    """An upsert: replace, else insert. Not decided by the failed replace's error code, which
    Askar's binding reads from a slot shared by every call (with many in flight, a missing row
    has come back as ``SUCCESS``): after any failure but a busy store (retried whole) the insert
    is tried, and it fails in turn if something else went wrong (on PostgreSQL the transaction
    is aborted by then). A row that is there after the failed insert was most often written
    meanwhile by another upsert of the same record (both replaces missed): it is there now, so
    the replace is tried once more (on PostgreSQL the insert's ``ON CONFLICT DO NOTHING`` waited
    for the other transaction's commit); the record gone again by then is a ``Conflict``, a
    failure with it there the store's."""
    try:
        await s.replace(category, name, value, tags)
    except AskarError as exc:
        if _transient(exc):
            raise
        if not await askar_facts.insert(s, category, name, value, tags):
            if not await askar_facts.replace(s, category, name, value, tags):
                raise Conflict("a record changed meanwhile") from exc  # gone again


class AskarRecordStore:
    """The :class:`~wallet.vault.ports.RecordStore` port on one Askar profile."""

    __slots__ = ("_profile", "_store")

    def __init__(self, store: Store, profile: str) -> None:
        self._store, self._profile = store, profile

    async def _failed(self, exc: AskarError) -> NoReturn:
        await _profile_failed(self._store, self._profile, exc)

    async def _in_session(self, call: Callable[[Session], Awaitable[T]], *,
                          retry: bool = True) -> T:
        """``call`` in a session on this profile (retried whole while the store is busy, when
        ``retry``); Askar's errors become domain errors (:func:`_profile_failed`)."""
        async def op() -> T:
            async with self._store.session(self._profile) as s:
                return await call(s)

        try:
            return await (_retry(op) if retry else op())
        except AskarError as exc:
            await self._failed(exc)

    async def insert(self, category: str, name: str, value: bytes, tags: Tags) -> None:
        await self._in_session(lambda s: _insert(s, category, name, value, _askar_tags(tags)))

    async def fetch(self, category: str, name: str) -> bytes | None:
        entry = await self._in_session(lambda s: s.fetch(category, name))
        return None if entry is None else bytes(entry.raw_value)

    async def fetch_all(self, category: str,
                        tag_filter: TagFilter | None = None) -> list[tuple[str, bytes]]:
        """A scan, not a session: a session starts with a check that the profile still exists
        (PostgreSQL: ``SELECT COUNT(*) FROM profiles``, a second statement on every list), a
        scan runs its one query (a profile it does not know yet is looked up; a failed scan
        is ``NotFound`` when the store's profiles do not hold this one, as before)."""
        async def scan() -> list[tuple[str, bytes]]:
            return await _scan_rows(self._store, self._profile, category,
                                    dict(tag_filter) if tag_filter else None)

        try:
            return await _retry(scan)
        except AskarError as exc:
            await self._failed(exc)

    async def replace(self, category: str, name: str, value: bytes, tags: Tags) -> None:
        await self._in_session(lambda s: _replace(s, category, name, value, _askar_tags(tags)))

    async def upsert(self, category: str, name: str, value: bytes, tags: Tags) -> None:
        askar_tags = _askar_tags(tags)
        await self._in_session(
            lambda s: _replace_or_insert(s, category, name, value, askar_tags), retry=False)

    async def remove(self, category: str, name: str) -> None:
        await self._in_session(lambda s: _remove(s, category, name))

    async def count(self, category: str) -> int:
        return int(await self._in_session(lambda s: s.count(category), retry=False))

    @contextlib.asynccontextmanager
    async def reading(self) -> AsyncIterator[RecordStore]:
        async def open_session() -> Session:
            return await self._store.session(self._profile)

        try:
            opened = await _retry(open_session)
        except AskarError as exc:
            await self._failed(exc)
        try:
            yield _SessionReads(self, opened)
        finally:
            with contextlib.suppress(AskarError):  # a read session has nothing to commit
                await opened.close()

    async def apply(self, writes: Sequence[Write]) -> None:
        async def op() -> None:
            async with self._store.transaction(self._profile) as tx:
                for w in writes:
                    if w.op == "remove":
                        await _remove(tx, w.category, w.name)
                        continue
                    if w.op == "discard":  # absent after a failed remove: nothing to discard
                        await askar_facts.remove(tx, w.category, w.name)
                        continue
                    if w.op == "expect":  # locked until the commit (PostgreSQL: FOR UPDATE)
                        entry = await tx.fetch(w.category, w.name, for_update=True)
                        if (b"" if entry is None else bytes(entry.raw_value)) != w.value:
                            raise Conflict("a record changed meanwhile")
                        continue
                    tags = _askar_tags(w.tags)
                    if w.op == "insert_numbered":
                        await _insert_numbered(tx, w, tags)
                    elif w.op == "insert":
                        await _insert(tx, w.category, w.name, w.value, tags)
                    elif w.op == "replace":
                        await _replace(tx, w.category, w.name, w.value, tags)
                    else:
                        await _replace_or_insert(tx, w.category, w.name, w.value, tags)
                await tx.commit()  # leaving without it rolls every write back

        try:
            for _ in range(_COUNTER_RACES):
                try:
                    await _retry(op)  # a busy store is retried whole: nothing was committed
                    return
                except _CounterRace:
                    continue  # the counter exists now: the next try locks it
            raise Unavailable("the vault store is unavailable")
        except AskarError as exc:
            await self._failed(exc)  # missing records are decided in the writes


class _SessionReads:
    """:meth:`AskarRecordStore.reading`: reads on one open session (each retried alone while
    the store is busy), writes through the record store as outside it."""

    __slots__ = ("_outside", "_session")

    def __init__(self, outside: AskarRecordStore, session: Session) -> None:
        self._outside, self._session = outside, session

    async def _read(self, call: Callable[[Session], Awaitable[T]]) -> T:
        try:
            return await _retry(lambda: call(self._session))
        except AskarError as exc:
            await self._outside._failed(exc)

    async def fetch(self, category: str, name: str) -> bytes | None:
        entry = await self._read(lambda s: s.fetch(category, name))
        return None if entry is None else bytes(entry.raw_value)

    async def fetch_all(self, category: str,
                        tag_filter: TagFilter | None = None) -> list[tuple[str, bytes]]:
        rows = await self._read(
            lambda s: s.fetch_all(category, dict(tag_filter) if tag_filter else None))
        return [(e.name, bytes(e.raw_value)) for e in rows]

    async def count(self, category: str) -> int:
        return int(await self._read(lambda s: s.count(category)))

    async def insert(self, category: str, name: str, value: bytes, tags: Tags) -> None:
        await self._outside.insert(category, name, value, tags)

    async def replace(self, category: str, name: str, value: bytes, tags: Tags) -> None:
        await self._outside.replace(category, name, value, tags)

    async def upsert(self, category: str, name: str, value: bytes, tags: Tags) -> None:
        await self._outside.upsert(category, name, value, tags)

    async def remove(self, category: str, name: str) -> None:
        await self._outside.remove(category, name)

    async def apply(self, writes: Sequence[Write]) -> None:
        await self._outside.apply(writes)

    @contextlib.asynccontextmanager
    async def reading(self) -> AsyncIterator[RecordStore]:
        yield self  # already one session
