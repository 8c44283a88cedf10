"""The ledger outbox: ledger entries committed inside the vault transaction they describe.

Why: the consent ledger (SQLAlchemy) and the vault (Askar) are different stores, so one
transaction cannot hold both, and the ledger must never under-record (docs/consent.md, "The
ledger outbox"). Writing the entry first costs a second durable commit on the learner's path.
Instead, the write that stores learner data also stores a sealed *staged entry* in the learner's
vault (:meth:`LedgerOutbox.stage`, category ``ledger-outbox``), in the same transaction: the data
is never committed without the entry that names it. The entry moves to the ledger afterwards, off
the response path (:meth:`LedgerOutbox.flush_soon`, a task :meth:`LedgerOutbox.drain` waits for on
shutdown), and in any case before anything reads or appends to that learner's ledger: every
ledger append made through this class, and every ledger read (history, receipts, verification,
export, erasure, import: :class:`consent.learner_ledger.LearnerLedger` runs
:meth:`LedgerOutbox.flush` first) flushes the learner's outbox first. A crash between the vault
commit and the flush is repaired at the learner's next access, because every one of those holds
the learner's key.

Exactly once: the staged record's id is the ledger entry's id. The ledger appends an id it already
holds as nothing (checked under the learner's head lock), and the staged record is deleted only
after its entry committed; a flush repeated after a crash, or two at once, record it once. The
entry keeps the time it was staged (never earlier than the entry before it: the ledger then
keeps the staged time in ``details.staged_at``), and flushing before every append keeps it ahead
of anything the learner did next.

Order: each staged entry takes the learner's next staging number (a sealed counter record,
:data:`SEQUENCE_CATEGORY`) in the vault transaction that stages it
(:meth:`~wallet.vault.learner.SealedRecordRepository.put_numbered`: read for update and advanced
there), and the flush moves entries by that number, so replicas with skewed clocks cannot reorder
a learner's entries.

Releases side by side (a rolling upgrade): an entry of a kind this release does not know was
staged by a newer one; it stays staged for a release that knows it (``StagedKindUnknown``), and
records an earlier release set aside for that reason are put back by one that can take them
(:meth:`LedgerOutbox._redrive`). docs/consent.md, "The ledger outbox", says why.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
import logging
import uuid
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from wallet.after_answer import after_answer
from wallet.clock import SYSTEM_CLOCK, Clock
from wallet.crypto import DecryptionFailed, VaultKey
from wallet.errors import BadInput, NotFound, SatchelError, StagedKindUnknown, Unavailable
from wallet.ports import Activity, ActivityKind, RowActivityLog, Sealer, StagedActivityLog
from wallet.vault import LearnerVault, VaultStore

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection

__all__ = ["DEAD_LETTER_CATEGORY", "DEFAULT_FLUSH_TIMEOUT", "FLUSH_CHUNK", "OUTBOX_CATEGORY",
           "SEQUENCE_CATEGORY", "LedgerOutbox", "StagedEntry"]

log = logging.getLogger(__name__)

OUTBOX_CATEGORY = "ledger-outbox"
#: the learner's staging counter (one sealed record): each staged entry takes its next number in
#: the vault transaction that stages it, and entries move to the ledger in that order
SEQUENCE_CATEGORY = "ledger-outbox-seq"
#: staged entries appended per ledger transaction (and deleted per vault transaction)
FLUSH_CHUNK = 100
#: background flush tries while a store is down, and the first wait between them (doubling)
_ATTEMPTS, _BACKOFF = 3, 0.5
#: seconds one background flush attempt may take, unless configured
#: (``SATCHEL_LEDGER_OUTBOX_FLUSH_TIMEOUT``)
DEFAULT_FLUSH_TIMEOUT = 10.0
#: staged records the ledger can never take (undecodable, or an entry it refuses), kept for an
#: operator rather than blocking every later flush of the learner's outbox
DEAD_LETTER_CATEGORY = "ledger-outbox-dead"


def _pseudonym(learner_id: str) -> str:
    """What a log line names a learner by: a short digest, never the id itself."""
    return hashlib.sha256(learner_id.encode()).hexdigest()[:12]


class _Ledger(RowActivityLog, StagedActivityLog, Protocol):
    """The consent ledger as the wallet sees it (``consent.recorder.LedgerActivityLog``)."""


#: a staged entry's place in the outbox: its staging number (``seq``), or for one staged by an
#: earlier release without it, (staged time, that process's own count); those go first
_Order = tuple[int, int, datetime, int]


def _to_record(activity: Activity, at: datetime, seq: int,
               takeover: Sequence[Mapping[str, Any]] | None = None) -> dict[str, Any]:
    extra = {} if takeover is None else {"takeover": list(takeover)}
    return {"v": 1, "at": at.isoformat(), "seq": seq, **extra, "activity": {
        "kind": activity.kind, "counterparty": activity.counterparty,
        "counterparty_name": activity.counterparty_name, "purpose": activity.purpose,
        "claims": [list(p) for p in activity.claims],
        "credential_ids": list(activity.credential_ids), "details": dict(activity.details),
        "data_categories": list(activity.data_categories)}}


def _takeover(body: Mapping[str, Any]) -> list[Mapping[str, Any]] | None:
    """The exported chain a staged import takes over (``None``: a plain entry)."""
    records = body.get("takeover")
    if records is None:
        return None
    if not isinstance(records, list) or not all(isinstance(r, Mapping) for r in records):
        raise DecryptionFailed("a staged ledger entry is malformed")
    return records


def _kind(raw: object) -> ActivityKind:
    """A staged entry's kind; one this release does not know (staged by a newer release) is
    :class:`~wallet.errors.StagedKindUnknown`: the flush leaves that entry staged for a release
    that knows the kind (never set aside, where nothing would read it back), never a 500."""
    try:
        return ActivityKind(str(raw))
    except ValueError as exc:
        raise StagedKindUnknown("a staged ledger entry names an event kind this release does "
                                "not know") from exc


def _from_record(body: Mapping[str, Any]) -> tuple[Activity, datetime, _Order]:
    try:
        a = body["activity"]
        activity = Activity(
            kind=_kind(a["kind"]), counterparty=a.get("counterparty"),
            counterparty_name=a.get("counterparty_name"), purpose=a.get("purpose"),
            claims=tuple(tuple(p) for p in a.get("claims", ())),
            credential_ids=tuple(str(c) for c in a.get("credential_ids", ())),
            details=dict(a.get("details", {})),
            data_categories=tuple(str(c) for c in a.get("data_categories", ())))
        at = datetime.fromisoformat(str(body["at"]))
        seq = body.get("seq")
        order = ((0, 0, at, int(body.get("n", 0))) if seq is None
                 else (1, _staging_number(seq), at, 0))
        return activity, at, order
    except (KeyError, TypeError, ValueError) as exc:  # sealed by us: only a bug gets here
        raise DecryptionFailed("a staged ledger entry is malformed") from exc


def _staging_number(seq: object) -> int:
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 0:
        raise ValueError("a staging number is a non-negative integer")
    return seq


def _steps(staged: Sequence[tuple[str, Activity, datetime, _Order]],
           takeovers: Mapping[str, object]
           ) -> list[Sequence[tuple[str, Activity, datetime, _Order]]]:
    """``staged`` (in staging order) cut into what one ledger transaction moves: at most
    :data:`FLUSH_CHUNK` plain entries, or one chain takeover alone."""
    steps: list[Sequence[tuple[str, Activity, datetime, _Order]]] = []
    run: list[tuple[str, Activity, datetime, _Order]] = []
    for item in staged:
        if item[0] in takeovers:
            if run:
                steps.append(run)
            steps.append([item])
            run = []
            continue
        run.append(item)
        if len(run) == FLUSH_CHUNK:
            steps.append(run)
            run = []
    if run:
        steps.append(run)
    return steps


class StagedEntry:
    """What :meth:`LedgerOutbox.stage` staged, for :meth:`LedgerOutbox.flush_soon` once the
    transaction has committed: the entry, and whether the learner's outbox held nothing else
    when it was numbered (then the flush moves it without reading the outbox back)."""

    __slots__ = ("activity", "alone", "at", "id")

    def __init__(self, entry_id: str, activity: Activity, at: datetime) -> None:
        self.id, self.activity, self.at = entry_id, activity, at
        self.alone = False

    def _counted(self, before: int) -> None:
        self.alone = before == 0


class LedgerOutbox:
    """Stages ledger entries in the vault and moves them to the ledger.

    It is also the :class:`~wallet.ports.ActivityLog` features record through: ``record`` first
    flushes the learner's outbox, so the ledger's order is the order things happened in."""

    def __init__(self, vault: VaultStore, ledger: _Ledger, *, clock: Clock = SYSTEM_CLOCK,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                 background_flushes: int = 4,
                 flush_timeout: float = DEFAULT_FLUSH_TIMEOUT) -> None:
        self._vault, self._ledger, self._clock = vault, ledger, clock
        # one flush per learner at a time in this process (others wait, then find it done)
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = (
            weakref.WeakValueDictionary())
        self._flushing: set[asyncio.Task[None]] = set()
        # learners with a background flush that has not listed their outbox yet: a learner
        # staging fast gets one flush waiting, not one per request (each would queue on the lock)
        # (learner id -> the queued task's number: a task ending before it listed the outbox
        # takes its own mark away, never a later task's)
        self._queued: dict[str, int] = {}
        #: a queued flush's ticket -> the entry it alone has to move (see :meth:`_flush`)
        self._known: dict[int, StagedEntry] = {}
        self._tickets = itertools.count()
        #: seconds one background flush attempt may take (a hung store must not hold the
        #: learner's key in a task for ever): then it gives up, the entries stay staged
        self.flush_timeout = flush_timeout
        self._sleep = sleep
        # background flushes start after the request's admission slot is released: at most
        # this many run at once (the rest wait), so they cannot exhaust the database pool
        self._slots = asyncio.Semaphore(background_flushes)
        self._pending = 0
        #: background flushes that gave up (the entries stay staged): a metric's source
        self.failed_flushes = 0

    async def stage(self, tx: LearnerVault, activity: Activity) -> StagedEntry:
        """Queue ``activity``'s entry in ``tx`` (a :meth:`LearnerVault.atomic` block); hand
        what it returns to :meth:`flush_soon` once the block has committed."""
        # the ledger's own checks, now: an entry it would refuse must stop the write it names
        # (the block aborts with the ledger's 4xx), never sit staged where no flush can move it
        self._ledger.check(activity)
        entry_id, at = str(uuid.uuid4()), self._clock()
        # its place: the learner's next staging number, read and advanced in this transaction
        # (replicas staging at once serialise on it), so the order is the commit order whatever
        # each replica's clock says
        # ... and whether the outbox held nothing else then (counted after the counter is
        # locked, so every entry numbered before this one has committed or been moved)
        entry = StagedEntry(entry_id, activity, at)
        await tx.records(OUTBOX_CATEGORY).put_numbered(
            entry_id, lambda seq: _to_record(activity, at, seq), counter=SEQUENCE_CATEGORY,
            counted=entry._counted)
        return entry

    async def stage_takeover(self, tx: LearnerVault, records: Sequence[Mapping[str, Any]],
                             activity: Activity) -> StagedEntry:
        """Queue in ``tx`` the takeover of an exported chain (a bundle's ledger: ``records`` as
        exported) behind one ``import`` entry, its id the staged record's: an import commits it
        with the credentials it brings, and the move takes the chain over exactly once
        (:meth:`~wallet.ports.StagedActivityLog.record_staged_takeover`). ``activity`` is that
        ``import`` entry as a plain staged entry: what a release that predates takeovers
        appends instead (the import is named, its chain not taken over)."""
        self._ledger.check(activity)
        self._ledger.check_takeover(records)
        entry_id, at = str(uuid.uuid4()), self._clock()
        entry = StagedEntry(entry_id, activity, at)
        await tx.records(OUTBOX_CATEGORY).put_numbered(
            entry_id, lambda seq: _to_record(activity, at, seq, records),
            counter=SEQUENCE_CATEGORY, counted=entry._counted)
        return entry

    async def flush(self, learner_id: str, sealer: Sealer) -> int:
        """Move every staged entry of the learner to the ledger, oldest first; how many."""
        return await self._flush(learner_id, sealer)

    async def _flush(self, learner_id: str, sealer: Sealer, ticket: int | None = None) -> int:
        """:meth:`flush`; for the background flush with ``ticket``, the entry it was started
        for (:meth:`flush_soon`), if that entry was alone in the outbox when it committed: it
        alone is moved, and nothing is read back. Every entry numbered before it had left the
        outbox by then, so had reached the ledger (an entry leaves only after its append
        committed); any numbered after it is moved by its own flush, or by one that lists the
        outbox and finds this one there too, first (the ledger appends an id once)."""
        if not isinstance(sealer, VaultKey):
            return 0  # not a vault key: it opens no vault, so nothing can be staged under it
        lock = self._locks.get(learner_id)
        if lock is None:
            lock = self._locks[learner_id] = asyncio.Lock()
        async with lock:
            self._queued.pop(learner_id, None)  # what it was queued for is listed just below
            known = None if ticket is None else self._known.pop(ticket, None)
            lv = self._vault.for_learner(learner_id, sealer)
            if known is not None:
                appended = await self._ledger.record_staged(
                    learner_id, sealer, [(known.id, known.at, known.activity)])
                await self._clean_up(learner_id, lv, [known.id])
                return appended or 0
            staged: list[tuple[str, Activity, datetime, _Order]] = []
            takeovers: dict[str, list[Mapping[str, Any]]] = {}
            poison: list[tuple[str, Mapping[str, Any], SatchelError]] = []
            newer: list[tuple[str, str]] = []
            listed, unreadable = await lv.records(OUTBOX_CATEGORY).list_readable()
            # (two scans: each is one query, cheaper than a session, which checks the profile)
            dead, _ = await lv.records(DEAD_LETTER_CATEGORY).list_readable()
            for entry_id in unreadable:  # left in place for an operator; the rest still move
                log.error("ledger outbox: staged entry %s of learner %s does not open (vault "
                          "integrity); skipped", entry_id, _pseudonym(learner_id))
            if dead:  # set aside by a release that could not take them: this one may
                listed = await self._redrive(learner_id, lv, listed, dead)
            for entry_id, body in listed:
                try:
                    activity, at, order = _from_record(body)
                    self._ledger.check(activity)
                    takeover = _takeover(body)
                    if takeover is not None:
                        self._ledger.check_takeover(takeover)
                        takeovers[entry_id] = takeover
                except StagedKindUnknown:  # (before BadInput: it is one)
                    newer.append((entry_id, str(body["activity"]["kind"])[:64]))
                except (DecryptionFailed, BadInput) as exc:
                    poison.append((entry_id, body, exc))
                else:
                    staged.append((entry_id, activity, at, order))
            for entry_id, kind in newer:  # staged by a newer release: it moves them
                log.warning("ledger outbox: staged entry %s of learner %s is of a kind this "
                            "release does not know (%r, from a newer release): left staged for "
                            "a release that knows it", entry_id, _pseudonym(learner_id), kind)
            if poison:  # one the ledger refuses must not block the learner's ledger for good
                await self._set_aside(learner_id, lv, poison)
            if not staged:
                return 0
            staged.sort(key=lambda s: (s[3], s[0]))  # staging order, not clock order
            moved = 0
            # oldest first, a bounded chunk per ledger transaction (however many requests staged
            # them): an outbox grown during an outage moves in steps that each fit the ledger's
            # time limit, and each step's progress is kept. A chain takeover (an import) is a
            # step of its own, in its place.
            for chunk in _steps(staged, takeovers):
                first = chunk[0][0]
                if first in takeovers:
                    appended = await self._ledger.record_staged_takeover(
                        learner_id, sealer, first, takeovers[first])
                else:
                    appended = await self._ledger.record_staged(
                        learner_id, sealer, [(entry_id, at, activity)
                                             for entry_id, activity, at, _ in chunk])
                # only now: a crash before this commit leaves them staged, and the next flush
                # finds them already appended. An erased ledger takes none: what is staged
                # describes data the erasure is removing, so it goes too.
                await self._clean_up(learner_id, lv, [entry_id for entry_id, *_ in chunk])
                moved += appended or 0
            return moved

    def _takes(self, body: object) -> bool:
        """Whether this release can move a staged record's body into the ledger."""
        try:
            if not isinstance(body, Mapping):
                return False
            activity, _, _ = _from_record(body)
            self._ledger.check(activity)
            takeover = _takeover(body)
            if takeover is not None:
                self._ledger.check_takeover(takeover)
        except (DecryptionFailed, BadInput):  # StagedKindUnknown included
            return False
        return True

    async def _redrive(self, learner_id: str, lv: LearnerVault,
                       listed: Sequence[tuple[str, dict[str, Any]]],
                       dead: Sequence[tuple[str, dict[str, Any]]]
                       ) -> list[tuple[str, dict[str, Any]]]:
        """Put back into the outbox the records set aside in :data:`DEAD_LETTER_CATEGORY` that
        this release can take (a kind an earlier release did not know, during a rolling
        upgrade), in one vault transaction; ``listed`` with them added. They then move as any
        staged entry, in their staging order, exactly once (the ledger appends an id once)."""
        back = [(entry_id, rec["staged"]) for entry_id, rec in dead
                if self._takes(rec.get("staged"))]
        if not back:
            return list(listed)
        async with lv.atomic() as tx:  # (another process doing the same: the same writes)
            for entry_id, body in back:
                await tx.records(OUTBOX_CATEGORY).put(entry_id, body, overwrite=True)
            await tx.records(DEAD_LETTER_CATEGORY).discard(entry_id for entry_id, _ in back)
        for entry_id, _ in back:
            log.warning("ledger outbox: staged entry %s of learner %s, set aside by a release "
                        "that could not take it, moves now", entry_id, _pseudonym(learner_id))
        ids = {entry_id for entry_id, _ in back}
        return [*(item for item in listed if item[0] not in ids), *back]

    async def _set_aside(self, learner_id: str, lv: LearnerVault,
                         poison: Sequence[tuple[str, Mapping[str, Any], SatchelError]]) -> None:
        """Move staged records the ledger can never take to :data:`DEAD_LETTER_CATEGORY`."""
        for entry_id, _, exc in poison:  # the reason's code, never the body (claims, names)
            log.error("ledger outbox: staged entry %s of learner %s can never be appended "
                      "(%s); set aside in %s", entry_id, _pseudonym(learner_id), exc.code,
                      DEAD_LETTER_CATEGORY)
        async with lv.atomic() as tx:
            for entry_id, body, exc in poison:
                await tx.records(DEAD_LETTER_CATEGORY).put(
                    entry_id, {"reason": exc.code, "staged": dict(body)}, overwrite=True)
                await tx.records(OUTBOX_CATEGORY).delete(entry_id)

    async def _clean_up(self, learner_id: str, lv: LearnerVault, ids: Sequence[str]) -> None:
        """Delete staged records whose entries are in the ledger. Best effort: a failure leaves
        them staged, and the next flush finds their ids in the ledger and skips them."""
        try:
            if len(ids) == 1:  # one write: the store commits it without a transaction
                with contextlib.suppress(NotFound):  # another process flushed it first
                    await lv.records(OUTBOX_CATEGORY).delete(ids[0])
                return
            try:
                async with lv.atomic() as tx:
                    for entry_id in ids:
                        await tx.records(OUTBOX_CATEGORY).delete(entry_id)
            except NotFound:  # another process flushed some of them first: the rest one by one
                for entry_id in ids:
                    with contextlib.suppress(NotFound):
                        await lv.records(OUTBOX_CATEGORY).delete(entry_id)
        except SatchelError as exc:
            log.warning("ledger outbox: learner %s's entries are in the ledger, their staged "
                        "records not yet deleted (%s); the next flush skips them",
                        _pseudonym(learner_id), exc.code)

    async def pending(self, learner_id: str, sealer: Sealer) -> int:
        """How many entries the learner's outbox holds (not yet moved to the ledger)."""
        if not isinstance(sealer, VaultKey):
            return 0
        return await self._vault.for_learner(learner_id, sealer).records(OUTBOX_CATEGORY).count()

    def flush_soon(self, learner_id: str, dek: VaultKey,
                   staged: StagedEntry | None = None) -> None:
        """Flush in the background once the request has been answered (see :meth:`drain`).
        ``staged``: what the request staged (:meth:`stage`), once its transaction committed.

        The learner's key is handed over, not kept: the deferred job takes it out of its hand
        when it runs (whatever still holds the job then, say a context copied into another task,
        holds no key), and the flush task holds it only until that flush ends or times out
        (:attr:`flush_timeout`)."""
        hand = [dek]  # the job below reaches the key only through this

        def start() -> None:
            if not hand:
                return
            key = hand.pop()
            if learner_id in self._queued:  # a flush not yet started will list this entry too
                self._known.pop(self._queued[learner_id], None)  # (so it must list)
                return
            ticket = self._queued[learner_id] = next(self._tickets)
            if staged is not None and staged.alone:
                self._known[ticket] = staged
            task = asyncio.create_task(self._flush_quietly(learner_id, key, ticket),
                                       name="ledger-outbox-flush")
            self._flushing.add(task)
            task.add_done_callback(self._flushing.discard)

        after_answer(start)

    async def _flush_quietly(self, learner_id: str, dek: VaultKey,
                             ticket: int | None = None) -> None:
        """The background flush: retried a few times with backoff while the store is down
        (bounded; whatever is still staged moves at the learner's next access), each attempt
        bounded by :attr:`flush_timeout` (a store that hangs is not retried)."""
        ref = _pseudonym(learner_id)  # logs name a digest, never the learner id, DEK or body
        self._pending += 1
        try:
            for attempt in range(1, _ATTEMPTS + 1):
                try:
                    async with self._slots:  # bounded: they compete with admitted requests
                        async with asyncio.timeout(self.flush_timeout):
                            await self._flush(learner_id, dek, ticket)
                    return
                except TimeoutError:
                    log.warning("ledger outbox flush for learner %s took longer than %g s: "
                                "given up, still staged, moved at the learner's next access",
                                ref, self.flush_timeout)
                except Unavailable as exc:  # transient: the ledger or the vault store is down
                    if attempt < _ATTEMPTS:
                        log.info("ledger outbox flush for learner %s: %s, retry %d of %d",
                                 ref, exc.code, attempt, _ATTEMPTS - 1)
                        await self._sleep(_BACKOFF * 2 ** (attempt - 1))
                        continue
                    log.warning("ledger outbox flush for learner %s deferred after %d tries "
                                "(%s): still staged, moved at the learner's next access",
                                ref, _ATTEMPTS, exc.code)
                except SatchelError as exc:  # not the store being down: retrying will not help
                    log.error("ledger outbox flush for learner %s failed (%s): still staged",
                              ref, exc.code)
                except Exception:  # boundary: a background task must not die unseen
                    log.exception("ledger outbox flush for learner %s failed unexpectedly", ref)
                self.failed_flushes += 1
                return
        finally:
            self._pending -= 1
            if ticket is not None:
                self._known.pop(ticket, None)
                if self._queued.get(learner_id) == ticket:
                    del self._queued[learner_id]  # it never listed the outbox (timed out waiting)

    @property
    def pending_flushes(self) -> int:
        """Background flushes started and not finished (retries included)."""
        return self._pending

    async def drain(self, grace: float | None = None) -> None:
        """Wait for every background flush (before the stores close, on shutdown), at most
        ``grace`` seconds: then the rest are cancelled (a store hanging must not hold the
        shutdown past its grace period). A cancelled flush leaves its entries staged: the
        learner's next access moves them, exactly once."""
        try:
            async with asyncio.timeout(grace):
                while self._flushing:
                    await asyncio.gather(*self._flushing, return_exceptions=True)
        except TimeoutError:
            log.warning("ledger outbox: %d background flushes still running at shutdown, "
                        "cancelled; their entries stay staged", len(self._flushing))
            for task in list(self._flushing):
                task.cancel()
            await asyncio.gather(*self._flushing, return_exceptions=True)

    async def record(self, learner_id: str, sealer: Sealer, activity: Activity, *,
                     before_disclosure: bool = False) -> str:
        await self.flush(learner_id, sealer)
        return await self._ledger.record(learner_id, sealer, activity,
                                         before_disclosure=before_disclosure)

    @contextlib.asynccontextmanager
    async def recording(self, learner_id: str, sealer: Sealer,
                        activity: Activity) -> AsyncIterator[AsyncConnection]:
        """:class:`~wallet.ports.RowActivityLog`: the entry and the caller's rows (written on the
        connection) in one ledger transaction, after the learner's staged entries (flushed
        first, as :meth:`record` does)."""
        await self.flush(learner_id, sealer)
        async with self._ledger.recording(learner_id, sealer, activity) as conn:
            yield conn
