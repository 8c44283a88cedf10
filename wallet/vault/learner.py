"""One learner's unlocked vault: domain repositories over sealed records.

Every record value is sealed with the learner's DEK (XChaCha20-Poly1305, wallet.crypto) with an
AAD naming its category and id, so a row copied under another id or category does not open.
Index tags hold only values blinded with a DEK-derived key (docs/architecture.md): equality filters work for
the unlocked learner, and the store (whose own encryption is Askar's) never sees an issuer or type.
Ranges, ordering and text search happen after decryption (docs/architecture.md: Askar's ``$gt``/``$like`` on
encrypted tags silently return wrong rows).

The storage adapters (Askar in :mod:`wallet.vault.askar_records`, dictionaries in
:mod:`wallet.vault.memory`) implement the small :class:`~wallet.vault.ports.RecordStore`
port (:mod:`wallet.vault.ports`); everything above it — sealing, blinding, ordering,
cursors — lives in this module and :mod:`wallet.vault.credentials` (the credential
repository) once, so both behave the same by construction. Each repository call is one
storage operation (one session), lists are one ``fetch_all``; inside
:meth:`LearnerVault.reading` every read shares one session. The names of those two
modules are importable from here too, as they were before they moved.

Writes that belong together (a received credential and the offer it consumes) go through
:meth:`LearnerVault.atomic`: they are queued while the code runs and committed as one transaction
— one durable commit instead of one per write, and never half of them.

A record can be numbered (:meth:`SealedRecordRepository.put_numbered`): the next number of a
counter record is read *for update* and advanced inside the transaction that inserts it, so
numbers follow commit order across processes, whatever their clocks (PostgreSQL locks the
counter's row, so two replicas numbering at once serialise; SQLite's write transactions are
exclusive anyway).
"""

from __future__ import annotations

import builtins
import json
import re
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from contextlib import asynccontextmanager
from typing import Any

from wallet.crypto import (
    DecryptionFailed,
    HolderKey,
    HolderKeyInfo,
    VaultKey,
    open_holder_key,
    open_holder_key_info,
    seal_holder_key,
)
from wallet.errors import BadInput, NotFound
from wallet.jsontext import json_bytes

# moved to their own modules; imported from here by earlier code, so re-exported
from wallet.vault.credentials import (
    MAX_PAGE,
    OPENED_MARKERS,
    OPENED_SUMMARIES,
    OPENED_SUMMARIES_MAX,
    SUMMARY_ROWS,
    CredentialRepository,
    SummaryRows,
    forget_summaries_complete,
)
from wallet.vault.model import check_id
from wallet.vault.ports import (
    Numbered,
    RecordStore,
    TagFilter,
    Tags,
    Write,
    _aad,
    _QueuedWrites,
)

__all__ = [
    "MAX_PAGE",
    "OPENED_MARKERS",
    "OPENED_SUMMARIES",
    "OPENED_SUMMARIES_MAX",
    "SUMMARY_ROWS",
    "CredentialRepository",
    "HolderKeyRepository",
    "LearnerVault",
    "Numbered",
    "RecordStore",
    "SealedRecordRepository",
    "SummaryRows",
    "TagFilter",
    "Tags",
    "Write",
    "forget_summaries_complete",
]

_HOLDER_KEY, _RECORD_PREFIX = "holder_key", "rec:"
_CATEGORY_RE = re.compile(r"[a-z][a-z0-9_.-]{0,63}")
_INDEX_RE = re.compile(r"[a-z][a-z0-9_]{0,31}")


