"""The learner's credentials in the vault: summary-first rows, summary rows, MAC'd cursors.

A credential is one row in ``credential`` whose value is laid out summary first: the sealed
:class:`~wallet.vault.model.CredentialSummary` (the few listing fields, a few hundred bytes), then
the sealed whole record (raw credential, claims, elements); the record's AAD includes the
summary's nonce, so the two halves of different writes cannot be spliced together. ``get`` opens
only the record. Values written before this layout (the sealed record alone) are still read: their
summary is derived from the record.

The same sealed summary is also a row of its own, under the credential's id in
``credential_summary`` (no index tags), written in the same transaction as the credential row by
every put, replace and delete, so the two never drift, not even after a crash. An unfiltered list
fetches only that category: small values without tags, the cheapest rows Askar reads. Filtered
lists (format, issuer, type) keep using the credential rows' blinded tags, which narrow the fetch
in the store. A learner's summary rows are known to be complete once the row named ``""`` (no
credential id is empty) is there: until then a list reads the credential rows as before and then
writes the missing summary rows and that marker in one transaction, guarded so that it commits
only if no credential changed in between (docs/architecture.md: "The vault's rows"). With
``summary_rows="write"`` (:data:`SummaryRows`: the first phase of a rolling upgrade, while replicas
of an earlier version still write credential rows alone) the summary rows are still written, but
lists read the credential rows and the marker is neither read nor written.
"""

from __future__ import annotations

import builtins
import hmac
import json
import logging
import struct
from collections.abc import Callable
from operator import attrgetter
from typing import Literal, TypeVar

from wallet.crypto import DecryptionFailed, VaultKey
from wallet.errors import BadInput, Conflict, InvalidCursor, NotFound, Unavailable
from wallet.jose import b64url_decode, b64url_encode
from wallet.learner_cache import LearnerCache, LearnerEntries
from wallet.vault.model import (
    CredentialQuery,
    CredentialSummary,
    Page,
    StoredCredential,
    check_id,
    sort_key,
)
from wallet.vault.ports import RecordStore, Write, _aad, _QueuedWrites

__all__ = [
    "MAX_PAGE",
    "OPENED_MARKERS",
    "OPENED_SUMMARIES",
    "OPENED_SUMMARIES_MAX",
    "SUMMARY_ROWS",
    "CredentialRepository",
    "SummaryRows",
    "forget_summaries_complete",
]

MAX_PAGE = 500
#: What the summary rows are used for (``SATCHEL_SUMMARY_ROWS``, docs/operations.md): ``write``
#: keeps them in step with every credential write but lists the credential rows and never writes
#: the marker (while a replica of an earlier version may still be writing credentials beside
#: this one); ``read`` also lists from them (and completes them at a learner's first list).
SummaryRows = Literal["write", "read"]
SUMMARY_ROWS: tuple[SummaryRows, ...] = ("write", "read")
_CREDENTIAL = "credential"
_SUMMARY_AAD_CATEGORY = "credential.summary"
#: The Askar category of the summary rows (each the credential's sealed summary, same name).
_SUMMARY = "credential_summary"
#: The summary row saying that every credential of the learner has its summary row (sealed).
_SUMMARIES_COMPLETE, _COMPLETE_PLAIN = "", b"satchel/vault/summaries/v1"
#: Start of a summary-first credential value; anything else is the earlier layout (the sealed
#: record alone, which begins with a random nonce: a chance start with these bytes still opens,
#: because a value that fails to open as the new layout is tried as the old one).
_PACKED = b"SCv2"
_LEN = struct.Struct(">I")
_NONCE = 24
_CURSOR_MAC_BYTES = 16
_ANY = CredentialQuery()
#: How many opened summaries :data:`OPENED_SUMMARIES` keeps (about 1.4 KiB each: the sealed
#: value in the key and the opened summary).
OPENED_SUMMARIES_MAX = 4096



log = logging.getLogger(__name__)


