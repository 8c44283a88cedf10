"""The erasure keyring: one random 32-byte key per learner, kept apart from the databases.

docs/architecture.md (and GDPR Art. 17, https://gdpr-info.eu/art-17-gdpr/): every wrap of a learner's vault
key is sealed with their erasure key, so destroying that key makes every copy of the databases —
including backups we can no longer edit — useless for that learner ("crypto-shredding").
That only holds if the keyring is *not* in those databases and is backed up with a short retention.

Two implementations of :class:`Keyring`:
- :class:`FileKeyring` — the embedded default, a folder (``<data>/keyring/``, mode 0700) with one
  0600 file per learner; destroy overwrites the file, fsyncs, unlinks and fsyncs the folder.
- :class:`AskarKeyring` — at scale: a *separate* Askar store (its own URI and raw key, e.g. a small
  PostgreSQL database with its own backup policy) shared by the replicas; the learner id is the
  record name.
Plus :class:`MemoryKeyring` for tests. The Askar and memory keyrings can also list the learner ids
they hold (:class:`ListableKeyring`), which lets the orphan sweep find keys left by crashes from
before sign-up intents were recorded; the folder keyring cannot (its file names are hashes).

``destroy`` is idempotent (an erasure that is retried must not fail); ``get`` after ``destroy``
raises :class:`~wallet.errors.NotFound`.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import os
import secrets
from pathlib import Path
from typing import Protocol, runtime_checkable

from aries_askar import AskarError, AskarErrorCode, Store

from wallet import askar_facts
from wallet.errors import BadInput, Conflict, NotFound, Unavailable

__all__ = ["AskarKeyring", "FileKeyring", "Keyring", "ListableKeyring", "MemoryKeyring",
           "check_value"]

KEY_BYTES = 32
_CATEGORY = "erasure_key"
_NOT_FOUND = "no erasure key for this learner"


@runtime_checkable
class Keyring(Protocol):
    """Where erasure keys live. Learner ids are opaque strings (1–255 characters)."""

    async def create(self, learner_id: str) -> bytes:
        """A new random key for the learner; :class:`Conflict` if one exists."""
        ...

    async def get(self, learner_id: str) -> bytes:
        """The learner's key; :class:`NotFound` when absent or destroyed."""
        ...

    async def destroy(self, learner_id: str) -> None:
        """Destroy the learner's key for good (idempotent)."""
        ...

    async def close(self) -> None: ...


@runtime_checkable
class ListableKeyring(Keyring, Protocol):
    """A keyring that can say which learners it holds a key for."""

    async def learner_ids(self) -> list[str]: ...


def check_value(key: bytes) -> str:
    """A key's check value: a keyed hash of a constant under the key (never the key, and nothing
    it opens), so that two copies of a key can be compared, and counted, without either being
    shown (`satchel move-keyring`)."""
    return hmac.new(key, b"satchel erasure key check value", hashlib.sha256).hexdigest()[:16]


def _check_id(learner_id: str) -> str:
    if not isinstance(learner_id, str) or not 0 < len(learner_id) <= 255:
        raise BadInput("learner id must be a non-empty string of at most 255 characters")
    return learner_id


class MemoryKeyring:
    """An in-process keyring for tests (and nothing else: it forgets everything on exit)."""

    def __init__(self) -> None:
        self._keys: dict[str, bytes] = {}

    async def create(self, learner_id: str) -> bytes:
        if _check_id(learner_id) in self._keys:
            raise Conflict("an erasure key already exists for this learner")
        key = self._keys[learner_id] = secrets.token_bytes(KEY_BYTES)
        return key

    async def get(self, learner_id: str) -> bytes:
        try:
            return self._keys[_check_id(learner_id)]
        except KeyError:
            raise NotFound(_NOT_FOUND) from None

    async def destroy(self, learner_id: str) -> None:
        self._keys.pop(_check_id(learner_id), None)

    async def learner_ids(self) -> list[str]:
        return list(self._keys)

    async def close(self) -> None:
        self._keys.clear()