class HolderKeyRepository:
    """The learner's holder (proof-of-possession) keys, sealed with the DEK."""

    def __init__(self, store: RecordStore, dek: VaultKey) -> None:
        self._store, self._dek = store, dek

    def _open(self, name: str, blob: bytes) -> HolderKey:
        key = open_holder_key(self._dek, blob)
        if key.kid != name:
            raise DecryptionFailed("a sealed holder key is misplaced")
        return key

    async def put(self, key: HolderKey) -> None:
        await self._store.insert(_HOLDER_KEY, key.kid, seal_holder_key(self._dek, key), {})

    async def get(self, kid: str) -> HolderKey:
        blob = await self._store.fetch(_HOLDER_KEY, check_id(kid, "kid"))
        if blob is None:
            raise NotFound("no such holder key")
        return self._open(kid, blob)

    async def list(self) -> list[HolderKey]:
        """Every holder key, oldest first."""
        rows = await self._store.fetch_all(_HOLDER_KEY)
        return sorted((self._open(n, v) for n, v in rows), key=lambda k: (k.created_at, k.kid))

    async def list_public(self) -> builtins.list[HolderKeyInfo]:
        """Every holder key's public side, oldest first (no private key is rebuilt)."""
        rows = await self._store.fetch_all(_HOLDER_KEY)
        infos = [open_holder_key_info(self._dek, v) for _, v in rows]
        if any(i.kid != n for i, (n, _) in zip(infos, rows, strict=True)):
            raise DecryptionFailed("a sealed holder key is misplaced")
        return sorted(infos, key=lambda k: (k.created_at, k.kid))

    async def delete(self, kid: str) -> None:
        await self._store.remove(_HOLDER_KEY, check_id(kid, "kid"))


class SealedRecordRepository:
    """Generic sealed JSON records of one category (inbox items, offers, share links, settings).

    ``index`` values are blinded per category and index name; :meth:`find` matches them exactly.
    """

    def __init__(self, store: RecordStore, dek: VaultKey, category: str) -> None:
        if not isinstance(category, str) or not _CATEGORY_RE.fullmatch(category):
            raise BadInput("record category must match [a-z][a-z0-9_.-]{0,63}")
        self._store, self._dek = store, dek
        self._category = _RECORD_PREFIX + category

    def _tags(self, index: Mapping[str, str]) -> dict[str, str]:
        tags = {}
        for name, value in index.items():
            if not _INDEX_RE.fullmatch(name) or not isinstance(value, str):
                raise BadInput("index names match [a-z][a-z0-9_]{0,31}; values are strings")
            tags[name] = self._dek.blind(f"{self._category}/{name}", value)
        return tags

    def _seal(self, id: str, body: Mapping[str, Any]) -> bytes:
        if not isinstance(body, Mapping):
            raise BadInput("a record body is a JSON object")
        return self._dek.seal(json_bytes(body, BadInput(
            "a record body must be JSON-serialisable Unicode text")), _aad(self._category, id))

    def _open(self, id: str, blob: bytes) -> dict[str, Any]:
        try:
            body = json.loads(self._dek.open(blob, _aad(self._category, id)))
        except ValueError as exc:
            raise DecryptionFailed("a sealed record is malformed") from exc
        if not isinstance(body, dict):
            raise DecryptionFailed("a sealed record is malformed")
        return body

    async def put(self, id: str, body: Mapping[str, Any], *, index: Mapping[str, str] = {},
                  overwrite: bool = False) -> None:
        """Store a record: ``Conflict`` if the id exists, unless ``overwrite`` (then upsert)."""
        check_id(id)
        value, tags = self._seal(id, body), self._tags(index)
        if overwrite:
            await self._store.upsert(self._category, id, value, tags)
        else:
            await self._store.insert(self._category, id, value, tags)

    async def replace(self, id: str, body: Mapping[str, Any], *,
                      index: Mapping[str, str] = {}) -> None:
        """Overwrite an existing record (``NotFound`` if absent)."""
        check_id(id)
        await self._store.replace(self._category, id, self._seal(id, body), self._tags(index))

    async def get(self, id: str) -> dict[str, Any]:
        blob = await self._store.fetch(self._category, check_id(id))
        if blob is None:
            raise NotFound("no such record")
        return self._open(id, blob)

    async def find(self, **index: str) -> list[tuple[str, dict[str, Any]]]:
        """Records whose index has every given name=value (ordered by id)."""
        if not index:
            raise BadInput("find needs at least one index value; use list()")
        rows = await self._store.fetch_all(self._category, self._tags(index))
        return sorted(((n, self._open(n, v)) for n, v in rows), key=lambda r: r[0])

    async def list(self) -> list[tuple[str, dict[str, Any]]]:
        rows = await self._store.fetch_all(self._category)
        return sorted(((n, self._open(n, v)) for n, v in rows), key=lambda r: r[0])

    async def list_readable(self) -> tuple[builtins.list[tuple[str, dict[str, Any]]],
                                           builtins.list[str]]:
        """Like :meth:`list`, for a caller that must go on past a record that does not open:
        the records that open, and the ids of those that do not."""
        opened: builtins.list[tuple[str, dict[str, Any]]] = []
        unreadable: builtins.list[str] = []
        for n, v in await self._store.fetch_all(self._category):
            try:
                opened.append((n, self._open(n, v)))
            except DecryptionFailed:
                unreadable.append(n)
        return sorted(opened, key=lambda r: r[0]), sorted(unreadable)

    async def put_numbered(self, id: str, body: Callable[[int], Mapping[str, Any]], *,
                           counter: str, counted: Callable[[int], None] | None = None) -> None:
        """Store a new record (``Conflict`` if the id exists) whose body is ``body(n)``, ``n``
        the next number (0, 1, ...) of the counter kept in category ``counter``: read and
        advanced in the transaction that inserts the record (inside :meth:`LearnerVault.atomic`,
        the block's), so numbers follow commit order whichever process writes, never reused.
        ``body`` may be called more than once (a retried transaction): it must be pure.
        ``counted``: told how many records of this category that transaction saw before the
        insert, after the counter was locked (:class:`Numbered`)."""
        check_id(id)
        counters = SealedRecordRepository(self._store, self._dek, counter)
        body_for, open_counter, seal_counter = body, counters._open, counters._seal

        def advance(held: bytes | None) -> tuple[bytes, bytes]:
            n = 0 if held is None else _counter_value(open_counter(_COUNTER, held))
            return (seal_counter(_COUNTER, {"next": n + 1}), self._seal(id, body_for(n)))

        await self._store.apply([Write("insert_numbered", self._category, id, numbered=Numbered(
            counters._category, _COUNTER, advance, counted))])

    async def delete(self, id: str) -> None:
        await self._store.remove(self._category, check_id(id))

    async def discard(self, ids: Iterable[str]) -> None:
        """Remove these records where they exist, in one transaction (none: no error)."""
        writes = [Write("discard", self._category, check_id(id)) for id in ids]
        if writes:
            await self._store.apply(writes)

    async def count(self) -> int:
        return await self._store.count(self._category)


