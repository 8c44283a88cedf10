"""The erasure keyring (wallet.keyring): file, Askar (SQLite and PostgreSQL) and memory."""

from __future__ import annotations

import os
import stat
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aries_askar import AskarErrorCode, Store

from tests.askar_codes import garble
from tests.support.backends import PG_BASE, Backend, drop_pg_database, require_postgres
from wallet.errors import BadInput, Conflict, NotFound, Unavailable
from wallet.keyring import AskarKeyring, FileKeyring, Keyring, MemoryKeyring, check_value


@pytest.fixture(params=["file", "memory", "askar-sqlite", "askar-postgres"])
async def keyring(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Keyring]:
    ring: Keyring
    pg_db = None
    if request.param == "file":
        ring = FileKeyring(tmp_path / "keyring")
    elif request.param == "memory":
        ring = MemoryKeyring()
    elif request.param == "askar-sqlite":
        ring = await AskarKeyring.open(f"sqlite://{tmp_path}/keyring.db", Store.generate_raw_key())
    else:
        require_postgres()
        pg_db = f"satchel_keyring_{uuid.uuid4().hex[:12]}"
        ring = await AskarKeyring.open(f"{PG_BASE}/{pg_db}", Store.generate_raw_key())
    assert isinstance(ring, Keyring)
    try:
        yield ring
    finally:
        await ring.close()
        if pg_db:
            await drop_pg_database(pg_db)


async def test_create_get_destroy(keyring: Keyring) -> None:
    key = await keyring.create("learner-1")
    assert len(key) == 32
    assert await keyring.get("learner-1") == key
    other = await keyring.create("learner-2")
    assert other != key
    with pytest.raises(Conflict):
        await keyring.create("learner-1")
    assert await keyring.get("learner-1") == key  # the failed create did not overwrite it
    await keyring.destroy("learner-1")
    with pytest.raises(NotFound):
        await keyring.get("learner-1")
    await keyring.destroy("learner-1")  # idempotent
    assert await keyring.get("learner-2") == other
    with pytest.raises(NotFound):
        await keyring.get("never-existed")


async def test_the_askar_keyring_tells_by_the_store_not_by_the_error_code(
        backend: Backend, monkeypatch: pytest.MonkeyPatch) -> None:
    """Askar's binding may give a failure another call's code (tests/askar_codes.py). A key that
    failed to be removed and is still there is never "destroyed" (erasure would report a key
    gone that still opens the learner's wraps), whatever the code says; a key already gone is
    nothing to destroy; a duplicate is a Conflict only when the key is there."""
    ring = await AskarKeyring.open(backend.vault_uri, Store.generate_raw_key())
    try:
        key = await ring.create("l1")
        garble(monkeypatch, "remove", AskarErrorCode.NOT_FOUND, run=False)  # the store failed
        with pytest.raises(Unavailable):
            await ring.destroy("l1")
        monkeypatch.undo()
        assert await ring.get("l1") == key
        garble(monkeypatch, "remove", AskarErrorCode.SUCCESS)  # a missing key reported so
        await ring.destroy("never-created")
        garble(monkeypatch, "insert", AskarErrorCode.SUCCESS)  # a duplicate reported so
        with pytest.raises(Conflict):
            await ring.create("l1")
        monkeypatch.undo()
        garble(monkeypatch, "insert", AskarErrorCode.DUPLICATE, run=False)  # the store failed
        with pytest.raises(Unavailable):
            await ring.create("l2")
        monkeypatch.undo()
        assert await ring.get("l1") == key
        with pytest.raises(NotFound):
            await ring.get("l2")
    finally:
        await ring.close()


