"""The vault on Aries Askar 0.5: one store for every learner, one profile per learner.

https://github.com/openwallet-foundation/askar (store, profiles, sessions, tag filters).

Why this shape (docs/architecture.md):
- The store key is a *raw* key (``raw`` key method) from configuration or ``<data>/store.key``
  (:mod:`wallet.vault.store_key`): Askar's passphrase methods (``kdf:argon2i:*``) cost ~750 ms on
  every open.
- A profile per learner gives each learner their own Askar profile key, so removing the profile
  removes everything of theirs in one call; on top of that, values are sealed with the learner's
  DEK (see :mod:`wallet.vault.learner`), so the store key alone opens nothing readable.
- The records of one profile, and how Askar's errors become :mod:`wallet.errors`, are in
  :mod:`wallet.vault.askar_records`; this module holds the store and its profiles.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from aries_askar import AskarError, AskarErrorCode, Store

from wallet import askar_facts
from wallet.crypto import VaultKey
from wallet.errors import BadInput, Conflict, NotFound
from wallet.vault.askar_records import (
    _NO_VAULT,
    AskarRecordStore,
    _holds_profile,
    _profile_failed,
    _raise,
)
from wallet.vault.credentials import SUMMARY_ROWS, SummaryRows, forget_summaries_complete
from wallet.vault.learner import LearnerVault
from wallet.vault.model import check_id
from wallet.vault.store_key import generate_store_key, load_or_create_store_key, load_store_key

__all__ = [
    "AskarRecordStore",
    "VaultStore",
    "generate_store_key",
    "load_or_create_store_key",
    "load_store_key",
]

_KEY_METHOD = "raw"
#: Askar's scans and counts filter ``(kind = $2 OR $2 IS NULL) AND (category = $3 OR ...)``.
#: For those, PostgreSQL's generic plan (made once per prepared statement) reads the learner's
#: rows through the profile's index prefix and filters them: as fast as a plan made for the
#: values, at the profile sizes a learner has, but its *estimate* always loses, so by default
#: every list is planned again, which costs the server more than running it (~0.1-0.25 ms
#: against ~0.13 ms; bench/sql_count.py). Askar's other statements name every key column and
#: plan the same either way. Vault connections therefore ask for generic plans, unless the URI
#: sets ``plan_cache_mode`` itself (docs/operations.md).
_GENERIC_PLANS = "options%5Bplan_cache_mode%5D=force_generic_plan"


def _planned_once(uri: str) -> str:
    """A ``postgres://`` URI with generic plans asked for (others as they are)."""
    if not uri.startswith("postgres") or "plan_cache_mode" in uri:
        return uri
    return uri + ("&" if "?" in uri else "?") + _GENERIC_PLANS


#: profiles whose marker :meth:`VaultStore.forget_summary_markers` removes at once
_MARKER_BATCH = 16


