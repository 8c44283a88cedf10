"""Consent ledger hot paths: append (one transaction per disclosure) and verify (whole chain).

Targets (Satchel issue 4; docs/operations.md): append median <= 2 ms on SQLite; verify of a 10,000-entry
chain <= 1 s. Ratios compare against the primitives the ledger is built on, so a regression shows
as a ratio: a bare one-row INSERT transaction on the same engine, and a bare SHA-256 pass over the
same bytes.

    /work/venv/bin/python bench/bench_ledger.py [--entries 10000] [--appends 300] [--postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cryptography.hazmat.primitives.asymmetric import ed25519  # noqa: E402
from nacl.bindings import (  # noqa: E402
    crypto_aead_xchacha20poly1305_ietf_decrypt,
    crypto_aead_xchacha20poly1305_ietf_encrypt,
)
from sqlalchemy import event, insert, select  # noqa: E402
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine  # noqa: E402

from consent.chain import body_aad, counterparty_tag  # noqa: E402
from consent.entries import encode_body  # noqa: E402
from consent.events import ConsentEvent, EventKind  # noqa: E402
from consent.ledger import Ledger, _New  # noqa: E402
from consent.models import create_all, metadata  # noqa: E402


class Sealer:
    def __init__(self) -> None:
        self.key = os.urandom(32)

    def seal(self, plaintext: bytes, aad: bytes = b"") -> bytes:
        nonce = os.urandom(24)
        return nonce + crypto_aead_xchacha20poly1305_ietf_encrypt(plaintext, aad, nonce, self.key)

    def open(self, ciphertext: bytes, aad: bytes = b"") -> bytes:
        return crypto_aead_xchacha20poly1305_ietf_decrypt(ciphertext[24:], aad, ciphertext[:24],
                                                          self.key)


EVENT = ConsentEvent(
    kind=EventKind.PRESENTATION_SENT, counterparty="x509_san_dns:verifier.example.org",
    counterparty_name="Verifier", purpose="hiring", claims=[["given_name"], ["degrees", None]],
    credential_ids=["c1"], data_categories=["education"])


def sqlite_engine(path: Path, synchronous: str | None) -> AsyncEngine:
    """``synchronous=None``: SQLite's defaults (rollback journal); else WAL with that level."""
    engine = create_async_engine(f"sqlite+aiosqlite:///{path}")
    if synchronous:
        @event.listens_for(engine.sync_engine, "connect")
        def _pragmas(dbapi_conn, _record):  # type: ignore[no-untyped-def]
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute(f"PRAGMA synchronous={synchronous}")
            cur.close()
    return engine


async def median_ms(n: int, op) -> float:  # type: ignore[no-untyped-def]
    samples = []
    for _ in range(n):
        t0 = time.perf_counter()
        await op()
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples) * 1000


async def bench_backend(label: str, engine: AsyncEngine, entries: int, appends: int) -> None:
    await create_all(engine)
    ledger = Ledger(engine, ed25519.Ed25519PrivateKey.generate())
    sealer = Sealer()
    for _ in range(20):  # warm the pool and the statement cache
        await ledger.append("warm", sealer, EVENT)

    table = metadata.tables["ledger_entries"]

    async def bare_insert() -> None:
        async with engine.begin() as conn:
            await conn.execute(insert(table).values(
                id=str(uuid.uuid4()), learner_ref="bare", seq=int(time.time_ns()),
                at=EVENT_AT, kind="export", counterparty_tag=None, sealed_body=b"x" * 300,
                body_digest="0" * 64, prev_hash="0" * 64, entry_hash="0" * 64))

    append = await median_ms(appends, lambda: ledger.append("bench", sealer, EVENT))
    bare = await median_ms(appends, bare_insert)
    print(f"[{label}] append median {append:.3f} ms (target <= 2 ms: "
          f"{'ok' if append <= 2 else 'MISSED'}); bare 1-row INSERT tx {bare:.3f} ms; "
          f"ratio {append / bare:.2f}x")

    # a long chain, written in bulk (1,000 entries per transaction) through the ledger's own
    # chaining code, so that building it does not dominate the run
    t0 = time.perf_counter()
    written = 0
    while written < entries:
        n = min(1000, entries - written)
        now = datetime.now(UTC)
        async with ledger._write_tx() as conn:
            head = await ledger._lock_head(conn, "long", now)
            key, new_key = ledger._blind_key("long", sealer, head.sealed_blind_key)
            tag, items = counterparty_tag(key, str(EVENT.counterparty)), []
            for _ in range(n):
                eid = str(uuid.uuid4())
                items.append(_New(eid, now, EVENT.kind, tag,
                                  sealer.seal(encode_body(EVENT), body_aad("long", eid))))
            await ledger._write(conn, "long", head, items, now, new_blind_key=new_key)
        written += n
    build = time.perf_counter() - t0
    runs = []
    for _ in range(3):
        t0 = time.perf_counter()
        report = await ledger.verify("long")
        runs.append(time.perf_counter() - t0)
        assert report.valid and report.length == entries, report
    verify = min(runs)
    async with engine.connect() as conn:
        bodies = [r[0] for r in (await conn.execute(select(table.c.sealed_body).where(
            table.c.learner_ref == "long"))).all()]
    t0 = time.perf_counter()
    for b in bodies:
        hashlib.sha256(hashlib.sha256(b).digest() + b"x" * 200).digest()
    sha = time.perf_counter() - t0
    print(f"[{label}] verify {entries} entries: {verify * 1000:.1f} ms (target <= 1000 ms: "
          f"{'ok' if verify <= 1 else 'MISSED'}); {verify / entries * 1e6:.1f} us/entry; "
          f"bare SHA-256 pass {sha * 1000:.1f} ms (ratio {verify / sha:.1f}x); "
          f"chain built in {build:.1f} s")
    page_ms = await median_ms(50, lambda: ledger.events("long", sealer, limit=50))
    filt_ms = await median_ms(50, lambda: ledger.events(
        "long", sealer, counterparty="x509_san_dns:verifier.example.org", limit=50))
    print(f"[{label}] events page of 50 (opened): {page_ms:.2f} ms; "
          f"with counterparty filter: {filt_ms:.2f} ms")


EVENT_AT = datetime.now(UTC)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=10_000)
    parser.add_argument("--appends", type=int, default=300)
    parser.add_argument("--postgres", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for sync in (None, "FULL", "NORMAL"):
            engine = sqlite_engine(Path(tmp) / f"ledger-{sync}.db", sync)
            label = f"sqlite WAL+{sync}" if sync else "sqlite default journal"
            try:
                await bench_backend(label, engine, args.entries, args.appends)
            finally:
                await engine.dispose()
    if args.postgres:
        import asyncpg
        name = f"satchel_bench_{uuid.uuid4().hex[:8]}"
        admin = await asyncpg.connect("postgres://postgres@127.0.0.1:5432/postgres")
        await admin.execute(f'CREATE DATABASE "{name}"')
        engine = create_async_engine(f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}")
        try:
            await bench_backend("postgresql", engine, args.entries, args.appends)
        finally:
            await engine.dispose()
            await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
            await admin.close()


if __name__ == "__main__":
    asyncio.run(main())