_COUNTER = "counter"


def _counter_value(body: Mapping[str, Any]) -> int:
    n = body.get("next")
    if not isinstance(n, int) or isinstance(n, bool) or n < 0:
        raise DecryptionFailed("a sealed counter record is malformed")
    return n


class LearnerVault:
    """One unlocked learner's vault. Cheap to build (no I/O): make one per request."""

    __slots__ = ("_dek", "_store", "_summary_rows", "credentials", "holder_keys", "learner_id")

    def __init__(self, learner_id: str, store: RecordStore, dek: VaultKey, *,
                 summary_rows: SummaryRows = "read") -> None:
        self.learner_id = learner_id
        self._store, self._dek, self._summary_rows = store, dek, summary_rows
        self.credentials = CredentialRepository(store, dek, summary_rows=summary_rows,
                                                learner_id=learner_id)
        self.holder_keys = HolderKeyRepository(store, dek)

    def records(self, category: str) -> SealedRecordRepository:
        return SealedRecordRepository(self._store, self._dek, category)

    @asynccontextmanager
    async def atomic(self) -> AsyncIterator[LearnerVault]:
        """This vault, with every write made through it committed as one transaction on a clean
        exit (nothing written if the block raises). Conflicts and missing records surface at
        the commit, as the domain errors the single writes would have raised."""
        queued = _QueuedWrites(self._store)
        yield LearnerVault(self.learner_id, queued, self._dek, summary_rows=self._summary_rows)
        if queued.writes:
            await self._store.apply(queued.writes)

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[LearnerVault]:
        """This vault with every read made through it in one store session
        (:meth:`RecordStore.reading`): a request that reads several things before it writes
        pays one session for them. Keep the block short (no network call inside it)."""
        async with self._store.reading() as store:
            yield LearnerVault(self.learner_id, store, self._dek, summary_rows=self._summary_rows)

    def __repr__(self) -> str:
        return f"LearnerVault({self.learner_id!r})"
