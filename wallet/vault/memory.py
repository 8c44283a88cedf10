"""An in-memory vault behind the same ports as the Askar one (tests, and a model of the contract).

Like httpx's mock transport, a fake that honours the same contract keeps tests fast and
honest. Values are still sealed and tags still blinded (the domain layer in
:mod:`wallet.vault.learner` and :mod:`wallet.vault.credentials` is shared), so a wrong DEK fails
here exactly as it does on Askar; only the dictionaries below replace Askar. Same errors:
``Conflict`` on duplicates, ``NotFound`` for a missing record or profile, ``Unavailable`` after
:meth:`InMemoryVault.close`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from wallet.crypto import VaultKey
from wallet.errors import BadInput, Conflict, NotFound, Unavailable
from wallet.vault.credentials import SUMMARY_ROWS, SummaryRows
from wallet.vault.learner import LearnerVault
from wallet.vault.model import check_id
from wallet.vault.ports import TagFilter, Tags, Write

__all__ = ["InMemoryVault", "MemoryRecordStore"]

_Row = tuple[bytes, dict[str, frozenset[str]]]
_Profile = dict[str, dict[str, _Row]]  # category → name → row


def _tagset(tags: Tags) -> dict[str, frozenset[str]]:
    return {k: frozenset((v,) if isinstance(v, str) else v) for k, v in tags.items()}


class MemoryRecordStore:
    """The :class:`~wallet.vault.ports.RecordStore` port on one in-memory profile."""

    __slots__ = ("_owner", "_profile")

    def __init__(self, owner: InMemoryVault, profile: str) -> None:
        self._owner, self._profile = owner, profile

    def _categories(self) -> _Profile:
        return self._owner._profile(self._profile)

    async def insert(self, category: str, name: str, value: bytes, tags: Tags) -> None:
        rows = self._categories().setdefault(category, {})
        if name in rows:
            raise Conflict("already exists")
        rows[name] = (bytes(value), _tagset(tags))

    async def fetch(self, category: str, name: str) -> bytes | None:
        row = self._categories().get(category, {}).get(name)
        return None if row is None else row[0]

    async def fetch_all(self, category: str,
                        tag_filter: TagFilter | None = None) -> list[tuple[str, bytes]]:
        rows = self._categories().get(category, {})
        want = dict(tag_filter or {})
        return [(name, value) for name, (value, tags) in rows.items()
                if all(v in tags.get(k, frozenset()) for k, v in want.items())]

    async def replace(self, category: str, name: str, value: bytes, tags: Tags) -> None:
        rows = self._categories().get(category, {})
        if name not in rows:
            raise NotFound("not found")
        rows[name] = (bytes(value), _tagset(tags))

    async def upsert(self, category: str, name: str, value: bytes, tags: Tags) -> None:
        self._categories().setdefault(category, {})[name] = (bytes(value), _tagset(tags))

    async def remove(self, category: str, name: str) -> None:
        rows = self._categories().get(category, {})
        if rows.pop(name, None) is None:
            raise NotFound("not found")

    async def count(self, category: str) -> int:
        return len(self._categories().get(category, {}))

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[MemoryRecordStore]:
        yield self  # no sessions here

    async def apply(self, writes: Sequence[Write]) -> None:
        before = {c: dict(rows) for c, rows in self._categories().items()}
        try:
            for w in writes:
                if w.op == "remove":
                    await self.remove(w.category, w.name)
                elif w.op == "discard":
                    self._categories().get(w.category, {}).pop(w.name, None)
                elif w.op == "expect":
                    if (await self.fetch(w.category, w.name) or b"") != w.value:
                        raise Conflict("a record changed meanwhile")
                elif w.op == "insert_numbered":
                    assert w.numbered is not None
                    counter = w.numbered
                    held = await self.fetch(counter.category, counter.name)
                    next_counter, value = counter.advance(held)
                    await self.upsert(counter.category, counter.name, next_counter, {})
                    if counter.counted is not None:
                        counter.counted(await self.count(w.category))
                    await self.insert(w.category, w.name, value, w.tags)
                else:
                    await getattr(self, w.op)(w.category, w.name, w.value, w.tags)
        except BaseException:
            profile = self._categories()
            profile.clear()
            profile.update(before)  # none of it happened
            raise


class InMemoryVault:
    """Every learner's vault in a dictionary; implements :class:`~wallet.vault.VaultBackend`."""

    def __init__(self, *, summary_rows: SummaryRows = "read") -> None:
        if summary_rows not in SUMMARY_ROWS:
            raise BadInput(f"summary_rows must be one of {', '.join(SUMMARY_ROWS)}")
        self._profiles: dict[str, _Profile] | None = {}
        self._summary_rows = summary_rows

    def _all(self) -> dict[str, _Profile]:
        if self._profiles is None:
            raise Unavailable("the vault store is unavailable")
        return self._profiles

    def _profile(self, learner_id: str) -> _Profile:
        try:
            return self._all()[learner_id]
        except KeyError:
            raise NotFound("no vault for this learner") from None

    async def create_profile(self, learner_id: str) -> None:
        profiles = self._all()
        if check_id(learner_id, "learner id") in profiles:
            raise Conflict("already exists")
        profiles[learner_id] = {}

    async def remove_profile(self, learner_id: str) -> None:
        if self._all().pop(learner_id, None) is None:
            raise NotFound("no vault for this learner")

    async def has_profile(self, learner_id: str) -> bool:
        return learner_id in self._all()

    async def ping(self) -> None:
        self._all()

    async def close(self) -> None:
        self._profiles = None

    def for_learner(self, learner_id: str, dek: VaultKey) -> LearnerVault:
        check_id(learner_id, "learner id")
        return LearnerVault(learner_id, MemoryRecordStore(self, learner_id), dek,
                            summary_rows=self._summary_rows)