class VaultStore:
    """Every learner's vault in one Askar store. Open once per process; close on shutdown."""

    generate_store_key = staticmethod(generate_store_key)
    load_or_create_store_key = staticmethod(load_or_create_store_key)

    def __init__(self, store: Store, *, summary_rows: SummaryRows = "read") -> None:
        self._store, self._summary_rows = store, summary_rows

    @classmethod
    async def open(cls, uri: str, store_key: str, *, provision: bool = True,
                   summary_rows: SummaryRows = "read") -> VaultStore:
        """Open (and with ``provision``, create if missing) the store at ``uri``.

        ``uri`` is ``sqlite://<path>`` or ``postgres://user@host:port/db`` (the database is
        created by Askar when provisioning). ``store_key`` is a raw key from
        :func:`generate_store_key`. ``summary_rows``: what every learner's vault opened here
        uses the credential summary rows for (:data:`~wallet.vault.credentials.SummaryRows`).
        """
        if summary_rows not in SUMMARY_ROWS:
            raise BadInput(f"summary_rows must be one of {', '.join(SUMMARY_ROWS)}")
        if not isinstance(store_key, str) or not store_key:
            raise BadInput("a raw store key is required")
        uri = _planned_once(uri)
        try:
            if provision:
                store = await askar_facts.provision(uri, _KEY_METHOD, store_key)
            else:
                store = await Store.open(uri, _KEY_METHOD, store_key)
        except AskarError as exc:
            if exc.code == AskarErrorCode.NOT_FOUND and not provision:  # one call, at start-up:
                raise NotFound("the vault store does not exist") from exc  # no other in flight
            _raise(exc)
        return cls(store, summary_rows=summary_rows)

    async def create_profile(self, learner_id: str) -> None:
        """A new, empty vault for a learner (``Conflict`` if there is one: decided by the store's
        profiles after the failure, not by its code, as for records)."""
        try:
            await self._store.create_profile(check_id(learner_id, "learner id"))
        except AskarError as exc:
            if await self.has_profile(learner_id):
                raise Conflict("already exists") from exc
            _raise(exc)

    async def remove_profile(self, learner_id: str) -> None:
        """Delete a learner's vault and everything in it (``NotFound`` if there is none: after a
        failure, when the store's profiles do not hold it, so that an erasure never takes a
        failed removal whose code says ``NOT_FOUND`` for a vault that is gone)."""
        try:
            removed = await self._store.remove_profile(check_id(learner_id, "learner id"))
        except AskarError as exc:
            await _profile_failed(self._store, learner_id, exc)
        if not removed:
            raise NotFound(_NO_VAULT)

    async def has_profile(self, learner_id: str) -> bool:
        """Whether the learner has a vault (one name looked up, :func:`_holds_profile`)."""
        try:
            return await _holds_profile(self._store, check_id(learner_id, "learner id"))
        except AskarError as exc:
            _raise(exc)

    async def learner_profiles(self) -> list[str]:
        """Every learner profile in the store (Askar's default profile is not a learner's)."""
        try:
            default = await self._store.get_default_profile()
            return [p for p in await self._store.list_profiles() if p != default]
        except AskarError as exc:
            _raise(exc)

    async def own_records(self) -> AskarRecordStore:
        """The store's own records, in Askar's default profile (no learner's): where the
        deployment record's vault canary is kept (holder_api.compose.deployment)."""
        try:
            return AskarRecordStore(self._store, await self._store.get_default_profile())
        except AskarError as exc:
            _raise(exc)

    async def forget_summary_markers(self, progress: Callable[[int, int, int], None] | None = None,
                                     *, every: int = 1000) -> tuple[int, int]:
        """Remove every learner's summary-rows marker (:func:`forget_summaries_complete`), a few
        profiles at a time; (profiles seen, markers removed). ``progress(done, total, removed)``
        is called every ``every`` profiles and at the end. Idempotent; safe while replicas of
        this version serve (a list that finds no marker completes the rows again, guarded)."""
        profiles = await self.learner_profiles()
        removed = 0
        for start in range(0, len(profiles), _MARKER_BATCH):
            batch = profiles[start:start + _MARKER_BATCH]
            found = await asyncio.gather(*(forget_summaries_complete(
                AskarRecordStore(self._store, learner)) for learner in batch))
            removed += sum(found)
            done = start + len(batch)
            if progress is not None and (done % every < len(batch) or done == len(profiles)):
                progress(done, len(profiles), removed)
        if progress is not None and not profiles:
            progress(0, 0, 0)
        return len(profiles), removed

    async def ping(self) -> None:
        """A real round trip to the backend (``Unavailable`` when it does not answer)."""
        try:
            async with self._store.session() as s:
                await s.count("satchel.ping")
        except AskarError as exc:
            _raise(exc)

    async def close(self) -> None:
        with contextlib.suppress(AskarError):
            await self._store.close()

    def for_learner(self, learner_id: str, dek: VaultKey) -> LearnerVault:
        """The learner's vault, unlocked with their DEK. No I/O: missing profiles show on use."""
        check_id(learner_id, "learner id")
        return LearnerVault(learner_id, AskarRecordStore(self._store, learner_id), dek,
                            summary_rows=self._summary_rows)

    @property
    def askar(self) -> Store:
        """The underlying Askar store, for benchmarks and migrations only."""
        return self._store
