"""The storage port of one learner's vault: what a storage adapter implements.

The storage adapters (Askar in :mod:`wallet.vault.askar_records`, dictionaries in
:mod:`wallet.vault.memory`) implement the small :class:`RecordStore` port; everything above it —
sealing, blinding, ordering, cursors — lives in :mod:`wallet.vault.learner` and
:mod:`wallet.vault.credentials` once, so both behave the same by construction. Values are opaque
(already sealed) bytes, bound by their AAD (:func:`_aad`) to the category and name they are
stored under. Writes that belong together are queued (:class:`_QueuedWrites`) and applied as one
transaction (:meth:`RecordStore.apply`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from typing import Literal, Protocol

__all__ = ["Numbered", "RecordStore", "TagFilter", "Tags", "Write"]

#: Index tags as stored: tag name → one value or several (a record matches a name=value filter
#: when any of its values for that name is equal).
Tags = Mapping[str, str | Sequence[str]]
#: An equality filter: every name must match.
TagFilter = Mapping[str, str]


@dataclass(frozen=True, slots=True)
class Numbered:
    """How an ``insert_numbered`` write makes its value, inside the transaction that inserts it:
    the counter record (``category``, ``name``) is read for update, and ``advance`` maps its value
    (``None``: no counter yet) to the counter's next value and the inserted record's value. It
    may run more than once (a transaction retried whole), so it must not have side effects.

    ``counted``, when given, is told in the same transaction how many records the inserted
    record's category held before it (called again if the transaction is retried: the last call
    is the committed transaction's, and it means something only once that has committed)."""

    category: str
    name: str
    advance: Callable[[bytes | None], tuple[bytes, bytes]]
    counted: Callable[[int], None] | None = None


@dataclass(frozen=True, slots=True)
class Write:
    """One queued write of :meth:`RecordStore.apply` (``value``/``tags`` unused by a remove;
    ``insert_numbered`` takes its value from ``numbered``).

    ``discard`` removes the record if it is there (no error when it is not). ``expect`` writes
    nothing: it fails the whole transaction with ``Conflict`` unless the record holds exactly
    ``value`` when the transaction commits, or, with an empty ``value``, unless it is absent
    (a sealed value is never empty).
    """

    op: Literal["insert", "replace", "upsert", "remove", "discard", "expect", "insert_numbered"]
    category: str
    name: str
    value: bytes = b""
    tags: Tags = field(default_factory=dict)
    numbered: Numbered | None = None


class RecordStore(Protocol):
    """The storage port for one learner's profile. Values are opaque (already sealed) bytes.

    Errors are domain errors: ``Conflict`` on a duplicate insert, ``NotFound`` when replacing or
    removing a missing record or when the profile does not exist, ``Unavailable`` when down.
    """

    async def insert(self, category: str, name: str, value: bytes, tags: Tags) -> None: ...

    async def fetch(self, category: str, name: str) -> bytes | None: ...

    async def fetch_all(self, category: str,
                        tag_filter: TagFilter | None = None) -> list[tuple[str, bytes]]: ...

    async def replace(self, category: str, name: str, value: bytes, tags: Tags) -> None: ...

    async def upsert(self, category: str, name: str, value: bytes, tags: Tags) -> None: ...

    async def remove(self, category: str, name: str) -> None: ...

    async def count(self, category: str) -> int: ...

    async def apply(self, writes: Sequence[Write]) -> None:
        """Every write in order, as one transaction: all committed at once, or none (the
        first failure's domain error). An ``insert_numbered`` write reads its counter record
        for update, advances it and inserts its record (:class:`Numbered`), all in that
        transaction: two transactions numbering with the same counter never read the same
        value."""
        ...

    def reading(self) -> AbstractAsyncContextManager[RecordStore]:
        """This store with every read made through it in one storage session (one opening and
        one closing for all of them, not one each); writes made through it go as they would
        outside it. Held only while the caller reads: never across a network call."""
        ...


class _QueuedWrites:
    """A :class:`RecordStore` whose writes wait in :attr:`writes`; reads see the store as it is
    (not the queued writes: the code inside :meth:`LearnerVault.atomic` writes, then leaves)."""

    __slots__ = ("_store", "writes")

    def __init__(self, store: RecordStore) -> None:
        self._store, self.writes = store, list[Write]()

    async def insert(self, category: str, name: str, value: bytes, tags: Tags) -> None:
        self.writes.append(Write("insert", category, name, value, tags))

    async def replace(self, category: str, name: str, value: bytes, tags: Tags) -> None:
        self.writes.append(Write("replace", category, name, value, tags))

    async def upsert(self, category: str, name: str, value: bytes, tags: Tags) -> None:
        self.writes.append(Write("upsert", category, name, value, tags))

    async def remove(self, category: str, name: str) -> None:
        self.writes.append(Write("remove", category, name))

    async def fetch(self, category: str, name: str) -> bytes | None:
        return await self._store.fetch(category, name)

    async def fetch_all(self, category: str,
                        tag_filter: TagFilter | None = None) -> list[tuple[str, bytes]]:
        return await self._store.fetch_all(category, tag_filter)

    async def count(self, category: str) -> int:
        return await self._store.count(category)

    async def apply(self, writes: Sequence[Write]) -> None:
        self.writes.extend(writes)

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[RecordStore]:
        yield self  # its reads go to the store below, its writes wait for the commit


def _aad(category: str, name: str) -> bytes:
    return b"satchel/vault/v1\x00" + category.encode() + b"\x00" + name.encode()
