"""The vault store's key: a raw Askar key (``raw`` key method), generated, or read from
``<data>/store.key``, never stored in a database.

A raw key because Askar's passphrase methods (``kdf:argon2i:*``) cost ~750 ms on every open
(docs/architecture.md). A module of its own because it is file handling for start-up and the
operator commands, not the vault: nothing here talks to a store.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

from aries_askar import Store

from wallet.errors import Unavailable

STORE_KEY_FILE = "store.key"


def generate_store_key() -> str:
    """A new raw Askar store key (base58 of 32 random bytes)."""
    return str(Store.generate_raw_key())


def load_or_create_store_key(data_dir: Path) -> str:
    """The embedded default's store key: ``<data>/store.key`` (0600), created on first run.

    Creation is atomic (temporary file, fsync, hard link), so two processes starting together agree
    on one key.
    """
    data_dir = Path(data_dir)
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = data_dir / STORE_KEY_FILE
    if not path.exists():
        tmp = data_dir / f".{STORE_KEY_FILE}.{secrets.token_hex(8)}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, (generate_store_key() + "\n").encode("ascii"))
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            with contextlib.suppress(FileExistsError):
                os.link(tmp, path)
        finally:
            tmp.unlink()
    return _read_store_key(path)


def load_store_key(data_dir: Path) -> str | None:
    """The embedded default's store key, ``None`` when ``<data>/store.key`` does not exist:
    never created, for the operator commands, which must not make a new vault's key when they
    are pointed at the wrong data folder."""
    path = Path(data_dir) / STORE_KEY_FILE
    return _read_store_key(path) if path.exists() else None


def _read_store_key(path: Path) -> str:
    if path.stat().st_mode & 0o077:
        os.chmod(path, 0o600)
    key = path.read_text("ascii").strip()
    if not key:
        raise Unavailable("the vault store key file is empty")
    return key