async def forget_summaries_complete(store: RecordStore) -> bool:
    """Remove one learner's marker saying their summary rows are complete; True if there was one.

    No key is needed: the row is found by its category and name. The learner's next list in
    ``read`` then reads the credential rows and completes the summary rows again, guarded as the
    first time (:meth:`CredentialRepository.list_summaries`). For a vault an earlier version
    wrote credentials to after the marker was written (a downgrade, then an upgrade again:
    ``satchel reset-summary-markers``, docs/operations.md)."""
    # looked up first: a missing row is no error then (Askar reports the errors of concurrent
    # calls unreliably, and most vaults of a second run have no marker). NotFound from either
    # call: the marker was removed meanwhile (another run), or the whole vault was (an erasure,
    # the orphan sweep): no marker either way, never a reason to stop
    try:
        if await store.fetch(_SUMMARY, _SUMMARIES_COMPLETE) is None:
            return False
        await store.remove(_SUMMARY, _SUMMARIES_COMPLETE)
    except NotFound:
        return False
    return True


_C = TypeVar("_C", StoredCredential, CredentialSummary)
_Rows = list[tuple[str, bytes]]


def _unpack(blob: bytes) -> tuple[bytes, bytes] | None:
    """(sealed summary, sealed record) of a summary-first value; ``None`` for the old layout."""
    if blob[:len(_PACKED)] != _PACKED or len(blob) < len(_PACKED) + _LEN.size:
        return None
    start = len(_PACKED) + _LEN.size
    (n,) = _LEN.unpack_from(blob, len(_PACKED))
    if n < _NONCE or start + n > len(blob):
        return None
    return blob[start:start + n], blob[start + n:]


_BY_ID, _BY_ADDED = attrgetter("id"), attrgetter("added_at")

#: The process's opened summaries, grouped by learner (wallet.learner_cache: dropped at logout,
#: passphrase change and erasure, and after the token lifetime unused). Each entry is keyed by
#: (a fingerprint of the learner's DEK, the row's name, its sealed value), so the same sealed
#: bytes under the same name and DEK, which always open to the same summary, are opened once
#: (~10 µs a row, bench/bench_api.py): only a request holding that DEK can find one, a value
#: moved under another name or tampered with never matches, and only values that opened are
#: kept. The fingerprint is a subkey of the DEK (a PRF output: it opens nothing, and the DEK
#: cannot be had from it); the sealed value is what the database holds. The key is the bytes
#: themselves, not a MAC of them: Python hashes them once (SipHash, cheap) where a keyed BLAKE2b
#: of each row cost four compressions, ~6,000 instructions a row (bench/list_cost.py).
#: About 1.4 KiB an entry (its key holds the sealed value, its value the opened summary).
OPENED_SUMMARIES: LearnerCache[tuple[bytes, str, bytes], CredentialSummary] = LearnerCache(
    OPENED_SUMMARIES_MAX)
#: The markers that opened (said the summary rows are complete), kept like
#: :data:`OPENED_SUMMARIES`, keyed by (the DEK's fingerprint, the sealed value): a list finds
#: its marker's bytes among those that opened under this DEK instead of opening them on every
#: request (~15,000 instructions, bench/list_cost.py). A marker rewritten (other bytes), moved
#: to another learner (another fingerprint) or not opening is never found, so it is opened.
OPENED_MARKERS: LearnerCache[tuple[bytes, bytes], bool] = LearnerCache(OPENED_SUMMARIES_MAX)