class FileKeyring:
    """One file per learner in a private folder (the embedded default, ``<data>/keyring/``).

    File names are SHA-256 hashes of the learner id: no path tricks, and the folder listing does
    not reveal account ids. Writes go to a temporary file that is fsynced and then hard-linked into
    place, so a crash never leaves a half-written key and a second ``create`` cannot overwrite one.
    """

    def __init__(self, folder: Path) -> None:
        self._folder = Path(folder)
        self._folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(self._folder, 0o700)

    @property
    def folder(self) -> Path:
        return self._folder

    def _path(self, learner_id: str) -> Path:
        digest = hashlib.sha256(_check_id(learner_id).encode("utf-8")).hexdigest()
        return self._folder / f"{digest}.key"

    def _fsync_folder(self) -> None:
        fd = os.open(self._folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def _create(self, path: Path) -> bytes:
        key = secrets.token_bytes(KEY_BYTES)
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.fchmod(fd, 0o600)
            os.write(fd, key)
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(tmp, path)  # atomic, and fails if the learner already has a key
        except FileExistsError:
            raise Conflict("an erasure key already exists for this learner") from None
        finally:
            tmp.unlink()
        self._fsync_folder()
        return key

    def _get(self, path: Path) -> bytes:
        try:
            key = path.read_bytes()
        except FileNotFoundError:
            raise NotFound(_NOT_FOUND) from None
        if len(key) != KEY_BYTES:
            raise Unavailable("the keyring holds a damaged key file")
        return key

    def _destroy(self, path: Path) -> None:
        try:
            fd = os.open(path, os.O_WRONLY)
        except FileNotFoundError:
            return
        try:
            # Best effort on copy-on-write/journaling file systems; the real guarantee is the
            # unlink plus the keyring's short backup retention.
            os.pwrite(fd, secrets.token_bytes(KEY_BYTES), 0)
            os.fsync(fd)
        finally:
            os.close(fd)
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        self._fsync_folder()

    async def create(self, learner_id: str) -> bytes:
        return await asyncio.to_thread(self._create, self._path(learner_id))

    async def get(self, learner_id: str) -> bytes:
        return await asyncio.to_thread(self._get, self._path(learner_id))

    async def destroy(self, learner_id: str) -> None:
        await asyncio.to_thread(self._destroy, self._path(learner_id))

    async def close(self) -> None:
        return None


def _unavailable() -> Exception:
    # every code is the store's failure: a key is there or missing only as the store shows it
    # (wallet.askar_facts; a fetch answers none for a missing key, never NOT_FOUND), so a
    # NOT_FOUND here is another call's code, and unlocking must answer 503, not 401
    return Unavailable("the erasure keyring is unavailable")


class AskarKeyring:
    """Erasure keys in their own Askar store (raw store key; never the vault store).

    Open with :meth:`open`; the store is provisioned on first use when ``provision`` is true.
    """

    def __init__(self, store: Store) -> None:
        self._store = store

    @classmethod
    async def open(cls, uri: str, store_key: str, *, provision: bool = True) -> AskarKeyring:
        try:
            if provision:
                store = await askar_facts.provision(uri, "raw", store_key)
            else:
                store = await Store.open(uri, "raw", store_key)
        except AskarError as exc:
            if exc.code == AskarErrorCode.NOT_FOUND:
                raise NotFound("the keyring store does not exist") from exc
            raise Unavailable("the erasure keyring could not be opened") from exc
        return cls(store)

    async def create(self, learner_id: str) -> bytes:
        key = secrets.token_bytes(KEY_BYTES)
        try:
            async with self._store.session() as s:
                created = await askar_facts.insert(s, _CATEGORY, _check_id(learner_id), key)
        except AskarError as exc:
            raise _unavailable() from exc
        if not created:
            raise Conflict("an erasure key already exists for this learner")
        return key

    async def get(self, learner_id: str) -> bytes:
        try:
            async with self._store.session() as s:
                entry = await s.fetch(_CATEGORY, _check_id(learner_id))
        except AskarError as exc:
            raise _unavailable() from exc
        if entry is None:
            raise NotFound(_NOT_FOUND)
        key: bytes = entry.value
        if len(key) != KEY_BYTES:
            raise Unavailable("the keyring holds a damaged key")
        return key

    async def destroy(self, learner_id: str) -> None:
        try:
            async with self._store.session() as s:  # gone already: nothing to destroy
                await askar_facts.remove(s, _CATEGORY, _check_id(learner_id))
        except AskarError as exc:  # a failure with the key still there (or unknown) is never
            raise _unavailable() from exc  # "destroyed", whatever Askar's code says

    async def learner_ids(self) -> list[str]:
        return list(await self.entries())

    async def destroy_many(self, learner_ids: list[str]) -> None:
        """Destroy these keys for good in one transaction (those gone already are done): a
        keyring moved, `satchel move-keyring --delete-old`. All or none of them on a failure."""
        try:
            async with self._store.transaction() as s:
                for learner_id in learner_ids:
                    await askar_facts.remove(s, _CATEGORY, _check_id(learner_id))
                await s.commit()
        except AskarError as exc:
            raise _unavailable() from exc

    async def entries(self) -> dict[str, bytes]:
        """Every key it holds, by learner id (canaries too: holder_api.compose.deployment)."""
        try:
            async with self._store.session() as s:
                entries = await s.fetch_all(_CATEGORY)
        except AskarError as exc:
            raise _unavailable() from exc
        return {e.name: bytes(e.value) for e in entries}

    async def put_many(self, keys: dict[str, bytes]) -> list[str]:
        """Store these keys as they are, in one transaction (a keyring moved, `satchel
        move-keyring`): a key already there alike is kept; the learner ids whose key there is
        another are returned, and nothing of theirs is changed."""
        differ: list[str] = []
        try:
            async with self._store.transaction() as s:
                for learner_id, key in keys.items():
                    if len(key) != KEY_BYTES:
                        raise BadInput("an erasure key is 32 bytes")
                    if not await askar_facts.insert(s, _CATEGORY, _check_id(learner_id), key):
                        held = await s.fetch(_CATEGORY, learner_id)
                        if held is None or not hmac.compare_digest(bytes(held.value), key):
                            differ.append(learner_id)
                await s.commit()
        except AskarError as exc:
            raise _unavailable() from exc
        return differ

    async def close(self) -> None:
        await self._store.close()