async def test_an_askar_keyring_read_that_fails_is_unavailable_whatever_its_code(
        backend: Backend, monkeypatch: pytest.MonkeyPatch) -> None:
    """A fetch never fails for a missing key (it answers none), so a failed one claiming
    ``NOT_FOUND`` carries another call's code: the store failed. Unlocking would otherwise answer
    401 invalid_credentials (no key, no vault) rather than 503."""
    ring = await AskarKeyring.open(backend.vault_uri, Store.generate_raw_key())
    try:
        await ring.create("l1")
        garble(monkeypatch, "fetch", AskarErrorCode.NOT_FOUND, run=False)
        with pytest.raises(Unavailable):
            await ring.get("l1")
        garble(monkeypatch, "fetch_all", AskarErrorCode.NOT_FOUND, run=False)
        with pytest.raises(Unavailable):
            await ring.learner_ids()
        monkeypatch.undo()
        assert await ring.learner_ids() == ["l1"]
    finally:
        await ring.close()


async def test_recreate_after_destroy_gives_a_new_key(keyring: Keyring) -> None:
    first = await keyring.create("l")
    await keyring.destroy("l")
    assert await keyring.create("l") != first


async def test_file_keyring_permissions_and_destroy(tmp_path: Path) -> None:
    folder = tmp_path / "data" / "keyring"
    ring = FileKeyring(folder)
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    key = await ring.create("learner/../../etc/passwd")  # ids never become paths
    files = list(folder.iterdir())
    assert len(files) == 1 and files[0].parent == folder
    assert "learner" not in files[0].name
    assert stat.S_IMODE(files[0].stat().st_mode) == 0o600
    assert files[0].read_bytes() == key
    await ring.destroy("learner/../../etc/passwd")
    assert list(folder.iterdir()) == []


async def test_file_keyring_tightens_a_loose_folder(tmp_path: Path) -> None:
    folder = tmp_path / "keyring"
    folder.mkdir(mode=0o755)
    os.chmod(folder, 0o755)
    FileKeyring(folder)
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700


async def test_file_keyring_survives_reopen_and_detects_damage(tmp_path: Path) -> None:
    key = await FileKeyring(tmp_path / "k").create("a")
    ring = FileKeyring(tmp_path / "k")
    assert await ring.get("a") == key
    (next((tmp_path / "k").iterdir())).write_bytes(b"short")
    with pytest.raises(Unavailable):
        await ring.get("a")


async def test_askar_keyring_reopens_with_its_key_only(tmp_path: Path) -> None:
    uri, store_key = f"sqlite://{tmp_path}/keyring.db", Store.generate_raw_key()
    ring = await AskarKeyring.open(uri, store_key)
    key = await ring.create("a")
    await ring.close()
    ring = await AskarKeyring.open(uri, store_key, provision=False)
    assert await ring.get("a") == key
    await ring.close()
    with pytest.raises(Unavailable):
        await AskarKeyring.open(uri, Store.generate_raw_key(), provision=False)
    with pytest.raises(NotFound):
        await AskarKeyring.open(f"sqlite://{tmp_path}/absent.db", store_key, provision=False)


@pytest.mark.parametrize("keyring", ["askar-sqlite", "askar-postgres"], indirect=True)
async def test_an_askar_keyring_takes_keys_as_they_are_and_destroys_them_together(
        keyring: Keyring) -> None:
    """What `satchel move-keyring` copies and deletes with: keys put as they are, one already
    there alike kept, one there unlike named and left as it was; the entries read back with
    their check values (which never show the key); keys destroyed together."""
    assert isinstance(keyring, AskarKeyring)  # moving writes Askar keyrings only
    a, b = str(uuid.uuid4()), str(uuid.uuid4())
    key_a, key_b = os.urandom(32), os.urandom(32)
    assert await keyring.put_many({a: key_a}) == []
    assert await keyring.put_many({a: key_a, b: key_b}) == []
    assert await keyring.put_many({a: os.urandom(32)}) == [a]
    assert await keyring.entries() == {a: key_a, b: key_b}
    assert check_value(key_a) == check_value(bytes(key_a)) != check_value(key_b)
    assert key_a.hex() not in check_value(key_a) and len(check_value(key_a)) == 16
    with pytest.raises(BadInput):
        await keyring.put_many({str(uuid.uuid4()): b"short"})
    assert await keyring.entries() == {a: key_a, b: key_b}
    await keyring.destroy_many([a, str(uuid.uuid4())])  # one gone already: done
    assert await keyring.entries() == {b: key_b}
    with pytest.raises(NotFound):
        await keyring.get(a)