class CredentialRepository:
    """The learner's credentials (``summary_rows``: see :data:`SummaryRows`)."""

    def __init__(self, store: RecordStore, dek: VaultKey, *,
                 summary_rows: SummaryRows = "read", learner_id: str = "") -> None:
        self._store, self._dek = store, dek
        self.summary_rows: SummaryRows = summary_rows
        self._cursor_key: bytes | None = None  # derived when a cursor is made or read
        self._learner_id = learner_id
        # made at the first summary opened: the DEK's fingerprint and this learner's opened
        # summaries
        self._opened: tuple[bytes, LearnerEntries[tuple[bytes, str, bytes],
                                                  CredentialSummary]] | None = None

    def _tags(self, c: StoredCredential) -> dict[str, str | list[str]]:
        b = self._dek.blind
        tags: dict[str, str | list[str]] = {"f": b("format", c.format), "i": b("issuer", c.issuer)}
        if c.types:
            tags["t"] = sorted({b("type", t) for t in c.types})
        return tags

    def _seal(self, c: StoredCredential) -> tuple[bytes, bytes]:
        """(sealed summary, credential row value: that summary, then the sealed record)."""
        summary = self._seal_summary(c.summary())
        record = self._dek.seal(c.to_bytes(), _aad(_CREDENTIAL, c.id) + summary[:_NONCE])
        return summary, _PACKED + _LEN.pack(len(summary)) + summary + record

    def _seal_summary(self, summary: CredentialSummary) -> bytes:
        return self._dek.seal(summary.to_bytes(), _aad(_SUMMARY_AAD_CATEGORY, summary.id))

    def _writes(self, op: Literal["insert", "replace"], c: StoredCredential) -> builtins.list[Write]:
        """The credential row and its summary row, for one transaction."""
        summary, value = self._seal(c)
        return [Write(op, _CREDENTIAL, c.id, value, self._tags(c)),
                Write("insert" if op == "insert" else "upsert", _SUMMARY, c.id, summary)]

    def _open(self, name: str, blob: bytes) -> StoredCredential:
        parts = _unpack(blob)
        if parts is not None:
            summary, record = parts
            try:
                return self._check(name, StoredCredential.from_bytes(
                    self._dek.open(record, _aad(_CREDENTIAL, name) + summary[:_NONCE])))
            except DecryptionFailed:
                pass  # not this layout after all, or tampered: the old layout decides
        return self._check(name, StoredCredential.from_bytes(
            self._dek.open(blob, _aad(_CREDENTIAL, name))))

    def _open_summary(self, name: str, blob: bytes) -> CredentialSummary:
        """The summary of a credential row."""
        parts = _unpack(blob)
        if parts is not None:
            try:
                return self._open_summary_row(name, parts[0])
            except DecryptionFailed:
                pass
        return self._open(name, blob).summary()

    def _open_summary_row(self, name: str, sealed: bytes) -> CredentialSummary:
        """A sealed summary (a summary row's value, or the first half of a credential row);
        the one opened before when these bytes opened under this name and DEK already."""
        fingerprint, kept = self._opened_summaries()
        key = (fingerprint, name, bytes(sealed))
        summary = kept.get(key)
        if summary is None:
            summary = self._check(name, CredentialSummary.from_bytes(
                self._dek.open(sealed, _aad(_SUMMARY_AAD_CATEGORY, name))))
            kept.put(key, summary)
        return summary

    def _opened_summaries(self) -> tuple[bytes, LearnerEntries[tuple[bytes, str, bytes],
                                                             CredentialSummary]]:
        """The DEK's fingerprint and this learner's opened summaries (made at first use)."""
        opened = self._opened
        if opened is None:
            opened = self._opened = (self._dek.subkey("vault/opened/v1"),
                                     OPENED_SUMMARIES.entries(self._learner_id))
        return opened

    def _marker_key(self, sealed: bytes) -> tuple[bytes, bytes]:
        return self._opened_summaries()[0], bytes(sealed)

    @staticmethod
    def _check(name: str, c: _C) -> _C:
        if c.id != name:
            raise DecryptionFailed("a sealed credential record is misplaced")
        return c

    async def put(self, c: StoredCredential) -> None:
        """Store a new credential; :class:`~wallet.errors.Conflict` if the id exists."""
        await self._store.apply(self._writes("insert", c))

    async def replace(self, c: StoredCredential) -> None:
        """Overwrite an existing credential (metadata, status); ``NotFound`` if absent."""
        await self._store.apply(self._writes("replace", c))

    async def get(self, id: str) -> StoredCredential:
        blob = await self._store.fetch(_CREDENTIAL, check_id(id))
        if blob is None:
            raise NotFound("no such credential")
        return self._open(id, blob)

    async def delete(self, id: str) -> None:
        """Remove a credential and its summary row; ``NotFound`` if absent."""
        await self._store.apply([Write("remove", _CREDENTIAL, check_id(id)),
                                 Write("discard", _SUMMARY, id)])  # none before a migration

    async def count(self) -> int:
        return await self._store.count(_CREDENTIAL)

    async def all(self) -> list[StoredCredential]:
        """Every credential, newest first (for export)."""
        rows = await self._store.fetch_all(_CREDENTIAL)
        return sorted((self._open(n, v) for n, v in rows), key=sort_key)

    async def list(self, query: CredentialQuery = _ANY, *, limit: int = 50,
                   cursor: str | None = None) -> Page[StoredCredential]:
        """A page of matching credentials, newest ``added_at`` first, ties by id.

        Whole records: prefer :meth:`list_summaries` when the listing fields are enough (it opens
        only the summaries). Cursors of the two are interchangeable.
        """
        return await self._page(query, limit, cursor, self._open)

    async def list_summaries(self, query: CredentialQuery = _ANY, *, limit: int = 50,
                             cursor: str | None = None) -> Page[CredentialSummary]:
        """A page of matching summaries, newest ``added_at`` first, ties by id.

        Without a format, issuer or type filter, from the summary rows alone once they are known
        complete (see the module's docstring), unless ``summary_rows`` is ``write``."""
        if (query.format is not None or query.issuer is not None or query.type is not None
                or self.summary_rows == "write"):  # the marker is neither read nor written
            return await self._page(query, limit, cursor, self._open_summary)
        after = self._check_page(query, limit, cursor)
        summary_rows = await self._store.fetch_all(_SUMMARY)
        if self._complete(summary_rows):
            found = [self._open_summary_row(n, v) for n, v in summary_rows
                     if n != _SUMMARIES_COMPLETE]
        else:
            rows = await self._store.fetch_all(_CREDENTIAL)
            found = [self._open_summary(n, v) for n, v in rows]
            await self._complete_summaries(summary_rows, rows)
        return self._finish(found, query, limit, after)

    def _complete(self, summary_rows: _Rows) -> bool:
        """Whether the marker is among a learner's summary rows (and opens)."""
        for name, value in summary_rows:
            if name == _SUMMARIES_COMPLETE:
                key = self._marker_key(value)
                kept = OPENED_MARKERS.entries(self._learner_id)
                if kept.get(key):
                    return True  # these very bytes opened under this DEK before
                try:
                    complete = self._dek.open(value, _aad(_SUMMARY, name)) == _COMPLETE_PLAIN
                except DecryptionFailed:
                    return False  # not this learner's, or tampered: read the credential rows
                if complete:
                    kept.put(key, True)
                return complete
        return False

    async def _complete_summaries(self, summary_rows: _Rows,
                                  rows: _Rows) -> None:
        """Give every credential row (``rows``, as read) its summary row (or the summary it
        holds, if its summary row has another), remove summary rows whose credential is gone,
        and write the marker that says the summary rows are complete.

        One transaction, which commits only if none of those credential rows changed since they
        were read (a credential written meanwhile comes with its summary row); if one did, or
        the store is busy, nothing is written and a later list tries again."""
        if isinstance(self._store, _QueuedWrites):
            return  # inside LearnerVault.atomic: never add writes to the caller's transaction
        have = {n: v for n, v in summary_rows if n != _SUMMARIES_COMPLETE}
        writes: builtins.list[Write] = []
        for name, value in rows:
            parts = _unpack(value)
            summary = parts[0] if parts is not None else b""
            if name in have and (parts is None or have[name] == summary):
                continue  # in step: the same sealed summary (or a whole-record row's own)
            try:  # the credential row's own sealed summary, when it has one that opens
                self._open_summary_row(name, summary)
            except DecryptionFailed:
                summary = self._seal_summary(self._open_summary(name, value))
            writes += [Write("expect", _CREDENTIAL, name, value),
                       Write("upsert", _SUMMARY, name, summary)]
        for name in have.keys() - {n for n, _ in rows}:  # a summary row without its credential
            writes += [Write("expect", _CREDENTIAL, name), Write("discard", _SUMMARY, name)]
        marker = self._dek.seal(_COMPLETE_PLAIN, _aad(_SUMMARY, _SUMMARIES_COMPLETE))
        writes.append(Write("upsert", _SUMMARY, _SUMMARIES_COMPLETE, marker))
        try:
            await self._store.apply(writes)
        except (Conflict, NotFound, Unavailable) as exc:
            log.info("credential summary rows not completed this time",
                     extra={"reason": type(exc).__name__})
            return
        # sealed here under this DEK and committed: the next list need not open it
        OPENED_MARKERS.entries(self._learner_id).put(self._marker_key(marker), True)

    def _check_page(self, query: CredentialQuery, limit: int,
                    cursor: str | None) -> tuple[int, str] | None:
        """The checked arguments of a list: where the page starts (``None``: at the top)."""
        if not isinstance(limit, int) or not 0 < limit <= MAX_PAGE:
            raise BadInput(f"limit must be between 1 and {MAX_PAGE}")
        return self._decode_cursor(cursor, query) if cursor is not None else None

    async def _page(self, query: CredentialQuery, limit: int, cursor: str | None,
                    open_row: Callable[[str, bytes], _C]) -> Page[_C]:
        after = self._check_page(query, limit, cursor)
        b = self._dek.blind
        tag_filter: dict[str, str] = {}
        if query.format is not None:
            tag_filter["f"] = b("format", query.format)
        if query.issuer is not None:
            tag_filter["i"] = b("issuer", query.issuer)
        if query.type is not None:
            tag_filter["t"] = b("type", query.type)
        rows = await self._store.fetch_all(_CREDENTIAL, tag_filter or None)
        return self._finish([open_row(n, v) for n, v in rows], query, limit, after)

    def _finish(self, found: builtins.list[_C], query: CredentialQuery, limit: int,
                after: tuple[int, str] | None) -> Page[_C]:
        """The page of ``found`` (every candidate, opened) that matches, sorts and starts at
        ``after``."""
        if query.text:
            found = [c for c in found if c.matches_text(query.text)]
        # sort_key's order (newest added_at first, ties by id) in two sorts that call no Python
        # per item: by id, then stably by added_at, newest first. Aware datetimes compare as
        # the instants sort_key counts in microseconds (a list sorts on every request).
        found.sort(key=_BY_ID)
        found.sort(key=_BY_ADDED, reverse=True)
        if after is not None:
            found = [c for c in found if sort_key(c) > after]
        items = found[:limit]
        more = len(found) > limit
        return Page(items, self._encode_cursor(sort_key(items[-1]), query) if more else None)

    # Cursors are MACed with a DEK subkey: opaque, bound to the query, tamper-evident.

    def _mac(self, payload: bytes) -> bytes:
        key = self._cursor_key
        if key is None:  # not in __init__: a page that fits one request needs no cursor
            key = self._cursor_key = self._dek.subkey("vault/cursor/v1")
        return hmac.new(key, payload, "blake2b").digest()[:_CURSOR_MAC_BYTES]

    def _encode_cursor(self, key: tuple[int, str], query: CredentialQuery) -> str:
        payload = json.dumps([key[0], key[1], self._query_tag(query)],
                             separators=(",", ":")).encode()
        return b64url_encode(self._mac(payload) + payload)

    def _decode_cursor(self, cursor: str, query: CredentialQuery) -> tuple[int, str]:
        try:
            blob = b64url_decode(cursor)
        except BadInput:
            raise InvalidCursor("invalid cursor") from None
        mac, payload = blob[:_CURSOR_MAC_BYTES], blob[_CURSOR_MAC_BYTES:]
        if len(mac) != _CURSOR_MAC_BYTES or not hmac.compare_digest(mac, self._mac(payload)):
            raise InvalidCursor("invalid cursor")
        try:
            micros, last_id, query_tag = json.loads(payload)
            key = (int(micros), str(last_id))
        except (ValueError, TypeError) as exc:
            raise InvalidCursor("invalid cursor") from exc
        if query_tag != self._query_tag(query):
            raise BadInput("the cursor belongs to a different query")
        return key

    def _query_tag(self, query: CredentialQuery) -> str:
        return b64url_encode(self._mac(query.fingerprint().encode())[:8])
